/*
 * JSON-lines logger. Lines are built with jansson (which escapes whatever a
 * peer or a request put in a message) and written with one write(2).
 */
#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/mem.h"

enum mpic_log_level mpic_log_threshold = MPIC_LOG_INFO;
static int log_fd = 2;

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

static void log_timestamp(char *out, size_t n)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, n, "%s.%06ldZ", base, ts.tv_nsec / 1000);
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

static void log_write(enum mpic_log_level l, const char *trace_id,
                      const char *msg, json_t *fields)
{
    char ts[64];
    json_t *o;
    char *line;
    size_t len;

    log_timestamp(ts, sizeof(ts));
    o = fields != NULL ? json_deep_copy(fields) : json_object();
    if (o == NULL)
        return;
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(mpic_log_level_name(l)));
    json_object_set_new(o, "msg", log_string(msg));
    if (trace_id != NULL)
        json_object_set_new(o, "trace_identifier", json_string(trace_id));
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
                             JSON_ENSURE_ASCII);
    json_decref(o);
    if (line == NULL)
        return;
    len = strlen(line);
    line[len] = '\n'; /* replaces the NUL; we write len + 1 bytes */
    if (write(log_fd, line, len + 1) < 0) {
        /* nowhere left to report it */
    }
    free(line);
}

static void log_vemit(enum mpic_log_level l, const char *trace_id,
                      const char *suffix, const char *fmt, va_list ap)
{
    char *msg = NULL;
    char *full = NULL;

    if (vasprintf(&msg, fmt, ap) < 0)
        return;
    if (suffix != NULL && asprintf(&full, "%s: %s", msg, suffix) >= 0) {
        free(msg);
        msg = full;
    }
    log_write(l, trace_id, msg, NULL);
    free(msg);
}

void mpic_log(enum mpic_log_level l, const char *trace_id, const char *fmt,
              ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vemit(l, trace_id, NULL, fmt, ap);
    va_end(ap);
    errno = saved;
}

void mpic_log_errno(enum mpic_log_level l, const char *trace_id,
                    const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vemit(l, trace_id, strerror(saved), fmt, ap);
    va_end(ap);
    errno = saved;
}

void mpic_log_json(enum mpic_log_level l, const char *trace_id,
                   const char *msg, json_t *fields)
{
    int saved = errno;

    log_write(l, trace_id, msg, fields);
    errno = saved;
}

void fatal(const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    log_vemit(MPIC_LOG_ERROR, NULL, strerror(saved), fmt, ap);
    va_end(ap);
    exit(1);
}

void fatalx(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vemit(MPIC_LOG_ERROR, NULL, NULL, fmt, ap);
    va_end(ap);
    exit(1);
}
