/*
 * Climbing CAA lookup (RFC 8659 section 3, open-mpic-api.md 5.2). One CAA
 * query per level (the name, then each ancestor down to the TLD; never the
 * root, never the ancestors of a CNAME target) goes out at once, and the
 * answers are judged in order from the closest level: the first non-empty
 * RRset wins; a failure before it makes the whole lookup fail, because
 * records could hide behind it; failures further up do not matter. As
 * soon as the closest levels decide, the remaining queries are cancelled.
 * This module does not decide issuance (caa-checker/caa_decide.c does).
 */
#include "common/caa_tree.h"

#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/strv.h"

struct caa_level {
    struct caa_lookup *l;     /* back-pointer */
    char *name;               /* owned; no trailing dot */
    struct mpic_dns_query *q; /* NULL once answered or cancelled */
    bool done;
    enum mpic_dns_status status;
    char *error;       /* owned; set when status != ANSWER */
    ldns_rr_list *rrs; /* owned; CAA RRset at the end of the chain */
    int rcode;
    bool ad;
};

struct caa_lookup {
    struct mpic_dns *dns;
    caa_lookup_fn *cb;
    void *arg;
    struct caa_level *levels; /* owned; [0] is the name itself */
    size_t n;
    bool starting; /* inside caa_tree_lookup_start: do not judge yet */
};

void caa_records_free(struct caa_record *recs, size_t n)
{
    size_t i;

    if (recs == NULL)
        return;
    for (i = 0; i < n; i++) {
        free(recs[i].tag);
        free(recs[i].value);
    }
    free(recs);
}

int caa_record_from_rr(const ldns_rr *rr, struct caa_record *out)
{
    const ldns_rdf *flags;
    const ldns_rdf *tag;
    const ldns_rdf *val = NULL;
    const uint8_t *td;

    memset(out, 0, sizeof(*out));
    if (rr == NULL || ldns_rr_get_type(rr) != LDNS_RR_TYPE_CAA)
        return -1;
    /* RFC 8659 4.1: flags, tag length + tag, value (rest of the rdata).
     * ldns leaves out the value field when it is empty. */
    if (ldns_rr_rd_count(rr) < 2 || ldns_rr_rd_count(rr) > 3)
        return -1;
    flags = ldns_rr_rdf(rr, 0);
    tag = ldns_rr_rdf(rr, 1);
    if (ldns_rr_rd_count(rr) == 3)
        val = ldns_rr_rdf(rr, 2);
    if (ldns_rdf_size(flags) != 1 || ldns_rdf_size(tag) < 2)
        return -1;
    td = ldns_rdf_data(tag);
    if ((size_t)td[0] + 1 != ldns_rdf_size(tag))
        return -1;
    out->flags = ldns_rdf2native_int8(flags);
    out->tag = xmemdup(td + 1, td[0]);
    out->tag_len = td[0];
    if (val != NULL) {
        out->value_len = ldns_rdf_size(val);
        out->value = xmemdup(ldns_rdf_data(val), out->value_len);
    } else {
        out->value = xstrdup("");
    }
    return 0;
}

bool caa_record_tag_is(const struct caa_record *r, const char *tag)
{
    size_t n = strlen(tag);

    if (r->tag == NULL || r->tag_len != n || !caa_record_tag_valid(r))
        return false;
    return strncasecmp(r->tag, tag, n) == 0;
}

bool caa_record_tag_valid(const struct caa_record *r)
{
    if (r->tag == NULL || r->tag_len == 0)
        return false;
    for (size_t i = 0; i < r->tag_len; i++) {
        char c = r->tag[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9')))
            return false;
    }
    return true;
}

static void caa_lookup_free(struct caa_lookup *l)
{
    size_t i;

    if (l == NULL)
        return;
    for (i = 0; i < l->n; i++) {
        struct caa_level *lv = &l->levels[i];

        mpic_dns_cancel(lv->q);
        free(lv->name);
        free(lv->error);
        ldns_rr_list_deep_free(lv->rrs);
    }
    free(l->levels);
    free(l);
}

/* Converts the winning RRset and calls back (FOUND, or ERROR if a record
 * does not decode). */
static void caa_report_found(struct caa_lookup *l, struct caa_level *lv)
{
    struct caa_lookup_result res = {0};
    struct caa_record *recs = NULL;
    struct mpic_strv seen;
    size_t n = ldns_rr_list_rr_count(lv->rrs);
    size_t i;
    char *msg = NULL;

    mpic_strv_init(&seen);
    recs = xcalloc(n, sizeof(*recs));
    res.rcode = lv->rcode;
    res.ad = lv->ad;
    res.found_at = lv->name;
    for (i = 0; i < n; i++) {
        const ldns_rr *rr = ldns_rr_list_rr(lv->rrs, i);
        char *s = mpic_dns_rr_to_str(rr);

        if (s == NULL || caa_record_from_rr(rr, &recs[i]) != 0) {
            free(s);
            msg = xasprintf("malformed CAA record at %s", lv->name);
            res.status = CAA_LOOKUP_ERROR;
            res.dns_status = MPIC_DNS_BAD_RESPONSE;
            res.error = msg;
            l->cb(&res, l->arg);
            goto out;
        }
        mpic_strv_push_owned(&seen, s);
    }
    res.status = CAA_LOOKUP_FOUND;
    res.dns_status = MPIC_DNS_ANSWER;
    res.records = recs;
    res.n_records = n;
    res.records_seen = seen.v;
    l->cb(&res, l->arg);
out:
    free(msg);
    caa_records_free(recs, n);
    mpic_strv_cleanup(&seen);
}

/*
 * Judges the levels from the closest one. Returns true if the lookup is
 * decided (the callback has run); the caller then frees l.
 */
static bool caa_lookup_judge(struct caa_lookup *l)
{
    struct caa_lookup_result res = {0};
    size_t i;

    for (i = 0; i < l->n; i++) {
        struct caa_level *lv = &l->levels[i];

        if (!lv->done)
            return false; /* a closer level is still out */
        if (lv->status != MPIC_DNS_ANSWER) {
            /* RFC 8659 section 3: a failure closer than any RRset means
             * the relevant RRset cannot be known. */
            res.status = CAA_LOOKUP_ERROR;
            res.dns_status = lv->status;
            res.found_at = lv->name;
            res.rcode = lv->rcode;
            res.ad = lv->ad;
            res.error = lv->error;
            l->cb(&res, l->arg);
            return true;
        }
        if (lv->rrs != NULL && ldns_rr_list_rr_count(lv->rrs) > 0) {
            caa_report_found(l, lv);
            return true;
        }
    }
    res.status = CAA_LOOKUP_NONE;
    res.dns_status = MPIC_DNS_ANSWER;
    res.rcode = l->n > 0 ? l->levels[0].rcode : -1;
    res.ad = l->n > 0 && l->levels[0].ad;
    l->cb(&res, l->arg);
    return true;
}

/* Stops the queries still out, so none of them calls back after l is
 * gone. */
static void caa_lookup_cancel_all(struct caa_lookup *l)
{
    size_t i;

    for (i = 0; i < l->n; i++) {
        mpic_dns_cancel(l->levels[i].q);
        l->levels[i].q = NULL;
    }
}

static void on_level_answer(const struct mpic_dns_result *res, void *arg)
{
    struct caa_level *lv = arg;
    struct caa_lookup *l = lv->l;

    lv->q = NULL; /* the query is finished; its handle is gone */
    lv->done = true;
    lv->status = res->status;
    lv->rcode = res->rcode;
    lv->ad = res->ad;
    if (res->status == MPIC_DNS_ANSWER) {
        char *why = NULL;

        /* A CNAME loop or an over-long chain hides the records at its end:
         * a lookup error, never "no CAA here" (open-mpic-api.md 5.2). */
        if (mpic_dns_answer_rrs_checked(res->pkt, lv->name, LDNS_RR_TYPE_CAA,
                                        NULL, &lv->rrs, &why) != 0) {
            lv->status = MPIC_DNS_BAD_RESPONSE;
            lv->error = why;
        }
    } else {
        lv->error =
            xstrdup(res->error != NULL ? res->error : "DNS lookup failed");
    }
    if (l->starting)
        return;
    if (caa_lookup_judge(l)) {
        caa_lookup_cancel_all(l);
        caa_lookup_free(l);
    }
}

/* Splits name into the levels name, parent, ..., TLD. Returns 0 or -1 if
 * the name has an empty label (or is empty). */
static int caa_make_levels(struct caa_lookup *l, const char *ascii_name)
{
    char *name = xstrdup(ascii_name);
    size_t len = strlen(name);
    const char *p;
    size_t n = 1;
    size_t i = 0;
    int rc = -1;

    if (len > 0 && name[len - 1] == '.')
        name[--len] = '\0';
    if (len == 0 || len > 253 || name[0] == '.' || strstr(name, "..") != NULL)
        goto out;
    for (p = name; *p != '\0'; p++) {
        if (*p == '.')
            n++;
    }
    l->levels = xcalloc(n, sizeof(*l->levels));
    l->n = n;
    p = name;
    for (;;) {
        l->levels[i].l = l;
        l->levels[i].name = xstrdup(p);
        l->levels[i].rcode = -1;
        i++;
        p = strchr(p, '.');
        if (p == NULL)
            break;
        p++;
    }
    MPIC_ASSERT(i == n);
    rc = 0;
out:
    free(name);
    return rc;
}

struct caa_lookup *caa_tree_lookup_start(struct mpic_dns *dns,
                                         const char *ascii_name,
                                         caa_lookup_fn *cb, void *arg)
{
    struct caa_lookup *l;
    size_t i;

    l = xcalloc(1, sizeof(*l));
    l->dns = dns;
    l->cb = cb;
    l->arg = arg;
    if (caa_make_levels(l, ascii_name) != 0) {
        struct caa_lookup_result res = {0};
        char *msg = xasprintf("cannot look up CAA for \"%s\": not a valid "
                              "domain name",
                              ascii_name);

        res.status = CAA_LOOKUP_ERROR;
        res.dns_status = MPIC_DNS_ERROR;
        res.found_at = ascii_name;
        res.rcode = -1;
        res.error = msg;
        cb(&res, arg);
        free(msg);
        caa_lookup_free(l);
        return NULL;
    }
    /* Answers that arrive inside mpic_dns_query (failures found at once)
     * are recorded but judged only when every query is out. */
    l->starting = true;
    for (i = 0; i < l->n; i++) {
        struct caa_level *lv = &l->levels[i];

        lv->q = mpic_dns_query(dns, lv->name, LDNS_RR_TYPE_CAA, on_level_answer,
                               lv);
    }
    l->starting = false;
    if (caa_lookup_judge(l)) {
        caa_lookup_cancel_all(l);
        caa_lookup_free(l);
        return NULL;
    }
    return l;
}

void caa_tree_lookup_cancel(struct caa_lookup *l)
{
    if (l == NULL)
        return;
    caa_lookup_cancel_all(l);
    caa_lookup_free(l);
}
