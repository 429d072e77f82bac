/*
 * domain_or_ip_target preparation (mpic_target_parse: wildcard, IPv4,
 * IPv6, IDNA through libidn2). Property: the prepared form is a fixed
 * point: parsing it again (with "*." for a wildcard) gives the same kind
 * and the same name, and reverse names can be built for addresses.
 */
#include "tests/fuzz/fuzz.h"

#include "common/target.h"

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
