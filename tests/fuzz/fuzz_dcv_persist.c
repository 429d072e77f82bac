/*
 * dns-persistent TXT records (dcv-checker/dcv_persist.c): the parser and
 * the verdict against a fixed request. Properties: a record that parses
 * has an issuer and an accounturi, and the verdict calls a record that
 * does not parse malformed.
 */
#include "tests/fuzz/fuzz.h"

#include "common/err.h"
#include "common/strv.h"
#include "dcv-checker/dcv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct dcv_persist_record rec;
    struct mpic_strv issuers;
    enum dcv_persist_verdict v;
    char *why = NULL;
    enum mpic_err rc;

    memset(&rec, 0, sizeof(rec));
    rc = dcv_persist_parse((const char *)data, size, &rec, &why);
    if (rc == MPIC_OK) {
        FUZZ_CHECK(rec.issuer != NULL && rec.accounturi != NULL);
        FUZZ_CHECK(why == NULL);
    } else {
        FUZZ_CHECK(why != NULL);
    }
    mpic_strv_init(&issuers);
    mpic_strv_push(&issuers, "ca.example");
    v = dcv_persist_evaluate((const char *)data, size, &issuers,
                             "https://ca.example/acct/1", (size & 1) != 0,
                             1700000000);
    FUZZ_CHECK(dcv_persist_verdict_name(v) != NULL);
    if (rc != MPIC_OK)
        FUZZ_CHECK(v == DCV_PERSIST_MALFORMED);
    mpic_strv_cleanup(&issuers);
    free(why);
    dcv_persist_record_cleanup(&rec);
    return 0;
}
