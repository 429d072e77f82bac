/*
 * A redirect Location as the DCV checker follows it
 * (dcv_redirect_resolve against the request URL, then dcv_url_host_port
 * on the result). Input: the base URL, a NUL byte, the Location (without
 * a NUL, a fixed base is used). Properties: an accepted redirect is an
 * http(s) URL whose host and port split, and the port is 80 or 443.
 */
#include "tests/fuzz/fuzz.h"

#include "common/err.h"
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
    const uint8_t *nul = memchr(data, '\0', size);
    char *base;
    char *loc;
    char *next = NULL;
    char *why = NULL;
    char *host = NULL;
    unsigned port = 0;

    if (nul != NULL) {
        base = fuzz_cstr(data, (size_t)(nul - data));
        loc = fuzz_cstr(nul + 1, size - (size_t)(nul - data) - 1);
    } else {
        base = xstrdup("http://example.com/.well-known/pki-validation/x");
        loc = fuzz_cstr(data, size);
    }
    if (dcv_redirect_resolve(base, loc, &next, &why) == MPIC_OK) {
        FUZZ_CHECK(next != NULL && why == NULL);
        FUZZ_CHECK(strncmp(next, "http://", 7) == 0 ||
                   strncmp(next, "https://", 8) == 0);
        FUZZ_CHECK(dcv_url_host_port(next, &host, &port) == MPIC_OK);
        FUZZ_CHECK(host != NULL && *host != '\0');
        FUZZ_CHECK(port == 80 || port == 443);
    } else {
        FUZZ_CHECK(next == NULL && why != NULL);
    }
    (void)dcv_redirect_status_ok((long)size);
    free(host);
    free(next);
    free(why);
    free(loc);
    free(base);
    return 0;
}
