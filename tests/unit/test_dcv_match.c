/*
 * Unit tests of the per-method record rules of the DNS DCV methods
 * (dcv_record_matches and the contact helpers in dcv-checker/dcv_compare.c;
 * open-mpic-api.md section 6). Each rule is checked for what it accepts and
 * for what it must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dcv-checker/dcv.h"

/* 2024-01-01T00:00:00Z: a fixed "now" for dns-persistent. */
#define NOW_S 1704067200

#define HASH "7b4e8b4a2fbd7d3a5c1c6d3e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f10"

static struct mpic_dcv_params params(enum mpic_dcv_method m)
{
    struct mpic_dcv_params p;

    memset(&p, 0, sizeof(p));
    p.method = m;
    mpic_strv_init(&p.issuer_domain_names);
    return p;
}

/* A NUL-terminated record value. */
static bool match(const struct mpic_dcv_params *p, const char *val)
{
    return dcv_record_matches(p, val, strlen(val), false, NOW_S, NULL);
}

/* ---- acme-dns-01 and dns-account-01: exact, case-sensitive ---- */

static void test_acme_dns_01_exact_value_matches(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_ACME_DNS_01);

    (void)state;
    p.key_authorization_hash = HASH;
    assert_true(match(&p, HASH));
}

static void test_acme_dns_01_is_case_sensitive(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_ACME_DNS_01);
    char upper[sizeof(HASH)];

    (void)state;
    p.key_authorization_hash = HASH;
    for (size_t i = 0; i < sizeof(HASH); i++)
        upper[i] =
            (char)(HASH[i] >= 'a' && HASH[i] <= 'f' ? HASH[i] - 32 : HASH[i]);
    assert_false(match(&p, upper));
}

static void test_acme_dns_01_refuses_substring_and_padding(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_ACME_DNS_01);

    (void)state;
    p.key_authorization_hash = HASH;
    assert_false(match(&p, "x" HASH));
    assert_false(match(&p, HASH " "));
    assert_false(match(&p, " " HASH));
    assert_false(
        dcv_record_matches(&p, HASH, strlen(HASH) - 1, false, NOW_S, NULL));
}

static void test_acme_dns_01_empty_hash_never_matches(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_ACME_DNS_01);

    (void)state;
    p.key_authorization_hash = "";
    assert_false(match(&p, ""));
    p.key_authorization_hash = NULL;
    assert_false(match(&p, ""));
}

static void test_dns_account_01_same_rule_as_acme_dns_01(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_ACCOUNT_01);

    (void)state;
    p.key_authorization_hash = "AbC";
    assert_true(match(&p, "AbC"));
    assert_false(match(&p, "abc"));
    assert_false(match(&p, "AbCd"));
}

/* ---- dns-change ---- */

static void test_dns_change_txt_substring(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_CHANGE);

    (void)state;
    p.dns_record_type = MPIC_RR_TXT;
    p.challenge_value = "Token-42";
    p.require_exact_case = true;
    assert_true(match(&p, "prefix Token-42 suffix"));
    assert_true(match(&p, "Token-42"));
    assert_false(match(&p, "prefix token-42 suffix"));
    assert_false(match(&p, "Token-4"));
}

static void test_dns_change_txt_exact_match(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_CHANGE);

    (void)state;
    p.dns_record_type = MPIC_RR_TXT;
    p.challenge_value = "Token-42";
    p.require_exact_case = true;
    p.require_exact_match = true;
    assert_true(match(&p, "Token-42"));
    assert_false(match(&p, "prefix Token-42"));
    assert_false(match(&p, "Token-42 "));
}

static void test_dns_change_txt_case_insensitive_when_asked(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_CHANGE);

    (void)state;
    p.dns_record_type = MPIC_RR_TXT;
    p.challenge_value = "Token-42";
    p.require_exact_case = false;
    assert_true(match(&p, "xx TOKEN-42 xx"));
    p.require_exact_match = true;
    assert_true(match(&p, "token-42"));
    assert_false(match(&p, "xx token-42"));
}

static void test_dns_change_empty_challenge_never_matches(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_CHANGE);

    (void)state;
    p.dns_record_type = MPIC_RR_TXT;
    p.challenge_value = "";
    assert_false(match(&p, "anything"));
    p.require_exact_match = true;
    assert_false(match(&p, ""));
}

static void test_dns_change_cname_ignores_case_and_trailing_dot(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_CHANGE);

    (void)state;
    p.dns_record_type = MPIC_RR_CNAME;
    p.require_exact_match = true;
    /* require_exact_case is ignored for CNAME */
    p.require_exact_case = true;
    p.challenge_value = "Target.Example.COM";
    assert_true(match(&p, "target.example.com."));
    assert_true(match(&p, "target.example.com"));
    p.challenge_value = "target.example.com.";
    assert_true(match(&p, "TARGET.example.com."));
    assert_false(match(&p, "other.example.com."));
    assert_false(match(&p, "xtarget.example.com."));
}

static void test_dns_change_cname_substring(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_CHANGE);

    (void)state;
    p.dns_record_type = MPIC_RR_CNAME;
    p.challenge_value = "TOKEN123";
    assert_true(match(&p, "token123.dcv.example.net."));
    assert_false(match(&p, "token12.dcv.example.net."));
}

static void test_dns_change_caa_is_case_insensitive(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_CHANGE);

    (void)state;
    p.dns_record_type = MPIC_RR_CAA;
    p.require_exact_case = true; /* has no effect on CAA */
    p.challenge_value = "CA.Example";
    assert_true(match(&p, "ca.example"));
    assert_true(match(&p, "ca.example; accounturi=x"));
    p.require_exact_match = true;
    assert_true(match(&p, "CA.EXAMPLE"));
    assert_false(match(&p, "ca.example; accounturi=x"));
    assert_false(match(&p, "ca.example."));
}

/* ---- contact-*: exact, case-insensitive, no trimming ---- */

static void test_contact_email_txt_exact_case_insensitive(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_CONTACT_EMAIL_TXT);

    (void)state;
    p.challenge_value = "a@b.example";
    assert_true(match(&p, "a@b.example"));
    assert_true(match(&p, "A@B.Example"));
}

static void test_contact_is_not_trimmed_nor_substring(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_CONTACT_EMAIL_TXT);

    (void)state;
    p.challenge_value = "a@b";
    assert_false(match(&p, " a@b "));
    assert_false(match(&p, "a@b "));
    assert_false(match(&p, "\ta@b"));
    assert_false(match(&p, "xa@b"));
    assert_false(match(&p, "a@bc"));
    assert_false(match(&p, "a@"));
    /* and the other way: a padded challenge does not equal the record */
    p.challenge_value = " a@b ";
    assert_false(match(&p, "a@b"));
}

static void test_contact_every_method_uses_the_same_rule(void **state)
{
    static const enum mpic_dcv_method ms[] = {
        MPIC_DCV_CONTACT_EMAIL_TXT, MPIC_DCV_CONTACT_PHONE_TXT,
        MPIC_DCV_CONTACT_EMAIL_CAA, MPIC_DCV_CONTACT_PHONE_CAA};

    (void)state;
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        struct mpic_dcv_params p = params(ms[i]);

        p.challenge_value = "+1 555 0100";
        assert_true(match(&p, "+1 555 0100"));
        assert_false(match(&p, "+1 555 0100 "));
        assert_false(match(&p, "+15550100"));
    }
}

static void test_contact_empty_challenge_never_matches(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_CONTACT_PHONE_TXT);

    (void)state;
    p.challenge_value = "";
    assert_false(match(&p, ""));
    assert_false(dcv_contact_equal("", 0, ""));
    assert_false(dcv_contact_equal("", 0, NULL));
}

static void test_contact_nul_byte_does_not_truncate(void **state)
{
    static const char rec[] = {'a', '@', 'b', '\0', 'x'};
    struct mpic_dcv_params p = params(MPIC_DCV_CONTACT_EMAIL_TXT);

    (void)state;
    p.challenge_value = "a@b";
    assert_false(dcv_record_matches(&p, rec, sizeof(rec), false, NOW_S, NULL));
    assert_true(dcv_record_matches(&p, rec, 3, false, NOW_S, NULL));
}

static void test_caa_contact_tag_per_method(void **state)
{
    (void)state;
    assert_true(
        dcv_caa_contact_tag("contactemail", MPIC_DCV_CONTACT_EMAIL_CAA));
    assert_true(
        dcv_caa_contact_tag("ContactEmail", MPIC_DCV_CONTACT_EMAIL_CAA));
    assert_false(
        dcv_caa_contact_tag("contactphone", MPIC_DCV_CONTACT_EMAIL_CAA));
    assert_true(
        dcv_caa_contact_tag("CONTACTPHONE", MPIC_DCV_CONTACT_PHONE_CAA));
    assert_false(
        dcv_caa_contact_tag("contactemail", MPIC_DCV_CONTACT_PHONE_CAA));
    assert_false(dcv_caa_contact_tag("issue", MPIC_DCV_CONTACT_EMAIL_CAA));
    assert_false(
        dcv_caa_contact_tag("contactemailx", MPIC_DCV_CONTACT_EMAIL_CAA));
    assert_false(dcv_caa_contact_tag("contactemail", MPIC_DCV_DNS_CHANGE));
    assert_false(dcv_caa_contact_tag(NULL, MPIC_DCV_CONTACT_EMAIL_CAA));
}

/* ---- ip-address: compared as addresses ---- */

static void test_ip_address_v4_compared_as_address(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_IP_ADDRESS);

    (void)state;
    p.dns_record_type = MPIC_RR_A;
    p.challenge_value = "192.0.2.7";
    assert_true(match(&p, "192.0.2.7"));
    assert_false(match(&p, "192.0.2.70"));
    assert_false(match(&p, "192.0.2.8"));
}

static void test_ip_address_v6_compared_as_address(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_IP_ADDRESS);

    (void)state;
    p.dns_record_type = MPIC_RR_AAAA;
    p.challenge_value = "2001:DB8:0:0::1";
    assert_true(match(&p, "2001:db8::1"));
    assert_false(match(&p, "2001:db8::2"));
    /* a mapped IPv4 address is another record */
    p.challenge_value = "192.0.2.7";
    assert_false(match(&p, "::ffff:192.0.2.7"));
}

static void test_ip_address_malformed_challenge_never_matches(void **state)
{
    static char *bad[] = {"",
                          "192.0.2",
                          "192.0.2.7 ",
                          " 192.0.2.7",
                          "192.0.2.07x",
                          "example.com",
                          "2001:db8::1/64"};
    struct mpic_dcv_params p = params(MPIC_DCV_IP_ADDRESS);

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p.challenge_value = bad[i];
        assert_false(match(&p, "192.0.2.7"));
        assert_false(match(&p, bad[i]));
    }
    p.challenge_value = NULL;
    assert_false(match(&p, "192.0.2.7"));
}

static void test_ip_address_value_with_nul_never_matches(void **state)
{
    static const char rec[] = {'1', '.', '2', '.', '3', '.', '4', '\0', 'x'};
    struct mpic_dcv_params p = params(MPIC_DCV_IP_ADDRESS);

    (void)state;
    p.challenge_value = "1.2.3.4";
    assert_false(dcv_record_matches(&p, rec, sizeof(rec), false, NOW_S, NULL));
}

/* ---- reverse-address-lookup (PTR) ---- */

static void test_ptr_case_insensitive_trailing_dot_ignored(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_REVERSE_ADDRESS_LOOKUP);

    (void)state;
    p.challenge_value = "Host.Example.com";
    assert_true(match(&p, "host.example.com."));
    assert_true(match(&p, "HOST.EXAMPLE.COM"));
    p.challenge_value = "host.example.com.";
    assert_true(match(&p, "host.example.com."));
}

static void test_ptr_refuses_other_names(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_REVERSE_ADDRESS_LOOKUP);

    (void)state;
    p.challenge_value = "host.example.com";
    assert_false(match(&p, "xhost.example.com."));
    assert_false(match(&p, "host.example.com.."));
    assert_false(match(&p, "host.example.co."));
    assert_false(match(&p, "."));
    p.challenge_value = ".";
    assert_false(match(&p, "."));
}

static void test_ptr_value_with_nul_never_matches(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_REVERSE_ADDRESS_LOOKUP);
    static const char rec[] = "host.example.com\0.evil.example";

    (void)state;
    p.challenge_value = "host.example.com";
    assert_false(
        dcv_record_matches(&p, rec, sizeof(rec) - 1, false, NOW_S, NULL));
    /* the same name without the NUL and what follows does match */
    assert_true(dcv_record_matches(&p, rec, 16, false, NOW_S, NULL));
}

/* ---- dns-persistent (delegates to dcv_persist.c) ---- */

static void test_dns_persistent_good_record(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_PERSISTENT);
    const char *why = NULL;
    const char *rec = "CA.Example; accounturi=https://ca.example/acct/1";

    (void)state;
    mpic_strv_push(&p.issuer_domain_names, "ca.example");
    p.expected_account_uri = "https://ca.example/acct/1";
    assert_true(dcv_record_matches(&p, rec, strlen(rec), false, NOW_S, &why));
    assert_null(why);
    mpic_strv_cleanup(&p.issuer_domain_names);
}

static void test_dns_persistent_refusals_say_why(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_PERSISTENT);
    const char *acct = "ca.example; accounturi=https://ca.example/ACCT/1";
    const char *other = "other.example; accounturi=https://ca.example/acct/1";
    const char *expired = "ca.example; accounturi=https://ca.example/acct/1; "
                          "persistUntil=1700000000";
    const char *trailing = "ca.example; accounturi=https://ca.example/acct/1;";
    const char *why;

    (void)state;
    mpic_strv_push(&p.issuer_domain_names, "ca.example");
    p.expected_account_uri = "https://ca.example/acct/1";

    why = NULL;
    assert_false(
        dcv_record_matches(&p, acct, strlen(acct), false, NOW_S, &why));
    assert_string_equal(why,
                        dcv_persist_verdict_name(DCV_PERSIST_WRONG_ACCOUNT));
    why = NULL;
    assert_false(
        dcv_record_matches(&p, other, strlen(other), false, NOW_S, &why));
    assert_string_equal(why,
                        dcv_persist_verdict_name(DCV_PERSIST_WRONG_ISSUER));
    why = NULL;
    assert_false(
        dcv_record_matches(&p, expired, strlen(expired), false, NOW_S, &why));
    assert_string_equal(why, dcv_persist_verdict_name(DCV_PERSIST_EXPIRED));
    why = NULL;
    assert_false(
        dcv_record_matches(&p, trailing, strlen(trailing), false, NOW_S, &why));
    assert_string_equal(why, dcv_persist_verdict_name(DCV_PERSIST_MALFORMED));
    /* why may be NULL */
    assert_false(
        dcv_record_matches(&p, acct, strlen(acct), false, NOW_S, NULL));
    mpic_strv_cleanup(&p.issuer_domain_names);
}

static void test_dns_persistent_wildcard_needs_policy(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_DNS_PERSISTENT);
    const char *plain = "ca.example; accounturi=https://ca.example/acct/1";
    const char *wild =
        "ca.example; accounturi=https://ca.example/acct/1; policy=wildcard";
    const char *why = NULL;

    (void)state;
    mpic_strv_push(&p.issuer_domain_names, "ca.example");
    p.expected_account_uri = "https://ca.example/acct/1";
    assert_false(
        dcv_record_matches(&p, plain, strlen(plain), true, NOW_S, &why));
    assert_string_equal(why, dcv_persist_verdict_name(DCV_PERSIST_NO_WILDCARD));
    assert_true(dcv_record_matches(&p, wild, strlen(wild), true, NOW_S, NULL));
    assert_true(
        dcv_record_matches(&p, plain, strlen(plain), false, NOW_S, NULL));
    mpic_strv_cleanup(&p.issuer_domain_names);
}

/* ---- methods without a DNS record rule ---- */

static void test_http_methods_never_match_a_record(void **state)
{
    static const enum mpic_dcv_method ms[] = {MPIC_DCV_WEBSITE_CHANGE,
                                              MPIC_DCV_ACME_HTTP_01,
                                              MPIC_DCV_ACME_TLS_ALPN_01};

    (void)state;
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++) {
        struct mpic_dcv_params p = params(ms[i]);

        p.challenge_value = "token";
        p.key_authorization = "token";
        p.key_authorization_hash = "token";
        assert_false(match(&p, "token"));
    }
}

static void test_null_arguments_never_match(void **state)
{
    struct mpic_dcv_params p = params(MPIC_DCV_CONTACT_EMAIL_TXT);

    (void)state;
    p.challenge_value = "a@b";
    assert_false(dcv_record_matches(NULL, "a@b", 3, false, NOW_S, NULL));
    assert_false(dcv_record_matches(&p, NULL, 0, false, NOW_S, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_acme_dns_01_exact_value_matches),
        cmocka_unit_test(test_acme_dns_01_is_case_sensitive),
        cmocka_unit_test(test_acme_dns_01_refuses_substring_and_padding),
        cmocka_unit_test(test_acme_dns_01_empty_hash_never_matches),
        cmocka_unit_test(test_dns_account_01_same_rule_as_acme_dns_01),
        cmocka_unit_test(test_dns_change_txt_substring),
        cmocka_unit_test(test_dns_change_txt_exact_match),
        cmocka_unit_test(test_dns_change_txt_case_insensitive_when_asked),
        cmocka_unit_test(test_dns_change_empty_challenge_never_matches),
        cmocka_unit_test(test_dns_change_cname_ignores_case_and_trailing_dot),
        cmocka_unit_test(test_dns_change_cname_substring),
        cmocka_unit_test(test_dns_change_caa_is_case_insensitive),
        cmocka_unit_test(test_contact_email_txt_exact_case_insensitive),
        cmocka_unit_test(test_contact_is_not_trimmed_nor_substring),
        cmocka_unit_test(test_contact_every_method_uses_the_same_rule),
        cmocka_unit_test(test_contact_empty_challenge_never_matches),
        cmocka_unit_test(test_contact_nul_byte_does_not_truncate),
        cmocka_unit_test(test_caa_contact_tag_per_method),
        cmocka_unit_test(test_ip_address_v4_compared_as_address),
        cmocka_unit_test(test_ip_address_v6_compared_as_address),
        cmocka_unit_test(test_ip_address_malformed_challenge_never_matches),
        cmocka_unit_test(test_ip_address_value_with_nul_never_matches),
        cmocka_unit_test(test_ptr_case_insensitive_trailing_dot_ignored),
        cmocka_unit_test(test_ptr_refuses_other_names),
        cmocka_unit_test(test_ptr_value_with_nul_never_matches),
        cmocka_unit_test(test_dns_persistent_good_record),
        cmocka_unit_test(test_dns_persistent_refusals_say_why),
        cmocka_unit_test(test_dns_persistent_wildcard_needs_policy),
        cmocka_unit_test(test_http_methods_never_match_a_record),
        cmocka_unit_test(test_null_arguments_never_match),
    };

    return cmocka_run_group_tests_name("dcv_match", tests, NULL, NULL);
}
