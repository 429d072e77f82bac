/*
 * One HTTP request from headers to completion: its state (created on the
 * first access handler call, freed only when libmicrohttpd completes it),
 * the accessors and bearer/API-key check handlers use, the replies
 * (queued at once inside the access handler, or stored and the connection
 * resumed when the reply comes later), and suspension with a deadline
 * timer, after which the handler is cancelled and we answer 504 (503 at
 * shutdown).
 */
#include "common/http_server_int.h"

#include <inttypes.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ev.h"
#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/model.h"

/* ---- requests ---- */

struct mpic_http_request *http_req_new(struct mpic_http_server *srv,
                                       struct MHD_Connection *conn,
                                       const char *url, const char *method)
{
    struct mpic_http_request *req = xcalloc(1, sizeof(*req));

    req->srv = srv;
    req->conn = conn;
    req->method = xstrdup(method);
    req->path = xstrdup(url);
    req->route_label = PATH_OTHER;
    req->start_ms = ev_now_ms();
    mpic_buf_init(&req->body, srv->max_body);
    srv->inflight++;
    srv->live++;
    return req;
}

void http_req_free(struct mpic_http_request *req)
{
    struct mpic_http_server *srv = req->srv;

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
    free(req->w3c_trace_id);
    free(req);
}

const char *mpic_http_request_method(const struct mpic_http_request *req)
{
    return req->method;
}

const char *mpic_http_request_path(const struct mpic_http_request *req)
{
    return req->path;
}

const char *mpic_http_request_body(const struct mpic_http_request *req,
                                   size_t *len)
{
    if (len != NULL)
        *len = req->body.len;
    return req->body.data != NULL ? req->body.data : "";
}

const char *mpic_http_request_header(const struct mpic_http_request *req,
                                     const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

uint64_t mpic_http_request_start_ms(const struct mpic_http_request *req)
{
    return req->start_ms;
}

void mpic_http_request_set_cancel(struct mpic_http_request *req,
                                  mpic_http_cancel_fn *fn, void *arg)
{
    req->cancel = fn;
    req->cancel_arg = arg;
}

void mpic_http_request_set_trace_id(struct mpic_http_request *req,
                                    const char *tid)
{
    free(req->trace_id);
    req->trace_id = tid != NULL ? xstrdup(tid) : NULL;
}

void mpic_http_request_set_w3c_trace_id(struct mpic_http_request *req,
                                        const char *trace_hex)
{
    free(req->w3c_trace_id);
    req->w3c_trace_id = trace_hex != NULL ? xstrdup(trace_hex) : NULL;
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

bool mpic_http_request_authorized(const struct mpic_http_request *req,
                                  const struct mpic_strv *keys,
                                  bool allow_api_key_header)
{
    const char *auth, *apikey, *bearer = NULL;
    size_t blen = 0, alen = 0, i;
    bool ok = false;

    if (keys == NULL || keys->n == 0)
        return true;
    auth = mpic_http_request_header(req, "Authorization");
    if (auth != NULL && strncasecmp(auth, "Bearer ", 7) == 0) {
        bearer = auth + 7;
        while (*bearer == ' ')
            bearer++;
        blen = strlen(bearer);
    }
    apikey = allow_api_key_header ? mpic_http_request_header(req, "x-api-key")
                                  : NULL;
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

void http_reply_response(struct mpic_http_request *req, unsigned status,
                         struct MHD_Response *resp)
{
    struct mpic_http_server *srv = req->srv;
    uint64_t dur = ev_now_ms() - req->start_ms;

    req->answered = true;
    srv->inflight--;
    ev_timer_stop(srv->loop, req->deadline);
    req->deadline = NULL;
    req->cancel = NULL;
    http_metrics_record(srv, req, status, dur);
    logtr_debug(req->trace_id, req->w3c_trace_id,
                "%s: %s %.256s %u %" PRIu64 " ms", srv->name, req->method,
                req->path, status, dur);
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
    TAILQ_REMOVE(&srv->suspended, req, link);
    MHD_resume_connection(req->conn);
    srv->need_run = true;
}

void mpic_http_request_reply(struct mpic_http_request *req, unsigned status,
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
    http_reply_response(req, status, resp);
}

void mpic_http_request_reply_json(struct mpic_http_request *req,
                                  unsigned status, json_t *body)
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
    mpic_http_request_reply(req, status, "application/json", s, len);
}

void mpic_http_request_reply_error(struct mpic_http_request *req,
                                   unsigned status, const char *code,
                                   const char *msg)
{
    json_t *o = mpic_jobj();

    /* msg may quote a request or a peer: repaired, never refused */
    mpic_jset(o, "error", mpic_jstr(code));
    mpic_jset(o, "message", mpic_jstr(msg ? msg : ""));
    mpic_http_request_reply_json(req, status, o);
}

void mpic_http_request_reply_issues(struct mpic_http_request *req,
                                    const struct mpic_errlist *errs)
{
    json_t *o = mpic_jobj();
    json_t *list = mpic_jarr();

    for (size_t i = 0; i < errs->n; i++) {
        json_t *it = mpic_jobj();

        mpic_jset(it, "issue_type", mpic_jstr(errs->items[i].type));
        mpic_jset(it, "message", mpic_jstr(errs->items[i].message));
        mpic_jpush(list, it);
    }
    mpic_jset(o, "error", mpic_jstr("request-validation-failed"));
    mpic_jset(o, "validation_issues", list);
    mpic_http_request_reply_json(req, 400, o);
}

/*
 * Tears down an unanswered request: the owner drops it (cancel callback),
 * then we answer for it.
 */
static void req_abort(struct mpic_http_request *req, unsigned status,
                      const char *code, const char *msg)
{
    mpic_http_cancel_fn *cancel = req->cancel;
    void *arg = req->cancel_arg;

    req->cancel = NULL;
    if (cancel != NULL)
        cancel(req, arg);
    if (!req->answered)
        mpic_http_request_reply_error(req, status, code, msg);
}

static void on_deadline(struct ev_loop *loop, void *arg)
{
    struct mpic_http_request *req = arg;

    (void)loop;
    req->deadline = NULL;
    logtr_warn(req->trace_id, req->w3c_trace_id,
               "%s: %s %.256s: deadline passed", req->srv->name, req->method,
               req->path);
    req_abort(req, 504, "deadline-exceeded",
              "the request was not answered in time");
}

void http_cancel_suspended(struct mpic_http_server *srv)
{
    while (!TAILQ_EMPTY(&srv->suspended))
        req_abort(TAILQ_FIRST(&srv->suspended), 503, "shutting-down",
                  "the server is shutting down");
}

/* ---- suspension ---- */

void http_req_suspend(struct mpic_http_request *req)
{
    struct mpic_http_server *srv = req->srv;
    uint64_t now = ev_now_ms();
    uint64_t due = req->start_ms + srv->deadline_ms;

    MHD_suspend_connection(req->conn);
    req->suspended = true;
    TAILQ_INSERT_HEAD(&srv->suspended, req, link);
    /* A suspended connection never times out by itself (microhttpd.h). */
    req->deadline =
        ev_timer_start(srv->loop, due > now ? due - now : 0, on_deadline, req);
}
