/*
 * Unit tests for coordinator/cohort.c: keyed-hash cohort selection
 * (determinism, secrecy, constraints over random configurations checked against
 * brute force) and the quorum, attempt, completion and max_attempts rules.
 */
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/mem.h"
#include "common/strv.h"
#include "coordinator/cohort.h"

/* xorshift64*: a fixed-seed PRNG so every run sees the same configs. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng_next(void)
{
    uint64_t x = rng_state;

    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static size_t rng_below(size_t n)
{
    return (size_t)(rng_next() % n);
}

struct pset {
    struct mpic_perspective *ps;
    size_t n;
};

static void pset_init(struct pset *s, size_t n)
{
    size_t i;

    s->ps = xcalloc(n, sizeof(*s->ps));
    s->n = n;
    for (i = 0; i < n; i++) {
        s->ps[i].code = xasprintf("p%zu", i);
        s->ps[i].rir = MPIC_RIR_ARIN;
        mpic_strv_init(&s->ps[i].too_close_codes);
    }
}

/* rirs: one letter per perspective, A R P L F (ARIN, RIPE, APNIC, ...). */
static void pset_init_rirs(struct pset *s, const char *rirs)
{
    size_t i;

    pset_init(s, strlen(rirs));
    for (i = 0; i < s->n; i++) {
        switch (rirs[i]) {
        case 'R':
            s->ps[i].rir = MPIC_RIR_RIPE_NCC;
            break;
        case 'P':
            s->ps[i].rir = MPIC_RIR_APNIC;
            break;
        case 'L':
            s->ps[i].rir = MPIC_RIR_LACNIC;
            break;
        case 'F':
            s->ps[i].rir = MPIC_RIR_AFRINIC;
            break;
        default:
            s->ps[i].rir = MPIC_RIR_ARIN;
            break;
        }
    }
}

/* Only a lists b: too-closeness must still be symmetric. */
static void pset_close(struct pset *s, size_t a, size_t b)
{
    mpic_strv_push(&s->ps[a].too_close_codes, s->ps[b].code);
}

static void pset_cleanup(struct pset *s)
{
    size_t i;

    for (i = 0; i < s->n; i++) {
        free(s->ps[i].code);
        mpic_strv_cleanup(&s->ps[i].too_close_codes);
    }
    free(s->ps);
    memset(s, 0, sizeof(*s));
}

static bool close_pair(const struct pset *s, size_t a, size_t b)
{
    return mpic_perspectives_too_close(&s->ps[a], &s->ps[b]);
}

/* The rules a cohort of size k must meet (strict for k > 2). */
static bool cohort_ok(const struct pset *s, const size_t *m, size_t k)
{
    bool diverse = false;
    size_t i;
    size_t j;

    if (k == 2) {
        return true;
    }
    for (i = 0; i < k; i++) {
        if (s->ps[m[i]].rir != s->ps[m[0]].rir) {
            diverse = true;
        }
        for (j = i + 1; j < k; j++) {
            if (close_pair(s, m[i], m[j])) {
                return false;
            }
        }
    }
    return diverse;
}

static bool mask_ok(const struct pset *s, unsigned mask, size_t k)
{
    size_t m[32];
    size_t cnt = 0;
    size_t i;

    for (i = 0; i < s->n; i++) {
        if (mask & (1u << i)) {
            m[cnt++] = i;
        }
    }
    return cnt == k && cohort_ok(s, m, k);
}

/* Maximum number of disjoint valid cohorts, by DP over subsets (n <= 12). */
static size_t brute_max_cohorts(const struct pset *s, size_t k)
{
    size_t full = (size_t)1 << s->n;
    unsigned char *best = xcalloc(full, 1);
    unsigned *valid = xcalloc(full, sizeof(*valid));
    size_t n_valid = 0;
    size_t S;
    size_t i;
    size_t res;

    for (S = 0; S < full; S++) {
        if ((size_t)__builtin_popcount((unsigned)S) == k &&
            mask_ok(s, (unsigned)S, k)) {
            valid[n_valid++] = (unsigned)S;
        }
    }
    for (S = 1; S < full; S++) {
        size_t low = S & (~S + 1);
        unsigned char b = best[S & ~low];

        for (i = 0; i < n_valid; i++) {
            if ((valid[i] & low) && (valid[i] & ~S) == 0 &&
                best[S & ~(size_t)valid[i]] + 1 > b) {
                b = (unsigned char)(best[S & ~(size_t)valid[i]] + 1);
            }
        }
        best[S] = b;
    }
    res = best[full - 1];
    free(best);
    free(valid);
    return res;
}

static bool brute_any_cohort(const struct pset *s, size_t k)
{
    size_t full = (size_t)1 << s->n;
    size_t S;

    for (S = 0; S < full; S++) {
        if ((size_t)__builtin_popcount((unsigned)S) == k &&
            mask_ok(s, (unsigned)S, k)) {
            return true;
        }
    }
    return false;
}

/* Sizes, ranges, disjointness and per-cohort rules of a result. */
static void assert_cohorts_sound(const struct pset *s,
                                 const struct mpic_cohorts *c, size_t k)
{
    bool *seen = xcalloc(s->n, sizeof(*seen));
    size_t i;
    size_t j;

    assert_int_equal(c->size, k);
    assert_true(c->n_cohorts >= 1);
    assert_true(c->n_cohorts * k <= s->n);
    for (i = 0; i < c->n_cohorts; i++) {
        const size_t *m = mpic_cohorts_at(c, i);

        for (j = 0; j < k; j++) {
            assert_true(m[j] < s->n);
            assert_false(seen[m[j]]);
            seen[m[j]] = true;
        }
        assert_true(cohort_ok(s, m, k));
    }
    free(seen);
}

static enum mpic_err build(const struct pset *s, size_t k, const char *secret,
                           const char *target, struct mpic_cohorts *c)
{
    char *why = NULL;
    enum mpic_err rc =
        mpic_cohorts_build(s->ps, s->n, k, secret, target, c, &why);

    if (rc == MPIC_OK) {
        assert_null(why);
    } else {
        assert_non_null(why);
        assert_true(strlen(why) > 0);
    }
    free(why);
    return rc;
}

/* Codes of cohort i, sorted and joined, to compare across inputs. */
static char *cohort_key(const struct pset *s, const struct mpic_cohorts *c,
                        size_t i)
{
    const size_t *m = mpic_cohorts_at(c, i);
    char *key = xstrdup("");
    bool *taken = xcalloc(c->size, sizeof(*taken));
    size_t round;
    size_t j;

    for (round = 0; round < c->size; round++) {
        size_t pick = SIZE_MAX;
        char *next;

        for (j = 0; j < c->size; j++) {
            if (!taken[j] &&
                (pick == SIZE_MAX ||
                 strcmp(s->ps[m[j]].code, s->ps[m[pick]].code) < 0)) {
                pick = j;
            }
        }
        taken[pick] = true;
        next = xasprintf("%s%s,", key, s->ps[m[pick]].code);
        free(key);
        key = next;
    }
    free(taken);
    return key;
}

static const char DIVERSE12[] = "ARPLFARPLFAR";

static void test_build_is_deterministic(void **state)
{
    struct pset s;
    struct mpic_cohorts a;
    struct mpic_cohorts b;

    (void)state;
    pset_init_rirs(&s, DIVERSE12);
    pset_close(&s, 0, 1);
    pset_close(&s, 5, 2);
    assert_int_equal(build(&s, 3, "secret", "example.com", &a), MPIC_OK);
    assert_int_equal(build(&s, 3, "secret", "example.com", &b), MPIC_OK);
    assert_int_equal(a.n_cohorts, 4);
    assert_int_equal(a.n_cohorts, b.n_cohorts);
    assert_memory_equal(a.members, b.members,
                        a.n_cohorts * a.size * sizeof(size_t));
    mpic_cohorts_cleanup(&a);
    mpic_cohorts_cleanup(&b);
    pset_cleanup(&s);
}

/* The ranking keys on codes, so reordering the input changes nothing. */
static void test_build_ignores_input_order(void **state)
{
    struct pset s;
    struct pset r;
    struct mpic_cohorts a;
    struct mpic_cohorts b;
    size_t i;

    (void)state;
    pset_init_rirs(&s, DIVERSE12);
    pset_init_rirs(&r, DIVERSE12);
    for (i = 0; i < r.n / 2; i++) {
        struct mpic_perspective tmp = r.ps[i];

        r.ps[i] = r.ps[r.n - 1 - i];
        r.ps[r.n - 1 - i] = tmp;
    }
    assert_string_equal(r.ps[0].code, "p11");
    assert_int_equal(build(&s, 4, "k", "a.example", &a), MPIC_OK);
    assert_int_equal(build(&r, 4, "k", "a.example", &b), MPIC_OK);
    assert_int_equal(a.n_cohorts, b.n_cohorts);
    for (i = 0; i < a.n_cohorts; i++) {
        char *ka = cohort_key(&s, &a, i);
        char *kb = cohort_key(&r, &b, i);

        assert_string_equal(ka, kb);
        free(ka);
        free(kb);
    }
    mpic_cohorts_cleanup(&a);
    mpic_cohorts_cleanup(&b);
    pset_cleanup(&s);
    pset_cleanup(&r);
}

/* Pins the ranking: HMAC-SHA256(secret, target || 0x00 || code). With no
 * constraint in the way, cohort i is ranks i*k .. i*k+k-1. */
static void test_build_follows_hmac_ranking(void **state)
{
    static const char *secret = "s3cret";
    static const char *target = "www.example.org";
    struct pset s;
    struct mpic_cohorts c;
    unsigned char mac[6][32];
    size_t order[6];
    size_t i;
    size_t j;

    (void)state;
    pset_init_rirs(&s, "ARPLFA");
    for (i = 0; i < s.n; i++) {
        unsigned char msg[64];
        size_t tl = strlen(target);
        size_t cl = strlen(s.ps[i].code);
        unsigned int ml = 0;

        memcpy(msg, target, tl);
        msg[tl] = 0;
        memcpy(msg + tl + 1, s.ps[i].code, cl);
        assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret), msg,
                             tl + 1 + cl, mac[i], &ml));
        assert_int_equal(ml, 32);
        order[i] = i;
    }
    for (i = 0; i < s.n; i++) {
        for (j = i + 1; j < s.n; j++) {
            if (memcmp(mac[order[j]], mac[order[i]], 32) < 0) {
                size_t t = order[i];

                order[i] = order[j];
                order[j] = t;
            }
        }
    }
    /* One ARIN pair may share a cohort: both hold another RIR too. */
    assert_int_equal(build(&s, 3, secret, target, &c), MPIC_OK);
    assert_int_equal(c.n_cohorts, 2);
    for (i = 0; i < 6; i++) {
        assert_int_equal(c.members[i], order[i]);
    }
    mpic_cohorts_cleanup(&c);
    pset_cleanup(&s);
}

static void test_build_other_secret_changes_first_cohort(void **state)
{
    struct pset s;
    size_t differ = 0;
    size_t t;

    (void)state;
    pset_init_rirs(&s, DIVERSE12);
    for (t = 0; t < 200; t++) {
        char target[64];
        struct mpic_cohorts a;
        struct mpic_cohorts b;
        char *ka;
        char *kb;

        snprintf(target, sizeof(target), "host%zu.example.net", t);
        assert_int_equal(build(&s, 3, "secret-one", target, &a), MPIC_OK);
        assert_int_equal(build(&s, 3, "secret-two", target, &b), MPIC_OK);
        ka = cohort_key(&s, &a, 0);
        kb = cohort_key(&s, &b, 0);
        differ += strcmp(ka, kb) != 0 ? 1 : 0;
        free(ka);
        free(kb);
        mpic_cohorts_cleanup(&a);
        mpic_cohorts_cleanup(&b);
    }
    /* 220 possible triples: a chance match is rare. */
    assert_true(differ >= 180);
    pset_cleanup(&s);
}

static void test_build_depends_on_target(void **state)
{
    struct pset s;
    size_t differ = 0;
    size_t t;
    struct mpic_cohorts a;
    struct mpic_cohorts b;

    (void)state;
    pset_init_rirs(&s, DIVERSE12);
    for (t = 0; t < 200; t++) {
        char t1[64];
        char t2[64];
        char *ka;
        char *kb;

        snprintf(t1, sizeof(t1), "site%zu.example", t);
        snprintf(t2, sizeof(t2), "site%zu.example", t + 1000);
        assert_int_equal(build(&s, 3, "k", t1, &a), MPIC_OK);
        assert_int_equal(build(&s, 3, "k", t2, &b), MPIC_OK);
        ka = cohort_key(&s, &a, 0);
        kb = cohort_key(&s, &b, 0);
        differ += strcmp(ka, kb) != 0 ? 1 : 0;
        free(ka);
        free(kb);
        mpic_cohorts_cleanup(&a);
        mpic_cohorts_cleanup(&b);
    }
    assert_true(differ >= 180);

    /* The target is case-insensitive. */
    assert_int_equal(build(&s, 3, "k", "Example.COM", &a), MPIC_OK);
    assert_int_equal(build(&s, 3, "k", "example.com", &b), MPIC_OK);
    assert_memory_equal(a.members, b.members,
                        a.n_cohorts * a.size * sizeof(size_t));
    mpic_cohorts_cleanup(&a);
    mpic_cohorts_cleanup(&b);
    pset_cleanup(&s);
}

/* Every cohort order is reachable: the first cohort is not fixed. */
static void test_build_first_cohort_varies(void **state)
{
    struct pset s;
    bool seen_member[12] = {false};
    size_t t;
    size_t i;

    (void)state;
    pset_init_rirs(&s, DIVERSE12);
    for (t = 0; t < 100; t++) {
        char target[32];
        struct mpic_cohorts c;

        snprintf(target, sizeof(target), "n%zu.example", t);
        assert_int_equal(build(&s, 3, "k", target, &c), MPIC_OK);
        for (i = 0; i < 3; i++) {
            seen_member[c.members[i]] = true;
        }
        mpic_cohorts_cleanup(&c);
    }
    for (i = 0; i < 12; i++) {
        assert_true(seen_member[i]);
    }
    pset_cleanup(&s);
}

static void random_config(struct pset *s, size_t max_n)
{
    static const double close_p[] = {0.0, 0.1, 0.3, 0.6};
    size_t n = 2 + rng_below(max_n - 1);
    size_t n_rirs = 1 + rng_below(MPIC_RIR_COUNT);
    bool skewed = rng_below(2) == 0;
    double p = close_p[rng_below(4)];
    size_t i;
    size_t j;

    pset_init(s, n);
    for (i = 0; i < n; i++) {
        /* Skewed: most perspectives in ARIN, like many real deployments. */
        if (skewed && rng_below(4) != 0) {
            s->ps[i].rir = MPIC_RIR_ARIN;
        } else {
            s->ps[i].rir = (enum mpic_rir)rng_below(n_rirs);
        }
    }
    for (i = 0; i < n; i++) {
        for (j = i + 1; j < n; j++) {
            if ((double)(rng_next() >> 11) / 9007199254740992.0 < p) {
                if (rng_below(2) == 0) {
                    pset_close(s, i, j);
                } else {
                    pset_close(s, j, i);
                }
            }
        }
    }
}

/* Constraints, disjointness, and the maximum number of cohorts, checked
 * against brute force over 1500 random small configurations. */
static void test_build_random_configs_are_optimal_and_sound(void **state)
{
    size_t iter;
    size_t n_ok = 0;
    size_t n_none = 0;

    (void)state;
    rng_state = 0x243f6a8885a308d3ULL;
    for (iter = 0; iter < 1500; iter++) {
        struct pset s;
        struct mpic_cohorts c;
        char secret[32];
        char target[32];
        size_t k;
        size_t expect;
        enum mpic_err rc;

        random_config(&s, 10);
        k = 2 + rng_below(s.n - 1);
        snprintf(secret, sizeof(secret), "s%zu", iter);
        snprintf(target, sizeof(target), "t%zu.example", iter);
        expect = k == 2 ? s.n / 2 : brute_max_cohorts(&s, k);
        rc = build(&s, k, secret, target, &c);
        if (expect == 0) {
            assert_int_equal(rc, MPIC_ERR_NOTFOUND);
            assert_int_equal(c.n_cohorts, 0);
            assert_null(c.members);
            n_none++;
        } else {
            assert_int_equal(rc, MPIC_OK);
            assert_cohorts_sound(&s, &c, k);
            assert_int_equal(c.n_cohorts, expect);
            n_ok++;
        }
        mpic_cohorts_cleanup(&c);
        pset_cleanup(&s);
    }
    /* The generator must exercise both outcomes. */
    assert_true(n_ok > 300);
    assert_true(n_none > 100);
}

/* Larger configurations: sound, and a cohort whenever one exists. */
static void test_build_random_large_configs_find_a_cohort(void **state)
{
    size_t iter;

    (void)state;
    rng_state = 0x13198a2e03707344ULL;
    for (iter = 0; iter < 400; iter++) {
        struct pset s;
        struct mpic_cohorts c;
        size_t k;
        bool exists;
        enum mpic_err rc;

        random_config(&s, 16);
        k = 3 + rng_below(4);
        if (k > s.n) {
            k = s.n;
        }
        exists = k >= 3 ? brute_any_cohort(&s, k) : true;
        rc = build(&s, k, "secret", "big.example", &c);
        if (exists) {
            assert_int_equal(rc, MPIC_OK);
            assert_cohorts_sound(&s, &c, k);
        } else {
            assert_int_equal(rc, MPIC_ERR_NOTFOUND);
        }
        mpic_cohorts_cleanup(&c);
        pset_cleanup(&s);
    }
}

/* Four ARIN and two RIPE NCC with size 3: only {A,A,R} x 2 works, whatever
 * the hash order; greedy alone could take both RIPE NCC in one cohort. */
static void test_build_avoids_greedy_trap(void **state)
{
    struct pset s;
    size_t t;

    (void)state;
    pset_init_rirs(&s, "AAAARR");
    for (t = 0; t < 100; t++) {
        char secret[32];
        struct mpic_cohorts c;

        snprintf(secret, sizeof(secret), "secret-%zu", t);
        assert_int_equal(build(&s, 3, secret, "trap.example", &c), MPIC_OK);
        assert_int_equal(c.n_cohorts, 2);
        assert_cohorts_sound(&s, &c, 3);
        mpic_cohorts_cleanup(&c);
    }
    pset_cleanup(&s);
}

static void test_build_leaves_leftovers_unused(void **state)
{
    struct pset s;
    struct mpic_cohorts c;

    (void)state;
    pset_init_rirs(&s, "ARPLFAR");
    assert_int_equal(build(&s, 3, "k", "x.example", &c), MPIC_OK);
    assert_int_equal(c.n_cohorts, 2);
    assert_cohorts_sound(&s, &c, 3);
    mpic_cohorts_cleanup(&c);
    /* A cohort of all of them. */
    assert_int_equal(build(&s, 7, "k", "x.example", &c), MPIC_OK);
    assert_int_equal(c.n_cohorts, 1);
    assert_cohorts_sound(&s, &c, 7);
    mpic_cohorts_cleanup(&c);
    pset_cleanup(&s);
}

static void test_build_size_two_accepts_same_rir(void **state)
{
    struct pset s;
    struct mpic_cohorts c;

    (void)state;
    pset_init_rirs(&s, "AAAAA");
    pset_close(&s, 0, 1);
    pset_close(&s, 2, 3);
    pset_close(&s, 1, 2);
    pset_close(&s, 3, 0);
    assert_int_equal(build(&s, 2, "k", "x.example", &c), MPIC_OK);
    assert_int_equal(c.n_cohorts, 2);
    assert_cohorts_sound(&s, &c, 2);
    mpic_cohorts_cleanup(&c);
    pset_cleanup(&s);
}

static size_t count_diverse_pairs(const struct pset *s,
                                  const struct mpic_cohorts *c)
{
    size_t n = 0;
    size_t i;

    for (i = 0; i < c->n_cohorts; i++) {
        const size_t *m = mpic_cohorts_at(c, i);

        if (s->ps[m[0]].rir != s->ps[m[1]].rir && !close_pair(s, m[0], m[1])) {
            n++;
        }
    }
    return n;
}

/* Size 2 prefers pairs with two RIRs and no too-close pair. */
static void test_build_size_two_prefers_diverse_pairs(void **state)
{
    struct pset s;
    size_t t;

    (void)state;
    pset_init_rirs(&s, "AARR");
    for (t = 0; t < 50; t++) {
        char target[32];
        struct mpic_cohorts c;

        snprintf(target, sizeof(target), "d%zu.example", t);
        assert_int_equal(build(&s, 2, "k", target, &c), MPIC_OK);
        assert_int_equal(c.n_cohorts, 2);
        assert_int_equal(count_diverse_pairs(&s, &c), 2);
        mpic_cohorts_cleanup(&c);
    }
    pset_cleanup(&s);

    /* Same RIR everywhere: avoid the too-close pairs when possible. */
    pset_init_rirs(&s, "AAAA");
    pset_close(&s, 0, 1);
    pset_close(&s, 2, 3);
    for (t = 0; t < 50; t++) {
        char target[32];
        struct mpic_cohorts c;
        size_t i;

        snprintf(target, sizeof(target), "f%zu.example", t);
        assert_int_equal(build(&s, 2, "k", target, &c), MPIC_OK);
        assert_int_equal(c.n_cohorts, 2);
        for (i = 0; i < 2; i++) {
            const size_t *m = mpic_cohorts_at(&c, i);

            assert_false(close_pair(&s, m[0], m[1]));
        }
        mpic_cohorts_cleanup(&c);
    }
    pset_cleanup(&s);
}

static void test_build_single_rir_fails_with_reason(void **state)
{
    struct pset s;
    struct mpic_cohorts c;
    char *why = NULL;

    (void)state;
    pset_init_rirs(&s, "AAAAAA");
    memset(&c, 0xff, sizeof(c));
    assert_int_equal(
        mpic_cohorts_build(s.ps, s.n, 3, "k", "x.example", &c, &why),
        MPIC_ERR_NOTFOUND);
    assert_non_null(why);
    assert_non_null(strstr(why, "RIR"));
    assert_int_equal(c.n_cohorts, 0);
    assert_null(c.members);
    free(why);
    mpic_cohorts_cleanup(&c);
    pset_cleanup(&s);
}

static void test_build_too_close_everywhere_fails(void **state)
{
    struct pset s;
    struct mpic_cohorts c;
    char *why = NULL;

    (void)state;
    pset_init_rirs(&s, "ARAR");
    pset_close(&s, 0, 1);
    pset_close(&s, 2, 1);
    pset_close(&s, 3, 0);
    pset_close(&s, 2, 3);
    assert_int_equal(
        mpic_cohorts_build(s.ps, s.n, 3, "k", "x.example", &c, &why),
        MPIC_ERR_NOTFOUND);
    assert_non_null(why);
    assert_non_null(strstr(why, "too-close"));
    free(why);
    pset_cleanup(&s);
}

static void test_build_rejects_bad_arguments(void **state)
{
    struct pset s;
    struct mpic_cohorts c;
    char *why = NULL;

    (void)state;
    pset_init_rirs(&s, "ARP");
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 1, "k", "x", &c, &why),
                     MPIC_ERR_INVALID);
    assert_non_null(why);
    free(why);
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 0, "k", "x", &c, &why),
                     MPIC_ERR_INVALID);
    free(why);
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 3, NULL, "x", &c, &why),
                     MPIC_ERR_INVALID);
    assert_non_null(strstr(why, "hash_secret"));
    free(why);
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 3, "", "x", &c, &why),
                     MPIC_ERR_INVALID);
    free(why);
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 3, "k", NULL, &c, &why),
                     MPIC_ERR_INVALID);
    free(why);
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 4, "k", "x", &c, &why),
                     MPIC_ERR_NOTFOUND);
    assert_non_null(strstr(why, "exceeds"));
    free(why);
    assert_int_equal(mpic_cohorts_build(NULL, 0, 2, "k", "x", &c, &why),
                     MPIC_ERR_NOTFOUND);
    free(why);
    /* No place for the result, or a count of perspectives without them. */
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 3, "k", "x", NULL, &why),
                     MPIC_ERR_INVALID);
    assert_non_null(strstr(why, "no output"));
    free(why);
    assert_int_equal(mpic_cohorts_build(NULL, 3, 2, "k", "x", &c, &why),
                     MPIC_ERR_INVALID);
    assert_non_null(strstr(why, "no perspectives"));
    free(why);
    /* why is optional. */
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 1, "k", "x", &c, NULL),
                     MPIC_ERR_INVALID);
    assert_int_equal(mpic_cohorts_build(s.ps, s.n, 3, "k", "x", &c, NULL),
                     MPIC_OK);
    mpic_cohorts_cleanup(&c);
    pset_cleanup(&s);
}

/* A big configuration finishes (bounded search) and stays sound. */
static void test_build_large_config_is_bounded(void **state)
{
    struct pset s;
    struct mpic_cohorts c;
    size_t i;

    (void)state;
    rng_state = 0xa4093822299f31d0ULL;
    pset_init(&s, 60);
    for (i = 0; i < s.n; i++) {
        s.ps[i].rir = i % 7 == 0 ? MPIC_RIR_RIPE_NCC : MPIC_RIR_ARIN;
    }
    for (i = 0; i < 300; i++) {
        size_t a = rng_below(s.n);
        size_t b = rng_below(s.n);

        if (a != b) {
            pset_close(&s, a, b);
        }
    }
    assert_int_equal(build(&s, 5, "k", "big.example", &c), MPIC_OK);
    assert_cohorts_sound(&s, &c, 5);
    /* 9 RIPE NCC perspectives: at most 9 cohorts. */
    assert_true(c.n_cohorts <= 9);
    mpic_cohorts_cleanup(&c);
    pset_cleanup(&s);

    /* Size 2 pairs everyone even when nearly every pair is too close. */
    pset_init(&s, 100);
    for (i = 0; i < s.n; i++) {
        size_t j;

        s.ps[i].rir = (enum mpic_rir)(i % 2);
        for (j = i + 1; j < s.n; j++) {
            if (rng_below(10) != 0) {
                pset_close(&s, i, j);
            }
        }
    }
    assert_int_equal(build(&s, 2, "k", "pairs.example", &c), MPIC_OK);
    assert_int_equal(c.n_cohorts, 50);
    assert_cohorts_sound(&s, &c, 2);
    mpic_cohorts_cleanup(&c);
    pset_cleanup(&s);
}

static void test_too_close_is_symmetric_and_case_insensitive(void **state)
{
    struct pset s;

    (void)state;
    pset_init_rirs(&s, "ARP");
    mpic_strv_push(&s.ps[0].too_close_codes, "P1");
    assert_true(mpic_perspectives_too_close(&s.ps[0], &s.ps[1]));
    assert_true(mpic_perspectives_too_close(&s.ps[1], &s.ps[0]));
    assert_false(mpic_perspectives_too_close(&s.ps[0], &s.ps[2]));
    assert_false(mpic_perspectives_too_close(&s.ps[1], &s.ps[2]));
    assert_false(mpic_perspectives_too_close(NULL, &s.ps[2]));
    pset_cleanup(&s);
}

static void test_cohorts_cleanup_is_null_safe(void **state)
{
    struct mpic_cohorts c;

    (void)state;
    memset(&c, 0, sizeof(c));
    mpic_cohorts_cleanup(&c);
    mpic_cohorts_cleanup(NULL);
    assert_int_equal(c.n_cohorts, 0);
}

static void test_quorum_default(void **state)
{
    (void)state;
    assert_int_equal(mpic_quorum_default(2), 1);
    assert_int_equal(mpic_quorum_default(3), 2);
    assert_int_equal(mpic_quorum_default(4), 3);
    assert_int_equal(mpic_quorum_default(5), 4);
    assert_int_equal(mpic_quorum_default(6), 4);
    assert_int_equal(mpic_quorum_default(7), 5);
    assert_int_equal(mpic_quorum_default(10), 8);
    assert_int_equal(mpic_quorum_default(1), 1);
    assert_int_equal(mpic_quorum_default(0), 0);
}

/* Every boundary for n = 2..10, including 0, negatives and n+1. */
static void test_quorum_valid_boundaries(void **state)
{
    size_t n;
    long q;

    (void)state;
    for (n = 2; n <= 10; n++) {
        long lo = n <= 5 ? (long)n - 1 : (long)n - 2;

        for (q = -3; q <= (long)n + 3; q++) {
            bool expect = q >= lo && q <= (long)n;

            assert_int_equal(mpic_quorum_valid(n, q), expect);
        }
        assert_true(mpic_quorum_valid(n, mpic_quorum_default(n)));
        assert_false(mpic_quorum_valid(n, LONG_MIN));
        assert_false(mpic_quorum_valid(n, LONG_MAX));
    }
    assert_true(mpic_quorum_valid(2, 1));
    assert_false(mpic_quorum_valid(2, 0));
    assert_false(mpic_quorum_valid(5, 3));
    assert_true(mpic_quorum_valid(6, 4));
    assert_false(mpic_quorum_valid(6, 3));
    assert_false(mpic_quorum_valid(1, 0));
    assert_false(mpic_quorum_valid(0, 0));
}

static void test_perspective_count_bounds(void **state)
{
    (void)state;
    assert_false(mpic_perspective_count_valid(1, 5));
    assert_true(mpic_perspective_count_valid(2, 5));
    assert_true(mpic_perspective_count_valid(5, 5));
    assert_false(mpic_perspective_count_valid(6, 5));
    assert_false(mpic_perspective_count_valid(0, 5));
    assert_false(mpic_perspective_count_valid(-1, 5));
    assert_false(mpic_perspective_count_valid(LONG_MIN, 5));
    assert_false(mpic_perspective_count_valid(LONG_MAX, 5));
    assert_false(mpic_perspective_count_valid(2, 1));
    assert_false(mpic_perspective_count_valid(2, 0));
}

static void test_max_attempts_and_cohort_number_bounds(void **state)
{
    (void)state;
    assert_false(mpic_max_attempts_valid(0));
    assert_false(mpic_max_attempts_valid(-1));
    assert_true(mpic_max_attempts_valid(1));
    assert_true(mpic_max_attempts_valid(100));
    assert_false(mpic_cohort_number_valid(0, 3));
    assert_false(mpic_cohort_number_valid(-2, 3));
    assert_true(mpic_cohort_number_valid(1, 3));
    assert_true(mpic_cohort_number_valid(3, 3));
    assert_false(mpic_cohort_number_valid(4, 3));
    assert_false(mpic_cohort_number_valid(1, 0));
}

static void test_attempt_valid_quorum_and_two_rirs(void **state)
{
    enum mpic_rir same[] = {MPIC_RIR_ARIN, MPIC_RIR_ARIN, MPIC_RIR_ARIN};
    enum mpic_rir mixed[] = {MPIC_RIR_ARIN, MPIC_RIR_RIPE_NCC, MPIC_RIR_ARIN};
    enum mpic_rir bogus[] = {MPIC_RIR_ARIN, (enum mpic_rir)99};

    (void)state;
    /* Cohort of 3, quorum 2. */
    assert_true(mpic_attempt_valid(mixed, 2, 3, 2));
    assert_false(mpic_attempt_valid(same, 2, 3, 2));
    assert_false(mpic_attempt_valid(same, 3, 3, 2));
    assert_false(mpic_attempt_valid(mixed, 1, 3, 2));
    assert_true(mpic_attempt_valid(mixed, 3, 3, 2));
    /* Unknown RIR values never count toward diversity. */
    assert_false(mpic_attempt_valid(bogus, 2, 3, 2));
    /* Cohort of 2: no RIR rule. */
    assert_true(mpic_attempt_valid(same, 1, 2, 1));
    assert_true(mpic_attempt_valid(same, 2, 2, 2));
    assert_false(mpic_attempt_valid(same, 1, 2, 2));
    assert_false(mpic_attempt_valid(same, 0, 2, 1));
    /* Quorum 0 never corroborates. */
    assert_false(mpic_attempt_valid(NULL, 0, 2, 0));
    assert_false(mpic_attempt_valid(mixed, 3, 3, 0));
    /* Passes without their RIRs cannot show two RIRs: refused. */
    assert_false(mpic_attempt_valid(NULL, 3, 3, 2));
    /* Cohort of 6, quorum 4. */
    {
        enum mpic_rir six[] = {MPIC_RIR_ARIN, MPIC_RIR_ARIN, MPIC_RIR_ARIN,
                               MPIC_RIR_APNIC};

        assert_true(mpic_attempt_valid(six, 4, 6, 4));
        assert_false(mpic_attempt_valid(six, 3, 6, 4));
        assert_false(mpic_attempt_valid(same, 3, 6, 3));
    }
}

static void test_completed_boundaries(void **state)
{
    (void)state;
    assert_true(mpic_completed(0, 3, 2));
    assert_true(mpic_completed(1, 3, 2));
    assert_false(mpic_completed(2, 3, 2));
    assert_true(mpic_completed(2, 6, 4));
    assert_false(mpic_completed(3, 6, 4));
    assert_true(mpic_completed(0, 3, 3));
    assert_false(mpic_completed(1, 3, 3));
    assert_false(mpic_completed(0, 3, 4));
}

static void test_attempt_cohort_cycles(void **state)
{
    (void)state;
    assert_int_equal(mpic_attempt_cohort(0, 3), 0);
    assert_int_equal(mpic_attempt_cohort(1, 3), 1);
    assert_int_equal(mpic_attempt_cohort(2, 3), 2);
    assert_int_equal(mpic_attempt_cohort(3, 3), 0);
    assert_int_equal(mpic_attempt_cohort(4, 3), 1);
    assert_int_equal(mpic_attempt_cohort(5, 1), 0);
    assert_int_equal(mpic_attempt_cohort(7, 0), 0);
}

static void test_effective_max_attempts(void **state)
{
    (void)state;
    assert_int_equal(mpic_effective_max_attempts(-1, 3), 1);
    assert_int_equal(mpic_effective_max_attempts(1, 3), 1);
    assert_int_equal(mpic_effective_max_attempts(2, 3), 2);
    assert_int_equal(mpic_effective_max_attempts(3, 3), 3);
    assert_int_equal(mpic_effective_max_attempts(4, 3), 3);
    assert_int_equal(mpic_effective_max_attempts(LONG_MAX, 3), 3);
    assert_int_equal(mpic_effective_max_attempts(0, 3), 1);
    assert_int_equal(mpic_effective_max_attempts(-7, 3), 1);
    assert_int_equal(mpic_effective_max_attempts(5, 0), 1);
    assert_int_equal(mpic_effective_max_attempts(-1, -1), 1);
    assert_int_equal(mpic_effective_max_attempts(10, 10), 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_build_is_deterministic),
        cmocka_unit_test(test_build_ignores_input_order),
        cmocka_unit_test(test_build_follows_hmac_ranking),
        cmocka_unit_test(test_build_other_secret_changes_first_cohort),
        cmocka_unit_test(test_build_depends_on_target),
        cmocka_unit_test(test_build_first_cohort_varies),
        cmocka_unit_test(test_build_random_configs_are_optimal_and_sound),
        cmocka_unit_test(test_build_random_large_configs_find_a_cohort),
        cmocka_unit_test(test_build_avoids_greedy_trap),
        cmocka_unit_test(test_build_leaves_leftovers_unused),
        cmocka_unit_test(test_build_size_two_accepts_same_rir),
        cmocka_unit_test(test_build_size_two_prefers_diverse_pairs),
        cmocka_unit_test(test_build_single_rir_fails_with_reason),
        cmocka_unit_test(test_build_too_close_everywhere_fails),
        cmocka_unit_test(test_build_rejects_bad_arguments),
        cmocka_unit_test(test_build_large_config_is_bounded),
        cmocka_unit_test(test_too_close_is_symmetric_and_case_insensitive),
        cmocka_unit_test(test_cohorts_cleanup_is_null_safe),
        cmocka_unit_test(test_quorum_default),
        cmocka_unit_test(test_quorum_valid_boundaries),
        cmocka_unit_test(test_perspective_count_bounds),
        cmocka_unit_test(test_max_attempts_and_cohort_number_bounds),
        cmocka_unit_test(test_attempt_valid_quorum_and_two_rirs),
        cmocka_unit_test(test_completed_boundaries),
        cmocka_unit_test(test_attempt_cohort_cycles),
        cmocka_unit_test(test_effective_max_attempts),
    };

    return cmocka_run_group_tests_name("cohort", tests, NULL, NULL);
}
