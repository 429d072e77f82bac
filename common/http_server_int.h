/*
 * Internals of the HTTP layer, shared by the files that make it up and by
 * nothing else: http_server.c (the server: listen address, libmicrohttpd
 * callbacks, the loop integration, start, graceful stop), http_request.c
 * (one request: accessors, authorization, replies, suspension, deadline and
 * cancel), http_server_routes.c (routing and the built-in /healthz,
 * /configz and /metrics), http_server_metrics.c (the Prometheus counters
 * and histograms) and http_server_tls.c (certificate files, client
 * certificate checks). The public interface is http_server.h.
 */
#ifndef MPIC_COMMON_HTTP_SERVER_INT_H
#define MPIC_COMMON_HTTP_SERVER_INT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/buf.h"
#include "common/http_server.h"

#define PATH_OTHER "other"

struct route {
    const char *method; /* borrowed literals */
    const char *path;
    mpic_http_handler_fn *fn;
    void *arg;
};

/* Per request; freed only by http_req_free (NOTIFY_COMPLETED). */
struct mpic_http_request {
    struct mpic_http_server *srv;
    struct MHD_Connection *conn;
    char *method; /* owned copies */
    char *path;
    /* The metrics label of path (static or a route literal): set by the
     * router when the headers are in, so replies never ask it again. */
    const char *route_label;
    char *trace_id;
    char *w3c_trace_id; /* hex, docs/tracing.md; NULL: not a traced request */
    struct mpic_buf body;
    uint64_t start_ms;

    mpic_http_cancel_fn *cancel;
    void *cancel_arg;
    struct ev_timer *deadline;

    bool in_access;    /* inside our MHD access handler for this conn */
    bool handled;      /* the route handler (or a built-in) was called */
    bool answered;     /* a reply exists (queued or stored) */
    bool suspended;    /* MHD_suspend_connection is in effect */
    bool queue_failed; /* MHD_queue_response refused: close */
    struct MHD_Response *resp; /* stored reply of a suspended request */
    unsigned resp_status;

    TAILQ_ENTRY(mpic_http_request) link; /* in srv->suspended */
};

struct mpic_http_server {
    struct ev_loop *loop;
    struct MHD_Daemon *d;
    char *name;
    size_t max_body;
    uint64_t deadline_ms;
    uint64_t grace_ms;
    mpic_http_configz_fn *configz;
    void *configz_arg;
    mpic_http_metrics_fn *metrics;
    void *metrics_arg;
    struct mpic_http_library *libraries; /* owned array; strings borrowed */
    size_t n_libraries;

    int epoll_fd;
    struct ev_timer *mhd_timer;
    uint64_t mhd_timer_due;
    bool need_run; /* something resumed: MHD_run before the next poll */
    bool hook_added;

    struct route *routes;
    size_t nroutes;

    size_t inflight; /* received, not answered */
    size_t live;     /* request objects not yet completed by MHD */
    TAILQ_HEAD(, mpic_http_request) suspended; /* newest first */

    bool stopping;
    bool finished;
    struct ev_timer *grace_timer;
    struct ev_timer *flush_timer;

    struct counter *counters; /* both defined in http_server_metrics.c */
    size_t ncounters;
    struct histogram *hists;
    size_t nhists;

    char *tls_cert; /* PEM, owned; MHD keeps pointers into these */
    char *tls_key;
    char *tls_trust;
    bool require_client_cert;
    /* Session ticket key (RFC 5077 / TLS 1.3 tickets) made at start, so a
     * client reconnecting (the coordinator) resumes instead of a full
     * handshake; owned, wiped at free. NULL: TLS off. */
    unsigned char *ticket_key;
    unsigned ticket_key_len;
};

/* ---- http_request.c ---- */

/* A request whose headers are in; counted in flight until answered. */
struct mpic_http_request *http_req_new(struct mpic_http_server *srv,
                                       struct MHD_Connection *conn,
                                       const char *url, const char *method);
/* Frees req and what it owns; never while suspended. */
void http_req_free(struct mpic_http_request *req);
/* Suspends an unanswered request and starts its deadline timer. */
void http_req_suspend(struct mpic_http_request *req);
/* Sends resp (taken: destroyed here or stored until resumed). */
void http_reply_response(struct mpic_http_request *req, unsigned status,
                         struct MHD_Response *resp);
/* Cancels and answers (503) every suspended request. */
void http_cancel_suspended(struct mpic_http_server *srv);

/* ---- http_server_routes.c ---- */

/* Routes req to a handler or a built-in, or answers 404/405. */
void http_dispatch(struct mpic_http_request *req);
/* The metrics label of path p (borrowed, static or a route literal). */
const char *http_path_label(const struct mpic_http_server *srv, const char *p);

/* ---- http_server_metrics.c ---- */

/* Counts one answered request by path, method, status and duration. */
void http_metrics_record(struct mpic_http_server *srv,
                         const struct mpic_http_request *req, unsigned status,
                         uint64_t dur_ms);
/* Appends the layer's Prometheus lines to b. */
void http_metrics_render(const struct mpic_http_server *srv,
                         struct mpic_buf *b);

/* ---- http_server_tls.c ---- */

/*
 * Reads the certificate, key and client CA files of cfg into srv (owned
 * PEM strings). Returns 0 (also when TLS is off), or -1 with an owned
 * message in *errmsg.
 */
int http_tls_load(struct mpic_http_server *srv,
                  const struct mpic_http_server_config *cfg, char **errmsg);
/* True if conn presented a client certificate that verifies. */
bool http_client_cert_verified(struct MHD_Connection *conn);
/*
 * MHD_OPTION_NOTIFY_CONNECTION callback (cls: the server): turns session
 * tickets on for each new TLS connection before its handshake.
 */
void http_tls_on_connection(void *cls, struct MHD_Connection *conn,
                            void **socket_context,
                            enum MHD_ConnectionNotificationCode toe);
/* Wipes and frees what http_tls_load() made. */
void http_tls_cleanup(struct mpic_http_server *srv);

#endif
