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
#include "common/log.h"
#include "common/mem.h"

CURL *coord_easy_get(struct coord *c)
{
    if (c->n_pool > 0)
        return c->pool[--c->n_pool];
    return curl_easy_init();
}

void coord_easy_put(struct coord *c, CURL *easy)
{
    if (easy == NULL)
        return;
    if (c->n_pool < COORD_EASY_POOL) {
        curl_easy_reset(easy);
        c->pool[c->n_pool++] = easy;
        return;
    }
    curl_easy_cleanup(easy);
}

json_t *coord_remote_error(enum mpic_check_type type, const char *method,
                           const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;
    json_t *o, *details, *errors, *err;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        fatalx("out of memory");
    va_end(ap);

    details = json_object();
    if (type == MPIC_CHECK_CAA) {
        json_object_set_new(details, "caa_record_present", json_null());
        json_object_set_new(details, "found_at", json_null());
        json_object_set_new(details, "records_seen", json_null());
    } else if (method != NULL) {
        json_object_set_new(details, "validation_method", json_string(method));
    }
    err = json_object();
    json_object_set_new(err, "error_type",
                        json_string("mpic_error:coordinator:remote_check"));
    json_object_set_new(err, "error_message", json_string(msg));
    errors = json_array();
    json_array_append_new(errors, err);

    o = json_object();
    json_object_set_new(o, "check_type",
                        json_string(mpic_check_type_name(type)));
    json_object_set_new(o, "check_passed", json_false());
    json_object_set_new(o, "check_completed", json_false());
    json_object_set_new(o, "timestamp_ns", json_integer(mpic_now_ns()));
    json_object_set_new(o, "errors", errors);
    json_object_set_new(o, "details", details);
    free(msg);
    return o;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct coord_call *call = arg;
    size_t n = size * nmemb;

    if (mpic_buf_append(&call->body, data, n) != 0)
        return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
    return n;
}

/* What the call's answer means; sets check_response, passed, completed. */
static void call_judge(struct coord_call *call, CURLcode rc)
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
        return;
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
        return;
    }
    call->check_response = mpic_check_response_to_json(&resp);
    call->passed = resp.check_passed;
    call->completed = resp.check_completed;
    mpic_check_response_cleanup(&resp);
    if (call->check_response == NULL) {
        call->passed = false;
        call->completed = false;
        call->check_response =
            coord_remote_error(call->type, call->method,
                               "could not re-encode the checker's answer");
    }
}

static void on_call_done(CURL *easy, CURLcode rc, void *arg)
{
    struct coord_call *call = arg;

    MPIC_ASSERT(easy == call->easy);
    call->elapsed_ms = ev_now_ms() - call->started_ms;
    call_judge(call, rc);
    if (call->passed)
        call->c->metrics.remote_ok++;
    else
        call->c->metrics.remote_failed++;
    coord_easy_put(call->c, call->easy);
    call->easy = NULL;
    curl_slist_free_all(call->hdrs);
    call->hdrs = NULL;
    mpic_buf_cleanup(&call->body);
    call->done = true;
    coord_req_call_done(call);
}

/* Configures one easy handle; returns 0 or -1 with a reason. */
static int call_setup(struct coord *c, struct coord_call *call, CURL *easy,
                      const char *url, const char *body, size_t body_len)
{
    const struct mpic_coordinator_config *cfg = c->cfg;
    const struct mpic_perspective *p = &cfg->perspectives[call->idx];
    struct curl_slist *h = NULL, *nh;
    uint64_t timeout;
    int rc = 0;

    nh = curl_slist_append(h, "Content-Type: application/json");
    if (nh == NULL)
        return -1;
    h = nh;
    nh = curl_slist_append(h, "Expect:");
    if (nh == NULL)
        goto fail;
    h = nh;
    for (size_t i = 0; i < p->n_headers; i++) {
        char *line =
            xasprintf("%s: %s", p->headers[i].name, p->headers[i].value);

        nh = curl_slist_append(h, line);
        free(line);
        if (nh == NULL)
            goto fail;
        h = nh;
    }
    call->hdrs = h;

    rc |= curl_easy_setopt(easy, CURLOPT_URL, url);
    rc |= curl_easy_setopt(easy, CURLOPT_POST, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
    rc |= curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                           (curl_off_t)body_len);
    rc |= curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
    rc |= curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(easy, CURLOPT_WRITEDATA, call);
    rc |= curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, call->errbuf);
    /* The request's own deadline may leave less than remote_timeout_ms
     * (api_mpic.c); 0 would mean "no timeout" to libcurl, so at least 1. */
    timeout = call->timeout_ms > 0 ? call->timeout_ms
                                   : (uint64_t)cfg->remote_timeout_ms;
    if (timeout < 1)
        timeout = 1;
    rc |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout);
    rc |= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (cfg->checker_tls.ca_file != NULL)
        rc |= curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->checker_tls.ca_file);
    if (cfg->checker_tls.cert_file != NULL) {
        rc |=
            curl_easy_setopt(easy, CURLOPT_SSLCERT, cfg->checker_tls.cert_file);
        rc |= curl_easy_setopt(easy, CURLOPT_SSLKEY, cfg->checker_tls.key_file);
    }
    if (rc != 0)
        return -1;
    return 0;

fail:
    curl_slist_free_all(h);
    return -1;
}

void coord_fanout_start(struct coord *c, struct coord_call *calls, size_t n,
                        enum mpic_check_type type, const char *method,
                        const char *body, size_t body_len)
{
    for (size_t i = 0; i < n; i++) {
        struct coord_call *call = &calls[i];
        const struct mpic_perspective *p = &c->cfg->perspectives[call->idx];
        const char *url = type == MPIC_CHECK_CAA ? p->caa_url : p->dcv_url;
        CURL *easy;

        call->c = c;
        call->type = type;
        call->method = method;
        call->started_ms = ev_now_ms();
        call->errbuf[0] = '\0';
        mpic_buf_init(&call->body, COORD_MAX_CHECK_RESPONSE);
        easy = coord_easy_get(c);
        if (easy == NULL || url == NULL ||
            call_setup(c, call, easy, url, body, body_len) != 0) {
            coord_easy_put(c, easy);
            curl_slist_free_all(call->hdrs);
            call->hdrs = NULL;
            call->check_response = coord_remote_error(
                type, method, "could not set up the call to %s",
                url ? url : "(no checker URL)");
            call->done = true;
            continue; /* the caller sees it done already */
        }
        call->easy = easy;
        if (ev_curl_add(c->curl, easy, on_call_done, call) != 0) {
            coord_easy_put(c, easy);
            call->easy = NULL;
            curl_slist_free_all(call->hdrs);
            call->hdrs = NULL;
            call->check_response =
                coord_remote_error(type, method, "libcurl refused the call");
            call->done = true;
        }
    }
}

void coord_fanout_cancel(struct coord *c, struct coord_call *call)
{
    if (call->easy != NULL) {
        ev_curl_cancel(c->curl, call->easy);
        coord_easy_put(c, call->easy);
        call->easy = NULL;
    }
    curl_slist_free_all(call->hdrs);
    call->hdrs = NULL;
    mpic_buf_cleanup(&call->body);
}

void coord_call_cleanup(struct coord *c, struct coord_call *call)
{
    coord_fanout_cancel(c, call);
    json_decref(call->check_response);
    call->check_response = NULL;
}
