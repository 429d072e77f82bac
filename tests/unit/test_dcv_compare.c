/* Unit tests of the DCV comparison rules (dcv-checker/dcv_compare.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dcv-checker/dcv.h"

static void test_value_exact_case_sensitive(void **state)
{
    (void)state;
    assert_true(dcv_value_matches("abcDEF", 6, "abcDEF", true, true));
    assert_false(dcv_value_matches("abcdef", 6, "abcDEF", true, true));
}

static void test_value_exact_case_insensitive(void **state)
{
    (void)state;
    assert_true(dcv_value_matches("ABCdef", 6, "abcDEF", false, true));
    assert_false(dcv_value_matches("ABCdeg", 6, "abcDEF", false, true));
}

static void test_value_exact_refuses_longer_record(void **state)
{
    (void)state;
    assert_false(dcv_value_matches("xabc", 4, "abc", true, true));
    assert_false(dcv_value_matches("abc", 3, "abcd", true, true));
}

static void test_value_substring(void **state)
{
    (void)state;
    assert_true(dcv_value_matches("pre-token-post", 14, "token", true, false));
    assert_true(dcv_value_matches("token", 5, "token", true, false));
    assert_false(dcv_value_matches("pre-TOKEN-post", 14, "token", true, false));
    assert_true(dcv_value_matches("pre-TOKEN-post", 14, "token", false, false));
    assert_false(dcv_value_matches("tok", 3, "token", false, false));
}

static void test_value_empty_challenge_never_matches_substring(void **state)
{
    (void)state;
    assert_false(dcv_value_matches("anything", 8, "", true, false));
    assert_true(dcv_value_matches("", 0, "", true, true));
}

static void test_value_nul_bytes_are_kept(void **state)
{
    /* A record "abc\0def" is not "abcdef", and is not "abc" either. */
    static const char rec[] = {'a', 'b', 'c', '\0', 'd', 'e', 'f'};
    (void)state;
    assert_false(dcv_value_matches(rec, sizeof(rec), "abcdef", true, true));
    assert_false(dcv_value_matches(rec, sizeof(rec), "abc", true, true));
    assert_false(dcv_value_matches(rec, sizeof(rec), "cd", true, false));
    assert_true(dcv_value_matches(rec, sizeof(rec), "def", true, false));
}

static void test_value_substring_long_and_folded(void **state)
{
    /* 64 KiB of 'a' and a 32 KiB value that misses by its last byte: the
     * case-insensitive search too is one linear pass (memmem). */
    size_t n = 64 * 1024;
    size_t w = 32 * 1024;
    char *page = test_malloc(n);
    char *want = test_malloc(w + 1);
    static const char nul_rec[] = {'X', '\0', 'A', 'b', 'C', '\0'};
    static const char hi[] = {'\xc3', '\x89', 't', 'E'};
    (void)state;

    memset(page, 'a', n);
    memset(want, 'A', w);
    want[w - 1] = 'b';
    want[w] = '\0';
    assert_false(dcv_value_matches(page, n, want, false, false));
    assert_false(dcv_value_matches(page, n, want, true, false));
    page[n - 1] = 'B'; /* the match ends on the last byte */
    assert_true(dcv_value_matches(page, n, want, false, false));
    assert_false(dcv_value_matches(page, n, want, true, false));
    want[w - 1] = 'A';
    assert_true(dcv_value_matches(page, n, want, false, false));
    assert_false(dcv_value_matches(page, n, want, true, false));
    /* NULs are bytes like any other; only ASCII letters fold */
    assert_true(
        dcv_value_matches(nul_rec, sizeof(nul_rec), "abc", false, false));
    assert_false(
        dcv_value_matches(nul_rec, sizeof(nul_rec), "abc", true, false));
    assert_true(dcv_value_matches(hi, sizeof(hi), "\xc3\x89Te", false, false));
    assert_false(dcv_value_matches(hi, sizeof(hi), "\xe3\x89te", false, false));
    test_free(page);
    test_free(want);
}

static void test_ip_equal_v4(void **state)
{
    (void)state;
    assert_true(dcv_ip_equal("192.0.2.1", "192.0.2.1"));
    assert_false(dcv_ip_equal("192.0.2.1", "192.0.2.10"));
    assert_false(dcv_ip_equal("192.0.2.01x", "192.0.2.1"));
}

static void test_ip_equal_v6_forms(void **state)
{
    (void)state;
    assert_true(dcv_ip_equal("2001:db8::1", "2001:0db8:0000:0000:0:0:0:0001"));
    assert_true(dcv_ip_equal("2001:DB8::1", "2001:db8::1"));
    assert_false(dcv_ip_equal("2001:db8::1", "2001:db8::2"));
}

static void test_ip_mapped_v6_is_not_v4(void **state)
{
    (void)state;
    assert_false(dcv_ip_equal("::ffff:192.0.2.1", "192.0.2.1"));
    assert_false(dcv_ip_equal("192.0.2.1", "::ffff:192.0.2.1"));
    assert_true(dcv_ip_equal("::ffff:192.0.2.1", "::ffff:c000:201"));
}

static void test_ip_garbage_is_never_equal(void **state)
{
    (void)state;
    assert_false(dcv_ip_equal("not-an-ip", "not-an-ip"));
    assert_false(dcv_ip_equal("", ""));
    assert_false(dcv_ip_equal(NULL, "1.2.3.4"));
}

static void test_ptr_equal(void **state)
{
    (void)state;
    assert_true(dcv_ptr_equal("Host.Example.com.", "host.example.com"));
    assert_true(dcv_ptr_equal("host.example.com", "HOST.example.com."));
    assert_false(dcv_ptr_equal("host.example.com", "host.example.org"));
    assert_false(dcv_ptr_equal("host.example.com..", "host.example.com"));
    assert_false(dcv_ptr_equal(".", ""));
}

static void test_account_label_vector(void **state)
{
    char *l = dcv_account_label("https://example.com/acme/acct/ExampleAccount");
    (void)state;
    assert_string_equal(l, "ujmmovf2vn55tgye");
    free(l);
    l = dcv_account_label("https://example.com/acme/acct/OtherAccount");
    assert_int_equal(strlen(l), 16);
    assert_string_not_equal(l, "ujmmovf2vn55tgye");
    free(l);
}

static void test_base32_rfc4648_vectors(void **state)
{
    char *s;
    (void)state;
    s = dcv_base32_lower((const unsigned char *)"foobar", 6);
    assert_string_equal(s, "mzxw6ytboi");
    free(s);
    s = dcv_base32_lower((const unsigned char *)"f", 1);
    assert_string_equal(s, "my");
    free(s);
}

static void test_base64(void **state)
{
    char *s = dcv_base64("hello", 5);
    (void)state;
    assert_string_equal(s, "aGVsbG8=");
    free(s);
    s = dcv_base64("", 0);
    assert_string_equal(s, "");
    free(s);
}

static void test_url_build_brackets_v6(void **state)
{
    char *u = dcv_url_build("http", "2001:db8::1", "/.well-known/x");
    (void)state;
    assert_string_equal(u, "http://[2001:db8::1]/.well-known/x");
    free(u);
    u = dcv_url_build("https", "example.com", "/a");
    assert_string_equal(u, "https://example.com/a");
    free(u);
}

static void test_rstrip(void **state)
{
    (void)state;
    assert_int_equal(dcv_rstrip_len("abc \r\n\t", 7), 3);
    assert_int_equal(dcv_rstrip_len("  ", 2), 0);
    assert_int_equal(dcv_rstrip_len(" a", 2), 2);
}

static void test_redirect_status(void **state)
{
    (void)state;
    assert_true(dcv_redirect_status_ok(301));
    assert_true(dcv_redirect_status_ok(302));
    assert_true(dcv_redirect_status_ok(307));
    assert_true(dcv_redirect_status_ok(308));
    assert_false(dcv_redirect_status_ok(300));
    assert_false(dcv_redirect_status_ok(303));
    assert_false(dcv_redirect_status_ok(304));
    assert_false(dcv_redirect_status_ok(200));
}

static void expect_redirect(const char *base, const char *loc, const char *want)
{
    char *next = NULL;
    char *why = NULL;

    assert_int_equal(dcv_redirect_resolve(base, loc, &next, &why), MPIC_OK);
    assert_string_equal(next, want);
    assert_null(why);
    free(next);
}

static void refuse_redirect(const char *base, const char *loc)
{
    char *next = NULL;
    char *why = NULL;

    assert_int_not_equal(dcv_redirect_resolve(base, loc, &next, &why), MPIC_OK);
    assert_null(next);
    assert_non_null(why);
    free(why);
}

static void test_redirect_relative_is_resolved(void **state)
{
    (void)state;
    expect_redirect("http://example.com/.well-known/a/b", "c",
                    "http://example.com/.well-known/a/c");
    expect_redirect("http://example.com/x/y", "/z", "http://example.com/z");
    expect_redirect("http://example.com/x", "//other.example/p",
                    "http://other.example/p");
    expect_redirect("http://example.com/x", "https://other.example:443/p",
                    "https://other.example:443/p");
    expect_redirect("http://[2001:db8::1]/x", "/y", "http://[2001:db8::1]/y");
}

static void test_redirect_refuses_bad_scheme_and_port(void **state)
{
    (void)state;
    refuse_redirect("http://example.com/x", "ftp://example.com/p");
    refuse_redirect("http://example.com/x", "file:///etc/passwd");
    refuse_redirect("http://example.com/x", "http://example.com:8080/p");
    refuse_redirect("http://example.com/x", "https://example.com:8443/");
    refuse_redirect("http://example.com/x", "");
    refuse_redirect("http://example.com/x", NULL);
}

/* Found by fuzz_redirect: libcurl reads "///%7f" as the host "\x7f" and
 * writes the URL back as "http:///". Hosts with control characters are
 * refused, and what is followed must parse back to a host and port. */
static void test_redirect_refuses_control_characters_in_host(void **state)
{
    (void)state;
    refuse_redirect("http://example.com/x", "///%7f");
    refuse_redirect("http://example.com/x", "//%7f");
    refuse_redirect("http://example.com/x", "http://%7f/");
    refuse_redirect("http://example.com/x", "http://a%01b.example/");
    refuse_redirect("http://example.com/x", "http://a%20b.example/");
    expect_redirect("http://example.com/x", "///y", "http://y/");
}

/* issue 11: no credentials sent, no fragment-only hop, no raw bytes */
static void test_redirect_refuses_userinfo_fragment_and_raw_bytes(void **state)
{
    const char *base = "http://example.com/.well-known/acme-challenge/t";
    (void)state;
    refuse_redirect(base, "http://user:pass@example.com/x");
    refuse_redirect(base, "http://user@example.com/x");
    refuse_redirect(base, "http://:pass@example.com/x");
    refuse_redirect(base, "//user:pass@other.example/x");
    refuse_redirect(base, "#frag");
    refuse_redirect(base, "t#frag");
    refuse_redirect(base, "http://example.com/.well-known/acme-challenge/t#a");
    refuse_redirect("http://example.com/x#a", "/x#b");
    refuse_redirect(base, "/\xff\xfe");
    refuse_redirect(base, "/caf\xc3\xa9");
    refuse_redirect(base, "/a b");
    refuse_redirect(base, "/a\tb");
    refuse_redirect(base, "/a\x7f");
    refuse_redirect(base, "mailto:a@example.com");
    refuse_redirect(base, "data:text/plain,x");
    /* another path with a fragment is a real redirect */
    expect_redirect(base, "/other#frag", "http://example.com/other#frag");
    expect_redirect(base, "/caf%C3%A9", "http://example.com/caf%C3%A9");
}

static void test_url_host_port(void **state)
{
    char *h = NULL;
    unsigned port = 0;
    (void)state;
    assert_int_equal(dcv_url_host_port("https://Example.com/x", &h, &port),
                     MPIC_OK);
    assert_string_equal(h, "Example.com");
    assert_int_equal(port, 443);
    free(h);
    assert_int_equal(dcv_url_host_port("http://[::1]:80/x", &h, &port),
                     MPIC_OK);
    assert_string_equal(h, "::1");
    assert_int_equal(port, 80);
    free(h);
    assert_int_not_equal(dcv_url_host_port("http://a.example:81/", &h, &port),
                         MPIC_OK);
    assert_null(h);
    assert_int_not_equal(dcv_url_host_port("not a url", &h, &port), MPIC_OK);
    assert_null(h);
    assert_int_not_equal(dcv_url_host_port("//a.example/", &h, &port), MPIC_OK);
    assert_null(h);
}

/* A redirect is resolved against the URL fetched: without a usable one,
 * nothing is followed. */
static void test_redirect_refuses_bad_base(void **state)
{
    static const char *const bases[] = {"not a url", "", "http://:80/"};
    char *next = NULL;
    char *why = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]); i++) {
        assert_int_not_equal(dcv_redirect_resolve(bases[i], "/x", &next, &why),
                             MPIC_OK);
        assert_null(next);
        assert_non_null(strstr(why, "bad base URL"));
        free(why);
    }
}

static void test_null_never_matches(void **state)
{
    (void)state;
    assert_false(dcv_value_matches(NULL, 0, "x", true, false));
    assert_false(dcv_value_matches("x", 1, NULL, true, false));
    assert_false(dcv_ptr_equal(NULL, "a.example"));
    assert_false(dcv_ptr_equal("a.example", NULL));
    assert_false(dcv_ip_equal(NULL, "192.0.2.1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value_exact_case_sensitive),
        cmocka_unit_test(test_value_exact_case_insensitive),
        cmocka_unit_test(test_value_exact_refuses_longer_record),
        cmocka_unit_test(test_value_substring),
        cmocka_unit_test(test_value_empty_challenge_never_matches_substring),
        cmocka_unit_test(test_value_nul_bytes_are_kept),
        cmocka_unit_test(test_value_substring_long_and_folded),
        cmocka_unit_test(test_ip_equal_v4),
        cmocka_unit_test(test_ip_equal_v6_forms),
        cmocka_unit_test(test_ip_mapped_v6_is_not_v4),
        cmocka_unit_test(test_ip_garbage_is_never_equal),
        cmocka_unit_test(test_ptr_equal),
        cmocka_unit_test(test_account_label_vector),
        cmocka_unit_test(test_base32_rfc4648_vectors),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_url_build_brackets_v6),
        cmocka_unit_test(test_rstrip),
        cmocka_unit_test(test_redirect_status),
        cmocka_unit_test(test_redirect_relative_is_resolved),
        cmocka_unit_test(test_redirect_refuses_bad_scheme_and_port),
        cmocka_unit_test(test_redirect_refuses_control_characters_in_host),
        cmocka_unit_test(test_redirect_refuses_userinfo_fragment_and_raw_bytes),
        cmocka_unit_test(test_url_host_port),
        cmocka_unit_test(test_redirect_refuses_bad_base),
        cmocka_unit_test(test_null_never_matches),
    };
    return cmocka_run_group_tests_name("dcv_compare", tests, NULL, NULL);
}
