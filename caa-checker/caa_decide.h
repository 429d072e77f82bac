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
    bool wildcard;                       /* the target started with "*." */
    enum mpic_cert_type cert_type;       /* tls-server or s-mime */
    const struct mpic_strv *caa_domains; /* the CA's issuer domain names */
    const char *account_uri; /* RFC 8657; NULL: the request has none */
    /* RFC 8657: an Open MPIC method name (mapped by caa_method_label) or
     * a raw validationmethods label; NULL: the request names none. */
    const char *validation_method;
    /* false (default, "strict"): a record restricting accounturi or
     * validationmethods permits no request lacking that value; true
     * ("lenient"): such a record is checked only against values the request
     * carries (caa.rfc8657, open-mpic-api.md 5.4). */
    bool rfc8657_lenient;
};

/*
 * The RFC 8657 / CA/B Forum SC-098 validationmethods label of an Open MPIC
 * validation method name (case-insensitive): "acme-dns-01" -> "dns-01",
 * "dns-change" -> "ca-tbr-7", ...; NULL for a method without a label
 * (reverse-address-lookup) or a NULL method; any other text is returned as
 * given (a raw label). The result is static or method itself.
 */
const char *caa_method_label(const char *method);

/*
 * Returns true if the RRset permits issuance. n == 0 permits. *reason, if
 * reason is not NULL, gets an owned human-readable explanation (free()).
 */
bool caa_decide(const struct caa_record *recs, size_t n,
                const struct caa_decide_input *in, char **reason);

#endif
