/*
 * Error codes of fallible functions, and the error list that collects every
 * problem found in one piece of input (a request body, a config file) so that
 * all of them are reported together (docs/STYLE.md 4.6).
 */
#ifndef MPIC_COMMON_ERR_H
#define MPIC_COMMON_ERR_H

#include <stdarg.h>
#include <stddef.h>

enum mpic_err {
    MPIC_OK = 0,
    MPIC_ERR_INVALID,  /* bad input; details in an errlist or message */
    MPIC_ERR_NOTFOUND, /* a named thing does not exist */
    MPIC_ERR_TIMEOUT,
    MPIC_ERR_DNS,
    MPIC_ERR_PEER,     /* a remote party misbehaved */
    MPIC_ERR_IO,       /* a system call failed (errno is meaningful) */
    MPIC_ERR_INTERNAL, /* a bug or a library failure */
};

const char *mpic_strerror(enum mpic_err e);

/*
 * One problem. For API input, `type` is the Open MPIC issue_type (e.g.
 * "invalid-perspective-count") and `message` names the JSON path
 * ("$.orchestration_parameters.quorum_count: ..."). For config files, `type`
 * is "config" and `message` reads "file:line: key: problem".
 */
struct mpic_issue {
    char *type;    /* owned */
    char *message; /* owned */
};

struct mpic_errlist {
    struct mpic_issue *items; /* owned */
    size_t n;
    size_t cap;
};

void mpic_errlist_init(struct mpic_errlist *l);
void mpic_errlist_add(struct mpic_errlist *l, const char *type, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));
void mpic_errlist_vadd(struct mpic_errlist *l, const char *type,
                       const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void mpic_errlist_cleanup(struct mpic_errlist *l);

#endif
