/*
 * The compliance policy (coordinator/compliance.c, open-mpic-api.md 9): the BR
 * calendar pinned on both sides of every date with an injected clock (the
 * last second of the day before, and the first second of the day), and the
 * decision the coordinator applies to a request: 400 issues, 503, warnings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "coordinator/compliance.h"

/* 00:00:00 UTC of each date of the table (computed independently). */
#define T_2026_03_15 ((time_t)1773532800)
#define T_2026_06_15 ((time_t)1781481600)
#define T_2026_12_15 ((time_t)1797292800)
#define T_2027_03_15 ((time_t)1805068800)
#define T_2028_03_15 ((time_t)1836691200)
#define BEFORE(t)    ((t)-1) /* 23:59:59 of the day before */
#define DAY          ((time_t)86400)

static void test_parse_date(void **state)
{
    time_t t = 0;

    (void)state;
    assert_int_equal(mpic_compliance_parse_date("2026-03-15", &t), 0);
    assert_int_equal((long long)t, (long long)T_2026_03_15);
    assert_int_equal(mpic_compliance_parse_date("2028-03-15", &t), 0);
    assert_int_equal((long long)t, (long long)T_2028_03_15);
    assert_int_equal(mpic_compliance_parse_date("1970-01-01", &t), 0);
    assert_int_equal((long long)t, 0);
    assert_int_equal(mpic_compliance_parse_date("2028-02-29", &t), 0);
    assert_int_equal((long long)t, 1835395200LL);
    t = 42;
    assert_int_equal(mpic_compliance_parse_date("2027-02-29", &t), -1);
    assert_int_equal(mpic_compliance_parse_date("2026-13-01", &t), -1);
    assert_int_equal(mpic_compliance_parse_date("2026-00-10", &t), -1);
    assert_int_equal(mpic_compliance_parse_date("2026-04-31", &t), -1);
    assert_int_equal(mpic_compliance_parse_date("2026-3-15", &t), -1);
    assert_int_equal(mpic_compliance_parse_date("2026-03-15x", &t), -1);
    assert_int_equal(mpic_compliance_parse_date(" 2026-03-1", &t), -1);
    /* the right shape, not the right fields: one-digit month, signs */
    assert_int_equal(mpic_compliance_parse_date("2026-0--15", &t), -1);
    assert_int_equal(mpic_compliance_parse_date("2026--3-15", &t), -1);
    assert_int_equal(mpic_compliance_parse_date("", &t), -1);
    assert_int_equal(mpic_compliance_parse_date(NULL, &t), -1);
    assert_int_equal((long long)t, 42); /* untouched on error */
}

/* BR 3.2.2.9: 2, then 3 from 2026-03-15, 4 from 2026-06-15, 5 from
 * 2026-12-15; the day before and the day of each date. */
static void test_min_perspectives_calendar(void **state)
{
    static const struct {
        time_t t;
        long min;
        const char *since;
    } cases[] = {
        {0, 2, NULL},
        {T_2026_03_15 - 30 * DAY, 2, NULL},
        {BEFORE(T_2026_03_15), 2, NULL},
        {T_2026_03_15, 3, "2026-03-15"},
        {T_2026_03_15 + DAY - 1, 3, "2026-03-15"},
        {BEFORE(T_2026_06_15), 3, "2026-03-15"},
        {T_2026_06_15, 4, "2026-06-15"},
        {BEFORE(T_2026_12_15), 4, "2026-06-15"},
        {T_2026_12_15, 5, "2026-12-15"},
        {T_2026_12_15 + 43200, 5, "2026-12-15"},
        {T_2028_03_15 + 3650 * DAY, 5, "2026-12-15"},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *since = "x";

        assert_int_equal(mpic_br_min_perspectives(cases[i].t, &since),
                         cases[i].min);
        if (cases[i].since == NULL)
            assert_null(since);
        else
            assert_string_equal(since, cases[i].since);
        assert_int_equal(mpic_br_min_perspectives(cases[i].t, NULL),
                         cases[i].min);
    }
}

static void test_minimum_auto_or_config(void **state)
{
    struct mpic_compliance_policy p = {0, MPIC_SUNSET_ENFORCE};
    bool from_config = true;

    (void)state;
    assert_int_equal(
        mpic_compliance_minimum(&p, BEFORE(T_2026_06_15), &from_config), 3);
    assert_false(from_config);
    assert_int_equal(mpic_compliance_minimum(&p, T_2026_06_15, NULL), 4);
    /* An integer overrides the calendar, above or below it. */
    p.min_perspective_count = 2;
    assert_int_equal(mpic_compliance_minimum(&p, T_2026_12_15, &from_config),
                     2);
    assert_true(from_config);
    p.min_perspective_count = 6;
    assert_int_equal(mpic_compliance_minimum(&p, 0, &from_config), 6);
    assert_true(from_config);
}

static void expect_sunset(enum mpic_dcv_method m, time_t t,
                          enum mpic_sunset_level level, const char *section,
                          const char *since)
{
    struct mpic_sunset s;

    memset(&s, 0x55, sizeof(s));
    mpic_br_method_sunset(m, t, &s);
    assert_int_equal(s.level, level);
    if (level == MPIC_SUNSET_NONE) {
        assert_null(s.br_section);
        assert_null(s.since);
        return;
    }
    assert_string_equal(s.br_section, section);
    assert_string_equal(s.since, since);
}

/* BR 1.2.2: every sunset row on both sides of each of its dates. */
static void test_method_sunsets_calendar(void **state)
{
    (void)state;
    /* ip-address (3.2.2.4.8): MUST NOT since 2026-03-15, no SHOULD NOT. */
    expect_sunset(MPIC_DCV_IP_ADDRESS, BEFORE(T_2026_03_15), MPIC_SUNSET_NONE,
                  NULL, NULL);
    expect_sunset(MPIC_DCV_IP_ADDRESS, T_2026_03_15, MPIC_SUNSET_MUST_NOT,
                  "3.2.2.4.8", "2026-03-15");
    /* contact-phone-* (3.2.2.4.16/.17): SHOULD NOT 2026-03-15, MUST NOT
     * 2027-03-15. */
    expect_sunset(MPIC_DCV_CONTACT_PHONE_TXT, BEFORE(T_2026_03_15),
                  MPIC_SUNSET_NONE, NULL, NULL);
    expect_sunset(MPIC_DCV_CONTACT_PHONE_TXT, T_2026_03_15,
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.16", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_PHONE_TXT, BEFORE(T_2027_03_15),
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.16", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_PHONE_TXT, T_2027_03_15,
                  MPIC_SUNSET_MUST_NOT, "3.2.2.4.16", "2027-03-15");
    expect_sunset(MPIC_DCV_CONTACT_PHONE_CAA, BEFORE(T_2026_03_15),
                  MPIC_SUNSET_NONE, NULL, NULL);
    expect_sunset(MPIC_DCV_CONTACT_PHONE_CAA, T_2026_03_15,
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.17", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_PHONE_CAA, BEFORE(T_2027_03_15),
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.17", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_PHONE_CAA, T_2027_03_15,
                  MPIC_SUNSET_MUST_NOT, "3.2.2.4.17", "2027-03-15");
    /* reverse-address-lookup (3.2.2.5.3): MUST NOT from 2027-03-15. */
    expect_sunset(MPIC_DCV_REVERSE_ADDRESS_LOOKUP, T_2026_03_15,
                  MPIC_SUNSET_NONE, NULL, NULL);
    expect_sunset(MPIC_DCV_REVERSE_ADDRESS_LOOKUP, BEFORE(T_2027_03_15),
                  MPIC_SUNSET_NONE, NULL, NULL);
    expect_sunset(MPIC_DCV_REVERSE_ADDRESS_LOOKUP, T_2027_03_15,
                  MPIC_SUNSET_MUST_NOT, "3.2.2.5.3", "2027-03-15");
    /* contact-email-* (3.2.2.4.14/.13): SHOULD NOT 2026-03-15, MUST NOT
     * 2028-03-15. */
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_TXT, BEFORE(T_2026_03_15),
                  MPIC_SUNSET_NONE, NULL, NULL);
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_TXT, T_2026_03_15,
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.14", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_TXT, T_2027_03_15,
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.14", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_TXT, BEFORE(T_2028_03_15),
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.14", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_TXT, T_2028_03_15,
                  MPIC_SUNSET_MUST_NOT, "3.2.2.4.14", "2028-03-15");
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_CAA, BEFORE(T_2026_03_15),
                  MPIC_SUNSET_NONE, NULL, NULL);
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_CAA, T_2026_03_15,
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.13", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_CAA, BEFORE(T_2028_03_15),
                  MPIC_SUNSET_SHOULD_NOT, "3.2.2.4.13", "2026-03-15");
    expect_sunset(MPIC_DCV_CONTACT_EMAIL_CAA, T_2028_03_15,
                  MPIC_SUNSET_MUST_NOT, "3.2.2.4.13", "2028-03-15");
    /* Methods with no sunset stay usable, however late. */
    for (int m = 0; m < MPIC_DCV_METHOD_COUNT; m++) {
        if (m == MPIC_DCV_IP_ADDRESS || m == MPIC_DCV_CONTACT_PHONE_TXT ||
            m == MPIC_DCV_CONTACT_PHONE_CAA ||
            m == MPIC_DCV_REVERSE_ADDRESS_LOOKUP ||
            m == MPIC_DCV_CONTACT_EMAIL_TXT || m == MPIC_DCV_CONTACT_EMAIL_CAA)
            continue;
        expect_sunset((enum mpic_dcv_method)m, T_2028_03_15 + 3650 * DAY,
                      MPIC_SUNSET_NONE, NULL, NULL);
    }
}

static void test_sunset_mode_names(void **state)
{
    enum mpic_sunset_mode m = MPIC_SUNSET_OFF;

    (void)state;
    assert_int_equal(mpic_sunset_mode_from_name("enforce", &m), 0);
    assert_int_equal(m, MPIC_SUNSET_ENFORCE);
    assert_int_equal(mpic_sunset_mode_from_name("warn", &m), 0);
    assert_int_equal(m, MPIC_SUNSET_WARN);
    assert_int_equal(mpic_sunset_mode_from_name("off", &m), 0);
    assert_int_equal(m, MPIC_SUNSET_OFF);
    assert_int_equal(mpic_sunset_mode_from_name("Enforce", &m), -1);
    assert_int_equal(mpic_sunset_mode_from_name("strict", &m), -1);
    assert_int_equal(mpic_sunset_mode_from_name("", &m), -1);
    assert_int_equal(mpic_sunset_mode_from_name(NULL, &m), -1);
    assert_int_equal(m, MPIC_SUNSET_OFF);
    assert_string_equal(mpic_sunset_mode_name(MPIC_SUNSET_WARN), "warn");
    assert_string_equal(mpic_sunset_mode_name((enum mpic_sunset_mode)99),
                        "unknown");
}

/* ---- the decision -------------------------------------------------------- */

struct outcome {
    enum mpic_compliance_verdict v;
    struct mpic_errlist issues;
    struct mpic_errlist warnings;
    char *why;
};

static void decide(const struct mpic_compliance_policy *p, time_t now,
                   long count, long dflt, int method, struct outcome *o)
{
    struct mpic_compliance_request q;

    memset(o, 0, sizeof(*o));
    mpic_errlist_init(&o->issues);
    mpic_errlist_init(&o->warnings);
    memset(&q, 0, sizeof(q));
    q.perspective_count = count;
    q.default_perspective_count = dflt;
    q.is_dcv = method >= 0;
    q.method = method >= 0 ? (enum mpic_dcv_method)method : 0;
    o->v =
        mpic_compliance_decide(p, now, &q, &o->issues, &o->warnings, &o->why);
    if (o->v != MPIC_COMPLIANCE_UNAVAILABLE)
        assert_null(o->why);
}

static void outcome_cleanup(struct outcome *o)
{
    mpic_errlist_cleanup(&o->issues);
    mpic_errlist_cleanup(&o->warnings);
    free(o->why);
}

static void test_decide_perspective_count(void **state)
{
    struct mpic_compliance_policy p = {0, MPIC_SUNSET_ENFORCE};
    struct outcome o;

    (void)state;
    /* The day before 2026-12-15 four will do; on the day they do not. */
    decide(&p, BEFORE(T_2026_12_15), 4, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.issues.n, 0);
    outcome_cleanup(&o);
    decide(&p, T_2026_12_15, 4, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    assert_int_equal(o.issues.n, 1);
    assert_string_equal(o.issues.items[0].type,
                        "perspective-count-below-minimum");
    assert_non_null(strstr(o.issues.items[0].message,
                           "$.orchestration_parameters.perspective_count: 4"));
    assert_non_null(strstr(o.issues.items[0].message, "minimum of 5"));
    outcome_cleanup(&o);
    /* Each earlier step, too. */
    decide(&p, BEFORE(T_2026_03_15), 2, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    outcome_cleanup(&o);
    decide(&p, T_2026_03_15, 2, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    outcome_cleanup(&o);
    decide(&p, BEFORE(T_2026_06_15), 3, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    outcome_cleanup(&o);
    decide(&p, T_2026_06_15, 3, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    outcome_cleanup(&o);
    decide(&p, T_2026_12_15, 5, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    outcome_cleanup(&o);
    /* 1 is out of range on any day: left to the range check. */
    decide(&p, T_2026_12_15, 1, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.issues.n, 0);
    outcome_cleanup(&o);
    /* A configured minimum, in both directions. */
    p.min_perspective_count = 2;
    decide(&p, T_2028_03_15, 2, 3, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    outcome_cleanup(&o);
    p.min_perspective_count = 6;
    decide(&p, 0, 5, 6, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    assert_non_null(
        strstr(o.issues.items[0].message, "compliance.min_perspective_count"));
    outcome_cleanup(&o);
}

/* The minimum rose under a running daemon: a request that relies on the
 * default is refused with 503, never run below the minimum. */
static void test_decide_default_below_minimum_is_unavailable(void **state)
{
    struct mpic_compliance_policy p = {0, MPIC_SUNSET_ENFORCE};
    struct outcome o;

    (void)state;
    decide(&p, BEFORE(T_2026_12_15), -1, 4, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    outcome_cleanup(&o);
    decide(&p, T_2026_12_15, -1, 4, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_UNAVAILABLE);
    assert_int_equal(o.issues.n, 0);
    assert_non_null(o.why);
    assert_non_null(strstr(o.why, "default_perspective_count 4"));
    assert_non_null(strstr(o.why, "minimum of 5"));
    outcome_cleanup(&o);
    /* An explicit count at the minimum is still served that day. */
    decide(&p, T_2026_12_15, 5, 4, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    outcome_cleanup(&o);
    /* The same for DCV; a refusable method is a 400 first. */
    decide(&p, T_2026_12_15, -1, 4, MPIC_DCV_ACME_DNS_01, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_UNAVAILABLE);
    outcome_cleanup(&o);
    decide(&p, T_2026_12_15, -1, 4, MPIC_DCV_IP_ADDRESS, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    assert_string_equal(o.issues.items[0].type, "validation-method-sunset");
    outcome_cleanup(&o);
    /* Sunsets off does not lift the minimum. */
    p.method_sunsets = MPIC_SUNSET_OFF;
    decide(&p, T_2026_12_15, -1, 4, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_UNAVAILABLE);
    outcome_cleanup(&o);
}

static void test_decide_sunsets_by_mode(void **state)
{
    struct mpic_compliance_policy p = {0, MPIC_SUNSET_ENFORCE};
    struct outcome o;

    (void)state;
    /* enforce: MUST NOT refused, SHOULD NOT served and flagged. */
    decide(&p, BEFORE(T_2026_03_15), -1, 5, MPIC_DCV_IP_ADDRESS, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.warnings.n, 0);
    outcome_cleanup(&o);
    decide(&p, T_2026_03_15, -1, 5, MPIC_DCV_IP_ADDRESS, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    assert_int_equal(o.issues.n, 1);
    assert_string_equal(o.issues.items[0].type, "validation-method-sunset");
    assert_non_null(strstr(o.issues.items[0].message,
                           "$.dcv_check_parameters.validation_method: "
                           "ip-address"));
    assert_non_null(strstr(o.issues.items[0].message, "3.2.2.4.8"));
    assert_int_equal(o.warnings.n, 0);
    outcome_cleanup(&o);
    decide(&p, T_2026_03_15, -1, 5, MPIC_DCV_CONTACT_EMAIL_TXT, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.issues.n, 0);
    assert_int_equal(o.warnings.n, 1);
    assert_string_equal(o.warnings.items[0].type, "validation-method-sunset");
    assert_non_null(strstr(o.warnings.items[0].message, "SHOULD NOT"));
    assert_non_null(strstr(o.warnings.items[0].message, "2028-03-15"));
    outcome_cleanup(&o);
    decide(&p, T_2028_03_15, -1, 5, MPIC_DCV_CONTACT_EMAIL_TXT, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    outcome_cleanup(&o);
    /* Both problems of one request are reported together. */
    decide(&p, T_2026_12_15, 3, 5, MPIC_DCV_IP_ADDRESS, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    assert_int_equal(o.issues.n, 2);
    outcome_cleanup(&o);
    /* A method with no sunset is neither refused nor flagged. */
    decide(&p, T_2028_03_15, -1, 5, MPIC_DCV_ACME_DNS_01, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.warnings.n, 0);
    outcome_cleanup(&o);
    /* CAA has no method. */
    decide(&p, T_2028_03_15, -1, 5, -1, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.warnings.n, 0);
    outcome_cleanup(&o);

    /* warn: everything served, every sunset flagged. */
    p.method_sunsets = MPIC_SUNSET_WARN;
    decide(&p, T_2026_03_15, -1, 5, MPIC_DCV_IP_ADDRESS, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.issues.n, 0);
    assert_int_equal(o.warnings.n, 1);
    assert_non_null(strstr(o.warnings.items[0].message, "MUST NOT"));
    outcome_cleanup(&o);
    decide(&p, T_2026_03_15, -1, 5, MPIC_DCV_CONTACT_PHONE_CAA, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.warnings.n, 1);
    outcome_cleanup(&o);
    /* warn does not lift the minimum */
    decide(&p, T_2026_03_15, 2, 5, MPIC_DCV_IP_ADDRESS, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_REFUSED);
    assert_int_equal(o.issues.n, 1);
    assert_string_equal(o.issues.items[0].type,
                        "perspective-count-below-minimum");
    outcome_cleanup(&o);

    /* off: neither refused nor flagged. */
    p.method_sunsets = MPIC_SUNSET_OFF;
    decide(&p, T_2028_03_15, -1, 5, MPIC_DCV_IP_ADDRESS, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.warnings.n, 0);
    outcome_cleanup(&o);
    decide(&p, T_2028_03_15, -1, 5, MPIC_DCV_CONTACT_EMAIL_CAA, &o);
    assert_int_equal(o.v, MPIC_COMPLIANCE_OK);
    assert_int_equal(o.warnings.n, 0);
    outcome_cleanup(&o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_date),
        cmocka_unit_test(test_min_perspectives_calendar),
        cmocka_unit_test(test_minimum_auto_or_config),
        cmocka_unit_test(test_method_sunsets_calendar),
        cmocka_unit_test(test_sunset_mode_names),
        cmocka_unit_test(test_decide_perspective_count),
        cmocka_unit_test(test_decide_default_below_minimum_is_unavailable),
        cmocka_unit_test(test_decide_sunsets_by_mode),
    };

    return cmocka_run_group_tests_name("compliance", tests, NULL, NULL);
}
