/*
 * Answer extraction and presentation of common/dns.c, on packets built
 * from zone-file text with ldns and sent through the wire format and back
 * (the path a real answer takes). The query deadline tests at the end run
 * the real client against a silent UDP socket on 127.0.0.1 (port 0).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/caa_tree.h"
#include "common/config.h"
#include "common/dns.h"
#include "common/ev.h"
#include "common/mem.h"
#include "common/strv.h"

/* Builds an answer packet from records, round-tripped through the wire. */
static ldns_pkt *answer_pkt(const char *const *rrs, size_t n)
{
    ldns_pkt *pkt = ldns_pkt_new();
    ldns_pkt *parsed = NULL;
    uint8_t *wire = NULL;
    size_t len = 0;
    size_t i;

    assert_non_null(pkt);
    ldns_pkt_set_qr(pkt, true);
    ldns_pkt_set_rcode(pkt, LDNS_RCODE_NOERROR);
    for (i = 0; i < n; i++) {
        ldns_rr *rr = NULL;

        assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL),
                         LDNS_STATUS_OK);
        assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr));
    }
    assert_int_equal(ldns_pkt2wire(&wire, pkt, &len), LDNS_STATUS_OK);
    assert_int_equal(ldns_wire2pkt(&parsed, wire, len), LDNS_STATUS_OK);
    LDNS_FREE(wire);
    ldns_pkt_free(pkt);
    return parsed;
}

static ldns_rr *rr_from(const char *s)
{
    ldns_rr *rr = NULL;

    assert_int_equal(ldns_rr_new_frm_str(&rr, s, 0, NULL, NULL),
                     LDNS_STATUS_OK);
    return rr;
}

/* The presentation of record i of a list, owned. */
static char *rr_str(const ldns_rr_list *l, size_t i)
{
    return mpic_dns_rr_to_str(ldns_rr_list_rr(l, i));
}

static void test_answer_rrs_returns_records_at_qname_in_order(void **state)
{
    const char *rrs[] = {
        "example.com. 300 IN CAA 0 issue \"b.example\"",
        "example.com. 300 IN TXT \"not caa\"",
        "other.example.com. 300 IN CAA 0 issue \"x.example\"",
        "example.com. 300 IN CAA 0 issue \"a.example\"",
    };
    ldns_pkt *pkt = answer_pkt(rrs, 4);
    ldns_rr_list *l;
    char *s;

    (void)state;
    l = mpic_dns_answer_rrs(pkt, "example.com", LDNS_RR_TYPE_CAA, NULL);
    assert_non_null(l);
    assert_int_equal(ldns_rr_list_rr_count(l), 2);
    s = rr_str(l, 0);
    assert_string_equal(s, "0 issue \"b.example\"");
    free(s);
    s = rr_str(l, 1);
    assert_string_equal(s, "0 issue \"a.example\"");
    free(s);
    ldns_rr_list_deep_free(l);
    ldns_pkt_free(pkt);
}

static void test_answer_rrs_owner_match_is_case_insensitive(void **state)
{
    const char *rrs[] = {"ExAmPle.COM. 300 IN CAA 0 issue \"ca.example\""};
    ldns_pkt *pkt = answer_pkt(rrs, 1);
    ldns_rr_list *l;

    (void)state;
    l = mpic_dns_answer_rrs(pkt, "example.com.", LDNS_RR_TYPE_CAA, NULL);
    assert_non_null(l);
    assert_int_equal(ldns_rr_list_rr_count(l), 1);
    ldns_rr_list_deep_free(l);
    ldns_pkt_free(pkt);
}

static void test_answer_rrs_none_gives_null(void **state)
{
    const char *rrs[] = {
        "example.com. 300 IN TXT \"x\"",
        "sub.example.com. 300 IN CAA 0 issue \"ca.example\"",
    };
    ldns_pkt *pkt = answer_pkt(rrs, 2);
    struct mpic_strv chain;

    (void)state;
    mpic_strv_init(&chain);
    assert_null(
        mpic_dns_answer_rrs(pkt, "example.com", LDNS_RR_TYPE_CAA, &chain));
    assert_int_equal(chain.n, 0);
    assert_null(
        mpic_dns_answer_rrs(NULL, "example.com", LDNS_RR_TYPE_CAA, NULL));
    mpic_strv_cleanup(&chain);
    ldns_pkt_free(pkt);
}

static void test_answer_rrs_follows_cname_chain(void **state)
{
    const char *rrs[] = {
        "www.example.com. 300 IN CNAME Hop.Example.net.",
        "hop.example.net. 300 IN CNAME final.example.org.",
        "final.example.org. 300 IN CAA 0 issue \"ca.example\"",
        /* a record at the original name behind the alias is ignored */
        "example.com. 300 IN CAA 0 issue \"wrong.example\"",
    };
    ldns_pkt *pkt = answer_pkt(rrs, 4);
    struct mpic_strv chain;
    ldns_rr_list *l;
    char *s;

    (void)state;
    mpic_strv_init(&chain);
    l = mpic_dns_answer_rrs(pkt, "www.example.com", LDNS_RR_TYPE_CAA, &chain);
    assert_non_null(l);
    assert_int_equal(ldns_rr_list_rr_count(l), 1);
    s = rr_str(l, 0);
    assert_string_equal(s, "0 issue \"ca.example\"");
    free(s);
    assert_int_equal(chain.n, 2);
    assert_string_equal(chain.v[0], "Hop.Example.net.");
    assert_string_equal(chain.v[1], "final.example.org.");
    ldns_rr_list_deep_free(l);
    mpic_strv_cleanup(&chain);
    ldns_pkt_free(pkt);
}

static void test_answer_rrs_cname_to_nothing_records_chain(void **state)
{
    const char *rrs[] = {"a.example. 300 IN CNAME b.other."};
    ldns_pkt *pkt = answer_pkt(rrs, 1);
    struct mpic_strv chain;

    (void)state;
    mpic_strv_init(&chain);
    assert_null(
        mpic_dns_answer_rrs(pkt, "a.example", LDNS_RR_TYPE_CAA, &chain));
    assert_int_equal(chain.n, 1);
    assert_string_equal(chain.v[0], "b.other.");
    mpic_strv_cleanup(&chain);
    ldns_pkt_free(pkt);
}

static void test_answer_rrs_refuses_cname_loop(void **state)
{
    const char *rrs[] = {
        "a.example. 300 IN CNAME b.example.",
        "b.example. 300 IN CNAME a.example.",
        "b.example. 300 IN TXT \"never reached\"",
    };
    ldns_pkt *pkt = answer_pkt(rrs, 3);

    (void)state;
    assert_null(mpic_dns_answer_rrs(pkt, "a.example", LDNS_RR_TYPE_CAA, NULL));
    ldns_pkt_free(pkt);
}

static void test_answer_rrs_refuses_self_cname(void **state)
{
    const char *rrs[] = {"a.example. 300 IN CNAME A.EXAMPLE."};
    ldns_pkt *pkt = answer_pkt(rrs, 1);

    (void)state;
    assert_null(mpic_dns_answer_rrs(pkt, "a.example", LDNS_RR_TYPE_TXT, NULL));
    ldns_pkt_free(pkt);
}

/* A chain of `hops` CNAMEs n0 -> n1 -> ... -> n<hops>, with a TXT at the
 * end. */
static ldns_pkt *chain_pkt(size_t hops)
{
    char *rrs[20];
    size_t i;
    ldns_pkt *pkt;

    assert_true(hops + 1 <= 20);
    for (i = 0; i < hops; i++) {
        rrs[i] = xasprintf("n%zu.example. 60 IN CNAME n%zu.example.", i, i + 1);
    }
    rrs[hops] = xasprintf("n%zu.example. 60 IN TXT \"end\"", hops);
    pkt = answer_pkt((const char *const *)rrs, hops + 1);
    for (i = 0; i <= hops; i++)
        free(rrs[i]);
    return pkt;
}

static void test_answer_rrs_follows_sixteen_hops(void **state)
{
    ldns_pkt *pkt = chain_pkt(16);
    struct mpic_strv chain;
    ldns_rr_list *l;

    (void)state;
    mpic_strv_init(&chain);
    l = mpic_dns_answer_rrs(pkt, "n0.example", LDNS_RR_TYPE_TXT, &chain);
    assert_non_null(l);
    assert_int_equal(chain.n, 16);
    ldns_rr_list_deep_free(l);
    mpic_strv_cleanup(&chain);
    ldns_pkt_free(pkt);
}

static void test_answer_rrs_stops_after_sixteen_hops(void **state)
{
    ldns_pkt *pkt = chain_pkt(17);

    (void)state;
    assert_null(mpic_dns_answer_rrs(pkt, "n0.example", LDNS_RR_TYPE_TXT, NULL));
    ldns_pkt_free(pkt);
}

/* The checked variant: a loop or an over-long chain is an error naming
 * the query name, never "no records"; a complete chain is not. */
static void test_answer_rrs_checked_loop_and_length(void **state)
{
    const char *loop[] = {
        "a.example. 300 IN CNAME b.example.",
        "b.example. 300 IN CNAME a.example.",
    };
    const char *self[] = {"a.example. 300 IN CNAME A.EXAMPLE."};
    const char *to_nothing[] = {"a.example. 300 IN CNAME b.other."};
    ldns_pkt *pkt;
    ldns_rr_list *l = NULL;
    char *why = NULL;

    (void)state;
    pkt = answer_pkt(loop, 2);
    assert_int_equal(mpic_dns_answer_rrs_checked(
                         pkt, "a.example", LDNS_RR_TYPE_CAA, NULL, &l, &why),
                     -1);
    assert_non_null(strstr(why, "CNAME loop"));
    assert_non_null(strstr(why, "a.example"));
    free(why);
    why = NULL;
    ldns_pkt_free(pkt);

    pkt = answer_pkt(self, 1);
    assert_int_equal(mpic_dns_answer_rrs_checked(
                         pkt, "a.example", LDNS_RR_TYPE_TXT, NULL, &l, &why),
                     -1);
    free(why);
    why = NULL;
    ldns_pkt_free(pkt);

    pkt = chain_pkt(17);
    assert_int_equal(mpic_dns_answer_rrs_checked(
                         pkt, "n0.example", LDNS_RR_TYPE_TXT, NULL, &l, &why),
                     -1);
    assert_non_null(strstr(why, "longer than 16"));
    free(why);
    why = NULL;
    ldns_pkt_free(pkt);

    pkt = chain_pkt(16);
    l = NULL;
    assert_int_equal(mpic_dns_answer_rrs_checked(
                         pkt, "n0.example", LDNS_RR_TYPE_TXT, NULL, &l, &why),
                     0);
    assert_non_null(l);
    assert_null(why);
    ldns_rr_list_deep_free(l);
    ldns_pkt_free(pkt);

    pkt = answer_pkt(to_nothing, 1);
    l = NULL;
    assert_int_equal(mpic_dns_answer_rrs_checked(
                         pkt, "a.example", LDNS_RR_TYPE_CAA, NULL, &l, &why),
                     0);
    assert_null(l);
    ldns_pkt_free(pkt);
}

static void test_answer_rrs_cname_query_returns_cname(void **state)
{
    const char *rrs[] = {
        "a.example. 300 IN CNAME b.example.",
        "b.example. 300 IN CNAME c.example.",
    };
    ldns_pkt *pkt = answer_pkt(rrs, 2);
    struct mpic_strv chain;
    ldns_rr_list *l;
    char *s;

    (void)state;
    mpic_strv_init(&chain);
    l = mpic_dns_answer_rrs(pkt, "a.example", LDNS_RR_TYPE_CNAME, &chain);
    assert_non_null(l);
    assert_int_equal(ldns_rr_list_rr_count(l), 1);
    s = rr_str(l, 0);
    assert_string_equal(s, "b.example.");
    free(s);
    assert_int_equal(chain.n, 0);
    ldns_rr_list_deep_free(l);
    mpic_strv_cleanup(&chain);
    ldns_pkt_free(pkt);
}

static void test_caa_presentation_plain_and_critical(void **state)
{
    ldns_rr *rr = rr_from("x.example. 60 IN CAA 128 tbs \"Unknown\"");
    char *s = mpic_dns_rr_to_str(rr);

    (void)state;
    assert_string_equal(s, "128 tbs \"Unknown\"");
    free(s);
    ldns_rr_free(rr);
    rr =
        rr_from("x.example. 60 IN CAA 0 iodef \"mailto:security@example.com\"");
    s = mpic_dns_rr_to_str(rr);
    assert_string_equal(s, "0 iodef \"mailto:security@example.com\"");
    free(s);
    ldns_rr_free(rr);
}

static void
test_caa_presentation_escapes_quote_backslash_and_bytes(void **state)
{
    /* value bytes: a"b\c<TAB>d<0xff>; 10 for the tag length of "issue" */
    static const uint8_t rdata[] = {0,   5,   'i',  's', 's',  'u', 'e', 'a',
                                    '"', 'b', '\\', 'c', '\t', 'd', 0xff};
    ldns_rr *rr = NULL;
    size_t pos = 0;
    uint8_t wire[64];
    size_t n = 0;
    char *s;

    (void)state;
    /* owner root, type CAA, class IN, ttl, rdlength, rdata */
    wire[n++] = 0;
    wire[n++] = 1;
    wire[n++] = 1;
    wire[n++] = 0;
    wire[n++] = 1;
    wire[n++] = 0;
    wire[n++] = 0;
    wire[n++] = 0;
    wire[n++] = 60;
    wire[n++] = 0;
    wire[n++] = sizeof(rdata);
    memcpy(wire + n, rdata, sizeof(rdata));
    n += sizeof(rdata);
    assert_int_equal(ldns_wire2rr(&rr, wire, n, &pos, LDNS_SECTION_ANSWER),
                     LDNS_STATUS_OK);
    s = mpic_dns_rr_to_str(rr);
    assert_string_equal(s, "0 issue \"a\\\"b\\\\c\\009d\\255\"");
    free(s);
    ldns_rr_free(rr);
}

static void test_caa_presentation_empty_value(void **state)
{
    static const uint8_t rdata[] = {0, 5, 'i', 's', 's', 'u', 'e'};
    uint8_t wire[32] = {0, 1, 1, 0, 1, 0, 0, 0, 60, 0, sizeof(rdata)};
    ldns_rr *rr = NULL;
    struct caa_record rec;
    size_t pos = 0;
    char *s;

    (void)state;
    memcpy(wire + 11, rdata, sizeof(rdata));
    assert_int_equal(
        ldns_wire2rr(&rr, wire, 11 + sizeof(rdata), &pos, LDNS_SECTION_ANSWER),
        LDNS_STATUS_OK);
    s = mpic_dns_rr_to_str(rr);
    assert_string_equal(s, "0 issue \"\"");
    free(s);
    assert_int_equal(caa_record_from_rr(rr, &rec), 0);
    assert_string_equal(rec.tag, "issue");
    assert_int_equal(rec.value_len, 0);
    assert_string_equal(rec.value, "");
    free(rec.tag);
    free(rec.value);
    ldns_rr_free(rr);
}

static void test_caa_record_from_rr_decodes_fields(void **state)
{
    static const uint8_t rdata[] = {128, 9,   'i', 's', 's', 'u', 'e', 'W',
                                    'i', 'l', 'd', 'c', 'a', 0,   ';'};
    uint8_t wire[40] = {0, 1, 1, 0, 1, 0, 0, 0, 60, 0, sizeof(rdata)};
    ldns_rr *rr = NULL;
    struct caa_record *rec = xcalloc(1, sizeof(*rec));
    size_t pos = 0;

    (void)state;
    memcpy(wire + 11, rdata, sizeof(rdata));
    assert_int_equal(
        ldns_wire2rr(&rr, wire, 11 + sizeof(rdata), &pos, LDNS_SECTION_ANSWER),
        LDNS_STATUS_OK);
    assert_int_equal(caa_record_from_rr(rr, rec), 0);
    assert_int_equal(rec->flags, 128);
    assert_string_equal(rec->tag, "issueWild"); /* case preserved */
    assert_int_equal(rec->value_len, 4);
    assert_memory_equal(rec->value, "ca\0;", 4);
    caa_records_free(rec, 1);
    ldns_rr_free(rr);
}

/* A NUL byte in the tag is kept: tag_len says 6, and the tag is not a
 * valid tag, so it can never be read as "issue". */
static void test_caa_record_from_rr_keeps_nul_in_tag(void **state)
{
    static const uint8_t rdata[] = {128, 6,   'i', 's', 's', 'u', 'e',
                                    0,   'c', 'a', '.', 'e', 'x'};
    uint8_t wire[40] = {0, 1, 1, 0, 1, 0, 0, 0, 60, 0, sizeof(rdata)};
    ldns_rr *rr = NULL;
    struct caa_record rec;
    size_t pos = 0;

    (void)state;
    memcpy(wire + 11, rdata, sizeof(rdata));
    assert_int_equal(
        ldns_wire2rr(&rr, wire, 11 + sizeof(rdata), &pos, LDNS_SECTION_ANSWER),
        LDNS_STATUS_OK);
    assert_int_equal(caa_record_from_rr(rr, &rec), 0);
    assert_int_equal(rec.tag_len, 6);
    assert_memory_equal(rec.tag, "issue\0", 6);
    assert_false(caa_record_tag_valid(&rec));
    assert_false(caa_record_tag_is(&rec, "issue"));
    free(rec.tag);
    free(rec.value);
    ldns_rr_free(rr);
}

static void test_caa_record_from_rr_rejects_other_types(void **state)
{
    ldns_rr *rr = rr_from("x.example. 60 IN TXT \"0 issue ca\"");
    struct caa_record rec;

    (void)state;
    assert_int_equal(caa_record_from_rr(rr, &rec), -1);
    assert_null(rec.tag);
    ldns_rr_free(rr);
}

static void test_txt_joined_concatenates_strings(void **state)
{
    ldns_rr *rr = rr_from("x.example. 60 IN TXT \"abc\" \"\" \"def\"");
    size_t len = 99;
    char *s = mpic_dns_txt_joined(rr, &len);

    (void)state;
    assert_string_equal(s, "abcdef");
    assert_int_equal(len, 6);
    free(s);
    ldns_rr_free(rr);
}

static void test_txt_joined_keeps_embedded_bytes(void **state)
{
    ldns_rr *rr = rr_from("x.example. 60 IN TXT \"a\\000b\" \"\\\"q\"");
    size_t len = 0;
    char *s = mpic_dns_txt_joined(rr, &len);

    (void)state;
    assert_int_equal(len, 5);
    assert_memory_equal(s, "a\0b\"q", 5);
    free(s);
    ldns_rr_free(rr);
}

static void test_rr_to_str_other_types(void **state)
{
    ldns_rr *rr = rr_from("x.example. 60 IN A 192.0.2.7");
    char *s = mpic_dns_rr_to_str(rr);

    (void)state;
    assert_string_equal(s, "192.0.2.7");
    free(s);
    ldns_rr_free(rr);
    assert_null(mpic_dns_rr_to_str(NULL));
}

/*
 * The query on the wire. The reference is what ldns writes for the same
 * question (the way queries were built before ares_create_query); every
 * name must give the same bytes, and a name ldns refuses must be refused.
 */
static int ldns_reference_query(const char *name, ldns_rr_type type,
                                uint16_t id, uint8_t **wire, size_t *len)
{
    ldns_rdf *qname = ldns_dname_new_frm_str(name);
    ldns_pkt *pkt;
    ldns_status st;

    *wire = NULL;
    if (qname == NULL)
        return -1;
    pkt = ldns_pkt_query_new(qname, type, LDNS_RR_CLASS_IN, LDNS_RD | LDNS_AD);
    assert_non_null(pkt);
    ldns_pkt_set_id(pkt, id);
    ldns_pkt_set_edns_udp_size(pkt, 1232);
    st = ldns_pkt2wire(wire, pkt, len);
    ldns_pkt_free(pkt);
    return st == LDNS_STATUS_OK ? 0 : -1;
}

static void check_wire_query_like_ldns(const char *name, ldns_rr_type type,
                                       uint16_t id)
{
    uint8_t got[512];
    size_t glen = 0;
    uint8_t *want = NULL;
    size_t wlen = 0;
    int wrc = ldns_reference_query(name, type, id, &want, &wlen);
    int grc = mpic_dns_wire_query(name, type, id, got, sizeof(got), &glen);

    if (wrc != grc)
        fail_msg("\"%s\": ldns %d, ours %d", name, wrc, grc);
    if (wrc == 0) {
        if (wlen != glen || memcmp(want, got, wlen) != 0)
            fail_msg("\"%s\" type %d: bytes differ from ldns", name, (int)type);
    }
    LDNS_FREE(want);
}

static void test_wire_query_is_byte_for_byte_ldns(void **state)
{
    static const char *const names[] = {
        "example.com",
        "Example.COM.",
        "_acme-challenge.n1.bench.test",
        "_validation-persist.MiXeD.example",
        "*.wild.example",
        "xn--bcher-kva.example",
        "a b.example",
        "caf\xc3\xa9.example",
        "under_score.example",
        "com",
        "x.onion",
        "x.ONION.",
        "onion",
        "a..b.example",
        ".a.example",
        "..",
        ".",
        "",
        "\\065bc.example",
        "a\\.b.example",
        "trailing\\",
        /* 63-octet label (fine), 64-octet label (refused) */
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij123"
        ".example",
        "abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij1234"
        ".example",
    };
    static const ldns_rr_type types[] = {
        LDNS_RR_TYPE_A,   LDNS_RR_TYPE_AAAA,  LDNS_RR_TYPE_TXT,
        LDNS_RR_TYPE_CAA, LDNS_RR_TYPE_CNAME, LDNS_RR_TYPE_PTR,
    };
    char longname[300];
    size_t i, j, n;

    (void)state;
    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        for (j = 0; j < sizeof(types) / sizeof(types[0]); j++)
            check_wire_query_like_ldns(names[i], types[j],
                                       (uint16_t)(0x1234 + i * 7 + j));
    }
    /* Lengths around the 255-octet limit: labels of 9 and a dot. */
    for (n = 230; n <= 280; n++) {
        for (i = 0; i < n; i++)
            longname[i] = (i % 10 == 9) ? '.' : 'a';
        longname[n] = '\0';
        check_wire_query_like_ldns(longname, LDNS_RR_TYPE_CAA, 0xbeef);
        longname[n] = '.';
        longname[n + 1] = '\0';
        check_wire_query_like_ldns(longname, LDNS_RR_TYPE_CAA, 0xbeef);
    }
}

static void test_wire_query_header_id_rd_ad_edns(void **state)
{
    uint8_t q[512];
    size_t len = 0;

    (void)state;
    assert_int_equal(mpic_dns_wire_query("ca.example", LDNS_RR_TYPE_CAA, 0xa55a,
                                         q, sizeof(q), &len),
                     0);
    /* header 12 + name 12 + type/class 4 + OPT 11 */
    assert_int_equal(len, 39);
    assert_int_equal(q[0], 0xa5);
    assert_int_equal(q[1], 0x5a);
    assert_int_equal(q[2], 0x01); /* QUERY, RD */
    assert_int_equal(q[3], 0x20); /* AD */
    assert_int_equal(q[5], 1);    /* QDCOUNT */
    assert_int_equal(q[7] | q[9], 0);
    assert_int_equal(q[11], 1); /* ARCOUNT: the OPT record */
    assert_int_equal(q[24] << 8 | q[25], LDNS_RR_TYPE_CAA);
    assert_int_equal(q[26] << 8 | q[27], LDNS_RR_CLASS_IN);
    assert_int_equal(q[28], 0); /* OPT owner: root */
    assert_int_equal(q[29] << 8 | q[30], LDNS_RR_TYPE_OPT);
    assert_int_equal(q[31] << 8 | q[32], 1232); /* UDP payload size */
    assert_int_equal(
        mpic_dns_wire_query("a..b", LDNS_RR_TYPE_A, 1, q, sizeof(q), &len), -1);
    /* too small a buffer is a refusal, not an overflow */
    assert_int_equal(
        mpic_dns_wire_query("ca.example", LDNS_RR_TYPE_CAA, 1, q, 20, &len),
        -1);
}

/*
 * The overall query deadline. A UDP socket that reads queries and keeps
 * them (answering only when a test asks) stands in for a resolver that
 * does not answer. With timeout_ms 100 and tries 8, c-ares 1.18 alone
 * would wait 100 * (2^8 - 1) ms = 25.5 s; dns.c must give up after
 * 100 * 8 ms. The watchdog (10 s) only catches a missing deadline.
 */
struct silent {
    struct ev_loop *loop;
    int fd;
    struct mpic_dns *dns;
    unsigned n_queries;
    uint8_t last[512]; /* the last query, to answer late */
    size_t last_len;
    struct sockaddr_in from;
    socklen_t from_len;
    bool auto_answer;     /* answer each query as it arrives */
    unsigned answer_from; /* with auto_answer: from the n-th query on */
    uint16_t ids[64];     /* IDs of the first queries received */
    unsigned n_ids;
    unsigned n_called;
    enum mpic_dns_status status;
    char *error;
};

/* Sends the stored query back as a NOERROR answer with no records. */
static void silent_answer_last(struct silent *s)
{
    uint8_t resp[512];

    assert_true(s->last_len >= 12);
    memcpy(resp, s->last, s->last_len);
    resp[2] |= 0x80; /* QR */
    assert_int_equal(sendto(s->fd, resp, s->last_len, 0,
                            (struct sockaddr *)&s->from, s->from_len),
                     (ssize_t)s->last_len);
}

static void on_silent_read(struct ev_loop *loop, int fd, unsigned events,
                           void *arg)
{
    struct silent *s = arg;
    uint8_t buf[512];
    ssize_t n;

    (void)loop;
    (void)events;
    for (;;) {
        s->from_len = sizeof(s->from);
        n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT,
                     (struct sockaddr *)&s->from, &s->from_len);
        if (n <= 0)
            return;
        s->n_queries++;
        if (n >= 2 && s->n_ids < sizeof(s->ids) / sizeof(s->ids[0]))
            s->ids[s->n_ids++] = (uint16_t)(buf[0] << 8 | buf[1]);
        memcpy(s->last, buf, (size_t)n);
        s->last_len = (size_t)n;
        if (s->auto_answer && s->n_queries >= s->answer_from)
            silent_answer_last(s);
    }
}

static void on_silent_watchdog(struct ev_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    fail_msg("the query deadline did not fire");
}

static void on_stop_loop(struct ev_loop *loop, void *arg)
{
    (void)arg;
    ev_loop_stop(loop);
}

static void on_silent_result(const struct mpic_dns_result *res, void *arg)
{
    struct silent *s = arg;

    s->n_called++;
    s->status = res->status;
    free(s->error);
    s->error = res->error != NULL ? xstrdup(res->error) : NULL;
    ev_loop_stop(s->loop);
}

static void silent_start(struct silent *s, unsigned timeout_ms, unsigned tries)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    struct mpic_dns_settings set;
    char *err = NULL;

    memset(s, 0, sizeof(*s));
    s->loop = ev_loop_new();
    assert_non_null(s->loop);
    s->fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(s->fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(s->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&sa, &slen), 0);
    assert_int_equal(ev_io_watch(s->loop, s->fd, EV_READ, on_silent_read, s),
                     0);
    memset(&set, 0, sizeof(set));
    mpic_strv_init(&set.resolvers);
    mpic_strv_push_owned(&set.resolvers,
                         xasprintf("127.0.0.1:%u", ntohs(sa.sin_port)));
    set.timeout_ms = timeout_ms;
    set.tries = tries;
    s->dns = mpic_dns_new(s->loop, &set, &err);
    assert_non_null(s->dns);
    mpic_strv_cleanup(&set.resolvers);
}

/* Runs the loop until it is stopped, failing after 10 s. */
static void silent_run(struct silent *s)
{
    struct ev_timer *wd =
        ev_timer_start(s->loop, 10000, on_silent_watchdog, NULL);

    assert_int_equal(ev_loop_run(s->loop), 0);
    ev_timer_stop(s->loop, wd);
}

static void silent_stop(struct silent *s)
{
    mpic_dns_free(s->dns);
    ev_io_watch(s->loop, s->fd, 0, NULL, NULL);
    close(s->fd);
    ev_loop_free(s->loop);
    free(s->error);
}

static void test_query_deadline_is_timeout_times_tries(void **state)
{
    struct silent s;
    uint64_t t0;

    (void)state;
    silent_start(&s, 100, 8);
    t0 = ev_now_ms();
    assert_non_null(mpic_dns_query(s.dns, "slow.example", LDNS_RR_TYPE_CAA,
                                   on_silent_result, &s));
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.status, MPIC_DNS_TIMEOUT);
    assert_non_null(s.error);
    assert_non_null(strstr(s.error, "slow.example"));
    /* Not before the promised 800 ms (the deadline is not early). */
    assert_true(ev_now_ms() - t0 >= 800);
    /* c-ares did retry within the deadline (tries 2.. at 100, 300 ms). */
    assert_true(s.n_queries >= 2);
    silent_stop(&s);
}

static void test_query_late_answer_after_deadline_is_dropped(void **state)
{
    struct silent s;

    (void)state;
    silent_start(&s, 100, 8);
    assert_non_null(mpic_dns_query(s.dns, "late.example", LDNS_RR_TYPE_TXT,
                                   on_silent_result, &s));
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.status, MPIC_DNS_TIMEOUT);
    /* c-ares still waits for the query; answer it now. The callback must
     * not run a second time, and the query is freed (ASan checks). */
    silent_answer_last(&s);
    ev_timer_start(s.loop, 300, on_stop_loop, NULL);
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    silent_stop(&s);
}

static void test_query_answer_before_deadline_wins(void **state)
{
    struct silent s;

    (void)state;
    silent_start(&s, 100, 8);
    assert_non_null(mpic_dns_query(s.dns, "quick.example", LDNS_RR_TYPE_CAA,
                                   on_silent_result, &s));
    s.auto_answer = true;
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.status, MPIC_DNS_ANSWER);
    /* Outlive the deadline: it must have been stopped with the query. */
    ev_timer_start(s.loop, 1200, on_stop_loop, NULL);
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    silent_stop(&s);
}

/* One lost datagram costs the early retransmission (400 ms), not a whole
 * per-try timeout: the first query is dropped, the second answered. */
static void test_query_lost_datagram_is_sent_again_early(void **state)
{
    struct silent s;
    struct mpic_buf m;
    uint64_t t0;

    (void)state;
    silent_start(&s, 8000, 2);
    s.auto_answer = true;
    s.answer_from = 2;
    t0 = ev_now_ms();
    assert_non_null(mpic_dns_query(s.dns, "lossy.example", LDNS_RR_TYPE_CAA,
                                   on_silent_result, &s));
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.status, MPIC_DNS_ANSWER);
    assert_int_equal(s.n_queries, 2);
    /* A new random ID for the retransmission. */
    assert_int_equal(s.n_ids, 2);
    assert_int_not_equal(s.ids[0], s.ids[1]);
    /* Sent long before c-ares' own second try (8 s per try). */
    assert_true(ev_now_ms() - t0 < 4000);
    mpic_buf_init(&m, 4096);
    mpic_dns_metrics(s.dns, &m);
    assert_non_null(strstr(m.data, "mpic_dns_queries_total 1\n"));
    assert_non_null(strstr(m.data, "mpic_dns_retransmits_total 1\n"));
    mpic_buf_cleanup(&m);
    /* The first query is still out at c-ares: answering it later must not
     * call back again (and frees the query: ASan checks). */
    ev_timer_start(s.loop, 300, on_stop_loop, NULL);
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    silent_stop(&s);
}

/* tries: 1 means one query: no retransmission, a timeout at 600 ms. */
static void test_query_one_try_is_not_sent_again(void **state)
{
    struct silent s;

    (void)state;
    silent_start(&s, 600, 1);
    assert_non_null(mpic_dns_query(s.dns, "once.example", LDNS_RR_TYPE_CAA,
                                   on_silent_result, &s));
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.status, MPIC_DNS_TIMEOUT);
    assert_int_equal(s.n_queries, 1);
    silent_stop(&s);
}

/* The answer to the first transmission wins when it comes first; the
 * retransmission is never sent for an answered query. */
static void test_query_answered_early_is_not_sent_again(void **state)
{
    struct silent s;

    (void)state;
    silent_start(&s, 2000, 3);
    s.auto_answer = true;
    assert_non_null(mpic_dns_query(s.dns, "fast.example", LDNS_RR_TYPE_CAA,
                                   on_silent_result, &s));
    silent_run(&s);
    assert_int_equal(s.status, MPIC_DNS_ANSWER);
    ev_timer_start(s.loop, 900, on_stop_loop, NULL);
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.n_queries, 1);
    silent_stop(&s);
}

static void test_query_cancelled_is_not_called_at_deadline(void **state)
{
    struct silent s;
    struct mpic_dns_query *q;

    (void)state;
    silent_start(&s, 100, 3);
    q = mpic_dns_query(s.dns, "gone.example", LDNS_RR_TYPE_CAA,
                       on_silent_result, &s);
    assert_non_null(q);
    mpic_dns_cancel(q);
    ev_timer_start(s.loop, 1000, on_stop_loop, NULL);
    silent_run(&s);
    assert_int_equal(s.n_called, 0);
    silent_stop(&s);
}

static void test_query_pending_at_free_reports_error_once(void **state)
{
    struct silent s;

    (void)state;
    silent_start(&s, 100, 8);
    assert_non_null(mpic_dns_query(s.dns, "pending.example", LDNS_RR_TYPE_CAA,
                                   on_silent_result, &s));
    mpic_dns_free(s.dns); /* the deadline timer goes with the query */
    s.dns = NULL;
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.status, MPIC_DNS_ERROR);
    silent_stop(&s);
}

/* Answers the stored query after flipping the case of its first name
 * octet (upper) or replacing it (other), then runs the loop. */
static void answer_with_question_changed(struct silent *s, bool same_name)
{
    uint8_t *first = &s->last[13]; /* header 12, then the label length */

    assert_true(s->last_len > 14);
    if (same_name)
        *first = (uint8_t)(*first - 'a' + 'A');
    else
        *first = (uint8_t)(*first == 'z' ? 'y' : *first + 1);
    silent_answer_last(s);
}

/* RFC 5452 9.1 and RFC 4343: the question must come back, in any case. */
static void test_query_answer_question_case_is_ignored(void **state)
{
    struct silent s;

    (void)state;
    silent_start(&s, 2000, 1);
    assert_non_null(mpic_dns_query(s.dns, "casey.example", LDNS_RR_TYPE_TXT,
                                   on_silent_result, &s));
    ev_timer_start(s.loop, 100, on_stop_loop, NULL);
    silent_run(&s);
    assert_int_equal(s.n_queries, 1);
    answer_with_question_changed(&s, true);
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.status, MPIC_DNS_ANSWER);
    silent_stop(&s);
}

/* c-ares drops it already (it compares the question too); the query then
 * times out like an unanswered one. */
static void test_query_answer_to_other_question_is_refused(void **state)
{
    struct silent s;

    (void)state;
    silent_start(&s, 300, 1);
    assert_non_null(mpic_dns_query(s.dns, "other.example", LDNS_RR_TYPE_TXT,
                                   on_silent_result, &s));
    ev_timer_start(s.loop, 100, on_stop_loop, NULL);
    silent_run(&s);
    assert_int_equal(s.n_queries, 1);
    answer_with_question_changed(&s, false);
    silent_run(&s);
    assert_int_equal(s.n_called, 1);
    assert_int_equal(s.status, MPIC_DNS_TIMEOUT);
    silent_stop(&s);
}

/* RFC 5452 9.2: every query leaves with an unpredictable ID. */
static void test_query_ids_on_the_wire_are_random(void **state)
{
    struct silent s;
    unsigned i, j, distinct = 0;
    char name[64];

    (void)state;
    silent_start(&s, 2000, 1);
    for (i = 0; i < 48; i++) {
        snprintf(name, sizeof(name), "q%u.example", i);
        assert_non_null(mpic_dns_query(s.dns, name, LDNS_RR_TYPE_TXT,
                                       on_silent_result, &s));
    }
    ev_timer_start(s.loop, 300, on_stop_loop, NULL);
    silent_run(&s);
    assert_int_equal(s.n_ids, 48);
    for (i = 0; i < s.n_ids; i++) {
        for (j = 0; j < i && s.ids[j] != s.ids[i]; j++)
            ;
        if (j == i)
            distinct++;
    }
    /* 48 random 16-bit IDs: a repeat or two is possible, a pattern not. */
    assert_true(distinct >= 44);
    silent_stop(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_rrs_returns_records_at_qname_in_order),
        cmocka_unit_test(test_answer_rrs_owner_match_is_case_insensitive),
        cmocka_unit_test(test_answer_rrs_none_gives_null),
        cmocka_unit_test(test_answer_rrs_follows_cname_chain),
        cmocka_unit_test(test_answer_rrs_cname_to_nothing_records_chain),
        cmocka_unit_test(test_answer_rrs_refuses_cname_loop),
        cmocka_unit_test(test_answer_rrs_refuses_self_cname),
        cmocka_unit_test(test_answer_rrs_follows_sixteen_hops),
        cmocka_unit_test(test_answer_rrs_stops_after_sixteen_hops),
        cmocka_unit_test(test_answer_rrs_cname_query_returns_cname),
        cmocka_unit_test(test_answer_rrs_checked_loop_and_length),
        cmocka_unit_test(test_caa_record_from_rr_keeps_nul_in_tag),
        cmocka_unit_test(test_caa_presentation_plain_and_critical),
        cmocka_unit_test(
            test_caa_presentation_escapes_quote_backslash_and_bytes),
        cmocka_unit_test(test_caa_presentation_empty_value),
        cmocka_unit_test(test_caa_record_from_rr_decodes_fields),
        cmocka_unit_test(test_caa_record_from_rr_rejects_other_types),
        cmocka_unit_test(test_txt_joined_concatenates_strings),
        cmocka_unit_test(test_txt_joined_keeps_embedded_bytes),
        cmocka_unit_test(test_rr_to_str_other_types),
        cmocka_unit_test(test_wire_query_is_byte_for_byte_ldns),
        cmocka_unit_test(test_wire_query_header_id_rd_ad_edns),
        cmocka_unit_test(test_query_ids_on_the_wire_are_random),
        cmocka_unit_test(test_query_answer_question_case_is_ignored),
        cmocka_unit_test(test_query_answer_to_other_question_is_refused),
        cmocka_unit_test(test_query_deadline_is_timeout_times_tries),
        cmocka_unit_test(test_query_late_answer_after_deadline_is_dropped),
        cmocka_unit_test(test_query_answer_before_deadline_wins),
        cmocka_unit_test(test_query_cancelled_is_not_called_at_deadline),
        cmocka_unit_test(test_query_lost_datagram_is_sent_again_early),
        cmocka_unit_test(test_query_one_try_is_not_sent_again),
        cmocka_unit_test(test_query_answered_early_is_not_sent_again),
        cmocka_unit_test(test_query_pending_at_free_reports_error_once),
    };

    return cmocka_run_group_tests_name("dns", tests, NULL, NULL);
}
