/*
 * Allocation wrappers. Running out of memory in our own allocations is fatal
 * (docs/STYLE.md 4.5): these never return NULL. Library allocations (jansson,
 * ldns, curl, c-ares) are still checked by their callers.
 */
#ifndef MPIC_COMMON_MEM_H
#define MPIC_COMMON_MEM_H

#include <stddef.h>

/* All return owned memory; free() it. */
void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size); /* checks the multiplication */
void *xrealloc(void *ptr, size_t size);
void *xreallocarray(void *ptr, size_t nmemb, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xmemdup(const void *p, size_t n); /* adds a NUL after n bytes */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
