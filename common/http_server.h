/*
 * The HTTP layer every daemon uses: libmicrohttpd driven by our ev loop
 * (MHD_USE_EPOLL, no internal thread, suspend/resume for asynchronous
 * replies). It routes by method and exact path, buffers the request body up
 * to a cap (413 beyond it), answers 404/405 itself, serves GET /healthz,
 * /configz and /metrics, keeps Prometheus counters, and shuts down
 * gracefully. Handlers may reply at once or later (after DNS, HTTP, ...):
 * a request not answered when its handler returns is suspended until
 * mpic_http_request_reply*() is called or its deadline passes.
 *
 * Names: everything declared here, the layer's public interface, carries
 * the project prefix: mpic_http_server_* for the server, mpic_http_request_*
 * for one request, struct mpic_http_* and mpic_http_*_fn for the types. The
 * functions the layer's files share among themselves (http_server_int.h)
 * are http_* without the prefix, and what one file uses alone is static.
 */
#ifndef MPIC_COMMON_HTTP_SERVER_H
#define MPIC_COMMON_HTTP_SERVER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/strv.h"

struct ev_loop;
struct mpic_http_server;
struct mpic_http_request;

/* Called once the whole body is in; the handler owns replying. */
typedef void mpic_http_handler_fn(struct mpic_http_request *req, void *arg);
/*
 * Called when a request that has not been answered is torn down (its
 * deadline passed, or the server is stopping). The handler must drop every
 * reference to req and stop its sub-operations; the layer then answers
 * (504 on deadline, 503 on shutdown). req is invalid after this returns.
 */
typedef void mpic_http_cancel_fn(struct mpic_http_request *req, void *arg);
/* Returns an owned JSON object for GET /configz (secrets redacted). */
typedef json_t *mpic_http_configz_fn(void *arg);
/* Appends daemon-specific Prometheus lines to out. */
typedef void mpic_http_metrics_fn(struct mpic_buf *out, void *arg);

/* A library and its version for GET /configz "libraries" (both borrowed,
 * static). */
struct mpic_http_library {
    const char *name;
    const char *version;
};

struct mpic_http_server_config {
    const char *name;        /* daemon name, for logs and metrics */
    const char *listen;      /* "HOST:PORT", "[v6]:PORT" */
    size_t max_body;         /* bytes; larger bodies get 413 */
    uint64_t deadline_ms;    /* max time a request may stay unanswered */
    unsigned conn_limit;     /* 0: default (1024) */
    unsigned conn_timeout_s; /* idle/read timeout; 0: default (30) */
    /* optional HTTPS (INTERFACE.md tls:); all NULL means plain HTTP */
    const char *tls_cert_file;
    const char *tls_key_file;
    const char *tls_client_ca_file; /* require client certs signed by it */
    mpic_http_configz_fn *configz;
    void *configz_arg;
    mpic_http_metrics_fn *metrics;
    void *metrics_arg;
    /* The daemon's libraries for /configz "libraries", listed in this
     * order after microhttpd's (copied; common/versions.h fills it) */
    const struct mpic_http_library *libraries;
    size_t n_libraries;
};

/*
 * Binds and starts serving on loop. Returns an owned server, or NULL with
 * an owned message in *errmsg (free()).
 */
struct mpic_http_server *
mpic_http_server_new(struct ev_loop *loop,
                     const struct mpic_http_server_config *cfg, char **errmsg);
/* Adds a route; method and path are borrowed (string literals). */
void mpic_http_server_route(struct mpic_http_server *srv, const char *method,
                            const char *path, mpic_http_handler_fn *fn,
                            void *arg);
/* The port actually bound (useful with port 0). */
unsigned mpic_http_server_port(const struct mpic_http_server *srv);
/* Requests received and not yet answered. */
size_t mpic_http_server_inflight(const struct mpic_http_server *srv);
/* Client connections currently open (accepted and not yet closed). */
size_t mpic_http_server_connections(const struct mpic_http_server *srv);

/*
 * Installs SIGTERM/SIGINT handlers on the loop and runs it. On a signal:
 * stop accepting, wait up to grace_ms for in-flight requests, cancel the
 * rest, stop. Returns 0 on a clean stop.
 */
int mpic_http_server_run(struct mpic_http_server *srv, uint64_t grace_ms);
/* Begins the same graceful stop as a signal would (for tests). */
void mpic_http_server_shutdown(struct mpic_http_server *srv);
/* NULL-safe. Only after mpic_http_server_run returned (or if never run). */
void mpic_http_server_free(struct mpic_http_server *srv);

/* Request accessors; returned pointers live as long as req. */
const char *mpic_http_request_method(const struct mpic_http_request *req);
const char *mpic_http_request_path(const struct mpic_http_request *req);
const char *mpic_http_request_body(const struct mpic_http_request *req,
                                   size_t *len);
/* Case-insensitive header lookup; NULL if absent. */
const char *mpic_http_request_header(const struct mpic_http_request *req,
                                     const char *name);
/* Monotonic ms when the request arrived. */
uint64_t mpic_http_request_start_ms(const struct mpic_http_request *req);
void mpic_http_request_set_cancel(struct mpic_http_request *req,
                                  mpic_http_cancel_fn *fn, void *arg);
/* Sets the trace identifier used in the access log line (copied). */
void mpic_http_request_set_trace_id(struct mpic_http_request *req,
                                    const char *tid);
/* Sets the W3C trace id (hex) logged as "trace_id" with it (copied). */
void mpic_http_request_set_w3c_trace_id(struct mpic_http_request *req,
                                        const char *trace_hex);

/*
 * True if the request carries one of `keys` as "Authorization: Bearer K"
 * or, when allow_api_key_header, as "x-api-key: K". Constant-time in the
 * key contents. An empty key list allows everything.
 */
bool mpic_http_request_authorized(const struct mpic_http_request *req,
                                  const struct mpic_strv *keys,
                                  bool allow_api_key_header);

/* Replies; exactly one per request. `body` is stolen (decref'd). */
void mpic_http_request_reply_json(struct mpic_http_request *req,
                                  unsigned status, json_t *body);
/* Takes ownership of body (free()). */
void mpic_http_request_reply(struct mpic_http_request *req, unsigned status,
                             const char *content_type, char *body, size_t len);
/* {"error": code, "message": msg} with the given status. */
void mpic_http_request_reply_error(struct mpic_http_request *req,
                                   unsigned status, const char *code,
                                   const char *msg);
/*
 * 400 {"error": "request-validation-failed", "validation_issues":
 * [{"issue_type", "message"}, ...]} (Open MPIC API); errs is borrowed.
 */
void mpic_http_request_reply_issues(struct mpic_http_request *req,
                                    const struct mpic_errlist *errs);

#endif
