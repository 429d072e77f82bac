/* String vectors; see strv.h. */
#include "common/strv.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

void mpic_strv_init(struct mpic_strv *s)
{
    memset(s, 0, sizeof(*s));
}

void mpic_strv_push_owned(struct mpic_strv *s, char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4;
        s->v = xreallocarray(s->v, s->cap, sizeof(*s->v));
    }
    s->v[s->n++] = str;
}

void mpic_strv_push(struct mpic_strv *s, const char *str)
{
    mpic_strv_push_owned(s, xstrdup(str));
}

void mpic_strv_split(struct mpic_strv *s, const char *in, const char *seps)
{
    const char *p = in;

    while (*p != '\0') {
        size_t n = strcspn(p, seps);
        const char *b = p, *e = p + n;

        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (e > b)
            mpic_strv_push_owned(s, xmemdup(b, (size_t)(e - b)));
        p += n;
        if (*p != '\0')
            p++;
    }
}

bool mpic_strv_contains(const struct mpic_strv *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->v[i], str) == 0)
            return true;
    }
    return false;
}

bool mpic_strv_contains_icase(const struct mpic_strv *s, const char *str)
{
    for (size_t i = 0; i < s->n; i++) {
        if (strcasecmp(s->v[i], str) == 0)
            return true;
    }
    return false;
}

void mpic_strv_copy(struct mpic_strv *dst, const struct mpic_strv *src)
{
    mpic_strv_init(dst);
    for (size_t i = 0; i < src->n; i++)
        mpic_strv_push(dst, src->v[i]);
}

void mpic_strv_cleanup(struct mpic_strv *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof(*s));
}
