/* Capped byte buffer; see buf.h. */
#include "common/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

void mpic_buf_init(struct mpic_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

static int buf_reserve(struct mpic_buf *b, size_t n)
{
    size_t need, cap;

    if (n > b->max || b->len > b->max - n) {
        b->overflowed = true;
        return -1;
    }
    need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    b->data = xrealloc(b->data, cap);
    b->cap = cap;
    return 0;
}

int mpic_buf_append(struct mpic_buf *b, const void *data, size_t n)
{
    if (buf_reserve(b, n) != 0)
        return -1;
    if (n > 0)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mpic_buf_append_str(struct mpic_buf *b, const char *s)
{
    return mpic_buf_append(b, s, strlen(s));
}

int mpic_buf_printf(struct mpic_buf *b, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n, rc;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    rc = mpic_buf_append(b, s, (size_t)n);
    free(s);
    return rc;
}

void mpic_buf_reset(struct mpic_buf *b)
{
    b->len = 0;
    b->overflowed = false;
    if (b->data != NULL)
        b->data[0] = '\0';
}

char *mpic_buf_take(struct mpic_buf *b, size_t *len)
{
    char *d = b->data;

    if (d == NULL)
        d = xstrdup("");
    if (len != NULL)
        *len = b->len;
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->overflowed = false;
    return d;
}

void mpic_buf_cleanup(struct mpic_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}
