/*
 * Tracing (docs/tracing.md): W3C Trace Context (traceparent, version 00)
 * parsed and formatted, random trace and span ids from OpenSSL's CSPRNG,
 * and the spans a daemon records: a bounded in-memory queue that an
 * exporter (otlp_export.c) drains off the hot path. Nothing here blocks or
 * makes network traffic; with no exporter started, spans are not recorded
 * at all (mpic_trace_recording() is false) but ids are still made and
 * propagated.
 */
#ifndef MPIC_COMMON_TRACE_H
#define MPIC_COMMON_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define MPIC_TRACE_ID_LEN    16
#define MPIC_SPAN_ID_LEN     8
#define MPIC_TRACE_HEX_LEN   32 /* without the NUL */
#define MPIC_TRACEPARENT_LEN 55 /* version 00, without the NUL */
#define MPIC_TRACE_SAMPLED   0x01u

/* A parsed traceparent header. */
struct mpic_traceparent {
    uint8_t version;
    uint8_t trace_id[MPIC_TRACE_ID_LEN];
    uint8_t parent_id[MPIC_SPAN_ID_LEN];
    uint8_t flags;
};

/*
 * Parses a traceparent value (W3C Trace Context Level 1, 3.2): version,
 * trace-id, parent-id and trace-flags as lower-case hex separated by '-'.
 * Version ff, upper-case hex, a wrong length, an all-zero trace-id or
 * parent-id are invalid. Version 00 is exactly 55 characters; a later
 * version may be longer if the 56th character is '-' (its extra fields are
 * ignored). Returns 0 with *out set, or -1 with a static reason in *why
 * (why may be NULL). s need not be NUL-terminated: len bytes are read.
 */
int mpic_traceparent_parse(const char *s, size_t len,
                           struct mpic_traceparent *out, const char **why);

/* Lower-case hex of n bytes into out (2n characters and a NUL). */
void mpic_trace_hex(const uint8_t *p, size_t n, char *out);

/* "00-<trace>-<span>-<flags>" into out[MPIC_TRACEPARENT_LEN + 1]. */
void mpic_traceparent_format(const uint8_t trace_id[MPIC_TRACE_ID_LEN],
                             const uint8_t span_id[MPIC_SPAN_ID_LEN],
                             uint8_t flags, char *out);

/* Random non-zero ids (RAND_bytes; fatalx if the CSPRNG fails). */
void mpic_trace_random_trace_id(uint8_t out[MPIC_TRACE_ID_LEN]);
void mpic_trace_random_span_id(uint8_t out[MPIC_SPAN_ID_LEN]);

/*
 * The trace of one server request: the caller's trace continued (a valid
 * traceparent) or a new one, and the id of our own server span.
 */
struct mpic_trace {
    uint8_t trace_id[MPIC_TRACE_ID_LEN];
    uint8_t parent_id[MPIC_SPAN_ID_LEN]; /* the caller's span; zero if none */
    uint8_t span_id[MPIC_SPAN_ID_LEN];   /* our server span */
    uint8_t flags;                       /* sampled bit only */
    bool has_parent;
    char trace_hex[MPIC_TRACE_HEX_LEN + 1];
    int64_t start_ns; /* Unix time the server span began */
};

/*
 * Fills t from a traceparent header value (NULL: absent). A valid value is
 * continued; anything else starts a new trace, sampled. Returns true if the
 * header was present and continued, false otherwise; *why (may be NULL)
 * says why a present value was refused (NULL if absent or valid).
 */
bool mpic_trace_begin(struct mpic_trace *t, const char *traceparent,
                      const char **why);

/* ---- spans ---- */

enum mpic_span_kind {
    MPIC_SPAN_INTERNAL = 1,
    MPIC_SPAN_SERVER = 2,
    MPIC_SPAN_CLIENT = 3,
};

enum mpic_span_status {
    MPIC_SPAN_STATUS_UNSET = 0,
    MPIC_SPAN_STATUS_OK = 1,
    MPIC_SPAN_STATUS_ERROR = 2,
};

enum mpic_attr_type { MPIC_ATTR_STR, MPIC_ATTR_INT, MPIC_ATTR_BOOL };

#define MPIC_SPAN_MAX_ATTRS 10

struct mpic_span_attr {
    const char *key; /* static */
    enum mpic_attr_type type;
    char *s; /* owned, MPIC_ATTR_STR */
    int64_t i;
    bool b;
};

struct mpic_span {
    uint8_t trace_id[MPIC_TRACE_ID_LEN];
    uint8_t span_id[MPIC_SPAN_ID_LEN];
    uint8_t parent_id[MPIC_SPAN_ID_LEN];
    bool has_parent;
    const char *name; /* static */
    enum mpic_span_kind kind;
    int64_t start_ns, end_ns; /* Unix time */
    enum mpic_span_status status;
    char *status_msg; /* owned or NULL */
    size_t n_attrs;
    struct mpic_span_attr attrs[MPIC_SPAN_MAX_ATTRS];
};

/* Unix time in ns (CLOCK_REALTIME). */
int64_t mpic_trace_now_ns(void);

/*
 * Initialises s (ids copied, no attributes). parent may be NULL (a root
 * span).
 */
void mpic_span_init(struct mpic_span *s, const char *name,
                    enum mpic_span_kind kind,
                    const uint8_t trace_id[MPIC_TRACE_ID_LEN],
                    const uint8_t span_id[MPIC_SPAN_ID_LEN],
                    const uint8_t *parent_id, int64_t start_ns);
/* Attributes beyond MPIC_SPAN_MAX_ATTRS are ignored; strings are copied
 * (NULL: the attribute is left out). */
void mpic_span_attr_str(struct mpic_span *s, const char *key, const char *v);
void mpic_span_attr_int(struct mpic_span *s, const char *key, int64_t v);
void mpic_span_attr_bool(struct mpic_span *s, const char *key, bool v);
void mpic_span_set_status(struct mpic_span *s, enum mpic_span_status st,
                          const char *msg);
/* Frees what s owns. NULL-safe. */
void mpic_span_cleanup(struct mpic_span *s);

/*
 * A checker's server span for one check (name "<check_type> check"):
 * parent the caller's span, attributes naming the check and its result.
 * Strings may be NULL (left out). Does nothing unless recording.
 */
struct mpic_check_span_info {
    const char *check_type;       /* "caa" or "dcv" */
    const char *method;           /* DCV validation method, or NULL */
    const char *target;           /* domain_or_ip_target */
    const char *trace_identifier; /* Open MPIC trace_identifier */
    const char *perspective_code;
    bool passed;
    bool completed;
    const char *error_type; /* first error, or NULL */
};
void mpic_trace_check_span(const struct mpic_trace *t,
                           const struct mpic_check_span_info *info);

/*
 * A child span of t's server span for one step of a check (a DNS query, a
 * CAA tree lookup, an HTTP fetch, a TLS handshake), from start_ns to now.
 * The variable arguments are attribute key/value string pairs ending with
 * a NULL key (a NULL value leaves that attribute out); error (NULL: none)
 * marks the step failed. Does nothing unless recording.
 */
void mpic_trace_step_span(const struct mpic_trace *t, const char *name,
                          enum mpic_span_kind kind, int64_t start_ns,
                          const char *error, ...);

/* ---- the span queue (one per process) ---- */

struct mpic_trace_stats {
    uint64_t queued;         /* spans accepted into the queue */
    uint64_t exported;       /* spans the collector accepted */
    uint64_t dropped_full;   /* refused: the queue was full */
    uint64_t dropped_failed; /* lost with a batch that was not accepted */
    uint64_t export_ok;      /* POSTs accepted */
    uint64_t export_failed;  /* POSTs failed (transport, timeout, non-2xx) */
};

/*
 * Turns recording on with a queue of `capacity` spans (0: off again, and
 * what is queued is freed). The exporter calls this.
 */
void mpic_trace_queue_setup(size_t capacity);
/* True if spans are being recorded: build them only then. */
bool mpic_trace_recording(void);
/*
 * Ends s (end_ns set by the caller) and queues it if recording and sampled
 * (flags & MPIC_TRACE_SAMPLED); otherwise, or when the queue is full (then
 * counted as dropped), frees it. s is left empty either way.
 */
void mpic_trace_submit(struct mpic_span *s, uint8_t flags);
/* Spans waiting. */
size_t mpic_trace_queue_len(void);
/*
 * Moves up to max of the oldest spans into out (caller-owned array of at
 * least max); returns how many.
 */
size_t mpic_trace_queue_take(struct mpic_span *out, size_t max);
/* The counters (the exporter updates exported/failed through these). */
struct mpic_trace_stats *mpic_trace_stats(void);
/* Appends the Prometheus lines of the counters (HELP and TYPE). */
void mpic_trace_metrics(struct mpic_buf *out);

/* ---- OTLP/HTTP JSON (otlp.c) ---- */

/*
 * The ExportTraceServiceRequest of spans[0..n) in the OTLP JSON encoding
 * (ids as lower-case hex, times as decimal strings, enums as integers):
 * one resourceSpans with service.name (and mpic.perspective_code when set)
 * and one scopeSpans. Returns an owned string, or NULL on OOM.
 */
char *mpic_otlp_encode(const struct mpic_span *spans, size_t n,
                       const char *service_name, const char *perspective_code,
                       size_t *len);

/* NULL if url is usable as an OTLP endpoint (http:// or https:// with a
 * host), else a static reason. */
const char *mpic_otlp_endpoint_check(const char *url);

#endif
