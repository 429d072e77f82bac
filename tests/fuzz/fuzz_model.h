/*
 * A property shared by the request fuzz targets (fuzz_mpic_request.c,
 * fuzz_check_request.c): an accepted DCV request has a target its method
 * can validate (open-mpic-api.md 6, "Targets per method").
 */
#ifndef MPIC_TESTS_FUZZ_MODEL_H
#define MPIC_TESTS_FUZZ_MODEL_H

#include "tests/fuzz/fuzz.h"

#include "common/model.h"
#include "common/target.h"

static inline void fuzz_check_dcv_target(const char *target,
                                         enum mpic_dcv_method m)
{
    struct mpic_target t;
    char *why = NULL;
    bool ip_method =
        m == MPIC_DCV_WEBSITE_CHANGE || m == MPIC_DCV_ACME_HTTP_01 ||
        m == MPIC_DCV_ACME_TLS_ALPN_01 || m == MPIC_DCV_REVERSE_ADDRESS_LOOKUP;
    bool wildcard_method = !ip_method && m != MPIC_DCV_IP_ADDRESS;

    memset(&t, 0, sizeof(t));
    FUZZ_CHECK(mpic_target_parse(target, &t, &why) == 0);
    if (t.kind != MPIC_TARGET_DNS)
        FUZZ_CHECK(ip_method);
    else
        FUZZ_CHECK(m != MPIC_DCV_REVERSE_ADDRESS_LOOKUP);
    if (t.wildcard)
        FUZZ_CHECK(wildcard_method);
    mpic_target_cleanup(&t);
    free(why);
}

#endif
