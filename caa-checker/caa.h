/*
 * The CAA checker daemon's own interface (open-mpic-api.md section 5): the
 * POST /caa handler and the asynchronous check behind it. main.c wires
 * these to the HTTP server; caa_decide.h holds the issuance rules.
 */
#ifndef MPIC_CAA_H
#define MPIC_CAA_H

#include <stdint.h>

#include "common/buf.h"
#include "common/caa_tree.h"
#include "common/config.h"
#include "common/model.h"

struct ev_loop;
struct mpic_http_request;
struct mpic_dns;
struct caa_check;

/* Daemon-wide state shared by every request; config and dns borrowed. */
struct caa_checker {
    const struct mpic_checker_config *cfg;
    struct mpic_dns *dns;
    struct ev_loop *loop; /* borrowed; for the DNSSEC proof's budget */
    uint64_t deadline_ms; /* a request's HTTP deadline */
    uint64_t n_pass;      /* checks answered check_passed true */
    uint64_t n_fail;      /* completed checks that did not pass */
    uint64_t n_error;     /* lookup errors (check_completed false) */
    uint64_t n_rejected;  /* 400 and 401 answers */
    uint64_t n_cancelled; /* requests torn down before an answer */
    /* allow_lookup_failure (BR 3.2.2.8): failures passed, and refused */
    uint64_t n_lf_permitted;
    uint64_t n_lf_denied;
};

/* Runs once per check; resp is borrowed (valid during the call only). */
typedef void caa_check_done_fn(const struct mpic_check_response *resp,
                               void *arg);

/*
 * Runs the CAA check for a parsed request (req is borrowed; what is needed
 * is copied). Returns a handle for caa_check_cancel, or NULL if cb already
 * ran inside this call (IP targets, unusable names). On a target that
 * does not parse, returns NULL without calling cb and sets an owned
 * explanation in *why (free()).
 */
struct caa_check *caa_check_start(struct caa_checker *ck,
                                  const struct mpic_check_request *req,
                                  caa_check_done_fn *cb, void *arg, char **why);
/* cb will not be called; frees the check. NULL-safe. */
void caa_check_cancel(struct caa_check *chk);

/*
 * The check response for a lookup result (details shaped like the
 * reference's caa-response-*.json). Fills *out (owned members; clean up
 * with mpic_check_response_cleanup). req is borrowed.
 */
void caa_check_build_response(const struct caa_checker *ck,
                              const struct mpic_check_request *req,
                              bool wildcard,
                              const struct caa_lookup_result *res,
                              struct mpic_check_response *out);

/* POST /caa (mpic_http_handler_fn); arg is the struct caa_checker. */
void caa_on_request(struct mpic_http_request *req, void *arg);
/* Prometheus lines for /metrics (mpic_http_metrics_fn); arg as above. */
void caa_metrics(struct mpic_buf *out, void *arg);

#endif
