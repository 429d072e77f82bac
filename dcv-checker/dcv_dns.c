/*
 * The DNS methods of the DCV checker (open-mpic-api.md section 6):
 * acme-dns-01, dns-account-01, dns-change, contact-*-txt, contact-*-caa
 * (climbing through common/caa_tree), ip-address, reverse-address-lookup
 * and dns-persistent. Each sends one lookup through the perspective's own
 * resolvers and judges the answer with the rules of dcv_compare.c and
 * dcv_persist.c. (The host resolver of the HTTP and TLS-ALPN methods is
 * dcv_resolve.c.)
 */
#include "dcv-checker/dcv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/buf.h"
#include "common/caa_tree.h"
#include "common/dns.h"
#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/trace.h"

struct dns_op {
    struct dcv_check *c;
    char *qname;
    ldns_rr_type type;
    struct mpic_dns_query *q;
    struct caa_lookup *caa;
    int64_t start_ns; /* for the "dns query" span */
};

static void dns_op_free(struct dns_op *op)
{
    if (op == NULL)
        return;
    free(op->qname);
    free(op);
}

static void dns_op_cancel(void *arg)
{
    struct dns_op *op = arg;

    mpic_dns_cancel(op->q);
    caa_tree_lookup_cancel(op->caa);
    dns_op_free(op);
}

/* v is built with the json_safe.h helpers: only OOM can fail here. */
static void set_details(struct dcv_check *c, const char *key, json_t *v)
{
    mpic_jset(c->details, key, v);
}

/* Judges one record's value (as it appears in records_seen); the rule of
 * each method is dcv_record_matches (dcv_compare.c, unit-tested). */
static bool record_matches(struct dcv_check *c, const char *val, size_t vlen)
{
    const char *why = NULL;
    bool ok = dcv_record_matches(&c->creq.dcv, val, vlen, c->target.wildcard,
                                 (int64_t)time(NULL), &why);

    if (!ok && why != NULL)
        logt_debug(c->creq.trace_id, "%s: record refused: %s",
                   mpic_dcv_method_name(c->creq.dcv.method), why);
    return ok;
}

/* The value of one record as it appears in records_seen (owned). */
static char *record_value(const ldns_rr *rr, size_t *len)
{
    struct caa_record rec;
    char *s = NULL;

    switch (ldns_rr_get_type(rr)) {
    case LDNS_RR_TYPE_TXT:
        return mpic_dns_txt_joined(rr, len);
    case LDNS_RR_TYPE_CAA:
        if (caa_record_from_rr(rr, &rec) != 0)
            return NULL;
        s = xmemdup(rec.value, rec.value_len);
        *len = rec.value_len;
        free(rec.tag);
        free(rec.value);
        return s;
    default:
        if (ldns_rr_rd_count(rr) < 1)
            return NULL;
        {
            char *t = ldns_rdf2str(ldns_rr_rdf(rr, 0));

            if (t == NULL)
                return NULL;
            s = xstrdup(t);
            LDNS_FREE(t);
        }
        *len = strlen(s);
        return s;
    }
}

static void on_answer(const struct mpic_dns_result *res, void *arg)
{
    struct dns_op *op = arg;
    struct dcv_check *c = op->c;
    struct mpic_strv chain;
    ldns_rr_list *rrs = NULL;
    json_t *seen;
    json_t *jchain;
    size_t i;

    op->q = NULL;
    mpic_strv_init(&chain);
    {
        char rcode[16];

        snprintf(rcode, sizeof(rcode), "%d", res->rcode);
        mpic_trace_step_span(&c->trace, "dns query", MPIC_SPAN_CLIENT,
                             op->start_ns,
                             res->status != MPIC_DNS_ANSWER ? res->error : NULL,
                             "dns.question.name", op->qname,
                             "dns.question.type", mpic_rrtype_name((enum mpic_rrtype)op->type),
                             "dns.response_code", rcode, "dns.ad",
                             res->ad ? "true" : "false", (const char *)NULL);
    }
    if (res->status != MPIC_DNS_ANSWER) {
        /* SERVFAIL, REFUSED, timeouts: records could hide behind it */
        c->completed = false;
        dcv_check_error(c, DCV_ERR_LOOKUP,
                        "There was an error looking up the DCV record %s: %s",
                        op->qname, res->error != NULL ? res->error : "failed");
        goto out;
    }
    seen = mpic_jarr();
    jchain = mpic_jarr();
    rrs = mpic_dns_answer_rrs(res->pkt, op->qname, op->type, &chain);
    for (i = 0; rrs != NULL && i < ldns_rr_list_rr_count(rrs); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
        size_t vlen = 0;
        char *val = record_value(rr, &vlen);

        if (val == NULL)
            continue;
        /* the record's bytes, made valid UTF-8 (NULs kept) */
        mpic_jpush(seen, mpic_jstr_bytes(val, vlen));
        if (record_matches(c, val, vlen))
            c->passed = true;
        free(val);
    }
    for (i = 0; i < chain.n; i++) {
        mpic_jpush(jchain, mpic_jstr(chain.v[i]));
    }
    c->completed = true;
    set_details(c, "records_seen", seen);
    set_details(c, "response_code", mpic_jint(res->rcode));
    set_details(c, "ad_flag", mpic_jbool(res->ad));
    set_details(c, "found_at", mpic_jstr(op->qname));
    set_details(c, "cname_chain", jchain);
out:
    ldns_rr_list_deep_free(rrs);
    mpic_strv_cleanup(&chain);
    dcv_check_finish(c); /* op is freed with the check */
}

static void on_caa(const struct caa_lookup_result *res, void *arg)
{
    struct dns_op *op = arg;
    struct dcv_check *c = op->c;
    json_t *seen;
    size_t i;

    op->caa = NULL;
    if (res->status == CAA_LOOKUP_ERROR) {
        c->completed = false;
        dcv_check_error(c, DCV_ERR_LOOKUP,
                        "There was an error looking up the CAA records: %s",
                        res->error != NULL ? res->error : "failed");
        goto out;
    }
    seen = mpic_jarr();
    for (i = 0; res->status == CAA_LOOKUP_FOUND && i < res->n_records; i++) {
        const struct caa_record *r = &res->records[i];

        /* BR 3.2.2.4.13/17: only the contact tag of this method counts */
        if (!caa_record_tag_valid(r) ||
            !dcv_caa_contact_tag(r->tag, c->creq.dcv.method))
            continue;
        mpic_jpush(seen, mpic_jstr_bytes(r->value, r->value_len));
        if (dcv_record_matches(&c->creq.dcv, r->value, r->value_len, false, 0,
                               NULL))
            c->passed = true;
    }
    c->completed = true;
    set_details(c, "records_seen", seen);
    set_details(c, "response_code",
                res->rcode >= 0 ? mpic_jint(res->rcode) : json_null());
    set_details(c, "ad_flag", mpic_jbool(res->ad));
    set_details(c, "found_at", mpic_jstr(res->found_at));
    set_details(c, "cname_chain", mpic_jarr());
out:
    dcv_check_finish(c);
}

/* The name and type a DNS method queries (owned name). */
static char *method_query(struct dcv_check *c, ldns_rr_type *type)
{
    const struct mpic_dcv_params *p = &c->creq.dcv;
    const char *dom = c->target.name;
    char *label;
    char *name;

    *type = LDNS_RR_TYPE_TXT;
    switch (p->method) {
    case MPIC_DCV_ACME_DNS_01:
        return xasprintf("_acme-challenge.%s", dom); /* RFC 8555 8.4 */
    case MPIC_DCV_DNS_ACCOUNT_01:
        label = dcv_account_label(p->account_uri != NULL ? p->account_uri : "");
        name = xasprintf("_%s._acme-challenge.%s", label, dom);
        free(label);
        return name;
    case MPIC_DCV_CONTACT_EMAIL_TXT:
        return xasprintf("_validation-contactemail.%s", dom);
    case MPIC_DCV_CONTACT_PHONE_TXT:
        return xasprintf("_validation-contactphone.%s", dom);
    case MPIC_DCV_DNS_PERSISTENT:
        return xasprintf("_validation-persist.%s", dom);
    case MPIC_DCV_DNS_CHANGE:
        *type = (ldns_rr_type)(p->dns_record_type != MPIC_RR_NONE
                                   ? p->dns_record_type
                                   : MPIC_RR_TXT);
        if (p->dns_name_prefix != NULL && p->dns_name_prefix[0] != '\0')
            return xasprintf("%s.%s", p->dns_name_prefix, dom);
        return xstrdup(dom);
    case MPIC_DCV_IP_ADDRESS:
        *type = p->dns_record_type == MPIC_RR_AAAA ? LDNS_RR_TYPE_AAAA
                                                   : LDNS_RR_TYPE_A;
        return xstrdup(dom);
    case MPIC_DCV_REVERSE_ADDRESS_LOOKUP:
        *type = LDNS_RR_TYPE_PTR;
        return mpic_target_reverse_name(&c->target);
    default:
        return NULL;
    }
}

void dcv_dns_start(struct dcv_check *c)
{
    struct dns_op *op = xcalloc(1, sizeof(*op));
    enum mpic_dcv_method m = c->creq.dcv.method;

    op->c = c;
    c->op = op;
    c->op_cancel = dns_op_cancel;
    if (m == MPIC_DCV_CONTACT_EMAIL_CAA || m == MPIC_DCV_CONTACT_PHONE_CAA) {
        /* RFC 8659 climbing, shared with the CAA checker */
        op->caa = caa_tree_lookup_start(c->d->dns, c->target.name, on_caa, op);
        return;
    }
    op->qname = method_query(c, &op->type);
    if (op->qname == NULL) {
        c->completed = false;
        dcv_check_error(c, DCV_ERR_PARAMETER, "no DNS query for method %s",
                        mpic_dcv_method_name(m));
        dcv_check_finish(c);
        return;
    }
    op->start_ns = mpic_trace_now_ns();
    op->q = mpic_dns_query(c->d->dns, op->qname, op->type, on_answer, op);
}
