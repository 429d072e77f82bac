/*
 * A checker's answer as the coordinator parses it
 * (mpic_check_response_parse); the first byte picks the expected check
 * type. Property: an accepted response, encoded the way the coordinator
 * echoes it, parses again with the same verdict.
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

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
    struct mpic_check_response resp;
    struct mpic_check_response back;
    enum mpic_check_type type;
    json_t *j = NULL;
    char *enc = NULL;
    char *why = NULL;

    if (size < 1)
        return 0;
    type = (data[0] & 1) ? MPIC_CHECK_DCV : MPIC_CHECK_CAA;
    memset(&resp, 0, sizeof(resp));
    memset(&back, 0, sizeof(back));
    if (mpic_check_response_parse((const char *)data + 1, size - 1, type, &resp,
                                  &why) != MPIC_OK) {
        FUZZ_CHECK(why != NULL);
        goto out;
    }
    FUZZ_CHECK(why == NULL);
    FUZZ_CHECK(resp.check_type == type);
    j = mpic_check_response_to_json(&resp);
    FUZZ_CHECK(j != NULL);
    enc = json_dumps(j, JSON_COMPACT);
    FUZZ_CHECK(enc != NULL);
    if (mpic_check_response_parse(enc, strlen(enc), type, &back, &why) !=
        MPIC_OK) {
        fprintf(stderr, "re-encoded response refused: %s: %s\n", enc, why);
        FUZZ_CHECK(0);
    }
    FUZZ_CHECK(back.check_passed == resp.check_passed);
    FUZZ_CHECK(back.check_completed == resp.check_completed);
out:
    free(why);
    free(enc);
    json_decref(j);
    mpic_check_response_cleanup(&back);
    mpic_check_response_cleanup(&resp);
    return 0;
}
