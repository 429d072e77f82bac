/*
 * Daemon configuration (INTERFACE.md): built-in defaults, then the YAML
 * file (--config or MPIC_CONFIG), then the environment, then flags, into
 * one fresh struct that is validated as a whole. Every problem is reported
 * as "file:line: key: problem" in an errlist; loaders never exit, so tests
 * call them directly. This header holds what every daemon shares (the
 * command line, TLS files) and the checkers' configuration; the
 * coordinator's is in coordinator/config_coordinator.h, built on the same
 * loader (config_int.h).
 */
#ifndef MPIC_COMMON_CONFIG_H
#define MPIC_COMMON_CONFIG_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/dns_settings.h"
#include "common/err.h"
#include "common/log.h"
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

struct mpic_tls_files {
    char *cert_file; /* NULL: not configured */
    char *key_file;
    char *client_ca_file; /* server side: require client certs */
    char *ca_file;        /* client side (checker_tls): trust anchor */
};

/* Values of caa.lookup_failure (open-mpic-api.md 5.2). */
#define MPIC_CAA_LOOKUP_FAILURE_DNSSEC "dnssec-insecure"
#define MPIC_CAA_LOOKUP_FAILURE_NEVER  "never"

struct mpic_checker_config {
    enum mpic_daemon_kind kind;
    char *config_file; /* NULL: none */
    char *perspective_code;
    char *listen; /* default "0.0.0.0:8080" */
    enum mpic_log_level log_level;
    struct mpic_dns_settings dns; /* resolvers default: /etc/resolv.conf */
    unsigned http_timeout_ms;     /* default 10000 */
    bool http_verify_tls;         /* default false */
    unsigned http_max_redirects;  /* default 20 */
    char *http_user_agent;        /* default "open-mpic-c/<version>" */
    char *http_proxy; /* http://HOST:PORT CONNECT proxy; NULL: direct */
    bool allow_private_addresses; /* default false */
    struct mpic_strv default_caa_domains;
    char *caa_rfc8657; /* "strict" (default) or "lenient" */
    /* caa.lookup_failure: "dnssec-insecure" (default) or "never" */
    char *caa_lookup_failure;
    struct mpic_strv bearer_tokens; /* secret */
    bool allow_unauthenticated;     /* auth.allow_unauthenticated */
    struct mpic_tls_files tls;
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
void mpic_checker_config_cleanup(struct mpic_checker_config *c);

/*
 * Effective configuration for /configz, secrets replaced by "<redacted>"
 * (every bearer token).
 */
json_t *mpic_checker_config_to_json(const struct mpic_checker_config *c);

/*
 * Where checkers read default resolvers from ("nameserver" lines); default
 * /etc/resolv.conf, NULL restores it. path is borrowed and must outlive
 * the loads. For tests.
 */
void mpic_config_set_resolv_conf(const char *path);

/* The --help text for a daemon (static string). */
const char *mpic_config_usage(enum mpic_daemon_kind kind);

#endif
