/*
 * CAA lookup with tree climbing (RFC 8659 section 3, open-mpic-api.md 5.2):
 * the queries for a name and all its ancestors (the root excluded) go out
 * at once; the closest non-empty CAA RRset wins. Shared by the CAA checker
 * and the DCV checker's contact-*-caa methods. Decision logic lives
 * elsewhere (caa-checker/caa_decide.c).
 */
#ifndef MPIC_COMMON_CAA_TREE_H
#define MPIC_COMMON_CAA_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/dns.h"

/* One CAA resource record, decoded from the wire. */
struct caa_record {
    uint8_t flags;
    char *tag;        /* owned, as on the wire (case preserved) */
    size_t tag_len;   /* bytes of tag; may contain NULs: tag_len rules */
    char *value;      /* owned, NUL-terminated copy of the value bytes */
    size_t value_len; /* may contain NULs; value_len is authoritative */
};

/*
 * RFC 8659 4.1: a tag is ASCII letters and digits, of any length from 1.
 * True if r's tag is such a tag (all tag_len bytes; a NUL byte or any
 * other character makes it an unknown tag that matches no name).
 */
bool caa_record_tag_valid(const struct caa_record *r);
/* True if r's tag is valid and equals tag ignoring ASCII case. */
bool caa_record_tag_is(const struct caa_record *r, const char *tag);

/* Frees the members of n records and the array. NULL-safe. */
void caa_records_free(struct caa_record *recs, size_t n);

struct caa_lookup;

enum caa_lookup_status {
    CAA_LOOKUP_FOUND = 0, /* a non-empty CAA RRset was found */
    CAA_LOOKUP_NONE,      /* no CAA RRset at the name or any ancestor */
    CAA_LOOKUP_ERROR,     /* a level closer than any RRset failed */
};

/* Everything in here is borrowed: valid during the callback only. */
struct caa_lookup_result {
    enum caa_lookup_status status;
    /* ERROR: the failing level's outcome (never MPIC_DNS_ANSWER);
     * otherwise MPIC_DNS_ANSWER. */
    enum mpic_dns_status dns_status;
    /* FOUND: the queried name (no trailing dot) whose answer held the
     * RRset; ERROR: the name whose lookup failed; NONE: NULL. */
    const char *found_at;
    const struct caa_record *records; /* FOUND: the relevant RRset */
    size_t n_records;
    /* FOUND: presentation form of each record ("0 issue \"ca.example\""),
     * in the order received; n_records entries. */
    char *const *records_seen;
    int rcode;         /* RCODE of the deciding response; -1 if none */
    bool ad;           /* AD bit of the deciding response */
    const char *error; /* ERROR: human-readable, names the failing name */
};

typedef void caa_lookup_fn(const struct caa_lookup_result *res, void *arg);

/*
 * Starts the climbing CAA lookup for `ascii_name` (A-labels, no "*.", with
 * or without a trailing dot): CAA queries for the name and every ancestor
 * down to the TLD go out at once; cb runs once when the closest levels
 * decide (RFC 8659 section 3), and the remaining queries are cancelled.
 * Returns a handle for caa_tree_lookup_cancel, or NULL if cb already ran
 * inside this call (e.g. an unusable name). The handle is invalid once cb
 * has run.
 */
struct caa_lookup *caa_tree_lookup_start(struct mpic_dns *dns,
                                         const char *ascii_name,
                                         caa_lookup_fn *cb, void *arg);
/* cb will not be called; frees the lookup. NULL-safe. */
void caa_tree_lookup_cancel(struct caa_lookup *l);

/*
 * Decodes CAA rdata (ldns rdf's: flags INT8, tag TAG, value LONG_STR) into
 * *out (owned members; free with caa_records_free). Returns 0, or -1 if
 * the record is not a well-formed CAA record.
 */
int caa_record_from_rr(const ldns_rr *rr, struct caa_record *out);

#endif
