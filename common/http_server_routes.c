/*
 * Routing: exact method and path to a registered handler, else one of the
 * built-in GET routes (/healthz, /configz with the library versions,
 * /metrics), else 405 with an Allow header or 404. Also names the path
 * label the metrics use. Handlers reply through http_request.c.
 */
#include "common/http_server_int.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define METRICS_MAX (4u * 1024u * 1024u)

static const char *const builtin_paths[] = {"/healthz", "/configz", "/metrics"};

/* The metrics label of a path: a registered or built-in path, else
 * "other", so that clients cannot create unbounded label sets. */
const char *http_path_label(const struct mpic_http_server *srv, const char *p)
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

/* ---- built-in routes ---- */

static void serve_healthz(struct mpic_http_request *req)
{
    mpic_http_request_reply_json(req, 200,
                                 json_pack("{s:s}", "status", "healthy"));
}

/* Our own library, then those the daemon named (common/versions.h). */
static json_t *library_versions(const struct mpic_http_server *srv)
{
    json_t *o = json_pack("{s:s}", "microhttpd", MHD_get_version());
    size_t i;

    for (i = 0; o != NULL && i < srv->n_libraries; i++) {
        if (json_object_set_new(o, srv->libraries[i].name,
                                json_string(srv->libraries[i].version)) != 0)
            goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

static void serve_configz(struct mpic_http_request *req)
{
    struct mpic_http_server *srv = req->srv;
    json_t *o = NULL;

    if (srv->configz != NULL)
        o = srv->configz(srv->configz_arg);
    if (o == NULL)
        o = json_object();
    if (o == NULL || !json_is_object(o) ||
        json_object_set_new(o, "version", json_string(MPIC_VERSION)) != 0 ||
        json_object_set_new(o, "libraries", library_versions(srv)) != 0) {
        json_decref(o);
        mpic_http_request_reply_error(req, 500, "internal-error",
                                      "cannot build the configuration view");
        return;
    }
    mpic_http_request_reply_json(req, 200, o);
}

static void serve_metrics(struct mpic_http_request *req)
{
    struct mpic_http_server *srv = req->srv;
    struct mpic_buf b;
    char *s;
    size_t len;

    mpic_buf_init(&b, METRICS_MAX);
    http_metrics_render(srv, &b);
    if (srv->metrics != NULL)
        srv->metrics(&b, srv->metrics_arg);
    if (b.overflowed) {
        mpic_buf_cleanup(&b);
        mpic_http_request_reply_error(req, 500, "internal-error",
                                      "metrics too large");
        return;
    }
    s = mpic_buf_take(&b, &len);
    if (s == NULL)
        s = xstrdup("");
    mpic_http_request_reply(req, 200,
                            "text/plain; version=0.0.4; charset=utf-8", s, len);
}

static void reply_405(struct mpic_http_request *req, const char *allow)
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
        mpic_http_request_reply_error(req, 500, "internal-error", "no memory");
        return;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/json");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
    http_reply_response(req, 405, resp);
}

/* Exact-path routing: a registered route wins over a built-in. */
void http_dispatch(struct mpic_http_request *req)
{
    struct mpic_http_server *srv = req->srv;
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
    mpic_http_request_reply_error(req, 404, "not-found", "no such path");
}
