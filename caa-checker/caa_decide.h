/*
 * The CAA decision (RFC 8659 section 4, RFC 8657, open-mpic-api.md section
 * 5.4): given the relevant RRset, may this CA issue? Pure logic, no I/O.
 */
#ifndef MPIC_CAA_DECIDE_H
#define MPIC_CAA_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/caa_tree.h"
#include "common/model.h"
#include "common/strv.h"

struct caa_decide_input {
    bool wildcard;                   /* the target started with "*." */
    enum mpic_cert_type cert_type;   /* tls-server or s-mime */
    const struct mpic_strv *caa_domains; /* the CA's issuer domain names */
    const char *account_uri;         /* RFC 8657; NULL: not checked */
    const char *validation_method;   /* RFC 8657; NULL: not checked */
};

/*
 * Returns true if the RRset permits issuance. n == 0 permits. *reason, if
 * reason is not NULL, gets an owned human-readable explanation (free()).
 */
bool caa_decide(const struct caa_record *recs, size_t n,
                const struct caa_decide_input *in, char **reason);

#endif
