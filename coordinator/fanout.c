/*
 * Fan-out of one attempt: one POST per cohort member, all concurrent on the
 * daemon's curl multi handle (keep-alive connections to checkers are reused
 * across requests). Every way a call can fail becomes that perspective's
 * remote_check error; a well-formed check response is a check response
 * whatever the HTTP status (the reference DCV checker answers 500 with a
 * complete body when a check met errors).
 */
#include "coordinator/coordinator.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg);
static void on_pump(struct ev_loop *loop, void *arg);

/*
 * Options every call has; set once when a handle is made, since handles
 * only ever go back to the pool from here. A call sets the rest.
 */
int coord_easy_setup_tls(const struct coord *c, CURL *easy)
{
    const struct mpic_coordinator_config *cfg = c->cfg;
    int rc = 0;

    rc |= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->share != NULL)
        rc |= curl_easy_setopt(easy, CURLOPT_SHARE, c->share);
    if (cfg->checker_tls.ca_file != NULL)
        rc |= curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->checker_tls.ca_file);
    if (cfg->checker_tls.cert_file != NULL) {
        rc |=
            curl_easy_setopt(easy, CURLOPT_SSLCERT, cfg->checker_tls.cert_file);
        rc |= curl_easy_setopt(easy, CURLOPT_SSLKEY, cfg->checker_tls.key_file);
    }
    return rc == 0 ? 0 : -1;
}

static int easy_setup_fixed(const struct coord *c, CURL *easy)
{
    int rc = coord_easy_setup_tls(c, easy);

    rc |= curl_easy_setopt(easy, CURLOPT_POST, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    return rc == 0 ? 0 : -1;
}

CURL *coord_easy_get(struct coord *c)
{
    CURL *easy;

    if (c->n_pool > 0)
        return c->pool[--c->n_pool];
    easy = curl_easy_init();
    if (easy != NULL && easy_setup_fixed(c, easy) != 0) {
        curl_easy_cleanup(easy);
        easy = NULL;
    }
    return easy;
}

void coord_easy_put(struct coord *c, CURL *easy)
{
    if (easy == NULL)
        return;
    if (c->n_pool < COORD_EASY_POOL) {
        /* Drop what points into the finished call and request. */
        curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, NULL);
        curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL); /* call->tp_node */
        c->pool[c->n_pool++] = easy;
        return;
    }
    curl_easy_cleanup(easy);
}

/*
 * The request headers of the calls to perspective i, built on first use and
 * kept until coord_fanout_cleanup(): Content-Type, an empty Expect (no
 * 100-continue round trip), then the perspective's configured headers.
 */
struct curl_slist *coord_perspective_headers(struct coord *c, size_t i)
{
    const struct mpic_perspective *p = &c->cfg->perspectives[i];
    struct curl_slist *h = NULL, *nh;

    if (c->hdrs == NULL)
        c->hdrs = xcalloc(c->cfg->n_perspectives, sizeof(*c->hdrs));
    if (c->hdrs[i] != NULL)
        return c->hdrs[i];
    nh = curl_slist_append(h, "Content-Type: application/json");
    if (nh == NULL)
        return NULL;
    h = nh;
    nh = curl_slist_append(h, "Expect:");
    if (nh == NULL)
        goto fail;
    h = nh;
    for (size_t k = 0; k < p->n_headers; k++) {
        char *line =
            xasprintf("%s: %s", p->headers[k].name, p->headers[k].value);

        nh = curl_slist_append(h, line);
        free(line);
        if (nh == NULL)
            goto fail;
        h = nh;
    }
    c->hdrs[i] = h;
    return h;

fail:
    curl_slist_free_all(h);
    return NULL;
}

void coord_fanout_cleanup(struct coord *c)
{
    if (c->pump_hooked)
        ev_before_poll_remove(c->loop, on_pump, c);
    c->pump_hooked = false;
    for (size_t i = 0; i < c->n_pool; i++)
        curl_easy_cleanup(c->pool[i]);
    c->n_pool = 0;
    if (c->hdrs != NULL) {
        for (size_t i = 0; i < c->cfg->n_perspectives; i++)
            curl_slist_free_all(c->hdrs[i]);
        free(c->hdrs);
        c->hdrs = NULL;
    }
}

static json_t *call_error(enum mpic_check_type type, const char *method,
                          const char *error_type, const char *fmt, va_list ap)
{
    char *msg = NULL;
    json_t *o, *details, *errors, *err;

    if (vasprintf(&msg, fmt, ap) < 0)
        fatalx("out of memory");

    details = mpic_jobj();
    if (type == MPIC_CHECK_CAA) {
        mpic_jset(details, "caa_record_present", json_null());
        mpic_jset(details, "found_at", json_null());
        mpic_jset(details, "records_seen", json_null());
    } else if (method != NULL) {
        mpic_jset(details, "validation_method", mpic_jstr(method));
    }
    err = mpic_jobj();
    mpic_jset(err, "error_type", mpic_jstr(error_type));
    mpic_jset(err, "error_message", mpic_jstr(msg));
    errors = mpic_jarr();
    mpic_jpush(errors, err);

    o = mpic_jobj();
    mpic_jset(o, "check_type", mpic_jstr(mpic_check_type_name(type)));
    mpic_jset(o, "check_passed", json_false());
    mpic_jset(o, "check_completed", json_false());
    mpic_jset(o, "timestamp_ns", mpic_jint(mpic_now_ns()));
    mpic_jset(o, "errors", errors);
    mpic_jset(o, "details", details);
    free(msg);
    return o;
}

json_t *coord_remote_error(enum mpic_check_type type, const char *method,
                           const char *fmt, ...)
{
    va_list ap;
    json_t *o;

    va_start(ap, fmt);
    o = call_error(type, method, COORD_ERR_REMOTE_CHECK, fmt, ap);
    va_end(ap);
    return o;
}

json_t *coord_not_awaited_error(enum mpic_check_type type, const char *method,
                                const char *fmt, ...)
{
    va_list ap;
    json_t *o;

    va_start(ap, fmt);
    o = call_error(type, method, COORD_ERR_NOT_AWAITED, fmt, ap);
    va_end(ap);
    return o;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct coord_call *call = arg;
    size_t n = size * nmemb;

    coord_conn_note_tls(call->easy, &call->tls);
    if (mpic_buf_append(&call->body, data, n) != 0)
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    return n;
}

/* What the call's answer means; sets check_response, check_passed and
 * check_completed. Whether the checker answered with a check response. */
static bool call_judge(struct coord_call *call, CURLcode rc)
{
    struct mpic_check_response resp;
    char *why = NULL;
    long status = 0;
    enum mpic_err err;

    if (rc != CURLE_OK) {
        if (rc == CURLE_WRITE_ERROR && call->body.overflowed) {
            call->check_response = coord_remote_error(
                call->type, call->method, "checker answer larger than %d bytes",
                COORD_MAX_CHECK_RESPONSE);
        } else {
            call->check_response = coord_remote_error(
                call->type, call->method, "call to checker failed: %s",
                call->errbuf[0] ? call->errbuf : curl_easy_strerror(rc));
        }
        return false;
    }
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    memset(&resp, 0, sizeof(resp));
    err = mpic_check_response_parse(call->body.data ? call->body.data : "",
                                    call->body.len, call->type, &resp, &why);
    if (err != MPIC_OK) {
        call->check_response = coord_remote_error(
            call->type, call->method,
            "checker answered HTTP %ld without a check response: %s", status,
            why ? why : "unparseable body");
        free(why);
        return false;
    }
    call->check_response = mpic_check_response_to_json(&resp);
    call->check_passed = resp.check_passed;
    call->check_completed = resp.check_completed;
    mpic_check_response_cleanup(&resp);
    if (call->check_response == NULL) {
        call->check_passed = false;
        call->check_completed = false;
        call->check_response =
            coord_remote_error(call->type, call->method,
                               "could not re-encode the checker's answer");
    }
    return true;
}

/*
 * Calls to one checker beyond COORD_CONNS_PER_CHECKER wait here, in start
 * order, not in libcurl: libcurl 7.88 scans its whole pending list whenever
 * a transfer is removed, so thousands of waiting calls made every finished
 * call cost O(waiting) (bench/: a third of the coordinator's CPU at 1000
 * requests in flight). A queue per perspective and check type, since each
 * has its own checker URL.
 */
static struct coord_queue *call_queue(struct coord *c,
                                      const struct coord_call *call)
{
    return &coord_queues(c)[call->idx * 2 + (call->type == MPIC_CHECK_DCV)];
}

static void queue_push(struct coord_queue *q, struct coord_call *call)
{
    TAILQ_INSERT_TAIL(&q->waiting, call, qlink);
    call->queued = true;
}

static void queue_unlink(struct coord_queue *q, struct coord_call *call)
{
    TAILQ_REMOVE(&q->waiting, call, qlink);
    call->queued = false;
}

/* A connection to call's checker is free again; waiting calls start from
 * the loop, never from inside libcurl or a caller's cancel loop. */
static void call_slot_freed(struct coord *c, struct coord_call *call)
{
    struct coord_queue *q = call_queue(c, call);

    MPIC_ASSERT(q->running > 0);
    q->running--;
    if (!TAILQ_EMPTY(&q->waiting) && !c->pump_pending) {
        c->pump_pending = true;
        if (!c->pump_hooked) {
            ev_before_poll(c->loop, on_pump, c);
            c->pump_hooked = true;
        }
    }
}

static int call_launch(struct coord *c, struct coord_call *call,
                       uint64_t timeout);

/*
 * docs/failover.md: a call whose replica gave no check response moves on
 * to a replica of the same perspective it has not called, with what is
 * left of its time limit. True if it did (the call runs on); false leaves
 * the call's answer as it is.
 */
static bool call_fail_over(struct coord *c, struct coord_queue *q,
                           struct coord_call *call, CURLcode rc, bool answered)
{
    struct coord_replica *rep = &q->reps[call->rep];
    uint64_t now = ev_now_ms();
    uint64_t limit = coord_call_limit_ms(c, call->timeout_ms);
    uint64_t spent = now - call->started_ms;
    json_t *e =
        json_array_get(json_object_get(call->check_response, "errors"), 0);
    const char *msg = json_string_value(json_object_get(e, "error_message"));
    long status = 0, sent = 0;
    char *prev = call->failed_over;

    rep->last_used_ms = now;
    if (answered) {
        rep->calls_ok++;
        coord_replica_ok(q, call->rep);
        return false;
    }
    rep->calls_failed++;
    curl_easy_getinfo(call->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(call->easy, CURLINFO_REQUEST_SIZE, &sent);
    if (q->n_reps < 2 ||
        !coord_replica_should_fail_over(rc, status, false, sent > 0))
        return false;
    coord_replica_failed(q, call->rep, now);
    if (spent >= limit || call->n_tried >= q->n_reps)
        return false;
    call->failed_over =
        xasprintf("%s%s%s: %s", prev ? prev : "", prev ? "; " : "", rep->url,
                  msg ? msg : "no answer");
    free(prev);
    log_warn("perspective %s: %s checker %s gave no answer (%s); trying "
             "another replica",
             c->cfg->perspectives[call->idx].code,
             mpic_check_type_name(call->type), rep->url,
             msg ? msg : "no answer");
    q->stats.failovers++;
    json_decref(call->check_response);
    call->check_response = NULL;
    call->check_passed = call->check_completed = false;
    coord_easy_put(c, call->easy);
    call->easy = NULL;
    mpic_buf_cleanup(&call->body);
    mpic_buf_init(&call->body, COORD_MAX_CHECK_RESPONSE);
    call->errbuf[0] = '\0';
    call->tls = -1;
    if (call_launch(c, call, limit - spent) != 0)
        return false; /* its check_response says why */
    q->running--;     /* the slot passed from one replica to the other */
    return true;
}

static void on_call_done(CURL *easy, CURLcode rc, void *arg)
{
    struct coord_call *call = arg;
    struct coord_queue *q;
    bool answered;

    MPIC_ASSERT(easy == call->easy);
    call->elapsed_ms = ev_now_ms() - call->started_ms;
    q = call_queue(call->c, call);
    coord_conn_count(q, easy, call->tls);
    q->last_used_ms = ev_now_ms();
    q->reps[call->rep].running--;
    answered = call_judge(call, rc);
    if (call_fail_over(call->c, q, call, rc, answered))
        return;
    if (call->check_passed)
        call->c->metrics.remote_ok++;
    else
        call->c->metrics.remote_failed++;
    coord_easy_put(call->c, call->easy);
    call->easy = NULL;
    call_slot_freed(call->c, call);
    mpic_buf_cleanup(&call->body);
    call->finished = true;
    call->on_done(call, call->on_done_arg);
}

/* Sets the per-call options of one easy handle; returns 0 or -1. */
static int call_setup(struct coord *c, struct coord_call *call, CURL *easy,
                      const char *url, uint64_t timeout)
{
    struct curl_slist *h = coord_perspective_headers(c, call->idx);
    int rc = 0;

    if (h == NULL)
        return -1;
    if (call->tp_line[0] != '\0') {
        /* The call's own traceparent, then the shared list (not copied). */
        call->tp_node.data = call->tp_line;
        call->tp_node.next = h;
        h = &call->tp_node;
    }
    rc |= curl_easy_setopt(easy, CURLOPT_URL, url);
    rc |= curl_easy_setopt(easy, CURLOPT_POSTFIELDS, call->req_body);
    rc |= curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                           (curl_off_t)call->req_body_len);
    rc |= curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
    rc |= curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
    rc |= curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->errbuf);
    rc |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout);
    /* With a replica left to try, a connection that cannot be made leaves
     * it half the time (docs/failover.md); 0: libcurl's default. */
    rc |= curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS,
                           call->n_tried < call_queue(c, call)->n_reps
                               ? (long)(timeout / 2 > 0 ? timeout / 2 : 1)
                               : 0L);
    return rc == 0 ? 0 : -1;
}

/*
 * Hands call to libcurl with timeout ms left. 0, or -1 with the call finished
 * (its check_response the reason).
 */
static int call_launch(struct coord *c, struct coord_call *call,
                       uint64_t timeout)
{
    struct coord_queue *q = call_queue(c, call);
    int k = coord_replica_pick(q, call->tried, ev_now_ms());
    const char *url = k >= 0 ? q->reps[k].url : NULL;
    CURL *easy = coord_easy_get(c);

    if (k >= 0) {
        call->rep = (unsigned char)k;
        call->tried |= 1u << k;
        call->n_tried++;
    }

    if (easy == NULL || url == NULL ||
        call_setup(c, call, easy, url, timeout) != 0) {
        coord_easy_put(c, easy);
        call->check_response = coord_remote_error(
            call->type, call->method, "could not set up the call to %s",
            url ? url : "(no checker URL)");
        call->finished = true;
        return -1;
    }
    call->easy = easy;
    if (ev_curl_add(c->curl, easy, on_call_done, call) != 0) {
        coord_easy_put(c, easy);
        call->easy = NULL;
        call->check_response = coord_remote_error(call->type, call->method,
                                                  "libcurl refused the call");
        call->finished = true;
        return -1;
    }
    q->running++;
    q->reps[k].running++;
    if (q->reps[k].running >= q->reps[k].peak) {
        q->reps[k].peak = q->reps[k].running;
        q->reps[k].peak_ms = ev_now_ms();
    }
    return 0;
}

/* Starts q's waiting calls while its checker has free connections. */
static void queue_pump(struct coord *c, struct coord_queue *q)
{
    /* A finished call may start a new attempt that queues more calls, or
     * free a request whose calls leave the queue: re-read the head every
     * time. */
    while (!TAILQ_EMPTY(&q->waiting) && q->running < COORD_CONNS_PER_CHECKER) {
        struct coord_call *call = TAILQ_FIRST(&q->waiting);
        uint64_t waited = ev_now_ms() - call->started_ms;
        uint64_t limit = coord_call_limit_ms(c, call->timeout_ms);

        queue_unlink(q, call);
        if (waited < limit && call_launch(c, call, limit - waited) == 0)
            continue;
        if (!call->finished) {
            call->check_response = coord_remote_error(
                call->type, call->method,
                "no answer from the checker within %llu ms (no free "
                "connection to it)",
                (unsigned long long)limit);
            call->finished = true;
        }
        call->elapsed_ms = waited;
        c->metrics.remote_failed++;
        mpic_buf_cleanup(&call->body);
        call->on_done(call, call->on_done_arg);
    }
}

/* Starts waiting calls where their checker has a free connection. */
static void on_pump(struct ev_loop *loop, void *arg)
{
    struct coord *c = arg;
    size_t nq = c->cfg->n_perspectives * 2;

    (void)loop;
    /* Again if a connection freed up meanwhile: the loop may block next. */
    while (c->pump_pending) {
        c->pump_pending = false;
        for (size_t i = 0; i < nq; i++)
            queue_pump(c, &c->queues[i]);
    }
}

void coord_fanout_start(struct coord *c, struct coord_call *calls, size_t n,
                        enum mpic_check_type type, const char *method,
                        const char *body, size_t body_len,
                        coord_call_done_fn *on_done, void *arg)
{
    for (size_t i = 0; i < n; i++) {
        struct coord_call *call = &calls[i];
        struct coord_queue *q;

        call->c = c;
        call->on_done = on_done;
        call->on_done_arg = arg;
        call->type = type;
        call->method = method;
        call->req_body = body;
        call->req_body_len = body_len;
        call->started_ms = ev_now_ms();
        call->tls = -1;
        call->errbuf[0] = '\0';
        call->rep = 0;
        call->tried = 0;
        call->n_tried = 0;
        call->failed_over = NULL;
        mpic_buf_init(&call->body, COORD_MAX_CHECK_RESPONSE);
        q = call_queue(c, call);
        if (q->running < COORD_CONNS_PER_CHECKER && TAILQ_EMPTY(&q->waiting))
            (void)call_launch(c, call,
                              coord_call_limit_ms(c, call->timeout_ms));
        else
            queue_push(q, call); /* the caller sees it running */
    }
}

void coord_fanout_cancel(struct coord *c, struct coord_call *call)
{
    if (call->queued)
        queue_unlink(call_queue(c, call), call);
    if (call->easy != NULL) {
        call_queue(c, call)->reps[call->rep].running--;
        ev_curl_cancel(c->curl, call->easy);
        coord_easy_put(c, call->easy);
        call->easy = NULL;
        call_slot_freed(c, call);
    }
    mpic_buf_cleanup(&call->body);
}

void coord_call_cleanup(struct coord *c, struct coord_call *call)
{
    coord_fanout_cancel(c, call);
    json_decref(call->check_response);
    call->check_response = NULL;
    free(call->failed_over);
    call->failed_over = NULL;
}
