/*
 * Preparation of domain_or_ip_target (open-mpic-api.md 5.1): a leading
 * "*." (wildcard), IPv4, IPv6 (bare or in brackets), and DNS names, Unicode
 * ones encoded to A-labels with libidn2 (IDNA2008, UTS#46 mapping), with
 * label and length checks.
 */
#ifndef MPIC_COMMON_TARGET_H
#define MPIC_COMMON_TARGET_H

#include <stdbool.h>

enum mpic_target_kind {
    MPIC_TARGET_DNS = 0,
    MPIC_TARGET_IPV4,
    MPIC_TARGET_IPV6,
};

struct mpic_target {
    enum mpic_target_kind kind;
    bool wildcard; /* the input started with "*." (names only) */
    /*
     * Owned. For names: lower-case A-label form without the "*." and
     * without a trailing dot. For addresses: canonical text (inet_ntop).
     */
    char *name;
    unsigned char addr[16]; /* network order; 4 bytes used for IPv4 */
};

/*
 * Parses `in`. Returns 0, or -1 with an owned explanation in *why
 * (free()). A trailing dot on a name is accepted and removed. Rejects empty
 * labels, labels over 63 octets, names over 253 octets, characters that are
 * not letters, digits or '-' in a label ('_' included), a label starting or
 * ending with '-', invalid IDNs, a last label that reads as a number
 * ("2130706433", "127.1", "0x7f000001": neither a name nor an IP literal)
 * and names in the IP reverse zones in-addr.arpa and ip6.arpa (BR 4.2.2),
 * also when IDNA mapping produces them. A wildcard on an IP address is
 * invalid. Which targets a check accepts (wildcards, addresses) is decided
 * by the caller (model_request.c).
 */
int mpic_target_parse(const char *in, struct mpic_target *out, char **why);
void mpic_target_cleanup(struct mpic_target *t);
/*
 * Reverse-DNS name of an address target ("4.3.2.1.in-addr.arpa",
 * nibbles + "ip6.arpa"), without trailing dot; owned, or NULL for a name.
 */
char *mpic_target_reverse_name(const struct mpic_target *t);

#endif
