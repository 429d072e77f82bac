/*
 * The IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890,
 * RFC 8190), plus multicast (RFC 5771, RFC 4291), the deprecated site-local
 * block (RFC 3879) and IPv4-compatible addresses (RFC 4291 2.5.5.1), as a
 * table of prefixes; each row cites its registry entry. A DCV fetch never
 * connects to an address in one of these blocks unless
 * targets.allow_private_addresses is set (INTERFACE.md: "never connect to
 * loopback, private, link-local, or other special-purpose addresses"):
 * such addresses are not the public Internet the Baseline Requirements
 * validate against, and reaching them would let a requester probe the
 * checker's own network.
 *
 * Every row is refused, also those the registry marks globally reachable
 * (AS112, AMT, PCP/TURN/DNS-SD anycast, ORCHIDv2, DETs, 6to4): none of them
 * is where a domain's web or TLS server lives, and 2001::/23 and
 * 192.0.0.0/24 are refused as a whole. An IPv6 address outside 2000::/3
 * is not global unicast (IANA IPv6 Address Space registry) and is refused
 * as well. The one exception is the NAT64 well-known prefix 64:ff9b::/96
 * (RFC 6052): a perspective behind NAT64/DNS64 gets such addresses for
 * IPv4-only sites, so it is judged by the IPv4 address it embeds.
 * IPv4-mapped addresses (::ffff:0:0/96) are refused outright: a public
 * IPv4 server is reached through its A record.
 *
 * Rows are matched in order, so a block nested in a wider one comes first
 * and is the one named. Checked against the registries as of 2026-12.
 */
#include "dcv-checker/dcv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

struct prefix {
    unsigned char addr[16];
    unsigned bits;
    const char *name; /* "CIDR (what)": the CIDR first */
};

static const struct prefix v4_table[] = {
    /* RFC 1122 3.2.1.3 */
    {{0}, 32, "0.0.0.0/32 (this host on this network)"},
    /* RFC 791 3.2 */
    {{0}, 8, "0.0.0.0/8 (this network)"},
    /* RFC 1918 */
    {{10}, 8, "10.0.0.0/8 (private-use)"},
    /* RFC 6598 */
    {{100, 64}, 10, "100.64.0.0/10 (shared address space)"},
    /* RFC 1122 3.2.1.3 */
    {{127}, 8, "127.0.0.0/8 (loopback)"},
    /* RFC 3927 */
    {{169, 254}, 16, "169.254.0.0/16 (link local)"},
    /* RFC 1918 */
    {{172, 16}, 12, "172.16.0.0/12 (private-use)"},
    /* RFC 7335 */
    {{192}, 29, "192.0.0.0/29 (IPv4 service continuity prefix)"},
    /* RFC 7600 */
    {{192, 0, 0, 8}, 32, "192.0.0.8/32 (IPv4 dummy address)"},
    /* RFC 7723 */
    {{192, 0, 0, 9}, 32, "192.0.0.9/32 (Port Control Protocol anycast)"},
    /* RFC 8155 */
    {{192, 0, 0, 10}, 32, "192.0.0.10/32 (TURN anycast)"},
    /* RFC 8880, RFC 7050 */
    {{192, 0, 0, 170}, 32, "192.0.0.170/32 (NAT64/DNS64 discovery)"},
    /* RFC 8880, RFC 7050 */
    {{192, 0, 0, 171}, 32, "192.0.0.171/32 (NAT64/DNS64 discovery)"},
    /* RFC 6890 2.1 */
    {{192}, 24, "192.0.0.0/24 (IETF protocol assignments)"},
    /* RFC 5737 */
    {{192, 0, 2}, 24, "192.0.2.0/24 (documentation, TEST-NET-1)"},
    /* RFC 7535 */
    {{192, 31, 196}, 24, "192.31.196.0/24 (AS112-v4)"},
    /* RFC 7450 */
    {{192, 52, 193}, 24, "192.52.193.0/24 (AMT)"},
    /* RFC 7526 */
    {{192, 88, 99}, 24, "192.88.99.0/24 (deprecated 6to4 relay anycast)"},
    /* RFC 1918 */
    {{192, 168}, 16, "192.168.0.0/16 (private-use)"},
    /* RFC 7534 */
    {{192, 175, 48}, 24, "192.175.48.0/24 (direct delegation AS112 service)"},
    /* RFC 2544 */
    {{198, 18}, 15, "198.18.0.0/15 (benchmarking)"},
    /* RFC 5737 */
    {{198, 51, 100}, 24, "198.51.100.0/24 (documentation, TEST-NET-2)"},
    /* RFC 5737 */
    {{203, 0, 113}, 24, "203.0.113.0/24 (documentation, TEST-NET-3)"},
    /* RFC 5771, IPv4 Multicast Address Space */
    {{224}, 4, "224.0.0.0/4 (multicast)"},
    /* RFC 8190, RFC 919 7 */
    {{255, 255, 255, 255}, 32, "255.255.255.255/32 (limited broadcast)"},
    /* RFC 1112 4 */
    {{240}, 4, "240.0.0.0/4 (reserved)"},
};

static const struct prefix v6_table[] = {
    /* RFC 4291 */
    {{0x00}, 128, "::/128 (unspecified)"},
    /* RFC 4291 */
    {{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x01},
     128,
     "::1/128 (loopback)"},
    /* RFC 4291 */
    {{0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff},
     96,
     "::ffff:0:0/96 (IPv4-mapped)"},
    /* RFC 4291 2.5.5.1 */
    {{0x00}, 96, "::/96 (deprecated IPv4-compatible)"},
    /* RFC 8215 */
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01},
     48,
     "64:ff9b:1::/48 (local-use IPv4/IPv6 translation)"},
    /* RFC 6666 */
    {{0x01}, 64, "100::/64 (discard-only)"},
    /* RFC 9780 */
    {{0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01},
     64,
     "100:0:0:1::/64 (dummy IPv6 prefix)"},
    /* RFC 4380, RFC 8190 */
    {{0x20, 0x01}, 32, "2001::/32 (TEREDO)"},
    /* RFC 7723 */
    {{0x20, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x01},
     128,
     "2001:1::1/128 (Port Control Protocol anycast)"},
    /* RFC 8155 */
    {{0x20, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x02},
     128,
     "2001:1::2/128 (TURN anycast)"},
    /* RFC 9665 */
    {{0x20, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x03},
     128,
     "2001:1::3/128 (DNS-SD service registration protocol anycast)"},
    /* RFC 5180 */
    {{0x20, 0x01, 0x00, 0x02}, 48, "2001:2::/48 (benchmarking)"},
    /* RFC 7450 */
    {{0x20, 0x01, 0x00, 0x03}, 32, "2001:3::/32 (AMT)"},
    /* RFC 7535 */
    {{0x20, 0x01, 0x00, 0x04, 0x01, 0x12}, 48, "2001:4:112::/48 (AS112-v6)"},
    /* RFC 4843 */
    {{0x20, 0x01, 0x00, 0x10}, 28, "2001:10::/28 (deprecated ORCHID)"},
    /* RFC 7343 */
    {{0x20, 0x01, 0x00, 0x20}, 28, "2001:20::/28 (ORCHIDv2)"},
    /* RFC 9374 */
    {{0x20, 0x01, 0x00, 0x30},
     28,
     "2001:30::/28 (drone remote ID entity tags)"},
    /* RFC 2928 */
    {{0x20, 0x01}, 23, "2001::/23 (IETF protocol assignments)"},
    /* RFC 3849 */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "2001:db8::/32 (documentation)"},
    /* RFC 3056 */
    {{0x20, 0x02}, 16, "2002::/16 (6to4)"},
    /* RFC 7534 */
    {{0x26, 0x20, 0x00, 0x4f, 0x80},
     48,
     "2620:4f:8000::/48 (direct delegation AS112 service)"},
    /* RFC 9637 */
    {{0x3f, 0xff}, 20, "3fff::/20 (documentation)"},
    /* RFC 9602 */
    {{0x5f}, 16, "5f00::/16 (segment routing (SRv6) SIDs)"},
    /* RFC 4193, RFC 8190 */
    {{0xfc}, 7, "fc00::/7 (unique local)"},
    /* RFC 3879 */
    {{0xfe, 0xc0}, 10, "fec0::/10 (deprecated site local)"},
    /* RFC 4291 */
    {{0xfe, 0x80}, 10, "fe80::/10 (link local unicast)"},
    /* RFC 4291 */
    {{0xff}, 8, "ff00::/8 (multicast)"},
};

#define N_V4 (sizeof(v4_table) / sizeof(v4_table[0]))
#define N_V6 (sizeof(v6_table) / sizeof(v6_table[0]))

static bool prefix_match(const unsigned char *addr, const struct prefix *p)
{
    unsigned full = p->bits / 8;
    unsigned rest = p->bits % 8;

    if (memcmp(addr, p->addr, full) != 0)
        return false;
    if (rest == 0)
        return true;
    return ((addr[full] ^ p->addr[full]) & (0xffu << (8 - rest)) & 0xffu) == 0;
}

static const char *table_match(const struct prefix *t, size_t n,
                               const unsigned char *a)
{
    size_t i;

    for (i = 0; i < n; i++) {
        if (prefix_match(a, &t[i]))
            return t[i].name;
    }
    return NULL;
}

size_t dcv_addr_table_rows(int family)
{
    if (family == AF_INET)
        return N_V4;
    if (family == AF_INET6)
        return N_V6;
    return 0;
}

const char *dcv_addr_special(int family, const unsigned char *addr)
{
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0,
                                            0, 0,    0,    0,    0, 0};
    const char *name;

    if (family == AF_INET)
        return table_match(v4_table, N_V4, addr);
    if (family != AF_INET6)
        return "unknown address family";
    /* RFC 6052: a NAT64-translated address reaches the IPv4 address it
     * embeds, so it is special exactly when that address is. */
    if (memcmp(addr, nat64, 12) == 0) {
        if (table_match(v4_table, N_V4, addr + 12) != NULL)
            return "64:ff9b::/96 (translated special-purpose address)";
        return NULL;
    }
    name = table_match(v6_table, N_V6, addr);
    if (name != NULL)
        return name;
    /* IANA IPv6 Address Space: only 2000::/3 is global unicast. */
    if ((addr[0] & 0xe0) != 0x20)
        return "outside 2000::/3 (not global unicast)";
    return NULL;
}

const char *dcv_addr_special_text(const char *ip)
{
    unsigned char a[16];

    if (ip == NULL)
        return "unparseable";
    if (inet_pton(AF_INET, ip, a) == 1)
        return dcv_addr_special(AF_INET, a);
    if (inet_pton(AF_INET6, ip, a) == 1)
        return dcv_addr_special(AF_INET6, a);
    return "unparseable";
}
