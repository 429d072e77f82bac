/*
 * The DNSSEC proof behind allow_lookup_failure (BR 3.2.2.8,
 * open-mpic-api.md 5.2, docs/compliance.md): is the name whose CAA lookup
 * failed DNSSEC-Insecure (RFC 4035 4.3) as seen through the perspective's
 * validating resolver? The proof asks DS (with the DO bit) for the failed
 * name and each ancestor down to the TLD, all at once; from the failed
 * name upward, the first answer the resolver validated (AD) decides:
 *   - a DS RRset: a signed delegation, the name is Secure;
 *   - a NODATA whose NSEC / NSEC3 (RFC 4035 5.2, RFC 5155 8.6) shows a
 *     delegation at that name without DS, or an opt-out NSEC3 covering it:
 *     an insecure delegation, the name is Insecure;
 *   - a NODATA without AD (RFC 5155 9.2) whose opt-out NSEC3 of the parent
 *     zone covers the name, when the parent's DS answer one level up was
 *     validated: an insecure opt-out delegation, Insecure;
 *   - anything else (not a delegation, NXDOMAIN) says nothing: go on.
 * Answers without AD, failures and answers still out when the budget ends
 * say nothing either. No deciding answer at all: Indeterminate.
 * Alongside, the failed CAA lookup is asked once more: the failure must
 * persist.
 */
#ifndef MPIC_CAA_DNSSEC_H
#define MPIC_CAA_DNSSEC_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/dns.h"

struct ev_loop;
struct caa_dnssec_proof;

/* What one DS answer says about the delegation at the name asked. */
enum caa_ds_evidence {
    CAA_DS_NONE = 0, /* nothing validated about a zone cut here */
    CAA_DS_SECURE,   /* a validated DS RRset: signed delegation */
    CAA_DS_INSECURE, /* a validated delegation without DS */
    /* No AD, but an opt-out NSEC3 of the parent zone covers the name
     * (RFC 5155 9.2: validators do not set AD on it). An insecure
     * delegation if the parent zone's DS validated (AD). */
    CAA_DS_OPTOUT,
};

enum caa_dnssec_verdict {
    CAA_DNSSEC_INDETERMINATE = 0,
    CAA_DNSSEC_SECURE,
    CAA_DNSSEC_INSECURE,
};

/* Borrowed: valid during the callback only. */
struct caa_dnssec_result {
    enum caa_dnssec_verdict verdict;
    /* Human-readable: the name and the evidence that decided, or why
     * nothing did. */
    const char *reason;
    /* The resolver answered at least one proof query (any RCODE but
     * REFUSED): it is reachable and serves us. */
    bool resolver_answered;
    /* The repeated CAA lookup failed again with SERVFAIL or a timeout. */
    bool failure_persisted;
};

typedef void caa_dnssec_fn(const struct caa_dnssec_result *res, void *arg);

/*
 * Judges one DS response (pkt, its AD bit) to a query for name (absolute
 * or not). Returns the evidence with an owned explanation in *why.
 */
enum caa_ds_evidence caa_dnssec_ds_evidence(const ldns_pkt *pkt, bool ad,
                                            const char *name, char **why);

/*
 * Starts the DS queries for name (the checked name, A-labels) and its
 * ancestors; it runs alongside the CAA lookup so that a failure costs no
 * second wait. Nothing is judged yet. Returns an owned handle, or NULL if
 * name is unusable.
 */
struct caa_dnssec_proof *caa_dnssec_proof_start(struct mpic_dns *dns,
                                                struct ev_loop *loop,
                                                const char *name);
/*
 * The CAA lookup of failed_name (name or one of its ancestors) failed with
 * `failed`: after a SERVFAIL the CAA query is asked once more (a timeout
 * was already retried by the DNS client's tries), and the proof is judged
 * from failed_name upward. cb runs once, at the latest after budget_ms on
 * the loop. Returns true if the proof is still running, false if cb has
 * already run (and p is freed).
 */
bool caa_dnssec_proof_judge(struct caa_dnssec_proof *p, const char *failed_name,
                            enum mpic_dns_status failed, uint64_t budget_ms,
                            caa_dnssec_fn *cb, void *arg);
/* cb will not be called; frees the proof. NULL-safe. */
void caa_dnssec_proof_cancel(struct caa_dnssec_proof *p);

#endif
