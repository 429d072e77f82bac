/*
 * The coordinator's configuration (INTERFACE.md): the same layered loader
 * as the checkers' (common/config.h, common/config_int.h) over its own key
 * table, with the perspectives list and available_perspectives.yaml (RIRs,
 * too_close_codes) loaded and checked together (config_coordinator.c).
 */
#ifndef MPIC_COORDINATOR_CONFIG_COORDINATOR_H
#define MPIC_COORDINATOR_CONFIG_COORDINATOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/config.h"
#include "common/err.h"
#include "common/log.h"
#include "common/strv.h"
#include "coordinator/compliance.h"
#include "coordinator/perspective.h"

struct mpic_coordinator_config {
    char *config_file;
    char *listen; /* default "0.0.0.0:8000" */
    enum mpic_log_level log_level;
    char *available_perspectives_file;     /* resolved against config dir */
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
 * loads the coordinator's configuration and available_perspectives.yaml.
 * Returns MPIC_OK with *action set, or MPIC_ERR_INVALID with every problem
 * in errs. Usage errors also go to errs.
 */
enum mpic_err mpic_coordinator_config_load(int argc, char **argv,
                                           struct mpic_coordinator_config *out,
                                           enum mpic_cli_action *action,
                                           struct mpic_errlist *errs);
void mpic_coordinator_config_cleanup(struct mpic_coordinator_config *c);

/*
 * Effective configuration for /configz, secrets replaced by "<redacted>":
 * hash_secret, every API key and perspective header value.
 */
json_t *
mpic_coordinator_config_to_json(const struct mpic_coordinator_config *c);

/*
 * The time the coordinator's loader checks the BR calendar against
 * (compliance.min_perspective_count: auto); 0 restores the real clock.
 * For --check-config --as-of and tests.
 */
void mpic_coordinator_config_set_now(time_t now);

#endif
