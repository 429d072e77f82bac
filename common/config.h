/*
 * Daemon configuration (INTERFACE.md): built-in defaults, then the YAML
 * file (--config or MPIC_CONFIG), then the environment, then flags, into
 * one fresh struct that is validated as a whole. Every problem is reported
 * as "file:line: key: problem" in an errlist; loaders never exit, so tests
 * call them directly. available_perspectives.yaml is loaded and checked
 * (RIRs, too_close_codes) together with the coordinator config.
 */
#ifndef MPIC_COMMON_CONFIG_H
#define MPIC_COMMON_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/compliance.h"
#include "common/err.h"
#include "common/log.h"
#include "common/model.h"
#include "common/strv.h"

enum mpic_daemon_kind {
    MPIC_DAEMON_COORDINATOR = 0,
    MPIC_DAEMON_DCV_CHECKER,
    MPIC_DAEMON_CAA_CHECKER,
};

enum mpic_cli_action {
    MPIC_CLI_RUN = 0,
    MPIC_CLI_CHECK_CONFIG,
    MPIC_CLI_VERSION,
    MPIC_CLI_HELP,
};

enum mpic_rir {
    MPIC_RIR_ARIN = 0,
    MPIC_RIR_RIPE_NCC,
    MPIC_RIR_APNIC,
    MPIC_RIR_LACNIC,
    MPIC_RIR_AFRINIC,
    MPIC_RIR_COUNT
};

/* Case-insensitive; "RIPE NCC" (with its space) and "ripe-ncc". 0 or -1. */
int mpic_rir_from_name(const char *s, enum mpic_rir *out);
const char *mpic_rir_name(enum mpic_rir r); /* "arin", "ripe ncc", ... */

struct mpic_tls_files {
    char *cert_file;      /* NULL: not configured */
    char *key_file;
    char *client_ca_file; /* server side: require client certs */
    char *ca_file;        /* client side (checker_tls): trust anchor */
};

struct mpic_dns_settings {
    struct mpic_strv resolvers; /* "IP" or "IP:PORT" / "[v6]:PORT" */
    unsigned timeout_ms;        /* per try; default 2000 */
    unsigned tries;             /* default 3 */
};

/* Values of caa.lookup_failure (open-mpic-api.md 5.2). */
#define MPIC_CAA_LOOKUP_FAILURE_DNSSEC "dnssec-insecure"
#define MPIC_CAA_LOOKUP_FAILURE_NEVER  "never"

struct mpic_checker_config {
    enum mpic_daemon_kind kind;
    char *config_file; /* NULL: none */
    char *perspective_code;
    char *listen;      /* default "0.0.0.0:8080" */
    enum mpic_log_level log_level;
    struct mpic_dns_settings dns; /* resolvers default: /etc/resolv.conf */
    unsigned http_timeout_ms;     /* default 10000 */
    bool http_verify_tls;         /* default false */
    unsigned http_max_redirects;  /* default 20 */
    char *http_user_agent;        /* default "open-mpic-c/<version>" */
    char *http_proxy;             /* http://HOST:PORT CONNECT proxy; NULL: direct */
    bool allow_private_addresses; /* default false */
    struct mpic_strv default_caa_domains;
    char *caa_rfc8657;              /* "strict" (default) or "lenient" */
    /* caa.lookup_failure: "dnssec-insecure" (default) or "never" */
    char *caa_lookup_failure;
    struct mpic_strv bearer_tokens; /* secret */
    bool allow_unauthenticated;     /* auth.allow_unauthenticated */
    struct mpic_tls_files tls;
    char *tracing_otlp_endpoint; /* NULL: no span export (docs/tracing.md) */
};

/* Replicas of one perspective's checker, at most (docs/failover.md). */
#define MPIC_MAX_REPLICAS 8

struct mpic_perspective {
    char *code;
    char *name;
    enum mpic_rir rir;
    struct mpic_strv too_close_codes;
    char *dcv_url; /* NULL if this perspective has no DCV checker */
    char *caa_url; /* NULL if this perspective has no CAA checker */
    /* Every replica of the perspective's checker, dcv_url (caa_url) first:
     * `dcv_url: [URL, URL]` (docs/failover.md). Empty when the URL is. */
    struct mpic_strv dcv_urls;
    struct mpic_strv caa_urls;
    struct mpic_header *headers; /* sent with every call */
    size_t n_headers;
};

struct mpic_coordinator_config {
    char *config_file;
    char *listen; /* default "0.0.0.0:8000" */
    enum mpic_log_level log_level;
    char *available_perspectives_file; /* resolved against config dir */
    struct mpic_perspective *perspectives; /* those with checkers */
    size_t n_perspectives;
    long default_perspective_count; /* default 5 */
    long absolute_max_attempts;     /* default 3 */
    char *hash_secret;              /* required; secret */
    unsigned remote_timeout_ms;     /* default 12000 */
    unsigned straggler_timeout_ms;  /* default 2000; 0: wait for every call */
    struct mpic_strv api_keys;      /* secret */
    bool allow_unauthenticated;     /* beyond loopback without api_keys */
    bool allow_plaintext_checkers;  /* http:// checker URLs off loopback */
    size_t max_request_bytes;       /* default 65536 */
    struct mpic_tls_files tls;
    struct mpic_tls_files checker_tls;
    /* compliance: (open-mpic-api.md 9). The keys' text, and what it says. */
    char *compliance_min_text;     /* "auto" or an integer >= 2 */
    char *compliance_sunsets_text; /* "enforce", "warn" or "off" */
    struct mpic_compliance_policy compliance;
    char *tracing_otlp_endpoint; /* NULL: no span export (docs/tracing.md) */
};

/*
 * Parses argv (--config, --listen, --check-config, --version, --help) and
 * loads the configuration for a checker. Returns MPIC_OK with *action set,
 * or MPIC_ERR_INVALID with every problem in errs. Usage errors also go to
 * errs.
 */
enum mpic_err mpic_checker_config_load(enum mpic_daemon_kind kind, int argc,
                                       char **argv,
                                       struct mpic_checker_config *out,
                                       enum mpic_cli_action *action,
                                       struct mpic_errlist *errs);
enum mpic_err mpic_coordinator_config_load(int argc, char **argv,
                                           struct mpic_coordinator_config *out,
                                           enum mpic_cli_action *action,
                                           struct mpic_errlist *errs);
void mpic_checker_config_cleanup(struct mpic_checker_config *c);
void mpic_coordinator_config_cleanup(struct mpic_coordinator_config *c);

/*
 * Effective configuration for /configz, secrets replaced by "<redacted>":
 * hash_secret, every API key, bearer token and perspective header value.
 */
json_t *mpic_checker_config_to_json(const struct mpic_checker_config *c);
json_t *mpic_coordinator_config_to_json(
    const struct mpic_coordinator_config *c);

/*
 * Where checkers read default resolvers from ("nameserver" lines); default
 * /etc/resolv.conf, NULL restores it. path is borrowed and must outlive
 * the loads. For tests.
 */
void mpic_config_set_resolv_conf(const char *path);

/*
 * The time the coordinator's loader checks the BR calendar against
 * (compliance.min_perspective_count: auto); 0 restores the real clock.
 * For --check-config --as-of and tests.
 */
void mpic_coordinator_config_set_now(time_t now);

/* The --help text for a daemon (static string). */
const char *mpic_config_usage(enum mpic_daemon_kind kind);

#endif
