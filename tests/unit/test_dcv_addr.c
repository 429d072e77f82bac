/* Unit tests of the special-purpose address table (dcv-checker/dcv_addr.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dcv-checker/dcv.h"

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
        "2606:4700::1111", "2001:200::1",      "2a00:1450::1",
        "::ffff:8.8.8.8",  "64:ff9b::8.8.8.8", "2002:808:808::1",
        "fec0::1",         "100:0:0:1::1",     "::2",
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
        cmocka_unit_test(test_name_mentions_block),
    };
    return cmocka_run_group_tests_name("dcv_addr", tests, NULL, NULL);
}
