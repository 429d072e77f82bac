/*
 * The host resolver of the HTTP and TLS-ALPN methods (dcv_http.c,
 * dcv_tls_alpn.c): every hop's host name becomes one address through the
 * perspective's own resolvers (A, then AAAA), and an address the
 * configuration does not allow is refused before any connection.
 */
#include "dcv-checker/dcv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>

#include "common/dns.h"
#include "common/ev.h"
#include "common/mem.h"

struct dcv_resolve {
    struct dcv_daemon *d;
    char *host;
    struct mpic_dns_query *q;
    struct ev_timer *t; /* delivers the result from a fresh iteration */
    dcv_resolve_fn *cb;
    void *arg;
    bool tried_aaaa;
    enum mpic_err status;
    char *addr;
    char *why;
};

static void resolve_free(struct dcv_resolve *r)
{
    free(r->host);
    free(r->addr);
    free(r->why);
    free(r);
}

void dcv_resolve_cancel(struct dcv_resolve *r)
{
    if (r == NULL)
        return;
    mpic_dns_cancel(r->q);
    ev_timer_stop(r->d->loop, r->t);
    resolve_free(r);
}

static void on_deliver(struct ev_loop *loop, void *arg)
{
    struct dcv_resolve *r = arg;

    r->t = NULL;
    r->cb(r->status, r->addr, r->why, r->arg);
    resolve_free(r);
}

/* Results always reach the owner from the loop, never from inside
 * mpic_dns_query, so the owner's handle stays valid until then. */
static void resolve_done(struct dcv_resolve *r, enum mpic_err st, char *addr,
                         char *why)
{
    r->status = st;
    r->addr = addr;
    r->why = why;
    r->t = ev_timer_start(r->d->loop, 0, on_deliver, r);
}

static void on_host_answer(const struct mpic_dns_result *res, void *arg)
{
    struct dcv_resolve *r = arg;
    ldns_rr_type type = r->tried_aaaa ? LDNS_RR_TYPE_AAAA : LDNS_RR_TYPE_A;
    ldns_rr_list *rrs = NULL;

    r->q = NULL;
    if (res->status != MPIC_DNS_ANSWER) {
        resolve_done(r, MPIC_ERR_DNS, NULL,
                     xasprintf("lookup of %s %s failed: %s", r->host,
                               r->tried_aaaa ? "AAAA" : "A",
                               res->error != NULL ? res->error : "error"));
        goto out;
    }
    rrs = mpic_dns_answer_rrs(res->pkt, r->host, type, NULL);
    if (rrs != NULL && ldns_rr_list_rr_count(rrs) > 0 &&
        ldns_rr_rd_count(ldns_rr_list_rr(rrs, 0)) > 0) {
        char *t = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(rrs, 0), 0));

        /* the answer is the target's: a failure here is a lookup error,
         * not a reason to stop */
        if (t == NULL) {
            resolve_done(r, MPIC_ERR_DNS, NULL,
                         xasprintf("the %s record of %s cannot be read",
                                   r->tried_aaaa ? "AAAA" : "A", r->host));
            goto out;
        }
        resolve_done(r, MPIC_OK, xstrdup(t), NULL);
        LDNS_FREE(t);
        goto out;
    }
    if (!r->tried_aaaa) {
        r->tried_aaaa = true;
        r->q = mpic_dns_query(r->d->dns, r->host, LDNS_RR_TYPE_AAAA,
                              on_host_answer, r);
        goto out;
    }
    resolve_done(r, MPIC_ERR_NOTFOUND, NULL,
                 xasprintf("%s has no A or AAAA record", r->host));
out:
    ldns_rr_list_deep_free(rrs);
}

struct dcv_resolve *dcv_resolve_start(struct dcv_daemon *d, const char *host,
                                      dcv_resolve_fn *cb, void *arg)
{
    struct dcv_resolve *r = xcalloc(1, sizeof(*r));
    unsigned char tmp[16];

    r->d = d;
    r->host = xstrdup(host);
    r->cb = cb;
    r->arg = arg;
    if (inet_pton(AF_INET, host, tmp) == 1 ||
        inet_pton(AF_INET6, host, tmp) == 1) {
        resolve_done(r, MPIC_OK, xstrdup(host), NULL);
        return r;
    }
    r->q = mpic_dns_query(d->dns, host, LDNS_RR_TYPE_A, on_host_answer, r);
    return r;
}

char *dcv_address_refusal(const struct dcv_daemon *d, const char *addr)
{
    const char *block;

    if (d->cfg->allow_private_addresses)
        return NULL;
    block = dcv_addr_special_text(addr);
    if (block == NULL)
        return NULL;
    return xasprintf("refusing to connect to %s: special-purpose address "
                     "%s (targets.allow_private_addresses is false)",
                     addr, block);
}
