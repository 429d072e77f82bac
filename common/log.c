/*
 * JSON-lines logger. Lines are written with jansson (which escapes whatever
 * a peer or a request put in a message) into one buffer reused from line to
 * line, without a json_t copy of the caller's fields, and go out in one
 * write(2). Strings that need no escaping (printable ASCII) are copied as
 * they are.
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/mem.h"

enum mpic_log_level mpic_log_threshold = MPIC_LOG_INFO;
static int log_fd = 2;

/* mpic_log_trace_scope(); borrowed. */
static _Thread_local const char *scope_trace_id;

static const char *const level_names[] = {"trace", "debug", "info", "warn",
                                          "error"};

int mpic_log_parse_level(const char *s, enum mpic_log_level *out)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcasecmp(s, level_names[i]) == 0) {
            *out = (enum mpic_log_level)i;
            return 0;
        }
    }
    if (strcasecmp(s, "warning") == 0) {
        *out = MPIC_LOG_WARN;
        return 0;
    }
    return -1;
}

const char *mpic_log_level_name(enum mpic_log_level l)
{
    if ((unsigned)l < sizeof(level_names) / sizeof(level_names[0]))
        return level_names[l];
    return "unknown";
}

void mpic_log_set_level(enum mpic_log_level l)
{
    mpic_log_threshold = l;
}

void mpic_log_set_fd(int fd)
{
    log_fd = fd;
}

/*
 * "YYYY-MM-DDTHH:MM:SS.uuuuuuZ" (UTC) into out[LOG_TS_MAX]; returns its
 * length. The part up to the seconds changes once a second, so it is kept
 * from the previous line (per thread) instead of going through gmtime_r and
 * strftime every time.
 */
#define LOG_TS_MAX 64

static size_t log_timestamp(char *out)
{
    static _Thread_local time_t cached_sec = (time_t)-1;
    static _Thread_local char cached[20];
    struct timespec ts;
    struct tm tm;
    char base[32];
    long usec;

    clock_gettime(CLOCK_REALTIME, &ts);
    usec = ts.tv_nsec / 1000;
    if (ts.tv_sec != cached_sec) {
        gmtime_r(&ts.tv_sec, &tm);
        base[0] = '\0';
        if (strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm) != 19) {
            /* Not a four-digit year: the general format, uncached. */
            cached_sec = (time_t)-1;
            return (size_t)snprintf(out, LOG_TS_MAX, "%s.%06ldZ", base, usec);
        }
        memcpy(cached, base, 19);
        cached_sec = ts.tv_sec;
    }
    memcpy(out, cached, 19);
    out[19] = '.';
    for (int i = 25; i >= 20; i--) {
        out[i] = (char)('0' + usec % 10);
        usec /= 10;
    }
    out[26] = 'Z';
    out[27] = '\0';
    return 27;
}

/* A JSON string of s; bytes that are not valid UTF-8 become '?'. */
static json_t *log_string(const char *s)
{
    json_t *j = json_string(s);
    char *copy;

    if (j != NULL)
        return j;
    copy = xstrdup(s);
    for (char *p = copy; *p != '\0'; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    free(copy);
    return j;
}

/*
 * The line being built, kept between lines (per thread): once it has grown
 * to the usual line size, writing a line allocates nothing. A buffer grown
 * past LINE_KEEP_MAX by an unusual line is let go afterwards.
 */
#define LINE_KEEP_MAX (64 * 1024)

static _Thread_local struct mpic_buf line_buf;

/* A json_dump_callback_t appending to an mpic_buf. */
static int line_put(const char *s, size_t n, void *arg)
{
    return mpic_buf_append(arg, s, n);
}

#define LINE_LIT(b, lit) line_put((lit), sizeof(lit) - 1, (b))

#define LOG_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII)

/*
 * True if jansson would write s (with JSON_ENSURE_ASCII) as the bytes of s
 * between quotes: printable ASCII without '"' and '\\'. Such strings, most
 * messages, skip the json_t round trip; anything else goes through jansson.
 */
static bool log_plain(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p != '\0'; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            return false;
    }
    *len = (size_t)(p - (const unsigned char *)s);
    return true;
}

/*
 * Appends ,"key":value for the string s. A string jansson refuses (invalid
 * UTF-8 in a trace identifier) leaves the field out, as a failed
 * json_object_set_new did. msg is made valid instead (log_string).
 * Returns -1 if the line cannot be completed.
 */
static int line_field(struct mpic_buf *b, const char *key, size_t key_len,
                      const char *s, bool lossy)
{
    json_t *j;
    size_t n;
    int rc;

    if (log_plain(s, &n)) {
        if (line_put(key, key_len, b) != 0 || LINE_LIT(b, "\"") != 0 ||
            line_put(s, n, b) != 0 || LINE_LIT(b, "\"") != 0)
            return -1;
        return 0;
    }
    j = lossy ? log_string(s) : json_string(s);
    if (j == NULL)
        return 0;
    rc = line_put(key, key_len, b);
    if (rc == 0)
        rc = json_dump_callback(j, line_put, b,
                                LOG_DUMP_FLAGS | JSON_ENCODE_ANY);
    json_decref(j);
    return rc;
}

/*
 * The line is `fields` followed by ts, level, msg and trace_identifier, as
 * if they were set on a copy of `fields` (an existing key keeps its place
 * and takes the new value). In the usual case none of them is in `fields`,
 * or trace_identifier already holds trace_id, and the caller's object is
 * dumped in place (JSON_EMBED) without a copy.
 */
static bool fields_in_place(const json_t *fields, const char *trace_id,
                            const char *w3c_trace_id)
{
    const json_t *t;

    if (fields == NULL)
        return true;
    if (!json_is_object(fields) || json_object_get(fields, "ts") != NULL ||
        json_object_get(fields, "level") != NULL ||
        json_object_get(fields, "msg") != NULL ||
        (w3c_trace_id != NULL && json_object_get(fields, "trace_id") != NULL))
        return false;
    t = json_object_get(fields, "trace_identifier");
    if (t == NULL || trace_id == NULL)
        return true;
    return json_is_string(t) && json_string_length(t) == strlen(trace_id) &&
           memcmp(json_string_value(t), trace_id, strlen(trace_id)) == 0;
}

/* The general case: a copy of fields with the four keys set on it. */
static int line_from_copy(struct mpic_buf *b, enum mpic_log_level l,
                          const char *trace_id, const char *w3c_trace_id,
                          const char *msg, const json_t *fields, const char *ts)
{
    json_t *o = json_deep_copy(fields);
    int rc;

    if (o == NULL)
        return -1;
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(mpic_log_level_name(l)));
    json_object_set_new(o, "msg", log_string(msg));
    if (trace_id != NULL)
        json_object_set_new(o, "trace_identifier", json_string(trace_id));
    if (w3c_trace_id != NULL)
        json_object_set_new(o, "trace_id", json_string(w3c_trace_id));
    rc = json_dump_callback(o, line_put, b, LOG_DUMP_FLAGS);
    json_decref(o);
    return rc;
}

static void log_write(enum mpic_log_level l, const char *trace_id,
                      const char *w3c_trace_id, const char *msg,
                      const json_t *fields)
{
    char ts[LOG_TS_MAX];
    size_t ts_len = log_timestamp(ts);
    const char *level = mpic_log_level_name(l);
    struct mpic_buf *b = &line_buf;
    int rc = 0;

    if (w3c_trace_id == NULL)
        w3c_trace_id = scope_trace_id;
    if (b->max == 0)
        mpic_buf_init(b, SIZE_MAX / 2);
    mpic_buf_reset(b);
    if (!fields_in_place(fields, trace_id, w3c_trace_id)) {
        rc = line_from_copy(b, l, trace_id, w3c_trace_id, msg, fields, ts);
    } else {
        rc |= LINE_LIT(b, "{");
        if (fields != NULL && json_object_size(fields) > 0) {
            rc |= json_dump_callback(fields, line_put, b,
                                     LOG_DUMP_FLAGS | JSON_EMBED);
            rc |= LINE_LIT(b, ",");
        }
        rc |= LINE_LIT(b, "\"ts\":\"");
        rc |= line_put(ts, ts_len, b);
        rc |= LINE_LIT(b, "\",\"level\":\"");
        rc |= line_put(level, strlen(level), b);
        rc |= LINE_LIT(b, "\"");
        rc |= line_field(b, ",\"msg\":", 7, msg, true);
        if (trace_id != NULL &&
            (fields == NULL ||
             json_object_get(fields, "trace_identifier") == NULL))
            rc |= line_field(b, ",\"trace_identifier\":", 20, trace_id, false);
        if (w3c_trace_id != NULL)
            rc |= line_field(b, ",\"trace_id\":", 12, w3c_trace_id, false);
        rc |= LINE_LIT(b, "}");
    }
    rc |= LINE_LIT(b, "\n");
    if (rc == 0 && write(log_fd, b->data, b->len) < 0) {
        /* nowhere left to report it */
    }
    if (b->cap > LINE_KEEP_MAX)
        mpic_buf_cleanup(b); /* mpic_buf_init again next time */
}

/* Formats into a stack buffer; only a long message is allocated. */
static void log_vemit(enum mpic_log_level l, const char *trace_id,
                      const char *w3c_trace_id, const char *suffix,
                      const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void log_vemit(enum mpic_log_level l, const char *trace_id,
                      const char *w3c_trace_id, const char *suffix,
                      const char *fmt, va_list ap)
{
    char stack[512];
    char *msg = stack;
    char *heap = NULL;
    char *full = NULL;
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(stack, sizeof(stack), fmt, ap);
    if (n < 0)
        goto out;
    if ((size_t)n >= sizeof(stack)) {
        heap = xmalloc((size_t)n + 1);
        if (vsnprintf(heap, (size_t)n + 1, fmt, ap2) != n)
            goto out;
        msg = heap;
    }
    if (suffix != NULL) {
        if (asprintf(&full, "%s: %s", msg, suffix) >= 0)
            msg = full;
        else
            full = NULL; /* undefined after a failure */
    }
    log_write(l, trace_id, w3c_trace_id, msg, NULL);
out:
    va_end(ap2);
    free(heap);
    free(full);
}

void mpic_log(enum mpic_log_level l, const char *trace_id, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vemit(l, trace_id, NULL, NULL, fmt, ap);
    va_end(ap);
    errno = saved;
}

void mpic_log_errno(enum mpic_log_level l, const char *trace_id,
                    const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vemit(l, trace_id, NULL, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

void mpic_log_json(enum mpic_log_level l, const char *trace_id, const char *msg,
                   json_t *fields)
{
    int saved = errno;

    log_write(l, trace_id, NULL, msg, fields);
    errno = saved;
}

void mpic_log_tr(enum mpic_log_level l, const char *trace_id,
                 const char *w3c_trace_id, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vemit(l, trace_id, w3c_trace_id, NULL, fmt, ap);
    va_end(ap);
    errno = saved;
}

void mpic_log_json_tr(enum mpic_log_level l, const char *trace_id,
                      const char *w3c_trace_id, const char *msg, json_t *fields)
{
    int saved = errno;

    log_write(l, trace_id, w3c_trace_id, msg, fields);
    errno = saved;
}

const char *mpic_log_trace_scope(const char *w3c_trace_id)
{
    const char *old = scope_trace_id;

    scope_trace_id = w3c_trace_id;
    return old;
}

void fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vemit(MPIC_LOG_ERROR, NULL, NULL, strerror(saved), fmt, ap);
    va_end(ap);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vemit(MPIC_LOG_ERROR, NULL, NULL, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}
