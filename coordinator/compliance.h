/*
 * The coordinator's compliance policy (open-mpic-api.md section 9): the
 * dated rules of the CA/B Forum Baseline Requirements that an MPIC request
 * must meet on the day it is made, in one table (compliance.c) with the BR
 * section beside each row.
 *
 * - The minimum number of remote perspectives (BR 3.2.2.9).
 * - Validation methods that the BR sunset (BR 1.2.2): past a SHOULD NOT
 *   date a method is served and flagged, past a MUST NOT date refused.
 *
 * Everything here is pure: the time is a parameter, so tests inject a
 * clock. Days are UTC days; a rule "from D" applies from 00:00 UTC on D.
 */
#ifndef MPIC_COORDINATOR_COMPLIANCE_H
#define MPIC_COORDINATOR_COMPLIANCE_H

#include <stdbool.h>
#include <time.h>

#include "common/err.h"
#include "common/model.h"

/* compliance.method_sunsets */
enum mpic_sunset_mode {
    MPIC_SUNSET_ENFORCE = 0, /* refuse MUST NOT, flag SHOULD NOT */
    MPIC_SUNSET_WARN,        /* serve everything, flag every sunset */
    MPIC_SUNSET_OFF,         /* neither refuse nor flag */
};

/* What the BR say of a method on a given day. */
enum mpic_sunset_level {
    MPIC_SUNSET_NONE = 0,
    MPIC_SUNSET_SHOULD_NOT,
    MPIC_SUNSET_MUST_NOT,
};

/* The policy of a coordinator (its compliance: keys). */
struct mpic_compliance_policy {
    long min_perspective_count; /* 0: auto (the BR calendar) */
    enum mpic_sunset_mode method_sunsets;
};

/* "enforce", "warn", "off"; 0 and *out set, or -1. */
int mpic_sunset_mode_from_name(const char *s, enum mpic_sunset_mode *out);
const char *mpic_sunset_mode_name(enum mpic_sunset_mode m);

/*
 * The BR minimum of remote perspectives in force at now (BR 3.2.2.9): 2
 * before 2026-03-15, then 3, 4 from 2026-06-15, 5 from 2026-12-15. If
 * since is not NULL it receives the date ("YYYY-MM-DD", static) from
 * which that minimum applies, or NULL for the time before the first row.
 */
long mpic_br_min_perspectives(time_t now, const char **since);

/*
 * The minimum the policy applies at now: its integer, or (auto) the BR
 * minimum of that day. *from_config (if not NULL) tells which.
 */
long mpic_compliance_minimum(const struct mpic_compliance_policy *p, time_t now,
                             bool *from_config);

/* The BR's word on a DCV method at now (BR 1.2.2). */
struct mpic_sunset {
    enum mpic_sunset_level level;
    const char *br_section;    /* "3.2.2.4.8", ...; NULL if level is NONE */
    const char *since;         /* the date the level applies from (static) */
    const char *must_not_from; /* the MUST NOT date, past or future */
};

void mpic_br_method_sunset(enum mpic_dcv_method m, time_t now,
                           struct mpic_sunset *out);

enum mpic_compliance_verdict {
    MPIC_COMPLIANCE_OK = 0,      /* serve (perhaps with warnings) */
    MPIC_COMPLIANCE_REFUSED,     /* 400: issues say why */
    MPIC_COMPLIANCE_UNAVAILABLE, /* 503: the default is below the minimum */
};

/* One request as the policy sees it. */
struct mpic_compliance_request {
    long perspective_count; /* as requested; -1: the default */
    long default_perspective_count;
    bool is_dcv;
    enum mpic_dcv_method method; /* if is_dcv */
};

/*
 * Applies policy p at now to request q. A requested perspective_count
 * (of at least 2: less is out of range, which the caller checks) below
 * the minimum adds a `perspective-count-below-minimum` issue; a
 * method past its MUST NOT date (enforce) a `validation-method-sunset`
 * issue; either gives REFUSED. A request that relies on a default below
 * the minimum gives UNAVAILABLE with the reason in *why (owned; free()),
 * unless it is refused anyway. Sunsets to flag go to warnings (type
 * `validation-method-sunset`). *why is set only for UNAVAILABLE.
 */
enum mpic_compliance_verdict
mpic_compliance_decide(const struct mpic_compliance_policy *p, time_t now,
                       const struct mpic_compliance_request *q,
                       struct mpic_errlist *issues,
                       struct mpic_errlist *warnings, char **why);

/* "YYYY-MM-DD" to a time_t at 00:00 UTC; 0 and *out set, or -1. */
int mpic_compliance_parse_date(const char *s, time_t *out);

#endif
