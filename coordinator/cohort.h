/*
 * Cohort selection and quorum rules (Open MPIC API section 3, BR 3.2.2.9).
 *
 * mpic_cohorts_build() splits the configured perspectives into disjoint
 * cohorts of one size. The order is derived from HMAC-SHA256 under the
 * coordinator's hash_secret, so it is fixed for a (secret, target) pair and
 * cannot be predicted without the secret. For cohorts of more than 2, every
 * cohort spans at least 2 RIRs and holds no two members that are too close
 * (either lists the other in too_close_codes); for cohorts of 2 those are
 * preferences only. The remaining functions are the pure quorum, attempt and
 * completion rules the coordinator applies. Nothing here does I/O or logs.
 */
#ifndef MPIC_COORDINATOR_COHORT_H
#define MPIC_COORDINATOR_COHORT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"
#include "coordinator/perspective.h"

/*
 * The cohorts of one request. members holds n_cohorts * size indexes into
 * the perspective array given to mpic_cohorts_build(); cohort i is
 * members[i * size .. i * size + size - 1], its members in keyed-hash order.
 * Cohort 0 is used by the first attempt. Owned; release with
 * mpic_cohorts_cleanup().
 */
struct mpic_cohorts {
    size_t n_cohorts;
    size_t size;
    size_t *members; /* owned */
};

/*
 * Builds as many disjoint cohorts of cohort_size as the constraints allow
 * (perspectives left over are unused). ps (borrowed) are the configured
 * perspectives that have a checker for the check type; secret is the
 * hash_secret; target is the lower-cased A-label target (ASCII letters are
 * lower-cased again here, so case never changes the selection).
 *
 * Returns MPIC_OK and fills *out (zeroed first, set only on success), or:
 * MPIC_ERR_INVALID for bad arguments (cohort_size < 2, NULL or empty
 * secret, NULL target), MPIC_ERR_NOTFOUND when no cohort can be formed
 * (too few perspectives, a single RIR, too-close pairs), MPIC_ERR_INTERNAL
 * if the HMAC fails. On error *why (if why is not NULL) receives an owned,
 * human-readable reason; free() it. On success *why is NULL.
 */
enum mpic_err mpic_cohorts_build(const struct mpic_perspective *ps, size_t n_ps,
                                 size_t cohort_size, const char *secret,
                                 const char *target, struct mpic_cohorts *out,
                                 char **why);

/* Frees members and zeroes c. NULL-safe; safe on a zeroed struct. */
void mpic_cohorts_cleanup(struct mpic_cohorts *c);

/* Borrowed pointer to the `size` member indexes of cohort i (< n_cohorts). */
const size_t *mpic_cohorts_at(const struct mpic_cohorts *c, size_t i);

/*
 * True if perspectives a and b (borrowed) are too close: either lists the
 * other's code in too_close_codes (compared case-insensitively).
 */
bool mpic_perspectives_too_close(const struct mpic_perspective *a,
                                 const struct mpic_perspective *b);

/* Default quorum for n perspectives: n-1 if n <= 5, else n-2 (BR 3.2.2.9);
 * never 0 for n >= 1. */
size_t mpic_quorum_default(size_t n);

/*
 * A requested quorum_count q is valid iff (n <= 5 and n-1 <= q <= n) or
 * (n >= 6 and n-2 <= q <= n), and q >= 1: quorum 0 ("monitoring mode")
 * would let issuance pass with no corroboration, so it is refused.
 */
bool mpic_quorum_valid(size_t n, long q);

/* A requested perspective_count n is valid iff 2 <= n <= configured. */
bool mpic_perspective_count_valid(long n, size_t configured);

/* A requested max_attempts is valid iff it is at least 1. */
bool mpic_max_attempts_valid(long requested);

/* cohort_for_single_attempt c (1-based) is valid iff 1 <= c <= n_cohorts. */
bool mpic_cohort_number_valid(long c, size_t n_cohorts);

/*
 * An attempt is valid iff n_passed >= quorum (and quorum >= 1), and, when
 * cohort_size > 2, the perspectives that passed (passed_rirs, borrowed,
 * n_passed entries) span at least 2 distinct RIRs. Out-of-range RIR values
 * count toward n_passed but never toward diversity.
 */
bool mpic_attempt_valid(const enum mpic_rir *passed_rirs, size_t n_passed,
                        size_t cohort_size, size_t quorum);

/* mpic_completed: n_not_completed <= n - quorum (false if quorum > n). */
bool mpic_completed(size_t n_not_completed, size_t n, size_t quorum);

/* The cohort (0-based) for attempt (0-based): attempts cycle through the
 * cohorts. Returns 0 when n_cohorts is 0. */
size_t mpic_attempt_cohort(size_t attempt, size_t n_cohorts);

/*
 * Number of attempts to make: requested (-1 when absent) defaults to 1, and
 * is capped by absolute_max. Values below 1 (either argument) give 1.
 */
long mpic_effective_max_attempts(long requested, long absolute_max);

#endif
