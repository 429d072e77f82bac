/*
 * POST /caa: one CAA check per request (open-mpic-api.md section 5). The
 * handler authenticates, parses the check request, prepares the target,
 * starts the climbing lookup (common/caa_tree.c) and returns; the lookup's
 * callback decides (caa_decide.c), builds the check response and replies.
 * A request torn down by its deadline or by shutdown cancels its lookup.
 * Answers are HTTP 200 whenever the check ran, lookup errors included.
 */
#include "caa-checker/caa.h"

#include <string.h>

#include "caa-checker/caa_decide.h"
#include "caa-checker/caa_dnssec.h"
#include "common/dns.h"
#include "common/ev.h"
#include "common/http_server.h"
#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/target.h"
#include "common/trace.h"

#define CAA_ERR_LOOKUP "mpic_error:caa_checker:lookup"

/* One check in flight. */
struct caa_check {
    struct caa_checker *ck;
    struct mpic_check_request req; /* owned copy of what we need */
    struct mpic_target target;
    struct caa_lookup *lookup; /* NULL once done */
    caa_check_done_fn *cb;
    void *arg;
    uint64_t started_ms; /* ev_now_ms() at the start */
    bool in_start;       /* inside caa_check_start */
    /* allow_lookup_failure: the DNSSEC proof, started with the lookup,
     * and the failed lookup it is about (owned copies). */
    struct caa_dnssec_proof *proof;
    enum mpic_dns_status lf_status;
    char *lf_found_at;
    char *lf_error;
    int lf_rcode;
    char trace_hex[MPIC_TRACE_HEX_LEN + 1]; /* W3C trace id for logs */
    /* The request's trace, for the "caa lookup" span (set by the HTTP
     * handler once the check is started; traced false before). */
    struct mpic_trace trace;
    bool traced;
    int64_t start_ns;
};

/* The verdict on a lookup failure the caller allowed (BR 3.2.2.8). */
struct caa_lf_outcome {
    bool permitted;
    const char *reason; /* human-readable, names the evidence */
};

/* Time kept back from the HTTP deadline to answer after the proof. */
#define CAA_PROOF_MARGIN_MS 250

/* One HTTP request in flight. */
struct caa_http_req {
    struct mpic_http_request *req;
    struct caa_checker *ck;
    struct mpic_check_request creq;
    struct caa_check *check;
    struct mpic_trace trace; /* docs/tracing.md */
};

static json_t *caa_details(const struct caa_lookup_result *res)
{
    json_t *d = mpic_jobj();
    json_t *seen = NULL;
    size_t i;

    if (res != NULL && res->status == CAA_LOOKUP_FOUND) {
        seen = mpic_jarr();
        /* records and names are the zone owner's: made valid UTF-8 */
        for (i = 0; i < res->n_records; i++)
            mpic_jpush(seen, mpic_jstr(res->records_seen[i]));
        mpic_jset(d, "caa_record_present", json_true());
        mpic_jset(d, "found_at", mpic_jstr(res->found_at));
        mpic_jset(d, "records_seen", seen);
        return d;
    }
    /* Absent (reference: false, null, null) or unknown (null, null,
     * null). */
    mpic_jset(d, "caa_record_present",
              res != NULL && res->status == CAA_LOOKUP_NONE ? json_false()
                                                            : json_null());
    mpic_jset(d, "found_at", json_null());
    mpic_jset(d, "records_seen", json_null());
    return d;
}

static void caa_build_response(const struct caa_checker *ck,
                               const struct mpic_check_request *req,
                               bool wildcard,
                               const struct caa_lookup_result *res,
                               const struct caa_lf_outcome *lf,
                               struct mpic_check_response *out)
{
    const struct mpic_caa_params *p = &req->caa;
    const char *tid = req->trace_id;
    struct caa_decide_input in;
    char *reason = NULL;

    memset(out, 0, sizeof(*out));
    out->check_type = MPIC_CHECK_CAA;
    out->timestamp_ns = mpic_now_ns();
    out->errors_present = false;
    mpic_errlist_init(&out->errors);

    if (res == NULL) {
        /* An IP address has no CAA tree (same as the reference). */
        out->check_passed = true;
        out->check_completed = true;
        out->details = mpic_jobj();
        mpic_jset(out->details, "caa_record_present", json_false());
        mpic_jset(out->details, "found_at", json_null());
        mpic_jset(out->details, "records_seen", json_null());
        return;
    }
    out->details = caa_details(res);
    switch (res->status) {
    case CAA_LOOKUP_NONE:
        /* RFC 8659 section 3: no relevant RRset, any CA may issue. */
        out->check_passed = true;
        out->check_completed = true;
        break;
    case CAA_LOOKUP_FOUND:
        memset(&in, 0, sizeof(in));
        in.wildcard = wildcard;
        in.cert_type = p->certificate_type;
        in.caa_domains = p->caa_domains.n > 0 ? &p->caa_domains
                                              : &ck->cfg->default_caa_domains;
        in.account_uri = p->account_uri;
        in.validation_method = p->validation_method;
        in.rfc8657_lenient = ck->cfg->caa_rfc8657 != NULL &&
                             strcmp(ck->cfg->caa_rfc8657, "lenient") == 0;
        out->check_passed =
            caa_decide(res->records, res->n_records, &in, &reason);
        out->check_completed = true;
        logt_info(tid, "caa check of %s: CAA at %s %s issuance: %s (%s)",
                  req->target, res->found_at,
                  out->check_passed ? "permits" : "denies",
                  reason != NULL ? reason : "(no reason given)",
                  res->ad ? "DNSSEC-validated, AD set"
                          : "not DNSSEC-validated, AD clear");
        break;
    case CAA_LOOKUP_ERROR:
    default:
        /* The error stays in the record even when the failure is
         * permitted: it is the evidence (open-mpic-api.md 5.2). */
        mpic_check_response_add_error(
            out, CAA_ERR_LOOKUP,
            "There was an error looking up the CAA record: Error during CAA "
            "lookup for %s: %s",
            req->target, res->error != NULL ? res->error : "lookup failed");
        if (p->allow_lookup_failure && lf != NULL && lf->permitted) {
            /* BR 3.2.2.8: the caller's explicit choice, proven. */
            logt_warn(tid,
                      "caa check of %s: lookup failed (%s); "
                      "allow_lookup_failure is set and the failure is "
                      "permitted: %s",
                      req->target, res->error != NULL ? res->error : "?",
                      lf->reason);
            out->check_passed = true;
            out->check_completed = true;
            if (json_object_set_new_nocheck(out->details,
                                            "lookup_failure_permitted",
                                            json_string(lf->reason)) != 0)
                fatalx("%s: out of memory", __func__);
            break;
        }
        out->check_passed = false;
        out->check_completed = false;
        if (p->allow_lookup_failure && lf != NULL) {
            logt_info(tid,
                      "caa check of %s: allow_lookup_failure is set but the "
                      "lookup failure is not permitted: %s",
                      req->target, lf->reason);
            if (json_object_set_new_nocheck(out->details,
                                            "lookup_failure_denied",
                                            json_string(lf->reason)) != 0)
                fatalx("%s: out of memory", __func__);
        }
        break;
    }
    free(reason);
}

void caa_check_build_response(const struct caa_checker *ck,
                              const struct mpic_check_request *req,
                              bool wildcard,
                              const struct caa_lookup_result *res,
                              struct mpic_check_response *out)
{
    caa_build_response(ck, req, wildcard, res, NULL, out);
}

static void caa_check_free(struct caa_check *chk)
{
    if (chk == NULL)
        return;
    caa_tree_lookup_cancel(chk->lookup);
    caa_dnssec_proof_cancel(chk->proof);
    free(chk->lf_found_at);
    free(chk->lf_error);
    mpic_check_request_cleanup(&chk->req);
    mpic_target_cleanup(&chk->target);
    free(chk);
}

/* Ends a check: builds the response, calls back, frees. */
static void caa_check_finish(struct caa_check *chk,
                             const struct caa_lookup_result *res,
                             const struct caa_lf_outcome *lf)
{
    struct mpic_check_response resp;

    caa_build_response(chk->ck, &chk->req, chk->target.wildcard, res, lf,
                       &resp);
    if (lf != NULL && lf->permitted)
        chk->ck->n_lf_permitted++;
    else if (lf != NULL)
        chk->ck->n_lf_denied++;
    if (resp.check_completed && resp.check_passed)
        chk->ck->n_pass++;
    else if (resp.check_completed)
        chk->ck->n_fail++;
    else
        chk->ck->n_error++;
    chk->cb(&resp, chk->arg);
    mpic_check_response_cleanup(&resp);
    caa_check_free(chk);
}

/*
 * The conditions of open-mpic-api.md 5.2 the checker knows before asking
 * anything more: the setting, the retry, and whose failure it is. Returns
 * NULL if the DNSSEC proof may decide, else why the failure is not
 * permitted (static string).
 */
static const char *caa_lf_precondition(const struct caa_checker *ck,
                                       const struct caa_lookup_result *res)
{
    const char *mode = ck->cfg->caa_lookup_failure;

    if (mode != NULL && strcmp(mode, MPIC_CAA_LOOKUP_FAILURE_NEVER) == 0)
        return "caa.lookup_failure is \"never\": this perspective does not "
               "permit CAA lookup failures";
    if (ck->cfg->dns.tries < 2)
        return "dns.tries is 1: the failed lookup was not retried (BR "
               "3.2.2.8 requires a retry)";
    if (res->found_at == NULL)
        return "the failed lookup names no domain";
    switch (res->dns_status) {
    case MPIC_DNS_SERVFAIL:
    case MPIC_DNS_TIMEOUT:
        return NULL;
    case MPIC_DNS_REFUSED:
        return "the perspective's own resolver refused the query (REFUSED): "
               "a failure of our infrastructure, not of the domain's";
    case MPIC_DNS_NO_SERVER:
        return "the perspective's own resolver could not be reached: a "
               "failure of our infrastructure, not of the domain's";
    default:
        return "the resolver's answer was unusable (a malformed or "
               "unexpected response, or a local error): not a failure "
               "outside our infrastructure";
    }
}

/* The failed lookup, rebuilt from the check's copies. */
static void caa_lf_result(const struct caa_check *chk,
                          struct caa_lookup_result *res)
{
    memset(res, 0, sizeof(*res));
    res->status = CAA_LOOKUP_ERROR;
    res->dns_status = chk->lf_status;
    res->found_at = chk->lf_found_at;
    res->rcode = chk->lf_rcode;
    res->error = chk->lf_error;
}

static void proof_done(struct caa_check *chk,
                       const struct caa_dnssec_result *pr)
{
    struct caa_lookup_result res;
    struct caa_lf_outcome lf = {0};
    char *reason = NULL;
    const char *what =
        chk->lf_status == MPIC_DNS_TIMEOUT ? "timeout" : "SERVFAIL";

    chk->proof = NULL; /* frees itself after this callback */
    if (!pr->failure_persisted) {
        reason = xasprintf("the %s at %s did not persist when the lookup "
                           "was retried; %s",
                           what, chk->lf_found_at, pr->reason);
    } else if (!pr->resolver_answered) {
        reason = xasprintf("the perspective's resolver answered none of the "
                           "DNSSEC proof's queries, so the %s may be ours; "
                           "%s",
                           what, pr->reason);
    } else if (pr->verdict != CAA_DNSSEC_INSECURE) {
        reason = xasprintf("%s (only a DNSSEC-insecure name may pass, BR "
                           "3.2.2.8)",
                           pr->reason);
    } else {
        lf.permitted = true;
        reason = xasprintf("BR 3.2.2.8: the %s at %s persisted after a "
                           "retry, the perspective's validating resolver "
                           "answered, and %s",
                           what, chk->lf_found_at, pr->reason);
    }
    lf.reason = reason;
    caa_lf_result(chk, &res);
    caa_check_finish(chk, &res, &lf);
    free(reason);
}

static void on_proof_done(const struct caa_dnssec_result *pr, void *arg)
{
    struct caa_check *chk = arg;
    char hex[MPIC_TRACE_HEX_LEN + 1]; /* chk is freed before the end */
    const char *scope;

    memcpy(hex, chk->trace_hex, sizeof(hex));
    scope = mpic_log_trace_scope(hex[0] != '\0' ? hex : NULL);
    proof_done(chk, pr);
    mpic_log_trace_scope(scope);
}

/* Judges the DNSSEC proof for a failed lookup the caller allowed; the
 * check finishes in on_proof_done. */
static void caa_lf_judge(struct caa_check *chk,
                         const struct caa_lookup_result *res)
{
    const struct caa_checker *ck = chk->ck;
    uint64_t now = ev_now_ms();
    uint64_t end = chk->started_ms + ck->deadline_ms;
    struct caa_dnssec_proof *pr = chk->proof;

    chk->proof = NULL;
    chk->lf_status = res->dns_status;
    chk->lf_found_at = xstrdup(res->found_at);
    chk->lf_error = xstrdup(res->error != NULL ? res->error : "lookup failed");
    chk->lf_rcode = res->rcode;
    if (pr == NULL || end < now + CAA_PROOF_MARGIN_MS) {
        struct caa_lookup_result r;
        struct caa_lf_outcome lf = {
            false, pr == NULL ? "the DNSSEC proof could not be started"
                              : "no time left for the DNSSEC proof before "
                                "the check's deadline"};

        caa_dnssec_proof_cancel(pr);
        caa_lf_result(chk, &r);
        caa_check_finish(chk, &r, &lf);
        return;
    }
    logt_debug(chk->req.trace_id,
               "caa check of %s: lookup of %s failed; judging its DNSSEC "
               "status for allow_lookup_failure",
               chk->req.target, chk->lf_found_at);
    if (caa_dnssec_proof_judge(pr, chk->lf_found_at, chk->lf_status,
                               end - now - CAA_PROOF_MARGIN_MS, on_proof_done,
                               chk))
        chk->proof = pr;
    /* else on_proof_done ran: chk is gone */
}

static void lookup_done(struct caa_check *chk,
                        const struct caa_lookup_result *res)
{
    const char *why;
    struct caa_lf_outcome lf = {0};

    if (chk->traced) {
        char rcode[16];

        snprintf(rcode, sizeof(rcode), "%d", res->rcode);
        mpic_trace_step_span(
            &chk->trace, "caa lookup", MPIC_SPAN_CLIENT, chk->start_ns,
            res->status == CAA_LOOKUP_ERROR ? res->error : NULL,
            "dns.question.name", chk->target.name, "mpic.found_at",
            res->found_at, "dns.response_code", rcode, "dns.ad",
            res->ad ? "true" : "false", (const char *)NULL);
    }

    if (res->status == CAA_LOOKUP_ERROR && chk->req.caa.allow_lookup_failure) {
        why = caa_lf_precondition(chk->ck, res);
        /* A lookup that failed before any query left (never a SERVFAIL or
         * a timeout) finishes here: caa_check_start's caller counts on
         * it. */
        if (why == NULL && chk->in_start)
            why = "the lookup failed before any query was answered";
        if (why == NULL) {
            caa_lf_judge(chk, res);
            return;
        }
        lf.reason = why;
        caa_check_finish(chk, res, &lf);
        return;
    }
    caa_check_finish(chk, res, NULL);
}

/* Lines logged for the check carry its trace id (docs/tracing.md). */
static void on_lookup_done(const struct caa_lookup_result *res, void *arg)
{
    struct caa_check *chk = arg;
    char hex[MPIC_TRACE_HEX_LEN + 1]; /* chk may be freed before the end */
    const char *scope;

    memcpy(hex, chk->trace_hex, sizeof(hex));
    scope = mpic_log_trace_scope(hex[0] != '\0' ? hex : NULL);
    chk->lookup = NULL; /* the lookup frees itself after this callback */
    lookup_done(chk, res);
    mpic_log_trace_scope(scope);
}

/* The carve-out may apply to this check: start its DNSSEC proof now,
 * alongside the lookup. */
static bool caa_lf_possible(const struct caa_check *chk)
{
    const struct caa_checker *ck = chk->ck;
    const char *mode = ck->cfg->caa_lookup_failure;

    return chk->req.caa.allow_lookup_failure && ck->loop != NULL &&
           ck->cfg->dns.tries >= 2 &&
           (mode == NULL || strcmp(mode, MPIC_CAA_LOOKUP_FAILURE_NEVER) != 0);
}

/* Copies what the check needs out of the request. */
static void caa_copy_request(struct mpic_check_request *dst,
                             const struct mpic_check_request *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->check_type = src->check_type;
    dst->target = xstrdup(src->target);
    dst->trace_id = src->trace_id != NULL ? xstrdup(src->trace_id) : NULL;
    dst->has_caa_params = src->has_caa_params;
    dst->caa.certificate_type = src->caa.certificate_type;
    mpic_strv_copy(&dst->caa.caa_domains, &src->caa.caa_domains);
    dst->caa.allow_lookup_failure = src->caa.allow_lookup_failure;
    if (src->caa.account_uri != NULL)
        dst->caa.account_uri = xstrdup(src->caa.account_uri);
    if (src->caa.validation_method != NULL)
        dst->caa.validation_method = xstrdup(src->caa.validation_method);
}

struct caa_check *caa_check_start(struct caa_checker *ck,
                                  const struct mpic_check_request *req,
                                  caa_check_done_fn *cb, void *arg, char **why)
{
    struct caa_check *chk;
    struct caa_lookup *lk;

    *why = NULL;
    chk = xcalloc(1, sizeof(*chk));
    chk->ck = ck;
    chk->cb = cb;
    chk->arg = arg;
    caa_copy_request(&chk->req, req);
    if (mpic_target_parse(req->target, &chk->target, why) != 0) {
        caa_check_free(chk);
        return NULL;
    }
    chk->started_ms = ev_now_ms();
    chk->start_ns = mpic_trace_now_ns();
    if (chk->target.kind != MPIC_TARGET_DNS) {
        caa_check_finish(chk, NULL, NULL);
        return NULL;
    }
    logt_debug(chk->req.trace_id, "caa check of %s: looking up CAA for %s%s",
               chk->req.target, chk->target.name,
               chk->target.wildcard ? " (wildcard)" : "");
    if (caa_lf_possible(chk))
        chk->proof =
            caa_dnssec_proof_start(ck->dns, ck->loop, chk->target.name);
    /* NULL means on_lookup_done already ran and chk is gone. */
    chk->in_start = true;
    lk = caa_tree_lookup_start(ck->dns, chk->target.name, on_lookup_done, chk);
    if (lk == NULL)
        return NULL;
    chk->in_start = false;
    chk->lookup = lk;
    return chk;
}

void caa_check_cancel(struct caa_check *chk)
{
    caa_check_free(chk);
}

/* ---- HTTP ---- */

static void caa_http_req_free(struct caa_http_req *r)
{
    if (r == NULL)
        return;
    caa_check_cancel(r->check);
    mpic_check_request_cleanup(&r->creq);
    free(r);
}

/* The check's server span (docs/tracing.md). */
static void caa_check_span(const struct caa_http_req *r, bool passed,
                           bool completed, const char *error_type)
{
    struct mpic_check_span_info info;

    memset(&info, 0, sizeof(info));
    info.check_type = "caa";
    info.target = r->creq.target;
    info.trace_identifier = r->creq.trace_id;
    info.perspective_code = r->ck->cfg->perspective_code;
    info.passed = passed;
    info.completed = completed;
    info.error_type = error_type;
    mpic_trace_check_span(&r->trace, &info);
}

static void on_check_done(const struct mpic_check_response *resp, void *arg)
{
    struct caa_http_req *r = arg;
    json_t *body = mpic_check_response_to_json(resp);

    r->check = NULL; /* frees itself after this callback */
    caa_check_span(r, resp->check_passed, resp->check_completed,
                   resp->errors.n > 0 ? resp->errors.items[0].type : NULL);
    if (body == NULL) {
        mpic_http_request_reply_error(r->req, 500, "internal",
                                      "cannot encode the check response");
    } else {
        mpic_http_request_reply_json(r->req, 200, body);
    }
    caa_http_req_free(r);
}

/* Deadline or shutdown: drop the lookup; the HTTP layer answers. */
static void on_request_cancel(struct mpic_http_request *req, void *arg)
{
    struct caa_http_req *r = arg;

    (void)req;
    r->ck->n_cancelled++;
    logtr_warn(r->creq.trace_id, r->trace.trace_hex,
               "caa check of %s: cancelled before an answer", r->creq.target);
    caa_check_span(r, false, false, "mpic_error:caa_checker:cancelled");
    caa_http_req_free(r);
}

void caa_on_request(struct mpic_http_request *req, void *arg)
{
    struct caa_checker *ck = arg;
    struct caa_http_req *r = NULL;
    struct mpic_errlist errs;
    const char *body;
    size_t len = 0;
    char *why = NULL;
    struct caa_check *chk;
    const char *scope;
    char hex[MPIC_TRACE_HEX_LEN + 1];

    mpic_errlist_init(&errs);
    if (!mpic_http_request_authorized(req, &ck->cfg->bearer_tokens, false)) {
        ck->n_rejected++;
        mpic_http_request_reply_error(req, 401, "unauthorized",
                                      "a valid bearer token is required");
        goto out;
    }
    body = mpic_http_request_body(req, &len);
    r = xcalloc(1, sizeof(*r));
    r->req = req;
    r->ck = ck;
    /* W3C Trace Context: continue the coordinator's trace, or start one. */
    mpic_trace_begin(&r->trace, mpic_http_request_header(req, "traceparent"),
                     NULL);
    mpic_http_request_set_w3c_trace_id(req, r->trace.trace_hex);
    if (mpic_check_request_parse(body != NULL ? body : "", len, MPIC_CHECK_CAA,
                                 &r->creq, &errs) != MPIC_OK) {
        if (errs.n == 0)
            mpic_errlist_add(&errs, "malformed-request", "$: bad request");
        ck->n_rejected++;
        mpic_http_request_reply_issues(req, &errs);
        goto out;
    }
    if (r->creq.trace_id != NULL)
        mpic_http_request_set_trace_id(req, r->creq.trace_id);
    /* A copy: the check may answer, and free r, inside the call. */
    memcpy(hex, r->trace.trace_hex, sizeof(hex));
    scope = mpic_log_trace_scope(hex);
    chk = caa_check_start(ck, &r->creq, on_check_done, r, &why);
    mpic_log_trace_scope(scope);
    if (chk != NULL) {
        memcpy(chk->trace_hex, hex, sizeof(hex));
        chk->trace = r->trace;
        chk->traced = true;
    }
    if (why != NULL) {
        /* The model checks targets too; this is a second line. */
        mpic_errlist_add(&errs, "invalid-domain-or-ip-target",
                         "$.domain_or_ip_target: %s", why);
        ck->n_rejected++;
        mpic_http_request_reply_issues(req, &errs);
        goto out;
    }
    if (chk == NULL) {
        r = NULL; /* answered and freed by on_check_done */
        goto out;
    }
    /* Nothing can tear the request down before the handler returns, so
     * the cancel hook is needed only from here on. */
    r->check = chk;
    mpic_http_request_set_cancel(req, on_request_cancel, r);
    r = NULL; /* owned by the pending check until it answers or cancels */
out:
    caa_http_req_free(r);
    free(why);
    mpic_errlist_cleanup(&errs);
}

void caa_metrics(struct mpic_buf *out, void *arg)
{
    const struct caa_checker *ck = arg;

    mpic_buf_printf(
        out,
        "# HELP mpic_caa_checks_total CAA checks by result.\n"
        "# TYPE mpic_caa_checks_total counter\n"
        "mpic_caa_checks_total{result=\"pass\"} %llu\n"
        "mpic_caa_checks_total{result=\"fail\"} %llu\n"
        "mpic_caa_checks_total{result=\"error\"} %llu\n"
        "# HELP mpic_caa_requests_rejected_total Requests "
        "refused with 400 or 401.\n"
        "# TYPE mpic_caa_requests_rejected_total counter\n"
        "mpic_caa_requests_rejected_total %llu\n"
        "# HELP mpic_caa_requests_cancelled_total Requests torn "
        "down before an answer.\n"
        "# TYPE mpic_caa_requests_cancelled_total counter\n"
        "mpic_caa_requests_cancelled_total %llu\n"
        "# HELP mpic_caa_lookup_failures_total CAA lookup failures of "
        "checks with allow_lookup_failure, by verdict (BR 3.2.2.8).\n"
        "# TYPE mpic_caa_lookup_failures_total counter\n"
        "mpic_caa_lookup_failures_total{verdict=\"permitted\"} %llu\n"
        "mpic_caa_lookup_failures_total{verdict=\"denied\"} %llu\n",
        (unsigned long long)ck->n_pass, (unsigned long long)ck->n_fail,
        (unsigned long long)ck->n_error, (unsigned long long)ck->n_rejected,
        (unsigned long long)ck->n_cancelled,
        (unsigned long long)ck->n_lf_permitted,
        (unsigned long long)ck->n_lf_denied);
    mpic_dns_metrics(ck->dns, out);
}
