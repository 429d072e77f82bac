/*
 * The BR calendar of the compliance policy (compliance.h): one table of
 * dated rules, each row with its BR section, and the decision the
 * coordinator applies to every request on the day it is made.
 */
#include "coordinator/compliance.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

/* ---- days ---------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static long days_from_civil(long y, unsigned m, unsigned d)
{
    long era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The UTC day of t (days since 1970-01-01), rounding towards the past. */
static long utc_day(time_t t)
{
    long long s = (long long)t;

    return (long)(s >= 0 ? s / 86400 : -((-s + 86399) / 86400));
}

/* "YYYY-MM-DD" to its day number; 0 and *out set, or -1. */
static int date_day(const char *s, long *out)
{
    unsigned y, m, d;
    int n = 0;
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30,
                                     31, 31, 30, 31, 30, 31};

    if (s == NULL || strlen(s) != 10 || strspn(s, "0123456789-") != 10 ||
        s[4] != '-' || s[7] != '-')
        return -1;
    if (sscanf(s, "%4u-%2u-%2u%n", &y, &m, &d, &n) != 3 || n != 10)
        return -1;
    if (m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
        return -1;
    if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return -1;
    *out = days_from_civil((long)y, m, d);
    return 0;
}

int mpic_compliance_parse_date(const char *s, time_t *out)
{
    long day;

    if (date_day(s, &day) != 0)
        return -1;
    *out = (time_t)day * 86400;
    return 0;
}

/* ---- the table ----------------------------------------------------------- */

/*
 * Minimum remote perspectives, BR 3.2.2.9 (Ballot SC-067): rows in date
 * order; before the first row the minimum is 2.
 */
#define BR_MIN_BEFORE 2

static const struct {
    const char *from; /* UTC day */
    long min;
} br_min_rows[] = {
    {"2026-03-15", 3}, /* BR 3.2.2.9 */
    {"2026-06-15", 4}, /* BR 3.2.2.9 */
    {"2026-12-15", 5}, /* BR 3.2.2.9 */
};

/*
 * Validation methods with sunset dates, BR 1.2.2 (Relevant Dates). NULL:
 * no such date.
 */
static const struct {
    enum mpic_dcv_method method;
    const char *br_section;
    const char *should_not_from;
    const char *must_not_from;
} br_sunset_rows[] = {
    /* BR 3.2.2.4.8 IP Address (SC-089): MUST NOT since 2026-03-15 */
    {MPIC_DCV_IP_ADDRESS, "3.2.2.4.8", NULL, "2026-03-15"},
    /* BR 3.2.2.4.16 Phone Contact with DNS TXT Record Phone Contact */
    {MPIC_DCV_CONTACT_PHONE_TXT, "3.2.2.4.16", "2026-03-15", "2027-03-15"},
    /* BR 3.2.2.4.17 Phone Contact with DNS CAA Phone Contact */
    {MPIC_DCV_CONTACT_PHONE_CAA, "3.2.2.4.17", "2026-03-15", "2027-03-15"},
    /* BR 3.2.2.5.3 Reverse Address Lookup */
    {MPIC_DCV_REVERSE_ADDRESS_LOOKUP, "3.2.2.5.3", NULL, "2027-03-15"},
    /* BR 3.2.2.4.14 Email to DNS TXT Contact */
    {MPIC_DCV_CONTACT_EMAIL_TXT, "3.2.2.4.14", "2026-03-15", "2028-03-15"},
    /* BR 3.2.2.4.13 Email to DNS CAA Contact */
    {MPIC_DCV_CONTACT_EMAIL_CAA, "3.2.2.4.13", "2026-03-15", "2028-03-15"},
};

#define N_ROWS(a) (sizeof(a) / sizeof((a)[0]))

/* True if the day of now is on or after the date s of the table. */
static bool reached(time_t now, const char *s)
{
    long day = 0;
    int rc;

    if (s == NULL)
        return false;
    rc = date_day(s, &day);
    /* The table's dates are literals checked by the unit tests. */
    MPIC_ASSERT(rc == 0);
    return utc_day(now) >= day;
}

long mpic_br_min_perspectives(time_t now, const char **since)
{
    long min = BR_MIN_BEFORE;
    const char *from = NULL;

    for (size_t i = 0; i < N_ROWS(br_min_rows); i++) {
        if (!reached(now, br_min_rows[i].from))
            break;
        min = br_min_rows[i].min;
        from = br_min_rows[i].from;
    }
    if (since != NULL)
        *since = from;
    return min;
}

long mpic_compliance_minimum(const struct mpic_compliance_policy *p, time_t now,
                             bool *from_config)
{
    bool cfg = p->min_perspective_count > 0;

    if (from_config != NULL)
        *from_config = cfg;
    return cfg ? p->min_perspective_count : mpic_br_min_perspectives(now, NULL);
}

void mpic_br_method_sunset(enum mpic_dcv_method m, time_t now,
                           struct mpic_sunset *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; i < N_ROWS(br_sunset_rows); i++) {
        if (br_sunset_rows[i].method != m)
            continue;
        out->must_not_from = br_sunset_rows[i].must_not_from;
        if (reached(now, br_sunset_rows[i].must_not_from)) {
            out->level = MPIC_SUNSET_MUST_NOT;
            out->since = br_sunset_rows[i].must_not_from;
        } else if (reached(now, br_sunset_rows[i].should_not_from)) {
            out->level = MPIC_SUNSET_SHOULD_NOT;
            out->since = br_sunset_rows[i].should_not_from;
        } else {
            return;
        }
        out->br_section = br_sunset_rows[i].br_section;
        return;
    }
}

/* ---- modes --------------------------------------------------------------- */

static const char *const sunset_mode_names[] = {
    [MPIC_SUNSET_ENFORCE] = "enforce",
    [MPIC_SUNSET_WARN] = "warn",
    [MPIC_SUNSET_OFF] = "off",
};

int mpic_sunset_mode_from_name(const char *s, enum mpic_sunset_mode *out)
{
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < N_ROWS(sunset_mode_names); i++) {
        if (strcmp(s, sunset_mode_names[i]) == 0) {
            *out = (enum mpic_sunset_mode)i;
            return 0;
        }
    }
    return -1;
}

const char *mpic_sunset_mode_name(enum mpic_sunset_mode m)
{
    if ((size_t)m >= N_ROWS(sunset_mode_names))
        return "unknown";
    return sunset_mode_names[m];
}

/* ---- the decision -------------------------------------------------------- */

static void method_sunset(const struct mpic_compliance_policy *p, time_t now,
                          enum mpic_dcv_method method,
                          struct mpic_errlist *issues,
                          struct mpic_errlist *warnings)
{
    const char *name = mpic_dcv_method_name(method);
    struct mpic_sunset s;

    if (p->method_sunsets == MPIC_SUNSET_OFF)
        return;
    mpic_br_method_sunset(method, now, &s);
    if (s.level == MPIC_SUNSET_NONE)
        return;
    if (s.level == MPIC_SUNSET_MUST_NOT) {
        if (p->method_sunsets == MPIC_SUNSET_ENFORCE) {
            mpic_errlist_add(issues, "validation-method-sunset",
                             "$.dcv_check_parameters.validation_method: %s "
                             "(BR %s) MUST NOT be used since %s (BR 1.2.2)",
                             name, s.br_section, s.since);
            return;
        }
        mpic_errlist_add(warnings, "validation-method-sunset",
                         "%s (BR %s) MUST NOT be used since %s (BR 1.2.2); "
                         "served because compliance.method_sunsets is warn",
                         name, s.br_section, s.since);
        return;
    }
    mpic_errlist_add(warnings, "validation-method-sunset",
                     "%s (BR %s) SHOULD NOT be used since %s and MUST NOT "
                     "from %s (BR 1.2.2)",
                     name, s.br_section, s.since, s.must_not_from);
}

enum mpic_compliance_verdict
mpic_compliance_decide(const struct mpic_compliance_policy *p, time_t now,
                       const struct mpic_compliance_request *q,
                       struct mpic_errlist *issues,
                       struct mpic_errlist *warnings, char **why)
{
    size_t issues_before = issues->n;
    bool from_config;
    long min = mpic_compliance_minimum(p, now, &from_config);
    const char *source = from_config ? "compliance.min_perspective_count"
                                     : "BR 3.2.2.9 on this day";

    /* Below 2 is out of range whatever the day: the caller's range check
     * (invalid-perspective-count) answers for it. */
    if (q->perspective_count >= 2 && q->perspective_count < min)
        mpic_errlist_add(issues, "perspective-count-below-minimum",
                         "$.orchestration_parameters.perspective_count: %ld "
                         "is below the minimum of %ld remote perspectives "
                         "(%s)",
                         q->perspective_count, min, source);
    if (q->is_dcv)
        method_sunset(p, now, q->method, issues, warnings);
    if (issues->n > issues_before)
        return MPIC_COMPLIANCE_REFUSED;
    if (q->perspective_count < 0 && q->default_perspective_count < min) {
        *why = xasprintf("default_perspective_count %ld is below the minimum "
                         "of %ld remote perspectives (%s); raise "
                         "default_perspective_count, or send "
                         "orchestration_parameters.perspective_count",
                         q->default_perspective_count, min, source);
        return MPIC_COMPLIANCE_UNAVAILABLE;
    }
    return MPIC_COMPLIANCE_OK;
}
