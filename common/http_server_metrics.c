/*
 * The HTTP layer's Prometheus metrics: a counter of answered requests by
 * path, method and status, a duration histogram by path, and the in-flight
 * gauge, rendered for GET /metrics. Labels come from fixed sets (route
 * paths, built-ins, known methods, else "other"), so clients cannot grow
 * them. Serving /metrics is in http_server_routes.c.
 */
#include "common/http_server_int.h"

#include <inttypes.h>
#include <string.h>

#include "common/mem.h"

static const double duration_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                          0.5,   1,    2.5,   5,    10,  30};
#define NBUCKETS (sizeof(duration_buckets) / sizeof(duration_buckets[0]))

/* Methods that may appear as a metrics label; anything else is "other". */
static const char *const known_methods[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
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

static const char *method_label(const char *m)
{
    size_t i;

    for (i = 0; i < sizeof(known_methods) / sizeof(known_methods[0]); i++) {
        if (strcmp(m, known_methods[i]) == 0)
            return known_methods[i];
    }
    return PATH_OTHER;
}

void http_metrics_record(struct mpic_http_server *srv,
                         const struct mpic_http_request *req, unsigned status,
                         uint64_t dur_ms)
{
    const char *path = req->route_label;
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

void http_metrics_render(const struct mpic_http_server *srv, struct mpic_buf *b)
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
