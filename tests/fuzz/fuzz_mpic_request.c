/*
 * POST /mpic bodies (mpic_request_parse). Properties: a request the parser
 * accepts turns into a checker request whose encoding the checker's own
 * parser (mpic_check_request_parse) accepts again; an accepted DCV request
 * has a target its method can validate.
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
    struct mpic_request req;
    struct mpic_check_request creq;
    struct mpic_check_request back;
    struct mpic_errlist errs;
    struct mpic_errlist errs2;
    char *enc = NULL;

    memset(&req, 0, sizeof(req));
    memset(&creq, 0, sizeof(creq));
    memset(&back, 0, sizeof(back));
    mpic_errlist_init(&errs);
    mpic_errlist_init(&errs2);
    if (mpic_request_parse((const char *)data, size, &req, &errs) != MPIC_OK) {
        FUZZ_CHECK(errs.n > 0);
        goto out;
    }
    FUZZ_CHECK(errs.n == 0);
    if (req.check.check_type == MPIC_CHECK_DCV)
        fuzz_check_dcv_target(req.check.target, req.check.dcv.method);
    mpic_check_request_from_request(&creq, &req);
    enc = mpic_check_request_encode(&creq);
    FUZZ_CHECK(enc != NULL);
    if (mpic_check_request_parse(enc, strlen(enc), creq.check_type, &back,
                                 &errs2) != MPIC_OK) {
        fprintf(stderr, "re-encoded request refused: %s: %s\n", enc,
                errs2.n > 0 ? errs2.items[0].message : "?");
        FUZZ_CHECK(0);
    }
    FUZZ_CHECK(back.check_type == creq.check_type);
    FUZZ_CHECK(strcmp(back.target, creq.target) == 0);
out:
    free(enc);
    mpic_check_request_cleanup(&back);
    mpic_check_request_cleanup(&creq);
    mpic_request_cleanup(&req);
    mpic_errlist_cleanup(&errs2);
    mpic_errlist_cleanup(&errs);
    return 0;
}
