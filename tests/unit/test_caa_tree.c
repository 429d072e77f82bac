/*
 * The climbing CAA lookup (common/caa_tree.c) through the real DNS client
 * (common/dns.c, c-ares on the ev loop) against a scripted DNS responder
 * on 127.0.0.1 (port 0) in the same loop: each test gives the answers per
 * name and checks the verdict and which names were asked.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/caa_tree.h"
#include "common/config.h"
#include "common/dns.h"
#include "common/ev.h"
#include "common/mem.h"
#include "common/strv.h"

#define DROP  (-1) /* never answer */
#define N_RRS 20

struct script {
    const char *qname; /* lower case, no trailing dot */
    int rcode;         /* or DROP */
    const char *rrs[N_RRS];
};

struct fake {
    struct ev_loop *loop;
    int fd;
    unsigned port;
    const struct script *script;
    size_t n_script;
    struct mpic_strv asked; /* qnames in arrival order */
    struct mpic_dns *dns;
    /* the verdict, copied out of the callback */
    bool done;
    enum caa_lookup_status status;
    enum mpic_dns_status dns_status;
    char *found_at;
    struct mpic_strv seen;
    size_t n_records;
};

static const struct script *script_find(const struct fake *f, const char *q)
{
    size_t i;

    for (i = 0; i < f->n_script; i++) {
        if (strcmp(f->script[i].qname, q) == 0)
            return &f->script[i];
    }
    return NULL;
}

/* Answers one queued query; returns false when none is left. */
static bool answer_one(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    struct fake *f = arg;
    uint8_t buf[4096];
    struct sockaddr_in from;
    socklen_t flen = sizeof(from);
    ssize_t n;
    ldns_pkt *qp = NULL;
    ldns_pkt *rp = NULL;
    uint8_t *wire = NULL;
    size_t wlen = 0;
    const struct script *s;
    char *qname;
    size_t i;

    (void)loop;
    (void)events;
    n = recvfrom(fd, buf, sizeof(buf), MSG_DONTWAIT, (struct sockaddr *)&from,
                 &flen);
    if (n <= 0)
        return false;
    assert_int_equal(ldns_wire2pkt(&qp, buf, (size_t)n), LDNS_STATUS_OK);
    /* The query carries RD, AD and EDNS0 (dns.h). */
    assert_true(ldns_pkt_rd(qp));
    assert_true(ldns_pkt_ad(qp));
    assert_true(ldns_pkt_edns(qp));
    qname =
        ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(qp), 0)));
    qname[strlen(qname) - 1] = '\0'; /* trailing dot */
    mpic_strv_push(&f->asked, qname);
    s = script_find(f, qname);
    LDNS_FREE(qname);
    if (s != NULL && s->rcode == DROP)
        goto out;
    rp = ldns_pkt_new();
    ldns_pkt_set_id(rp, ldns_pkt_id(qp));
    ldns_pkt_set_qr(rp, true);
    ldns_pkt_set_rd(rp, true);
    ldns_pkt_set_ra(rp, true);
    ldns_pkt_set_rcode(rp, s != NULL ? (uint8_t)s->rcode : LDNS_RCODE_NOERROR);
    ldns_pkt_push_rr(rp, LDNS_SECTION_QUESTION,
                     ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(qp), 0)));
    for (i = 0; s != NULL && i < N_RRS && s->rrs[i] != NULL; i++) {
        ldns_rr *rr = NULL;

        assert_int_equal(ldns_rr_new_frm_str(&rr, s->rrs[i], 0, NULL, NULL),
                         LDNS_STATUS_OK);
        ldns_pkt_push_rr(rp, LDNS_SECTION_ANSWER, rr);
    }
    assert_int_equal(ldns_pkt2wire(&wire, rp, &wlen), LDNS_STATUS_OK);
    sendto(fd, wire, wlen, 0, (struct sockaddr *)&from, flen);
out:
    LDNS_FREE(wire);
    ldns_pkt_free(rp);
    ldns_pkt_free(qp);
    return true;
}

/* Drains every queued query, so all levels sent at once are seen at once. */
static void on_query(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    while (answer_one(loop, fd, events, arg))
        ;
}

static void on_watchdog(struct ev_loop *loop, void *arg)
{
    (void)loop;
    (void)arg;
    fail_msg("lookup did not finish");
}

static void on_done(const struct caa_lookup_result *res, void *arg)
{
    struct fake *f = arg;
    size_t i;

    assert_false(f->done); /* exactly once */
    f->done = true;
    f->status = res->status;
    f->dns_status = res->dns_status;
    f->found_at = res->found_at != NULL ? xstrdup(res->found_at) : NULL;
    f->n_records = res->n_records;
    for (i = 0; res->status == CAA_LOOKUP_FOUND && i < res->n_records; i++)
        mpic_strv_push(&f->seen, res->records_seen[i]);
    if (res->status == CAA_LOOKUP_ERROR)
        assert_non_null(res->error);
    ev_loop_stop(f->loop);
}

static void fake_start(struct fake *f, const struct script *s, size_t n)
{
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    struct mpic_dns_settings set;
    char *err = NULL;

    memset(f, 0, sizeof(*f));
    f->script = s;
    f->n_script = n;
    f->loop = ev_loop_new();
    assert_non_null(f->loop);
    f->fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(f->fd >= 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(getsockname(f->fd, (struct sockaddr *)&sa, &slen), 0);
    f->port = ntohs(sa.sin_port);
    assert_int_equal(ev_io_watch(f->loop, f->fd, EV_READ, on_query, f), 0);

    memset(&set, 0, sizeof(set));
    mpic_strv_init(&set.resolvers);
    mpic_strv_push_owned(&set.resolvers, xasprintf("127.0.0.1:%u", f->port));
    set.timeout_ms = 300;
    set.tries = 1;
    f->dns = mpic_dns_new(f->loop, &set, &err);
    assert_non_null(f->dns);
    mpic_strv_cleanup(&set.resolvers);
}

static void fake_run(struct fake *f, const char *name)
{
    struct ev_timer *wd = ev_timer_start(f->loop, 10000, on_watchdog, NULL);

    if (caa_tree_lookup_start(f->dns, name, on_done, f) != NULL)
        assert_int_equal(ev_loop_run(f->loop), 0);
    assert_true(f->done);
    ev_timer_stop(f->loop, wd);
}

static void fake_stop(struct fake *f)
{
    mpic_dns_free(f->dns);
    ev_io_watch(f->loop, f->fd, 0, NULL, NULL);
    close(f->fd);
    ev_loop_free(f->loop);
    mpic_strv_cleanup(&f->asked);
    mpic_strv_cleanup(&f->seen);
    free(f->found_at);
}

static void test_found_at_the_name_itself(void **state)
{
    static const struct script s[] = {
        {"a.example", 0, {"a.example. 60 IN CAA 0 issue \"ca.example\""}},
        {"example", 0, {"example. 60 IN CAA 0 issue \"other.example\""}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 2);
    fake_run(&f, "a.example.");
    assert_int_equal(f.status, CAA_LOOKUP_FOUND);
    assert_string_equal(f.found_at, "a.example");
    assert_int_equal(f.n_records, 1);
    assert_string_equal(f.seen.v[0], "0 issue \"ca.example\"");
    fake_stop(&f);
}

static void test_climbs_past_empty_and_nxdomain_levels(void **state)
{
    static const struct script s[] = {
        {"x.y.example", LDNS_RCODE_NOERROR, {NULL}},
        {"y.example", LDNS_RCODE_NXDOMAIN, {NULL}},
        {"example",
         0,
         {"example. 60 IN CAA 0 issue \"ca.example\"",
          "example. 60 IN CAA 0 iodef \"mailto:a@example\""}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 3);
    fake_run(&f, "x.y.example");
    assert_int_equal(f.status, CAA_LOOKUP_FOUND);
    assert_string_equal(f.found_at, "example");
    assert_int_equal(f.n_records, 2);
    assert_string_equal(f.seen.v[1], "0 iodef \"mailto:a@example\"");
    /* every level was asked, the root never */
    assert_int_equal(f.asked.n, 3);
    fake_stop(&f);
}

static void test_no_rrset_anywhere_is_none(void **state)
{
    static const struct script s[] = {
        {"www.example", LDNS_RCODE_NXDOMAIN, {NULL}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 1);
    fake_run(&f, "www.example");
    assert_int_equal(f.status, CAA_LOOKUP_NONE);
    assert_null(f.found_at);
    fake_stop(&f);
}

static void test_failure_closer_than_winner_is_error(void **state)
{
    static const struct script s[] = {
        {"x.example", LDNS_RCODE_SERVFAIL, {NULL}},
        {"example", 0, {"example. 60 IN CAA 0 issue \"ca.example\""}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 2);
    fake_run(&f, "x.example");
    assert_int_equal(f.status, CAA_LOOKUP_ERROR);
    assert_int_equal(f.dns_status, MPIC_DNS_SERVFAIL);
    assert_string_equal(f.found_at, "x.example");
    fake_stop(&f);
}

/* A CAA record we cannot take apart (RFC 8659 4.1: flags, tag length and
 * tag, value) is an error at its level, never "no records here": the
 * parent's records must not decide. Written as RFC 3597 generic rdata. */
static void test_malformed_record_is_error(void **state)
{
    static const char *const bad[] = {
        "a.example. 60 IN CAA \\# 1 00",    /* flags only */
        "a.example. 60 IN CAA \\# 2 00 00", /* an empty tag */
    };
    struct fake f;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct script s[] = {
            {"a.example",
             0,
             {"a.example. 60 IN CAA 0 issue \"ca.example\"", bad[i]}},
            {"example", 0, {"example. 60 IN CAA 0 issue \"ca.example\""}},
        };

        fake_start(&f, s, 2);
        fake_run(&f, "a.example");
        assert_int_equal(f.status, CAA_LOOKUP_ERROR);
        assert_int_equal(f.dns_status, MPIC_DNS_BAD_RESPONSE);
        assert_string_equal(f.found_at, "a.example");
        fake_stop(&f);
    }
}

/* The same rules on a record built by hand, where the tag's length byte
 * can disagree with the tag. */
static void test_record_from_rr_refuses_bad_rdata(void **state)
{
    static const uint8_t tag_short[] = {5, 'i'};
    static const uint8_t flags2[] = {0, 0};
    struct caa_record rec;
    ldns_rr *rr = ldns_rr_new();

    (void)state;
    assert_non_null(rr);
    ldns_rr_set_type(rr, LDNS_RR_TYPE_CAA);
    assert_int_equal(caa_record_from_rr(rr, &rec), -1); /* no rdata */
    assert_int_equal(caa_record_from_rr(NULL, &rec), -1);
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT8, 1, "\0"));
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_TAG,
                                               sizeof(tag_short), tag_short));
    assert_int_equal(caa_record_from_rr(rr, &rec), -1); /* length 5, 1 byte */
    ldns_rr_free(rr);
    rr = ldns_rr_new();
    assert_non_null(rr);
    ldns_rr_set_type(rr, LDNS_RR_TYPE_CAA);
    ldns_rr_push_rdf(
        rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_INT16, sizeof(flags2), flags2));
    ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_TAG, 2, "\1i"));
    assert_int_equal(caa_record_from_rr(rr, &rec), -1); /* 2-byte flags */
    ldns_rr_free(rr);
    caa_records_free(NULL, 0); /* NULL-safe */
}

static void test_timeout_closer_than_winner_is_error(void **state)
{
    static const struct script s[] = {
        {"x.example", DROP, {NULL}},
        {"example", 0, {"example. 60 IN CAA 0 issue \"ca.example\""}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 2);
    fake_run(&f, "x.example");
    assert_int_equal(f.status, CAA_LOOKUP_ERROR);
    assert_int_equal(f.dns_status, MPIC_DNS_TIMEOUT);
    fake_stop(&f);
}

static void test_failure_above_winner_is_ignored(void **state)
{
    static const struct script s[] = {
        {"x.example", 0, {"x.example. 60 IN CAA 0 issue \"ca.example\""}},
        {"example", LDNS_RCODE_REFUSED, {NULL}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 2);
    fake_run(&f, "x.example");
    assert_int_equal(f.status, CAA_LOOKUP_FOUND);
    assert_string_equal(f.found_at, "x.example");
    fake_stop(&f);
}

static void test_unanswered_level_above_winner_does_not_delay(void **state)
{
    static const struct script s[] = {
        {"x.example", 0, {"x.example. 60 IN CAA 0 issue \"ca.example\""}},
        {"example", DROP, {NULL}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 2);
    fake_run(&f, "x.example");
    /* decided without the parent's answer, as a FOUND, not a timeout */
    assert_int_equal(f.status, CAA_LOOKUP_FOUND);
    assert_int_equal(f.asked.n, 2); /* both queries went out at once */
    fake_stop(&f);
}

static void test_cname_target_ancestors_are_not_climbed(void **state)
{
    static const struct script s[] = {
        {"a.example", 0, {"a.example. 60 IN CNAME b.other."}},
        {"example", 0, {"example. 60 IN CAA 0 issue \"ca.example\""}},
        {"other", 0, {"other. 60 IN CAA 0 issue \"wrong.example\""}},
    };
    struct fake f;
    size_t i;

    (void)state;
    fake_start(&f, s, 3);
    fake_run(&f, "a.example");
    assert_int_equal(f.status, CAA_LOOKUP_FOUND);
    assert_string_equal(f.found_at, "example");
    for (i = 0; i < f.asked.n; i++)
        assert_string_not_equal(f.asked.v[i], "other");
    fake_stop(&f);
}

static void test_cname_target_records_count_at_queried_name(void **state)
{
    static const struct script s[] = {
        {"a.example",
         0,
         {"a.example. 60 IN CNAME b.other.",
          "b.other. 60 IN CAA 0 issue \"target.example\""}},
        {"example", 0, {"example. 60 IN CAA 0 issue \"ca.example\""}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 2);
    fake_run(&f, "a.example");
    assert_int_equal(f.status, CAA_LOOKUP_FOUND);
    assert_string_equal(f.found_at, "a.example");
    assert_string_equal(f.seen.v[0], "0 issue \"target.example\"");
    fake_stop(&f);
}

/* open-mpic-api.md 5.2: a CNAME loop in the answer is a lookup error,
 * never "no CAA here"; climbing must not reach the permitting parent. */
static void test_cname_loop_is_error(void **state)
{
    static const struct script s[] = {
        {"a.example",
         0,
         {"a.example. 60 IN CNAME b.example.",
          "b.example. 60 IN CNAME a.example."}},
        {"self.example", 0, {"self.example. 60 IN CNAME self.example."}},
        {"example", 0, {"example. 60 IN CAA 0 issue \"ca.example\""}},
    };
    static const char *const names[] = {"a.example", "self.example"};
    size_t i;

    (void)state;
    for (i = 0; i < 2; i++) {
        struct fake f;

        fake_start(&f, s, 3);
        fake_run(&f, names[i]);
        assert_int_equal(f.status, CAA_LOOKUP_ERROR);
        assert_int_equal(f.dns_status, MPIC_DNS_BAD_RESPONSE);
        assert_string_equal(f.found_at, names[i]);
        fake_stop(&f);
    }
}

/* 17 CNAMEs (one past the 16 hops followed): the end is unknown. */
static void test_overlong_cname_chain_is_error(void **state)
{
    static const struct script s[] = {
        {"c0.example",
         0,
         {"c0.example. 60 IN CNAME c1.example.",
          "c1.example. 60 IN CNAME c2.example.",
          "c2.example. 60 IN CNAME c3.example.",
          "c3.example. 60 IN CNAME c4.example.",
          "c4.example. 60 IN CNAME c5.example.",
          "c5.example. 60 IN CNAME c6.example.",
          "c6.example. 60 IN CNAME c7.example.",
          "c7.example. 60 IN CNAME c8.example.",
          "c8.example. 60 IN CNAME c9.example.",
          "c9.example. 60 IN CNAME c10.example.",
          "c10.example. 60 IN CNAME c11.example.",
          "c11.example. 60 IN CNAME c12.example.",
          "c12.example. 60 IN CNAME c13.example.",
          "c13.example. 60 IN CNAME c14.example.",
          "c14.example. 60 IN CNAME c15.example.",
          "c15.example. 60 IN CNAME c16.example.",
          "c16.example. 60 IN CNAME c17.example."}},
        /* the same chain one hop shorter, ending at a name without CAA */
        {"c1.example",
         0,
         {"c1.example. 60 IN CNAME c2.example.",
          "c2.example. 60 IN CNAME c3.example.",
          "c3.example. 60 IN CNAME c4.example.",
          "c4.example. 60 IN CNAME c5.example.",
          "c5.example. 60 IN CNAME c6.example.",
          "c6.example. 60 IN CNAME c7.example.",
          "c7.example. 60 IN CNAME c8.example.",
          "c8.example. 60 IN CNAME c9.example.",
          "c9.example. 60 IN CNAME c10.example.",
          "c10.example. 60 IN CNAME c11.example.",
          "c11.example. 60 IN CNAME c12.example.",
          "c12.example. 60 IN CNAME c13.example.",
          "c13.example. 60 IN CNAME c14.example.",
          "c14.example. 60 IN CNAME c15.example.",
          "c15.example. 60 IN CNAME c16.example.",
          "c16.example. 60 IN CNAME c17.example."}},
        {"example", 0, {"example. 60 IN CAA 0 issue \"ca.example\""}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 3);
    fake_run(&f, "c0.example");
    assert_int_equal(f.status, CAA_LOOKUP_ERROR);
    assert_string_equal(f.found_at, "c0.example");
    fake_stop(&f);
    /* 16 hops are followed: no CAA at the end, climb to example */
    fake_start(&f, s, 3);
    fake_run(&f, "c1.example");
    assert_int_equal(f.status, CAA_LOOKUP_FOUND);
    assert_string_equal(f.found_at, "example");
    fake_stop(&f);
}

/* A loop above the closest RRset does not matter (RFC 8659 section 3). */
static void test_cname_loop_above_winner_is_ignored(void **state)
{
    static const struct script s[] = {
        {"a.b.example", 0, {"a.b.example. 60 IN CAA 0 issue \"ca.example\""}},
        {"b.example", 0, {"b.example. 60 IN CNAME b.example."}},
    };
    struct fake f;

    (void)state;
    fake_start(&f, s, 2);
    fake_run(&f, "a.b.example");
    assert_int_equal(f.status, CAA_LOOKUP_FOUND);
    assert_string_equal(f.found_at, "a.b.example");
    fake_stop(&f);
}

static void test_invalid_name_fails_at_once(void **state)
{
    struct fake f;

    (void)state;
    fake_start(&f, NULL, 0);
    assert_null(caa_tree_lookup_start(f.dns, "a..example", on_done, &f));
    assert_true(f.done);
    assert_int_equal(f.status, CAA_LOOKUP_ERROR);
    assert_int_equal(f.dns_status, MPIC_DNS_ERROR);
    assert_int_equal(f.asked.n, 0);
    fake_stop(&f);
}

static void on_never(const struct caa_lookup_result *res, void *arg)
{
    (void)res;
    (void)arg;
    fail_msg("a cancelled lookup called back");
}

static void test_cancelled_lookup_never_calls_back(void **state)
{
    static const struct script s[] = {{"x.example", DROP, {NULL}},
                                      {"example", DROP, {NULL}}};
    struct fake f;
    struct caa_lookup *l;

    (void)state;
    fake_start(&f, s, 2);
    l = caa_tree_lookup_start(f.dns, "x.example", on_never, NULL);
    assert_non_null(l);
    caa_tree_lookup_cancel(l);
    /* the queries are still out; freeing the client drops them silently */
    fake_stop(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_found_at_the_name_itself),
        cmocka_unit_test(test_climbs_past_empty_and_nxdomain_levels),
        cmocka_unit_test(test_no_rrset_anywhere_is_none),
        cmocka_unit_test(test_failure_closer_than_winner_is_error),
        cmocka_unit_test(test_timeout_closer_than_winner_is_error),
        cmocka_unit_test(test_failure_above_winner_is_ignored),
        cmocka_unit_test(test_unanswered_level_above_winner_does_not_delay),
        cmocka_unit_test(test_cname_target_ancestors_are_not_climbed),
        cmocka_unit_test(test_cname_target_records_count_at_queried_name),
        cmocka_unit_test(test_cname_loop_is_error),
        cmocka_unit_test(test_overlong_cname_chain_is_error),
        cmocka_unit_test(test_cname_loop_above_winner_is_ignored),
        cmocka_unit_test(test_invalid_name_fails_at_once),
        cmocka_unit_test(test_malformed_record_is_error),
        cmocka_unit_test(test_record_from_rr_refuses_bad_rdata),
        cmocka_unit_test(test_cancelled_lookup_never_calls_back),
    };

    return cmocka_run_group_tests_name("caa_tree", tests, NULL, NULL);
}
