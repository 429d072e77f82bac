/*
 * Tests of the HTTP layer: a server on 127.0.0.1:0 and a libcurl client
 * driven by ev_curl on the same ev loop, so the whole exchange runs on one
 * thread without sleeps.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/strv.h"
#include "common/versions.h"

struct resp;

struct fx {
    struct ev_loop *loop;
    struct ev_curl *ec;
    struct mpic_http_server *srv;
    unsigned port;
    const char *host; /* for URLs; NULL: 127.0.0.1 */
    /* handler side */
    int handled;
    int cancelled;
    struct mpic_http_request *pending;
    struct ev_timer *reply_timer;
    bool shutdown_in_handler;
    struct mpic_strv keys;
    bool allow_api_key;
    int metrics_cb_calls;
    struct resp *cancel_target; /* h_never cancels this client transfer */
};

struct resp {
    struct fx *fx;
    CURL *easy;
    struct curl_slist *hdrs;
    struct mpic_buf body;
    struct mpic_buf head;
    long status;
    CURLcode result;
    bool done;
    int done_calls;
};

/* ---- client ---- */

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
    struct resp *r = arg;

    mpic_buf_append(&r->body, p, sz * n);
    return sz * n;
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
    struct resp *r = arg;

    mpic_buf_append(&r->head, p, sz * n);
    return sz * n;
}

static void on_client_done(CURL *easy, CURLcode result, void *arg)
{
    struct resp *r = arg;

    r->result = result;
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r->status);
    r->done = true;
    r->done_calls++;
    ev_loop_stop(r->fx->loop);
}

static void resp_init(struct resp *r, struct fx *fx)
{
    memset(r, 0, sizeof(*r));
    r->fx = fx;
    mpic_buf_init(&r->body, 1 << 20);
    mpic_buf_init(&r->head, 1 << 16);
    r->easy = curl_easy_init();
    assert_non_null(r->easy);
}

static void resp_cleanup(struct resp *r)
{
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    mpic_buf_cleanup(&r->body);
    mpic_buf_cleanup(&r->head);
}

/* Starts a request; body may be NULL. The loop must run to finish it. */
static void start(struct resp *r, const char *method, const char *path,
                  const char *body, size_t len)
{
    char url[256];

    snprintf(url, sizeof(url), "http://%s:%u%s",
             r->fx->host != NULL ? r->fx->host : "127.0.0.1", r->fx->port,
             path);
    mpic_buf_reset(&r->body);
    mpic_buf_reset(&r->head);
    r->done = false;
    curl_easy_setopt(r->easy, CURLOPT_URL, url);
    curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(r->easy, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 20000L);
    if (body != NULL) {
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (r->hdrs != NULL)
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->hdrs);
    assert_int_equal(ev_curl_add(r->fx->ec, r->easy, on_client_done, r), 0);
    assert_false(r->done); /* never completes inside ev_curl_add */
}

static void run_until_done(struct resp *r)
{
    while (!r->done)
        assert_int_equal(ev_loop_run(r->fx->loop), 0);
}

static void request(struct resp *r, const char *method, const char *path,
                    const char *body)
{
    start(r, method, path, body, body ? strlen(body) : 0);
    run_until_done(r);
    assert_int_equal(r->result, CURLE_OK);
}

static const char *body_str(const struct resp *r)
{
    return r->body.data != NULL ? r->body.data : "";
}

static json_t *body_json(const struct resp *r)
{
    json_t *j = json_loadb(r->body.data, r->body.len, 0, NULL);

    assert_non_null(j);
    return j;
}

/* ---- server ---- */

static void h_echo(struct mpic_http_request *req, void *arg)
{
    struct fx *fx = arg;
    size_t len;
    const char *b = mpic_http_request_body(req, &len);

    fx->handled++;
    mpic_http_request_reply(req, 200, "text/plain", xmemdup(b, len), len);
}

static void on_late_reply(struct ev_loop *loop, void *arg)
{
    struct fx *fx = arg;

    (void)loop;
    fx->reply_timer = NULL;
    mpic_http_request_reply_json(fx->pending, 200,
                                 json_pack("{s:s}", "late", "yes"));
    fx->pending = NULL;
}

static void on_req_cancel(struct mpic_http_request *req, void *arg)
{
    struct fx *fx = arg;

    assert_ptr_equal(req, fx->pending);
    fx->cancelled++;
    ev_timer_stop(fx->loop, fx->reply_timer);
    fx->reply_timer = NULL;
    fx->pending = NULL;
}

static void h_async(struct mpic_http_request *req, void *arg)
{
    struct fx *fx = arg;

    fx->handled++;
    fx->pending = req;
    mpic_http_request_set_cancel(req, on_req_cancel, fx);
    mpic_http_request_set_trace_id(req, "trace-async");
    fx->reply_timer = ev_timer_start(fx->loop, 30, on_late_reply, fx);
    if (fx->shutdown_in_handler)
        mpic_http_server_shutdown(fx->srv);
}

static void cancel_client(struct ev_loop *loop, void *arg);

static void h_never(struct mpic_http_request *req, void *arg)
{
    struct fx *fx = arg;

    fx->handled++;
    fx->pending = req;
    mpic_http_request_set_cancel(req, on_req_cancel, fx);
    if (fx->cancel_target != NULL)
        ev_timer_start(fx->loop, 0, cancel_client, fx->cancel_target);
}

static void h_auth(struct mpic_http_request *req, void *arg)
{
    struct fx *fx = arg;

    fx->handled++;
    if (mpic_http_request_authorized(req, &fx->keys, fx->allow_api_key))
        mpic_http_request_reply_json(req, 200, json_pack("{s:b}", "ok", 1));
    else
        mpic_http_request_reply_error(req, 401, "unauthorized", "no valid key");
}

static json_t *configz(void *arg)
{
    (void)arg;
    return json_pack("{s:s, s:s}", "listen", "127.0.0.1:0", "hash_secret",
                     "<redacted>");
}

static void metrics_cb(struct mpic_buf *out, void *arg)
{
    struct fx *fx = arg;

    fx->metrics_cb_calls++;
    mpic_buf_append_str(out, "mpic_test_gauge 42\n");
}

/* curl_version: what the daemon reports for libcurl (NULL: not linked). */
static struct fx *fx_new_lib(uint64_t deadline_ms, size_t max_body,
                             const char *curl_version)
{
    struct fx *fx = xcalloc(1, sizeof(*fx));
    struct mpic_http_server_config cfg = {
        .name = "test",
        .listen = "127.0.0.1:0",
        .max_body = max_body,
        .deadline_ms = deadline_ms,
        .configz = configz,
        .metrics = metrics_cb,
    };
    struct mpic_http_library libs[MPIC_LIBRARIES_MAX];
    char *err = NULL;

    cfg.metrics_arg = fx;
    cfg.n_libraries = mpic_library_versions(libs, curl_version);
    cfg.libraries = libs;
    fx->loop = ev_loop_new();
    assert_non_null(fx->loop);
    fx->ec = ev_curl_new(fx->loop);
    assert_non_null(fx->ec);
    fx->srv = mpic_http_server_new(fx->loop, &cfg, &err);
    assert_null(err);
    assert_non_null(fx->srv);
    fx->port = mpic_http_server_port(fx->srv);
    assert_true(fx->port > 0);
    mpic_strv_init(&fx->keys);
    mpic_http_server_route(fx->srv, "POST", "/echo", h_echo, fx);
    mpic_http_server_route(fx->srv, "PUT", "/echo", h_echo, fx);
    mpic_http_server_route(fx->srv, "POST", "/async", h_async, fx);
    mpic_http_server_route(fx->srv, "POST", "/never", h_never, fx);
    mpic_http_server_route(fx->srv, "GET", "/auth", h_auth, fx);
    return fx;
}

static struct fx *fx_new(uint64_t deadline_ms, size_t max_body)
{
    return fx_new_lib(deadline_ms, max_body,
                      curl_version_info(CURLVERSION_NOW)->version);
}

static void fx_free(struct fx *fx)
{
    ev_timer_stop(fx->loop, fx->reply_timer);
    mpic_http_server_free(fx->srv);
    ev_curl_free(fx->ec);
    ev_loop_free(fx->loop);
    mpic_strv_cleanup(&fx->keys);
    free(fx);
}

static int setup(void **state)
{
    *state = fx_new(5000, 1024);
    return 0;
}

static int teardown(void **state)
{
    fx_free(*state);
    return 0;
}

/* ---- tests ---- */

static void test_sync_reply_echoes_body(void **state)
{
    struct fx *fx = *state;
    struct resp r;

    resp_init(&r, fx);
    request(&r, "POST", "/echo", "hello");
    assert_int_equal(r.status, 200);
    assert_string_equal(body_str(&r), "hello");
    assert_int_equal(fx->handled, 1);
    assert_int_equal(mpic_http_server_inflight(fx->srv), 0);
    resp_cleanup(&r);
}

static void test_async_reply_after_timer(void **state)
{
    struct fx *fx = *state;
    struct resp r;
    json_t *j;

    resp_init(&r, fx);
    request(&r, "POST", "/async", "{}");
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "late")), "yes");
    json_decref(j);
    assert_int_equal(fx->cancelled, 0);
    assert_int_equal(mpic_http_server_inflight(fx->srv), 0);
    resp_cleanup(&r);
}

static void test_unknown_path_is_404_json(void **state)
{
    struct fx *fx = *state;
    struct resp r;
    json_t *j;

    resp_init(&r, fx);
    request(&r, "GET", "/nope", NULL);
    assert_int_equal(r.status, 404);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "not-found");
    json_decref(j);
    assert_int_equal(fx->handled, 0);
    /* Paths are exact: a prefix or a trailing slash is another path. */
    request(&r, "POST", "/echo/", "x");
    assert_int_equal(r.status, 404);
    assert_int_equal(fx->handled, 0);
    resp_cleanup(&r);
}

static void test_wrong_method_is_405_with_allow(void **state)
{
    struct fx *fx = *state;
    struct resp r;
    json_t *j;

    resp_init(&r, fx);
    request(&r, "GET", "/echo", NULL);
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head.data, "Allow: POST, PUT\r\n"));
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "method-not-allowed");
    json_decref(j);
    request(&r, "POST", "/healthz", "x");
    assert_int_equal(r.status, 405);
    assert_non_null(strstr(r.head.data, "Allow: GET\r\n"));
    assert_int_equal(fx->handled, 0);
    resp_cleanup(&r);
}

static void test_body_over_cap_is_413(void **state)
{
    struct fx *fx = *state;
    struct resp r;
    char *big = xmalloc(5000);
    json_t *j;

    memset(big, 'a', 4999);
    big[4999] = '\0';
    resp_init(&r, fx);
    /* Content-Length above the cap: refused before the body is read. */
    request(&r, "POST", "/echo", big);
    assert_int_equal(r.status, 413);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "payload-too-large");
    json_decref(j);
    /* Chunked, no Content-Length: refused once the buffer overflows. */
    r.hdrs = curl_slist_append(NULL, "Transfer-Encoding: chunked");
    request(&r, "POST", "/echo", big);
    assert_int_equal(r.status, 413);
    assert_int_equal(fx->handled, 0);
    /* Exactly at the cap is fine. */
    curl_slist_free_all(r.hdrs);
    r.hdrs = NULL;
    curl_easy_reset(r.easy);
    big[1024] = '\0';
    request(&r, "POST", "/echo", big);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 1024);
    assert_int_equal(fx->handled, 1);
    free(big);
    resp_cleanup(&r);
}

static void test_healthz(void **state)
{
    struct fx *fx = *state;
    struct resp r;

    resp_init(&r, fx);
    request(&r, "GET", "/healthz", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(body_str(&r), "{\"status\":\"healthy\"}");
    assert_non_null(strstr(r.head.data, "application/json"));
    resp_cleanup(&r);
}

static void test_configz_has_versions_and_callback_fields(void **state)
{
    struct fx *fx = *state;
    struct resp r;
    json_t *j, *libs;

    resp_init(&r, fx);
    request(&r, "GET", "/configz", NULL);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "version")),
                        MPIC_VERSION);
    assert_string_equal(json_string_value(json_object_get(j, "hash_secret")),
                        "<redacted>");
    libs = json_object_get(j, "libraries");
    assert_true(json_is_object(libs));
    assert_true(json_is_string(json_object_get(libs, "microhttpd")));
    assert_string_equal(json_string_value(json_object_get(libs, "curl")),
                        curl_version_info(CURLVERSION_NOW)->version);
    assert_true(json_is_string(json_object_get(libs, "c-ares")));
    assert_true(json_is_string(json_object_get(libs, "ldns")));
    assert_true(json_is_string(json_object_get(libs, "jansson")));
    assert_true(json_is_string(json_object_get(libs, "openssl")));
    json_decref(j);
    resp_cleanup(&r);
}

static void test_metrics_count_requests_with_bounded_paths(void **state)
{
    struct fx *fx = *state;
    struct resp r;

    resp_init(&r, fx);
    request(&r, "GET", "/healthz", NULL);
    request(&r, "GET", "/healthz", NULL);
    request(&r, "GET", "/random-1", NULL);
    request(&r, "GET", "/random-2", NULL);
    request(&r, "POST", "/echo", "x");
    request(&r, "GET", "/metrics", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(
        strstr(body_str(&r),
               "mpic_http_requests_total{path=\"/healthz\",method=\"GET\","
               "status=\"200\"} 2\n"));
    assert_non_null(strstr(
        body_str(&r), "mpic_http_requests_total{path=\"other\",method=\"GET\","
                      "status=\"404\"} 2\n"));
    assert_non_null(strstr(
        body_str(&r), "mpic_http_requests_total{path=\"/echo\",method=\"POST\","
                      "status=\"200\"} 1\n"));
    assert_null(strstr(body_str(&r), "random"));
    assert_non_null(strstr(
        body_str(&r),
        "mpic_http_request_duration_seconds_count{path=\"/healthz\"} 2\n"));
    assert_non_null(strstr(body_str(&r),
                           "mpic_http_request_duration_seconds_bucket{path="
                           "\"/healthz\",le=\"+Inf\"} 2\n"));
    /* The /metrics request itself is in flight while it renders. */
    assert_non_null(strstr(body_str(&r), "mpic_http_requests_in_flight 1\n"));
    assert_non_null(strstr(body_str(&r), "mpic_test_gauge 42\n"));
    assert_int_equal(fx->metrics_cb_calls, 1);
    resp_cleanup(&r);
}

static void test_configz_lists_no_curl_where_not_linked(void **state)
{
    struct fx *fx = fx_new_lib(5000, 1024, NULL);
    struct resp r;
    json_t *j, *libs;

    (void)state;
    resp_init(&r, fx);
    request(&r, "GET", "/configz", NULL);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    libs = json_object_get(j, "libraries");
    assert_true(json_is_object(libs));
    assert_null(json_object_get(libs, "curl"));
    assert_true(json_is_string(json_object_get(libs, "microhttpd")));
    assert_true(json_is_string(json_object_get(libs, "openssl")));
    json_decref(j);
    resp_cleanup(&r);
    fx_free(fx);
}

static void test_unanswered_request_gets_504_and_cancel(void **state)
{
    struct fx *fx = fx_new(50, 1024);
    struct resp r;
    json_t *j;

    (void)state;
    resp_init(&r, fx);
    request(&r, "POST", "/never", "{}");
    assert_int_equal(r.status, 504);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "deadline-exceeded");
    json_decref(j);
    assert_int_equal(fx->cancelled, 1);
    assert_null(fx->pending);
    assert_int_equal(mpic_http_server_inflight(fx->srv), 0);
    resp_cleanup(&r);
    fx_free(fx);
}

static void auth_case(struct fx *fx, const char *header, long want)
{
    struct resp r;

    resp_init(&r, fx);
    if (header != NULL)
        r.hdrs = curl_slist_append(NULL, header);
    request(&r, "GET", "/auth", NULL);
    assert_int_equal(r.status, want);
    resp_cleanup(&r);
}

static void test_authorized_accepts_only_listed_keys(void **state)
{
    struct fx *fx = *state;

    /* Empty key list: everything is allowed. */
    auth_case(fx, NULL, 200);
    mpic_strv_push(&fx->keys, "first-key");
    mpic_strv_push(&fx->keys, "second-key");
    auth_case(fx, NULL, 401);
    auth_case(fx, "Authorization: Bearer second-key", 200);
    auth_case(fx, "Authorization: bearer first-key", 200);
    auth_case(fx, "Authorization: Bearer second-ke", 401);
    auth_case(fx, "Authorization: Bearer second-keyy", 401);
    auth_case(fx, "Authorization: Bearer ", 401);
    auth_case(fx, "Authorization: Basic second-key", 401);
    auth_case(fx, "Authorization: second-key", 401);
    /* x-api-key only when allowed. */
    auth_case(fx, "x-api-key: first-key", 401);
    fx->allow_api_key = true;
    auth_case(fx, "x-api-key: first-key", 200);
    auth_case(fx, "X-Api-Key: first-key", 200);
    auth_case(fx, "x-api-key: wrong", 401);
}

static void test_graceful_shutdown_finishes_inflight_request(void **state)
{
    struct fx *fx = *state;
    struct resp r;

    resp_init(&r, fx);
    fx->shutdown_in_handler = true;
    start(&r, "POST", "/async", "{}", 2);
    /* Stops once the in-flight request was answered and completed. */
    assert_int_equal(mpic_http_server_run(fx->srv, 5000), 0);
    assert_int_equal(fx->handled, 1);
    assert_int_equal(mpic_http_server_inflight(fx->srv), 0);
    run_until_done(&r);
    assert_int_equal(r.result, CURLE_OK);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(body_str(&r), "late"));
    assert_int_equal(fx->cancelled, 0);
    /* No longer listening. */
    start(&r, "GET", "/healthz", NULL, 0);
    run_until_done(&r);
    assert_int_equal(r.result, CURLE_COULDNT_CONNECT);
    resp_cleanup(&r);
}

static void h_never_then_shutdown(struct mpic_http_request *req, void *arg)
{
    struct fx *fx = arg;

    h_never(req, arg);
    mpic_http_server_shutdown(fx->srv);
}

static void test_shutdown_cancels_requests_past_grace_with_503(void **state)
{
    struct fx *fx = *state;
    struct resp r;
    json_t *j;

    mpic_http_server_route(fx->srv, "POST", "/stuck", h_never_then_shutdown,
                           fx);
    resp_init(&r, fx);
    start(&r, "POST", "/stuck", "{}", 2);
    assert_int_equal(mpic_http_server_run(fx->srv, 30), 0);
    assert_int_equal(fx->cancelled, 1);
    run_until_done(&r);
    assert_int_equal(r.result, CURLE_OK);
    assert_int_equal(r.status, 503);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "error")),
                        "shutting-down");
    json_decref(j);
    resp_cleanup(&r);
}

static void send_sigterm(struct ev_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    raise(SIGTERM);
}

static void test_sigterm_stops_server_cleanly(void **state)
{
    struct fx *fx = *state;

    ev_timer_start(fx->loop, 0, send_sigterm, NULL);
    assert_int_equal(mpic_http_server_run(fx->srv, 1000), 0);
    assert_int_equal(mpic_http_server_port(fx->srv), 0); /* daemon gone */
}

static void test_keepalive_connection_is_reused(void **state)
{
    struct fx *fx = *state;
    struct resp r;
    long connects = -1;

    resp_init(&r, fx);
    request(&r, "POST", "/echo", "one");
    curl_easy_getinfo(r.easy, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(connects, 1);
    request(&r, "POST", "/echo", "two");
    assert_string_equal(body_str(&r), "two");
    curl_easy_getinfo(r.easy, CURLINFO_NUM_CONNECTS, &connects);
    assert_int_equal(connects, 0);
    resp_cleanup(&r);
}

static void cancel_client(struct ev_loop *loop, void *arg)
{
    struct resp *r = arg;

    ev_curl_cancel(r->fx->ec, r->easy);
    ev_loop_stop(loop);
}

static void test_cancelled_transfer_never_calls_on_done(void **state)
{
    struct fx *fx = *state;
    struct resp r;

    resp_init(&r, fx);
    fx->cancel_target = &r;
    start(&r, "POST", "/never", "{}", 2);
    /* The server suspends the request and the handler cancels the client
     * transfer from a timer, which stops the loop. */
    assert_int_equal(ev_loop_run(fx->loop), 0);
    assert_int_equal(fx->handled, 1);
    ev_curl_cancel(fx->ec, r.easy); /* a second cancel is a no-op */
    assert_int_equal(r.done_calls, 0);
    resp_cleanup(&r);
}

static void test_bad_listen_address_is_refused(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    const char *bad[] = {"",       "127.0.0.1", "127.0.0.1:", "127.0.0.1:99999",
                         "::1:80", "[::1]80",   "example:80", "1.2.3.4:8x"};
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mpic_http_server_config cfg = {.name = "t", .listen = bad[i]};
        char *err = NULL;

        assert_null(mpic_http_server_new(loop, &cfg, &err));
        assert_non_null(err);
        free(err);
    }
    ev_loop_free(loop);
}

static void test_ipv6_listen_address_serves(void **state)
{
    struct fx fx = {0};
    struct mpic_http_server_config cfg = {
        .name = "v6", .listen = "[::1]:0", .max_body = 64, .deadline_ms = 100};
    char *err = NULL;
    struct resp r;

    (void)state;
    fx.loop = ev_loop_new();
    fx.ec = ev_curl_new(fx.loop);
    fx.srv = mpic_http_server_new(fx.loop, &cfg, &err);
    assert_null(err);
    assert_non_null(fx.srv);
    fx.port = mpic_http_server_port(fx.srv);
    assert_true(fx.port > 0);
    fx.host = "[::1]";
    resp_init(&r, &fx);
    request(&r, "GET", "/healthz", NULL);
    assert_int_equal(r.status, 200);
    resp_cleanup(&r);
    mpic_http_server_free(fx.srv);
    ev_curl_free(fx.ec);
    ev_loop_free(fx.loop);
}

/* ---- per-connection memory ---- */

static void test_body_much_larger_than_connection_pool(void **state)
{
    struct fx *fx = fx_new(5000, 1u << 20);
    struct resp r;
    char *big = xmalloc((1u << 20) + 2);
    size_t i;

    (void)state;
    for (i = 0; i <= 1u << 20; i++)
        big[i] = (char)('a' + i % 26);
    big[1u << 20] = '\0';
    resp_init(&r, fx);
    /* Exactly at a 1 MiB cap: far more than the connection pool. */
    request(&r, "POST", "/echo", big);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body.len, 1u << 20);
    assert_memory_equal(r.body.data, big, 1u << 20);
    /* One byte more is refused. */
    big[1u << 20] = 'x';
    big[(1u << 20) + 1] = '\0';
    request(&r, "POST", "/echo", big);
    assert_int_equal(r.status, 413);
    assert_int_equal(fx->handled, 1);
    free(big);
    resp_cleanup(&r);
    fx_free(fx);
}

static void test_header_block_limits(void **state)
{
    struct fx *fx = *state;
    struct resp r;
    char *hdr = xmalloc(64 * 1024);
    json_t *j;

    resp_init(&r, fx);
    /* A 4 KiB header (a long bearer token, say) fits. */
    memcpy(hdr, "X-Long: ", 8);
    memset(hdr + 8, 'h', 4096);
    hdr[8 + 4096] = '\0';
    r.hdrs = curl_slist_append(NULL, hdr);
    request(&r, "POST", "/echo", "ok");
    assert_int_equal(r.status, 200);
    assert_string_equal(body_str(&r), "ok");
    assert_int_equal(fx->handled, 1);
    /* A 60 KiB header block is refused without reaching the handler. */
    curl_slist_free_all(r.hdrs);
    memset(hdr + 8, 'h', 60 * 1024);
    hdr[8 + 60 * 1024] = '\0';
    r.hdrs = curl_slist_append(NULL, hdr);
    request(&r, "POST", "/echo", "no");
    assert_true(r.status == 431 || r.status == 413 || r.status == 400);
    assert_int_equal(fx->handled, 1);
    /* The server still serves afterwards. */
    curl_slist_free_all(r.hdrs);
    r.hdrs = NULL;
    curl_easy_reset(r.easy);
    request(&r, "GET", "/healthz", NULL);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "status")),
                        "healthy");
    json_decref(j);
    free(hdr);
    resp_cleanup(&r);
}

/* ---- connection teardown ---- */

#define NCONNS     64
#define SPIN_LIMIT 2000 /* loop iterations, not time */

struct spin {
    struct fx *fx;
    bool (*done)(struct fx *fx);
    unsigned iterations;
    struct ev_timer *t;
};

static void on_spin(struct ev_loop *loop, void *arg)
{
    struct spin *sp = arg;

    sp->t = NULL;
    sp->iterations++;
    if (sp->done(sp->fx) || sp->iterations >= SPIN_LIMIT) {
        ev_loop_stop(loop);
        return;
    }
    sp->t = ev_timer_start(loop, 0, on_spin, sp);
}

/* Runs the loop until done() or SPIN_LIMIT iterations; true if done(). */
static bool spin_until(struct fx *fx, bool (*done)(struct fx *fx))
{
    struct spin sp = {.fx = fx, .done = done};

    sp.t = ev_timer_start(fx->loop, 0, on_spin, &sp);
    assert_int_equal(ev_loop_run(fx->loop), 0);
    ev_timer_stop(fx->loop, sp.t);
    return done(fx);
}

static bool no_connections(struct fx *fx)
{
    return mpic_http_server_connections(fx->srv) == 0;
}

static bool all_connected(struct fx *fx)
{
    return mpic_http_server_connections(fx->srv) == NCONNS;
}

static bool all_inflight(struct fx *fx)
{
    return mpic_http_server_inflight(fx->srv) == NCONNS;
}

static int raw_connect(unsigned port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Loopback: the kernel completes the handshake from the backlog. */
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    return fd;
}

static void send_all(int fd, const char *s)
{
    size_t len = strlen(s);

    while (len > 0) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

        assert_true(n > 0);
        s += n;
        len -= (size_t)n;
    }
}

/* Reads one whole "Content-Length" reply without blocking the loop: the
 * server has already written it when this is called. */
static bool reply_complete(int fd, struct mpic_buf *b)
{
    char chunk[4096];
    const char *hdr_end, *cl;
    ssize_t n;

    for (;;) {
        n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);
        if (n <= 0)
            break;
        mpic_buf_append(b, chunk, (size_t)n);
    }
    if (b->data == NULL)
        return false;
    hdr_end = strstr(b->data, "\r\n\r\n");
    cl = strcasestr(b->data, "Content-Length:");
    if (hdr_end == NULL || cl == NULL)
        return false;
    return b->len >= (size_t)(hdr_end + 4 - b->data) +
                         strtoul(cl + strlen("Content-Length:"), NULL, 10);
}

static int g_fds[NCONNS];
static struct mpic_buf g_replies[NCONNS];

static bool all_replied(struct fx *fx)
{
    size_t i;

    (void)fx;
    for (i = 0; i < NCONNS; i++) {
        if (!reply_complete(g_fds[i], &g_replies[i]))
            return false;
    }
    return true;
}

static void close_all(void)
{
    size_t i;

    for (i = 0; i < NCONNS; i++) {
        close(g_fds[i]);
        g_fds[i] = -1;
    }
}

static void test_closed_idle_connections_are_released(void **state)
{
    struct fx *fx = *state;
    size_t i;

    for (i = 0; i < NCONNS; i++)
        g_fds[i] = raw_connect(fx->port);
    assert_true(spin_until(fx, all_connected));
    close_all();
    assert_true(spin_until(fx, no_connections));
}

static void test_closed_keepalive_connections_are_released(void **state)
{
    struct fx *fx = *state;
    size_t i;

    for (i = 0; i < NCONNS; i++) {
        g_fds[i] = raw_connect(fx->port);
        mpic_buf_init(&g_replies[i], 1 << 16);
        send_all(g_fds[i], "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    }
    assert_true(spin_until(fx, all_replied));
    assert_int_equal(mpic_http_server_connections(fx->srv), NCONNS);
    for (i = 0; i < NCONNS; i++) {
        assert_non_null(strstr(g_replies[i].data, "HTTP/1.1 200"));
        mpic_buf_cleanup(&g_replies[i]);
    }
    /* The peers close their kept-alive connections: all of them must be
     * closed on our side too, without waiting for the idle timeout. */
    close_all();
    assert_true(spin_until(fx, no_connections));
    assert_int_equal(mpic_http_server_inflight(fx->srv), 0);
}

static void test_half_sent_request_then_close_is_released(void **state)
{
    struct fx *fx = *state;
    size_t i;

    for (i = 0; i < NCONNS; i++) {
        g_fds[i] = raw_connect(fx->port);
        send_all(g_fds[i], "POST /echo HTTP/1.1\r\nHost: t\r\n"
                           "Content-Length: 100\r\n\r\nabc");
    }
    /* Every request is in (headers read, body incomplete), then the peers
     * leave. libmicrohttpd 0.9.75 misses a close that arrives together
     * with the first bytes it reads (its edge-triggered epoll clears
     * read-readiness on a short read); such a connection waits for the
     * idle timeout like any idle one, so that case is not asserted. */
    assert_true(spin_until(fx, all_inflight));
    close_all();
    assert_true(spin_until(fx, no_connections));
    assert_int_equal(fx->handled, 0);
    assert_int_equal(mpic_http_server_inflight(fx->srv), 0);
}

static struct mpic_http_request *g_held[NCONNS];
static size_t g_nheld;

static void h_hold(struct mpic_http_request *req, void *arg)
{
    struct fx *fx = arg;

    fx->handled++;
    assert_true(g_nheld < NCONNS);
    g_held[g_nheld++] = req;
}

static bool all_held(struct fx *fx)
{
    (void)fx;
    return g_nheld == NCONNS;
}

static void test_peer_close_while_suspended_is_released(void **state)
{
    struct fx *fx = *state;
    size_t i;

    g_nheld = 0;
    mpic_http_server_route(fx->srv, "POST", "/hold", h_hold, fx);
    for (i = 0; i < NCONNS; i++) {
        g_fds[i] = raw_connect(fx->port);
        send_all(g_fds[i], "POST /hold HTTP/1.1\r\nHost: t\r\n"
                           "Content-Length: 2\r\n\r\n{}");
    }
    assert_true(spin_until(fx, all_held));
    assert_int_equal(mpic_http_server_inflight(fx->srv), NCONNS);
    /* The peers leave while their requests are suspended; the late
     * replies cannot go out and every connection must still close. */
    close_all();
    for (i = 0; i < NCONNS; i++)
        mpic_http_request_reply_json(g_held[i], 200,
                                     json_pack("{s:b}", "ok", 1));
    assert_int_equal(mpic_http_server_inflight(fx->srv), 0);
    assert_true(spin_until(fx, no_connections));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sync_reply_echoes_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_async_reply_after_timer, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unknown_path_is_404_json, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wrong_method_is_405_with_allow,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_over_cap_is_413, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_configz_has_versions_and_callback_fields, setup, teardown),
        cmocka_unit_test(test_configz_lists_no_curl_where_not_linked),
        cmocka_unit_test_setup_teardown(
            test_metrics_count_requests_with_bounded_paths, setup, teardown),
        cmocka_unit_test(test_unanswered_request_gets_504_and_cancel),
        cmocka_unit_test_setup_teardown(
            test_authorized_accepts_only_listed_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_graceful_shutdown_finishes_inflight_request, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_shutdown_cancels_requests_past_grace_with_503, setup,
            teardown),
        cmocka_unit_test_setup_teardown(test_sigterm_stops_server_cleanly,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_connection_is_reused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_cancelled_transfer_never_calls_on_done, setup, teardown),
        cmocka_unit_test(test_bad_listen_address_is_refused),
        cmocka_unit_test(test_ipv6_listen_address_serves),
        cmocka_unit_test(test_body_much_larger_than_connection_pool),
        cmocka_unit_test_setup_teardown(test_header_block_limits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_closed_idle_connections_are_released, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_closed_keepalive_connections_are_released, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_half_sent_request_then_close_is_released, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_peer_close_while_suspended_is_released, setup, teardown),
    };
    int rc;

    curl_global_init(CURL_GLOBAL_DEFAULT);
    mpic_log_set_level(getenv("TEST_DEBUG") ? MPIC_LOG_DEBUG : MPIC_LOG_WARN);
    rc = cmocka_run_group_tests_name("http_server", tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
