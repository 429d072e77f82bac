/*
 * caa_dnssec_ds_evidence: what one DS answer proves about the delegation at
 * the name asked (caa-checker/caa_dnssec.h, open-mpic-api.md 5.2). The
 * packets are built with ldns from presentation-format records; the AD bit
 * is the resolver's word that it validated them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "caa-checker/caa_dnssec.h"

/* A response to "name DS" with rcode and the given records. */
static ldns_pkt *ds_answer(const char *name, ldns_pkt_rcode rcode,
                           const char *const *answer,
                           const char *const *authority)
{
    ldns_pkt *pkt = ldns_pkt_new();
    ldns_rr *q = NULL;
    char qs[300];
    size_t i;

    assert_non_null(pkt);
    ldns_pkt_set_qr(pkt, true);
    ldns_pkt_set_rcode(pkt, (uint8_t)rcode);
    snprintf(qs, sizeof(qs), "%s IN DS", name);
    assert_int_equal(ldns_rr_new_question_frm_str(&q, qs, NULL, NULL),
                     LDNS_STATUS_OK);
    assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, q));
    for (i = 0; answer != NULL && answer[i] != NULL; i++) {
        ldns_rr *rr = NULL;

        assert_int_equal(ldns_rr_new_frm_str(&rr, answer[i], 60, NULL, NULL),
                         LDNS_STATUS_OK);
        assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr));
    }
    for (i = 0; authority != NULL && authority[i] != NULL; i++) {
        ldns_rr *rr = NULL;

        assert_int_equal(ldns_rr_new_frm_str(&rr, authority[i], 60, NULL, NULL),
                         LDNS_STATUS_OK);
        assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_AUTHORITY, rr));
    }
    return pkt;
}

static enum caa_ds_evidence judge(const ldns_pkt *pkt, bool ad,
                                  const char *name, const char *why_has)
{
    char *why = NULL;
    enum caa_ds_evidence ev = caa_dnssec_ds_evidence(pkt, ad, name, &why);

    assert_non_null(why);
    if (why_has != NULL && strstr(why, why_has) == NULL)
        fail_msg("\"%s\" not in \"%s\"", why_has, why);
    free(why);
    return ev;
}

/* H(name) under zone with the NSEC3 parameters 1 0 <iter> ab, as
 * "hash.zone." (owned). */
static char *nsec3_owner(const char *name, uint16_t iter, const char *zone)
{
    uint8_t salt[1] = {0xab};
    ldns_rdf *dn = ldns_dname_new_frm_str(name);
    ldns_rdf *h;
    char *s;
    char *out;

    assert_non_null(dn);
    h = ldns_nsec3_hash_name(dn, LDNS_SHA1, iter, 1, salt);
    assert_non_null(h);
    s = ldns_rdf2str(h);
    assert_non_null(s);
    out = malloc(strlen(s) + strlen(zone) + 1);
    assert_non_null(out);
    snprintf(out, strlen(s) + strlen(zone) + 1, "%s%s", s, zone);
    free(s);
    ldns_rdf_deep_free(h);
    ldns_rdf_deep_free(dn);
    return out;
}

static void test_ds_present_is_secure(void **state)
{
    const char *ans[] = {"sec.lab. 60 IN DS 12345 13 2 "
                         "3e1ba4f2b1e1cbd2c2b5d2a3c9f8e7d6a5b4c3d2e1f0a9b8c7d6"
                         "e5f4a3b2c1d0",
                         NULL};
    ldns_pkt *pkt = ds_answer("sec.lab.", LDNS_RCODE_NOERROR, ans, NULL);

    (void)state;
    assert_int_equal(judge(pkt, true, "sec.lab", "validated DS RRset"),
                     CAA_DS_SECURE);
    /* Without AD the same answer proves nothing. */
    assert_int_equal(judge(pkt, false, "sec.lab", "no AD bit"), CAA_DS_NONE);
    ldns_pkt_free(pkt);
}

static void test_nsec_delegation_without_ds_is_insecure(void **state)
{
    const char *auth[] = {"plain. 60 IN NSEC zz. NS RRSIG NSEC", NULL};
    ldns_pkt *pkt = ds_answer("plain.", LDNS_RCODE_NOERROR, NULL, auth);

    (void)state;
    assert_int_equal(judge(pkt, true, "plain", "delegation at plain without"),
                     CAA_DS_INSECURE);
    /* Without AD an NSEC proves nothing. */
    assert_int_equal(judge(pkt, false, "plain", "no AD"), CAA_DS_NONE);
    /* The NSEC is about plain., not about other. */
    assert_int_equal(judge(pkt, true, "other", NULL), CAA_DS_NONE);
    ldns_pkt_free(pkt);
}

static void test_nsec_not_a_plain_delegation(void **state)
{
    /* A zone apex (SOA), a name with DS, an in-zone name (no NS). */
    const char *apex[] = {"a.lab. 60 IN NSEC b.lab. NS SOA RRSIG NSEC DNSKEY",
                          NULL};
    const char *with_ds[] = {"a.lab. 60 IN NSEC b.lab. NS DS RRSIG NSEC", NULL};
    const char *in_zone[] = {"a.lab. 60 IN NSEC b.lab. A RRSIG NSEC", NULL};
    const char *const *cases[] = {apex, with_ds, in_zone};
    size_t i;

    (void)state;
    for (i = 0; i < 3; i++) {
        ldns_pkt *pkt = ds_answer("a.lab.", LDNS_RCODE_NOERROR, NULL, cases[i]);

        assert_int_equal(judge(pkt, true, "a.lab", "not a delegation"),
                         CAA_DS_NONE);
        ldns_pkt_free(pkt);
    }
}

static void test_nxdomain_and_other_rcodes_prove_nothing(void **state)
{
    const char *auth[] = {"a.lab. 60 IN NSEC c.lab. NS RRSIG NSEC", NULL};
    ldns_pkt *nx = ds_answer("b.lab.", LDNS_RCODE_NXDOMAIN, NULL, auth);
    ldns_pkt *sf = ds_answer("b.lab.", LDNS_RCODE_SERVFAIL, NULL, NULL);

    (void)state;
    assert_int_equal(judge(nx, true, "b.lab", "does not exist"), CAA_DS_NONE);
    assert_int_equal(judge(sf, true, "b.lab", "RCODE 2"), CAA_DS_NONE);
    ldns_pkt_free(nx);
    ldns_pkt_free(sf);
}

static void test_nsec3_match_delegation_is_insecure(void **state)
{
    char *owner = nsec3_owner("ins.lab.", 0, "lab.");
    char rr[512];
    const char *auth[] = {rr, NULL};
    ldns_pkt *pkt;

    (void)state;
    snprintf(rr, sizeof(rr),
             "%s 60 IN NSEC3 1 0 0 ab vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv NS",
             owner);
    pkt = ds_answer("ins.lab.", LDNS_RCODE_NOERROR, NULL, auth);
    assert_int_equal(judge(pkt, true, "ins.lab",
                           "NSEC3 record shows a "
                           "delegation at ins.lab"),
                     CAA_DS_INSECURE);
    /* Another name does not hash to this owner. */
    assert_int_equal(judge(pkt, true, "other.lab", NULL), CAA_DS_NONE);
    ldns_pkt_free(pkt);

    /* The same owner with DS in the bitmap: a signed delegation is not
     * proven this way, and not an insecure one either. */
    snprintf(rr, sizeof(rr),
             "%s 60 IN NSEC3 1 0 0 ab vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv NS DS",
             owner);
    pkt = ds_answer("ins.lab.", LDNS_RCODE_NOERROR, NULL, auth);
    assert_int_equal(judge(pkt, true, "ins.lab", NULL), CAA_DS_NONE);
    ldns_pkt_free(pkt);
    free(owner);
}

static void test_nsec3_opt_out_cover_is_insecure(void **state)
{
    const char *optout[] = {"00000000000000000000000000000000.lab. 60 IN "
                            "NSEC3 1 1 0 ab vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
                            NULL};
    const char *no_optout[] = {"00000000000000000000000000000000.lab. 60 IN "
                               "NSEC3 1 0 0 ab "
                               "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv",
                               NULL};
    ldns_pkt *pkt = ds_answer("x.lab.", LDNS_RCODE_NOERROR, NULL, optout);

    (void)state;
    assert_int_equal(judge(pkt, true, "x.lab", "opt-out NSEC3"),
                     CAA_DS_INSECURE);
    ldns_pkt_free(pkt);
    /* Without AD (RFC 5155 9.2: validators do not set it on opt-out):
     * a candidate, for the proof to weigh against the parent's DS. */
    pkt = ds_answer("x.lab.", LDNS_RCODE_NOERROR, NULL, optout);
    assert_int_equal(judge(pkt, false, "x.lab",
                           "opt-out NSEC3 record of its "
                           "parent zone covers x.lab"),
                     CAA_DS_OPTOUT);
    /* ... only for a name right below the record's zone ... */
    assert_int_equal(judge(pkt, false, "y.x.lab", "no AD"), CAA_DS_NONE);
    ldns_pkt_free(pkt);
    /* ... only for a NODATA. */
    pkt = ds_answer("x.lab.", LDNS_RCODE_NXDOMAIN, NULL, optout);
    assert_int_equal(judge(pkt, false, "x.lab", "no AD"), CAA_DS_NONE);
    ldns_pkt_free(pkt);
    pkt = ds_answer("x.lab.", LDNS_RCODE_NOERROR, NULL, no_optout);
    assert_int_equal(judge(pkt, true, "x.lab", NULL), CAA_DS_NONE);
    assert_int_equal(judge(pkt, false, "x.lab", "no AD"), CAA_DS_NONE);
    ldns_pkt_free(pkt);
    /* An NSEC3 of a zone that is not above the name says nothing. */
    pkt = ds_answer("x.other.", LDNS_RCODE_NOERROR, NULL, optout);
    assert_int_equal(judge(pkt, true, "x.other", NULL), CAA_DS_NONE);
    ldns_pkt_free(pkt);
}

static void test_nsec3_too_many_iterations_is_ignored(void **state)
{
    char *owner = nsec3_owner("ins.lab.", 151, "lab.");
    char rr[512];
    const char *auth[] = {rr, NULL};
    ldns_pkt *pkt;

    (void)state;
    snprintf(rr, sizeof(rr),
             "%s 60 IN NSEC3 1 0 151 ab vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv NS",
             owner);
    pkt = ds_answer("ins.lab.", LDNS_RCODE_NOERROR, NULL, auth);
    assert_int_equal(judge(pkt, true, "ins.lab", NULL), CAA_DS_NONE);
    ldns_pkt_free(pkt);
    free(owner);
}

static void test_cname_answer_is_not_a_delegation(void **state)
{
    const char *ans[] = {"a.lab. 60 IN CNAME b.other.", NULL};
    ldns_pkt *pkt = ds_answer("a.lab.", LDNS_RCODE_NOERROR, ans, NULL);

    (void)state;
    assert_int_equal(judge(pkt, true, "a.lab", "not a delegation"),
                     CAA_DS_NONE);
    ldns_pkt_free(pkt);
}

/* A denial record without a type bitmap shows no delegation. */
static void test_denial_without_bitmap_proves_nothing(void **state)
{
    char *owner = nsec3_owner("ins.lab.", 0, "lab.");
    char rr[512];
    const char *nsec3[] = {rr, NULL};
    const char *nsec[] = {"plain. 60 IN NSEC zz.", NULL};
    ldns_pkt *pkt;

    (void)state;
    snprintf(rr, sizeof(rr),
             "%s 60 IN NSEC3 1 0 0 ab vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv", owner);
    pkt = ds_answer("ins.lab.", LDNS_RCODE_NOERROR, NULL, nsec3);
    assert_int_equal(judge(pkt, true, "ins.lab", "has no type bitmap"),
                     CAA_DS_NONE);
    ldns_pkt_free(pkt);
    pkt = ds_answer("plain.", LDNS_RCODE_NOERROR, NULL, nsec);
    assert_int_equal(judge(pkt, true, "plain", NULL), CAA_DS_NONE);
    ldns_pkt_free(pkt);
    free(owner);
}

/* No answer, or a name that is none, proves nothing. */
static void test_no_answer_or_bad_name_proves_nothing(void **state)
{
    const char *auth[] = {"plain. 60 IN NSEC zz. NS RRSIG NSEC", NULL};
    ldns_pkt *pkt = ds_answer("plain.", LDNS_RCODE_NOERROR, NULL, auth);
    char *why = NULL;

    (void)state;
    assert_int_equal(judge(NULL, true, "plain", "no answer"), CAA_DS_NONE);
    assert_int_equal(caa_dnssec_ds_evidence(pkt, true, NULL, &why),
                     CAA_DS_NONE);
    assert_non_null(why);
    free(why);
    assert_int_equal(judge(pkt, true, "plain..", "not a domain name"),
                     CAA_DS_NONE);
    ldns_pkt_free(pkt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ds_present_is_secure),
        cmocka_unit_test(test_nsec_delegation_without_ds_is_insecure),
        cmocka_unit_test(test_nsec_not_a_plain_delegation),
        cmocka_unit_test(test_nxdomain_and_other_rcodes_prove_nothing),
        cmocka_unit_test(test_nsec3_match_delegation_is_insecure),
        cmocka_unit_test(test_nsec3_opt_out_cover_is_insecure),
        cmocka_unit_test(test_nsec3_too_many_iterations_is_ignored),
        cmocka_unit_test(test_cname_answer_is_not_a_delegation),
        cmocka_unit_test(test_denial_without_bitmap_proves_nothing),
        cmocka_unit_test(test_no_answer_or_bad_name_proves_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
