/*
 * CAA values with parameters through the decision (caa_decide), with the
 * record bytes under the fuzzer's control (NULs, odd tags, long values)
 * rather than only what survives DNS wire decoding. Input layout:
 *   byte 0: options (bit 0 wildcard, bit 1 S/MIME, bit 2 account_uri,
 *           bit 3 validation_method "dns-01", bit 4 caa.rfc8657 lenient,
 *           bit 5 validation_method "acme-dns-01" when bit 3 is clear)
 *   then records: flags (1), tag length (1), tag, value length (2, big
 *   endian), value; a short record ends the list.
 */
#include "tests/fuzz/fuzz.h"

#include "caa-checker/caa_decide.h"
#include "common/caa_tree.h"
#include "common/strv.h"

#define FUZZ_MAX_RECORDS 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct caa_record *recs;
    struct mpic_strv domains;
    struct caa_decide_input in;
    size_t n = 0;
    size_t pos = 1;
    char *reason = NULL;
    bool ok;

    if (size < 1)
        return 0;
    recs = xcalloc(FUZZ_MAX_RECORDS, sizeof(*recs));
    while (n < FUZZ_MAX_RECORDS && pos + 2 <= size) {
        size_t tl = data[pos + 1];
        size_t vl;

        if (pos + 2 + tl + 2 > size)
            break;
        vl = ((size_t)data[pos + 2 + tl] << 8) | data[pos + 3 + tl];
        if (pos + 4 + tl + vl > size)
            break;
        recs[n].flags = data[pos];
        recs[n].tag = fuzz_cstr(data + pos + 2, tl);
        recs[n].tag_len = tl; /* may hold NULs (RFC 8659 4.1) */
        recs[n].value = fuzz_cstr(data + pos + 4 + tl, vl);
        recs[n].value_len = vl;
        n++;
        pos += 4 + tl + vl;
    }
    mpic_strv_init(&domains);
    mpic_strv_push(&domains, "ca.example");
    mpic_strv_push(&domains, "other-ca.example");
    memset(&in, 0, sizeof(in));
    in.wildcard = (data[0] & 1) != 0;
    in.cert_type = (data[0] & 2) ? MPIC_CERT_SMIME : MPIC_CERT_TLS_SERVER;
    in.caa_domains = &domains;
    in.account_uri = (data[0] & 4) ? "https://ca.example/acct/1" : NULL;
    in.validation_method = (data[0] & 8)    ? "dns-01"
                           : (data[0] & 32) ? "acme-dns-01"
                                            : NULL;
    in.rfc8657_lenient = (data[0] & 16) != 0;
    ok = caa_decide(recs, n, &in, &reason);
    /* No records at all: nothing forbids issuance (RFC 8659 §3). */
    if (n == 0)
        FUZZ_CHECK(ok);
    free(reason);
    mpic_strv_cleanup(&domains);
    caa_records_free(recs, n);
    return 0;
}
