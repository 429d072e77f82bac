/*
 * OTLP/HTTP JSON export on the event loop (otlp_export.h). The state is
 * one per process, like the span queue it drains.
 */
#include "common/otlp_export.h"

#include <curl/curl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/trace.h"

/* A failing collector is reported at most this often. */
#define OTLP_WARN_EVERY_MS 60000

static struct {
    struct ev_loop *loop;
    struct ev_curl *curl;
    char *endpoint;
    char *service;
    char *perspective;
    struct ev_timer *timer;
    bool hooked;
    CURL *easy; /* reused; busy while inflight */
    struct curl_slist *hdrs;
    bool inflight;
    char *body;     /* the batch being posted */
    size_t batch_n; /* spans in it */
    char errbuf[CURL_ERROR_SIZE];
    uint64_t last_warn_ms;
    bool warned;
} ex;

static void flush(void);

static size_t discard(char *data, size_t size, size_t nmemb, void *arg)
{
    (void)data;
    (void)arg;
    return size * nmemb;
}

static void warn_failure(const char *what)
{
    uint64_t now = ev_now_ms();

    if (ex.warned && now - ex.last_warn_ms < OTLP_WARN_EVERY_MS)
        return;
    ex.warned = true;
    ex.last_warn_ms = now;
    log_warn("tracing: export to %s failed: %s (spans are dropped; see "
             "mpic_trace_spans_dropped_total)",
             ex.endpoint, what);
}

static void on_done(CURL *easy, CURLcode rc, void *arg)
{
    struct mpic_trace_stats *st = mpic_trace_stats();
    long status = 0;

    (void)arg;
    ex.inflight = false;
    free(ex.body);
    ex.body = NULL;
    if (rc == CURLE_OK)
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (rc == CURLE_OK && status >= 200 && status < 300) {
        st->export_ok++;
        st->exported += ex.batch_n;
    } else {
        char why[CURL_ERROR_SIZE + 64];

        st->export_failed++;
        st->dropped_failed += ex.batch_n;
        if (rc != CURLE_OK)
            snprintf(why, sizeof(why), "%s",
                     ex.errbuf[0] ? ex.errbuf : curl_easy_strerror(rc));
        else
            snprintf(why, sizeof(why), "HTTP %ld", status);
        warn_failure(why);
    }
    ex.batch_n = 0;
}

/* Posts the oldest batch, unless one is in flight. */
static void flush(void)
{
    struct mpic_span *batch;
    size_t n, len = 0;
    struct mpic_trace_stats *st = mpic_trace_stats();
    int rc = 0;

    if (ex.inflight || ex.easy == NULL || mpic_trace_queue_len() == 0)
        return;
    batch = xcalloc(OTLP_BATCH, sizeof(*batch));
    n = mpic_trace_queue_take(batch, OTLP_BATCH);
    ex.body = mpic_otlp_encode(batch, n, ex.service, ex.perspective, &len);
    for (size_t i = 0; i < n; i++)
        mpic_span_cleanup(&batch[i]);
    free(batch);
    if (ex.body == NULL) {
        st->export_failed++;
        st->dropped_failed += n;
        warn_failure("cannot encode the batch");
        return;
    }
    ex.errbuf[0] = '\0';
    rc |= curl_easy_setopt(ex.easy, CURLOPT_POSTFIELDS, ex.body);
    rc |=
        curl_easy_setopt(ex.easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    if (rc != 0 || ev_curl_add(ex.curl, ex.easy, on_done, NULL) != 0) {
        free(ex.body);
        ex.body = NULL;
        st->export_failed++;
        st->dropped_failed += n;
        warn_failure("libcurl refused the request");
        return;
    }
    ex.batch_n = n;
    ex.inflight = true;
}

static void on_timer(struct ev_loop *loop, void *arg)
{
    (void)arg;
    ex.timer = ev_timer_start(loop, OTLP_FLUSH_MS, on_timer, NULL);
    flush();
}

/* A full batch goes out without waiting for the timer. */
static void on_before_poll(struct ev_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    if (!ex.inflight && mpic_trace_queue_len() >= OTLP_BATCH)
        flush();
}

static int easy_setup(void)
{
    int rc = 0;

    ex.easy = curl_easy_init();
    if (ex.easy == NULL)
        return -1;
    ex.hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    if (ex.hdrs == NULL)
        return -1;
    rc |= curl_easy_setopt(ex.easy, CURLOPT_URL, ex.endpoint);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_POST, 1L);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_HTTPHEADER, ex.hdrs);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_TIMEOUT_MS, (long)OTLP_TIMEOUT_MS);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_CONNECTTIMEOUT_MS,
                           (long)OTLP_TIMEOUT_MS);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(ex.easy, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_PROXY, ""); /* no env proxies */
    rc |= curl_easy_setopt(ex.easy, CURLOPT_WRITEFUNCTION, discard);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_ERRORBUFFER, ex.errbuf);
    rc |= curl_easy_setopt(ex.easy, CURLOPT_TCP_KEEPALIVE, 1L);
    return rc == 0 ? 0 : -1;
}

int mpic_otlp_start(struct ev_loop *loop, const char *endpoint,
                    const char *service_name, const char *perspective_code)
{
    MPIC_ASSERT(ex.loop == NULL);
    ex.loop = loop;
    ex.endpoint = xstrdup(endpoint);
    ex.service = xstrdup(service_name);
    ex.perspective =
        perspective_code != NULL ? xstrdup(perspective_code) : NULL;
    ex.curl = ev_curl_new(loop);
    if (ex.curl == NULL || easy_setup() != 0) {
        log_error("tracing: cannot set up libcurl for %s", endpoint);
        mpic_otlp_stop();
        return -1;
    }
    mpic_trace_queue_setup(OTLP_QUEUE_SPANS);
    ex.timer = ev_timer_start(loop, OTLP_FLUSH_MS, on_timer, NULL);
    ev_before_poll(loop, on_before_poll, NULL);
    ex.hooked = true;
    log_info("tracing: exporting spans to %s (OTLP/HTTP JSON)", endpoint);
    return 0;
}

void mpic_otlp_stop(void)
{
    if (ex.loop == NULL)
        return;
    if (ex.hooked)
        ev_before_poll_remove(ex.loop, on_before_poll, NULL);
    ev_timer_stop(ex.loop, ex.timer);
    if (ex.inflight)
        ev_curl_cancel(ex.curl, ex.easy);
    ev_curl_free(ex.curl);
    if (ex.easy != NULL)
        curl_easy_cleanup(ex.easy);
    curl_slist_free_all(ex.hdrs);
    free(ex.body);
    free(ex.endpoint);
    free(ex.service);
    free(ex.perspective);
    mpic_trace_queue_setup(0);
    memset(&ex, 0, sizeof(ex));
}
