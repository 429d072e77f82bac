/*
 * POST /caa and /dcv bodies as a checker parses them
 * (mpic_check_request_parse), for both check types (the first byte picks
 * the checker). Properties: an accepted request re-encodes to a body the
 * parser accepts again, with the same target; an accepted DCV request has
 * a target its method can validate (no wildcard with the HTTP/TLS methods,
 * addresses only with the methods that take them).
 */
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/fuzz_model.h"

#include "common/err.h"
#include "common/model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpic_check_request req;
    struct mpic_check_request back;
    struct mpic_errlist errs;
    enum mpic_check_type type;
    char *enc = NULL;

    if (size < 1)
        return 0;
    type = (data[0] & 1) ? MPIC_CHECK_DCV : MPIC_CHECK_CAA;
    memset(&req, 0, sizeof(req));
    memset(&back, 0, sizeof(back));
    mpic_errlist_init(&errs);
    if (mpic_check_request_parse((const char *)data + 1, size - 1, type, &req,
                                 &errs) != MPIC_OK) {
        FUZZ_CHECK(errs.n > 0);
        goto out;
    }
    FUZZ_CHECK(req.check_type == type);
    if (type == MPIC_CHECK_DCV)
        fuzz_check_dcv_target(req.target, req.dcv.method);
    enc = mpic_check_request_encode(&req);
    FUZZ_CHECK(enc != NULL);
    if (mpic_check_request_parse(enc, strlen(enc), type, &back, &errs) !=
        MPIC_OK) {
        fprintf(stderr, "re-encoded request refused: %s: %s\n", enc,
                errs.n > 0 ? errs.items[0].message : "?");
        FUZZ_CHECK(0);
    }
    FUZZ_CHECK(strcmp(back.target, req.target) == 0);
out:
    free(enc);
    mpic_check_request_cleanup(&back);
    mpic_check_request_cleanup(&req);
    mpic_errlist_cleanup(&errs);
    return 0;
}
