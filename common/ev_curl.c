/*
 * One curl multi handle on the ev loop. libcurl tells us which sockets to
 * watch (CURLMOPT_SOCKETFUNCTION) and when it next needs a timeout
 * (CURLMOPT_TIMERFUNCTION); both callbacks only update the loop and never
 * call back into libcurl. Readiness and timer expiry call
 * curl_multi_socket_action from our own callbacks, then finished transfers
 * are drained from curl_multi_info_read, removed from the multi handle and
 * handed to their owner. Connections are cached by the multi handle, so a
 * caller that reuses its easy handles gets keep-alive reuse for free.
 */
#include "common/ev_curl.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/queue.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/mem.h"

struct ev_curl_xfer {
    struct ev_curl *ec;
    CURL *easy;
    ev_curl_done_fn *on_done;
    void *arg;
    bool keep;     /* stays in the multi handle after on_done */
    bool finished; /* keep: on_done has run */
    TAILQ_ENTRY(ev_curl_xfer) link; /* in ec->xfers */
};

struct ev_curl {
    struct ev_loop *loop;
    CURLM *multi;
    struct ev_timer *timer;
    TAILQ_HEAD(, ev_curl_xfer) xfers; /* running transfers */
};

/*
 * Finished transfers: remove each from the multi handle (legal here, we are
 * not inside a libcurl callback), then tell the owner. The owner may add or
 * cancel other transfers from on_done; curl_multi_remove_handle also drops
 * any message still queued for a cancelled handle, so the loop stays sound.
 */
static void drain_done(struct ev_curl *ec)
{
    CURLMsg *msg;
    int left;

    for (;;) {
        struct ev_curl_xfer *x = NULL;
        ev_curl_done_fn *on_done;
        void *arg;
        CURL *easy;
        CURLcode result;

        msg = curl_multi_info_read(ec->multi, &left);
        if (msg == NULL)
            break;
        if (msg->msg != CURLMSG_DONE)
            continue;
        easy = msg->easy_handle;
        result = msg->data.result;
        if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x) !=
                CURLE_OK ||
            x == NULL) {
            /* Not ours; cannot happen with our own multi handle. */
            curl_multi_remove_handle(ec->multi, easy);
            continue;
        }
        if (x->keep) {
            /* A CONNECT_ONLY transfer: removing it would close the
             * connection its owner is about to use. */
            if (!x->finished) {
                x->finished = true;
                x->on_done(easy, result, x->arg);
            }
            continue;
        }
        curl_multi_remove_handle(ec->multi, easy);
        TAILQ_REMOVE(&ec->xfers, x, link);
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        on_done = x->on_done;
        arg = x->arg;
        free(x);
        on_done(easy, result, arg);
    }
}

static void socket_action(struct ev_curl *ec, curl_socket_t s, int mask)
{
    int running = 0;
    CURLMcode mc;

    mc = curl_multi_socket_action(ec->multi, s, mask, &running);
    if (mc != CURLM_OK)
        log_warn("%s: curl_multi_socket_action: %s", __func__,
                 curl_multi_strerror(mc));
    drain_done(ec);
}

static void on_sock_ready(struct ev_loop *loop, int fd, unsigned events,
                          void *arg)
{
    struct ev_curl *ec = arg;
    int mask = 0;

    (void)loop;
    if (events & EV_READ)
        mask |= CURL_CSELECT_IN;
    if (events & EV_WRITE)
        mask |= CURL_CSELECT_OUT;
    socket_action(ec, fd, mask);
}

static void on_timeout(struct ev_loop *loop, void *arg)
{
    struct ev_curl *ec = arg;

    (void)loop;
    ec->timer = NULL;
    socket_action(ec, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: mirror libcurl's interest into the loop. */
static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp,
                          void *socketp)
{
    struct ev_curl *ec = userp;
    unsigned events = 0;

    (void)easy;
    (void)socketp;
    switch (what) {
    case CURL_POLL_IN:
        events = EV_READ;
        break;
    case CURL_POLL_OUT:
        events = EV_WRITE;
        break;
    case CURL_POLL_INOUT:
        events = EV_READ | EV_WRITE;
        break;
    case CURL_POLL_REMOVE:
    default:
        events = 0;
        break;
    }
    if (ev_io_watch(ec->loop, s, events, on_sock_ready, ec) < 0) {
        log_warn_errno("%s: watch fd %d", __func__, (int)s);
        return -1;
    }
    return 0;
}

/*
 * CURLMOPT_TIMERFUNCTION: only re-arms our timer. libcurl asks for 0 ms
 * right after curl_multi_add_handle; the transfer then starts on the next
 * loop iteration, which is also why on_done never runs inside ev_curl_add.
 */
static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    struct ev_curl *ec = userp;

    (void)multi;
    ev_timer_stop(ec->loop, ec->timer);
    ec->timer = NULL;
    if (timeout_ms >= 0)
        ec->timer =
            ev_timer_start(ec->loop, (uint64_t)timeout_ms, on_timeout, ec);
    return 0;
}

struct ev_curl *ev_curl_new(struct ev_loop *loop)
{
    struct ev_curl *ec;
    CURLM *multi;

    multi = curl_multi_init();
    if (multi == NULL)
        return NULL;
    ec = xcalloc(1, sizeof(*ec));
    ec->loop = loop;
    ec->multi = multi;
    TAILQ_INIT(&ec->xfers);
    if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket) !=
            CURLM_OK ||
        curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, ec) != CURLM_OK ||
        curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, on_curl_timer) !=
            CURLM_OK ||
        curl_multi_setopt(multi, CURLMOPT_TIMERDATA, ec) != CURLM_OK) {
        curl_multi_cleanup(multi);
        free(ec);
        return NULL;
    }
    return ec;
}

void ev_curl_free(struct ev_curl *ec)
{
    if (ec == NULL)
        return;
    while (!TAILQ_EMPTY(&ec->xfers)) {
        struct ev_curl_xfer *x = TAILQ_FIRST(&ec->xfers);

        curl_multi_remove_handle(ec->multi, x->easy);
        curl_easy_setopt(x->easy, CURLOPT_PRIVATE, NULL);
        TAILQ_REMOVE(&ec->xfers, x, link);
        free(x);
    }
    /* Closing cached connections reports CURL_POLL_REMOVE for their
     * sockets, so the loop must still be alive here. */
    curl_multi_cleanup(ec->multi);
    ev_timer_stop(ec->loop, ec->timer);
    free(ec);
}

CURLM *ev_curl_multi(struct ev_curl *ec)
{
    return ec->multi;
}

static int xfer_add(struct ev_curl *ec, CURL *easy, ev_curl_done_fn *on_done,
                    void *arg, bool keep)
{
    struct ev_curl_xfer *x;
    CURLMcode mc;

    x = xcalloc(1, sizeof(*x));
    x->ec = ec;
    x->easy = easy;
    x->on_done = on_done;
    x->arg = arg;
    x->keep = keep;
    if (curl_easy_setopt(easy, CURLOPT_PRIVATE, x) != CURLE_OK) {
        free(x);
        return -1;
    }
    mc = curl_multi_add_handle(ec->multi, easy);
    if (mc != CURLM_OK) {
        log_debug("%s: curl_multi_add_handle: %s", __func__,
                  curl_multi_strerror(mc));
        curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
        free(x);
        return -1;
    }
    TAILQ_INSERT_HEAD(&ec->xfers, x, link);
    return 0;
}

int ev_curl_add(struct ev_curl *ec, CURL *easy, ev_curl_done_fn *on_done,
                void *arg)
{
    return xfer_add(ec, easy, on_done, arg, false);
}

int ev_curl_add_connect_only(struct ev_curl *ec, CURL *easy,
                             ev_curl_done_fn *on_done, void *arg)
{
    return xfer_add(ec, easy, on_done, arg, true);
}

void ev_curl_cancel(struct ev_curl *ec, CURL *easy)
{
    struct ev_curl_xfer *x;

    /* Look the handle up in our own list rather than trusting
     * CURLOPT_PRIVATE: a handle that already finished is not running. */
    TAILQ_FOREACH(x, &ec->xfers, link)
    {
        if (x->easy == easy)
            break;
    }
    if (x == NULL)
        return;
    curl_multi_remove_handle(ec->multi, easy);
    curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
    TAILQ_REMOVE(&ec->xfers, x, link);
    free(x);
}
