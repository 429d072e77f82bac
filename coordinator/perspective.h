/*
 * One perspective of the coordinator's configuration (INTERFACE.md,
 * available_perspectives.yaml): its code, name, RIR, the codes too close to
 * it and its checkers' URLs and headers. On its own so that the cohort
 * rules (cohort.h) do not depend on the whole configuration.
 */
#ifndef MPIC_COORDINATOR_PERSPECTIVE_H
#define MPIC_COORDINATOR_PERSPECTIVE_H

#include <stddef.h>

#include "common/strv.h"

struct mpic_header; /* common/model.h */

enum mpic_rir {
    MPIC_RIR_ARIN = 0,
    MPIC_RIR_RIPE_NCC,
    MPIC_RIR_APNIC,
    MPIC_RIR_LACNIC,
    MPIC_RIR_AFRINIC,
    MPIC_RIR_COUNT
};

/* Case-insensitive; "RIPE NCC" (with its space) and "ripe-ncc". 0 or -1. */
int mpic_rir_from_name(const char *s, enum mpic_rir *out);
const char *mpic_rir_name(enum mpic_rir r); /* "arin", "ripe ncc", ... */

/* Replicas of one perspective's checker, at most (docs/failover.md). */
#define MPIC_MAX_REPLICAS 8

struct mpic_perspective {
    char *code;
    char *name;
    enum mpic_rir rir;
    struct mpic_strv too_close_codes;
    char *dcv_url; /* NULL if this perspective has no DCV checker */
    char *caa_url; /* NULL if this perspective has no CAA checker */
    /* Every replica of the perspective's checker, dcv_url (caa_url) first:
     * `dcv_url: [URL, URL]` (docs/failover.md). Empty when the URL is. */
    struct mpic_strv dcv_urls;
    struct mpic_strv caa_urls;
    struct mpic_header *headers; /* sent with every call */
    size_t n_headers;
};

#endif
