/*
 * POST /mpic (Open MPIC API 3.x; open-mpic-api.md sections 1-4): validate
 * the request against the configuration, pick the cohorts, run attempts
 * until one is valid or the attempts are used up, answer, and write the
 * audit record (BR 5.4.1).
 *
 * A request's state (struct coord_req) lives from the handler until the
 * reply or the cancel callback of the HTTP layer; both free it, and only
 * one of them runs. Each attempt owns an array of calls; calls of earlier
 * attempts are kept (finished) until the reply, for previous_attempt_results.
 *
 * Time (deadline.c): every attempt has its own timer (the per-call libcurl
 * timeout plus a little), and both are cut to what the HTTP layer's request
 * deadline leaves, minus a margin. So a perspective that does not answer
 * becomes a remote_check error of its attempt and the caller gets a 200
 * with the verdict; the HTTP layer's 504 stays a last resort that a working
 * coordinator never reaches (the attempt timer also covers a call that
 * libcurl's per-transfer timeout may not bound, e.g. one queued for a free
 * connection, or a client that took most of the deadline to send its body).
 *
 * Stragglers: once the calls that finished decide the attempt (quorum met
 * with the RIR rule, or quorum out of reach), the calls still out get
 * straggler_timeout_ms more, then become not_awaited errors, so one slow or
 * far-away perspective does not set every request's latency.
 */
#include "coordinator/coordinator.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ev.h"
#include "common/http_server.h"
#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/target.h"
#include "coordinator/cohort.h"
#include "coordinator/compliance.h"

struct coord_attempt {
    size_t cohort;            /* 0-based cohort number */
    struct coord_call *calls; /* cohort_size entries */
    size_t n_calls;
    size_t n_passed;
    size_t n_not_completed;
    size_t n_not_awaited; /* calls cut off as stragglers */
    bool valid;
    uint8_t span_id[MPIC_SPAN_ID_LEN]; /* tracing: the attempt's span */
    int64_t span_start_ns;
    bool span_done;
};

struct coord_req {
    struct coord *c;
    struct mpic_http_request *http;
    struct mpic_request mreq;
    struct mpic_target target;
    size_t *eligible; /* indexes into cfg->perspectives */
    size_t n_eligible;
    struct mpic_cohorts cohorts;
    size_t perspective_count;
    size_t quorum;
    long max_attempts;
    long forced_cohort; /* -1, or 0-based */
    char *check_body;   /* what every checker gets */
    size_t check_body_len;
    struct coord_attempt *attempts;
    size_t n_attempts;
    size_t pending; /* unfinished calls of the current attempt */
    struct ev_timer *attempt_timer;   /* current attempt's limit, or NULL */
    struct ev_timer *straggler_timer; /* set once the attempt is decided */
    uint64_t start_ms;
    /* The compliance policy applied (open-mpic-api.md 9). */
    time_t now;            /* the request's time: its day's rules */
    long min_perspectives; /* the minimum in force */
    bool min_from_config;  /* compliance.min_perspective_count, not auto */
    struct mpic_errlist warnings;       /* sunsets flagged (served) */
    const struct mpic_errlist *refusal; /* issues of a policy 400, borrowed */
    struct mpic_trace trace; /* W3C trace; our span is the request's */
    bool span_done;
};

/* ---- tracing (docs/tracing.md) ---- */

/* The first error_type of a check response, or NULL. */
static const char *first_error_type(const json_t *check_response)
{
    const json_t *e =
        json_array_get(json_object_get(check_response, "errors"), 0);

    return json_string_value(json_object_get(e, "error_type"));
}

/* The client span of one perspective call (once). */
static void call_span_end(struct coord_req *r, const struct coord_attempt *a,
                          struct coord_call *call)
{
    const struct mpic_perspective *p = &r->c->cfg->perspectives[call->idx];
    struct mpic_span s;
    const char *err;

    if (call->span_done || !mpic_trace_recording())
        return;
    call->span_done = true;
    mpic_span_init(&s, "mpic perspective call", MPIC_SPAN_CLIENT,
                   r->trace.trace_id, call->span_id, a->span_id,
                   call->span_start_ns);
    s.end_ns = mpic_trace_now_ns();
    mpic_span_attr_str(&s, "mpic.perspective_code", p->code);
    mpic_span_attr_str(&s, "mpic.check_type",
                       mpic_check_type_name(r->mreq.check.check_type));
    mpic_span_attr_str(&s, "url.full",
                       call->type == MPIC_CHECK_CAA ? p->caa_url : p->dcv_url);
    mpic_span_attr_str(&s, "mpic.rir", mpic_rir_name(p->rir));
    mpic_span_attr_bool(&s, "mpic.check_passed", call->check_passed);
    mpic_span_attr_bool(&s, "mpic.check_completed", call->check_completed);
    err = first_error_type(call->check_response);
    if (err != NULL) {
        mpic_span_attr_str(&s, "error.type", err);
        if (strncmp(err, "mpic_error:coordinator:", 23) == 0)
            mpic_span_set_status(&s, MPIC_SPAN_STATUS_ERROR, err);
    }
    mpic_trace_submit(&s, r->trace.flags);
}

/* The attempt's internal span (once, after it was judged). */
static void attempt_span_end(struct coord_req *r, struct coord_attempt *a)
{
    struct mpic_span s;
    char q[64];

    if (a->span_done || !mpic_trace_recording())
        return;
    a->span_done = true;
    mpic_span_init(&s, "mpic attempt", MPIC_SPAN_INTERNAL, r->trace.trace_id,
                   a->span_id, r->trace.span_id, a->span_start_ns);
    s.end_ns = mpic_trace_now_ns();
    snprintf(q, sizeof(q), "%zu/%zu", a->n_passed, a->n_calls);
    mpic_span_attr_int(&s, "mpic.attempt", (int64_t)(a - r->attempts) + 1);
    mpic_span_attr_int(&s, "mpic.cohort", (int64_t)a->cohort + 1);
    mpic_span_attr_str(&s, "mpic.quorum_result", q);
    mpic_span_attr_int(&s, "mpic.not_awaited", (int64_t)a->n_not_awaited);
    mpic_span_attr_bool(&s, "mpic.is_valid", a->valid);
    mpic_trace_submit(&s, r->trace.flags);
}

/* The request's server span (once): its answer's status and outcome. */
static void req_span_end(struct coord_req *r, unsigned status,
                         const char *outcome)
{
    const struct coord_attempt *last =
        r->n_attempts > 0 ? &r->attempts[r->n_attempts - 1] : NULL;
    struct mpic_span s;

    if (r->span_done || !mpic_trace_recording())
        return;
    r->span_done = true;
    mpic_span_init(
        &s, "POST /mpic", MPIC_SPAN_SERVER, r->trace.trace_id, r->trace.span_id,
        r->trace.has_parent ? r->trace.parent_id : NULL, r->trace.start_ns);
    s.end_ns = mpic_trace_now_ns();
    mpic_span_attr_str(&s, "http.request.method", "POST");
    mpic_span_attr_str(&s, "url.path", "/mpic");
    mpic_span_attr_int(&s, "http.response.status_code", status);
    mpic_span_attr_str(&s, "mpic.outcome", outcome);
    if (r->mreq.check.target != NULL) {
        mpic_span_attr_str(&s, "mpic.check_type",
                           mpic_check_type_name(r->mreq.check.check_type));
        mpic_span_attr_str(&s, "mpic.target", r->mreq.check.target);
    }
    mpic_span_attr_str(&s, "mpic.trace_identifier", r->mreq.check.trace_id);
    if (last != NULL) {
        mpic_span_attr_bool(&s, "mpic.is_valid", last->valid);
        mpic_span_attr_int(&s, "mpic.attempt_count", (int64_t)r->n_attempts);
    }
    if (status >= 500)
        mpic_span_set_status(&s, MPIC_SPAN_STATUS_ERROR, outcome);
    mpic_trace_submit(&s, r->trace.flags);
}

static void req_free(struct coord_req *r)
{
    if (r == NULL)
        return;
    ev_timer_stop(r->c->loop, r->attempt_timer);
    ev_timer_stop(r->c->loop, r->straggler_timer);
    for (size_t a = 0; a < r->n_attempts; a++) {
        for (size_t i = 0; i < r->attempts[a].n_calls; i++)
            coord_call_cleanup(r->c, &r->attempts[a].calls[i]);
        free(r->attempts[a].calls);
    }
    free(r->attempts);
    free(r->check_body);
    mpic_cohorts_cleanup(&r->cohorts);
    free(r->eligible);
    mpic_target_cleanup(&r->target);
    mpic_request_cleanup(&r->mreq);
    mpic_errlist_cleanup(&r->warnings);
    free(r);
}

/*
 * Checks what needs the configuration (open-mpic-api.md section 3) and
 * fills the orchestration of r. Problems go to errs (400); a cohort that
 * cannot be formed is reported through *fatal_why (500).
 */
static void req_plan(struct coord_req *r, struct mpic_errlist *errs,
                     char **fatal_why)
{
    const struct mpic_coordinator_config *cfg = r->c->cfg;
    const struct mpic_orch_params *o = &r->mreq.orch;
    struct mpic_perspective *eligible_ps;
    long n;
    char *why = NULL;

    r->eligible = xcalloc(cfg->n_perspectives, sizeof(*r->eligible));
    for (size_t i = 0; i < cfg->n_perspectives; i++) {
        const struct mpic_perspective *p = &cfg->perspectives[i];
        const char *url = r->mreq.check.check_type == MPIC_CHECK_CAA
                              ? p->caa_url
                              : p->dcv_url;

        if (url != NULL)
            r->eligible[r->n_eligible++] = i;
    }

    n = o->perspective_count >= 0 ? o->perspective_count
                                  : cfg->default_perspective_count;
    if (!mpic_perspective_count_valid(n, r->n_eligible)) {
        mpic_errlist_add(errs, "invalid-perspective-count",
                         "$.orchestration_parameters.perspective_count: %ld is "
                         "out of range: must be between 2 and %zu (the "
                         "perspectives configured for %s)",
                         n, r->n_eligible,
                         mpic_check_type_name(r->mreq.check.check_type));
        return;
    }
    r->perspective_count = (size_t)n;
    if (o->quorum_count >= 0) {
        if (!mpic_quorum_valid(r->perspective_count, o->quorum_count)) {
            mpic_errlist_add(
                errs, "invalid-quorum-count",
                "$.orchestration_parameters.quorum_count: %ld is invalid for "
                "%zu perspectives: must be between %zu and %zu",
                o->quorum_count, r->perspective_count,
                mpic_quorum_default(r->perspective_count),
                r->perspective_count);
        }
        r->quorum = (size_t)o->quorum_count;
    } else {
        r->quorum = mpic_quorum_default(r->perspective_count);
    }
    r->max_attempts = mpic_effective_max_attempts(o->max_attempts,
                                                  cfg->absolute_max_attempts);
    if (errs->n > 0)
        return;

    /* The cohort builder works on a compact array of eligible ones. */
    eligible_ps = xcalloc(r->n_eligible, sizeof(*eligible_ps));
    for (size_t i = 0; i < r->n_eligible; i++)
        eligible_ps[i] = cfg->perspectives[r->eligible[i]]; /* shallow */
    if (mpic_cohorts_build(eligible_ps, r->n_eligible, r->perspective_count,
                           cfg->hash_secret, r->target.name, &r->cohorts,
                           &why) != MPIC_OK) {
        free(eligible_ps);
        *fatal_why = why ? why : xstrdup("no cohort can be formed");
        return;
    }
    free(eligible_ps);

    r->forced_cohort = -1;
    if (o->cohort_for_single_attempt >= 0) {
        if (!mpic_cohort_number_valid(o->cohort_for_single_attempt,
                                      r->cohorts.n_cohorts)) {
            mpic_errlist_add(
                errs, "invalid-cohort-for-single-attempt",
                "$.orchestration_parameters.cohort_for_single_attempt: %ld is "
                "out of range: there are %zu cohorts of %zu perspectives",
                o->cohort_for_single_attempt, r->cohorts.n_cohorts,
                r->perspective_count);
            return;
        }
        r->forced_cohort = o->cohort_for_single_attempt - 1;
        r->max_attempts = 1;
    }
}

static void attempt_start(struct coord_req *r);

static void req_finish(struct coord_req *r);

/* How long the next attempt may take (0: no time left; deadline.c). */
static uint64_t attempt_budget_ms(const struct coord_req *r)
{
    return coord_attempt_budget_ms(r->c, mpic_http_request_start_ms(r->http),
                                   ev_now_ms());
}

static void attempt_judge(struct coord_req *r, struct coord_attempt *a)
{
    const struct mpic_coordinator_config *cfg = r->c->cfg;
    enum mpic_rir *rirs = xcalloc(a->n_calls ? a->n_calls : 1, sizeof(*rirs));
    size_t n_rirs = 0;

    /* One RIR per passing perspective, sized by the cohort: a fixed array
     * would under-count the passes of a cohort larger than it. */
    a->n_passed = 0;
    a->n_not_completed = 0;
    for (size_t i = 0; i < a->n_calls; i++) {
        struct coord_call *call = &a->calls[i];

        if (call->check_passed) {
            a->n_passed++;
            rirs[n_rirs++] = cfg->perspectives[call->idx].rir;
        }
        if (!call->check_completed)
            a->n_not_completed++;
    }
    a->valid = mpic_attempt_valid(rirs, n_rirs, a->n_calls, r->quorum);
    free(rirs);
}

/*
 * The current attempt has no call left running: judge it and say whether
 * another attempt follows (Open MPIC API 3: stop at the first valid one,
 * after max_attempts, or when the request's time is up).
 */
static void attempt_timers_stop(struct coord_req *r)
{
    ev_timer_stop(r->c->loop, r->attempt_timer);
    r->attempt_timer = NULL;
    ev_timer_stop(r->c->loop, r->straggler_timer);
    r->straggler_timer = NULL;
}

static bool attempt_over(struct coord_req *r)
{
    struct coord_attempt *a = &r->attempts[r->n_attempts - 1];

    attempt_timers_stop(r);
    attempt_judge(r, a);
    attempt_span_end(r, a);
    if (a->valid || (long)r->n_attempts >= r->max_attempts)
        return false;
    if (attempt_budget_ms(r) == 0) {
        logtr_warn(r->mreq.check.trace_id, r->trace.trace_hex,
                   "mpic request for %s: no time left for attempt %zu",
                   r->mreq.check.target, r->n_attempts + 1);
        return false;
    }
    return true;
}

/*
 * Whether the calls of a that finished already decide it: valid (passes
 * reach quorum with the RIR rule met), or quorum out of reach even if every
 * call still out passed.
 */
static bool attempt_decided(struct coord_req *r, struct coord_attempt *a)
{
    size_t n_failed = 0;

    attempt_judge(r, a); /* unfinished calls have not passed (yet) */
    if (a->valid)
        return true;
    for (size_t i = 0; i < a->n_calls; i++) {
        if (a->calls[i].finished && !a->calls[i].check_passed)
            n_failed++;
    }
    return a->n_calls - n_failed < r->quorum;
}

static void on_straggler_timeout(struct ev_loop *loop, void *arg);

/*
 * A pass counts only in the shape the checkers give one (open-mpic-api.md
 * 3 and 5.2; the reference checkers alike): a completed check, and without
 * errors unless it is CAA and the request allowed lookup failures (the
 * error then stays as evidence). A checker that claims a pass in any other
 * shape (a bug, a version skew), or a DCV pass for another method than
 * the request's, gives no corroboration: its answer becomes a remote_check
 * error naming what was wrong.
 */
static void call_check_coherent(struct coord_req *r, struct coord_call *call)
{
    const json_t *errors = json_object_get(call->check_response, "errors");
    const json_t *details = json_object_get(call->check_response, "details");
    const char *method =
        json_string_value(json_object_get(details, "validation_method"));
    bool errors_allowed = r->mreq.check.check_type == MPIC_CHECK_CAA &&
                          r->mreq.check.caa.allow_lookup_failure;
    const char *asked = NULL;
    char buf[160];
    const char *why;
    const char *first;
    json_t *err;

    if (!call->check_passed)
        return;
    if (r->mreq.check.check_type == MPIC_CHECK_DCV)
        asked = mpic_dcv_method_name(r->mreq.check.dcv.method);
    if (!call->check_completed)
        why = "check_passed true with check_completed false";
    else if (json_array_size(errors) > 0 && !errors_allowed)
        why = "check_passed true with errors (only a CAA check with "
              "allow_lookup_failure passes with errors)";
    else if (asked != NULL && method != NULL && strcmp(method, asked) != 0) {
        /* A pass for another method proves nothing about this one. Both
         * checkers name it in details; one that does not is not judged. */
        snprintf(buf, sizeof(buf),
                 "check_passed true for validation_method \"%.40s\", not "
                 "the request's \"%s\"",
                 method, asked);
        why = buf;
    } else
        return;
    first = first_error_type(call->check_response);
    err = coord_remote_error(
        call->type, call->method,
        "checker answered an incoherent check response: %s%s%s", why,
        first != NULL ? "; first error: " : "", first != NULL ? first : "");
    json_decref(call->check_response); /* first points into it */
    call->check_response = err;
    call->check_passed = false;
    call->check_completed = false;
    r->c->metrics.remote_ok--;
    r->c->metrics.remote_failed++;
}

/* coord_call_done_fn: one call of the current attempt has finished. */
static void on_call_done(struct coord_call *call, void *arg)
{
    struct coord_req *r = arg;
    unsigned wait = r->c->cfg->straggler_timeout_ms;

    call_check_coherent(r, call);
    call_span_end(r, &r->attempts[r->n_attempts - 1], call);
    MPIC_ASSERT(r->pending > 0);
    if (--r->pending > 0) {
        if (wait > 0 && r->straggler_timer == NULL &&
            attempt_decided(r, &r->attempts[r->n_attempts - 1]))
            r->straggler_timer =
                ev_timer_start(r->c->loop, wait, on_straggler_timeout, r);
        return;
    }
    if (attempt_over(r))
        attempt_start(r);
    else
        req_finish(r);
}

/*
 * Ends every call of the current attempt still running: as a remote_check
 * error when the attempt's time is up, as not_awaited when it was decided
 * and the straggler wait is over (open-mpic-api.md section 3). Then the
 * attempt is judged like any other. Runs from the loop, outside libcurl.
 */
static void attempt_cut(struct coord_req *r, bool stragglers)
{
    struct coord_attempt *a = &r->attempts[r->n_attempts - 1];
    uint64_t now = ev_now_ms();

    for (size_t i = 0; i < a->n_calls; i++) {
        struct coord_call *call = &a->calls[i];

        if (call->finished)
            continue;
        coord_fanout_cancel(r->c, call);
        call->elapsed_ms = now - call->started_ms;
        if (stragglers) {
            call->check_response = coord_not_awaited_error(
                call->type, call->method,
                "not awaited: the attempt's outcome was decided and the "
                "checker had not answered %u ms later (%llu ms after the "
                "call started)",
                r->c->cfg->straggler_timeout_ms,
                (unsigned long long)call->elapsed_ms);
            a->n_not_awaited++;
            r->c->metrics.remote_not_awaited++;
        } else {
            call->check_response =
                coord_remote_error(call->type, call->method,
                                   "no answer from the checker within %llu ms",
                                   (unsigned long long)call->elapsed_ms);
            r->c->metrics.remote_failed++;
        }
        call->finished = true;
        call_span_end(r, a, call);
    }
    r->pending = 0;
    if (attempt_over(r))
        attempt_start(r);
    else
        req_finish(r);
}

static void on_attempt_timeout(struct ev_loop *loop, void *arg)
{
    struct coord_req *r = arg;

    (void)loop;
    r->attempt_timer = NULL;
    attempt_cut(r, false);
}

static void on_straggler_timeout(struct ev_loop *loop, void *arg)
{
    struct coord_req *r = arg;

    (void)loop;
    r->straggler_timer = NULL;
    attempt_cut(r, true);
}

static void attempt_start(struct coord_req *r)
{
    struct coord_attempt *a;
    size_t k = r->n_attempts;
    size_t cohort;
    const size_t *members;
    uint64_t budget;

    for (;;) {
        cohort = r->forced_cohort >= 0
                     ? (size_t)r->forced_cohort
                     : mpic_attempt_cohort(k, r->cohorts.n_cohorts);
        budget = attempt_budget_ms(r);
        if (budget == 0)
            budget = 1; /* the first attempt always runs */
        r->attempts =
            xreallocarray(r->attempts, r->n_attempts + 1, sizeof(*r->attempts));
        a = &r->attempts[r->n_attempts++];
        memset(a, 0, sizeof(*a));
        a->cohort = cohort;
        a->n_calls = r->cohorts.size;
        a->calls = xcalloc(a->n_calls, sizeof(*a->calls));
        mpic_trace_random_span_id(a->span_id);
        a->span_start_ns = mpic_trace_now_ns();
        members = mpic_cohorts_at(&r->cohorts, cohort);
        for (size_t i = 0; i < a->n_calls; i++) {
            struct coord_call *call = &a->calls[i];

            call->idx = r->eligible[members[i]];
            call->timeout_ms = budget;
            /* Each call is a span of its own: the checker's parent. */
            mpic_trace_random_span_id(call->span_id);
            call->span_start_ns = a->span_start_ns;
            memcpy(call->tp_line, "traceparent: ", 13);
            mpic_traceparent_format(r->trace.trace_id, call->span_id,
                                    r->trace.flags, call->tp_line + 13);
        }
        coord_fanout_start(r->c, a->calls, a->n_calls, r->mreq.check.check_type,
                           r->mreq.check.check_type == MPIC_CHECK_DCV
                               ? mpic_dcv_method_name(r->mreq.check.dcv.method)
                               : NULL,
                           r->check_body, r->check_body_len, on_call_done, r);
        r->pending = 0;
        for (size_t i = 0; i < a->n_calls; i++) {
            if (!a->calls[i].finished)
                r->pending++;
            else
                call_span_end(r, a, &a->calls[i]);
        }
        if (r->pending > 0) {
            r->attempt_timer =
                ev_timer_start(r->c->loop, budget + COORD_ATTEMPT_SLACK_MS,
                               on_attempt_timeout, r);
            return;
        }
        /* Every call failed at setup: judge now, maybe try again. */
        if (!attempt_over(r)) {
            req_finish(r);
            return;
        }
        k = r->n_attempts;
    }
}

static json_t *perspectives_json(const struct coord_req *r,
                                 const struct coord_attempt *a)
{
    const struct mpic_coordinator_config *cfg = r->c->cfg;
    json_t *list = mpic_jarr();

    for (size_t i = 0; i < a->n_calls; i++) {
        json_t *p = mpic_jobj();

        mpic_jset(p, "perspective_code",
                  mpic_jstr(cfg->perspectives[a->calls[i].idx].code));
        if (a->calls[i].check_response != NULL)
            mpic_jset(p, "check_response",
                      json_incref(a->calls[i].check_response));
        mpic_jpush(list, p);
    }
    return list;
}

/*
 * The BR 5.4.1 record: one line a CA can retain, for every request that
 * got past validation, whatever its end. outcome: "answered" (200),
 * "cancelled" (torn down by the HTTP layer: deadline or shutdown) or
 * "cohort_error" (500, no attempt ran).
 */
/* [{"<type_key>": type, "message": ...}, ...] of l (new reference). */
static json_t *issues_json(const struct mpic_errlist *l, const char *type_key)
{
    json_t *a = mpic_jarr();

    for (size_t i = 0; i < l->n; i++) {
        json_t *it = mpic_jobj();

        mpic_jset(it, type_key, mpic_jstr(l->items[i].type));
        mpic_jset(it, "message", mpic_jstr(l->items[i].message));
        mpic_jpush(a, it);
    }
    return a;
}

/* The policy in force for r, for its audit record. */
static json_t *policy_json(const struct coord_req *r)
{
    const struct mpic_compliance_policy *p = &r->c->cfg->compliance;
    json_t *o = mpic_jobj();
    const char *since = NULL;

    mpic_jset(o, "min_perspective_count",
              mpic_jint((long long)r->min_perspectives));
    mpic_jset(o, "min_source",
              mpic_jstr(r->min_from_config ? "config" : "auto"));
    if (!r->min_from_config) {
        (void)mpic_br_min_perspectives(r->now, &since);
        mpic_jset(o, "min_rule",
                  mpic_jstr(since != NULL ? "BR 3.2.2.9"
                                          : "BR 3.2.2.9 (before 2026-03-15)"));
        mpic_jset(o, "min_since",
                  since != NULL ? mpic_jstr(since) : json_null());
    }
    mpic_jset(o, "method_sunsets",
              mpic_jstr(mpic_sunset_mode_name(p->method_sunsets)));
    return o;
}

/*
 * Which replica of the perspective's checker the recorded answer (or
 * error) came from, how many were called, and why the earlier ones gave no
 * answer (docs/failover.md).
 */
static void audit_replica(struct coord *c, const struct coord_call *call,
                          json_t *jp)
{
    const struct coord_queue *q =
        &coord_queues(c)[call->idx * 2 + (call->type == MPIC_CHECK_DCV)];

    if (call->n_tried == 0 || call->rep >= q->n_reps)
        return;
    mpic_jset(jp, "checker_url", mpic_jstr(q->reps[call->rep].url));
    mpic_jset(jp, "replicas_called", mpic_jint((long long)call->n_tried));
    if (call->failed_over != NULL)
        mpic_jset(jp, "failed_over", mpic_jstr(call->failed_over));
}

static void audit_log(const struct coord_req *r, bool is_valid, bool completed,
                      const char *outcome)
{
    const struct mpic_coordinator_config *cfg = r->c->cfg;
    const struct coord_attempt *last =
        r->n_attempts > 0 ? &r->attempts[r->n_attempts - 1] : NULL;
    json_t *o = mpic_jobj();
    json_t *attempts = mpic_jarr();
    char quorum[64];

    for (size_t k = 0; k < r->n_attempts; k++) {
        const struct coord_attempt *a = &r->attempts[k];
        json_t *jatt = mpic_jobj();
        json_t *ps = mpic_jarr();
        char q[64];

        for (size_t i = 0; i < a->n_calls; i++) {
            const struct coord_call *call = &a->calls[i];
            const struct mpic_perspective *p = &cfg->perspectives[call->idx];
            json_t *jp = mpic_jobj();
            json_t *types = mpic_jarr();
            json_t *errors = json_object_get(call->check_response, "errors");
            size_t j;
            json_t *e;

            json_array_foreach(errors, j, e)
            {
                json_t *t = json_object_get(e, "error_type");

                if (json_is_string(t))
                    mpic_jpush(types, json_incref(t));
            }
            mpic_jset(jp, "code", mpic_jstr(p->code));
            mpic_jset(jp, "answered", mpic_jbool(call->check_response != NULL));
            mpic_jset(jp, "rir", mpic_jstr(mpic_rir_name(p->rir)));
            mpic_jset(jp, "check_passed", mpic_jbool(call->check_passed));
            mpic_jset(jp, "check_completed", mpic_jbool(call->check_completed));
            mpic_jset(jp, "error_types", types);
            mpic_jset(jp, "duration_ms",
                      mpic_jint((long long)call->elapsed_ms));
            audit_replica(r->c, call, jp);
            mpic_jpush(ps, jp);
        }
        snprintf(q, sizeof(q), "%zu/%zu", a->n_passed, a->n_calls);
        mpic_jset(jatt, "attempt", mpic_jint((long long)k + 1));
        mpic_jset(jatt, "cohort", mpic_jint((long long)a->cohort + 1));
        mpic_jset(jatt, "quorum_result", mpic_jstr(q));
        mpic_jset(jatt, "not_awaited", mpic_jint((long long)a->n_not_awaited));
        mpic_jset(jatt, "is_valid", mpic_jbool(a->valid));
        mpic_jset(jatt, "perspectives", ps);
        mpic_jpush(attempts, jatt);
    }
    snprintf(quorum, sizeof(quorum), "%zu/%zu", last ? last->n_passed : 0,
             last ? last->n_calls : 0);
    mpic_jset(o, "event", mpic_jstr("mpic_audit"));
    mpic_jset(o, "outcome", mpic_jstr(outcome));
    /* Present even when the caller sent none, so every record has it. */
    mpic_jset(o, "trace_identifier",
              r->mreq.check.trace_id ? mpic_jstr(r->mreq.check.trace_id)
                                     : json_null());
    mpic_jset(o, "target", mpic_jstr(r->mreq.check.target));
    mpic_jset(o, "check_type",
              mpic_jstr(mpic_check_type_name(r->mreq.check.check_type)));
    if (r->mreq.check.check_type == MPIC_CHECK_DCV) {
        mpic_jset(o, "validation_method",
                  mpic_jstr(mpic_dcv_method_name(r->mreq.check.dcv.method)));
    } else {
        mpic_jset(o, "allow_lookup_failure",
                  mpic_jbool(r->mreq.check.caa.allow_lookup_failure));
    }
    mpic_jset(o, "perspective_count",
              mpic_jint((long long)r->perspective_count));
    mpic_jset(o, "quorum_count", mpic_jint((long long)r->quorum));
    mpic_jset(o, "quorum_result", mpic_jstr(quorum));
    mpic_jset(o, "is_valid", mpic_jbool(is_valid));
    mpic_jset(o, "mpic_completed", mpic_jbool(completed));
    mpic_jset(o, "attempts", attempts);
    mpic_jset(o, "compliance", policy_json(r));
    if (r->warnings.n > 0)
        mpic_jset(o, "warnings", issues_json(&r->warnings, "warning_type"));
    if (r->refusal != NULL)
        mpic_jset(o, "validation_issues",
                  issues_json(r->refusal, "issue_type"));
    mpic_jset(o, "duration_ms",
              mpic_jint((long long)(ev_now_ms() - r->start_ms)));
    mpic_log_json_tr(MPIC_LOG_INFO, r->mreq.check.trace_id, r->trace.trace_hex,
                     "mpic audit", o);
    json_decref(o);
}

static void req_finish(struct coord_req *r)
{
    const struct coord_attempt *last = &r->attempts[r->n_attempts - 1];
    struct mpic_request *m = &r->mreq;
    bool is_valid = last->valid;
    bool completed =
        mpic_completed(last->n_not_completed, last->n_calls, r->quorum);
    json_t *o = mpic_jobj();
    json_t *actual = mpic_jobj();
    json_t *prev;

    mpic_jset(o, "check_type",
              mpic_jstr(mpic_check_type_name(m->check.check_type)));
    mpic_jset(o, "domain_or_ip_target", mpic_jstr(m->check.target));
    mpic_jset(o, "trace_identifier",
              m->check.trace_id ? mpic_jstr(m->check.trace_id) : json_null());
    mpic_jset(o, "is_valid", mpic_jbool(is_valid));
    mpic_jset(o, "mpic_completed", mpic_jbool(completed));
    mpic_jset(o, "request_orchestration_parameters",
              m->orch.present ? mpic_orch_params_to_json(&m->orch)
                              : json_null());
    mpic_jset(actual, "perspective_count",
              mpic_jint((long long)r->perspective_count));
    mpic_jset(actual, "quorum_count", mpic_jint((long long)r->quorum));
    mpic_jset(actual, "attempt_count", mpic_jint((long long)r->n_attempts));
    mpic_jset(o, "actual_orchestration_parameters", actual);
    if (m->check.check_type == MPIC_CHECK_CAA) {
        mpic_jset(o, "caa_check_parameters",
                  m->check.has_caa_params
                      ? mpic_caa_params_to_json(&m->check.caa)
                      : json_null());
    } else {
        mpic_jset(o, "dcv_check_parameters",
                  mpic_dcv_params_to_json(&m->check.dcv));
    }
    mpic_jset(o, "perspectives", perspectives_json(r, last));
    if (r->n_attempts > 1) {
        prev = mpic_jarr();
        for (size_t k = 0; k + 1 < r->n_attempts; k++)
            mpic_jpush(prev, perspectives_json(r, &r->attempts[k]));
    } else {
        prev = json_null();
    }
    mpic_jset(o, "previous_attempt_results", prev);
    /* Sunset methods served (open-mpic-api.md 9; not in the reference). */
    if (r->warnings.n > 0)
        mpic_jset(o, "warnings", issues_json(&r->warnings, "warning_type"));

    if (is_valid)
        r->c->metrics.mpic_valid[m->check.check_type]++;
    else
        r->c->metrics.mpic_invalid[m->check.check_type]++;
    audit_log(r, is_valid, completed, "answered");
    req_span_end(r, 200, "answered");
    mpic_http_request_reply_json(r->http, 200, o);
    req_free(r);
}

/*
 * The HTTP layer tears the request down (its deadline passed, or the
 * server is stopping) and answers for it. Stop the running calls now, so
 * no libcurl completion can reach the freed request, and still leave the
 * audit record of what was asked and what was seen.
 */
static void on_cancel(struct mpic_http_request *http, void *arg)
{
    struct coord_req *r = arg;
    struct coord_attempt *a = &r->attempts[r->n_attempts - 1];

    (void)http;
    logtr_warn(r->mreq.check.trace_id, r->trace.trace_hex,
               "mpic request for %s cancelled before all perspectives "
               "answered",
               r->mreq.check.target);
    attempt_timers_stop(r);
    for (size_t i = 0; i < a->n_calls; i++) {
        if (!a->calls[i].finished) {
            coord_fanout_cancel(r->c, &a->calls[i]);
            a->calls[i].elapsed_ms = ev_now_ms() - a->calls[i].started_ms;
        }
        call_span_end(r, a, &a->calls[i]);
    }
    attempt_judge(r, a);
    attempt_span_end(r, a);
    r->c->metrics.mpic_cancelled++;
    audit_log(r, false, false, "cancelled");
    req_span_end(r, 503, "cancelled");
    req_free(r);
}

/*
 * The compliance policy on the day of the request (open-mpic-api.md 9):
 * sunset warnings are kept in r, issues of a request the policy refuses
 * (400) go to errs, and UNAVAILABLE (503: the default perspective count is
 * below the minimum of the day) comes with its reason in *why.
 */
static enum mpic_compliance_verdict
req_compliance(struct coord_req *r, struct mpic_errlist *errs, char **why)
{
    const struct mpic_coordinator_config *cfg = r->c->cfg;
    struct mpic_compliance_request q;

    memset(&q, 0, sizeof(q));
    q.perspective_count = r->mreq.orch.perspective_count;
    q.default_perspective_count = cfg->default_perspective_count;
    q.is_dcv = r->mreq.check.check_type == MPIC_CHECK_DCV;
    q.method = r->mreq.check.dcv.method;
    r->now = time(NULL);
    r->min_perspectives =
        mpic_compliance_minimum(&cfg->compliance, r->now, &r->min_from_config);
    r->perspective_count = q.perspective_count >= 0
                               ? (size_t)q.perspective_count
                               : (size_t)q.default_perspective_count;
    return mpic_compliance_decide(&cfg->compliance, r->now, &q, errs,
                                  &r->warnings, why);
}

/* 503: the minimum rose above the default under the running daemon. */
static void reply_unavailable(struct coord_req *r, const char *why)
{
    json_t *o = mpic_jobj();

    logtr_error(r->mreq.check.trace_id, r->trace.trace_hex,
                "refusing the mpic request for %s: %s", r->mreq.check.target,
                why);
    r->c->metrics.mpic_error++;
    audit_log(r, false, false, "compliance_unavailable");
    req_span_end(r, 503, "compliance_unavailable");
    mpic_jset(o, "error", mpic_jstr("mpic_error:coordinator:compliance"));
    mpic_jset(o, "message", mpic_jstr(why));
    mpic_http_request_reply_json(r->http, 503, o);
}

void coord_on_mpic(struct mpic_http_request *http, void *arg)
{
    struct coord *c = arg;
    struct coord_req *r;
    struct mpic_errlist errs;
    struct mpic_check_request creq;
    const char *body;
    size_t len;
    char *why = NULL;
    char *fatal_why = NULL;
    char *unavailable_why = NULL;
    const char *tp_why = NULL;
    enum mpic_compliance_verdict verdict;

    if (!mpic_http_request_authorized(http, &c->cfg->api_keys, true)) {
        mpic_http_request_reply_error(
            http, 401, "unauthorized",
            "a valid API key is required (x-api-key or "
            "Authorization: Bearer)");
        return;
    }
    r = xcalloc(1, sizeof(*r));
    r->c = c;
    r->http = http;
    r->start_ms = ev_now_ms();
    /* W3C Trace Context: continue the caller's trace, or start one. */
    if (!mpic_trace_begin(&r->trace,
                          mpic_http_request_header(http, "traceparent"),
                          &tp_why) &&
        tp_why != NULL)
        logtr_debug(NULL, r->trace.trace_hex,
                    "mpic: traceparent refused (%s): new trace", tp_why);
    mpic_http_request_set_w3c_trace_id(http, r->trace.trace_hex);
    r->forced_cohort = -1;
    mpic_errlist_init(&r->warnings);
    mpic_errlist_init(&errs);
    body = mpic_http_request_body(http, &len);
    if (mpic_request_parse(body, len, &r->mreq, &errs) != MPIC_OK ||
        errs.n > 0) {
        mpic_http_request_reply_issues(http, &errs);
        goto out;
    }
    if (r->mreq.check.trace_id != NULL)
        mpic_http_request_set_trace_id(http, r->mreq.check.trace_id);
    if (mpic_target_parse(r->mreq.check.target, &r->target, &why) != 0) {
        /* mpic_request_parse checked it already; keep a clear answer. */
        mpic_errlist_add(&errs, "invalid-domain-or-ip-target",
                         "$.domain_or_ip_target: %s", why ? why : "invalid");
        free(why);
        mpic_http_request_reply_issues(http, &errs);
        goto out;
    }
    verdict = req_compliance(r, &errs, &unavailable_why);
    if (verdict != MPIC_COMPLIANCE_UNAVAILABLE)
        req_plan(r, &errs, &fatal_why); /* all of a request's issues at once */
    if (errs.n > 0) {
        if (verdict == MPIC_COMPLIANCE_REFUSED) {
            /* The policy's refusals are part of the record. */
            r->refusal = &errs;
            audit_log(r, false, false, "refused");
            r->refusal = NULL;
        }
        free(fatal_why);
        free(unavailable_why);
        mpic_http_request_reply_issues(http, &errs);
        goto out;
    }
    if (verdict == MPIC_COMPLIANCE_UNAVAILABLE) {
        reply_unavailable(r, unavailable_why);
        free(unavailable_why);
        goto out;
    }
    if (fatal_why != NULL) {
        logtr_error(r->mreq.check.trace_id, r->trace.trace_hex,
                    "cohort selection failed for %s: %s", r->mreq.check.target,
                    fatal_why);
        c->metrics.mpic_error++;
        audit_log(r, false, false, "cohort_error");
        req_span_end(r, 500, "cohort_error");
        {
            json_t *o = mpic_jobj();

            mpic_jset(o, "error", mpic_jstr("mpic_error:coordinator:cohort"));
            mpic_jset(o, "message", mpic_jstr(fatal_why));
            mpic_http_request_reply_json(http, 500, o);
        }
        free(fatal_why);
        goto out;
    }

    memset(&creq, 0, sizeof(creq));
    mpic_check_request_from_request(&creq, &r->mreq);
    r->check_body = mpic_check_request_encode(&creq);
    mpic_check_request_cleanup(&creq);
    r->check_body_len = strlen(r->check_body);

    mpic_http_request_set_cancel(http, on_cancel, r);
    mpic_errlist_cleanup(&errs);
    attempt_start(r); /* may answer at once; r may be gone after this */
    return;

out:
    req_span_end(r, 400, "invalid_request"); /* unless answered otherwise */
    mpic_errlist_cleanup(&errs);
    req_free(r);
}
