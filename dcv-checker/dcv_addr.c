/*
 * The IANA IPv4 and IPv6 Special-Purpose Address Registries, as a table of
 * prefixes. A DCV fetch never connects to an address in one of these
 * blocks unless targets.allow_private_addresses is set: such addresses are
 * not the public Internet the Baseline Requirements validate against, and
 * reaching them would let a requester probe the checker's own network.
 * Blocks whose registry entry has globally-reachable exceptions
 * (2001::/23) are treated as special as a whole, conservatively. Blocks
 * that embed an IPv4 address (::ffff:0:0/96, 64:ff9b::/96, 2002::/16) are
 * special exactly when the embedded IPv4 address is.
 */
#include "dcv-checker/dcv.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

struct prefix {
    unsigned char addr[16];
    unsigned bits;
    const char *name;
};

static const struct prefix v4_table[] = {
    {{0, 0, 0, 0}, 8, "0.0.0.0/8 (this network)"},
    {{10, 0, 0, 0}, 8, "10.0.0.0/8 (private)"},
    {{100, 64, 0, 0}, 10, "100.64.0.0/10 (shared address space)"},
    {{127, 0, 0, 0}, 8, "127.0.0.0/8 (loopback)"},
    {{169, 254, 0, 0}, 16, "169.254.0.0/16 (link local)"},
    {{172, 16, 0, 0}, 12, "172.16.0.0/12 (private)"},
    {{192, 0, 0, 0}, 24, "192.0.0.0/24 (IETF protocol assignments)"},
    {{192, 0, 2, 0}, 24, "192.0.2.0/24 (documentation)"},
    {{192, 88, 99, 0}, 24, "192.88.99.0/24 (6to4 relay anycast)"},
    {{192, 168, 0, 0}, 16, "192.168.0.0/16 (private)"},
    {{198, 18, 0, 0}, 15, "198.18.0.0/15 (benchmarking)"},
    {{198, 51, 100, 0}, 24, "198.51.100.0/24 (documentation)"},
    {{203, 0, 113, 0}, 24, "203.0.113.0/24 (documentation)"},
    {{224, 0, 0, 0}, 4, "224.0.0.0/4 (multicast)"},
    {{240, 0, 0, 0}, 4, "240.0.0.0/4 (reserved)"},
    {{255, 255, 255, 255}, 32, "255.255.255.255/32 (limited broadcast)"},
};

static const struct prefix v6_table[] = {
    {{0}, 128, "::/128 (unspecified)"},
    {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
     128,
     "::1/128 (loopback)"},
    {{0x01, 0x00}, 64, "100::/64 (discard-only)"},
    {{0x00, 0x64, 0xff, 0x9b, 0x00, 0x01},
     48,
     "64:ff9b:1::/48 (local-use translation)"},
    {{0x20, 0x01, 0x00, 0x00}, 23, "2001::/23 (IETF protocol assignments)"},
    {{0x20, 0x01, 0x0d, 0xb8}, 32, "2001:db8::/32 (documentation)"},
    {{0xfc}, 7, "fc00::/7 (unique local)"},
    {{0xfe, 0x80}, 10, "fe80::/10 (link local)"},
    {{0xff}, 8, "ff00::/8 (multicast)"},
};

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

static const char *v4_special(const unsigned char *a)
{
    size_t i;

    for (i = 0; i < sizeof(v4_table) / sizeof(v4_table[0]); i++) {
        if (prefix_match(a, &v4_table[i]))
            return v4_table[i].name;
    }
    return NULL;
}

const char *dcv_addr_special(int family, const unsigned char *addr)
{
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0,    0,
                                             0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0,
                                            0, 0,    0,    0,    0, 0};
    size_t i;

    if (family == AF_INET)
        return v4_special(addr);
    if (family != AF_INET6)
        return "unknown address family";
    /*
     * Blocks that embed an IPv4 address are judged by that address: a
     * mapped or translated address reaches whatever the IPv4 one does.
     */
    if (memcmp(addr, mapped, 12) == 0) {
        if (v4_special(addr + 12) != NULL)
            return "::ffff:0:0/96 (IPv4-mapped special-purpose address)";
        return NULL;
    }
    if (memcmp(addr, nat64, 12) == 0) {
        if (v4_special(addr + 12) != NULL)
            return "64:ff9b::/96 (translated special-purpose address)";
        return NULL;
    }
    if (addr[0] == 0x20 && addr[1] == 0x02) {
        if (v4_special(addr + 2) != NULL)
            return "2002::/16 (6to4 of a special-purpose address)";
        return NULL;
    }
    for (i = 0; i < sizeof(v6_table) / sizeof(v6_table[0]); i++) {
        if (prefix_match(addr, &v6_table[i]))
            return v6_table[i].name;
    }
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
