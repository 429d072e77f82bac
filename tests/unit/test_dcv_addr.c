/* Unit tests of the special-purpose address table (dcv-checker/dcv_addr.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include "dcv-checker/dcv.h"

/*
 * Every row of the table (dcv_addr.c) with its first and last address and
 * the neighbours just outside it; each address with the row that must
 * name it ("CIDR" is the start of the name), NULL for "may connect", or
 * "outside 2000::/3". A neighbour that does not exist (below 0.0.0.0,
 * above ffff:...) is NULL with a NULL expectation.
 */
struct row_case {
    const char *row;
    const char *first, *first_row;
    const char *last, *last_row;
    const char *below, *below_row;
    const char *above, *above_row;
};

static const struct row_case v4_cases[] = {
    {"0.0.0.0/32", "0.0.0.0", "0.0.0.0/32", "0.0.0.0", "0.0.0.0/32", NULL, NULL,
     "0.0.0.1", "0.0.0.0/8"},
    {"0.0.0.0/8", "0.0.0.0", "0.0.0.0/32", "0.255.255.255", "0.0.0.0/8", NULL,
     NULL, "1.0.0.0", NULL},
    {"10.0.0.0/8", "10.0.0.0", "10.0.0.0/8", "10.255.255.255", "10.0.0.0/8",
     "9.255.255.255", NULL, "11.0.0.0", NULL},
    {"100.64.0.0/10", "100.64.0.0", "100.64.0.0/10", "100.127.255.255",
     "100.64.0.0/10", "100.63.255.255", NULL, "100.128.0.0", NULL},
    {"127.0.0.0/8", "127.0.0.0", "127.0.0.0/8", "127.255.255.255",
     "127.0.0.0/8", "126.255.255.255", NULL, "128.0.0.0", NULL},
    {"169.254.0.0/16", "169.254.0.0", "169.254.0.0/16", "169.254.255.255",
     "169.254.0.0/16", "169.253.255.255", NULL, "169.255.0.0", NULL},
    {"172.16.0.0/12", "172.16.0.0", "172.16.0.0/12", "172.31.255.255",
     "172.16.0.0/12", "172.15.255.255", NULL, "172.32.0.0", NULL},
    {"192.0.0.0/29", "192.0.0.0", "192.0.0.0/29", "192.0.0.7", "192.0.0.0/29",
     "191.255.255.255", NULL, "192.0.0.8", "192.0.0.8/32"},
    {"192.0.0.8/32", "192.0.0.8", "192.0.0.8/32", "192.0.0.8", "192.0.0.8/32",
     "192.0.0.7", "192.0.0.0/29", "192.0.0.9", "192.0.0.9/32"},
    {"192.0.0.9/32", "192.0.0.9", "192.0.0.9/32", "192.0.0.9", "192.0.0.9/32",
     "192.0.0.8", "192.0.0.8/32", "192.0.0.10", "192.0.0.10/32"},
    {"192.0.0.10/32", "192.0.0.10", "192.0.0.10/32", "192.0.0.10",
     "192.0.0.10/32", "192.0.0.9", "192.0.0.9/32", "192.0.0.11",
     "192.0.0.0/24"},
    {"192.0.0.170/32", "192.0.0.170", "192.0.0.170/32", "192.0.0.170",
     "192.0.0.170/32", "192.0.0.169", "192.0.0.0/24", "192.0.0.171",
     "192.0.0.171/32"},
    {"192.0.0.171/32", "192.0.0.171", "192.0.0.171/32", "192.0.0.171",
     "192.0.0.171/32", "192.0.0.170", "192.0.0.170/32", "192.0.0.172",
     "192.0.0.0/24"},
    {"192.0.0.0/24", "192.0.0.0", "192.0.0.0/29", "192.0.0.255", "192.0.0.0/24",
     "191.255.255.255", NULL, "192.0.1.0", NULL},
    {"192.0.2.0/24", "192.0.2.0", "192.0.2.0/24", "192.0.2.255", "192.0.2.0/24",
     "192.0.1.255", NULL, "192.0.3.0", NULL},
    {"192.31.196.0/24", "192.31.196.0", "192.31.196.0/24", "192.31.196.255",
     "192.31.196.0/24", "192.31.195.255", NULL, "192.31.197.0", NULL},
    {"192.52.193.0/24", "192.52.193.0", "192.52.193.0/24", "192.52.193.255",
     "192.52.193.0/24", "192.52.192.255", NULL, "192.52.194.0", NULL},
    {"192.88.99.0/24", "192.88.99.0", "192.88.99.0/24", "192.88.99.255",
     "192.88.99.0/24", "192.88.98.255", NULL, "192.88.100.0", NULL},
    {"192.168.0.0/16", "192.168.0.0", "192.168.0.0/16", "192.168.255.255",
     "192.168.0.0/16", "192.167.255.255", NULL, "192.169.0.0", NULL},
    {"192.175.48.0/24", "192.175.48.0", "192.175.48.0/24", "192.175.48.255",
     "192.175.48.0/24", "192.175.47.255", NULL, "192.175.49.0", NULL},
    {"198.18.0.0/15", "198.18.0.0", "198.18.0.0/15", "198.19.255.255",
     "198.18.0.0/15", "198.17.255.255", NULL, "198.20.0.0", NULL},
    {"198.51.100.0/24", "198.51.100.0", "198.51.100.0/24", "198.51.100.255",
     "198.51.100.0/24", "198.51.99.255", NULL, "198.51.101.0", NULL},
    {"203.0.113.0/24", "203.0.113.0", "203.0.113.0/24", "203.0.113.255",
     "203.0.113.0/24", "203.0.112.255", NULL, "203.0.114.0", NULL},
    {"224.0.0.0/4", "224.0.0.0", "224.0.0.0/4", "239.255.255.255",
     "224.0.0.0/4", "223.255.255.255", NULL, "240.0.0.0", "240.0.0.0/4"},
    {"255.255.255.255/32", "255.255.255.255", "255.255.255.255/32",
     "255.255.255.255", "255.255.255.255/32", "255.255.255.254", "240.0.0.0/4",
     NULL, NULL},
    {"240.0.0.0/4", "240.0.0.0", "240.0.0.0/4", "255.255.255.255",
     "255.255.255.255/32", "239.255.255.255", "224.0.0.0/4", NULL, NULL},
};

static const struct row_case v6_cases[] = {
    {"::/128", "::", "::/128", "::", "::/128", NULL, NULL, "::1", "::1/128"},
    {"::1/128", "::1", "::1/128", "::1", "::1/128", "::", "::/128", "::2",
     "::/96"},
    {"::ffff:0:0/96", "::ffff:0:0", "::ffff:0:0/96", "::ffff:ffff:ffff",
     "::ffff:0:0/96", "::fffe:ffff:ffff", "outside 2000::/3", "::1:0:0:0",
     "outside 2000::/3"},
    {"::/96", "::", "::/128", "::ffff:ffff", "::/96", NULL, NULL, "::1:0:0",
     "outside 2000::/3"},
    {"64:ff9b:1::/48", "64:ff9b:1::", "64:ff9b:1::/48",
     "64:ff9b:1:ffff:ffff:ffff:ffff:ffff", "64:ff9b:1::/48",
     "64:ff9b:0:ffff:ffff:ffff:ffff:ffff", "outside 2000::/3",
     "64:ff9b:2::", "outside 2000::/3"},
    {"100::/64", "100::", "100::/64", "100::ffff:ffff:ffff:ffff", "100::/64",
     "ff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "outside 2000::/3",
     "100:0:0:1::", "100:0:0:1::/64"},
    {"100:0:0:1::/64", "100:0:0:1::", "100:0:0:1::/64",
     "100::1:ffff:ffff:ffff:ffff", "100:0:0:1::/64", "100::ffff:ffff:ffff:ffff",
     "100::/64", "100:0:0:2::", "outside 2000::/3"},
    {"2001::/32", "2001::", "2001::/32", "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
     "2001::/32", "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL,
     "2001:1::", "2001::/23"},
    {"2001:1::1/128", "2001:1::1", "2001:1::1/128", "2001:1::1",
     "2001:1::1/128", "2001:1::", "2001::/23", "2001:1::2", "2001:1::2/128"},
    {"2001:1::2/128", "2001:1::2", "2001:1::2/128", "2001:1::2",
     "2001:1::2/128", "2001:1::1", "2001:1::1/128", "2001:1::3",
     "2001:1::3/128"},
    {"2001:1::3/128", "2001:1::3", "2001:1::3/128", "2001:1::3",
     "2001:1::3/128", "2001:1::2", "2001:1::2/128", "2001:1::4", "2001::/23"},
    {"2001:2::/48", "2001:2::", "2001:2::/48",
     "2001:2:0:ffff:ffff:ffff:ffff:ffff", "2001:2::/48",
     "2001:1:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23",
     "2001:2:1::", "2001::/23"},
    {"2001:3::/32", "2001:3::", "2001:3::/32",
     "2001:3:ffff:ffff:ffff:ffff:ffff:ffff", "2001:3::/32",
     "2001:2:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23",
     "2001:4::", "2001::/23"},
    {"2001:4:112::/48", "2001:4:112::", "2001:4:112::/48",
     "2001:4:112:ffff:ffff:ffff:ffff:ffff", "2001:4:112::/48",
     "2001:4:111:ffff:ffff:ffff:ffff:ffff", "2001::/23",
     "2001:4:113::", "2001::/23"},
    {"2001:10::/28", "2001:10::", "2001:10::/28",
     "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:10::/28",
     "2001:f:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23",
     "2001:20::", "2001:20::/28"},
    {"2001:20::/28", "2001:20::", "2001:20::/28",
     "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:20::/28",
     "2001:1f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:10::/28",
     "2001:30::", "2001:30::/28"},
    {"2001:30::/28", "2001:30::", "2001:30::/28",
     "2001:3f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:30::/28",
     "2001:2f:ffff:ffff:ffff:ffff:ffff:ffff", "2001:20::/28",
     "2001:40::", "2001::/23"},
    {"2001::/23", "2001::", "2001::/32",
     "2001:1ff:ffff:ffff:ffff:ffff:ffff:ffff", "2001::/23",
     "2000:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, "2001:200::", NULL},
    {"2001:db8::/32", "2001:db8::", "2001:db8::/32",
     "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::/32",
     "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", NULL, "2001:db9::", NULL},
    {"2002::/16", "2002::", "2002::/16",
     "2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2002::/16",
     "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, "2003::", NULL},
    {"2620:4f:8000::/48", "2620:4f:8000::", "2620:4f:8000::/48",
     "2620:4f:8000:ffff:ffff:ffff:ffff:ffff", "2620:4f:8000::/48",
     "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff", NULL, "2620:4f:8001::", NULL},
    {"3fff::/20", "3fff::", "3fff::/20",
     "3fff:fff:ffff:ffff:ffff:ffff:ffff:ffff", "3fff::/20",
     "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL, "3fff:1000::", NULL},
    {"5f00::/16", "5f00::", "5f00::/16",
     "5f00:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "5f00::/16",
     "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "outside 2000::/3",
     "5f01::", "outside 2000::/3"},
    {"fc00::/7", "fc00::", "fc00::/7",
     "fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fc00::/7",
     "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "outside 2000::/3",
     "fe00::", "outside 2000::/3"},
    {"fec0::/10", "fec0::", "fec0::/10",
     "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::/10",
     "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10",
     "ff00::", "ff00::/8"},
    {"fe80::/10", "fe80::", "fe80::/10",
     "febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fe80::/10",
     "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "outside 2000::/3",
     "fec0::", "fec0::/10"},
    {"ff00::/8", "ff00::", "ff00::/8",
     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ff00::/8",
     "feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "fec0::/10", NULL, NULL},
};

/* The name of the block addr falls in must start with want + " (". */
static void expect_row(const char *addr, const char *want, const char *row)
{
    const char *got;
    size_t n;

    if (addr == NULL)
        return;
    got = dcv_addr_special_text(addr);
    if (want == NULL) {
        if (got != NULL)
            fail_msg("row %s: %s should be allowed, got \"%s\"", row, addr,
                     got);
        return;
    }
    if (got == NULL)
        fail_msg("row %s: %s should be in %s, got allowed", row, addr, want);
    n = strlen(want);
    if (strncmp(got, want, n) != 0 || strncmp(got + n, " (", 2) != 0)
        fail_msg("row %s: %s should be in %s, got \"%s\"", row, addr, want,
                 got);
}

static void run_cases(const struct row_case *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        expect_row(c[i].first, c[i].first_row, c[i].row);
        expect_row(c[i].last, c[i].last_row, c[i].row);
        expect_row(c[i].below, c[i].below_row, c[i].row);
        expect_row(c[i].above, c[i].above_row, c[i].row);
    }
}

static void test_every_v4_row(void **state)
{
    (void)state;
    /* one case per row: a new row needs its test */
    assert_int_equal(sizeof(v4_cases) / sizeof(v4_cases[0]),
                     dcv_addr_table_rows(AF_INET));
    run_cases(v4_cases, sizeof(v4_cases) / sizeof(v4_cases[0]));
}

static void test_every_v6_row(void **state)
{
    (void)state;
    assert_int_equal(sizeof(v6_cases) / sizeof(v6_cases[0]),
                     dcv_addr_table_rows(AF_INET6));
    run_cases(v6_cases, sizeof(v6_cases) / sizeof(v6_cases[0]));
}

/* The rows the review found missing, by name. */
static void test_newer_rows_named(void **state)
{
    (void)state;
    assert_non_null(strstr(dcv_addr_special_text("3fff::1"), "documentation"));
    assert_non_null(strstr(dcv_addr_special_text("5f00::1"), "SRv6"));
    assert_non_null(strstr(dcv_addr_special_text("fec0::1"), "site local"));
    assert_non_null(strstr(dcv_addr_special_text("2001:20::1"), "ORCHIDv2"));
    assert_non_null(strstr(dcv_addr_special_text("192.31.196.1"), "AS112"));
    assert_non_null(strstr(dcv_addr_special_text("192.175.48.1"), "AS112"));
    assert_non_null(strstr(dcv_addr_special_text("192.52.193.1"), "AMT"));
}

/* Only 2000::/3 is global unicast; outside it everything is refused. */
static void test_v6_outside_global_unicast(void **state)
{
    static const char *const outside[] = {
        "::2",     "::1:0:0:0", "1::",     "200::1",  "1fff:ffff::1", "4000::1",
        "5eff::1", "8000::1",   "c000::1", "e000::1", "fbff::1",
    };
    static const char *const inside[] = {
        "2000::",
        "2000::1",
        "2003::1",
        "2400:cb00::1",
        "3ffe:ffff::1",
        "3fff:1000::1",
        "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
        if (dcv_addr_special_text(outside[i]) == NULL)
            fail_msg("%s should be refused", outside[i]);
    }
    for (i = 0; i < sizeof(inside) / sizeof(inside[0]); i++) {
        if (dcv_addr_special_text(inside[i]) != NULL)
            fail_msg("%s should be allowed: %s", inside[i],
                     dcv_addr_special_text(inside[i]));
    }
}

/* 64:ff9b::/96 (RFC 6052) is judged by the IPv4 address it embeds: a
 * perspective behind NAT64 reaches IPv4-only sites through it. */
static void test_nat64_judged_by_embedded_ipv4(void **state)
{
    static const char *const v4[] = {
        "0.0.0.0",         "10.0.0.1",        "127.0.0.1",
        "169.254.169.254", "192.0.0.9",       "192.31.196.1",
        "224.0.0.1",       "255.255.255.255", "100.64.0.1",
    };
    char buf[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
        snprintf(buf, sizeof(buf), "64:ff9b::%s", v4[i]);
        if (dcv_addr_special_text(buf) == NULL)
            fail_msg("%s should be refused", buf);
    }
    assert_null(dcv_addr_special_text("64:ff9b::8.8.8.8"));
    assert_null(dcv_addr_special_text("64:ff9b::1.1.1.1"));
    /* the neighbours of the /96 are not NAT64 */
    assert_non_null(dcv_addr_special_text("64:ff9b::1:0:0:0"));
    assert_non_null(
        dcv_addr_special_text("64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff"));
}

/* IPv4-mapped, IPv4-compatible and 6to4 addresses are refused as blocks,
 * whatever IPv4 address they carry. */
static void test_embedding_blocks_refused_whole(void **state)
{
    static const char *const v[] = {
        "::ffff:8.8.8.8", "::ffff:127.0.0.1", "::8.8.8.8",
        "::127.0.0.1",    "2002:808:808::1",  "2002:7f00:1::1",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        if (dcv_addr_special_text(v[i]) == NULL)
            fail_msg("%s should be refused", v[i]);
    }
}

static void test_v4_special_blocks(void **state)
{
    static const char *special[] = {
        "0.1.2.3",    "10.0.0.1",        "100.64.0.1",   "100.127.255.255",
        "127.0.0.1",  "169.254.1.1",     "172.16.0.1",   "172.31.255.255",
        "192.0.0.8",  "192.0.2.1",       "192.88.99.1",  "192.168.1.1",
        "198.18.0.1", "198.19.255.255",  "198.51.100.7", "203.0.113.9",
        "224.0.0.1",  "239.255.255.255", "240.0.0.1",    "255.255.255.255",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (dcv_addr_special_text(special[i]) == NULL)
            fail_msg("%s should be special-purpose", special[i]);
    }
}

static void test_v4_public_edges(void **state)
{
    static const char *pub[] = {
        "1.1.1.1",         "9.255.255.255",   "11.0.0.0",
        "100.63.255.255",  "100.128.0.0",     "126.255.255.255",
        "128.0.0.1",       "169.253.255.255", "172.15.255.255",
        "172.32.0.0",      "192.0.1.1",       "192.0.3.0",
        "192.88.98.255",   "192.169.0.0",     "198.17.255.255",
        "198.20.0.0",      "198.51.99.255",   "203.0.112.255",
        "223.255.255.255", "8.8.8.8",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(pub) / sizeof(pub[0]); i++) {
        if (dcv_addr_special_text(pub[i]) != NULL)
            fail_msg("%s should be public", pub[i]);
    }
}

static void test_v6_special_blocks(void **state)
{
    static const char *special[] = {
        "::",
        "::1",
        "100::1",
        "64:ff9b:1::1",
        "2001::1",
        "2001:1ff::1",
        "2001:db8::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.1.2.3",
        "64:ff9b::192.168.0.1",
        "64:ff9b::7f00:1",
        "2002:7f00:1::1",
        "2002:c0a8:101::",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(special) / sizeof(special[0]); i++) {
        if (dcv_addr_special_text(special[i]) == NULL)
            fail_msg("%s should be special-purpose", special[i]);
    }
}

static void test_v6_public_and_embedded_public(void **state)
{
    static const char *pub[] = {
        "2606:4700::1111",
        "2001:200::1",
        "2a00:1450::1",
        "64:ff9b::8.8.8.8",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(pub) / sizeof(pub[0]); i++) {
        if (dcv_addr_special_text(pub[i]) != NULL)
            fail_msg("%s should be public", pub[i]);
    }
}

static void test_garbage_is_refused(void **state)
{
    (void)state;
    assert_non_null(dcv_addr_special_text("example.com"));
    assert_non_null(dcv_addr_special_text(""));
    assert_non_null(dcv_addr_special_text(NULL));
}

/* An address of another family is never taken for a public one. */
static void test_other_family_is_refused(void **state)
{
    static const unsigned char addr[16] = {8, 8, 8, 8};

    (void)state;
    assert_non_null(dcv_addr_special(AF_UNIX, addr));
    assert_int_equal(dcv_addr_table_rows(AF_UNIX), 0);
    assert_null(dcv_addr_special(AF_INET, addr));
}

static void test_name_mentions_block(void **state)
{
    (void)state;
    assert_non_null(strstr(dcv_addr_special_text("127.0.0.1"), "loopback"));
    assert_non_null(strstr(dcv_addr_special_text("fe80::1"), "link local"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v4_special_blocks),
        cmocka_unit_test(test_v4_public_edges),
        cmocka_unit_test(test_v6_special_blocks),
        cmocka_unit_test(test_v6_public_and_embedded_public),
        cmocka_unit_test(test_garbage_is_refused),
        cmocka_unit_test(test_other_family_is_refused),
        cmocka_unit_test(test_every_v4_row),
        cmocka_unit_test(test_every_v6_row),
        cmocka_unit_test(test_newer_rows_named),
        cmocka_unit_test(test_v6_outside_global_unicast),
        cmocka_unit_test(test_nat64_judged_by_embedded_ipv4),
        cmocka_unit_test(test_embedding_blocks_refused_whole),
        cmocka_unit_test(test_name_mentions_block),
    };
    return cmocka_run_group_tests_name("dcv_addr", tests, NULL, NULL);
}
