/*
 * The only place that calls malloc, calloc, realloc and strdup directly.
 * Failure ends the process through fatalx(): a daemon that cannot allocate
 * a few bytes cannot answer correctly either.
 */
#include "common/mem.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

void *xmalloc(size_t size)
{
    void *p = malloc(size == 0 ? 1 : size);

    if (p == NULL)
        fatalx("out of memory (%zu bytes)", size);
    return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
    void *p;

    if (nmemb == 0 || size == 0) {
        nmemb = 1;
        size = 1;
    }
    if (SIZE_MAX / nmemb < size)
        fatalx("xcalloc: %zu * %zu overflows", nmemb, size);
    p = calloc(nmemb, size);
    if (p == NULL)
        fatalx("out of memory (%zu * %zu bytes)", nmemb, size);
    return p;
}

void *xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size == 0 ? 1 : size);

    if (p == NULL)
        fatalx("out of memory (%zu bytes)", size);
    return p;
}

void *xreallocarray(void *ptr, size_t nmemb, size_t size)
{
    if (size != 0 && SIZE_MAX / size < nmemb)
        fatalx("xreallocarray: %zu * %zu overflows", nmemb, size);
    return xrealloc(ptr, nmemb * size);
}

char *xstrdup(const char *s)
{
    return xmemdup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    return xmemdup(s, strnlen(s, n));
}

char *xmemdup(const void *p, size_t n)
{
    char *s;

    if (n == SIZE_MAX)
        fatalx("xmemdup: size overflows");
    s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        fatalx("out of memory (asprintf)");
    return s;
}
