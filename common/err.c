/* Error codes and error lists; see err.h. */
#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"

const char *mpic_strerror(enum mpic_err e)
{
    switch (e) {
    case MPIC_OK:
        return "success";
    case MPIC_ERR_INVALID:
        return "invalid input";
    case MPIC_ERR_NOTFOUND:
        return "not found";
    case MPIC_ERR_TIMEOUT:
        return "timed out";
    case MPIC_ERR_DNS:
        return "DNS failure";
    case MPIC_ERR_PEER:
        return "peer failure";
    case MPIC_ERR_IO:
        return "I/O failure";
    case MPIC_ERR_INTERNAL:
        return "internal error";
    }
    return "unknown error";
}

void mpic_errlist_init(struct mpic_errlist *l)
{
    memset(l, 0, sizeof(*l));
}

void mpic_errlist_vadd(struct mpic_errlist *l, const char *type,
                       const char *fmt, va_list ap)
{
    char *msg = NULL;

    if (vasprintf(&msg, fmt, ap) < 0)
        fatalx("out of memory (errlist)");
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->items = xreallocarray(l->items, l->cap, sizeof(*l->items));
    }
    /* Messages quote outside text (a peer's reason phrase, a Location, a
     * record): kept valid UTF-8 here so every encoder can take them. */
    l->items[l->n].type = mpic_utf8_valid(type, strlen(type), false, NULL);
    l->items[l->n].message = mpic_utf8_valid(msg, strlen(msg), false, NULL);
    free(msg);
    l->n++;
}

void mpic_errlist_add(struct mpic_errlist *l, const char *type, const char *fmt,
                      ...)
{
    va_list ap;

    va_start(ap, fmt);
    mpic_errlist_vadd(l, type, fmt, ap);
    va_end(ap);
}

void mpic_errlist_cleanup(struct mpic_errlist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].type);
        free(l->items[i].message);
    }
    free(l->items);
    memset(l, 0, sizeof(*l));
}
