/*
 * Cohort selection (Open MPIC API section 3). Perspectives are ranked by
 * HMAC-SHA256(hash_secret, target || 0x00 || code); all later choices walk
 * that ranking, so the result is a pure function of (secret, target,
 * perspectives, size) and unpredictable without the secret.
 *
 * Cohorts are placed by a bounded depth-first search over ranks. A cohort's
 * members are listed in rank order, and cohorts in order of their first
 * member, so the first solution found is the lexicographically smallest in
 * keyed-hash order. We first place cohorts greedily (each one the first valid
 * cohort among the ranks still free, skipping any candidate after which RIR
 * diversity could no longer be reached), then search for a partition with
 * more cohorts than greedy found, since greedy can strand perspectives (say
 * four ARIN and two RIPE NCC with size 3). Every search has a node budget, so
 * a hostile or huge configuration costs bounded time; hitting the budget only
 * means fewer cohorts, never an invalid one.
 *
 * This file knows nothing of requests, attempts or I/O; the quorum rules at
 * the end are pure arithmetic for the coordinator.
 */
#include "coordinator/cohort.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/strv.h"

#define COHORT_MAC_LEN 32

/* Node budgets: a greedy cohort, one search for K cohorts, one phase
 * (constraint level) of a call. */
#define COHORT_GREEDY_BUDGET 50000L
#define COHORT_SEARCH_BUDGET 100000L
#define COHORT_TOTAL_BUDGET  400000L

enum place_result {
    PLACE_NONE = 0, /* no placement exists (search was exhaustive) */
    PLACE_FOUND,
    PLACE_GAVE_UP, /* node budget exhausted */
};

struct rank_ent {
    unsigned char mac[COHORT_MAC_LEN];
    size_t idx;
};

/* Search state; every array is indexed by rank, not by input index. */
struct builder {
    size_t n;             /* perspectives */
    size_t k;             /* cohort size */
    size_t *idx;          /* idx[rank]: index into the input array */
    enum mpic_rir *rir;   /* rir[rank] */
    unsigned char *close; /* close[a * n + b]: too close (symmetric) */
    bool *used;           /* rank taken by a placed cohort */
    size_t *sel;          /* placed cohorts, k ranks each */
    size_t n_placed;      /* cohorts in sel */
    bool need_div;        /* cohort must span >= 2 RIRs */
    bool need_far;        /* no too-close pair in a cohort */
    size_t want;          /* cohorts the current search must place */
    size_t leftovers_max; /* free ranks the current search may skip */
    long budget;          /* nodes left for the current search */
    long total;           /* nodes left for the current phase */
    bool gave_up;         /* some search hit its budget */
};

/* xmemdup() typed for arrays (malloc alignment suits any element type). */
static void *dup_bytes(const void *p, size_t n)
{
    return xmemdup(p, n);
}

static int rank_cmp(const void *a, const void *b)
{
    const struct rank_ent *x = a;
    const struct rank_ent *y = b;
    int c = memcmp(x->mac, y->mac, COHORT_MAC_LEN);

    if (c != 0) {
        return c;
    }
    return (x->idx > y->idx) - (x->idx < y->idx);
}

bool mpic_perspectives_too_close(const struct mpic_perspective *a,
                                 const struct mpic_perspective *b)
{
    if (a == NULL || b == NULL || a->code == NULL || b->code == NULL) {
        return false;
    }
    return mpic_strv_contains_icase(&a->too_close_codes, b->code) ||
           mpic_strv_contains_icase(&b->too_close_codes, a->code);
}

/*
 * HMAC, fetched from the default provider once per process: a fetch per call
 * (what the one-shot HMAC() does) costs more than the MACs themselves.
 */
static EVP_MAC *hmac_alg;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void hmac_fetch(void)
{
    hmac_alg = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

/*
 * Ranks the perspectives by keyed hash. The NUL separator keeps (target,
 * code) pairs from colliding ("a" + "bc" vs "ab" + "c"); neither may contain
 * a NUL. The key is set once; each MAC re-initialises the context with it.
 */
static enum mpic_err rank_perspectives(const struct mpic_perspective *ps,
                                       size_t n_ps, const char *secret,
                                       const char *target, size_t *idx)
{
    enum mpic_err rc = MPIC_ERR_INTERNAL;
    struct rank_ent *ents = NULL;
    unsigned char *lower = NULL;
    EVP_MAC_CTX *ctx = NULL;
    OSSL_PARAM params[2];
    size_t tlen = strlen(target);
    size_t i;

    pthread_once(&hmac_once, hmac_fetch);
    if (hmac_alg == NULL)
        goto out;
    ctx = EVP_MAC_CTX_new(hmac_alg);
    if (ctx == NULL)
        goto out;
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 (char *)"SHA256", 0);
    params[1] = OSSL_PARAM_construct_end();
    if (!EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret),
                      params))
        goto out;
    /* The target is case-insensitive; normalise ASCII letters. The
     * separator NUL goes with it. */
    lower = xmalloc(tlen + 1);
    for (i = 0; i < tlen; i++) {
        unsigned char ch = (unsigned char)target[i];
        lower[i] = (ch >= 'A' && ch <= 'Z') ? (unsigned char)(ch + 32) : ch;
    }
    lower[tlen] = 0x00;
    ents = xcalloc(n_ps, sizeof(*ents));
    for (i = 0; i < n_ps; i++) {
        const char *code = ps[i].code != NULL ? ps[i].code : "";
        size_t maclen = 0;

        if ((i > 0 && !EVP_MAC_init(ctx, NULL, 0, NULL)) ||
            !EVP_MAC_update(ctx, lower, tlen + 1) ||
            !EVP_MAC_update(ctx, (const unsigned char *)code, strlen(code)) ||
            !EVP_MAC_final(ctx, ents[i].mac, &maclen, sizeof(ents[i].mac)) ||
            maclen != COHORT_MAC_LEN)
            goto out;
        ents[i].idx = i;
    }
    qsort(ents, n_ps, sizeof(*ents), rank_cmp);
    for (i = 0; i < n_ps; i++) {
        idx[i] = ents[i].idx;
    }
    rc = MPIC_OK;
out:
    EVP_MAC_CTX_free(ctx);
    free(lower);
    free(ents);
    return rc;
}

static bool close_to_any(const struct builder *b, const size_t *c, size_t depth,
                         size_t p)
{
    size_t i;

    for (i = 0; i < depth; i++) {
        if (b->close[c[i] * b->n + p]) {
            return true;
        }
    }
    return false;
}

/*
 * With candidate p added at position depth, can the cohort still reach 2
 * RIRs? True if the members so far are already diverse, or a free rank after
 * p has another RIR and (when required) is not too close to any member.
 */
static bool diversity_reachable(const struct builder *b, const size_t *c,
                                size_t depth, size_t p)
{
    enum mpic_rir r = b->rir[p];
    size_t i;
    size_t q;

    for (i = 0; i < depth; i++) {
        if (b->rir[c[i]] != r) {
            return true;
        }
    }
    if (depth + 1 == b->k) {
        return false;
    }
    for (q = p + 1; q < b->n; q++) {
        if (b->used[q] || b->rir[q] == r) {
            continue;
        }
        if (b->need_far &&
            (close_to_any(b, c, depth, q) || b->close[p * b->n + q])) {
            continue;
        }
        return true;
    }
    return false;
}

static bool spans_two_rirs(const struct builder *b, const size_t *c)
{
    size_t i;

    for (i = 1; i < b->k; i++) {
        if (b->rir[c[i]] != b->rir[c[0]]) {
            return true;
        }
    }
    return false;
}

static size_t free_from(const struct builder *b, size_t start)
{
    size_t cnt = 0;
    size_t p;

    for (p = start; p < b->n; p++) {
        cnt += b->used[p] ? 0 : 1;
    }
    return cnt;
}

/*
 * Places cohort j (of b->want, relative to b->n_placed) from member depth
 * on, trying free ranks >= start. Cohorts are ordered by their first member;
 * a free rank skipped as a first member can join no later cohort, so it is
 * a leftover, and at most b->leftovers_max of them are allowed. On
 * PLACE_FOUND the chosen ranks are in sel and marked used; on PLACE_GAVE_UP
 * `used` is left dirty and the caller restores it.
 */
static enum place_result place(struct builder *b, size_t j, size_t depth,
                               size_t start, size_t leftovers)
{
    size_t *c = b->sel + (b->n_placed + j) * b->k;
    size_t avail;
    size_t p;

    if (b->budget <= 0 || b->total <= 0) {
        b->gave_up = true;
        return PLACE_GAVE_UP;
    }
    b->budget--;
    b->total--;

    if (depth == b->k) {
        /* diversity_reachable() already refused a uniform last member;
         * check again so the rule never rests on pruning alone. */
        if (b->need_div && !spans_two_rirs(b, c)) {
            return PLACE_NONE;
        }
        if (j + 1 == b->want) {
            return PLACE_FOUND;
        }
        return place(b, j + 1, 0, c[0] + 1, leftovers);
    }

    avail = free_from(b, start);
    for (p = start; p < b->n; p++) {
        enum place_result r;
        size_t need = depth == 0 ? (b->want - j) * b->k : b->k - depth;

        if (b->used[p]) {
            continue;
        }
        if (avail < need) {
            break;
        }
        avail--;
        if (depth == 0 && leftovers > b->leftovers_max) {
            break;
        }
        if (b->need_far && close_to_any(b, c, depth, p)) {
            continue;
        }
        if (b->need_div && !diversity_reachable(b, c, depth, p)) {
            /* Only a first member can become a leftover. */
            leftovers += depth == 0 ? 1 : 0;
            continue;
        }
        c[depth] = p;
        b->used[p] = true;
        r = place(b, j, depth + 1, p + 1, leftovers);
        if (r != PLACE_NONE) {
            return r;
        }
        b->used[p] = false;
        leftovers += depth == 0 ? 1 : 0;
    }
    return PLACE_NONE;
}

/*
 * One constraint level: greedy placement, then a search for partitions with
 * more cohorts (K = greedy + 1, + 2, ... until one fails: if K cohorts are
 * impossible, so are more). Keeps the best result found.
 */
static void place_phase(struct builder *b)
{
    size_t base = b->n_placed;
    size_t n_free = free_from(b, 0);
    bool *used0 = dup_bytes(b->used, b->n * sizeof(*b->used));
    bool *best_used = NULL;
    size_t *best_sel = NULL;
    size_t best = 0;
    size_t cnt[MPIC_RIR_COUNT + 1] = {0};
    size_t ub;
    size_t p;
    size_t K;
    enum place_result r = PLACE_NONE;

    /* Each phase gets its own budget, so the relaxed phases for size 2 can
     * always pair what the strict one left. */
    b->total = COHORT_TOTAL_BUDGET;
    for (;;) {
        bool *save = NULL;

        if (free_from(b, 0) < b->k) {
            break;
        }
        save = dup_bytes(b->used, b->n * sizeof(*b->used));
        b->want = 1;
        b->leftovers_max = b->n;
        b->budget = COHORT_GREEDY_BUDGET;
        r = place(b, 0, 0, 0, 0);
        if (r != PLACE_FOUND) {
            memcpy(b->used, save, b->n * sizeof(*b->used));
        }
        free(save);
        if (r != PLACE_FOUND) {
            break;
        }
        b->n_placed++;
    }
    best = b->n_placed - base;
    best_used = dup_bytes(b->used, b->n * sizeof(*b->used));
    best_sel = dup_bytes(b->sel + base * b->k, best * b->k * sizeof(size_t));

    /* Upper bound: whole cohorts from the free ranks, and with diversity
     * every cohort needs a member outside the most common RIR. */
    ub = n_free / b->k;
    if (b->need_div) {
        size_t most = 0;

        for (p = 0; p < b->n; p++) {
            if (!used0[p]) {
                cnt[b->rir[p] < MPIC_RIR_COUNT ? b->rir[p] : MPIC_RIR_COUNT]++;
            }
        }
        for (p = 0; p <= MPIC_RIR_COUNT; p++) {
            most = cnt[p] > most ? cnt[p] : most;
        }
        ub = (n_free - most) < ub ? (n_free - most) : ub;
    }
    /* An exhaustive miss on the first cohort proves there is none. */
    if (best == 0 && r == PLACE_NONE) {
        ub = 0;
    }

    for (K = best + 1; K <= ub; K++) {
        memcpy(b->used, used0, b->n * sizeof(*b->used));
        b->n_placed = base;
        b->want = K;
        b->leftovers_max = n_free - K * b->k;
        b->budget = COHORT_SEARCH_BUDGET;
        r = place(b, 0, 0, 0, 0);
        if (r != PLACE_FOUND) {
            break;
        }
        best = K;
        free(best_used);
        free(best_sel);
        best_used = dup_bytes(b->used, b->n * sizeof(*b->used));
        best_sel = dup_bytes(b->sel + base * b->k, K * b->k * sizeof(size_t));
    }

    memcpy(b->used, best_used, b->n * sizeof(*b->used));
    memcpy(b->sel + base * b->k, best_sel, best * b->k * sizeof(size_t));
    b->n_placed = base + best;
    free(best_used);
    free(best_sel);
    free(used0);
}

static char *explain_none(const struct builder *b)
{
    size_t p;
    bool one_rir = true;

    for (p = 1; p < b->n; p++) {
        if (b->rir[p] != b->rir[0]) {
            one_rir = false;
        }
    }
    if (b->gave_up) {
        return xasprintf("no cohort of %zu perspectives found among %zu "
                         "within the search budget",
                         b->k, b->n);
    }
    if (one_rir) {
        return xasprintf("all %zu perspectives are in one RIR; a cohort of "
                         "%zu needs at least 2 RIRs",
                         b->n, b->k);
    }
    return xasprintf("no %zu of the %zu perspectives span at least 2 RIRs "
                     "without a too-close pair",
                     b->k, b->n);
}

enum mpic_err mpic_cohorts_build(const struct mpic_perspective *ps, size_t n_ps,
                                 size_t cohort_size, const char *secret,
                                 const char *target, struct mpic_cohorts *out,
                                 char **why)
{
    enum mpic_err rc = MPIC_ERR_INVALID;
    struct builder b;
    char *reason = NULL;
    size_t i;
    size_t j;

    memset(&b, 0, sizeof(b));
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (why != NULL) {
        *why = NULL;
    }
    if (out == NULL || (ps == NULL && n_ps > 0)) {
        reason = xstrdup("no output or no perspectives given");
        goto out;
    }
    if (cohort_size < 2) {
        reason = xasprintf("cohort size %zu is below 2", cohort_size);
        goto out;
    }
    if (secret == NULL || secret[0] == '\0') {
        reason = xstrdup("hash_secret is not set");
        goto out;
    }
    if (target == NULL) {
        reason = xstrdup("no target given");
        goto out;
    }
    if (cohort_size > n_ps) {
        rc = MPIC_ERR_NOTFOUND;
        reason = xasprintf("cohort size %zu exceeds the %zu perspectives "
                           "available",
                           cohort_size, n_ps);
        goto out;
    }

    b.n = n_ps;
    b.k = cohort_size;
    b.idx = xcalloc(n_ps, sizeof(*b.idx));
    b.rir = xcalloc(n_ps, sizeof(*b.rir));
    b.close = xcalloc(n_ps, n_ps);
    b.used = xcalloc(n_ps, sizeof(*b.used));
    b.sel = xcalloc(n_ps / cohort_size + 1, cohort_size * sizeof(*b.sel));

    rc = rank_perspectives(ps, n_ps, secret, target, b.idx);
    if (rc != MPIC_OK) {
        reason = xstrdup("HMAC-SHA256 failed");
        goto out;
    }
    for (i = 0; i < n_ps; i++) {
        b.rir[i] = ps[b.idx[i]].rir;
        for (j = 0; j < i; j++) {
            bool c = mpic_perspectives_too_close(&ps[b.idx[i]], &ps[b.idx[j]]);

            b.close[i * n_ps + j] = c;
            b.close[j * n_ps + i] = c;
        }
    }

    /* Open MPIC API 3: for n > 2 diversity and distance are required; for
     * n == 2 they are preferred, so relax step by step for the leftovers. */
    b.need_div = true;
    b.need_far = true;
    place_phase(&b);
    if (cohort_size == 2) {
        b.need_div = false;
        place_phase(&b);
        b.need_far = false;
        place_phase(&b);
    }

    if (b.n_placed == 0) {
        rc = MPIC_ERR_NOTFOUND;
        reason = explain_none(&b);
        goto out;
    }
    out->n_cohorts = b.n_placed;
    out->size = cohort_size;
    out->members = xcalloc(b.n_placed, cohort_size * sizeof(*out->members));
    for (i = 0; i < b.n_placed * cohort_size; i++) {
        out->members[i] = b.idx[b.sel[i]];
    }
    rc = MPIC_OK;
out:
    if (why != NULL) {
        *why = reason;
        reason = NULL;
    }
    free(reason);
    free(b.idx);
    free(b.rir);
    free(b.close);
    free(b.used);
    free(b.sel);
    return rc;
}

void mpic_cohorts_cleanup(struct mpic_cohorts *c)
{
    if (c == NULL) {
        return;
    }
    free(c->members);
    memset(c, 0, sizeof(*c));
}

const size_t *mpic_cohorts_at(const struct mpic_cohorts *c, size_t i)
{
    MPIC_ASSERT(c != NULL && i < c->n_cohorts);
    return c->members + i * c->size;
}

/* BR 3.2.2.9: with 2-5 perspectives one may fail to corroborate, with 6 or
 * more two may. */
size_t mpic_quorum_default(size_t n)
{
    if (n < 2) {
        return n;
    }
    return n <= 5 ? n - 1 : n - 2;
}

bool mpic_quorum_valid(size_t n, long q)
{
    size_t uq;

    /* Quorum 0 ("monitoring mode") is refused: see the header. */
    if (q < 1 || n < 1) {
        return false;
    }
    uq = (size_t)q;
    if (uq > n) {
        return false;
    }
    return n <= 5 ? uq + 1 >= n : uq + 2 >= n;
}

bool mpic_perspective_count_valid(long n, size_t configured)
{
    return n >= 2 && (unsigned long)n <= configured;
}

bool mpic_max_attempts_valid(long requested)
{
    return requested >= 1;
}

bool mpic_cohort_number_valid(long c, size_t n_cohorts)
{
    return c >= 1 && (unsigned long)c <= n_cohorts;
}

bool mpic_attempt_valid(const enum mpic_rir *passed_rirs, size_t n_passed,
                        size_t cohort_size, size_t quorum)
{
    bool seen[MPIC_RIR_COUNT] = {false};
    size_t distinct = 0;
    size_t i;

    if (quorum < 1 || n_passed < quorum) {
        return false;
    }
    /* Open MPIC API 3 / BR 3.2.2.9: corroboration must span 2 RIRs. */
    if (cohort_size <= 2) {
        return true;
    }
    if (passed_rirs == NULL) {
        return false;
    }
    for (i = 0; i < n_passed; i++) {
        unsigned r = (unsigned)passed_rirs[i];

        if (r < MPIC_RIR_COUNT && !seen[r]) {
            seen[r] = true;
            distinct++;
        }
    }
    return distinct >= 2;
}

bool mpic_completed(size_t n_not_completed, size_t n, size_t quorum)
{
    if (quorum > n) {
        return false;
    }
    return n_not_completed <= n - quorum;
}

size_t mpic_attempt_cohort(size_t attempt, size_t n_cohorts)
{
    if (n_cohorts == 0) {
        return 0;
    }
    return attempt % n_cohorts;
}

long mpic_effective_max_attempts(long requested, long absolute_max)
{
    long cap = absolute_max < 1 ? 1 : absolute_max;

    if (requested < 1) {
        return 1;
    }
    return requested < cap ? requested : cap;
}
