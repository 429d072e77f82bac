/*
 * The HTTP layer: libmicrohttpd in external-epoll mode on our ev loop
 * (MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME, no internal thread; the shape
 * of MHD's suspend_resume_epoll example). We watch MHD's epoll fd, call
 * MHD_run on readiness, and re-arm one timer from MHD_get_timeout before
 * every poll. Each request gets a struct mpic_http_request on the first access
 * handler call; it is freed only in the NOTIFY_COMPLETED callback. A request
 * not answered when its handler returns is suspended with a deadline timer;
 * a later reply stores the response and resumes the connection, and the
 * next MHD_run queues it. This file does not parse request bodies: routes
 * get the raw, capped body. It holds the server itself (listen address,
 * start, the access and completion callbacks, the loop integration, the
 * graceful stop); the request, routing, metrics and TLS parts are in
 * http_request.c, http_server_routes.c, http_server_metrics.c and
 * http_server_tls.c.
 */
#include "common/http_server_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
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
/* After the grace period, how long cancelled replies get to go out. */
#define FLUSH_MS 2000u

static void server_check_stopped(struct mpic_http_server *srv);

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

/* ---- MHD callbacks ---- */

static bool content_length_too_big(struct mpic_http_request *req)
{
    const char *cl = mpic_http_request_header(req, "Content-Length");
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

static void reply_413(struct mpic_http_request *req)
{
    char *msg =
        xasprintf("the request body exceeds %zu bytes", req->srv->max_body);

    mpic_http_request_reply_error(req, 413, "payload-too-large", msg);
    free(msg);
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls)
{
    struct mpic_http_server *srv = cls;
    struct mpic_http_request *req = *req_cls;
    enum MHD_Result ret = MHD_YES;

    (void)version;
    if (req == NULL) {
        /* Headers are in; state lives until on_completed. */
        req = http_req_new(srv, conn, url, method);
        req->route_label = http_path_label(srv, url);
        *req_cls = req;
        req->in_access = true;
        /* GET /healthz reveals nothing and is what container and
         * Kubernetes probes call without a certificate; everything else
         * needs one when client_ca_file is set. */
        if (srv->require_client_cert &&
            !(strcmp(method, "GET") == 0 && strcmp(url, "/healthz") == 0) &&
            !http_client_cert_verified(conn))
            mpic_http_request_reply_error(req, 403, "forbidden",
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
        http_dispatch(req);
        if (!req->answered)
            http_req_suspend(req);
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
    struct mpic_http_server *srv = cls;
    struct mpic_http_request *req = *req_cls;

    (void)conn;
    if (req == NULL)
        return;
    *req_cls = NULL;
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
        logtr_debug(req->trace_id, req->w3c_trace_id,
                    "%s: %s %.256s: terminated (%d)", srv->name, req->method,
                    req->path, (int)toe);
    http_req_free(req);
}

__attribute__((format(printf, 2, 0))) static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct mpic_http_server *srv = cls;
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

static void mhd_run(struct mpic_http_server *srv)
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
    struct mpic_http_server *srv = arg;

    (void)loop;
    srv->mhd_timer = NULL;
    mhd_run(srv);
}

static void arm_mhd_timer(struct mpic_http_server *srv)
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
    struct mpic_http_server *srv = arg;

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

/* ---- server ---- */

struct mpic_http_server *
mpic_http_server_new(struct ev_loop *loop,
                     const struct mpic_http_server_config *cfg, char **errmsg)
{
    struct mpic_http_server *srv = NULL;
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
    TAILQ_INIT(&srv->suspended);
    srv->loop = loop;
    srv->name = xstrdup(cfg->name != NULL ? cfg->name : "http");
    srv->max_body = cfg->max_body;
    srv->deadline_ms = cfg->deadline_ms;
    srv->grace_ms = cfg->deadline_ms;
    srv->configz = cfg->configz;
    srv->configz_arg = cfg->configz_arg;
    srv->metrics = cfg->metrics;
    if (cfg->n_libraries > 0) {
        srv->libraries = xcalloc(cfg->n_libraries, sizeof(*srv->libraries));
        memcpy(srv->libraries, cfg->libraries,
               cfg->n_libraries * sizeof(*srv->libraries));
        srv->n_libraries = cfg->n_libraries;
    }
    srv->metrics_arg = cfg->metrics_arg;
    srv->epoll_fd = -1;
    if (http_tls_load(srv, cfg, errmsg) < 0)
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
        MHD_OPTION_NOTIFY_CONNECTION, http_tls_on_connection, srv,
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
             mpic_http_server_port(srv), srv->tls_cert != NULL ? ", TLS" : "");
    return srv;

fail:
    mpic_http_server_free(srv);
    return NULL;
}

void mpic_http_server_route(struct mpic_http_server *srv, const char *method,
                            const char *path, mpic_http_handler_fn *fn,
                            void *arg)
{
    srv->routes =
        xreallocarray(srv->routes, srv->nroutes + 1, sizeof(*srv->routes));
    srv->routes[srv->nroutes].method = method;
    srv->routes[srv->nroutes].path = path;
    srv->routes[srv->nroutes].fn = fn;
    srv->routes[srv->nroutes].arg = arg;
    srv->nroutes++;
}

unsigned mpic_http_server_port(const struct mpic_http_server *srv)
{
    const union MHD_DaemonInfo *di;

    if (srv->d == NULL)
        return 0;
    di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_BIND_PORT);
    return di != NULL ? di->port : 0;
}

size_t mpic_http_server_inflight(const struct mpic_http_server *srv)
{
    return srv->inflight;
}

size_t mpic_http_server_connections(const struct mpic_http_server *srv)
{
    const union MHD_DaemonInfo *di;

    if (srv->d == NULL)
        return 0;
    di = MHD_get_daemon_info(srv->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return di != NULL ? di->num_connections : 0;
}

/* Ends the graceful stop: the loop returns to mpic_http_server_run. */
static void server_finish(struct mpic_http_server *srv)
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

static void server_check_stopped(struct mpic_http_server *srv)
{
    if (srv->live == 0)
        server_finish(srv);
}

static void on_flush_timeout(struct ev_loop *loop, void *arg)
{
    struct mpic_http_server *srv = arg;

    (void)loop;
    srv->flush_timer = NULL;
    log_warn("%s: %zu connection(s) still busy; closing them", srv->name,
             srv->live);
    server_finish(srv);
}

static void on_grace_timeout(struct ev_loop *loop, void *arg)
{
    struct mpic_http_server *srv = arg;

    (void)loop;
    srv->grace_timer = NULL;
    if (srv->inflight > 0)
        log_warn("%s: grace period over; cancelling %zu request(s)", srv->name,
                 srv->inflight);
    http_cancel_suspended(srv);
    srv->flush_timer = ev_timer_start(loop, FLUSH_MS, on_flush_timeout, srv);
}

void mpic_http_server_shutdown(struct mpic_http_server *srv)
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
    struct mpic_http_server *srv = arg;

    (void)loop;
    log_info("%s: received signal %d", srv->name, signo);
    mpic_http_server_shutdown(srv);
}

/*
 * Stops the daemon for good. Nothing may stay suspended across
 * MHD_stop_daemon (an API violation in microhttpd.h): cancel what is left,
 * and let MHD_run process the resumes first.
 */
static void server_stop_daemon(struct mpic_http_server *srv)
{
    if (srv->d == NULL)
        return;
    srv->stopping = true;
    http_cancel_suspended(srv);
    while (srv->need_run) {
        srv->need_run = false;
        MHD_run(srv->d);
    }
    MPIC_ASSERT(TAILQ_EMPTY(&srv->suspended));
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

int mpic_http_server_run(struct mpic_http_server *srv, uint64_t grace_ms)
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

void mpic_http_server_free(struct mpic_http_server *srv)
{
    if (srv == NULL)
        return;
    server_stop_daemon(srv);
    if (srv->hook_added)
        ev_before_poll_remove(srv->loop, on_before_poll, srv);
    free(srv->routes);
    free(srv->counters);
    free(srv->hists);
    free(srv->libraries);
    http_tls_cleanup(srv);
    free(srv->name);
    free(srv);
}
