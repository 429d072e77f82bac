/*
 * Unit tests for common/json_safe.c: outside bytes made valid UTF-8
 * (U+FFFD per maximal subpart, NULs kept or replaced) and JSON strings
 * built from them that jansson always accepts and writes out.
 */
#include "common/json_safe.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define FFFD "\xef\xbf\xbd"

static void expect_valid(const char *in, size_t n, bool keep_nul,
                         const char *want, size_t want_len)
{
    size_t len = 99;
    char *s = mpic_utf8_valid(in, n, keep_nul, &len);

    assert_int_equal(len, want_len);
    assert_memory_equal(s, want, want_len);
    assert_int_equal(s[len], '\0');
    assert_true(mpic_utf8_is_valid(s, len));
    free(s);
}

static void test_valid_input_unchanged(void **state)
{
    (void)state;
    expect_valid("abc", 3, true, "abc", 3);
    expect_valid("caf\xc3\xa9", 5, true, "caf\xc3\xa9", 5);
    expect_valid("\xf0\x9f\x98\x80", 4, true, "\xf0\x9f\x98\x80", 4);
    expect_valid("\xef\xbf\xbf", 3, true, "\xef\xbf\xbf", 3);
    expect_valid("\xf4\x8f\xbf\xbf", 4, true, "\xf4\x8f\xbf\xbf", 4);
    expect_valid("", 0, true, "", 0);
    expect_valid(NULL, 5, true, "", 0);
    assert_true(mpic_utf8_is_valid("a\0b", 3));
}

/* Unicode 15 table 3-8: one U+FFFD per maximal subpart. */
static void test_maximal_subparts(void **state)
{
    (void)state;
    expect_valid("/\xff\xfe", 3, true, "/" FFFD FFFD, 7);
    expect_valid("\xc0\xaf", 2, true, FFFD FFFD, 6); /* overlong */
    expect_valid("\xe0\x80\xaf", 3, true, FFFD FFFD FFFD, 9);
    expect_valid("\xed\xa0\x80", 3, true, FFFD FFFD FFFD, 9); /* surrogate */
    expect_valid("\xf4\x90\x80\x80", 4, true, FFFD FFFD FFFD FFFD, 12);
    expect_valid("\xe1\x80", 2, true, FFFD, 3);     /* truncated: one */
    expect_valid("\xf1\x80\x80", 3, true, FFFD, 3); /* truncated: one */
    expect_valid("\xe1\x80"
                 "a",
                 3, true, FFFD "a", 4);
    expect_valid("\xc3(", 2, true, FFFD "(", 4);
    expect_valid("\x80\xbf", 2, true, FFFD FFFD, 6);
    expect_valid("a\xf5\x80z", 4, true, "a" FFFD FFFD "z", 8);
}

static void test_nul_kept_or_replaced(void **state)
{
    (void)state;
    expect_valid("a\0b", 3, true, "a\0b", 3);
    expect_valid("a\0b", 3, false, "a" FFFD "b", 5);
    expect_valid("\xff\0", 2, false, FFFD FFFD, 6);
}

static void test_json_strings(void **state)
{
    json_t *v;
    char *out;
    (void)state;

    v = mpic_jstr_bytes("x\0\xff", 3);
    assert_non_null(v);
    assert_int_equal(json_string_length(v), 5);
    out = json_dumps(v, JSON_ENCODE_ANY);
    assert_string_equal(out, "\"x\\u0000" FFFD "\"");
    free(out);
    json_decref(v);

    v = mpic_jstr(NULL);
    assert_true(json_is_null(v));
    json_decref(v);

    v = mpic_jobj();
    mpic_jset(v, "k",
              mpic_jstr("\xfe"
                        "ok"));
    mpic_jset(v, "n", mpic_jint(-3));
    mpic_jset(v, "b", mpic_jbool(true));
    mpic_jset(v, "a", mpic_jarr());
    mpic_jpush(json_object_get(v, "a"), mpic_jstr_bytes(NULL, 0));
    out = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(out, "{\"a\":[\"\"],\"b\":true,\"k\":\"" FFFD
                             "ok\",\"n\":-3}");
    free(out);
    json_decref(v);
}

/* Every byte string of length 1 and 2 comes out valid and JSON-safe. */
static void test_all_short_inputs(void **state)
{
    unsigned char in[2];
    (void)state;

    for (unsigned a = 0; a < 256; a++) {
        for (unsigned b = 0; b < 256; b++) {
            json_t *v;
            char *out;

            in[0] = (unsigned char)a;
            in[1] = (unsigned char)b;
            v = mpic_jstr_bytes((const char *)in, 2);
            out = json_dumps(v, JSON_ENCODE_ANY);
            assert_non_null(out);
            free(out);
            json_decref(v);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_input_unchanged),
        cmocka_unit_test(test_maximal_subparts),
        cmocka_unit_test(test_nul_kept_or_replaced),
        cmocka_unit_test(test_json_strings),
        cmocka_unit_test(test_all_short_inputs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
