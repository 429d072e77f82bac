/*
 * POST /dcv: parses the check request, picks the method, and answers with
 * one check response once the method has decided. Each request is a
 * struct dcv_check freed in exactly one place (dcv_check_free), either
 * after the reply went out or when the HTTP layer cancels the request;
 * every method keeps its running sub-operation in c->op so that a cancel
 * can stop it. The reply is sent from a 0 ms timer, never from inside a
 * library callback, so methods may finish from any callback.
 */
#include "dcv-checker/dcv.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/http_server.h"
#include "common/dns.h"
#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"

static void dcv_check_free(struct dcv_check *c)
{
    if (c == NULL)
        return;
    if (c->op_cancel != NULL && c->op != NULL)
        c->op_cancel(c->op);
    ev_timer_stop(c->d->loop, c->finish_timer);
    ev_timer_stop(c->d->loop, c->deadline_timer);
    mpic_check_request_cleanup(&c->creq);
    mpic_target_cleanup(&c->target);
    mpic_errlist_cleanup(&c->errors);
    json_decref(c->details);
    free(c);
}

void dcv_check_error(struct dcv_check *c, const char *type, const char *fmt,
                     ...)
{
    va_list ap;

    va_start(ap, fmt);
    mpic_errlist_vadd(&c->errors, type, fmt, ap);
    va_end(ap);
}

static json_t *check_response_json(struct dcv_check *c)
{
    struct mpic_check_response r;
    json_t *o;

    memset(&r, 0, sizeof(r));
    r.check_type = MPIC_CHECK_DCV;
    r.check_passed = c->passed;
    r.check_completed = c->completed;
    r.timestamp_ns = mpic_now_ns();
    r.errors_present = c->errors.n > 0;
    r.errors = c->errors;
    r.details = c->details;
    o = mpic_check_response_to_json(&r);
    /* the fields above stay owned by c */
    return o;
}

/* The check's server span (docs/tracing.md). */
static void dcv_check_span(const struct dcv_check *c, const char *error_type)
{
    struct mpic_check_span_info info;

    memset(&info, 0, sizeof(info));
    info.check_type = "dcv";
    info.method = mpic_dcv_method_name(c->creq.dcv.method);
    info.target = c->creq.target;
    info.trace_identifier = c->creq.trace_id;
    info.perspective_code = c->d->cfg->perspective_code;
    info.passed = c->passed;
    info.completed = c->completed;
    info.error_type = error_type;
    mpic_trace_check_span(&c->trace, &info);
}

static void on_finish(struct ev_loop *loop, void *arg)
{
    struct dcv_check *c = arg;
    struct dcv_daemon *d = c->d;
    json_t *body;

    c->finish_timer = NULL;
    /* BR 3.2.2.4: a pass with errors attached would be ambiguous. */
    if (c->errors.n > 0)
        c->passed = false;
    if (c->passed)
        d->n_passed++;
    else if (c->completed)
        d->n_failed++;
    else
        d->n_errors++;
    logtr_info(c->creq.trace_id, c->trace.trace_hex,
               "dcv: %s %s: passed=%s completed=%s%s%s",
               mpic_dcv_method_name(c->creq.dcv.method), c->creq.target,
               c->passed ? "true" : "false", c->completed ? "true" : "false",
               c->errors.n > 0 ? " error=" : "",
               c->errors.n > 0 ? c->errors.items[0].type : "");
    dcv_check_span(c, c->errors.n > 0 ? c->errors.items[0].type : NULL);
    body = check_response_json(c);
    if (body == NULL)
        http_request_reply_error(c->req, 500, "internal",
                                 "cannot encode the check response");
    else
        http_request_reply_json(c->req, 200, body);
    c->req = NULL;
    dcv_check_free(c);
}

void dcv_check_finish(struct dcv_check *c)
{
    MPIC_ASSERT(c->finish_timer == NULL);
    ev_timer_stop(c->d->loop, c->deadline_timer);
    c->deadline_timer = NULL;
    c->finish_timer = ev_timer_start(c->d->loop, 0, on_finish, c);
}

/* Our own deadline fires before the HTTP layer's, so the caller still gets
 * a check response (not completed) rather than a bare 504. */
static void on_deadline(struct ev_loop *loop, void *arg)
{
    struct dcv_check *c = arg;

    c->deadline_timer = NULL;
    if (c->op_cancel != NULL && c->op != NULL)
        c->op_cancel(c->op);
    c->op = NULL;
    c->op_cancel = NULL;
    c->passed = false;
    c->completed = false;
    dcv_check_error(c, DCV_ERR_TIMEOUT, "the check did not finish in time");
    dcv_check_finish(c);
}

static void on_cancel(struct http_request *req, void *arg)
{
    struct dcv_check *c = arg;

    c->req = NULL;
    dcv_check_span(c, "mpic_error:dcv_checker:cancelled");
    dcv_check_free(c);
}

static bool method_takes_ip(enum mpic_dcv_method m)
{
    return m == MPIC_DCV_WEBSITE_CHANGE || m == MPIC_DCV_ACME_HTTP_01 ||
           m == MPIC_DCV_ACME_TLS_ALPN_01 ||
           m == MPIC_DCV_REVERSE_ADDRESS_LOOKUP;
}

static uint64_t check_budget_ms(const struct dcv_daemon *d)
{
    const struct mpic_checker_config *cfg = d->cfg;
    uint64_t dns = (uint64_t)cfg->dns.timeout_ms * (cfg->dns.tries + 1);

    /* HTTP methods: DNS per hop plus the whole-fetch timeout. */
    return cfg->http_timeout_ms + 2 * dns + 1000;
}

uint64_t dcv_request_deadline_ms(const struct dcv_daemon *d)
{
    return check_budget_ms(d) + 3000;
}

static void on_dcv(struct http_request *req, void *arg)
{
    struct dcv_daemon *d = arg;
    struct dcv_check *c = NULL;
    struct mpic_errlist errs;
    const char *body;
    size_t len = 0;
    char *why = NULL;
    enum mpic_dcv_method m;

    mpic_errlist_init(&errs);
    if (!http_request_authorized(req, &d->cfg->bearer_tokens, false)) {
        http_request_reply_error(req, 401, "unauthorized",
                                 "missing or unknown bearer token");
        goto out;
    }
    c = xcalloc(1, sizeof(*c));
    c->d = d;
    mpic_errlist_init(&c->errors);
    /* W3C Trace Context: continue the coordinator's trace, or start one. */
    mpic_trace_begin(&c->trace, http_request_header(req, "traceparent"), NULL);
    http_request_set_w3c_trace_id(req, c->trace.trace_hex);
    body = http_request_body(req, &len);
    if (mpic_check_request_parse(body, len, MPIC_CHECK_DCV, &c->creq, &errs) !=
            MPIC_OK ||
        errs.n > 0) {
        if (errs.n == 0)
            mpic_errlist_add(&errs, "malformed-request", "$: not a request");
        d->n_bad_requests++;
        http_request_reply_issues(req, &errs);
        goto out;
    }
    if (c->creq.trace_id != NULL)
        http_request_set_trace_id(req, c->creq.trace_id);
    m = c->creq.dcv.method;
    if (mpic_target_parse(c->creq.target, &c->target, &why) != 0) {
        mpic_errlist_add(&errs, "invalid-target", "$.domain_or_ip_target: %s",
                         why);
    } else if (c->target.kind != MPIC_TARGET_DNS && !method_takes_ip(m)) {
        mpic_errlist_add(&errs, "invalid-target",
                         "$.domain_or_ip_target: %s needs a domain name",
                         mpic_dcv_method_name(m));
    } else if (c->target.kind == MPIC_TARGET_DNS &&
               m == MPIC_DCV_REVERSE_ADDRESS_LOOKUP) {
        mpic_errlist_add(&errs, "invalid-target",
                         "$.domain_or_ip_target: %s needs an IP address",
                         mpic_dcv_method_name(m));
    }
    if (errs.n > 0) {
        d->n_bad_requests++;
        http_request_reply_issues(req, &errs);
        goto out;
    }
    d->n_checks[m]++;
    c->req = req;
    c->details = dcv_details_skeleton(m);
    http_request_set_cancel(req, on_cancel, c);
    c->deadline_timer =
        ev_timer_start(d->loop, check_budget_ms(d), on_deadline, c);
    switch (m) {
    case MPIC_DCV_WEBSITE_CHANGE:
    case MPIC_DCV_ACME_HTTP_01:
        dcv_http_start(c);
        break;
    case MPIC_DCV_ACME_TLS_ALPN_01:
        dcv_tls_alpn_start(c);
        break;
    default:
        dcv_dns_start(c);
        break;
    }
    c = NULL; /* owned by the request now */
out:
    free(why);
    mpic_errlist_cleanup(&errs);
    if (c != NULL)
        dcv_check_free(c);
}

void dcv_routes(struct dcv_daemon *d, struct http_server *srv)
{
    http_server_route(srv, "POST", "/dcv", on_dcv, d);
}

void dcv_metrics(struct mpic_buf *out, void *arg)
{
    const struct dcv_daemon *d = arg;
    int m;

    mpic_buf_append_str(out, "# HELP mpic_dcv_checks_total DCV checks "
                             "started, by validation method.\n"
                             "# TYPE mpic_dcv_checks_total counter\n");
    for (m = 0; m < MPIC_DCV_METHOD_COUNT; m++)
        mpic_buf_printf(out, "mpic_dcv_checks_total{method=\"%s\"} %lu\n",
                        mpic_dcv_method_name((enum mpic_dcv_method)m),
                        d->n_checks[m]);
    mpic_buf_append_str(out, "# HELP mpic_dcv_results_total DCV checks "
                             "answered, by result (error: not completed).\n"
                             "# TYPE mpic_dcv_results_total counter\n");
    mpic_buf_printf(out, "mpic_dcv_results_total{result=\"passed\"} %lu\n",
                    d->n_passed);
    mpic_buf_printf(out, "mpic_dcv_results_total{result=\"failed\"} %lu\n",
                    d->n_failed);
    mpic_buf_printf(out, "mpic_dcv_results_total{result=\"error\"} %lu\n",
                    d->n_errors);
    mpic_buf_append_str(out, "# HELP mpic_dcv_bad_requests_total Requests "
                             "refused with 400 (malformed request or "
                             "target).\n"
                             "# TYPE mpic_dcv_bad_requests_total counter\n");
    mpic_buf_printf(out, "mpic_dcv_bad_requests_total %lu\n",
                    d->n_bad_requests);
    mpic_dns_metrics(d->dns, out);
}
