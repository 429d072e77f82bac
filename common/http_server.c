/*
 * The HTTP layer: libmicrohttpd in external-epoll mode on our ev loop
 * (MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, no internal thread; the shape
 * of MHD's suspend_resume_epoll example). We watch MHD's epoll fd, call
 * MHD_run on readiness, and re-arm one timer from MHD_get_timeout before
 * every poll. Each request gets a struct http_request on the first access
 * handler call; it is freed only in the NOTIFY_COMPLETED callback. A request
 * not answered when its handler returns is suspended with a deadline timer;
 * a later reply stores the response and resumes the connection, and the
 * next MHD_run queues it. This file does not parse request bodies: routes
 * get the raw, capped body.
 */
#include "common/http_server.h"

#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <inttypes.h>
#include <ldns/ldns.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/model.h"

#define DEFAULT_CONN_LIMIT   1024u
#define DEFAULT_CONN_TIMEOUT 30u
/*
 * Per-connection pool: request line, headers, the read buffer and our reply
 * headers. The body does not live there (it goes to our capped buffer chunk
 * by chunk), so the pool only bounds the header block (about half of it;
 * more is answered 431 by libmicrohttpd). Pools above 32 KiB are mmap()ed
 * and zeroed by libmicrohttpd for every connection, and each munmap() costs
 * a TLB shootdown on every core: a small pool comes from malloc and is
 * cheap to set up and tear down, and 1000 connections need 16 MiB.
 */
#define CONN_MEMORY_LIMIT (16u * 1024u)
#define METRICS_MAX       (4u * 1024u * 1024u)
#define TLS_FILE_MAX      (1024u * 1024u)
/* After the grace period, how long cancelled replies get to go out. */
#define FLUSH_MS   2000u
#define PATH_OTHER "other"

static const double duration_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,    2.5,   5,    10,  30};
#define NBUCKETS (sizeof(duration_buckets) / sizeof(duration_buckets[0]))

/* Methods that may appear as a metrics label; anything else is "other". */
static const char *const known_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
};

static const char *const builtin_paths[] = {"/healthz", "/configz", "/metrics"};

struct route {
    const char *method; /* borrowed literals */
    const char *path;
    http_handler_fn *fn;
    void *arg;
};

struct counter {
    const char *path; /* borrowed: a route literal or a static string */
    const char *method;
    unsigned status;
    uint64_t n;
};

struct histogram {
    const char *path;
    uint64_t buckets[NBUCKETS];
    uint64_t count;
    double sum;
};

struct http_request {
    struct http_server *srv;
    struct MHD_Connection *conn;
    char *method; /* owned copies */
    char *path;
    char *trace_id;
    struct mpic_buf body;
    uint64_t start_ms;

    http_cancel_fn *cancel;
    void *cancel_arg;
    struct ev_timer *deadline;

    bool in_access;    /* inside our MHD access handler for this conn */
    bool handled;      /* the route handler (or a built-in) was called */
    bool answered;     /* a reply exists (queued or stored) */
    bool suspended;    /* MHD_suspend_connection is in effect */
    bool queue_failed; /* MHD_queue_response refused: close */
    struct MHD_Response *resp; /* stored reply of a suspended request */
    unsigned resp_status;

    struct http_request *prev; /* in srv->suspended while suspended */
    struct http_request *next;
};

struct http_server {
    struct ev_loop *loop;
    struct MHD_Daemon *d;
    char *name;
    size_t max_body;
    uint64_t deadline_ms;
    uint64_t grace_ms;
    http_configz_fn *configz;
    void *configz_arg;
    http_metrics_fn *metrics;
    void *metrics_arg;
    const char *curl_version; /* borrowed; NULL: not linked */

    int epoll_fd;
    struct ev_timer *mhd_timer;
    uint64_t mhd_timer_due;
    bool need_run; /* something resumed: MHD_run before the next poll */
    bool hook_added;

    struct route *routes;
    size_t nroutes;

    size_t inflight; /* received, not answered */
    size_t live;     /* request objects not yet completed by MHD */
    struct http_request *suspended;

    bool stopping;
    bool finished;
    struct ev_timer *grace_timer;
    struct ev_timer *flush_timer;

    struct counter *counters;
    size_t ncounters;
    struct histogram *hists;
    size_t nhists;

    char *tls_cert; /* PEM, owned; MHD keeps pointers into these */
    char *tls_key;
    char *tls_trust;
    bool require_client_cert;
};

static void server_check_stopped(struct http_server *srv);

/* ---- small helpers ---- */

static const char *method_label(const char *m)
{
    size_t i;

    for (i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
        if (strcmp(m, known_methods[i]) == 0)
            return known_methods[i];
    }
    return PATH_OTHER;
}

/* The metrics label of a path: a registered or built-in path, else
 * "other", so that clients cannot create unbounded label sets. */
static const char *path_label(const struct http_server *srv, const char *p)
{
    size_t i;

    for (i = 0; i < srv->nroutes; i++) {
        if (strcmp(p, srv->routes[i].path) == 0)
            return srv->routes[i].path;
    }
    for (i = 0; i < sizeof(builtin_paths) / sizeof(builtin_paths[0]); i++) {
        if (strcmp(p, builtin_paths[i]) == 0)
            return builtin_paths[i];
    }
    return PATH_OTHER;
}

static void metrics_record(struct http_server *srv,
                           const struct http_request *req, unsigned status,
                           uint64_t dur_ms)
{
    const char *path = path_label(srv, req->path);
    const char *method = method_label(req->method);
    struct histogram *h = NULL;
    double secs = (double)dur_ms / 1000.0;
    size_t i;

    for (i = 0; i < srv->ncounters; i++) {
        struct counter *c = &srv->counters[i];

        if (c->path == path && c->method == method && c->status == status) {
            c->n++;
            break;
        }
    }
    if (i == srv->ncounters) {
        srv->counters = xreallocarray(srv->counters, srv->ncounters + 1,
                                      sizeof(*srv->counters));
        srv->counters[i].path = path;
        srv->counters[i].method = method;
        srv->counters[i].status = status;
        srv->counters[i].n = 1;
        srv->ncounters++;
    }
    for (i = 0; i < srv->nhists; i++) {
        if (srv->hists[i].path == path) {
            h = &srv->hists[i];
            break;
        }
    }
    if (h == NULL) {
        srv->hists =
            xreallocarray(srv->hists, srv->nhists + 1, sizeof(*srv->hists));
        h = &srv->hists[srv->nhists++];
        memset(h, 0, sizeof(*h));
        h->path = path;
    }
    for (i = 0; i < NBUCKETS; i++) {
        if (secs <= duration_buckets[i])
            h->buckets[i]++;
    }
    h->count++;
    h->sum += secs;
}

/* Prometheus label value escaping: backslash, double quote, newline. */
static void prom_label(struct mpic_buf *b, const char *v)
{
    for (; *v != '\0'; v++) {
        if (*v == '\\')
            mpic_buf_append_str(b, "\\\\");
        else if (*v == '"')
            mpic_buf_append_str(b, "\\\"");
        else if (*v == '\n')
            mpic_buf_append_str(b, "\\n");
        else
            mpic_buf_append(b, v, 1);
    }
}

static void metrics_render(const struct http_server *srv, struct mpic_buf *b)
{
    size_t i, j;

    mpic_buf_append_str(b, "# HELP mpic_http_requests_total HTTP requests "
                           "answered, by path, method and status.\n"
                           "# TYPE mpic_http_requests_total counter\n");
    for (i = 0; i < srv->ncounters; i++) {
        const struct counter *c = &srv->counters[i];

        mpic_buf_append_str(b, "mpic_http_requests_total{path=\"");
        prom_label(b, c->path);
        mpic_buf_printf(b, "\",method=\"%s\",status=\"%u\"} %" PRIu64 "\n",
                        c->method, c->status, c->n);
    }
    mpic_buf_append_str(b, "# HELP mpic_http_request_duration_seconds Time "
                           "from request to reply, by path.\n"
                           "# TYPE mpic_http_request_duration_seconds "
                           "histogram\n");
    for (i = 0; i < srv->nhists; i++) {
        const struct histogram *h = &srv->hists[i];

        for (j = 0; j < NBUCKETS; j++) {
            mpic_buf_append_str(
                b, "mpic_http_request_duration_seconds_bucket{path=\"");
            prom_label(b, h->path);
            mpic_buf_printf(b, "\",le=\"%g\"} %" PRIu64 "\n",
                            duration_buckets[j], h->buckets[j]);
        }
        mpic_buf_append_str(
            b, "mpic_http_request_duration_seconds_bucket{path=\"");
        prom_label(b, h->path);
        mpic_buf_printf(b, "\",le=\"+Inf\"} %" PRIu64 "\n", h->count);
        mpic_buf_append_str(b,
                            "mpic_http_request_duration_seconds_sum{path=\"");
        prom_label(b, h->path);
        mpic_buf_printf(b, "\"} %.6f\n", h->sum);
        mpic_buf_append_str(b,
                            "mpic_http_request_duration_seconds_count{path=\"");
        prom_label(b, h->path);
        mpic_buf_printf(b, "\"} %" PRIu64 "\n", h->count);
    }
    mpic_buf_printf(b,
                    "# HELP mpic_http_requests_in_flight Requests received "
                    "and not yet answered.\n"
                    "# TYPE mpic_http_requests_in_flight gauge\n"
                    "mpic_http_requests_in_flight %zu\n",
                    srv->inflight);
}

/* ---- listen address ---- */

static int parse_port(const char *s, uint16_t *out)
{
    unsigned long v;
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || v > 65535)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

/*
 * "HOST:PORT" with a numeric IPv4 host ("", "*" and "localhost" are
 * accepted as the usual shorthands), or "[IPv6]:PORT".
 */
static int parse_listen(const char *listen, struct sockaddr_storage *ss,
                        bool *v6)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon;
    uint16_t port;
    size_t hlen;

    memset(ss, 0, sizeof(*ss));
    if (listen == NULL)
        return -1;
    if (listen[0] == '[') {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        const char *rb = strchr(listen, ']');

        if (rb == NULL || rb[1] != ':')
            return -1;
        hlen = (size_t)(rb - listen - 1);
        if (hlen == 0 || hlen >= sizeof(host))
            return -1;
        memcpy(host, listen + 1, hlen);
        host[hlen] = '\0';
        if (parse_port(rb + 2, &port) < 0)
            return -1;
        if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
            return -1;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        *v6 = true;
        return 0;
    }
    colon = strrchr(listen, ':');
    if (colon == NULL)
        return -1;
    hlen = (size_t)(colon - listen);
    if (hlen >= sizeof(host) || memchr(listen, ':', hlen) != NULL)
        return -1; /* a bare IPv6 address needs brackets */
    memcpy(host, listen, hlen);
    host[hlen] = '\0';
    if (parse_port(colon + 1, &port) < 0)
        return -1;
    {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;

        if (hlen == 0 || strcmp(host, "*") == 0)
            snprintf(host, sizeof(host), "0.0.0.0");
        else if (strcasecmp(host, "localhost") == 0)
            snprintf(host, sizeof(host), "127.0.0.1");
        if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
            return -1;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
    }
    *v6 = false;
    return 0;
}

/* ---- requests ---- */

static struct http_request *req_new(struct http_server *srv,
                                    struct MHD_Connection *conn,
                                    const char *url, const char *method)
{
    struct http_request *req = xcalloc(1, sizeof(*req));

    req->srv = srv;
    req->conn = conn;
    req->method = xstrdup(method);
    req->path = xstrdup(url);
    req->start_ms = ev_now_ms();
    mpic_buf_init(&req->body, srv->max_body);
    srv->inflight++;
    srv->live++;
    return req;
}

static void suspended_unlink(struct http_server *srv, struct http_request *r)
{
    if (r->prev != NULL)
        r->prev->next = r->next;
    else
        srv->suspended = r->next;
    if (r->next != NULL)
        r->next->prev = r->prev;
    r->prev = NULL;
    r->next = NULL;
}

static void req_free(struct http_request *req)
{
    struct http_server *srv = req->srv;

    /* MHD never completes a suspended connection (and we never stop the
     * daemon with one), so a request here is no longer referenced. */
    MPIC_ASSERT(!req->suspended);
    ev_timer_stop(srv->loop, req->deadline);
    if (req->resp != NULL)
        MHD_destroy_response(req->resp);
    if (!req->answered)
        srv->inflight--;
    srv->live--;
    mpic_buf_cleanup(&req->body);
    free(req->method);
    free(req->path);
    free(req->trace_id);
    free(req);
}

const char *http_request_method(const struct http_request *req)
{
    return req->method;
}

const char *http_request_path(const struct http_request *req)
{
    return req->path;
}

const char *http_request_body(const struct http_request *req, size_t *len)
{
    if (len != NULL)
        *len = req->body.len;
    return req->body.data != NULL ? req->body.data : "";
}

const char *http_request_header(const struct http_request *req,
                                const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

uint64_t http_request_start_ms(const struct http_request *req)
{
    return req->start_ms;
}

void http_request_set_cancel(struct http_request *req, http_cancel_fn *fn,
                             void *arg)
{
    req->cancel = fn;
    req->cancel_arg = arg;
}

void http_request_set_trace_id(struct http_request *req, const char *tid)
{
    free(req->trace_id);
    req->trace_id = tid != NULL ? xstrdup(tid) : NULL;
}

/* Compares without an early exit on the content; the length of a presented
 * token is not secret. */
static bool token_equal(const char *given, size_t glen, const char *key)
{
    size_t klen = strlen(key);
    size_t n = glen < klen ? glen : klen;
    int diff = CRYPTO_memcmp(given, key, n);

    return (glen == klen) & (diff == 0) & (klen > 0);
}

bool http_request_authorized(const struct http_request *req,
                             const struct mpic_strv *keys,
                             bool allow_api_key_header)
{
    const char *auth, *apikey, *bearer = NULL;
    size_t blen = 0, alen = 0, i;
    bool ok = false;

    if (keys == NULL || keys->n == 0)
        return true;
    auth = http_request_header(req, "Authorization");
    if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
        bearer = auth + 7;
        while (*bearer == ' ')
            bearer++;
        blen = strlen(bearer);
    }
    apikey =
        allow_api_key_header ? http_request_header(req, "x-api-key") : NULL;
    if (apikey != NULL)
        alen = strlen(apikey);
    /* Every key is compared, whether or not an earlier one matched. */
    for (i = 0; i < keys->n; i++) {
        if (bearer != NULL && blen > 0)
            ok |= token_equal(bearer, blen, keys->v[i]);
        if (apikey != NULL && alen > 0)
            ok |= token_equal(apikey, alen, keys->v[i]);
    }
    return ok;
}

/* ---- replies ---- */

static void reply_response(struct http_request *req, unsigned status,
                           struct MHD_Response *resp)
{
    struct http_server *srv = req->srv;
    uint64_t dur = ev_now_ms() - req->start_ms;

    req->answered = true;
    srv->inflight--;
    ev_timer_stop(srv->loop, req->deadline);
    req->deadline = NULL;
    req->cancel = NULL;
    metrics_record(srv, req, status, dur);
    logt_debug(req->trace_id, "%s: %s %.256s %u %" PRIu64 " ms", srv->name,
               req->method, req->path, status, dur);
    if (srv->stopping)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");

    if (req->in_access) {
        /* Synchronous: we are inside the access handler. */
        if (MHD_queue_response(req->conn, status, resp) != MHD_YES)
            req->queue_failed = true;
        MHD_destroy_response(resp);
        return;
    }
    /* Asynchronous: the connection is suspended. Keep the reply, resume,
     * and let the access handler queue it on the next MHD_run. */
    MPIC_ASSERT(req->suspended);
    req->resp = resp;
    req->resp_status = status;
    req->suspended = false;
    suspended_unlink(srv, req);
    MHD_resume_connection(req->conn);
    srv->need_run = true;
}

void http_request_reply(struct http_request *req, unsigned status,
                        const char *content_type, char *body, size_t len)
{
    struct MHD_Response *resp;

    if (req->answered) {
        log_error("%s: second reply to %s %.256s dropped", __func__,
                  req->method, req->path);
        free(body);
        return;
    }
    if (body == NULL)
        len = 0;
    resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        /* Still ours on failure. */
        free(body);
        resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            fatalx("%s: MHD_create_response_from_buffer failed", __func__);
        status = 500;
    } else if (content_type != NULL) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                content_type);
    }
    reply_response(req, status, resp);
}

void http_request_reply_json(struct http_request *req, unsigned status,
                             json_t *body)
{
    char *s = NULL;
    size_t len = 0;

    if (body != NULL)
        s = mpic_json_dumps(body, JSON_COMPACT, &len);
    json_decref(body);
    if (s == NULL) {
        s = xstrdup("{\"error\":\"internal-error\","
                    "\"message\":\"cannot encode the reply\"}");
        len = strlen(s);
        status = 500;
    }
    http_request_reply(req, status, "application/json", s, len);
}

void http_request_reply_error(struct http_request *req, unsigned status,
                              const char *code, const char *msg)
{
    json_t *o = json_object();

    if (o == NULL || json_object_set_new(o, "error", json_string(code)) != 0 ||
        json_object_set_new(o, "message", json_string(msg ? msg : "")) != 0) {
        json_decref(o);
        o = NULL;
    }
    http_request_reply_json(req, status, o);
}

void http_request_reply_issues(struct http_request *req,
                               const struct mpic_errlist *errs)
{
    json_t *o = json_object();
    json_t *list = json_array();

    if (o == NULL || list == NULL)
        fatalx("%s: out of memory", __func__);
    for (size_t i = 0; i < errs->n; i++) {
        json_t *it = json_object();

        if (it == NULL ||
            json_object_set_new(it, "issue_type",
                                json_string(errs->items[i].type)) != 0 ||
            json_object_set_new(it, "message",
                                json_string(errs->items[i].message)) != 0 ||
            json_array_append_new(list, it) != 0)
            fatalx("%s: out of memory", __func__);
    }
    if (json_object_set_new(o, "error",
                            json_string("request-validation-failed")) != 0 ||
        json_object_set_new(o, "validation_issues", list) != 0)
        fatalx("%s: out of memory", __func__);
    http_request_reply_json(req, 400, o);
}

/*
 * Tears down an unanswered request: the owner drops it (cancel callback),
 * then we answer for it.
 */
static void req_abort(struct http_request *req, unsigned status,
                      const char *code, const char *msg)
{
    http_cancel_fn *cancel = req->cancel;
    void *arg = req->cancel_arg;

    req->cancel = NULL;
    if (cancel != NULL)
        cancel(req, arg);
    if (!req->answered)
        http_request_reply_error(req, status, code, msg);
}

static void on_deadline(struct ev_loop *loop, void *arg)
{
    struct http_request *req = arg;

    (void)loop;
    req->deadline = NULL;
    logt_warn(req->trace_id, "%s: %s %.256s: deadline passed", req->srv->name,
              req->method, req->path);
    req_abort(req, 504, "deadline-exceeded",
              "the request was not answered in time");
}

static void cancel_suspended(struct http_server *srv)
{
    while (srv->suspended != NULL)
        req_abort(srv->suspended, 503, "shutting-down",
                  "the server is shutting down");
}

/* ---- built-in routes ---- */

static void serve_healthz(struct http_request *req)
{
    http_request_reply_json(req, 200, json_pack("{s:s}", "status", "healthy"));
}

static json_t *library_versions(const struct http_server *srv)
{
    json_t *o = json_pack("{s:s}", "microhttpd", MHD_get_version());

    /* Only the daemons that make HTTP requests link libcurl. */
    if (o != NULL && srv->curl_version != NULL &&
        json_object_set_new(o, "curl", json_string(srv->curl_version)) != 0)
        goto fail;
    if (o == NULL ||
        json_object_set_new(o, "c-ares", json_string(ares_version(NULL))) !=
            0 ||
        json_object_set_new(o, "ldns", json_string(ldns_version())) != 0 ||
        json_object_set_new(o, "jansson", json_string(jansson_version_str())) !=
            0 ||
        json_object_set_new(o, "openssl",
                            json_string(OpenSSL_version(OPENSSL_VERSION))) != 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

static void serve_configz(struct http_request *req)
{
    struct http_server *srv = req->srv;
    json_t *o = NULL;

    if (srv->configz != NULL)
        o = srv->configz(srv->configz_arg);
    if (o == NULL)
        o = json_object();
    if (o == NULL || !json_is_object(o) ||
        json_object_set_new(o, "version", json_string(MPIC_VERSION)) != 0 ||
        json_object_set_new(o, "libraries", library_versions(srv)) != 0) {
        json_decref(o);
        http_request_reply_error(req, 500, "internal-error",
                                 "cannot build the configuration view");
        return;
    }
    http_request_reply_json(req, 200, o);
}

static void serve_metrics(struct http_request *req)
{
    struct http_server *srv = req->srv;
    struct mpic_buf b;
    char *s;
    size_t len;

    mpic_buf_init(&b, METRICS_MAX);
    metrics_render(srv, &b);
    if (srv->metrics != NULL)
        srv->metrics(&b, srv->metrics_arg);
    if (b.overflowed) {
        mpic_buf_cleanup(&b);
        http_request_reply_error(req, 500, "internal-error",
                                 "metrics too large");
        return;
    }
    s = mpic_buf_take(&b, &len);
    if (s == NULL)
        s = xstrdup("");
    http_request_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", s,
                       len);
}

static void reply_405(struct http_request *req, const char *allow)
{
    json_t *o;
    char *s;
    struct MHD_Response *resp;

    o = json_pack("{s:s, s:s}", "error", "method-not-allowed", "message",
                  "method not allowed for this path");
    s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (s == NULL)
        s = xstrdup("{\"error\":\"method-not-allowed\"}");
    resp = MHD_create_response_from_buffer(strlen(s), s, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(s);
        http_request_reply_error(req, 500, "internal-error", "no memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    reply_response(req, 405, resp);
}

/* Exact-path routing: a registered route wins over a built-in. */
static void dispatch(struct http_request *req)
{
    struct http_server *srv = req->srv;
    struct mpic_buf allow;
    bool path_known = false;
    size_t i;

    req->handled = true;
    for (i = 0; i < srv->nroutes; i++) {
        const struct route *r = &srv->routes[i];

        if (strcmp(r->path, req->path) != 0)
            continue;
        path_known = true;
        if (strcmp(r->method, req->method) == 0) {
            r->fn(req, r->arg);
            return;
        }
    }
    if (path_known) {
        mpic_buf_init(&allow, 1024);
        for (i = 0; i < srv->nroutes; i++) {
            if (strcmp(srv->routes[i].path, req->path) != 0)
                continue;
            if (allow.len > 0)
                mpic_buf_append_str(&allow, ", ");
            mpic_buf_append_str(&allow, srv->routes[i].method);
        }
        reply_405(req, allow.data != NULL ? allow.data : "");
        mpic_buf_cleanup(&allow);
        return;
    }
    for (i = 0; i < sizeof(builtin_paths) / sizeof(builtin_paths[0]); i++) {
        if (strcmp(req->path, builtin_paths[i]) != 0)
            continue;
        if (strcmp(req->method, "GET") != 0) {
            reply_405(req, "GET");
            return;
        }
        if (i == 0)
            serve_healthz(req);
        else if (i == 1)
            serve_configz(req);
        else
            serve_metrics(req);
        return;
    }
    http_request_reply_error(req, 404, "not-found", "no such path");
}

/* ---- TLS client certificates ---- */

static bool client_cert_verified(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t session;
    unsigned status = 0;

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return false;
    session = (gnutls_session_t)ci->tls_session;
    if (gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
        return false;
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS)
        return false;
    return status == 0;
}

/* ---- MHD callbacks ---- */

static bool content_length_too_big(struct http_request *req)
{
    const char *cl = http_request_header(req, "Content-Length");
    unsigned long long v;
    char *end;

    if (cl == NULL || *cl < '0' || *cl > '9')
        return false;
    errno = 0;
    v = strtoull(cl, &end, 10);
    if (errno == ERANGE)
        return true;
    return v > req->srv->max_body;
}

static void reply_413(struct http_request *req)
{
    char *msg =
        xasprintf("the request body exceeds %zu bytes", req->srv->max_body);

    http_request_reply_error(req, 413, "payload-too-large", msg);
    free(msg);
}

static void suspend(struct http_request *req)
{
    struct http_server *srv = req->srv;
    uint64_t now = ev_now_ms();
    uint64_t due = req->start_ms + srv->deadline_ms;

    MHD_suspend_connection(req->conn);
    req->suspended = true;
    req->next = srv->suspended;
    if (srv->suspended != NULL)
        srv->suspended->prev = req;
    srv->suspended = req;
    /* A suspended connection never times out by itself (microhttpd.h). */
    req->deadline =
        ev_timer_start(srv->loop, due > now ? due - now : 0, on_deadline, req);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct http_server *srv = cls;
    struct http_request *req = *req_cls;
    enum MHD_Result ret = MHD_YES;

    (void)version;
    if (req == NULL) {
        /* Headers are in; state lives until on_completed. */
        req = req_new(srv, conn, url, method);
        *req_cls = req;
        req->in_access = true;
        /* GET /healthz reveals nothing and is what container and
         * Kubernetes probes call without a certificate; everything else
         * needs one when client_ca_file is set. */
        if (srv->require_client_cert &&
            !(strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0) &&
            !client_cert_verified(conn))
            http_request_reply_error(req, 403, "forbidden",
                                     "a verified client certificate is "
                                     "required");
        else if (content_length_too_big(req))
            reply_413(req);
        goto out;
    }
    req->in_access = true;
    if (req->answered) {
        /* Resumed with a stored reply, or replied early (413/403) while a
         * body was still coming: drop the rest of the body. */
        *upload_data_size = 0;
        if (req->resp != NULL) {
            if (MHD_queue_response(conn, req->resp_status, req->resp) !=
                MHD_YES)
                req->queue_failed = true;
            MHD_destroy_response(req->resp);
            req->resp = NULL;
        }
        goto out;
    }
    if (*upload_data_size > 0) {
        /* MHD 0.9.75 takes a response only before the body or after all
         * of it: past the cap we keep nothing and answer 413 at the end.
         * The connection timeout bounds a client that never stops. */
        if (!req->body.overflowed)
            mpic_buf_append(&req->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        goto out;
    }
    if (req->body.overflowed) {
        reply_413(req);
        goto out;
    }
    if (!req->handled) {
        dispatch(req);
        if (!req->answered)
            suspend(req);
    }
out:
    req->in_access = false;
    if (req->queue_failed)
        ret = MHD_NO;
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct http_server *srv = cls;
    struct http_request *req = *req_cls;

    (void)conn;
    if (req == NULL)
        return;
    *req_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        logt_debug(req->trace_id, "%s: %s %.256s: terminated (%d)", srv->name,
                   req->method, req->path, (int)toe);
    req_free(req);
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct http_server *srv = cls;
    char msg[512];
    size_t n;

    if (!MPIC_LOG_ON(MPIC_LOG_DEBUG))
        return;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_debug("%s: microhttpd: %s", srv->name, msg);
}

/* ---- loop integration ---- */

static void mhd_run(struct http_server *srv)
{
    if (srv->d != NULL)
        MHD_run(srv->d);
}

static void on_mhd_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    (void)loop;
    (void)fd;
    (void)events;
    mhd_run(arg);
}

static void on_mhd_timer(struct ev_loop *loop, void *arg)
{
    struct http_server *srv = arg;

    (void)loop;
    srv->mhd_timer = NULL;
    mhd_run(srv);
}

static void arm_mhd_timer(struct http_server *srv)
{
    MHD_UNSIGNED_LONG_LONG ms = 0;
    uint64_t due;

    if (MHD_get_timeout(srv->d, &ms) != MHD_YES) {
        ev_timer_stop(srv->loop, srv->mhd_timer);
        srv->mhd_timer = NULL;
        return;
    }
    due = ev_now_ms() + (uint64_t)ms;
    /* A timer already due no later is kept: firing early only costs one
     * MHD_run that re-arms it, while replacing it before every poll (the
     * idle timeouts move with each request) costs an allocation and heap
     * work per iteration. */
    if (srv->mhd_timer != NULL && srv->mhd_timer_due <= due)
        return;
    ev_timer_stop(srv->loop, srv->mhd_timer);
    srv->mhd_timer = ev_timer_start(srv->loop, ms, on_mhd_timer, srv);
    srv->mhd_timer_due = due;
}

static void on_before_poll(struct ev_loop *loop, void *arg)
{
    struct http_server *srv = arg;

    (void)loop;
    if (srv->d == NULL)
        return;
    /* After MHD_resume_connection in external mode, MHD_run must run
     * before we poll again (microhttpd.h). */
    while (srv->need_run) {
        srv->need_run = false;
        MHD_run(srv->d);
    }
    arm_mhd_timer(srv);
    if (srv->stopping)
        server_check_stopped(srv);
}

/* ---- TLS files ---- */

static char *read_pem(const char *path, char **errmsg)
{
    struct mpic_buf b;
    char chunk[4096];
    FILE *f;
    size_t n;
    char *out = NULL;

    f = fopen(path, "re");
    if (f == NULL) {
        *errmsg = xasprintf("%s: %s", path, strerror(errno));
        return NULL;
    }
    mpic_buf_init(&b, TLS_FILE_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (mpic_buf_append(&b, chunk, n) < 0) {
            *errmsg = xasprintf("%s: file too large", path);
            goto out;
        }
    }
    if (ferror(f)) {
        *errmsg = xasprintf("%s: read error", path);
        goto out;
    }
    if (b.len == 0) {
        *errmsg = xasprintf("%s: empty file", path);
        goto out;
    }
    out = mpic_buf_take(&b, NULL);
out:
    mpic_buf_cleanup(&b);
    fclose(f);
    return out;
}

static int load_tls(struct http_server *srv,
                    const struct http_server_config *cfg, char **errmsg)
{
    if (cfg->tls_cert_file == NULL && cfg->tls_key_file == NULL &&
        cfg->tls_client_ca_file == NULL)
        return 0;
    if (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL) {
        *errmsg = xstrdup("tls: cert_file and key_file must both be set");
        return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        *errmsg = xstrdup("tls: libmicrohttpd was built without TLS");
        return -1;
    }
    srv->tls_cert = read_pem(cfg->tls_cert_file, errmsg);
    if (srv->tls_cert == NULL)
        return -1;
    srv->tls_key = read_pem(cfg->tls_key_file, errmsg);
    if (srv->tls_key == NULL)
        return -1;
    if (cfg->tls_client_ca_file != NULL) {
        srv->tls_trust = read_pem(cfg->tls_client_ca_file, errmsg);
        if (srv->tls_trust == NULL)
            return -1;
        srv->require_client_cert = true;
    }
    return 0;
}

/* ---- server ---- */

struct http_server *http_server_new(struct ev_loop *loop,
                                    const struct http_server_config *cfg,
                                    char **errmsg)
{
    struct http_server *srv = NULL;
    struct sockaddr_storage ss;
    struct MHD_OptionItem tls_opts[4];
    const union MHD_DaemonInfo *di;
    unsigned flags;
    bool v6 = false;
    size_t ntls = 0;

    *errmsg = NULL;
    if (parse_listen(cfg->listen, &ss, &v6) < 0) {
        *errmsg = xasprintf("invalid listen address \"%s\" (want HOST:PORT "
                            "or [IPv6]:PORT)",
                            cfg->listen != NULL ? cfg->listen : "");
        return NULL;
    }
    /* Writes to a closed peer must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);

    srv = xcalloc(1, sizeof(*srv));
    srv->loop = loop;
    srv->name = xstrdup(cfg->name != NULL ? cfg->name : "http");
    srv->max_body = cfg->max_body;
    srv->deadline_ms = cfg->deadline_ms;
    srv->grace_ms = cfg->deadline_ms;
    srv->configz = cfg->configz;
    srv->configz_arg = cfg->configz_arg;
    srv->metrics = cfg->metrics;
    srv->curl_version = cfg->curl_version;
    srv->metrics_arg = cfg->metrics_arg;
    srv->epoll_fd = -1;
    if (load_tls(srv, cfg, errmsg) < 0)
        goto fail;

    flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (v6)
        flags |= MHD_USE_IPv6;
    if (srv->tls_cert != NULL) {
        flags |= MHD_USE_TLS;
        tls_opts[ntls++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0,
                                                   srv->tls_cert};
        tls_opts[ntls++] =
            (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, srv->tls_key};
        if (srv->tls_trust != NULL)
            tls_opts[ntls++] = (struct MHD_OptionItem){
                MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->tls_trust};
    }
    tls_opts[ntls] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};

    srv->d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, srv, MHD_OPTION_EXTERNAL_LOGGER,
        on_mhd_log, srv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
        MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)(cfg->conn_limit ? cfg->conn_limit : DEFAULT_CONN_LIMIT),
        MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)(cfg->conn_timeout_s ? cfg->conn_timeout_s
                                       : DEFAULT_CONN_TIMEOUT),
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONN_MEMORY_LIMIT,
        MHD_OPTION_ARRAY, tls_opts, MHD_OPTION_END);
    if (srv->d == NULL) {
        *errmsg = xasprintf("cannot start the HTTP server on %s (address in "
                            "use, or bad TLS material?)",
                            cfg->listen);
        goto fail;
    }
    di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_EPOLL_FD);
    if (di == NULL) {
        *errmsg = xstrdup("libmicrohttpd has no epoll fd");
        goto fail;
    }
    srv->epoll_fd = di->epoll_fd;
    if (ev_io_watch(loop, srv->epoll_fd, EV_READ, on_mhd_io, srv) < 0) {
        *errmsg =
            xasprintf("cannot watch the HTTP server: %s", strerror(errno));
        goto fail;
    }
    ev_before_poll(loop, on_before_poll, srv);
    srv->hook_added = true;
    log_info("%s: listening on %s (port %u%s)", srv->name, cfg->listen,
             http_server_port(srv), srv->tls_cert != NULL ? ", TLS" : "");
    return srv;

fail:
    http_server_free(srv);
    return NULL;
}

void http_server_route(struct http_server *srv, const char *method,
                       const char *path, http_handler_fn *fn, void *arg)
{
    srv->routes =
        xreallocarray(srv->routes, srv->nroutes + 1, sizeof(*srv->routes));
    srv->routes[srv->nroutes].method = method;
    srv->routes[srv->nroutes].path = path;
    srv->routes[srv->nroutes].fn = fn;
    srv->routes[srv->nroutes].arg = arg;
    srv->nroutes++;
}

unsigned http_server_port(const struct http_server *srv)
{
    const union MHD_DaemonInfo *di;

    if (srv->d == NULL)
        return 0;
    di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    return di != NULL ? di->port : 0;
}

size_t http_server_inflight(const struct http_server *srv)
{
    return srv->inflight;
}

size_t http_server_connections(const struct http_server *srv)
{
    const union MHD_DaemonInfo *di;

    if (srv->d == NULL)
        return 0;
    di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di != NULL ? di->num_connections : 0;
}

/* Ends the graceful stop: the loop returns to http_server_run. */
static void server_finish(struct http_server *srv)
{
    if (srv->finished)
        return;
    srv->finished = true;
    ev_timer_stop(srv->loop, srv->grace_timer);
    srv->grace_timer = NULL;
    ev_timer_stop(srv->loop, srv->flush_timer);
    srv->flush_timer = NULL;
    ev_loop_stop(srv->loop);
}

static void server_check_stopped(struct http_server *srv)
{
    if (srv->live == 0)
        server_finish(srv);
}

static void on_flush_timeout(struct ev_loop *loop, void *arg)
{
    struct http_server *srv = arg;

    (void)loop;
    srv->flush_timer = NULL;
    log_warn("%s: %zu connection(s) still busy; closing them", srv->name,
             srv->live);
    server_finish(srv);
}

static void on_grace_timeout(struct ev_loop *loop, void *arg)
{
    struct http_server *srv = arg;

    (void)loop;
    srv->grace_timer = NULL;
    if (srv->inflight > 0)
        log_warn("%s: grace period over; cancelling %zu request(s)", srv->name,
                 srv->inflight);
    cancel_suspended(srv);
    srv->flush_timer = ev_timer_start(loop, FLUSH_MS, on_flush_timeout, srv);
}

void http_server_shutdown(struct http_server *srv)
{
    MHD_socket lfd;

    if (srv->stopping || srv->d == NULL)
        return;
    srv->stopping = true;
    log_info("%s: shutting down (%zu request(s) in flight)", srv->name,
             srv->inflight);
    /* Stop accepting; with external polling the old listen socket is ours
     * to close right away. */
    lfd = MHD_quiesce_daemon(srv->d);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
    srv->grace_timer =
        ev_timer_start(srv->loop, srv->grace_ms, on_grace_timeout, srv);
}

static void on_signal(struct ev_loop *loop, int signo, void *arg)
{
    struct http_server *srv = arg;

    (void)loop;
    log_info("%s: received signal %d", srv->name, signo);
    http_server_shutdown(srv);
}

/*
 * Stops the daemon for good. Nothing may stay suspended across
 * MHD_stop_daemon (an API violation in microhttpd.h): cancel what is left,
 * and let MHD_run process the resumes first.
 */
static void server_stop_daemon(struct http_server *srv)
{
    if (srv->d == NULL)
        return;
    srv->stopping = true;
    cancel_suspended(srv);
    while (srv->need_run) {
        srv->need_run = false;
        MHD_run(srv->d);
    }
    MPIC_ASSERT(srv->suspended == NULL);
    ev_io_watch(srv->loop, srv->epoll_fd, 0, NULL, NULL);
    ev_timer_stop(srv->loop, srv->mhd_timer);
    srv->mhd_timer = NULL;
    ev_timer_stop(srv->loop, srv->grace_timer);
    srv->grace_timer = NULL;
    ev_timer_stop(srv->loop, srv->flush_timer);
    srv->flush_timer = NULL;
    /* Completes (and frees) every remaining request. */
    MHD_stop_daemon(srv->d);
    srv->d = NULL;
    srv->epoll_fd = -1;
}

int http_server_run(struct http_server *srv, uint64_t grace_ms)
{
    int rc;

    srv->grace_ms = grace_ms;
    if (ev_signal_watch(srv->loop, SIGTERM, on_signal, srv) < 0 ||
        ev_signal_watch(srv->loop, SIGINT, on_signal, srv) < 0) {
        log_error_errno("%s: signal setup", srv->name);
        return -1;
    }
    rc = ev_loop_run(srv->loop);
    server_stop_daemon(srv);
    if (rc < 0)
        return -1;
    log_info("%s: stopped", srv->name);
    return 0;
}

void http_server_free(struct http_server *srv)
{
    if (srv == NULL)
        return;
    server_stop_daemon(srv);
    if (srv->hook_added)
        ev_before_poll_remove(srv->loop, on_before_poll, srv);
    free(srv->routes);
    free(srv->counters);
    free(srv->hists);
    free(srv->tls_cert);
    free(srv->tls_key);
    free(srv->tls_trust);
    free(srv->name);
    free(srv);
}
