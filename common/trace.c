/*
 * W3C Trace Context and the span queue (trace.h). The queue is a ring of
 * fixed capacity: a span that finds it full is dropped and counted, never
 * waited for; the exporter takes batches from the old end.
 */
#include "common/trace.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/mem.h"

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1; /* upper case is invalid (Trace Context 3.2.2) */
}

/* n bytes from 2n lower-case hex characters; -1 if one is not. */
static int hex_decode(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hex_val(s[2 * i]), lo = hex_val(s[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;

    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

int mpic_traceparent_parse(const char *s, size_t len,
                           struct mpic_traceparent *out, const char **why)
{
    struct mpic_traceparent tp;
    const char *reason;

    memset(&tp, 0, sizeof(tp));
    if (s == NULL || len < MPIC_TRACEPARENT_LEN) {
        reason = "shorter than 55 characters";
        goto bad;
    }
    if (hex_decode(s, &tp.version, 1) != 0) {
        reason = "version is not two lower-case hex digits";
        goto bad;
    }
    if (tp.version == 0xff) {
        reason = "version ff is invalid";
        goto bad;
    }
    if (tp.version == 0x00 && len != MPIC_TRACEPARENT_LEN) {
        reason = "version 00 must be exactly 55 characters";
        goto bad;
    }
    if (tp.version != 0x00 && len > MPIC_TRACEPARENT_LEN &&
        s[MPIC_TRACEPARENT_LEN] != '-') {
        reason = "fields of a later version must follow a '-'";
        goto bad;
    }
    if (s[2] != '-' || s[35] != '-' || s[52] != '-') {
        reason = "fields are not separated by '-'";
        goto bad;
    }
    if (hex_decode(s + 3, tp.trace_id, MPIC_TRACE_ID_LEN) != 0) {
        reason = "trace-id is not 32 lower-case hex digits";
        goto bad;
    }
    if (hex_decode(s + 36, tp.parent_id, MPIC_SPAN_ID_LEN) != 0) {
        reason = "parent-id is not 16 lower-case hex digits";
        goto bad;
    }
    if (hex_decode(s + 53, &tp.flags, 1) != 0) {
        reason = "trace-flags is not two lower-case hex digits";
        goto bad;
    }
    if (all_zero(tp.trace_id, MPIC_TRACE_ID_LEN)) {
        reason = "trace-id is all zeros";
        goto bad;
    }
    if (all_zero(tp.parent_id, MPIC_SPAN_ID_LEN)) {
        reason = "parent-id is all zeros";
        goto bad;
    }
    *out = tp;
    return 0;

bad:
    if (why != NULL)
        *why = reason;
    return -1;
}

void mpic_trace_hex(const uint8_t *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 0x0f];
    }
    out[2 * n] = '\0';
}

void mpic_traceparent_format(const uint8_t trace_id[MPIC_TRACE_ID_LEN],
                             const uint8_t span_id[MPIC_SPAN_ID_LEN],
                             uint8_t flags, char *out)
{
    out[0] = '0';
    out[1] = '0';
    out[2] = '-';
    mpic_trace_hex(trace_id, MPIC_TRACE_ID_LEN, out + 3);
    out[35] = '-';
    mpic_trace_hex(span_id, MPIC_SPAN_ID_LEN, out + 36);
    out[52] = '-';
    mpic_trace_hex(&flags, 1, out + 53);
}

static void random_nonzero(uint8_t *out, size_t n)
{
    do {
        if (RAND_bytes(out, (int)n) != 1)
            fatalx("RAND_bytes failed: no trace ids without the CSPRNG");
    } while (all_zero(out, n));
}

void mpic_trace_random_trace_id(uint8_t out[MPIC_TRACE_ID_LEN])
{
    random_nonzero(out, MPIC_TRACE_ID_LEN);
}

void mpic_trace_random_span_id(uint8_t out[MPIC_SPAN_ID_LEN])
{
    random_nonzero(out, MPIC_SPAN_ID_LEN);
}

int64_t mpic_trace_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool mpic_trace_begin(struct mpic_trace *t, const char *traceparent,
                      const char **why)
{
    struct mpic_traceparent tp;
    bool continued = false;

    memset(t, 0, sizeof(*t));
    if (why != NULL)
        *why = NULL;
    if (traceparent != NULL &&
        mpic_traceparent_parse(traceparent, strlen(traceparent), &tp, why) ==
            0) {
        memcpy(t->trace_id, tp.trace_id, MPIC_TRACE_ID_LEN);
        memcpy(t->parent_id, tp.parent_id, MPIC_SPAN_ID_LEN);
        t->flags = tp.flags & MPIC_TRACE_SAMPLED;
        t->has_parent = true;
        continued = true;
    } else {
        mpic_trace_random_trace_id(t->trace_id);
        t->flags = MPIC_TRACE_SAMPLED;
    }
    mpic_trace_random_span_id(t->span_id);
    mpic_trace_hex(t->trace_id, MPIC_TRACE_ID_LEN, t->trace_hex);
    t->start_ns = mpic_trace_now_ns();
    return continued;
}

/* ---- spans ---- */

void mpic_span_init(struct mpic_span *s, const char *name,
                    enum mpic_span_kind kind,
                    const uint8_t trace_id[MPIC_TRACE_ID_LEN],
                    const uint8_t span_id[MPIC_SPAN_ID_LEN],
                    const uint8_t *parent_id, int64_t start_ns)
{
    memset(s, 0, sizeof(*s));
    s->name = name;
    s->kind = kind;
    memcpy(s->trace_id, trace_id, MPIC_TRACE_ID_LEN);
    memcpy(s->span_id, span_id, MPIC_SPAN_ID_LEN);
    if (parent_id != NULL) {
        memcpy(s->parent_id, parent_id, MPIC_SPAN_ID_LEN);
        s->has_parent = true;
    }
    s->start_ns = start_ns;
}

static struct mpic_span_attr *attr_add(struct mpic_span *s, const char *key,
                                       enum mpic_attr_type type)
{
    struct mpic_span_attr *a;

    if (s->n_attrs >= MPIC_SPAN_MAX_ATTRS)
        return NULL;
    a = &s->attrs[s->n_attrs++];
    memset(a, 0, sizeof(*a));
    a->key = key;
    a->type = type;
    return a;
}

void mpic_span_attr_str(struct mpic_span *s, const char *key, const char *v)
{
    struct mpic_span_attr *a;

    if (v == NULL)
        return;
    a = attr_add(s, key, MPIC_ATTR_STR);
    if (a != NULL)
        a->s = xstrdup(v);
}

void mpic_span_attr_int(struct mpic_span *s, const char *key, int64_t v)
{
    struct mpic_span_attr *a = attr_add(s, key, MPIC_ATTR_INT);

    if (a != NULL)
        a->i = v;
}

void mpic_span_attr_bool(struct mpic_span *s, const char *key, bool v)
{
    struct mpic_span_attr *a = attr_add(s, key, MPIC_ATTR_BOOL);

    if (a != NULL)
        a->b = v;
}

void mpic_span_set_status(struct mpic_span *s, enum mpic_span_status st,
                          const char *msg)
{
    s->status = st;
    free(s->status_msg);
    s->status_msg = msg != NULL ? xstrdup(msg) : NULL;
}

void mpic_span_cleanup(struct mpic_span *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n_attrs; i++)
        free(s->attrs[i].s);
    free(s->status_msg);
    memset(s, 0, sizeof(*s));
}

void mpic_trace_check_span(const struct mpic_trace *t,
                           const struct mpic_check_span_info *info)
{
    struct mpic_span s;
    bool dcv = info->check_type != NULL && strcmp(info->check_type, "dcv") == 0;

    if (!mpic_trace_recording())
        return;
    mpic_span_init(&s, dcv ? "dcv check" : "caa check", MPIC_SPAN_SERVER,
                   t->trace_id, t->span_id, t->has_parent ? t->parent_id : NULL,
                   t->start_ns);
    s.end_ns = mpic_trace_now_ns();
    mpic_span_attr_str(&s, "mpic.check_type", info->check_type);
    mpic_span_attr_str(&s, "mpic.validation_method", info->method);
    mpic_span_attr_str(&s, "mpic.target", info->target);
    mpic_span_attr_str(&s, "mpic.trace_identifier", info->trace_identifier);
    mpic_span_attr_str(&s, "mpic.perspective_code", info->perspective_code);
    mpic_span_attr_bool(&s, "mpic.check_passed", info->passed);
    mpic_span_attr_bool(&s, "mpic.check_completed", info->completed);
    if (info->error_type != NULL) {
        mpic_span_attr_str(&s, "error.type", info->error_type);
        if (!info->completed)
            mpic_span_set_status(&s, MPIC_SPAN_STATUS_ERROR, info->error_type);
    }
    mpic_trace_submit(&s, t->flags);
}

void mpic_trace_step_span(const struct mpic_trace *t, const char *name,
                          enum mpic_span_kind kind, int64_t start_ns,
                          const char *error, ...)
{
    struct mpic_span s;
    uint8_t id[MPIC_SPAN_ID_LEN];
    const char *k;
    va_list ap;

    if (t == NULL || !mpic_trace_recording())
        return;
    mpic_trace_random_span_id(id);
    mpic_span_init(&s, name, kind, t->trace_id, id, t->span_id, start_ns);
    s.end_ns = mpic_trace_now_ns();
    va_start(ap, error);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);

        mpic_span_attr_str(&s, k, v);
    }
    va_end(ap);
    if (error != NULL) {
        mpic_span_attr_str(&s, "error.type", "step_failed");
        mpic_span_set_status(&s, MPIC_SPAN_STATUS_ERROR, error);
    }
    mpic_trace_submit(&s, t->flags);
}

/* ---- the queue ---- */

static struct {
    struct mpic_span *ring;
    size_t cap;
    size_t head; /* oldest */
    size_t len;
    struct mpic_trace_stats stats;
} q;

void mpic_trace_queue_setup(size_t capacity)
{
    while (q.len > 0) {
        mpic_span_cleanup(&q.ring[q.head]);
        q.head = (q.head + 1) % q.cap;
        q.len--;
    }
    free(q.ring);
    q.ring = NULL;
    q.cap = 0;
    q.head = 0;
    if (capacity > 0) {
        q.ring = xcalloc(capacity, sizeof(*q.ring));
        q.cap = capacity;
    }
}

bool mpic_trace_recording(void)
{
    return q.cap > 0;
}

void mpic_trace_submit(struct mpic_span *s, uint8_t flags)
{
    if (q.cap == 0 || (flags & MPIC_TRACE_SAMPLED) == 0) {
        mpic_span_cleanup(s);
        return;
    }
    if (q.len == q.cap) {
        q.stats.dropped_full++;
        mpic_span_cleanup(s);
        return;
    }
    q.ring[(q.head + q.len) % q.cap] = *s; /* the ring owns it now */
    q.len++;
    q.stats.queued++;
    memset(s, 0, sizeof(*s));
}

size_t mpic_trace_queue_len(void)
{
    return q.len;
}

size_t mpic_trace_queue_take(struct mpic_span *out, size_t max)
{
    size_t n = 0;

    while (n < max && q.len > 0) {
        out[n++] = q.ring[q.head];
        memset(&q.ring[q.head], 0, sizeof(q.ring[q.head]));
        q.head = (q.head + 1) % q.cap;
        q.len--;
    }
    return n;
}

struct mpic_trace_stats *mpic_trace_stats(void)
{
    return &q.stats;
}

void mpic_trace_metrics(struct mpic_buf *out)
{
    const struct mpic_trace_stats *st = &q.stats;

    mpic_buf_append_str(out,
                        "# HELP mpic_trace_spans_exported_total Spans the OTLP "
                        "collector accepted.\n"
                        "# TYPE mpic_trace_spans_exported_total counter\n");
    mpic_buf_printf(out, "mpic_trace_spans_exported_total %llu\n",
                    (unsigned long long)st->exported);
    mpic_buf_append_str(
        out, "# HELP mpic_trace_spans_dropped_total Spans lost: the queue was "
             "full, or their batch was not accepted by the collector.\n"
             "# TYPE mpic_trace_spans_dropped_total counter\n");
    mpic_buf_printf(out,
                    "mpic_trace_spans_dropped_total{reason=\"queue_full\"} "
                    "%llu\n",
                    (unsigned long long)st->dropped_full);
    mpic_buf_printf(out,
                    "mpic_trace_spans_dropped_total{reason=\"export_failed\"} "
                    "%llu\n",
                    (unsigned long long)st->dropped_failed);
    mpic_buf_append_str(
        out, "# HELP mpic_trace_exports_total OTLP export requests by "
             "result.\n"
             "# TYPE mpic_trace_exports_total counter\n");
    mpic_buf_printf(out, "mpic_trace_exports_total{result=\"ok\"} %llu\n",
                    (unsigned long long)st->export_ok);
    mpic_buf_printf(out, "mpic_trace_exports_total{result=\"failed\"} %llu\n",
                    (unsigned long long)st->export_failed);
    mpic_buf_append_str(out, "# HELP mpic_trace_queue_spans Spans waiting for "
                             "export.\n"
                             "# TYPE mpic_trace_queue_spans gauge\n");
    mpic_buf_printf(out, "mpic_trace_queue_spans %zu\n", q.len);
}
