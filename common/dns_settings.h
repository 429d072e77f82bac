/*
 * The dns: section of a checker's configuration (INTERFACE.md), on its own
 * so that the DNS client (dns.c) does not depend on the whole config.h.
 */
#ifndef MPIC_COMMON_DNS_SETTINGS_H
#define MPIC_COMMON_DNS_SETTINGS_H

#include "common/strv.h"

struct mpic_dns_settings {
    struct mpic_strv resolvers; /* "IP" or "IP:PORT" / "[v6]:PORT" */
    unsigned timeout_ms;        /* per try; default 2000 */
    unsigned tries;             /* default 3 */
};

#endif
