/*
 * Replicas of one perspective's checker (docs/failover.md): `caa_url:
 * [URL, URL]` names two or more checkers of the same perspective (same
 * region, same perspective_code). A call goes to one of them, round robin
 * over those not held out; a call that gets no check response from its
 * replica (no connection, a dropped connection, a 5xx without a check
 * response) moves on to a replica it has not called yet, within the same
 * call's time limit. A replica that failed is held out of the rotation for
 * COORD_REPLICA_HOLD_MS, or until a keep-alive ping or a call to it
 * succeeds; when every replica a call could still use is held out, the one
 * whose hold ends first is called anyway.
 *
 * Pure logic, no I/O: tests/unit/test_replica.c.
 */
#include "coordinator/coordinator.h"

/* How long a failed replica is called only as a last resort. */
#define COORD_REPLICA_HOLD_MS 10000

int coord_replica_pick(struct coord_queue *q, unsigned tried, uint64_t now)
{
    int held = -1;

    for (size_t s = 0; s < q->n_reps; s++) {
        size_t k = (q->next_rep + s) % q->n_reps;
        const struct coord_replica *r = &q->reps[k];

        if (k >= MPIC_MAX_REPLICAS || (tried & (1u << k)) != 0)
            continue;
        if (r->down_until_ms <= now) {
            q->next_rep = (k + 1) % q->n_reps;
            return (int)k;
        }
        if (held < 0 || r->down_until_ms < q->reps[held].down_until_ms)
            held = (int)k;
    }
    return held;
}

void coord_replica_failed(struct coord_queue *q, size_t k, uint64_t now)
{
    if (k < q->n_reps)
        q->reps[k].down_until_ms = now + COORD_REPLICA_HOLD_MS;
}

void coord_replica_ok(struct coord_queue *q, size_t k)
{
    if (k < q->n_reps)
        q->reps[k].down_until_ms = 0;
}

/*
 * Only when the replica gave no check response: a check response is the
 * perspective's answer whatever it says (a failed check is not retried
 * elsewhere; that would be shopping for a result). Transport failures
 * (refused, reset, TLS, timed out while connecting) and 5xx without a
 * check response (a replica shutting down, something in front of it)
 * qualify; a 4xx without one (e.g. a wrong bearer token) is a
 * configuration fault that failing over would hide, and is reported. A
 * call that timed out after its request was sent has used its time (a
 * slow check is mostly the applicant's DNS or web server, not the
 * replica's fault), so it neither fails over nor holds the replica out.
 */
bool coord_replica_should_fail_over(CURLcode rc, long status, bool parsed,
                                    bool sent)
{
    if (parsed)
        return false;
    if (rc == CURLE_OPERATION_TIMEDOUT)
        return !sent;
    if (rc != CURLE_OK)
        return true;
    return status >= 500 && status <= 599;
}
