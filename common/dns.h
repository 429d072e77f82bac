/*
 * DNS for the checkers: c-ares (1.18) sends the queries to the configured
 * resolvers on the ev loop; answers are parsed with ldns. Queries carry a
 * random ID, RD and AD (so a validating resolver reports AD) and EDNS0;
 * truncated UDP answers are retried over TCP by c-ares. Each query gets its own
 * result; there is no cache of ours (the perspective's resolver is the cache).
 */
#ifndef MPIC_COMMON_DNS_H
#define MPIC_COMMON_DNS_H

#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/strv.h"

struct ev_loop;
struct mpic_dns;
struct mpic_dns_query;
struct mpic_dns_settings;

enum mpic_dns_status {
    MPIC_DNS_ANSWER = 0, /* a response with RCODE NOERROR or NXDOMAIN */
    MPIC_DNS_SERVFAIL,
    MPIC_DNS_REFUSED,
    MPIC_DNS_TIMEOUT,
    MPIC_DNS_NO_SERVER,    /* no resolver could be reached */
    MPIC_DNS_BAD_RESPONSE, /* FORMERR, NOTIMP, other RCODEs, garbage */
    MPIC_DNS_ERROR,        /* anything else (a bad name, out of memory) */
};

struct mpic_dns_result {
    enum mpic_dns_status status;
    int rcode;           /* RCODE of the response; -1 if none was parsed */
    bool ad;             /* AD bit of the response */
    const ldns_pkt *pkt; /* borrowed: valid during the callback only */
    const char *error;   /* human-readable when status != ANSWER */
};

/* Runs once per query, possibly before mpic_dns_query() returns. */
typedef void mpic_dns_fn(const struct mpic_dns_result *res, void *arg);

/*
 * Creates a resolver client on loop from settings (resolvers "IP[:PORT]",
 * timeout per try, tries). An empty resolver list means /etc/resolv.conf.
 * Returns an owned client, or NULL with an owned message in *errmsg.
 */
struct mpic_dns *mpic_dns_new(struct ev_loop *loop,
                              const struct mpic_dns_settings *settings,
                              char **errmsg);
/* Outstanding queries complete with MPIC_DNS_ERROR only if not cancelled;
 * cancelled ones are dropped silently. NULL-safe. */
void mpic_dns_free(struct mpic_dns *dns);

/*
 * Looks up (name, type, IN). name is absolute or relative-to-root, with or
 * without a trailing dot. Returns a handle usable with mpic_dns_cancel until
 * cb has run (NULL if cb already ran inside this call).
 */
struct mpic_dns_query *mpic_dns_query(struct mpic_dns *dns, const char *name,
                                      ldns_rr_type type, mpic_dns_fn *cb,
                                      void *arg);
/*
 * As mpic_dns_query, with the EDNS0 DO bit set (RFC 3225): a validating
 * resolver then includes the DNSSEC records (RRSIG, NSEC, NSEC3) of its
 * answer, e.g. the denial of a DS record. The query is written by ldns.
 */
struct mpic_dns_query *mpic_dns_query_dnssec(struct mpic_dns *dns,
                                             const char *name,
                                             ldns_rr_type type, mpic_dns_fn *cb,
                                             void *arg);
/* cb will not be called; the query's memory is reclaimed later. */
void mpic_dns_cancel(struct mpic_dns_query *q);

/*
 * Writes the query mpic_dns_query sends for (name, type, IN) with the given
 * ID into out (cap bytes; 512 always suffice): RD, AD (RFC 6840 5.7) and
 * EDNS0 with a 1232-byte UDP payload, the name as ldns reads it. Returns 0
 * with the length in *len, or -1 if name is not a valid domain name.
 */
int mpic_dns_wire_query(const char *name, ldns_rr_type type, uint16_t id,
                        uint8_t *out, size_t cap, size_t *len);

/*
 * Answer extraction. Starting at qname, follows CNAMEs in the answer
 * section (at most 16 hops, loops refused), appending each target with its
 * trailing dot to cname_chain (may be NULL), and returns a cloned list of
 * the records of `type` owned by the final name (owned, free with
 * ldns_rr_list_deep_free; NULL if none). Name comparison is
 * case-insensitive.
 */
ldns_rr_list *mpic_dns_answer_rrs(const ldns_pkt *pkt, const char *qname,
                                  ldns_rr_type type,
                                  struct mpic_strv *cname_chain);

/*
 * Same, but a CNAME loop in the answer, or a chain that goes on past the
 * hops followed, is an error rather than "no records" (open-mpic-api.md
 * 5.2: the records at the end of the chain are unknown). Returns 0 with the
 * list (or NULL) in *out, or -1 with an owned message naming qname in *why.
 */
int mpic_dns_answer_rrs_checked(const ldns_pkt *pkt, const char *qname,
                                ldns_rr_type type,
                                struct mpic_strv *cname_chain,
                                ldns_rr_list **out, char **why);

struct mpic_buf;
/* Appends the client's counters to a Prometheus text (/metrics). */
void mpic_dns_metrics(const struct mpic_dns *dns, struct mpic_buf *out);

/* Presentation of an rdata field / record; owned strings. */
char *mpic_dns_rr_to_str(const ldns_rr *rr); /* "0 issue \"ca\"" */
char *mpic_dns_txt_joined(const ldns_rr *rr, size_t *len); /* no separator */

#endif
