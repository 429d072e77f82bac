/* Unit tests of the dns-persistent record rules (dcv-checker/dcv_persist.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dcv-checker/dcv.h"

#define ACCT "https://ca.example/acct/123"
#define NOW  1800000000

static struct mpic_strv issuers;

static int setup(void **state)
{
    (void)state;
    mpic_strv_init(&issuers);
    mpic_strv_push(&issuers, "ca.example");
    mpic_strv_push(&issuers, "other-ca.example");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mpic_strv_cleanup(&issuers);
    return 0;
}

static enum dcv_persist_verdict judge(const char *txt, bool wildcard)
{
    return dcv_persist_evaluate(txt, strlen(txt), &issuers, ACCT, wildcard,
                                NOW);
}

static void test_parse_full_record(void **state)
{
    static const char txt[] = " ca.example ; accounturi=" ACCT
                              " ; policy=wildcard; persistUntil=1900000000";
    struct dcv_persist_record r;
    char *why = NULL;
    (void)state;
    assert_int_equal(dcv_persist_parse(txt, strlen(txt), &r, &why), MPIC_OK);
    assert_string_equal(r.issuer, "ca.example");
    assert_string_equal(r.accounturi, ACCT);
    assert_true(r.policy_wildcard);
    assert_true(r.has_persist_until);
    assert_int_equal(r.persist_until, 1900000000);
    dcv_persist_record_cleanup(&r);
}

static void test_minimal_record_passes(void **state)
{
    (void)state;
    assert_int_equal(judge("ca.example; accounturi=" ACCT, false),
                     DCV_PERSIST_OK);
}

static void test_issuer_is_case_insensitive(void **state)
{
    (void)state;
    assert_int_equal(judge("CA.Example; accounturi=" ACCT, false),
                     DCV_PERSIST_OK);
    assert_int_equal(judge("Other-CA.example.; accounturi=" ACCT, false),
                     DCV_PERSIST_OK);
}

static void test_wrong_issuer_fails(void **state)
{
    (void)state;
    assert_int_equal(judge("evil.example; accounturi=" ACCT, false),
                     DCV_PERSIST_WRONG_ISSUER);
    assert_int_equal(judge("ca.example.evil; accounturi=" ACCT, false),
                     DCV_PERSIST_WRONG_ISSUER);
}

static void test_accounturi_is_exact(void **state)
{
    (void)state;
    assert_int_equal(
        judge("ca.example; accounturi=https://ca.example/ACCT/123", false),
        DCV_PERSIST_WRONG_ACCOUNT);
    assert_int_equal(judge("ca.example; accounturi=" ACCT "4", false),
                     DCV_PERSIST_WRONG_ACCOUNT);
}

static void test_param_names_case_insensitive(void **state)
{
    (void)state;
    assert_int_equal(judge("ca.example; AccountURI=" ACCT
                           "; POLICY=WildCard; PERSISTUNTIL=1900000000",
                           true),
                     DCV_PERSIST_OK);
}

static void test_persist_until(void **state)
{
    (void)state;
    assert_int_equal(judge("ca.example; accounturi=" ACCT
                           "; persistUntil=1800000000",
                           false),
                     DCV_PERSIST_OK);
    assert_int_equal(judge("ca.example; accounturi=" ACCT
                           "; persistUntil=1799999999",
                           false),
                     DCV_PERSIST_EXPIRED);
}

static void test_wildcard_needs_policy(void **state)
{
    (void)state;
    assert_int_equal(judge("ca.example; accounturi=" ACCT, true),
                     DCV_PERSIST_NO_WILDCARD);
    assert_int_equal(
        judge("ca.example; accounturi=" ACCT "; policy=other", true),
        DCV_PERSIST_NO_WILDCARD);
    assert_int_equal(
        judge("ca.example; accounturi=" ACCT "; policy=wildcard", true),
        DCV_PERSIST_OK);
    /* policy=wildcard does not hurt a non-wildcard target */
    assert_int_equal(
        judge("ca.example; accounturi=" ACCT "; policy=wildcard", false),
        DCV_PERSIST_OK);
}

static void test_unknown_params_ignored(void **state)
{
    (void)state;
    assert_int_equal(
        judge("ca.example; future=thing; accounturi=" ACCT "; x-y=z", false),
        DCV_PERSIST_OK);
}

static void test_malformed_variants(void **state)
{
    static const char *bad[] = {
        "",
        "   ",
        "; accounturi=" ACCT,
        "ca.example",
        "ca.example;",
        "ca.example; accounturi=" ACCT ";",
        "ca.example; accounturi=" ACCT "; ",
        "ca.example;; accounturi=" ACCT,
        "ca.example; ; accounturi=" ACCT,
        "ca.example; accounturi=" ACCT "; accounturi=" ACCT,
        "ca.example; accounturi=" ACCT "; policy=wildcard; policy=wildcard",
        "ca.example; accounturi=" ACCT "; persistUntil=1; persistUntil=1",
        "ca.example; accounturi=",
        "ca.example; accounturi",
        "ca.example; =x; accounturi=" ACCT,
        "ca.example; accounturi=" ACCT "; persistUntil=",
        "ca.example; accounturi=" ACCT "; persistUntil=12a",
        "ca.example; accounturi=" ACCT "; persistUntil=-5",
        "ca.example; accounturi=" ACCT "; persistUntil=99999999999999999999999",
        "ca.example; policy=wildcard",
        "ca example; accounturi=" ACCT,
        "ca.example; accounturi=" ACCT "; policy=",
    };
    size_t i;
    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (judge(bad[i], false) != DCV_PERSIST_MALFORMED)
            fail_msg("not malformed: \"%s\"", bad[i]);
    }
}

static void test_nul_byte_is_malformed(void **state)
{
    static const char txt[] = "ca.example; accounturi=" ACCT "\0x";
    (void)state;
    assert_int_equal(
        dcv_persist_evaluate(txt, sizeof(txt) - 1, &issuers, ACCT, false, NOW),
        DCV_PERSIST_MALFORMED);
}

static void test_malformed_has_reason(void **state)
{
    static const char txt[] = "ca.example; accounturi=a; accounturi=b";
    struct dcv_persist_record r;
    char *why = NULL;
    (void)state;
    assert_int_equal(dcv_persist_parse(txt, strlen(txt), &r, &why),
                     MPIC_ERR_INVALID);
    assert_non_null(why);
    assert_non_null(strstr(why, "duplicate"));
    assert_null(r.issuer);
    free(why);
}

/* Every verdict has its own name (the reason a refusal is logged with). */
static void test_verdict_names(void **state)
{
    static const enum dcv_persist_verdict all[] = {
        DCV_PERSIST_OK,           DCV_PERSIST_MALFORMED,
        DCV_PERSIST_WRONG_ISSUER, DCV_PERSIST_WRONG_ACCOUNT,
        DCV_PERSIST_EXPIRED,      DCV_PERSIST_NO_WILDCARD,
    };
    size_t n = sizeof(all) / sizeof(all[0]);

    (void)state;
    assert_string_equal(dcv_persist_verdict_name(DCV_PERSIST_OK), "ok");
    for (size_t i = 0; i < n; i++) {
        const char *a = dcv_persist_verdict_name(all[i]);

        assert_string_not_equal(a, "unknown");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(a, dcv_persist_verdict_name(all[j]));
    }
    assert_string_equal(dcv_persist_verdict_name((enum dcv_persist_verdict)99),
                        "unknown");
    dcv_persist_record_cleanup(NULL); /* NULL-safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_full_record),
        cmocka_unit_test(test_minimal_record_passes),
        cmocka_unit_test(test_issuer_is_case_insensitive),
        cmocka_unit_test(test_wrong_issuer_fails),
        cmocka_unit_test(test_accounturi_is_exact),
        cmocka_unit_test(test_param_names_case_insensitive),
        cmocka_unit_test(test_persist_until),
        cmocka_unit_test(test_wildcard_needs_policy),
        cmocka_unit_test(test_unknown_params_ignored),
        cmocka_unit_test(test_malformed_variants),
        cmocka_unit_test(test_nul_byte_is_malformed),
        cmocka_unit_test(test_malformed_has_reason),
        cmocka_unit_test(test_verdict_names),
    };
    return cmocka_run_group_tests_name("dcv_persist", tests, setup, teardown);
}
