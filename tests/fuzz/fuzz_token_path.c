/*
 * The file name of the HTTP DCV methods: token (acme-http-01) and
 * http_token_path (website-change) as a checker decodes them from POST
 * /dcv (mpic_check_request_parse). Input: byte 0 picks the method (even:
 * website-change, odd: acme-http-01), the rest is the value. Property: an
 * accepted value makes a URL (built as the checker builds it) whose path,
 * as libcurl parses it, is exactly the well-known directory plus the
 * value, one segment, with no query and no fragment: the fetched file is
 * the one the BR names (3.2.2.4.18, .19).
 */
#include "tests/fuzz/fuzz.h"

#include <curl/curl.h>
#include <jansson.h>

#include "common/err.h"
#include "common/model.h"
#include "dcv-checker/dcv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

static void check_url(const char *dir, const char *value)
{
    CURLU *u = curl_url();
    char *path = xasprintf("%s%s", dir, value);
    char *url = dcv_url_build("http", "example.com", path);
    char *got = NULL;
    char *part = NULL;

    FUZZ_CHECK(u != NULL);
    FUZZ_CHECK(strchr(value, '/') == NULL);
    if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK) {
        fprintf(stderr, "accepted value makes a bad URL: %s\n", url);
        FUZZ_CHECK(0);
    }
    FUZZ_CHECK(curl_url_get(u, CURLUPART_PATH, &got, 0) == CURLUE_OK);
    if (strcmp(got, path) != 0) {
        fprintf(stderr, "URL %s fetches path %s\n", url, got);
        FUZZ_CHECK(0);
    }
    FUZZ_CHECK(curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_NO_QUERY);
    FUZZ_CHECK(curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) ==
               CURLUE_NO_FRAGMENT);
    FUZZ_CHECK(curl_url_get(u, CURLUPART_HOST, &part, 0) == CURLUE_OK);
    FUZZ_CHECK(strcmp(part, "example.com") == 0);
    curl_free(part);
    curl_free(got);
    curl_url_cleanup(u);
    free(url);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpic_check_request req;
    struct mpic_errlist errs;
    json_t *root;
    json_t *params;
    json_t *value;
    bool http01;
    char *body = NULL;

    if (size < 1 || size > 4096)
        return 0;
    http01 = (data[0] & 1) != 0;
    /* JSON strings are UTF-8: anything else never reaches the parser. */
    value = json_stringn((const char *)data + 1, size - 1);
    if (value == NULL)
        return 0;
    params = json_object();
    if (http01) {
        json_object_set_new(params, "validation_method",
                            json_string("acme-http-01"));
        json_object_set_new(params, "token", value);
        json_object_set_new(params, "key_authorization", json_string("k"));
    } else {
        json_object_set_new(params, "validation_method",
                            json_string("website-change"));
        json_object_set_new(params, "http_token_path", value);
        json_object_set_new(params, "challenge_value", json_string("c"));
    }
    root = json_object();
    json_object_set_new(root, "domain_or_ip_target",
                        json_string("example.com"));
    json_object_set_new(root, "dcv_check_parameters", params);
    body = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    FUZZ_CHECK(body != NULL);

    memset(&req, 0, sizeof(req));
    mpic_errlist_init(&errs);
    if (mpic_check_request_parse(body, strlen(body), MPIC_CHECK_DCV, &req,
                                 &errs) != MPIC_OK) {
        FUZZ_CHECK(errs.n > 0);
        goto out;
    }
    if (http01) {
        FUZZ_CHECK(req.dcv.token != NULL);
        for (const char *p = req.dcv.token; *p != '\0'; p++)
            FUZZ_CHECK((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                       (*p >= '0' && *p <= '9') || *p == '-' || *p == '_');
        check_url("/.well-known/acme-challenge/", req.dcv.token);
    } else {
        FUZZ_CHECK(req.dcv.http_token_path != NULL);
        check_url("/.well-known/pki-validation/", req.dcv.http_token_path);
    }
out:
    free(body);
    mpic_check_request_cleanup(&req);
    mpic_errlist_cleanup(&errs);
    return 0;
}
