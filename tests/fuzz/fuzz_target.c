/*
 * domain_or_ip_target preparation (mpic_target_parse: wildcard, IPv4,
 * IPv6, IDNA through libidn2). Properties: the prepared form is a fixed
 * point: parsing it again (with "*." for a wildcard) gives the same kind
 * and the same name, and reverse names can be built for addresses; an
 * accepted name is lower-case LDH (no '_'), has no Reserved LDH label but
 * XN-labels (BR 7.1.2.7.12), is not in an IP reverse zone, and is not a
 * number inet_aton(3) or a URL parser would read as an IPv4 address.
 */
#include "tests/fuzz/fuzz.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

#include "common/target.h"

static bool has_suffix(const char *name, const char *zone)
{
    size_t n = strlen(name);
    size_t z = strlen(zone);

    return (n == z && strcasecmp(name, zone) == 0) ||
           (n > z && name[n - z - 1] == '.' &&
            strcasecmp(name + n - z, zone) == 0);
}

static void check_name(const char *name)
{
    const char *last = strrchr(name, '.');
    struct in_addr a;
    size_t i = 0;

    last = last != NULL ? last + 1 : name;
    for (const char *p = name; *p != '\0'; p++)
        FUZZ_CHECK((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                   *p == '-' || *p == '.');
    for (const char *l = name; l != NULL;) {
        const char *dot = strchr(l, '.');
        size_t n = dot != NULL ? (size_t)(dot - l) : strlen(l);

        FUZZ_CHECK(n < 4 || l[2] != '-' || l[3] != '-' ||
                   strncmp(l, "xn", 2) == 0);
        l = dot != NULL ? dot + 1 : NULL;
    }
    FUZZ_CHECK(!has_suffix(name, "in-addr.arpa"));
    FUZZ_CHECK(!has_suffix(name, "ip6.arpa"));
    FUZZ_CHECK(inet_aton(name, &a) == 0);
    while (last[i] >= '0' && last[i] <= '9')
        i++;
    FUZZ_CHECK(last[i] != '\0');
    if (last[0] == '0' && last[1] == 'x') {
        for (i = 2; isxdigit((unsigned char)last[i]); i++)
            ;
        FUZZ_CHECK(last[i] != '\0');
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpic_target t;
    struct mpic_target again;
    char *in;
    char *why = NULL;
    char *why2 = NULL;
    char *re = NULL;
    char *rev = NULL;

    if (size > 4096)
        return 0;
    in = fuzz_cstr(data, size);
    memset(&t, 0, sizeof(t));
    memset(&again, 0, sizeof(again));
    if (mpic_target_parse(in, &t, &why) != 0) {
        FUZZ_CHECK(why != NULL);
        goto out;
    }
    FUZZ_CHECK(t.name != NULL && why == NULL);
    FUZZ_CHECK(strlen(t.name) <= 253 + 2);
    if (t.kind == MPIC_TARGET_DNS)
        check_name(t.name);
    else
        FUZZ_CHECK(!t.wildcard);
    re = xasprintf("%s%s", t.wildcard ? "*." : "", t.name);
    if (mpic_target_parse(re, &again, &why2) != 0) {
        fprintf(stderr, "prepared target %s refused: %s\n", re, why2);
        FUZZ_CHECK(0);
    }
    FUZZ_CHECK(again.kind == t.kind);
    FUZZ_CHECK(again.wildcard == t.wildcard);
    FUZZ_CHECK(strcmp(again.name, t.name) == 0);
    rev = mpic_target_reverse_name(&t);
    FUZZ_CHECK((rev != NULL) == (t.kind != MPIC_TARGET_DNS));
out:
    free(rev);
    free(re);
    free(why);
    free(why2);
    mpic_target_cleanup(&again);
    mpic_target_cleanup(&t);
    free(in);
    return 0;
}
