/*
 * The DNSSEC proof behind allow_lookup_failure (see caa_dnssec.h and
 * docs/compliance.md). Every record is parsed by ldns; NSEC3 hashes are
 * computed by ldns from the record's own parameters.
 */
#include "caa-checker/caa_dnssec.h"

#include <string.h>

#include "common/dns.h"
#include "common/ev.h"
#include "common/log.h"
#include "common/mem.h"

/* NSEC / NSEC3 records looked at per answer, and the most NSEC3 hash
 * iterations computed (RFC 9276 3.2: validators may treat more as
 * insecure; unbound 1.17 stops validating above 150). */
#define DNSSEC_MAX_DENIAL_RRS 32
#define DNSSEC_MAX_NSEC3_ITER 150
/* NSEC3 rdata: algorithm, flags, iterations, salt, next hash, then the
 * type bitmap (absent when empty). */
#define DNSSEC_NSEC3_MIN_RDFS 5

struct dnssec_level {
    struct caa_dnssec_proof *p;
    char *name;               /* owned, no trailing dot */
    struct mpic_dns_query *q; /* NULL once answered or cancelled */
    bool done;
    enum mpic_dns_status status;
    enum caa_ds_evidence evidence;
    char *why; /* owned */
};

struct caa_dnssec_proof {
    struct mpic_dns *dns;
    struct ev_loop *loop;
    caa_dnssec_fn *cb; /* NULL until caa_dnssec_proof_judge */
    void *arg;
    struct dnssec_level *levels; /* [0] is the checked name */
    size_t n;
    size_t first;                   /* the level of the failed name */
    struct mpic_dns_query *recheck; /* the CAA query asked again */
    bool recheck_done;
    enum mpic_dns_status recheck_status;
    /* Is the failed name an alias? Its CNAME query (level 0's goes out at
     * the start); alias_target is set if the answer holds a CNAME. */
    struct mpic_dns_query *alias_q;
    size_t alias_level; /* the level alias_q asks about */
    bool alias_done;
    char *alias_target;     /* owned */
    struct ev_timer *timer; /* the budget; NULL once fired */
    bool starting;
    bool resolver_answered;
};

/* ---- judging one DS answer ------------------------------------------- */

/* True if the (canonical) name a equals b, compared case-insensitively. */
static bool dnssec_same_name(const ldns_rdf *a, const ldns_rdf *b)
{
    return a != NULL && b != NULL && ldns_dname_compare(a, b) == 0;
}

/* Describes a bitmap's NS/DS/SOA bits as evidence about a zone cut. */
static enum caa_ds_evidence dnssec_bitmap_evidence(const ldns_rdf *bitmap,
                                                   const char *name,
                                                   const char *kind, char **why)
{
    bool ns, ds, soa;

    if (bitmap == NULL) {
        *why = xasprintf("%s record for %s has no type bitmap", kind, name);
        return CAA_DS_NONE;
    }
    ns = ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_NS);
    ds = ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_DS);
    soa = ldns_nsec_bitmap_covers_type(bitmap, LDNS_RR_TYPE_SOA);
    if (ns && !ds && !soa) {
        *why = xasprintf("validated %s record shows a delegation at %s "
                         "without DS (insecure delegation)",
                         kind, name);
        return CAA_DS_INSECURE;
    }
    *why = xasprintf("validated %s record shows %s is not a delegation "
                     "without DS (NS %s, DS %s, SOA %s)",
                     kind, name, ns ? "set" : "clear", ds ? "set" : "clear",
                     soa ? "set" : "clear");
    return CAA_DS_NONE;
}

/* NSEC3 (RFC 5155 8.6): a record matching H(name) whose bitmap shows NS
 * without DS and SOA, or an opt-out record covering H(name). */
static enum caa_ds_evidence dnssec_nsec3_evidence(const ldns_rr *rr,
                                                  const ldns_rdf *qname,
                                                  const char *name, bool ad,
                                                  char **why)
{
    enum caa_ds_evidence ev = CAA_DS_NONE;
    ldns_rr *c = NULL;
    ldns_rdf *zone = NULL;
    ldns_rdf *label = NULL;
    ldns_rdf *hashed = NULL;

    *why = NULL;
    if (ldns_rr_rd_count(rr) < DNSSEC_NSEC3_MIN_RDFS ||
        ldns_nsec3_algorithm(rr) != LDNS_SHA1 ||
        ldns_nsec3_iterations(rr) > DNSSEC_MAX_NSEC3_ITER)
        goto out;
    c = ldns_rr_clone(rr);
    if (c == NULL)
        fatalx("%s: out of memory", __func__);
    ldns_rr2canonical(c);
    zone = ldns_dname_left_chop(ldns_rr_owner(c));
    /* The record must belong to a zone above the name asked. */
    if (zone == NULL || !ldns_dname_is_subdomain(qname, zone))
        goto out;
    label = ldns_nsec3_hash_name_frm_nsec3(c, qname);
    if (label == NULL)
        goto out;
    hashed = ldns_dname_cat_clone(label, zone);
    if (hashed == NULL)
        goto out;
    ldns_dname2canonical(hashed);
    if (!ad) {
        /* Not validated: only an opt-out record of the parent zone
         * covering the name counts, and only as a candidate. */
        ldns_rdf *parent = ldns_dname_left_chop(qname);
        bool of_parent = parent != NULL && dnssec_same_name(parent, zone);

        ldns_rdf_deep_free(parent);
        if (of_parent && ldns_nsec3_optout(c) &&
            !dnssec_same_name(hashed, ldns_rr_owner(c)) &&
            ldns_nsec_covers_name(c, hashed)) {
            *why = xasprintf("an opt-out NSEC3 record of its parent zone "
                             "covers %s, and the resolver did not set AD "
                             "(RFC 5155 9.2)",
                             name);
            ev = CAA_DS_OPTOUT;
        }
    } else if (dnssec_same_name(hashed, ldns_rr_owner(c))) {
        ev = dnssec_bitmap_evidence(ldns_nsec3_bitmap(c), name, "NSEC3", why);
    } else if (ldns_nsec3_optout(c) && ldns_nsec_covers_name(c, hashed)) {
        *why = xasprintf("validated opt-out NSEC3 record covers %s (insecure "
                         "delegation, RFC 5155 6)",
                         name);
        ev = CAA_DS_INSECURE;
    }
out:
    ldns_rdf_deep_free(hashed);
    ldns_rdf_deep_free(label);
    ldns_rdf_deep_free(zone);
    ldns_rr_free(c);
    return ev;
}

/* The evidence of a NODATA answer's denial records (ad: validated). */
static enum caa_ds_evidence dnssec_nodata_evidence(const ldns_pkt *pkt,
                                                   const ldns_rdf *qname,
                                                   const char *name, bool ad,
                                                   char **why)
{
    const ldns_rr_list *auth = ldns_pkt_authority(pkt);
    size_t n = auth != NULL ? ldns_rr_list_rr_count(auth) : 0;
    size_t looked = 0;
    size_t i;
    char *last = NULL;

    for (i = 0; i < n && looked < DNSSEC_MAX_DENIAL_RRS; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(auth, i);
        enum caa_ds_evidence ev = CAA_DS_NONE;
        char *w = NULL;

        if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
            continue;
        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC) {
            looked++;
            if (!ad || ldns_rr_rd_count(rr) < 1 ||
                !dnssec_same_name(ldns_rr_owner(rr), qname))
                continue;
            ev = dnssec_bitmap_evidence(ldns_nsec_get_bitmap(rr), name, "NSEC",
                                        &w);
        } else if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NSEC3) {
            looked++;
            ev = dnssec_nsec3_evidence(rr, qname, name, ad, &w);
        } else {
            continue;
        }
        if (ev != CAA_DS_NONE) {
            free(last);
            *why = w;
            return ev;
        }
        if (w != NULL) {
            free(last);
            last = w;
        }
    }
    if (!ad) {
        free(last);
        *why = xasprintf("DS answer for %s not validated (no AD bit)", name);
        return CAA_DS_NONE;
    }
    *why = last != NULL ? last
                        : xasprintf("validated NODATA for DS at %s proves no "
                                    "delegation there",
                                    name);
    return CAA_DS_NONE;
}

enum caa_ds_evidence caa_dnssec_ds_evidence(const ldns_pkt *pkt, bool ad,
                                            const char *name, char **why)
{
    enum caa_ds_evidence ev = CAA_DS_NONE;
    ldns_rr_list *ds = NULL;
    ldns_rdf *qname = NULL;
    int rcode;

    *why = NULL;
    if (pkt == NULL || name == NULL) {
        *why = xstrdup("no answer");
        return CAA_DS_NONE;
    }
    rcode = (int)ldns_pkt_get_rcode(pkt);
    if (!ad && (rcode != LDNS_RCODE_NOERROR || ldns_pkt_ancount(pkt) > 0)) {
        *why = xasprintf("DS answer for %s not validated (no AD bit)", name);
        return CAA_DS_NONE;
    }
    if (rcode == LDNS_RCODE_NXDOMAIN) {
        *why = xasprintf("%s does not exist (validated NXDOMAIN)", name);
        return CAA_DS_NONE;
    }
    if (rcode != LDNS_RCODE_NOERROR) {
        *why = xasprintf("DS lookup of %s answered RCODE %d", name, rcode);
        return CAA_DS_NONE;
    }
    qname = ldns_dname_new_frm_str(name);
    if (qname == NULL) {
        *why = xasprintf("\"%s\" is not a domain name", name);
        return CAA_DS_NONE;
    }
    ldns_dname2canonical(qname);
    if (!ad) {
        /* A NODATA without AD: at most an opt-out candidate. */
        ev = dnssec_nodata_evidence(pkt, qname, name, false, why);
        ldns_rdf_deep_free(qname);
        return ev;
    }
    ds = mpic_dns_answer_rrs(pkt, name, LDNS_RR_TYPE_DS, NULL);
    if (ds != NULL && ldns_rr_list_rr_count(ds) > 0) {
        *why = xasprintf("validated DS RRset at %s (signed delegation)", name);
        ev = CAA_DS_SECURE;
    } else if (ldns_pkt_ancount(pkt) > 0) {
        *why = xasprintf("DS answer for %s holds no DS record at the name "
                         "(not a delegation)",
                         name);
    } else {
        ev = dnssec_nodata_evidence(pkt, qname, name, true, why);
    }
    ldns_rr_list_deep_free(ds);
    ldns_rdf_deep_free(qname);
    return ev;
}

/* ---- the proof on the loop ------------------------------------------- */

static void dnssec_proof_free(struct caa_dnssec_proof *p)
{
    size_t i;

    if (p == NULL)
        return;
    for (i = 0; i < p->n; i++) {
        mpic_dns_cancel(p->levels[i].q);
        free(p->levels[i].name);
        free(p->levels[i].why);
    }
    mpic_dns_cancel(p->recheck);
    mpic_dns_cancel(p->alias_q);
    free(p->alias_target);
    ev_timer_stop(p->loop, p->timer);
    free(p->levels);
    free(p);
}

static void dnssec_report(struct caa_dnssec_proof *p,
                          enum caa_dnssec_verdict verdict, const char *reason)
{
    struct caa_dnssec_result res;

    memset(&res, 0, sizeof(res));
    res.verdict = verdict;
    res.reason = reason;
    res.resolver_answered = p->resolver_answered;
    res.failure_persisted =
        p->recheck_done && (p->recheck_status == MPIC_DNS_SERVFAIL ||
                            p->recheck_status == MPIC_DNS_TIMEOUT);
    p->cb(&res, p->arg);
}

/*
 * Decides if it can: from the failed name upward, levels still out block
 * (unless final), the first validated zone-cut evidence wins. Returns true
 * once the callback has run; the caller then frees p.
 */
static bool dnssec_judge(struct caa_dnssec_proof *p, bool final)
{
    const struct dnssec_level *lv0 = &p->levels[p->first];
    const char *failed = lv0->name;
    char *reason;
    size_t i;

    if ((!p->recheck_done || !p->alias_done) && !final)
        return false;
    if (p->alias_target != NULL) {
        /* RFC 8659: the CAA RRset of an alias is its target's, so the
         * failure may lie in the target's zone, which this proof does not
         * cover. */
        reason = xasprintf("%s is DNSSEC-indeterminate: it is an alias "
                           "(CNAME to %s), and the failure may lie in the "
                           "target's zone",
                           failed, p->alias_target);
        dnssec_report(p, CAA_DNSSEC_INDETERMINATE, reason);
        free(reason);
        return true;
    }
    for (i = p->first; i < p->n; i++) {
        const struct dnssec_level *lv = &p->levels[i];

        if (!lv->done) {
            if (!final)
                return false;
            continue; /* out of time: says nothing */
        }
        if (lv->evidence == CAA_DS_OPTOUT && i + 1 < p->n) {
            /* RFC 5155 9.2: a validating resolver does not set AD on an
             * opt-out denial of DS. It is one only if the same resolver
             * validated the parent zone (a DS RRset with AD one level
             * up): a secure zone's answer without AD that is not
             * SERVFAIL is one the resolver judged insecure. */
            const struct dnssec_level *up = &p->levels[i + 1];

            if (!up->done) {
                if (!final)
                    return false;
                continue;
            }
            if (up->evidence == CAA_DS_SECURE) {
                reason = xasprintf("%s is DNSSEC-insecure: %s, while the "
                                   "resolver validated the parent zone (%s): "
                                   "an insecure opt-out delegation at %s",
                                   failed, lv->why, up->why, lv->name);
                dnssec_report(p, CAA_DNSSEC_INSECURE, reason);
                free(reason);
                return true;
            }
            continue;
        }
        if (lv->evidence == CAA_DS_SECURE) {
            reason = xasprintf("%s is DNSSEC-secure: %s", failed, lv->why);
            dnssec_report(p, CAA_DNSSEC_SECURE, reason);
            free(reason);
            return true;
        }
        if (lv->evidence == CAA_DS_INSECURE) {
            reason = xasprintf("%s is DNSSEC-insecure: %s", failed, lv->why);
            dnssec_report(p, CAA_DNSSEC_INSECURE, reason);
            free(reason);
            return true;
        }
    }
    reason =
        xasprintf("%s is DNSSEC-indeterminate: no validated DS answer "
                  "for it or an ancestor shows its delegation (%s)",
                  failed, lv0->why != NULL ? lv0->why : "no answer in time");
    dnssec_report(p, CAA_DNSSEC_INDETERMINATE, reason);
    free(reason);
    return true;
}

/* Judges if the proof has been asked to; frees p once decided. */
static void dnssec_maybe_finish(struct caa_dnssec_proof *p, bool final)
{
    if (p->cb == NULL || (p->starting && !final))
        return;
    if (dnssec_judge(p, final))
        dnssec_proof_free(p);
}

static void dnssec_note_status(struct caa_dnssec_proof *p,
                               enum mpic_dns_status st)
{
    if (st == MPIC_DNS_ANSWER || st == MPIC_DNS_SERVFAIL)
        p->resolver_answered = true;
}

static void on_ds_answer(const struct mpic_dns_result *res, void *arg)
{
    struct dnssec_level *lv = arg;
    struct caa_dnssec_proof *p = lv->p;

    lv->q = NULL;
    lv->done = true;
    lv->status = res->status;
    dnssec_note_status(p, res->status);
    if (res->status == MPIC_DNS_ANSWER) {
        lv->evidence =
            caa_dnssec_ds_evidence(res->pkt, res->ad, lv->name, &lv->why);
    } else {
        lv->evidence = CAA_DS_NONE;
        lv->why = xasprintf("DS lookup of %s failed: %s", lv->name,
                            res->error != NULL ? res->error : "?");
    }
    dnssec_maybe_finish(p, false);
}

static void on_alias_answer(const struct mpic_dns_result *res, void *arg)
{
    struct caa_dnssec_proof *p = arg;
    const char *name = p->levels[p->alias_level].name;
    ldns_rr_list *cn = NULL;

    p->alias_q = NULL;
    p->alias_done = true;
    dnssec_note_status(p, res->status);
    /* A failure here is the name's own zone failing (a CNAME query is
     * not chased): the zone the proof is about. */
    if (res->status == MPIC_DNS_ANSWER)
        cn = mpic_dns_answer_rrs(res->pkt, name, LDNS_RR_TYPE_CNAME, NULL);
    if (cn != NULL && ldns_rr_list_rr_count(cn) > 0 &&
        ldns_rr_rd_count(ldns_rr_list_rr(cn, 0)) == 1) {
        char *t = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(cn, 0), 0));

        if (t == NULL)
            fatalx("%s: out of memory", __func__);
        free(p->alias_target);
        p->alias_target = xstrdup(t);
        LDNS_FREE(t);
    }
    ldns_rr_list_deep_free(cn);
    dnssec_maybe_finish(p, false);
}

static void on_recheck_answer(const struct mpic_dns_result *res, void *arg)
{
    struct caa_dnssec_proof *p = arg;

    p->recheck = NULL;
    p->recheck_done = true;
    p->recheck_status = res->status;
    dnssec_note_status(p, res->status);
    dnssec_maybe_finish(p, false);
}

static void on_budget(struct ev_loop *loop, void *arg)
{
    struct caa_dnssec_proof *p = arg;

    (void)loop;
    p->timer = NULL; /* the loop dropped it */
    log_debug("DNSSEC proof for %s: out of time, judging what answered",
              p->levels[p->first].name);
    dnssec_maybe_finish(p, true);
}

/* The failed name and its ancestors down to the TLD. */
static int dnssec_make_levels(struct caa_dnssec_proof *p, const char *name)
{
    char *s = xstrdup(name);
    size_t len = strlen(s);
    const char *c;
    size_t n = 1;
    size_t i = 0;

    if (len > 0 && s[len - 1] == '.')
        s[--len] = '\0';
    if (len == 0 || len > 253 || s[0] == '.' || strstr(s, "..") != NULL) {
        free(s);
        return -1;
    }
    for (c = s; *c != '\0'; c++) {
        if (*c == '.')
            n++;
    }
    p->levels = xcalloc(n, sizeof(*p->levels));
    p->n = n;
    c = s;
    for (;;) {
        p->levels[i].p = p;
        p->levels[i].name = xstrdup(c);
        i++;
        c = strchr(c, '.');
        if (c == NULL)
            break;
        c++;
    }
    MPIC_ASSERT(i == n);
    free(s);
    return 0;
}

struct caa_dnssec_proof *caa_dnssec_proof_start(struct mpic_dns *dns,
                                                struct ev_loop *loop,
                                                const char *name)
{
    struct caa_dnssec_proof *p;
    size_t i;

    p = xcalloc(1, sizeof(*p));
    p->dns = dns;
    p->loop = loop;
    if (name == NULL || dnssec_make_levels(p, name) != 0) {
        dnssec_proof_free(p);
        return NULL;
    }
    for (i = 0; i < p->n; i++) {
        struct dnssec_level *lv = &p->levels[i];

        lv->q = mpic_dns_query_dnssec(dns, lv->name, LDNS_RR_TYPE_DS,
                                      on_ds_answer, lv);
    }
    /* Most failures are at the name itself: ask now whether it is an
     * alias, so that the answer is there when the lookup fails. */
    p->alias_level = 0;
    p->alias_q = mpic_dns_query(dns, p->levels[0].name, LDNS_RR_TYPE_CNAME,
                                on_alias_answer, p);
    return p;
}

/* The level asking about name, or p->n. */
static size_t dnssec_level_of(const struct caa_dnssec_proof *p,
                              const char *name)
{
    ldns_rdf *want = name != NULL ? ldns_dname_new_frm_str(name) : NULL;
    size_t i;

    for (i = 0; want != NULL && i < p->n; i++) {
        ldns_rdf *have = ldns_dname_new_frm_str(p->levels[i].name);
        bool same = have != NULL && ldns_dname_compare(have, want) == 0;

        ldns_rdf_deep_free(have);
        if (same)
            break;
    }
    if (want == NULL)
        i = p->n;
    ldns_rdf_deep_free(want);
    return i;
}

bool caa_dnssec_proof_judge(struct caa_dnssec_proof *p, const char *failed_name,
                            enum mpic_dns_status failed, uint64_t budget_ms,
                            caa_dnssec_fn *cb, void *arg)
{
    MPIC_ASSERT(p->cb == NULL);
    p->cb = cb;
    p->arg = arg;
    p->first = dnssec_level_of(p, failed_name);
    if (p->first >= p->n) {
        char *reason = xasprintf("%s is DNSSEC-indeterminate: not a name "
                                 "the proof asked about",
                                 failed_name != NULL ? failed_name : "?");

        p->first = 0;
        dnssec_report(p, CAA_DNSSEC_INDETERMINATE, reason);
        free(reason);
        dnssec_proof_free(p);
        return false;
    }
    p->starting = true;
    p->timer = ev_timer_start(p->loop, budget_ms, on_budget, p);
    if (p->alias_level != p->first) {
        /* The failure is higher up: ask about that name instead. */
        mpic_dns_cancel(p->alias_q);
        free(p->alias_target);
        p->alias_target = NULL;
        p->alias_done = false;
        p->alias_level = p->first;
        p->alias_q = mpic_dns_query(p->dns, p->levels[p->first].name,
                                    LDNS_RR_TYPE_CNAME, on_alias_answer, p);
    }
    if (failed == MPIC_DNS_TIMEOUT) {
        /* c-ares sent the query again after each try timed out (tries >=
         * 2): that retry already failed. */
        p->recheck_done = true;
        p->recheck_status = MPIC_DNS_TIMEOUT;
    } else {
        p->recheck = mpic_dns_query(p->dns, p->levels[p->first].name,
                                    LDNS_RR_TYPE_CAA, on_recheck_answer, p);
    }
    p->starting = false;
    if (dnssec_judge(p, false)) {
        dnssec_proof_free(p);
        return false;
    }
    return true;
}

void caa_dnssec_proof_cancel(struct caa_dnssec_proof *p)
{
    dnssec_proof_free(p);
}
