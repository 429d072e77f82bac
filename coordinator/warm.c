/*
 * Warm connections to the checkers, and what /metrics says about them.
 *
 * Over a link of 100 ms or more, a new TCP + TLS connection to a checker
 * costs two or three round trips before the check request is even sent;
 * a reused one costs none. So:
 * - every checker gets a GET /healthz at start and again whenever nothing
 *   has used its connections for COORD_PING_IDLE_MS, shorter than the
 *   checkers' idle timeout (30 s, common/http_server.c) and libcurl's
 *   (CURLOPT_MAXAGE_CONN, 118 s): one connection per checker stays open
 *   between requests, on the same multi handle and with the same TLS
 *   options as the calls, so the calls reuse it; as many connections are
 *   kept as calls ran at once to that checker in the last minute (at most
 *   COORD_WARM_MAX), so a burst of concurrent requests after a quiet
 *   spell does not pay a new connection per extra call (bench/: +1 RTT at
 *   p99 with 4 requests at once and one warm connection);
 * - TLS sessions are shared by every easy handle (a CURLSH), so a new
 *   connection to a checker resumes the session of an earlier one (the
 *   checkers issue session tickets) instead of a full handshake;
 * - per checker, /metrics counts new connections and full and resumed
 *   handshakes, so an operator sees reuse working.
 */
#include "coordinator/coordinator.h"

#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/log.h"
#include "common/mem.h"

/* How often idle checkers are looked at, and when one counts as idle. */
#define COORD_PING_TICK_MS 5000
#define COORD_PING_IDLE_MS 10000
/* How long a peak of concurrent calls keeps its connections warm. */
#define COORD_WARM_WINDOW_MS 60000
/* A ping that takes longer is abandoned (the next tick tries again). */
#define COORD_PING_TIMEOUT_MS 5000

static void on_tick(struct ev_loop *loop, void *arg);

struct coord_queue *coord_queues(struct coord *c)
{
    size_t nq = c->cfg->n_perspectives * 2;

    if (c->queues != NULL)
        return c->queues;
    c->queues = xcalloc(nq, sizeof(*c->queues));
    /* The replicas of each checker (docs/failover.md), in config order. */
    for (size_t qi = 0; qi < nq; qi++) {
        const struct mpic_perspective *p = &c->cfg->perspectives[qi / 2];
        const struct mpic_strv *urls =
            qi % 2 == 0 ? &p->caa_urls : &p->dcv_urls;
        const char *url = coord_queue_url(c, qi);
        struct coord_queue *q = &c->queues[qi];

        TAILQ_INIT(&q->waiting);
        if (url == NULL)
            continue;
        q->n_reps = urls->n > 0 ? urls->n : 1;
        if (q->n_reps > MPIC_MAX_REPLICAS)
            q->n_reps = MPIC_MAX_REPLICAS;
        q->reps = xcalloc(q->n_reps, sizeof(*q->reps));
        for (size_t k = 0; k < q->n_reps; k++)
            q->reps[k].url = urls->n > 0 ? urls->v[k] : url;
    }
    return c->queues;
}

const char *coord_queue_url(const struct coord *c, size_t qi)
{
    const struct mpic_perspective *p = &c->cfg->perspectives[qi / 2];

    return qi % 2 == 0 ? p->caa_url : p->dcv_url;
}

void coord_conn_note_tls(CURL *easy, signed char *tls)
{
    struct curl_tlssessioninfo *info = NULL;

    if (*tls >= 0)
        return;
    if (curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &info) != CURLE_OK ||
        info == NULL || info->backend != CURLSSLBACKEND_OPENSSL ||
        info->internals == NULL)
        return;
    *tls = SSL_session_reused(info->internals) ? 1 : 0;
}

void coord_conn_count(struct coord_queue *q, CURL *easy, signed char tls)
{
    long n = 0;

    if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &n) != CURLE_OK ||
        n <= 0)
        return;
    q->stats.new_conns += (uint64_t)n;
    /* -1: plain HTTP, or no byte of the answer seen (counted as full). */
    if (tls == 1)
        q->stats.tls_resumed++;
    else if (tls == 0 || q->https)
        q->stats.tls_full++;
}

struct ping_ctx {
    struct coord *c;
    size_t qi;
    size_t k;    /* the replica */
    size_t slot; /* in its ping[] */
    signed char tls;
};

static size_t on_ping_body(char *data, size_t size, size_t nmemb, void *arg)
{
    struct ping_ctx *pc = arg;

    (void)data;
    coord_conn_note_tls(pc->c->queues[pc->qi].reps[pc->k].ping[pc->slot],
                        &pc->tls);
    return size * nmemb;
}

static void on_ping_done(CURL *easy, CURLcode rc, void *arg)
{
    struct ping_ctx *pc = arg;
    struct coord_queue *q = &pc->c->queues[pc->qi];
    struct coord_replica *rep = &q->reps[pc->k];
    long status = 0;

    coord_conn_count(q, easy, pc->tls);
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status == 200) {
        q->stats.pings_ok++;
        coord_replica_ok(q, pc->k);
    } else {
        q->stats.pings_failed++;
        if (q->n_reps > 1)
            coord_replica_failed(q, pc->k, ev_now_ms());
        log_debug("keep-alive ping to %s failed: %s (HTTP %ld)",
                  rep->ping_url, curl_easy_strerror(rc), status);
    }
    rep->last_used_ms = ev_now_ms();
    rep->ping[pc->slot] = NULL;
    rep->ping_ctx[pc->slot] = NULL;
    rep->n_pings--;
    curl_easy_cleanup(easy);
    free(pc);
}

/* The checker URL with path /healthz and no query; NULL if unparseable. */
static char *ping_url_of(const char *url)
{
    CURLU *u = curl_url();
    char *out = NULL;

    if (u == NULL)
        return NULL;
    if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_PATH, "/healthz", 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK)
        (void)curl_url_get(u, CURLUPART_URL, &out, 0);
    curl_url_cleanup(u);
    return out;
}

static void ping_start(struct coord *c, size_t qi, size_t k)
{
    struct coord_replica *q = &c->queues[qi].reps[k];
    struct ping_ctx *pc;
    CURL *easy;
    size_t slot = 0;
    int rc = 0;

    while (slot < COORD_WARM_MAX && q->ping[slot] != NULL)
        slot++;
    if (slot == COORD_WARM_MAX)
        return;
    easy = curl_easy_init();
    if (easy == NULL)
        return;
    pc = xcalloc(1, sizeof(*pc));
    pc->c = c;
    pc->qi = qi;
    pc->k = k;
    pc->slot = slot;
    pc->tls = -1;
    rc |= coord_easy_setup_tls(c, easy);
    rc |= curl_easy_setopt(easy, CURLOPT_URL, q->ping_url);
    rc |= curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_HTTPHEADER,
                           coord_perspective_headers(c, qi / 2));
    rc |= curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_ping_body);
    rc |= curl_easy_setopt(easy, CURLOPT_WRITEDATA, pc);
    rc |= curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS,
                           (long)COORD_PING_TIMEOUT_MS);
    if (rc != 0 || ev_curl_add(c->curl, easy, on_ping_done, pc) != 0) {
        curl_easy_cleanup(easy);
        free(pc);
        return;
    }
    q->ping[slot] = easy;
    q->ping_ctx[slot] = pc;
    q->n_pings++;
}

/* Connections to keep warm to r: its recent peak of concurrent calls. */
static size_t warm_wanted(struct coord_replica *r, uint64_t now)
{
    if (r->peak_ms == 0 || now - r->peak_ms >= COORD_WARM_WINDOW_MS)
        r->peak = 1; /* the peak has aged out */
    if (r->peak < 1)
        return 1;
    return r->peak > COORD_WARM_MAX ? COORD_WARM_MAX : r->peak;
}

/* Pings every checker whose connections have been idle too long. */
static void ping_idle(struct coord *c)
{
    uint64_t now = ev_now_ms();
    size_t nq = c->cfg->n_perspectives * 2;

    for (size_t qi = 0; qi < nq; qi++) {
        for (size_t k = 0; k < c->queues[qi].n_reps; k++) {
            struct coord_replica *r = &c->queues[qi].reps[k];
            size_t want;

            if (r->ping_url == NULL || r->n_pings > 0)
                continue;
            /* A replica held out after a failure is asked every tick,
             * so it is back soon after it is (docs/failover.md). */
            if (r->down_until_ms > now) {
                ping_start(c, qi, k);
                continue;
            }
            if (r->running > 0 || !TAILQ_EMPTY(&c->queues[qi].waiting))
                continue;
            if (r->last_used_ms != 0 &&
                now - r->last_used_ms < COORD_PING_IDLE_MS)
                continue;
            /* Pings at once take a connection each: that many stay open. */
            want = warm_wanted(r, now);
            for (size_t i = 0; i < want; i++)
                ping_start(c, qi, k);
        }
    }
}

static void on_tick(struct ev_loop *loop, void *arg)
{
    struct coord *c = arg;

    c->ping_timer = NULL;
    ping_idle(c);
    c->ping_timer = ev_timer_start(loop, COORD_PING_TICK_MS, on_tick, c);
}

int coord_warm_start(struct coord *c)
{
    size_t nq = c->cfg->n_perspectives * 2;

    c->share = curl_share_init();
    if (c->share == NULL ||
        curl_share_setopt(c->share, CURLSHOPT_SHARE,
                          CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        log_error("cannot set up libcurl's shared TLS session cache");
        return -1;
    }
    coord_queues(c);
    for (size_t qi = 0; qi < nq; qi++) {
        const char *url = coord_queue_url(c, qi);

        if (url == NULL)
            continue;
        c->queues[qi].https = strncasecmp(url, "https:", 6) == 0;
        for (size_t k = 0; k < c->queues[qi].n_reps; k++)
            c->queues[qi].reps[k].ping_url =
                ping_url_of(c->queues[qi].reps[k].url);
    }
    /* The first tick warms every checker before the first request. */
    c->ping_timer = ev_timer_start(c->loop, 0, on_tick, c);
    return 0;
}

void coord_warm_cleanup(struct coord *c)
{
    size_t nq = c->cfg->n_perspectives * 2;

    ev_timer_stop(c->loop, c->ping_timer);
    c->ping_timer = NULL;
    for (size_t qi = 0; c->queues != NULL && qi < nq; qi++) {
        struct coord_queue *cq = &c->queues[qi];

        for (size_t k = 0; k < cq->n_reps; k++) {
            struct coord_replica *q = &cq->reps[k];

            for (size_t i = 0; i < COORD_WARM_MAX; i++) {
                if (q->ping[i] == NULL)
                    continue;
                /* ev_curl_free() has removed it from the multi handle. */
                curl_easy_cleanup(q->ping[i]);
                free(q->ping_ctx[i]);
                q->ping[i] = NULL;
            }
            curl_free(q->ping_url);
            q->ping_url = NULL;
        }
        free(cq->reps);
        cq->reps = NULL;
        cq->n_reps = 0;
    }
    free(c->queues);
    c->queues = NULL;
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    c->share = NULL;
}
