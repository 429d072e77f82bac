/*
 * Unit tests for caa-checker/caa_decide.c: the RFC 8659 / RFC 8657 / RFC 9495
 * decision on an RRset built directly as structs. The CA under test is
 * "ca.example" unless a test says otherwise. Also covers the decision-only
 * cases of the public CAA test suite (caatestsuite.com).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caa-checker/caa_decide.h"
#include "common/mem.h"
#include "common/strv.h"

/* An RRset under construction; records are freed by rrset_free(). */
struct rrset {
    struct caa_record *r;
    size_t n;
};

static void add_bin(struct rrset *s, uint8_t flags, const char *tag,
                    const char *value, size_t len)
{
    struct caa_record *r;

    s->r = xreallocarray(s->r, s->n + 1, sizeof(*s->r));
    r = &s->r[s->n++];
    r->flags = flags;
    r->tag = tag != NULL ? xstrdup(tag) : NULL;
    r->tag_len = tag != NULL ? strlen(tag) : 0;
    r->value = xmemdup(value, len);
    r->value_len = len;
}

static void add(struct rrset *s, uint8_t flags, const char *tag,
                const char *value)
{
    add_bin(s, flags, tag, value, strlen(value));
}

static void rrset_free(struct rrset *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->r[i].tag);
        free(s->r[i].value);
    }
    free(s->r);
    memset(s, 0, sizeof(*s));
}

/* The CA's caa_domains for one test. */
struct ca {
    struct mpic_strv domains;
    struct caa_decide_input in;
};

static void ca_init(struct ca *ca, const char *domain)
{
    memset(ca, 0, sizeof(*ca));
    mpic_strv_init(&ca->domains);
    if (domain != NULL)
        mpic_strv_push(&ca->domains, domain);
    ca->in.wildcard = false;
    ca->in.cert_type = MPIC_CERT_TLS_SERVER;
    ca->in.caa_domains = &ca->domains;
}

static void ca_cleanup(struct ca *ca)
{
    mpic_strv_cleanup(&ca->domains);
}

/* Runs the decision; checks a reason always comes back. */
static bool decide(const struct rrset *s, const struct caa_decide_input *in)
{
    char *reason = NULL;
    bool ok = caa_decide(s->r, s->n, in, &reason);

    assert_non_null(reason);
    assert_true(strlen(reason) > 0);
    free(reason);
    return ok;
}

/* Runs the decision and checks both the outcome and a reason fragment. */
static void expect(const struct rrset *s, const struct caa_decide_input *in,
                   bool want, const char *fragment)
{
    char *reason = NULL;
    bool ok = caa_decide(s->r, s->n, in, &reason);
    bool has = reason != NULL && strstr(reason, fragment) != NULL;
    char msg[512];

    snprintf(msg, sizeof(msg), "%s", reason != NULL ? reason : "(null)");
    free(reason);
    if (ok != want || !has)
        fail_msg("got %s, reason \"%s\"; want %s with \"%s\"",
                 ok ? "permit" : "deny", msg, want ? "permit" : "deny",
                 fragment);
}

/* One record "0 issue <value>" for ca.example, tls-server, no wildcard. */
static bool decide_issue_bin(const char *value, size_t len)
{
    struct rrset s = {0};
    struct ca ca;
    bool ok;

    ca_init(&ca, "ca.example");
    add_bin(&s, 0, "issue", value, len);
    ok = decide(&s, &ca.in);
    rrset_free(&s);
    ca_cleanup(&ca);
    return ok;
}

static bool decide_issue(const char *value)
{
    return decide_issue_bin(value, strlen(value));
}

static void expect_issue_values(const char *const *values, size_t n, bool want)
{
    for (size_t i = 0; i < n; i++) {
        if (decide_issue(values[i]) != want)
            fail_msg("issue \"%s\": want %s", values[i],
                     want ? "permit" : "deny");
    }
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* ---- basics ---- */

static void test_empty_rrset_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    expect(&s, &ca.in, true, "no issue records");
    ca_cleanup(&ca);
}

static void test_issue_for_us_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example");
    expect(&s, &ca.in, true, "issue record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_issue_for_other_ca_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "other.example");
    expect(&s, &ca.in, false, "no issue record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_issue_for_parent_or_child_of_ca_denies(void **state)
{
    static const char *const v[] = {"example", "sub.ca.example",
                                    "ca.example.com", "xca.example"};

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

static void test_empty_issuer_permits_nobody(void **state)
{
    static const char *const v[] = {"",      ";",          " ; ",
                                    "\t;\t", ";policy=ev", " ; account=1"};

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

static void test_unknown_parameters_are_ignored(void **state)
{
    static const char *const v[] = {
        "ca.example; account=12345",
        "ca.example; policy=ev; account=12345",
        "ca.example;policy=ev;account=12345",
        "ca.example; policy=",
        "ca.example; validation---method=http-01",
        "ca.example; account=!@_[}#$z",
        "ca.example; 1=2",
        "ca.example; a==b", /* the value "=b" is in the grammar */
        "ca.example;",
        "ca.example ;",
    };

    (void)state;
    expect_issue_values(v, N_OF(v), true);
}

static void test_issuer_with_digits_and_hyphens_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "1ca--x.example-2.net");
    add(&s, 0, "issue", "1ca--x.example-2.net");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- case and trailing dots ---- */

static void test_tag_case_is_ignored(void **state)
{
    static const char *const tags[] = {"ISSUE", "IsSuE", "Issue"};

    (void)state;
    for (size_t i = 0; i < N_OF(tags); i++) {
        struct rrset s = {0};
        struct ca ca;
        bool ok;

        ca_init(&ca, "ca.example");
        add(&s, 0, tags[i], "ca.example");
        ok = decide(&s, &ca.in);
        rrset_free(&s);
        ca_cleanup(&ca);
        if (!ok)
            fail_msg("tag %s should permit", tags[i]);
    }
}

static void test_tag_case_is_ignored_when_denying(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "ISSUE", "other.example");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_issuer_case_is_ignored(void **state)
{
    static const char *const v[] = {"CA.EXAMPLE", "Ca.Example"};

    (void)state;
    expect_issue_values(v, N_OF(v), true);
}

static void test_caa_domain_case_is_ignored(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "CA.Example");
    add(&s, 0, "issue", "ca.example");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_issuer_trailing_dot_permits(void **state)
{
    static const char *const v[] = {"ca.example.", "ca.example. ; a=b",
                                    " ca.example.;"};

    (void)state;
    expect_issue_values(v, N_OF(v), true);
}

static void test_caa_domain_trailing_dot_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example.");
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "issue", "other.example.");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_issuer_bad_dots_deny(void **state)
{
    static const char *const v[] = {"ca.example..", ".",
                                    "..",           ".ca.example",
                                    "ca..example",  "ca.example.."};

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

/* ---- whitespace ---- */

static void test_whitespace_around_parts_permits(void **state)
{
    static const char *const v[] = {
        "  ca.example  ",     "\tca.example\t",
        "ca.example ; a=b",   "ca.example\t;\ta=b\t",
        "ca.example; a = b",  "ca.example;a=b ; c=d",
        "ca.example ;  \t  ", " ca.example ; a=b ;c =d ",
    };

    (void)state;
    expect_issue_values(v, N_OF(v), true);
}

static void test_other_whitespace_denies(void **state)
{
    static const char *const v[] = {"ca.example\n",   "\nca.example",
                                    "ca.example\r\n", "ca.example\v",
                                    "ca. example",    "ca .example"};

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

/* ---- flags and unknown tags (RFC 8659 section 4.1) ---- */

static void test_critical_unknown_tag_flags_128_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example");
    add(&s, 128, "tbs", "Unknown");
    expect(&s, &ca.in, false, "critical unknown tag 'tbs' (flags 128)");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_critical_unknown_tag_flags_130_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 130, "tbs", "Unknown");
    add(&s, 0, "issue", "ca.example");
    expect(&s, &ca.in, false, "critical unknown tag 'tbs' (flags 130)");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void
test_critical_unknown_tag_denies_for_wildcard_and_smime(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issuewild", "ca.example");
    add(&s, 0, "issuemail", "ca.example");
    add(&s, 255, "mystery", "");
    ca.in.wildcard = true;
    assert_false(decide(&s, &ca.in));
    ca.in.wildcard = false;
    ca.in.cert_type = MPIC_CERT_SMIME;
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_critical_tag_without_tag_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example");
    add(&s, 128, NULL, "x");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_critical_tag_reason_is_sanitised(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 128, "a\"b\\c\x01", "x");
    expect(&s, &ca.in, false, "critical unknown tag 'a?b?c?'");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_noncritical_unknown_tag_is_ignored(void **state)
{
    static const uint8_t flags[] = {0, 1, 64, 127};

    (void)state;
    for (size_t i = 0; i < N_OF(flags); i++) {
        struct rrset s = {0};
        struct ca ca;
        bool ok;

        ca_init(&ca, "ca.example");
        add(&s, flags[i], "tbs", "Unknown");
        add(&s, 0, "issue", "ca.example");
        ok = decide(&s, &ca.in);
        rrset_free(&s);
        ca_cleanup(&ca);
        if (!ok)
            fail_msg("flags %u with unknown tag should be ignored",
                     (unsigned)flags[i]);
    }
}

static void test_only_noncritical_unknown_tags_permit(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "mystery", "other.example");
    expect(&s, &ca.in, true, "no issue records");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_critical_known_tags_are_fine(void **state)
{
    static const char *const tags[] = {"issue", "issuewild",    "issuemail",
                                       "iodef", "contactemail", "contactphone",
                                       "IODEF"};

    (void)state;
    for (size_t i = 0; i < N_OF(tags); i++) {
        struct rrset s = {0};
        struct ca ca;
        bool ok;

        ca_init(&ca, "ca.example");
        add(&s, 128, tags[i], "ca.example");
        add(&s, 128, "issue", "ca.example");
        ok = decide(&s, &ca.in);
        rrset_free(&s);
        ca_cleanup(&ca);
        if (!ok)
            fail_msg("critical known tag %s should not deny", tags[i]);
    }
}

/* ---- issuewild (RFC 8659 section 4.3) ---- */

static void test_wildcard_issuewild_for_us_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issue", "other.example");
    add(&s, 0, "issuewild", "ca.example");
    expect(&s, &ca.in, true, "issuewild record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_wildcard_issuewild_for_other_denies_despite_issue(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "issuewild", "other.example");
    expect(&s, &ca.in, false, "no issuewild record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_wildcard_issuewild_semicolon_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "issuewild", ";");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_wildcard_issuewild_tag_case_is_ignored(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "IssueWild", "other.example");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_wildcard_without_issuewild_uses_issue(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "iodef", "mailto:sec@example.com");
    expect(&s, &ca.in, true, "issue record names ca.example");
    rrset_free(&s);
    add(&s, 0, "issue", "other.example");
    expect(&s, &ca.in, false, "no issue record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_wildcard_only_issuewild_for_us_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issuewild", "ca.example");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_non_wildcard_ignores_issuewild(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "other.example");
    add(&s, 0, "issuewild", "ca.example");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);

    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "issuewild", ";");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);

    /* issuewild alone says nothing about non-wildcard names */
    add(&s, 0, "issuewild", "other.example");
    expect(&s, &ca.in, true, "no issue records");
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- issuemail (RFC 9495) ---- */

static void test_smime_issuemail_for_us_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.cert_type = MPIC_CERT_SMIME;
    add(&s, 0, "issue", "other.example");
    add(&s, 0, "issuemail", "ca.example");
    expect(&s, &ca.in, true, "issuemail record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_smime_issuemail_for_other_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.cert_type = MPIC_CERT_SMIME;
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "issuemail", "other.example");
    expect(&s, &ca.in, false, "no issuemail record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_smime_without_issuemail_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.cert_type = MPIC_CERT_SMIME;
    add(&s, 0, "issue", "other.example");
    add(&s, 0, "issuewild", "other.example");
    expect(&s, &ca.in, true, "no issuemail records");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_tls_ignores_issuemail(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issuemail", "other.example");
    assert_true(decide(&s, &ca.in));
    add(&s, 0, "issue", "other.example");
    add(&s, 0, "issuemail", "ca.example");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_unknown_cert_type_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.cert_type = (enum mpic_cert_type)42;
    add(&s, 0, "issue", "ca.example");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- RRset composition ---- */

static void test_only_iodef_and_contacts_permit(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "iodef", "mailto:security@example.com");
    add(&s, 0, "contactemail", "contactme@example.com");
    add(&s, 0, "contactphone", "+1 (555) 555-5555");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_any_permitting_record_is_enough(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "other.example");
    add(&s, 0, "issue", ";");
    add(&s, 0, "issue", "<html>");
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "issue", "third.example");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_contact_records_do_not_affect_issue(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "other.example");
    add(&s, 0, "contactemail", "ca.example");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_big_rrset_with_ours_last_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;
    char v[64];

    (void)state;
    ca_init(&ca, "ca.example");
    for (int i = 0; i < 999; i++) {
        snprintf(v, sizeof(v), "ca%d.other.example", i);
        add(&s, 0, "issue", v);
    }
    add(&s, 0, "issue", "ca.example");
    assert_int_equal(s.n, 1000);
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_big_rrset_without_ours_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;
    char v[64];

    (void)state;
    ca_init(&ca, "ca.example");
    for (int i = 0; i < 1000; i++) {
        snprintf(v, sizeof(v), "ca%d.other.example", i);
        add(&s, 0, "issue", v);
    }
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- malformed values (RFC 8659 section 4.2) ---- */

static void test_html_in_value_denies(void **state)
{
    static const char *const v[] = {
        "<html>",
        "\"<a href=\\\"https://ca.example\\\">ca.example</a>\"",
        "<a href=ca.example>",
        "ca.example <script>alert(\"XSS\")</script>",
        "ca.example<br>",
        "\"ca.example\"",
    };

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

static void test_bad_issuer_characters_deny(void **state)
{
    static const char *const v[] = {
        "-ca.example",
        "ca-.example",
        "ca.-example",
        "ca_example.com",
        "ex@mple.com",
        "ca.example!",
        "ca.example/",
        "*.ca.example",
        "ca.example,other.example",
        "ca.example other.example",
        "ca.example=1",
    };

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

static void test_embedded_nul_denies(void **state)
{
    (void)state;
    assert_false(decide_issue_bin("ca.example\0evil", 15));
    assert_false(decide_issue_bin("ca.example\0", 11));
    assert_false(decide_issue_bin("\0ca.example", 11));
    assert_false(decide_issue_bin("ca.example; a=b\0", 16));
    /* the same bytes without the NUL do permit */
    assert_true(decide_issue_bin("ca.example\0evil", 10));
}

static void test_non_ascii_denies(void **state)
{
    static const char *const v[] = {
        "ca.ex\xc3\xa4mple",
        "ca.example; policy=m\xc3\xb6tley",
        "ca.example; queensr\xc3\xbf"
        "che=ev",
        "ca.example\x7f",
        "ca.example; a=\x80",
    };

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

static void test_non_ascii_reason_names_the_byte_problem(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example; a=\x80");
    expect(&s, &ca.in, false, "(control or non-ASCII byte in value)");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_malformed_parameters_deny(void **state)
{
    static const char *const v[] = {
        "ca.example; =x",
        "ca.example; a b=c",
        "ca.example; key=va;lue",
        "ca.example; policy",
        "ca.example; policy=ev;",
        "ca.example; policy=ev; ",
        "ca.example; a=b;;c=d",
        "ca.example;;",
        "ca.example; ;",
        "ca.example; -policy=ev",
        "ca.example; policy-=ev",
        "ca.example; policy=ev cool",
        "ca.example; cool policy=ev",
        "ca.example; a=b=c; d",
        "ca.example; pol_icy=ev",
        "ca.example; policy=ev;account=12;345",
    };

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

static void test_malformed_record_naming_us_explains(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example; a b=c");
    expect(&s, &ca.in, false, "issue record names ca.example but is malformed");
    rrset_free(&s);
    /* the issuer with a trailing dot and blanks before the ';' */
    add(&s, 0, "issue", " ca.example. \t; a b=c");
    expect(&s, &ca.in, false, "issue record names ca.example but is malformed");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_malformed_records_are_counted_in_reason(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "<html>");
    add(&s, 0, "issue", "other.example");
    expect(&s, &ca.in, false, "(1 of 2 malformed)");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_duplicate_parameters_deny(void **state)
{
    static const char *const v[] = {
        "ca.example; a=1; a=2",
        "ca.example; a=1; a=1",
        "ca.example; accounturi=x; AccountURI=x",
        "ca.example; a=1; b=2; A=3",
    };

    (void)state;
    expect_issue_values(v, N_OF(v), false);
}

static void test_hyphenated_parameter_tags_permit(void **state)
{
    static const char *const v[] = {"ca.example; a-b=1", "ca.example; a--b=1",
                                    "ca.example; 1-2=x"};

    (void)state;
    expect_issue_values(v, N_OF(v), true);
}

/* ---- tag characters (RFC 8659 4.1) ---- */

/* Adds a record whose tag is tlen raw bytes (may hold NULs). */
static void add_tag_bin(struct rrset *s, uint8_t flags, const char *tag,
                        size_t tlen, const char *value)
{
    struct caa_record *r;

    add(s, flags, "x", value);
    r = &s->r[s->n - 1];
    free(r->tag);
    r->tag = xmalloc(tlen + 1);
    memcpy(r->tag, tag, tlen);
    r->tag[tlen] = '\0';
    r->tag_len = tlen;
}

/* "issue\0" on the wire: an unknown tag, never read as issue. */
static void test_nul_tag_is_never_issue(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    /* must permit: the only record is an unknown non-critical tag */
    add_tag_bin(&s, 0, "issue\0", 6, "ca.invalid");
    expect(&s, &ca.in, true, "no issue records");
    /* must deny: the NUL-tagged record naming us does not permit */
    add(&s, 0, "issue", "ca.invalid");
    add_tag_bin(&s, 0, "issue\0", 6, "ca.example");
    add_tag_bin(&s, 0, "\0issue", 6, "ca.example");
    add_tag_bin(&s, 0, "iss\0ue", 6, "ca.example");
    expect(&s, &ca.in, false, "no issue record names ca.example");
    rrset_free(&s);
    /* same for issuewild and issuemail */
    ca.in.wildcard = true;
    add(&s, 0, "issue", "ca.example");
    add_tag_bin(&s, 0, "issuewild\0", 10, "ca.invalid");
    expect(&s, &ca.in, true, "issue record names ca.example");
    rrset_free(&s);
    ca.in.wildcard = false;
    ca.in.cert_type = MPIC_CERT_SMIME;
    add(&s, 0, "issuemail", "ca.invalid");
    add_tag_bin(&s, 0, "issuemail\0x", 11, "ca.example");
    expect(&s, &ca.in, false, "no issuemail record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_critical_nul_tag_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example");
    add_tag_bin(&s, 128, "issue\0", 6, "ca.example");
    expect(&s, &ca.in, false, "critical unknown tag 'issue?'");
    rrset_free(&s);
    add_tag_bin(&s, 128, "issue\0", 6, "ca.example");
    expect(&s, &ca.in, false, "critical unknown tag");
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* Anything but ASCII letters and digits makes a tag unknown: ignored
 * without the critical flag, a denial with it. */
static void test_non_alnum_tags_are_unknown(void **state)
{
    static const char *const tags[] = {
        "is-sue",       "issue ",  " issue",    "iss_ue", "issue.",
        "issu\xc3\xa9", "issue\t", "ISSUE\x7f", "",
    };
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    for (size_t i = 0; i < N_OF(tags); i++) {
        struct rrset s = {0};
        struct caa_record probe = {0};
        char *t = xstrdup(tags[i]);

        probe.tag = t;
        probe.tag_len = strlen(t);
        assert_false(caa_record_tag_valid(&probe));
        /* non-critical: ignored, and never counts as issue */
        add(&s, 0, "issue", "ca.invalid");
        add_tag_bin(&s, 0, tags[i], strlen(tags[i]), "ca.example");
        if (decide(&s, &ca.in))
            fail_msg("tag \"%s\" read as issue", tags[i]);
        rrset_free(&s);
        add(&s, 0, "issue", "ca.example");
        add_tag_bin(&s, 0, tags[i], strlen(tags[i]), "ca.invalid");
        if (!decide(&s, &ca.in))
            fail_msg("non-critical tag \"%s\" denied", tags[i]);
        /* critical: denies */
        s.r[1].flags = 128;
        if (decide(&s, &ca.in))
            fail_msg("critical tag \"%s\" did not deny", tags[i]);
        rrset_free(&s);
        free(t);
    }
    ca_cleanup(&ca);
}

/* No 15-character limit (caatestsuite's critical tag has 25). */
static void test_long_tags_are_not_limited(void **state)
{
    struct rrset s = {0};
    struct caa_record probe = {0};
    char big[256];
    struct ca ca;

    (void)state;
    memset(big, 'a', 255);
    big[255] = '\0';
    probe.tag = big;
    probe.tag_len = 255;
    assert_true(caa_record_tag_valid(&probe));
    memcpy(big, "caatestsuitedummyproperty", 26);
    probe.tag_len = 25;
    assert_true(caa_record_tag_valid(&probe));
    memset(big, 'a', 255);
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "caatestsuitedummyproperty", "test");
    add(&s, 0, big, "x");
    expect(&s, &ca.in, true, "issue record names ca.example");
    s.r[1].flags = 128;
    expect(&s, &ca.in, false,
           "critical unknown tag 'caatestsuitedummyproperty'");
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- RFC 8657 accounturi ---- */

#define ACCT "https://acme.ca.example/acct/1234"

static void test_accounturi_match_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "ca.example; accounturi=" ACCT);
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    add(&s, 0, "issue", "ca.example ;\taccounturi = " ACCT " ; policy=ev");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_accounturi_mismatch_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "ca.example; accounturi=" ACCT "5");
    expect(&s, &ca.in, false,
           "issue record names ca.example but accounturi differs");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_accounturi_compares_exactly(void **state)
{
    static const char *const v[] = {
        "ca.example; accounturi=HTTPS://acme.ca.example/acct/1234",
        "ca.example; accounturi=https://acme.ca.example/acct/123",
        "ca.example; accounturi=https://acme.ca.example/acct/1234/",
        "ca.example; accounturi=",
    };

    (void)state;
    for (size_t i = 0; i < N_OF(v); i++) {
        struct rrset s = {0};
        struct ca ca;
        bool ok;

        ca_init(&ca, "ca.example");
        ca.in.account_uri = ACCT;
        add(&s, 0, "issue", v[i]);
        ok = decide(&s, &ca.in);
        rrset_free(&s);
        ca_cleanup(&ca);
        if (ok)
            fail_msg("\"%s\" should not permit account %s", v[i], ACCT);
    }
}

static void test_accounturi_absent_from_record_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "ca.example; policy=ev");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* Strict (the default): a request without account_uri gets nothing from
 * a record that restricts accounturi. */
static void test_accounturi_strict_denies_without_account(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example; accounturi=" ACCT);
    expect(&s, &ca.in, false,
           "restricts accounturi and the request has no account_uri");
    /* ... but another record naming us without accounturi still permits */
    add(&s, 0, "issue", "ca.example; policy=ev");
    expect(&s, &ca.in, true, "issue record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* Strict, must permit: the exact account URI. */
static void test_accounturi_strict_permits_exact_account(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "ca.example; accounturi=" ACCT);
    expect(&s, &ca.in, true, "issue record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* Lenient: accounturi is checked only when the request carries one. */
static void test_accounturi_lenient_not_checked_without_account(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.rfc8657_lenient = true;
    add(&s, 0, "issue", "ca.example; accounturi=https://elsewhere/acct/9");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* Lenient, must deny: a different account is still refused. */
static void test_accounturi_lenient_mismatch_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.rfc8657_lenient = true;
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "ca.example; accounturi=https://elsewhere/acct/9");
    expect(&s, &ca.in, false, "accounturi differs");
    ca.in.account_uri = "https://elsewhere/acct/9";
    expect(&s, &ca.in, true, "issue record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_accounturi_tag_case_is_ignored(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "ca.example; AccountURI=https://elsewhere/acct/9");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_accounturi_any_matching_record_permits(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "ca.example; accounturi=https://elsewhere/acct/9");
    add(&s, 0, "issue", "ca.example; accounturi=" ACCT);
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_accounturi_on_other_ca_record_is_irrelevant(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "other.example; accounturi=" ACCT);
    expect(&s, &ca.in, false, "no issue record names ca.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- RFC 8657 validationmethods ---- */

static bool decide_methods(const char *value, const char *method)
{
    struct rrset s = {0};
    struct ca ca;
    bool ok;

    ca_init(&ca, "ca.example");
    ca.in.validation_method = method;
    add(&s, 0, "issue", value);
    ok = decide(&s, &ca.in);
    rrset_free(&s);
    ca_cleanup(&ca);
    return ok;
}

static void test_validationmethods_contains_method_permits(void **state)
{
    (void)state;
    assert_true(
        decide_methods("ca.example; validationmethods=dns-01", "dns-01"));
    assert_true(decide_methods(
        "ca.example; validationmethods=http-01,dns-01,tls-alpn-01",
        "tls-alpn-01"));
    assert_true(decide_methods("ca.example; validationmethods=http-01,dns-01",
                               "http-01"));
}

static void test_validationmethods_omits_method_denies(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    assert_false(
        decide_methods("ca.example; validationmethods=http-01", "dns-01"));
    assert_false(
        decide_methods("ca.example; validationmethods=dns-011", "dns-01"));
    assert_false(decide_methods("ca.example; validationmethods=dns", "dns-01"));
    assert_false(decide_methods("ca.example; validationmethods=", "dns-01"));
    assert_false(decide_methods("ca.example; validationmethods=,,", "dns-01"));

    ca_init(&ca, "ca.example");
    ca.in.validation_method = "dns-01";
    add(&s, 0, "issue", "ca.example; validationmethods=http-01");
    expect(&s, &ca.in, false,
           "issue record names ca.example but validationmethods omits "
           "dns-01");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_validationmethods_absent_permits(void **state)
{
    (void)state;
    assert_true(decide_methods("ca.example; policy=ev", "dns-01"));
}

/* Strict (the default): a request without validation_method gets nothing
 * from a record that restricts validationmethods. */
static void test_validationmethods_strict_denies_without_method(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    assert_false(decide_methods("ca.example; validationmethods=http-01", NULL));
    assert_false(decide_methods(
        "ca.example; validationmethods=http-01,dns-01,tls-alpn-01", NULL));
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example; validationmethods=dns-01");
    expect(&s, &ca.in, false,
           "restricts validationmethods and the request has no "
           "validation_method");
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* Lenient: validationmethods is checked only when the request names a
 * method; a named method must still be listed. */
static void test_validationmethods_lenient(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.rfc8657_lenient = true;
    add(&s, 0, "issue", "ca.example; validationmethods=http-01");
    assert_true(decide(&s, &ca.in));
    ca.in.validation_method = "acme-dns-01";
    expect(&s, &ca.in, false, "validationmethods omits dns-01");
    ca.in.validation_method = "acme-http-01";
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_validationmethods_acme_names_map_to_labels(void **state)
{
    (void)state;
    assert_true(
        decide_methods("ca.example; validationmethods=dns-01", "acme-dns-01"));
    /* The record must use the RFC 8657 label, not the Open MPIC name. */
    assert_false(
        decide_methods("ca.example; validationmethods=acme-dns-01", "dns-01"));
    assert_false(decide_methods("ca.example; validationmethods=acme-dns-01",
                                "acme-dns-01"));
    assert_true(decide_methods("ca.example; validationmethods=http-01",
                               "acme-http-01"));
    assert_true(decide_methods("ca.example; validationmethods=tls-alpn-01",
                               "acme-tls-alpn-01"));
    assert_false(
        decide_methods("ca.example; validationmethods=dns-01", "acme-http-01"));
    assert_false(
        decide_methods("ca.example; validationmethods=acme-", "acme-dns-01"));
}

static void test_validationmethods_other_labels_compare_exactly(void **state)
{
    (void)state;
    /* BR methods: SC-098 labels "ca-tbr-<3.2.2.4 subsection>" */
    assert_true(decide_methods(
        "ca.example; validationmethods=ca-tbr-18,ca-tbr-7", "dns-change"));
    assert_true(
        decide_methods("ca.example; validationmethods=CA-TBR-7", "dns-change"));
    assert_false(decide_methods("ca.example; validationmethods=ca-tbr-7",
                                "website-change"));
    assert_false(
        decide_methods("ca.example; validationmethods=ca-tbr-7", "ca-tbr-71"));
    /* Open MPIC names in the record are not labels */
    assert_false(decide_methods(
        "ca.example; validationmethods=website-change,dns-change",
        "dns-change"));
    /* a raw label in the request is taken as given */
    assert_true(
        decide_methods("ca.example; validationmethods=ca-tbr-7", "ca-tbr-7"));
    assert_true(
        decide_methods("ca.example; validationmethods=future-01", "FUTURE-01"));
    assert_false(decide_methods("ca.example; validationmethods=dns-change",
                                "dns-chang"));
}

/* The one mapping table: every Open MPIC method name and its label. */
static void test_method_label_table(void **state)
{
    static const char *const map[][2] = {
        {"acme-http-01", "http-01"},
        {"acme-dns-01", "dns-01"},
        {"acme-tls-alpn-01", "tls-alpn-01"},
        {"dns-account-01", "dns-account-01"},
        {"dns-persistent", "dns-persist-01"},
        {"website-change", "ca-tbr-18"},
        {"dns-change", "ca-tbr-7"},
        {"contact-email-caa", "ca-tbr-13"},
        {"contact-email-txt", "ca-tbr-14"},
        {"contact-phone-txt", "ca-tbr-16"},
        {"contact-phone-caa", "ca-tbr-17"},
        {"ip-address", "ca-tbr-8"},
    };

    (void)state;
    for (size_t i = 0; i < N_OF(map); i++) {
        char *v =
            xasprintf("ca.example; validationmethods=http-01,%s", map[i][1]);

        assert_string_equal(caa_method_label(map[i][0]), map[i][1]);
        /* through the decision: listed permits, unlisted denies */
        if (!decide_methods(v, map[i][0]))
            fail_msg("%s should be permitted by \"%s\"", map[i][0], v);
        if (strcmp(map[i][1], "http-01") != 0 &&
            decide_methods("ca.example; validationmethods=http-01", map[i][0]))
            fail_msg("%s should not be permitted by http-01", map[i][0]);
        free(v);
    }
    assert_string_equal(caa_method_label("ACME-DNS-01"), "dns-01");
    /* BR 3.2.2.5.3 has no SC-098 label: nothing lists it */
    assert_null(caa_method_label("reverse-address-lookup"));
    assert_false(decide_methods(
        "ca.example; validationmethods=reverse-address-lookup,ca-tbr-5",
        "reverse-address-lookup"));
    /* raw labels pass through */
    assert_string_equal(caa_method_label("dns-01"), "dns-01");
    assert_string_equal(caa_method_label("ca-tbr-7"), "ca-tbr-7");
    assert_null(caa_method_label(NULL));
}

static void test_accounturi_and_validationmethods_both_apply(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.account_uri = ACCT;
    ca.in.validation_method = "acme-http-01";
    add(&s, 0, "issue",
        "ca.example; accounturi=" ACCT "; validationmethods=dns-01");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    add(&s, 0, "issue",
        "ca.example; accounturi=" ACCT "; validationmethods=dns-01,http-01");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_rfc8657_applies_to_issuewild(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    ca.in.account_uri = ACCT;
    add(&s, 0, "issue", "ca.example");
    add(&s, 0, "issuewild", "ca.example; accounturi=https://elsewhere/1");
    expect(&s, &ca.in, false, "issuewild record names ca.example but");
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- caa_domains ---- */

static void test_multiple_caa_domains_any_matches(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    mpic_strv_push(&ca.domains, "ca-alias.example");
    add(&s, 0, "issue", "ca-alias.example");
    expect(&s, &ca.in, true, "names ca-alias.example");
    rrset_free(&s);
    add(&s, 0, "issue", "other.example");
    expect(&s, &ca.in, false, "ca.example, ca-alias.example");
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_no_caa_domains_denies_when_issue_present(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, NULL);
    add(&s, 0, "issue", "ca.example");
    expect(&s, &ca.in, false, "no caa_domains configured");
    ca.in.caa_domains = NULL;
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    /* with nothing relevant, there is nothing to deny */
    assert_true(decide(&s, &ca.in));
    ca_cleanup(&ca);
}

static void test_empty_caa_domain_matches_nothing(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "");
    mpic_strv_push(&ca.domains, ".");
    add(&s, 0, "issue", ";");
    add(&s, 0, "issue", "");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- API contract ---- */

static void test_reason_may_be_null(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "other.example");
    assert_false(caa_decide(s.r, s.n, &ca.in, NULL));
    add(&s, 0, "issue", "ca.example");
    assert_true(caa_decide(s.r, s.n, &ca.in, NULL));
    rrset_free(&s);
    assert_true(caa_decide(NULL, 0, &ca.in, NULL));
    ca_cleanup(&ca);
}

static void test_null_value_is_treated_as_empty(void **state)
{
    struct caa_record r = {0, NULL, 0, NULL, 0};
    char tag[] = "issue";
    struct ca ca;

    (void)state;
    r.tag = tag;
    r.tag_len = strlen(tag);
    ca_init(&ca, "ca.example");
    assert_false(caa_decide(&r, 1, &ca.in, NULL));
    ca_cleanup(&ca);
}

static void test_long_caa_domain_reason_is_capped(void **state)
{
    struct rrset s = {0};
    struct ca ca;
    char long_name[300];
    char *reason = NULL;

    (void)state;
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    ca_init(&ca, long_name);
    add(&s, 0, "issue", "other.example");
    assert_false(caa_decide(s.r, s.n, &ca.in, &reason));
    assert_non_null(reason);
    assert_true(strlen(reason) < 200);
    assert_non_null(strstr(reason, "..."));
    free(reason);
    rrset_free(&s);
    ca_cleanup(&ca);
}

/* ---- caatestsuite.com cases that depend only on the decision ---- */

static void test_suite_deny(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "caatestsuite.com");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_uppercase_deny(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "ISSUE", "caatestsuite.com");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_mixedcase_deny(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "IsSuE", "caatestsuite.com");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_critical1(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 128, "tbs", "Unknown");
    add(&s, 0, "issue", "ca.example");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_critical2(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 130, "tbs", "Unknown");
    add(&s, 0, "issue", "ca.example");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_big(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    for (int i = 0; i < 1001; i++)
        add(&s, 0, "issue", "caatestsuite.com");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_permit(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    add(&s, 0, "issue", "ca.example");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_deny_wild(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issuewild", "caatestsuite.com");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_wildcard_of_deny(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issue", "caatestsuite.com");
    assert_false(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

static void test_suite_permit_wild(void **state)
{
    struct rrset s = {0};
    struct ca ca;

    (void)state;
    ca_init(&ca, "ca.example");
    ca.in.wildcard = true;
    add(&s, 0, "issue", "caatestsuite.com");
    add(&s, 0, "issuewild", "ca.example");
    assert_true(decide(&s, &ca.in));
    rrset_free(&s);
    ca_cleanup(&ca);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_rrset_permits),
        cmocka_unit_test(test_issue_for_us_permits),
        cmocka_unit_test(test_issue_for_other_ca_denies),
        cmocka_unit_test(test_issue_for_parent_or_child_of_ca_denies),
        cmocka_unit_test(test_empty_issuer_permits_nobody),
        cmocka_unit_test(test_unknown_parameters_are_ignored),
        cmocka_unit_test(test_issuer_with_digits_and_hyphens_permits),
        cmocka_unit_test(test_tag_case_is_ignored),
        cmocka_unit_test(test_tag_case_is_ignored_when_denying),
        cmocka_unit_test(test_issuer_case_is_ignored),
        cmocka_unit_test(test_caa_domain_case_is_ignored),
        cmocka_unit_test(test_issuer_trailing_dot_permits),
        cmocka_unit_test(test_caa_domain_trailing_dot_permits),
        cmocka_unit_test(test_issuer_bad_dots_deny),
        cmocka_unit_test(test_whitespace_around_parts_permits),
        cmocka_unit_test(test_other_whitespace_denies),
        cmocka_unit_test(test_critical_unknown_tag_flags_128_denies),
        cmocka_unit_test(test_critical_unknown_tag_flags_130_denies),
        cmocka_unit_test(
            test_critical_unknown_tag_denies_for_wildcard_and_smime),
        cmocka_unit_test(test_critical_tag_without_tag_denies),
        cmocka_unit_test(test_critical_tag_reason_is_sanitised),
        cmocka_unit_test(test_noncritical_unknown_tag_is_ignored),
        cmocka_unit_test(test_only_noncritical_unknown_tags_permit),
        cmocka_unit_test(test_critical_known_tags_are_fine),
        cmocka_unit_test(test_wildcard_issuewild_for_us_permits),
        cmocka_unit_test(
            test_wildcard_issuewild_for_other_denies_despite_issue),
        cmocka_unit_test(test_wildcard_issuewild_semicolon_denies),
        cmocka_unit_test(test_wildcard_issuewild_tag_case_is_ignored),
        cmocka_unit_test(test_wildcard_without_issuewild_uses_issue),
        cmocka_unit_test(test_wildcard_only_issuewild_for_us_permits),
        cmocka_unit_test(test_non_wildcard_ignores_issuewild),
        cmocka_unit_test(test_smime_issuemail_for_us_permits),
        cmocka_unit_test(test_smime_issuemail_for_other_denies),
        cmocka_unit_test(test_smime_without_issuemail_permits),
        cmocka_unit_test(test_tls_ignores_issuemail),
        cmocka_unit_test(test_unknown_cert_type_denies),
        cmocka_unit_test(test_only_iodef_and_contacts_permit),
        cmocka_unit_test(test_any_permitting_record_is_enough),
        cmocka_unit_test(test_contact_records_do_not_affect_issue),
        cmocka_unit_test(test_big_rrset_with_ours_last_permits),
        cmocka_unit_test(test_big_rrset_without_ours_denies),
        cmocka_unit_test(test_html_in_value_denies),
        cmocka_unit_test(test_bad_issuer_characters_deny),
        cmocka_unit_test(test_embedded_nul_denies),
        cmocka_unit_test(test_non_ascii_denies),
        cmocka_unit_test(test_non_ascii_reason_names_the_byte_problem),
        cmocka_unit_test(test_malformed_parameters_deny),
        cmocka_unit_test(test_malformed_record_naming_us_explains),
        cmocka_unit_test(test_malformed_records_are_counted_in_reason),
        cmocka_unit_test(test_duplicate_parameters_deny),
        cmocka_unit_test(test_hyphenated_parameter_tags_permit),
        cmocka_unit_test(test_accounturi_match_permits),
        cmocka_unit_test(test_accounturi_mismatch_denies),
        cmocka_unit_test(test_accounturi_compares_exactly),
        cmocka_unit_test(test_accounturi_absent_from_record_permits),
        cmocka_unit_test(test_accounturi_strict_denies_without_account),
        cmocka_unit_test(test_accounturi_strict_permits_exact_account),
        cmocka_unit_test(test_accounturi_lenient_not_checked_without_account),
        cmocka_unit_test(test_accounturi_lenient_mismatch_denies),
        cmocka_unit_test(test_accounturi_tag_case_is_ignored),
        cmocka_unit_test(test_accounturi_any_matching_record_permits),
        cmocka_unit_test(test_accounturi_on_other_ca_record_is_irrelevant),
        cmocka_unit_test(test_validationmethods_contains_method_permits),
        cmocka_unit_test(test_validationmethods_omits_method_denies),
        cmocka_unit_test(test_validationmethods_absent_permits),
        cmocka_unit_test(test_validationmethods_strict_denies_without_method),
        cmocka_unit_test(test_validationmethods_lenient),
        cmocka_unit_test(test_validationmethods_acme_names_map_to_labels),
        cmocka_unit_test(test_validationmethods_other_labels_compare_exactly),
        cmocka_unit_test(test_method_label_table),
        cmocka_unit_test(test_nul_tag_is_never_issue),
        cmocka_unit_test(test_critical_nul_tag_denies),
        cmocka_unit_test(test_non_alnum_tags_are_unknown),
        cmocka_unit_test(test_long_tags_are_not_limited),
        cmocka_unit_test(test_accounturi_and_validationmethods_both_apply),
        cmocka_unit_test(test_rfc8657_applies_to_issuewild),
        cmocka_unit_test(test_multiple_caa_domains_any_matches),
        cmocka_unit_test(test_no_caa_domains_denies_when_issue_present),
        cmocka_unit_test(test_empty_caa_domain_matches_nothing),
        cmocka_unit_test(test_reason_may_be_null),
        cmocka_unit_test(test_null_value_is_treated_as_empty),
        cmocka_unit_test(test_long_caa_domain_reason_is_capped),
        cmocka_unit_test(test_suite_deny),
        cmocka_unit_test(test_suite_uppercase_deny),
        cmocka_unit_test(test_suite_mixedcase_deny),
        cmocka_unit_test(test_suite_critical1),
        cmocka_unit_test(test_suite_critical2),
        cmocka_unit_test(test_suite_big),
        cmocka_unit_test(test_suite_permit),
        cmocka_unit_test(test_suite_deny_wild),
        cmocka_unit_test(test_suite_wildcard_of_deny),
        cmocka_unit_test(test_suite_permit_wild),
    };

    return cmocka_run_group_tests_name("caa_decide", tests, NULL, NULL);
}
