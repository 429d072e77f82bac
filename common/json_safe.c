/* Outside bytes into valid UTF-8 and total JSON builders; see json_safe.h. */
#include "common/json_safe.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/mem.h"

static const char REPLACEMENT[] = "\xef\xbf\xbd"; /* U+FFFD */

/*
 * Length of the well-formed sequence at p[0..n) (1 to 4), or 0 if it is
 * ill-formed; then *bad is the length of its maximal subpart (at least 1),
 * the bytes that one U+FFFD replaces (Unicode 15 table 3-7).
 */
static size_t utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
    unsigned char b = p[0];
    unsigned char lo = 0x80;
    unsigned char hi = 0xbf;
    size_t need;
    size_t k;

    *bad = 1;
    if (b < 0x80)
        return 1;
    if (b >= 0xc2 && b <= 0xdf) {
        need = 1;
    } else if (b >= 0xe0 && b <= 0xef) {
        need = 2;
        if (b == 0xe0)
            lo = 0xa0;
        else if (b == 0xed)
            hi = 0x9f; /* no surrogates */
    } else if (b >= 0xf0 && b <= 0xf4) {
        need = 3;
        if (b == 0xf0)
            lo = 0x90;
        else if (b == 0xf4)
            hi = 0x8f; /* nothing above U+10FFFF */
    } else {
        return 0; /* 80..C1, F5..FF never start a sequence */
    }
    for (k = 1; k <= need; k++) {
        if (k >= n || p[k] < lo || p[k] > hi) {
            *bad = k;
            return 0;
        }
        lo = 0x80;
        hi = 0xbf;
    }
    return need + 1;
}

bool mpic_utf8_is_valid(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;
    size_t bad;
    size_t l;

    while (i < n) {
        l = utf8_seq(u + i, n - i, &bad);
        if (l == 0)
            return false;
        i += l;
    }
    return true;
}

char *mpic_utf8_valid(const char *p, size_t n, bool keep_nul, size_t *out_len)
{
    const unsigned char *u = (const unsigned char *)p;
    struct mpic_buf b;
    size_t i = 0;
    size_t bad;
    size_t l;
    char *s;

    if (p == NULL)
        n = 0;
    /* at most 3 bytes (U+FFFD) for each byte in */
    mpic_buf_init(&b, n * 3 + 1);
    while (i < n) {
        l = utf8_seq(u + i, n - i, &bad);
        if (l == 0) {
            mpic_buf_append(&b, REPLACEMENT, 3);
            i += bad;
        } else if (u[i] == '\0' && !keep_nul) {
            mpic_buf_append(&b, REPLACEMENT, 3);
            i++;
        } else {
            mpic_buf_append(&b, p + i, l);
            i += l;
        }
    }
    s = mpic_buf_take(&b, &l);
    if (out_len != NULL)
        *out_len = l;
    return s;
}

static json_t *must(json_t *v)
{
    if (v == NULL)
        fatalx("out of memory (json)");
    return v;
}

json_t *mpic_jstr_bytes(const char *p, size_t n)
{
    size_t len = 0;
    char *s;
    json_t *v;

    if (p == NULL)
        n = 0;
    if (mpic_utf8_is_valid(p, n))
        return must(json_stringn_nocheck(p != NULL ? p : "", n));
    s = mpic_utf8_valid(p, n, true, &len);
    v = json_stringn_nocheck(s, len);
    free(s);
    return must(v);
}

json_t *mpic_jstr(const char *s)
{
    if (s == NULL)
        return must(json_null());
    return mpic_jstr_bytes(s, strlen(s));
}

json_t *mpic_jobj(void)
{
    return must(json_object());
}

json_t *mpic_jarr(void)
{
    return must(json_array());
}

json_t *mpic_jint(long long v)
{
    return must(json_integer((json_int_t)v));
}

json_t *mpic_jbool(bool v)
{
    return must(json_boolean(v));
}

void mpic_jset(json_t *o, const char *key, json_t *v)
{
    /* With v valid, set_new fails only for want of memory (or on a
     * caller's bug: o not an object); neither may pass unnoticed. */
    if (v == NULL || json_object_set_new(o, key, v) != 0)
        fatalx("out of memory (json object)");
}

void mpic_jpush(json_t *a, json_t *v)
{
    if (v == NULL || json_array_append_new(a, v) != 0)
        fatalx("out of memory (json array)");
}
