/*
 * JSON-lines logging on stderr (INTERFACE.md): one object per line with
 * "ts", "level", "msg" and, where known, "trace_identifier" and the W3C
 * "trace_id" (docs/tracing.md); each line goes
 * out in a single write(2) so lines of concurrent writers never interleave.
 * The level macros do not evaluate their arguments when the level is off
 * (redis serverLog). Every function preserves errno.
 */
#ifndef MPIC_COMMON_LOG_H
#define MPIC_COMMON_LOG_H

#include <jansson.h>
#include <stdbool.h>

enum mpic_log_level {
    MPIC_LOG_TRACE = 0,
    MPIC_LOG_DEBUG,
    MPIC_LOG_INFO,
    MPIC_LOG_WARN,
    MPIC_LOG_ERROR,
};

extern enum mpic_log_level mpic_log_threshold;

/* Parses "trace|debug|info|warn|error" (case-insensitive); 0 or -1. */
int mpic_log_parse_level(const char *s, enum mpic_log_level *out);
const char *mpic_log_level_name(enum mpic_log_level l);
void mpic_log_set_level(enum mpic_log_level l);
/* Redirects output to fd (default 2); for tests. */
void mpic_log_set_fd(int fd);

/* trace_id may be NULL. */
void mpic_log(enum mpic_log_level l, const char *trace_id, const char *fmt,
              ...) __attribute__((format(printf, 3, 4)));
/* Like mpic_log, appending ": strerror(errno)". */
void mpic_log_errno(enum mpic_log_level l, const char *trace_id,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/*
 * Writes one line whose object is `fields` (borrowed; not modified) plus
 * ts, level, msg and trace_identifier. Used for the audit record.
 */
void mpic_log_json(enum mpic_log_level l, const char *trace_id,
                   const char *msg, json_t *fields);

/*
 * The same with the W3C trace id of the request (docs/tracing.md) as
 * "trace_id" after "trace_identifier" (either may be NULL).
 */
void mpic_log_tr(enum mpic_log_level l, const char *trace_id,
                 const char *w3c_trace_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void mpic_log_json_tr(enum mpic_log_level l, const char *trace_id,
                      const char *w3c_trace_id, const char *msg,
                      json_t *fields);

/*
 * Sets the W3C trace id (borrowed) that lines without one of their own
 * carry until the scope is set again; returns the previous one, to be
 * restored. For code that logs on behalf of a request without knowing it
 * (a library callback of the request's work). NULL: none.
 */
const char *mpic_log_trace_scope(const char *w3c_trace_id);

void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

#define MPIC_LOG_ON(l) ((l) >= mpic_log_threshold)
#define LOG_AT(l, tid, ...)                                                    \
    do {                                                                       \
        if (MPIC_LOG_ON(l))                                                    \
            mpic_log((l), (tid), __VA_ARGS__);                                 \
    } while (0)

#define log_trace(...) LOG_AT(MPIC_LOG_TRACE, NULL, __VA_ARGS__)
#define log_debug(...) LOG_AT(MPIC_LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...)  LOG_AT(MPIC_LOG_INFO, NULL, __VA_ARGS__)
#define log_warn(...)  LOG_AT(MPIC_LOG_WARN, NULL, __VA_ARGS__)
#define log_error(...) LOG_AT(MPIC_LOG_ERROR, NULL, __VA_ARGS__)
/* Request-scoped: the first argument is the trace identifier (or NULL). */
#define logt_debug(tid, ...) LOG_AT(MPIC_LOG_DEBUG, tid, __VA_ARGS__)
#define logt_info(tid, ...)  LOG_AT(MPIC_LOG_INFO, tid, __VA_ARGS__)
#define logt_warn(tid, ...)  LOG_AT(MPIC_LOG_WARN, tid, __VA_ARGS__)
#define logt_error(tid, ...) LOG_AT(MPIC_LOG_ERROR, tid, __VA_ARGS__)
/*
 * Request-scoped with both ids: the Open MPIC trace identifier (or NULL)
 * and the W3C trace id in hex (or NULL).
 */
#define LOG_TR_AT(l, tid, trc, ...)                                            \
    do {                                                                       \
        if (MPIC_LOG_ON(l))                                                    \
            mpic_log_tr((l), (tid), (trc), __VA_ARGS__);                       \
    } while (0)
#define logtr_debug(tid, trc, ...)                                             \
    LOG_TR_AT(MPIC_LOG_DEBUG, tid, trc, __VA_ARGS__)
#define logtr_info(tid, trc, ...)                                              \
    LOG_TR_AT(MPIC_LOG_INFO, tid, trc, __VA_ARGS__)
#define logtr_warn(tid, trc, ...)                                              \
    LOG_TR_AT(MPIC_LOG_WARN, tid, trc, __VA_ARGS__)
#define logtr_error(tid, trc, ...)                                             \
    LOG_TR_AT(MPIC_LOG_ERROR, tid, trc, __VA_ARGS__)
#define log_warn_errno(...)                                                    \
    do {                                                                       \
        if (MPIC_LOG_ON(MPIC_LOG_WARN))                                        \
            mpic_log_errno(MPIC_LOG_WARN, NULL, __VA_ARGS__);                  \
    } while (0)
#define log_error_errno(...)                                                   \
    do {                                                                       \
        if (MPIC_LOG_ON(MPIC_LOG_ERROR))                                       \
            mpic_log_errno(MPIC_LOG_ERROR, NULL, __VA_ARGS__);                 \
    } while (0)

/* Invariants only, never input (docs/STYLE.md 4.8). */
#define MPIC_ASSERT(cond)                                                      \
    do {                                                                       \
        if (!(cond))                                                           \
            fatalx("%s:%d: assertion failed: %s", __FILE__, __LINE__, #cond);  \
    } while (0)

#endif
