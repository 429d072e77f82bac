/*
 * A raw DNS response as the checkers parse it: ldns_wire2pkt, then
 * mpic_dns_answer_rrs (CNAME chasing) from the question's name for the
 * types the checkers ask, the presentation (mpic_dns_rr_to_str), TXT
 * joining (mpic_dns_txt_joined), CAA decoding (caa_record_from_rr) and,
 * for the CAA RRset found, the CAA decision (caa_decide); and the DNSSEC
 * proof's reading of the packet as a DS answer (caa_dnssec_ds_evidence:
 * NSEC / NSEC3 bitmaps, NSEC3 hashing).
 */
#include "tests/fuzz/fuzz.h"

#include <ldns/ldns.h>

#include "caa-checker/caa_decide.h"
#include "caa-checker/caa_dnssec.h"
#include "common/caa_tree.h"
#include "common/dns.h"
#include "common/strv.h"

static const ldns_rr_type fuzz_types[] = {
    LDNS_RR_TYPE_CAA,  LDNS_RR_TYPE_TXT,   LDNS_RR_TYPE_A,
    LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_PTR,
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

/* Every record through the presentation and TXT helpers. */
static void fuzz_present(const ldns_rr_list *l)
{
    size_t i;

    for (i = 0; l != NULL && i < ldns_rr_list_rr_count(l); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(l, i);
        size_t n = 0;
        char *s = mpic_dns_rr_to_str(rr);
        char *t = mpic_dns_txt_joined(rr, &n);

        if (s != NULL)
            FUZZ_CHECK(strlen(s) < 256 * 1024);
        FUZZ_CHECK(t != NULL);
        free(s);
        free(t);
    }
}

/* The CAA RRset through decoding and the decision. */
static void fuzz_caa(const ldns_rr_list *l)
{
    struct caa_record *recs;
    struct mpic_strv domains;
    struct caa_decide_input in;
    size_t n = 0;
    size_t i;
    char *reason = NULL;

    if (l == NULL)
        return;
    recs = xcalloc(ldns_rr_list_rr_count(l) + 1, sizeof(*recs));
    for (i = 0; i < ldns_rr_list_rr_count(l); i++) {
        if (caa_record_from_rr(ldns_rr_list_rr(l, i), &recs[n]) == 0) {
            FUZZ_CHECK(recs[n].tag != NULL && recs[n].value != NULL);
            n++;
        }
    }
    mpic_strv_init(&domains);
    mpic_strv_push(&domains, "ca.example");
    memset(&in, 0, sizeof(in));
    in.caa_domains = &domains;
    in.cert_type = MPIC_CERT_TLS_SERVER;
    (void)caa_decide(recs, n, &in, &reason);
    free(reason);
    reason = NULL;
    in.wildcard = true;
    in.cert_type = MPIC_CERT_SMIME;
    in.account_uri = "https://ca.example/acct/1";
    in.validation_method = "dns-01";
    (void)caa_decide(recs, n, &in, &reason);
    free(reason);
    mpic_strv_cleanup(&domains);
    caa_records_free(recs, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ldns_pkt *pkt = NULL;
    char *qname = NULL;
    const ldns_rr_list *q;
    size_t i;

    if (ldns_wire2pkt(&pkt, data, size) != LDNS_STATUS_OK)
        return 0;
    q = ldns_pkt_question(pkt);
    if (q != NULL && ldns_rr_list_rr_count(q) > 0)
        qname = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(q, 0)));
    for (i = 0; i < sizeof(fuzz_types) / sizeof(fuzz_types[0]); i++) {
        struct mpic_strv chain;
        ldns_rr_list *l;

        mpic_strv_init(&chain);
        l = mpic_dns_answer_rrs(pkt, qname != NULL ? qname : "example.com",
                                fuzz_types[i], &chain);
        FUZZ_CHECK(chain.n <= 16);
        fuzz_present(l);
        if (fuzz_types[i] == LDNS_RR_TYPE_CAA)
            fuzz_caa(l);
        ldns_rr_list_deep_free(l);
        mpic_strv_cleanup(&chain);
    }
    /* Also every answer record as is, whatever its owner. */
    fuzz_present(ldns_pkt_answer(pkt));
    /* As the answer to a DS query, validated and not. */
    for (i = 0; i < 2; i++) {
        char *why = NULL;
        enum caa_ds_evidence ev = caa_dnssec_ds_evidence(
            pkt, i == 0, qname != NULL ? qname : "example.com", &why);

        FUZZ_CHECK(why != NULL);
        /* Without AD: never a verdict, at most an opt-out candidate. */
        FUZZ_CHECK(i == 0 || ev == CAA_DS_NONE || ev == CAA_DS_OPTOUT);
        free(why);
    }
    LDNS_FREE(qname);
    ldns_pkt_free(pkt);
    return 0;
}
