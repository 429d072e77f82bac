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
#include "common/dns.h"
#include "common/http_server.h"
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
    char trace_hex[MPIC_TRACE_HEX_LEN + 1]; /* W3C trace id for logs */
};

/* One HTTP request in flight. */
struct caa_http_req {
    struct http_request *req;
    struct caa_checker *ck;
    struct mpic_check_request creq;
    struct caa_check *check;
    struct mpic_trace trace; /* docs/tracing.md */
};

static json_t *caa_details(const struct caa_lookup_result *res)
{
    json_t *d = json_object();
    json_t *seen = NULL;
    size_t i;

    if (d == NULL)
        fatalx("%s: out of memory", __func__);
    if (res != NULL && res->status == CAA_LOOKUP_FOUND) {
        seen = json_array();
        if (seen == NULL)
            fatalx("%s: out of memory", __func__);
        for (i = 0; i < res->n_records; i++) {
            if (json_array_append_new(seen,
                                      json_string(res->records_seen[i])) != 0)
                fatalx("%s: out of memory", __func__);
        }
        if (json_object_set_new_nocheck(d, "caa_record_present", json_true()) !=
                0 ||
            json_object_set_new_nocheck(d, "found_at",
                                        json_string(res->found_at)) != 0 ||
            json_object_set_new_nocheck(d, "records_seen", seen) != 0)
            fatalx("%s: out of memory", __func__);
        return d;
    }
    /* Absent (reference: false, null, null) or unknown (null, null,
     * null). */
    if (json_object_set_new_nocheck(
            d, "caa_record_present",
            res != NULL && res->status == CAA_LOOKUP_NONE ? json_false()
                                                          : json_null()) != 0 ||
        json_object_set_new_nocheck(d, "found_at", json_null()) != 0 ||
        json_object_set_new_nocheck(d, "records_seen", json_null()) != 0)
        fatalx("%s: out of memory", __func__);
    return d;
}

void caa_check_build_response(const struct caa_checker *ck,
                              const struct mpic_check_request *req,
                              bool wildcard,
                              const struct caa_lookup_result *res,
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
        out->details = json_object();
        if (out->details == NULL ||
            json_object_set_new_nocheck(out->details, "caa_record_present",
                                        json_false()) != 0 ||
            json_object_set_new_nocheck(out->details, "found_at",
                                        json_null()) != 0 ||
            json_object_set_new_nocheck(out->details, "records_seen",
                                        json_null()) != 0)
            fatalx("%s: out of memory", __func__);
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
        logt_info(tid, "caa check of %s: CAA at %s %s issuance: %s",
                  req->target, res->found_at,
                  out->check_passed ? "permits" : "denies",
                  reason != NULL ? reason : "(no reason given)");
        break;
    case CAA_LOOKUP_ERROR:
    default:
        if (p->allow_lookup_failure &&
            (res->dns_status == MPIC_DNS_TIMEOUT ||
             res->dns_status == MPIC_DNS_NO_SERVER)) {
            /* BR 3.2.2.8: the caller's explicit choice; keep a record. */
            logt_warn(tid,
                      "caa check of %s: lookup failed (%s) and "
                      "allow_lookup_failure is set: passing",
                      req->target, res->error != NULL ? res->error : "?");
            out->check_passed = true;
            out->check_completed = true;
            break;
        }
        out->check_passed = false;
        out->check_completed = false;
        mpic_check_response_add_error(
            out, CAA_ERR_LOOKUP,
            "There was an error looking up the CAA record: Error during CAA "
            "lookup for %s: %s",
            req->target, res->error != NULL ? res->error : "lookup failed");
        break;
    }
    free(reason);
}

static void caa_check_free(struct caa_check *chk)
{
    if (chk == NULL)
        return;
    caa_tree_lookup_cancel(chk->lookup);
    mpic_check_request_cleanup(&chk->req);
    mpic_target_cleanup(&chk->target);
    free(chk);
}

/* Ends a check: builds the response, calls back, frees. */
static void caa_check_finish(struct caa_check *chk,
                             const struct caa_lookup_result *res)
{
    struct mpic_check_response resp;

    caa_check_build_response(chk->ck, &chk->req, chk->target.wildcard, res,
                             &resp);
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

static void on_lookup_done(const struct caa_lookup_result *res, void *arg)
{
    struct caa_check *chk = arg;
    char hex[MPIC_TRACE_HEX_LEN + 1]; /* chk is freed before the end */
    const char *scope;

    memcpy(hex, chk->trace_hex, sizeof(hex));
    scope = mpic_log_trace_scope(hex[0] != '\0' ? hex : NULL);
    chk->lookup = NULL; /* the lookup frees itself after this callback */
    caa_check_finish(chk, res);
    mpic_log_trace_scope(scope);
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
    if (chk->target.kind != MPIC_TARGET_DNS) {
        caa_check_finish(chk, NULL);
        return NULL;
    }
    logt_debug(chk->req.trace_id, "caa check of %s: looking up CAA for %s%s",
               chk->req.target, chk->target.name,
               chk->target.wildcard ? " (wildcard)" : "");
    /* NULL means on_lookup_done already ran and chk is gone. */
    lk = caa_tree_lookup_start(ck->dns, chk->target.name, on_lookup_done, chk);
    if (lk == NULL)
        return NULL;
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
        http_request_reply_error(r->req, 500, "internal",
                                 "cannot encode the check response");
    } else {
        http_request_reply_json(r->req, 200, body);
    }
    caa_http_req_free(r);
}

/* Deadline or shutdown: drop the lookup; the HTTP layer answers. */
static void on_request_cancel(struct http_request *req, void *arg)
{
    struct caa_http_req *r = arg;

    (void)req;
    r->ck->n_cancelled++;
    logtr_warn(r->creq.trace_id, r->trace.trace_hex,
               "caa check of %s: cancelled before an answer", r->creq.target);
    caa_check_span(r, false, false, "mpic_error:caa_checker:cancelled");
    caa_http_req_free(r);
}

void caa_on_request(struct http_request *req, void *arg)
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
    if (!http_request_authorized(req, &ck->cfg->bearer_tokens, false)) {
        ck->n_rejected++;
        http_request_reply_error(req, 401, "unauthorized",
                                 "a valid bearer token is required");
        goto out;
    }
    body = http_request_body(req, &len);
    r = xcalloc(1, sizeof(*r));
    r->req = req;
    r->ck = ck;
    /* W3C Trace Context: continue the coordinator's trace, or start one. */
    mpic_trace_begin(&r->trace, http_request_header(req, "traceparent"), NULL);
    http_request_set_w3c_trace_id(req, r->trace.trace_hex);
    if (mpic_check_request_parse(body != NULL ? body : "", len, MPIC_CHECK_CAA,
                                 &r->creq, &errs) != MPIC_OK) {
        if (errs.n == 0)
            mpic_errlist_add(&errs, "malformed-request", "$: bad request");
        ck->n_rejected++;
        http_request_reply_issues(req, &errs);
        goto out;
    }
    if (r->creq.trace_id != NULL)
        http_request_set_trace_id(req, r->creq.trace_id);
    /* A copy: the check may answer, and free r, inside the call. */
    memcpy(hex, r->trace.trace_hex, sizeof(hex));
    scope = mpic_log_trace_scope(hex);
    chk = caa_check_start(ck, &r->creq, on_check_done, r, &why);
    mpic_log_trace_scope(scope);
    if (chk != NULL)
        memcpy(chk->trace_hex, hex, sizeof(hex));
    if (why != NULL) {
        /* The model checks targets too; this is a second line. */
        mpic_errlist_add(&errs, "invalid-domain-or-ip-target",
                         "$.domain_or_ip_target: %s", why);
        ck->n_rejected++;
        http_request_reply_issues(req, &errs);
        goto out;
    }
    if (chk == NULL) {
        r = NULL; /* answered and freed by on_check_done */
        goto out;
    }
    /* Nothing can tear the request down before the handler returns, so
     * the cancel hook is needed only from here on. */
    r->check = chk;
    http_request_set_cancel(req, on_request_cancel, r);
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
        "mpic_caa_requests_cancelled_total %llu\n",
        (unsigned long long)ck->n_pass, (unsigned long long)ck->n_fail,
        (unsigned long long)ck->n_error, (unsigned long long)ck->n_rejected,
        (unsigned long long)ck->n_cancelled);
    mpic_dns_metrics(ck->dns, out);
}
