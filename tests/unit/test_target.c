/* Unit tests for common/target.c: names, IDNs, addresses, limits. */
#include "common/target.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* Parses `in`, expecting success, and checks kind, wildcard and name. */
static void expect_ok(const char *in, enum mpic_target_kind kind, bool wildcard,
                      const char *name)
{
    struct mpic_target t;
    char *why = NULL;
    int rc;

    memset(&t, 0xaa, sizeof(t));
    rc = mpic_target_parse(in, &t, &why);
    if (rc != 0)
        print_error("unexpected failure for \"%s\": %s\n", in, why);
    assert_int_equal(rc, 0);
    assert_null(why);
    assert_int_equal(t.kind, kind);
    assert_int_equal(t.wildcard, wildcard);
    assert_string_equal(t.name, name);
    mpic_target_cleanup(&t);
    assert_null(t.name);
}

/* Expects failure; `fragment` must appear in the explanation if given. */
static void expect_bad(const char *in, const char *fragment)
{
    struct mpic_target t;
    char *why = NULL;
    int rc;

    memset(&t, 0, sizeof(t));
    rc = mpic_target_parse(in, &t, &why);
    if (rc == 0)
        print_error("unexpected success for \"%s\" -> %s\n", in, t.name);
    assert_int_equal(rc, -1);
    assert_non_null(why);
    assert_null(t.name);
    if (fragment != NULL && strstr(why, fragment) == NULL) {
        print_error("\"%s\": reason \"%s\" lacks \"%s\"\n", in, why, fragment);
        fail();
    }
    free(why);
}

static char *repeat(char c, size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, c, n);
    s[n] = '\0';
    return s;
}

static void test_plain_names(void **state)
{
    (void)state;
    expect_ok("example.com", MPIC_TARGET_DNS, false, "example.com");
    expect_ok("WWW.Example.COM", MPIC_TARGET_DNS, false, "www.example.com");
    expect_ok("example.com.", MPIC_TARGET_DNS, false, "example.com");
    expect_ok("localhost", MPIC_TARGET_DNS, false, "localhost");
    expect_ok("1.example", MPIC_TARGET_DNS, false, "1.example");
}

static void test_wildcard(void **state)
{
    (void)state;
    expect_ok("*.example.com", MPIC_TARGET_DNS, true, "example.com");
    expect_ok("*.Bücher.example", MPIC_TARGET_DNS, true,
              "xn--bcher-kva.example");
    expect_bad("*", NULL);
    expect_bad("*.", "empty");
    expect_bad("a.*.example.com", "'*'");
    expect_bad("*a.example.com", "'*'");
    expect_bad("*.*.example.com", "'*'");
    expect_bad("**.example.com", "'*'");
}

static void test_idn(void **state)
{
    (void)state;
    expect_ok("bücher.example", MPIC_TARGET_DNS, false,
              "xn--bcher-kva.example");
    expect_ok("BÜCHER.example", MPIC_TARGET_DNS, false,
              "xn--bcher-kva.example");
    expect_ok("例え.テスト", MPIC_TARGET_DNS, false, "xn--r8jz45g.xn--zckzah");
    /* An A-label passes through (lower-cased) when it is valid. */
    expect_ok("XN--BCHER-KVA.example", MPIC_TARGET_DNS, false,
              "xn--bcher-kva.example");
    /* Non-transitional: sharp s stays itself. */
    expect_ok("faß.de", MPIC_TARGET_DNS, false, "xn--fa-hia.de");
    /* UTS#46 maps the ideographic full stop to a label separator. */
    expect_ok("a\xe3\x80\x82"
              "example",
              MPIC_TARGET_DNS, false, "a.example");
}

static void test_idn_invalid(void **state)
{
    (void)state;
    expect_bad("xn--a.example", "internationalized");
    expect_bad("xn--zz.example", "internationalized");
    /* U+2603 SNOWMAN is DISALLOWED in IDNA2008, as U-label and A-label. */
    expect_bad("a\xe2\x98\x83.example", "internationalized");
    expect_bad("xn--53h.example", "internationalized");
    /* Not UTF-8. */
    expect_bad("b\xfc"
               "cher.example",
               NULL);
}

static void test_bad_names(void **state)
{
    (void)state;
    expect_bad("", "empty");
    expect_bad(NULL, "empty");
    expect_bad(".", "empty");
    expect_bad("example..com", "empty label");
    expect_bad(".example.com", "empty label");
    expect_bad("example.com..", "empty label");
    expect_bad("exa mple.com", "0x20");
    expect_bad("example.com\n", "0x0a");
    expect_bad("exa/mple.com", "0x2f");
    expect_bad("-example.com", "'-'");
    expect_bad("example-.com", "'-'");
    expect_bad("1.2.3.256", "digits");
    expect_bad("1.2.3", "digits");
    expect_bad("[example.com]", "IPv6");
    expect_bad("[::1", "'['");
    expect_bad("1::2::3", NULL);
    expect_bad("example.com:443", NULL);
}

/*
 * BR 7.1.2.7.12: a dNSName holds only P-Labels and Non-Reserved LDH labels,
 * so "--" in the third and fourth positions is an A-label or refused.
 */
static void test_reserved_ldh(void **state)
{
    (void)state;
    expect_bad("ab--cd.example", "Reserved LDH");
    expect_bad("AB--CD.example", "Reserved LDH");
    expect_bad("www.ab--.example", "'-'");
    expect_bad("r3---sn-abc.example.com", "Reserved LDH");
    expect_bad("ab--cd", "Reserved LDH");
    expect_bad("*.zz--top.example", "Reserved LDH");
    /* Through libidn2: the U-label next to it does not launder it. */
    expect_bad("b\xc3\xbc.ab--cd.example", NULL);
    /* Fullwidth letters map to an R-LDH label. */
    expect_bad("\xef\xbd\x81\xef\xbd\x82--cd.example", NULL);
    /* Hyphens elsewhere, and real A-labels, are fine. */
    expect_ok("a--b.example", MPIC_TARGET_DNS, false, "a--b.example");
    expect_ok("abc--d.example", MPIC_TARGET_DNS, false, "abc--d.example");
    expect_ok("a-b-c.example", MPIC_TARGET_DNS, false, "a-b-c.example");
    expect_ok("xn--bcher-kva.example", MPIC_TARGET_DNS, false,
              "xn--bcher-kva.example");
}

/* LDH only: '_' belongs to labels a method prefixes, never to a target. */
static void test_underscore(void **state)
{
    (void)state;
    expect_bad("_acme-challenge.example.com", "'_'");
    expect_bad("a_b.example", "'_'");
    expect_bad("example.com_", "'_'");
    expect_bad("*._tcp.example", "'_'");
    /* Through libidn2 as well (UTS#46 without STD3 rules lets it pass). */
    expect_bad("b\xc3\xbc_cher.example", NULL);
    expect_ok("a-b.example", MPIC_TARGET_DNS, false, "a-b.example");
}

/*
 * A last label that reads as a number makes the name an IPv4 address to
 * inet_aton(3) and URL parsers: neither a name nor an IP literal.
 */
static void test_numeric_forms(void **state)
{
    (void)state;
    expect_bad("2130706433", "digits");
    expect_bad("0x7f000001", "hexadecimal");
    expect_bad("0X7F000001", "hexadecimal");
    expect_bad("0x7f.0.0.1", "digits");
    expect_bad("0x7f.0x0.0x0.0x1", "hexadecimal");
    expect_bad("127.1", "digits");
    expect_bad("127.0.1", "digits");
    expect_bad("0177.0.0.1", "digits");
    expect_bad("127.0.0.01", "digits");
    expect_bad("example.123", "digits");
    expect_bad("example.0x1f", "hexadecimal");
    expect_bad("example.0x", "hexadecimal");
    expect_bad("2130706433.", "digits");
    expect_bad("*.2130706433", "digits");
    /* Fullwidth digits map to ASCII digits under UTS#46. */
    expect_bad("\xef\xbc\x91\xef\xbc\x92\xef\xbc\x97.0.0.1", "digits");
    /* Numbers elsewhere, or letters that are not hex after "0x", are names. */
    expect_ok("0x7f000001.example", MPIC_TARGET_DNS, false,
              "0x7f000001.example");
    expect_ok("127.0.0.1.example", MPIC_TARGET_DNS, false, "127.0.0.1.example");
    expect_ok("example.0xg1", MPIC_TARGET_DNS, false, "example.0xg1");
    expect_ok("deadbeef", MPIC_TARGET_DNS, false, "deadbeef");
    expect_ok("123a.example", MPIC_TARGET_DNS, false, "123a.example");
    /* Proper literals stay addresses. */
    expect_ok("127.0.0.1", MPIC_TARGET_IPV4, false, "127.0.0.1");
    expect_ok("[::1]", MPIC_TARGET_IPV6, false, "::1");
    expect_ok("::ffff:127.0.0.1", MPIC_TARGET_IPV6, false, "::ffff:127.0.0.1");
}

/* BR 4.2.2: no names in an IP reverse zone, however they are spelled. */
static void test_reverse_zone_names(void **state)
{
    (void)state;
    expect_bad("in-addr.arpa", "in-addr.arpa");
    expect_bad("1.0.0.127.in-addr.arpa", "BR 4.2.2");
    expect_bad("1.0.0.127.IN-ADDR.ARPA.", "in-addr.arpa");
    expect_bad("*.2.0.192.in-addr.arpa", "in-addr.arpa");
    expect_bad("ip6.arpa", "ip6.arpa");
    expect_bad("b.a.9.8.ip6.arpa", "ip6.arpa");
    expect_bad("x.IP6.Arpa.", "ip6.arpa");
    /* Fullwidth letters and the ideographic full stop map to ASCII. */
    expect_bad("x.\xef\xbd\x89\xef\xbd\x90\xef\xbc\x96."
               "arpa",
               "ip6.arpa");
    expect_bad("x\xe3\x80\x82in-addr\xe3\x80\x82"
               "arpa",
               "in-addr.arpa");
    expect_bad("b\xc3\xbc.in-addr.arpa", "in-addr.arpa");
    /* A suffix is a whole label; other names under arpa are fine. */
    expect_ok("xin-addr.arpa", MPIC_TARGET_DNS, false, "xin-addr.arpa");
    expect_ok("in-addr.arpa.example", MPIC_TARGET_DNS, false,
              "in-addr.arpa.example");
    expect_ok("aip6.arpa", MPIC_TARGET_DNS, false, "aip6.arpa");
    expect_ok("ip6.arpa-x.example", MPIC_TARGET_DNS, false,
              "ip6.arpa-x.example");
}

static void test_label_length(void **state)
{
    char *l63 = repeat('a', 63);
    char *l64 = repeat('a', 64);
    char name[128];

    (void)state;
    snprintf(name, sizeof(name), "%s.example", l63);
    expect_ok(name, MPIC_TARGET_DNS, false, name);
    snprintf(name, sizeof(name), "%s.example", l64);
    expect_bad(name, "64 octets");
    free(l63);
    free(l64);
}

/* Builds a name of exactly `len` octets from 63-octet labels and a tail. */
static char *name_of_length(size_t len)
{
    char *s = malloc(len + 1);
    size_t i = 0;

    assert_non_null(s);
    while (i < len) {
        size_t n = len - i > 63 ? 63 : len - i;

        if (len - i - n == 1)
            n--; /* never leave a trailing one-octet remainder of '.' */
        memset(s + i, 'a', n);
        i += n;
        if (i < len)
            s[i++] = '.';
    }
    s[len] = '\0';
    return s;
}

static void test_name_length(void **state)
{
    char *n253 = name_of_length(253);
    char *n254 = name_of_length(254);
    char *with_dot;

    (void)state;
    assert_int_equal(strlen(n253), 253);
    assert_int_equal(strlen(n254), 254);
    expect_ok(n253, MPIC_TARGET_DNS, false, n253);
    expect_bad(n254, "254 octets");
    /* The trailing dot is not counted. */
    with_dot = malloc(255);
    assert_non_null(with_dot);
    snprintf(with_dot, 255, "%s.", n253);
    expect_ok(with_dot, MPIC_TARGET_DNS, false, n253);
    free(with_dot);
    free(n253);
    free(n254);
}

/* Label limits apply to the A-label: 55 x 'a' + U+00FC encodes to 63. */
static void test_long_idn_label(void **state)
{
    char in[128];
    char want[128];
    struct mpic_target t;
    char *why = NULL;

    (void)state;
    memset(in, 'a', 55);
    memcpy(in + 55, "\xc3\xbc.example", sizeof("\xc3\xbc.example"));
    memcpy(want, "xn--", 4);
    memset(want + 4, 'a', 55);
    memcpy(want + 59, "-8yf.example", sizeof("-8yf.example"));
    assert_int_equal(strlen(want), 63 + strlen(".example"));
    expect_ok(in, MPIC_TARGET_DNS, false, want);

    memset(&t, 0, sizeof(t));
    memset(in, 'a', 56);
    memcpy(in + 56, "\xc3\xbc.example", sizeof("\xc3\xbc.example"));
    assert_int_equal(mpic_target_parse(in, &t, &why), -1);
    assert_non_null(why);
    assert_null(t.name);
    free(why);
}

static void test_ipv4(void **state)
{
    struct mpic_target t;
    char *why = NULL;

    (void)state;
    expect_ok("192.0.2.1", MPIC_TARGET_IPV4, false, "192.0.2.1");
    expect_bad("*.192.0.2.1", "wildcard");
    expect_bad("192.0.2.01", "digits");
    assert_int_equal(mpic_target_parse("10.1.2.3", &t, &why), 0);
    assert_memory_equal(t.addr, "\x0a\x01\x02\x03", 4);
    mpic_target_cleanup(&t);
}

static void test_ipv6(void **state)
{
    struct mpic_target t;
    char *why = NULL;

    (void)state;
    expect_ok("2001:db8::1", MPIC_TARGET_IPV6, false, "2001:db8::1");
    expect_ok("[2001:DB8:0:0::1]", MPIC_TARGET_IPV6, false, "2001:db8::1");
    expect_ok("2001:0db8:0000:0000:0000:0000:0000:0001", MPIC_TARGET_IPV6,
              false, "2001:db8::1");
    expect_ok("::ffff:192.0.2.1", MPIC_TARGET_IPV6, false, "::ffff:192.0.2.1");
    expect_ok("[::1]", MPIC_TARGET_IPV6, false, "::1");
    expect_bad("*.2001:db8::1", "wildcard");
    expect_bad("*.[2001:db8::1]", NULL);
    expect_bad("[192.0.2.1]", "IPv6");
    expect_bad("[]", NULL);
    expect_bad("fe80::1%eth0", NULL);
    assert_int_equal(mpic_target_parse("[2001:db8::1]", &t, &why), 0);
    assert_int_equal(t.addr[0], 0x20);
    assert_int_equal(t.addr[1], 0x01);
    assert_int_equal(t.addr[15], 0x01);
    mpic_target_cleanup(&t);
}

static void test_reverse_names(void **state)
{
    struct mpic_target t;
    char *why = NULL;
    char *rev;

    (void)state;
    assert_int_equal(mpic_target_parse("192.0.2.10", &t, &why), 0);
    rev = mpic_target_reverse_name(&t);
    assert_string_equal(rev, "10.2.0.192.in-addr.arpa");
    free(rev);
    mpic_target_cleanup(&t);

    assert_int_equal(mpic_target_parse("[2001:db8::567:89ab]", &t, &why), 0);
    rev = mpic_target_reverse_name(&t);
    /* RFC 3596 2.5 example form. */
    assert_string_equal(rev, "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0."
                             "0.8.b.d.0.1.0.0.2.ip6.arpa");
    free(rev);
    mpic_target_cleanup(&t);

    assert_int_equal(mpic_target_parse("example.com", &t, &why), 0);
    assert_null(mpic_target_reverse_name(&t));
    mpic_target_cleanup(&t);
    assert_null(mpic_target_reverse_name(NULL));
}

static void test_cleanup_null_safe(void **state)
{
    (void)state;
    mpic_target_cleanup(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_names),
        cmocka_unit_test(test_wildcard),
        cmocka_unit_test(test_idn),
        cmocka_unit_test(test_idn_invalid),
        cmocka_unit_test(test_bad_names),
        cmocka_unit_test(test_reserved_ldh),
        cmocka_unit_test(test_underscore),
        cmocka_unit_test(test_numeric_forms),
        cmocka_unit_test(test_reverse_zone_names),
        cmocka_unit_test(test_label_length),
        cmocka_unit_test(test_name_length),
        cmocka_unit_test(test_long_idn_label),
        cmocka_unit_test(test_ipv4),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_reverse_names),
        cmocka_unit_test(test_cleanup_null_safe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
