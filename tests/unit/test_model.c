/*
 * Unit tests for common/model.c: reference-wire round trips, every
 * validation issue of POST /mpic, defaults in the echo, check responses.
 */
#include "common/model.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* ---- helpers ---- */

static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[512];
    FILE *f;
    char *buf;
    long n;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    f = fopen(path, "rb");
    if (f == NULL)
        print_error("cannot open %s\n", path);
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    n = ftell(f);
    assert_true(n > 0);
    rewind(f);
    buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void print_issues(const struct mpic_errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_error("  issue %s: %s\n", errs->items[i].type,
                    errs->items[i].message);
}

static void parse_ok(const char *body, struct mpic_request *req)
{
    struct mpic_errlist errs;
    enum mpic_err rc;

    mpic_errlist_init(&errs);
    rc = mpic_request_parse(body, strlen(body), req, &errs);
    if (rc != MPIC_OK) {
        print_error("unexpected failure for %s\n", body);
        print_issues(&errs);
    }
    assert_int_equal(rc, MPIC_OK);
    assert_int_equal(errs.n, 0);
    mpic_errlist_cleanup(&errs);
}

/*
 * Expects `body` to be refused with an issue of `type` whose message
 * contains `fragment`; returns the number of issues.
 */
static size_t expect_issue(const char *body, const char *type,
                           const char *fragment)
{
    struct mpic_request req;
    struct mpic_errlist errs;
    enum mpic_err rc;
    bool found = false;
    size_t n;

    mpic_errlist_init(&errs);
    rc = mpic_request_parse(body, strlen(body), &req, &errs);
    for (size_t i = 0; i < errs.n; i++) {
        if (strcmp(errs.items[i].type, type) == 0 &&
            strstr(errs.items[i].message, fragment) != NULL)
            found = true;
    }
    if (rc == MPIC_OK || !found) {
        print_error("body %s: wanted %s \"%s\"\n", body, type, fragment);
        print_issues(&errs);
    }
    assert_int_equal(rc, MPIC_ERR_INVALID);
    assert_true(found);
    /* Nothing leaks out on failure. */
    assert_null(req.check.target);
    assert_null(req.check.trace_id);
    n = errs.n;
    mpic_errlist_cleanup(&errs);
    return n;
}

static void assert_json_equal_str(json_t *got, const char *want)
{
    json_error_t jerr;
    json_t *w = json_loads(want, 0, &jerr);

    assert_non_null(w);
    assert_non_null(got);
    if (!json_equal(got, w)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        char *x = json_dumps(w, JSON_SORT_KEYS);

        print_error("got  %s\nwant %s\n", g, x);
        free(g);
        free(x);
        fail();
    }
    json_decref(w);
}

/* The DCV echo of a POST /mpic for `target` and `params`. */
static void expect_dcv_echo(const char *target, const char *params,
                            const char *echo)
{
    char body[2048];
    struct mpic_request req;
    json_t *j;

    snprintf(body, sizeof(body),
             "{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"%s\","
             "\"dcv_check_parameters\":%s}",
             target, params);
    parse_ok(body, &req);
    j = mpic_dcv_params_to_json(&req.check.dcv);
    assert_json_equal_str(j, echo);
    json_decref(j);
    mpic_request_cleanup(&req);
}

static void expect_dcv_issue(const char *target, const char *params,
                             const char *type, const char *fragment)
{
    char body[2048];

    snprintf(body, sizeof(body),
             "{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"%s\","
             "\"dcv_check_parameters\":%s}",
             target, params);
    expect_issue(body, type, fragment);
}

/* An ip-address challenge that is no address is checked (and fails) at the
 * checker, not refused: the API compliance suite expects a 200. */
static void test_ip_address_challenge_not_an_address_is_accepted(void **state)
{
    struct mpic_request req;

    (void)state;
    parse_ok("{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"a.example\","
             "\"dcv_check_parameters\":{\"validation_method\":\"ip-address\","
             "\"challenge_value\":\"2001:4860:4860:0:0:0:0:0:8889\","
             "\"dns_record_type\":\"AAAA\"}}",
             &req);
    assert_string_equal(req.check.dcv.challenge_value,
                        "2001:4860:4860:0:0:0:0:0:8889");
    mpic_request_cleanup(&req);
}

static void expect_orch_issue(const char *orch, const char *fragment)
{
    char body[1024];

    snprintf(body, sizeof(body),
             "{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.example\","
             "\"orchestration_parameters\":%s}",
             orch);
    expect_issue(body, "invalid-orchestration-parameters", fragment);
}

/* ---- names ---- */

static void test_names(void **state)
{
    enum mpic_dcv_method m;
    enum mpic_rrtype t;

    (void)state;
    for (int i = 0; i < MPIC_DCV_METHOD_COUNT; i++) {
        const char *name = mpic_dcv_method_name((enum mpic_dcv_method)i);

        assert_int_equal(mpic_dcv_method_from_name(name, &m), 0);
        assert_int_equal(m, i);
    }
    assert_string_equal(mpic_dcv_method_name(MPIC_DCV_ACME_TLS_ALPN_01),
                        "acme-tls-alpn-01");
    assert_string_equal(mpic_dcv_method_name(MPIC_DCV_DNS_ACCOUNT_01),
                        "dns-account-01");
    assert_int_equal(mpic_dcv_method_from_name("http-01", &m), -1);
    assert_int_equal(mpic_dcv_method_from_name(NULL, &m), -1);
    assert_string_equal(mpic_check_type_name(MPIC_CHECK_CAA), "caa");
    assert_string_equal(mpic_check_type_name(MPIC_CHECK_DCV), "dcv");
    assert_int_equal(mpic_rrtype_from_name("CAA", &t), 0);
    assert_int_equal(t, MPIC_RR_CAA);
    assert_string_equal(mpic_rrtype_name(MPIC_RR_AAAA), "AAAA");
    assert_int_equal(mpic_rrtype_from_name("MX", &t), -1);
    assert_int_equal(mpic_rrtype_from_name("txt", &t), -1);
}

/* ---- reference-wire round trips ---- */

static void roundtrip_request(const char *name, enum mpic_check_type ct)
{
    struct mpic_check_request req;
    struct mpic_errlist errs;
    json_error_t jerr;
    json_t *got;
    size_t len;
    char *body = slurp(MPIC_SHARED_FIXTURES_DIR, name, &len);
    char *enc;
    enum mpic_err rc;

    mpic_errlist_init(&errs);
    rc = mpic_check_request_parse(body, len, ct, &req, &errs);
    if (rc != MPIC_OK) {
        print_error("%s\n", name);
        print_issues(&errs);
    }
    assert_int_equal(rc, MPIC_OK);
    assert_int_equal(req.check_type, ct);
    enc = mpic_check_request_encode(&req);
    assert_non_null(enc);
    got = json_loads(enc, 0, &jerr);
    if (got == NULL)
        print_error("%s re-encoded as %s\n", name, enc);
    assert_json_equal_str(got, body);
    json_decref(got);
    free(enc);
    free(body);
    mpic_check_request_cleanup(&req);
    mpic_errlist_cleanup(&errs);
}

static void test_fixture_requests(void **state)
{
    static const char *const dcv[] = {
        "dcv-request-acme-dns-01.json",
        "dcv-request-acme-http-01.json",
        "dcv-request-acme-tls-alpn-01.json",
        "dcv-request-contact-email-caa.json",
        "dcv-request-dns-change.json",
        "dcv-request-dns-persistent.json",
        "dcv-request-ip-address.json",
        "dcv-request-website-change.json",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(dcv) / sizeof(dcv[0]); i++)
        roundtrip_request(dcv[i], MPIC_CHECK_DCV);
    roundtrip_request("caa-request.json", MPIC_CHECK_CAA);
    roundtrip_request("caa-request-minimal.json", MPIC_CHECK_CAA);
}

static void roundtrip_response(const char *name, enum mpic_check_type ct)
{
    struct mpic_check_response resp;
    char *why = NULL;
    size_t len;
    char *body = slurp(MPIC_SHARED_FIXTURES_DIR, name, &len);
    json_t *got;

    assert_int_equal(mpic_check_response_parse(body, len, ct, &resp, &why),
                     MPIC_OK);
    assert_null(why);
    assert_int_equal(resp.timestamp_ns, 1763790000123456789LL);
    got = mpic_check_response_to_json(&resp);
    assert_json_equal_str(got, body);
    json_decref(got);
    mpic_check_response_cleanup(&resp);
    free(body);
}

static void test_fixture_responses(void **state)
{
    (void)state;
    roundtrip_response("caa-response-absent.json", MPIC_CHECK_CAA);
    roundtrip_response("caa-response-denied.json", MPIC_CHECK_CAA);
    roundtrip_response("caa-response-lookup-error.json", MPIC_CHECK_CAA);
    roundtrip_response("dcv-response-dns-lookup-error.json", MPIC_CHECK_DCV);
    roundtrip_response("dcv-response-dns-passed.json", MPIC_CHECK_DCV);
    roundtrip_response("dcv-response-http-404.json", MPIC_CHECK_DCV);
    roundtrip_response("dcv-response-http-passed.json", MPIC_CHECK_DCV);
    roundtrip_response("dcv-response-tls-alpn-passed.json", MPIC_CHECK_DCV);
}

static void test_fixture_response_details(void **state)
{
    struct mpic_check_response resp;
    char *why = NULL;
    size_t len;
    char *body =
        slurp(MPIC_SHARED_FIXTURES_DIR, "caa-response-lookup-error.json", &len);

    (void)state;
    assert_int_equal(
        mpic_check_response_parse(body, len, MPIC_CHECK_CAA, &resp, &why),
        MPIC_OK);
    assert_false(resp.check_passed);
    assert_false(resp.check_completed);
    assert_true(resp.errors_present);
    assert_int_equal(resp.errors.n, 1);
    assert_string_equal(resp.errors.items[0].type,
                        "mpic_error:caa_checker:lookup");
    assert_non_null(strstr(resp.errors.items[0].message, "timed out"));
    assert_true(json_is_null(json_object_get(resp.details, "found_at")));
    mpic_check_response_cleanup(&resp);
    free(body);
}

/* ---- POST /mpic: accepted requests and the echo ---- */

static void test_request_caa_full(void **state)
{
    struct mpic_request req;
    json_t *j;

    (void)state;
    parse_ok("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"*.Example."
             "com\",\"trace_identifier\":\"t-1\",\"unknown\":1,"
             "\"orchestration_parameters\":{\"perspective_count\":6,"
             "\"quorum_count\":5,\"max_attempts\":3,"
             "\"cohort_for_single_attempt\":2},"
             "\"caa_check_parameters\":{\"certificate_type\":\"s-mime\","
             "\"caa_domains\":[\"ca.example\",\"ca2.example\"],"
             "\"allow_lookup_failure\":true,\"account_uri\":"
             "\"https://ca.example/acct/1\",\"validation_method\":"
             "\"dns-01\"},\"dcv_check_parameters\":\"ignored for caa\"}",
             &req);
    assert_int_equal(req.check.check_type, MPIC_CHECK_CAA);
    assert_string_equal(req.check.target, "*.Example.com");
    assert_string_equal(req.check.trace_id, "t-1");
    assert_true(req.orch.present);
    assert_int_equal(req.orch.perspective_count, 6);
    assert_int_equal(req.orch.quorum_count, 5);
    assert_int_equal(req.orch.max_attempts, 3);
    assert_int_equal(req.orch.cohort_for_single_attempt, 2);
    assert_true(req.check.has_caa_params);
    assert_int_equal(req.check.caa.certificate_type, MPIC_CERT_SMIME);
    assert_int_equal(req.check.caa.caa_domains.n, 2);
    assert_string_equal(req.check.caa.caa_domains.v[1], "ca2.example");
    assert_true(req.check.caa.allow_lookup_failure);
    assert_string_equal(req.check.caa.account_uri, "https://ca.example/acct/1");
    assert_string_equal(req.check.caa.validation_method, "dns-01");
    j = mpic_caa_params_to_json(&req.check.caa);
    assert_json_equal_str(
        j, "{\"certificate_type\":\"s-mime\",\"caa_domains\":[\"ca.example\","
           "\"ca2.example\"],\"allow_lookup_failure\":true,\"account_uri\":"
           "\"https://ca.example/acct/1\",\"validation_method\":\"dns-01\"}");
    json_decref(j);
    j = mpic_orch_params_to_json(&req.orch);
    assert_json_equal_str(j, "{\"perspective_count\":6,\"quorum_count\":5,"
                             "\"max_attempts\":3,"
                             "\"cohort_for_single_attempt\":2}");
    json_decref(j);
    mpic_request_cleanup(&req);
    assert_null(req.check.target);
}

static void test_request_caa_minimal(void **state)
{
    struct mpic_request req;
    json_t *j;

    (void)state;
    parse_ok("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"192.0.2.1\","
             "\"trace_identifier\":null,\"orchestration_parameters\":null,"
             "\"caa_check_parameters\":null}",
             &req);
    assert_null(req.check.trace_id);
    assert_false(req.orch.present);
    assert_int_equal(req.orch.perspective_count, -1);
    assert_int_equal(req.orch.quorum_count, -1);
    assert_int_equal(req.orch.max_attempts, -1);
    assert_int_equal(req.orch.cohort_for_single_attempt, -1);
    assert_false(req.check.has_caa_params);
    j = mpic_orch_params_to_json(&req.orch);
    assert_true(json_is_null(j));
    json_decref(j);
    /* Defaults filled in. */
    j = mpic_caa_params_to_json(&req.check.caa);
    assert_json_equal_str(j, "{\"certificate_type\":\"tls-server\","
                             "\"caa_domains\":null,"
                             "\"allow_lookup_failure\":false}");
    json_decref(j);
    mpic_request_cleanup(&req);
}

static void test_request_caa_defaults(void **state)
{
    struct mpic_request req;
    json_t *j;

    (void)state;
    parse_ok("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.example\","
             "\"orchestration_parameters\":{\"quorum_count\":2},"
             "\"caa_check_parameters\":{}}",
             &req);
    assert_true(req.check.has_caa_params);
    assert_true(req.orch.present);
    assert_int_equal(req.orch.perspective_count, -1);
    j = mpic_caa_params_to_json(&req.check.caa);
    assert_json_equal_str(j, "{\"certificate_type\":\"tls-server\","
                             "\"caa_domains\":null,"
                             "\"allow_lookup_failure\":false}");
    json_decref(j);
    j = mpic_orch_params_to_json(&req.orch);
    assert_json_equal_str(j, "{\"quorum_count\":2}");
    json_decref(j);
    mpic_request_cleanup(&req);
}

static void test_echo_website_change(void **state)
{
    (void)state;
    expect_dcv_echo(
        "example.com",
        "{\"validation_method\":\"website-change\",\"challenge_value\":\"q9\","
        "\"http_token_path\":\"p.txt\",\"token\":\"not-echoed\"}",
        "{\"validation_method\":\"website-change\",\"require_exact_case\":"
        "true,\"challenge_value\":\"q9\",\"http_token_path\":\"p.txt\","
        "\"url_scheme\":\"http\",\"http_headers\":null,\"match_regex\":null}");
    expect_dcv_echo(
        "192.0.2.1",
        "{\"validation_method\":\"website-change\",\"challenge_value\":\"\","
        "\"http_token_path\":\"p.txt\",\"url_scheme\":\"https\","
        "\"match_regex\":\"^ab+c$\",\"require_exact_case\":false,"
        "\"http_headers\":{\"X-A\":\"1\"}}",
        "{\"validation_method\":\"website-change\",\"require_exact_case\":"
        "false,\"challenge_value\":\"\",\"http_token_path\":\"p.txt\","
        "\"url_scheme\":\"https\",\"http_headers\":{\"X-A\":\"1\"},"
        "\"match_regex\":\"^ab+c$\"}");
}

static void test_echo_acme(void **state)
{
    (void)state;
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"acme-http-01\",\"token\":\"t\","
                    "\"key_authorization\":\"t.k\"}",
                    "{\"validation_method\":\"acme-http-01\","
                    "\"require_exact_case\":true,\"token\":\"t\","
                    "\"key_authorization\":\"t.k\",\"http_headers\":null}");
    expect_dcv_echo("*.example.com",
                    "{\"validation_method\":\"acme-dns-01\","
                    "\"key_authorization_hash\":\"h\"}",
                    "{\"validation_method\":\"acme-dns-01\","
                    "\"require_exact_case\":true,\"key_authorization_hash\":"
                    "\"h\",\"dns_record_type\":\"TXT\",\"dns_name_prefix\":"
                    "\"_acme-challenge\"}");
    expect_dcv_echo(
        "[2001:db8::1]",
        "{\"validation_method\":\"acme-tls-alpn-01\","
        "\"key_authorization_hash\":\"653471D42925d7eb4cd39a39cda8b34d3034c9"
        "4cb90067ab78c8123560ba2e5f\"}",
        "{\"validation_method\":\"acme-tls-alpn-01\",\"require_exact_case\":"
        "false,\"key_authorization_hash\":\"653471D42925d7eb4cd39a39cda8b34d3"
        "034c94cb90067ab78c8123560ba2e5f\"}");
}

static void test_echo_dns_methods(void **state)
{
    struct mpic_request req;

    (void)state;
    /* A non-TXT dns-change is never case-sensitive. */
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"dns-change\",\"challenge_value\":"
                    "\"q9\",\"dns_record_type\":\"CNAME\","
                    "\"require_exact_case\":true}",
                    "{\"validation_method\":\"dns-change\","
                    "\"require_exact_case\":false,\"challenge_value\":\"q9\","
                    "\"dns_name_prefix\":null,\"dns_record_type\":\"CNAME\","
                    "\"require_exact_match\":false}");
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"dns-change\",\"challenge_value\":"
                    "\"q9\",\"dns_record_type\":\"TXT\",\"dns_name_prefix\":"
                    "\"_x\",\"require_exact_match\":true}",
                    "{\"validation_method\":\"dns-change\","
                    "\"require_exact_case\":true,\"challenge_value\":\"q9\","
                    "\"dns_name_prefix\":\"_x\",\"dns_record_type\":\"TXT\","
                    "\"require_exact_match\":true}");
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"contact-email-txt\","
                    "\"challenge_value\":\"a@b.example\"}",
                    "{\"validation_method\":\"contact-email-txt\","
                    "\"require_exact_case\":false,\"challenge_value\":"
                    "\"a@b.example\",\"dns_name_prefix\":"
                    "\"_validation-contactemail\",\"dns_record_type\":"
                    "\"TXT\"}");
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"contact-phone-txt\","
                    "\"challenge_value\":\"+1 555\",\"dns_record_type\":"
                    "\"TXT\",\"dns_name_prefix\":"
                    "\"_validation-contactphone\"}",
                    "{\"validation_method\":\"contact-phone-txt\","
                    "\"require_exact_case\":false,\"challenge_value\":"
                    "\"+1 555\",\"dns_name_prefix\":"
                    "\"_validation-contactphone\",\"dns_record_type\":"
                    "\"TXT\"}");
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"contact-phone-caa\","
                    "\"challenge_value\":\"+1 555\"}",
                    "{\"validation_method\":\"contact-phone-caa\","
                    "\"require_exact_case\":false,\"challenge_value\":"
                    "\"+1 555\",\"dns_name_prefix\":null,\"dns_record_type\":"
                    "\"CAA\"}");
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"ip-address\","
                    "\"challenge_value\":\"192.0.2.7\",\"dns_record_type\":"
                    "\"A\"}",
                    "{\"validation_method\":\"ip-address\","
                    "\"require_exact_case\":false,\"challenge_value\":"
                    "\"192.0.2.7\",\"dns_name_prefix\":null,"
                    "\"dns_record_type\":\"A\"}");
    expect_dcv_echo("192.0.2.7",
                    "{\"validation_method\":\"reverse-address-lookup\","
                    "\"challenge_value\":\"host.example.\"}",
                    "{\"validation_method\":\"reverse-address-lookup\","
                    "\"require_exact_case\":false,\"challenge_value\":"
                    "\"host.example.\",\"dns_name_prefix\":null,"
                    "\"dns_record_type\":\"PTR\"}");
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"dns-persistent\","
                    "\"issuer_domain_names\":[\"ca.example\",\"ca2.example\"],"
                    "\"expected_account_uri\":\"https://ca.example/a/1\"}",
                    "{\"validation_method\":\"dns-persistent\","
                    "\"require_exact_case\":false,\"dns_record_type\":\"TXT\","
                    "\"dns_name_prefix\":\"_validation-persist\","
                    "\"issuer_domain_names\":[\"ca.example\","
                    "\"ca2.example\"],\"expected_account_uri\":"
                    "\"https://ca.example/a/1\"}");
    expect_dcv_echo("example.com",
                    "{\"validation_method\":\"dns-account-01\","
                    "\"account_uri\":\"https://example.com/acme/acct/1\","
                    "\"key_authorization_hash\":\"h\"}",
                    "{\"validation_method\":\"dns-account-01\","
                    "\"require_exact_case\":true,\"account_uri\":"
                    "\"https://example.com/acme/acct/1\","
                    "\"key_authorization_hash\":\"h\",\"dns_record_type\":"
                    "\"TXT\",\"dns_name_prefix\":null}");

    /* The struct carries the fixed values too, for the checker. */
    parse_ok("{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"a.example\","
             "\"dcv_check_parameters\":{\"validation_method\":"
             "\"contact-email-txt\",\"challenge_value\":\"x@y.example\"}}",
             &req);
    assert_int_equal(req.check.dcv.method, MPIC_DCV_CONTACT_EMAIL_TXT);
    assert_int_equal(req.check.dcv.dns_record_type, MPIC_RR_TXT);
    assert_string_equal(req.check.dcv.dns_name_prefix,
                        "_validation-contactemail");
    mpic_request_cleanup(&req);
}

static void test_request_headers(void **state)
{
    struct mpic_request req;

    (void)state;
    parse_ok("{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"a.example\","
             "\"dcv_check_parameters\":{\"validation_method\":"
             "\"acme-http-01\",\"token\":\"t\",\"key_authorization\":\"k.q9\","
             "\"http_headers\":{\"User-Agent\":\"ua\",\"X-B\":\"b\"}}}",
             &req);
    assert_true(req.check.dcv.has_http_headers);
    assert_int_equal(req.check.dcv.n_http_headers, 2);
    mpic_request_cleanup(&req);
    parse_ok("{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"a.example\","
             "\"dcv_check_parameters\":{\"validation_method\":"
             "\"acme-http-01\",\"token\":\"t\",\"key_authorization\":\"k.q9\","
             "\"http_headers\":{}}}",
             &req);
    assert_true(req.check.dcv.has_http_headers);
    assert_int_equal(req.check.dcv.n_http_headers, 0);
    mpic_request_cleanup(&req);
}

/* ---- POST /mpic: each issue type ---- */

static void test_issue_invalid_json(void **state)
{
    struct mpic_request req;
    struct mpic_errlist errs;

    (void)state;
    expect_issue("", "invalid-json", "$");
    expect_issue("{", "invalid-json", "not valid JSON");
    expect_issue("not json", "invalid-json", "not valid JSON");
    expect_issue("[1,2]", "invalid-json", "must be an object");
    expect_issue("\"caa\"", "invalid-json", "must be an object");
    expect_issue("null", "invalid-json", "must be an object");
    expect_issue("{\"check_type\":\"caa\",\"check_type\":\"dcv\","
                 "\"domain_or_ip_target\":\"a.example\"}",
                 "invalid-json", "duplicate");
    /* Exactly one issue: nothing else is checked without an object. */
    assert_int_equal(expect_issue("42", "invalid-json", "$"), 1);
    mpic_errlist_init(&errs);
    assert_int_equal(mpic_request_parse(NULL, 0, &req, &errs),
                     MPIC_ERR_INVALID);
    assert_int_equal(errs.n, 1);
    mpic_errlist_cleanup(&errs);
}

static void test_issue_missing_top(void **state)
{
    (void)state;
    expect_issue("{\"domain_or_ip_target\":\"a.example\"}",
                 "missing-required-field", "$.check_type: required");
    expect_issue("{\"check_type\":\"caa\"}", "missing-required-field",
                 "$.domain_or_ip_target: required");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":null}",
                 "missing-required-field", "$.domain_or_ip_target");
    expect_issue("{\"check_type\":\"dcv\",\"domain_or_ip_target\":"
                 "\"a.example\"}",
                 "missing-required-field", "$.dcv_check_parameters");
    expect_issue("{\"check_type\":\"dcv\",\"domain_or_ip_target\":"
                 "\"a.example\",\"dcv_check_parameters\":null}",
                 "missing-required-field", "$.dcv_check_parameters");
    expect_dcv_issue("a.example", "{}", "missing-required-field",
                     "$.dcv_check_parameters.validation_method: required");
}

static void test_issue_missing_method_fields(void **state)
{
    (void)state;
    /* The exact message format. */
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"website-change\","
                     "\"http_token_path\":\"p\"}",
                     "missing-required-field",
                     "$.dcv_check_parameters.challenge_value: required for "
                     "website-change");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"website-change\","
                     "\"challenge_value\":\"q9\"}",
                     "missing-required-field", ".http_token_path: required");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-http-01\","
                     "\"key_authorization\":\"k.q9\"}",
                     "missing-required-field", ".token: required");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-http-01\",\"token\":\"t\"}",
                     "missing-required-field", ".key_authorization: required");
    expect_dcv_issue("a.example", "{\"validation_method\":\"acme-dns-01\"}",
                     "missing-required-field",
                     ".key_authorization_hash: required for acme-dns-01");
    expect_dcv_issue(
        "a.example", "{\"validation_method\":\"acme-tls-alpn-01\"}",
        "missing-required-field", ".key_authorization_hash: required");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\"}",
                     "missing-required-field",
                     ".dns_record_type: required for dns-change");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"dns_record_type\":\"TXT\"}",
                     "missing-required-field", ".challenge_value: required");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"ip-address\","
                     "\"challenge_value\":\"192.0.2.1\"}",
                     "missing-required-field",
                     ".dns_record_type: required for ip-address");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"contact-email-caa\"}",
                     "missing-required-field", ".challenge_value: required");
    expect_dcv_issue("192.0.2.1",
                     "{\"validation_method\":\"reverse-address-lookup\"}",
                     "missing-required-field", ".challenge_value: required");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-persistent\","
                     "\"expected_account_uri\":\"https://c/a\"}",
                     "missing-required-field",
                     ".issuer_domain_names: required");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-persistent\","
                     "\"issuer_domain_names\":[\"ca.example\"]}",
                     "missing-required-field",
                     ".expected_account_uri: required");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-account-01\","
                     "\"key_authorization_hash\":\"h\"}",
                     "missing-required-field",
                     ".account_uri: required for dns-account-01");
}

static void test_issue_field_types(void **state)
{
    (void)state;
    expect_issue("{\"check_type\":5,\"domain_or_ip_target\":\"a.example\"}",
                 "invalid-field-type", "$.check_type: must be a string");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":[]}",
                 "invalid-field-type", "$.domain_or_ip_target");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"trace_identifier\":7}",
                 "invalid-field-type", "$.trace_identifier");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"orchestration_parameters\":[1]}",
                 "invalid-field-type", "$.orchestration_parameters");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":\"x\"}",
                 "invalid-field-type", "$.caa_check_parameters");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":{\"caa_domains\":\"ca.example\"}}",
                 "invalid-field-type", "$.caa_check_parameters.caa_domains");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":{\"caa_domains\":[\"a\",1]}}",
                 "invalid-field-type", "caa_domains[1]");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":{\"allow_lookup_failure\":\"no\"}}",
                 "invalid-field-type", ".allow_lookup_failure");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":{\"certificate_type\":1}}",
                 "invalid-field-type", ".certificate_type");
    expect_issue("{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"a.ex\","
                 "\"dcv_check_parameters\":[]}",
                 "invalid-field-type", "$.dcv_check_parameters");
    expect_dcv_issue("a.example", "{\"validation_method\":3}",
                     "invalid-field-type", ".validation_method");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-dns-01\","
                     "\"key_authorization_hash\":\"h\","
                     "\"require_exact_case\":\"yes\"}",
                     "invalid-field-type", ".require_exact_case");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-http-01\",\"token\":1,"
                     "\"key_authorization\":\"k.q9\"}",
                     "invalid-field-type", ".token: must be a string");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-http-01\",\"token\":\"t\","
                     "\"key_authorization\":\"k.q9\",\"http_headers\":\"x\"}",
                     "invalid-field-type", ".http_headers: must be an object");
    expect_dcv_issue(
        "a.example",
        "{\"validation_method\":\"acme-http-01\",\"token\":\"t\","
        "\"key_authorization\":\"k.q9\",\"http_headers\":{\"A\":1}}",
        "invalid-field-type", ".http_headers.A");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"TXT\","
                     "\"require_exact_match\":1}",
                     "invalid-field-type", ".require_exact_match");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":16}",
                     "invalid-field-type", ".dns_record_type");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-persistent\","
                     "\"issuer_domain_names\":\"ca.example\","
                     "\"expected_account_uri\":\"https://c/a\"}",
                     "invalid-field-type", ".issuer_domain_names");
}

static void test_issue_check_type(void **state)
{
    (void)state;
    expect_issue("{\"check_type\":\"foo\",\"domain_or_ip_target\":\"a.ex\"}",
                 "invalid-check-type", "$.check_type");
    expect_issue("{\"check_type\":\"CAA\",\"domain_or_ip_target\":\"a.ex\"}",
                 "invalid-check-type", "\"CAA\"");
}

static void test_issue_validation_method(void **state)
{
    (void)state;
    expect_dcv_issue("a.example", "{\"validation_method\":\"http-01\"}",
                     "invalid-validation-method", "\"http-01\"");
    expect_dcv_issue("a.example", "{\"validation_method\":\"\"}",
                     "invalid-validation-method", ".validation_method");
}

static void test_issue_record_type(void **state)
{
    (void)state;
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"A\"}",
                     "invalid-dns-record-type", "A is not allowed");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"MX\"}",
                     "invalid-dns-record-type", "unknown type \"MX\"");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"txt\"}",
                     "invalid-dns-record-type", ".dns_record_type");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"ip-address\","
                     "\"challenge_value\":\"192.0.2.1\","
                     "\"dns_record_type\":\"TXT\"}",
                     "invalid-dns-record-type", "TXT is not allowed");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-dns-01\","
                     "\"key_authorization_hash\":\"h\","
                     "\"dns_record_type\":\"CNAME\"}",
                     "invalid-dns-record-type", "must be TXT");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"contact-email-caa\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"TXT\"}",
                     "invalid-dns-record-type", "must be CAA");
    expect_dcv_issue("192.0.2.1",
                     "{\"validation_method\":\"reverse-address-lookup\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"A\"}",
                     "invalid-dns-record-type", "must be PTR");
}

static void test_issue_target(void **state)
{
    (void)state;
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":"
                 "\"bad..example\"}",
                 "invalid-domain-or-ip-target", "empty label");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"\"}",
                 "invalid-domain-or-ip-target", "$.domain_or_ip_target");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":"
                 "\"*.192.0.2.1\"}",
                 "invalid-domain-or-ip-target", "wildcard");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":"
                 "\"xn--a.example\"}",
                 "invalid-domain-or-ip-target", "internationalized");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":"
                 "\"a\\u0000b.example\"}",
                 "invalid-json", "\\u0000");
    /* DNS methods need a name; reverse-address-lookup needs an address. */
    expect_dcv_issue("192.0.2.1",
                     "{\"validation_method\":\"acme-dns-01\","
                     "\"key_authorization_hash\":\"h\"}",
                     "invalid-target-for-method", "acme-dns-01 needs a");
    expect_dcv_issue("2001:db8::1",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"TXT\"}",
                     "invalid-target-for-method", "domain name");
    expect_dcv_issue("192.0.2.1",
                     "{\"validation_method\":\"contact-phone-txt\","
                     "\"challenge_value\":\"q9\"}",
                     "invalid-target-for-method", "domain name");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"reverse-address-lookup\","
                     "\"challenge_value\":\"q9\"}",
                     "invalid-target-for-method", "needs an IP address");
}

static void test_ip_targets_allowed(void **state)
{
    struct mpic_request req;

    (void)state;
    parse_ok("{\"check_type\":\"caa\",\"domain_or_ip_target\":"
             "\"[2001:db8::1]\"}",
             &req);
    mpic_request_cleanup(&req);
    parse_ok(
        "{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"192.0.2.1\","
        "\"dcv_check_parameters\":{\"validation_method\":"
        "\"acme-http-01\",\"token\":\"t\",\"key_authorization\":\"k.q9\"}}",
        &req);
    mpic_request_cleanup(&req);
    /* Wildcards are fine for DNS methods. */
    parse_ok("{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"*.a.example\","
             "\"dcv_check_parameters\":{\"validation_method\":"
             "\"dns-change\",\"challenge_value\":\"q9\","
             "\"dns_record_type\":\"CAA\"}}",
             &req);
    mpic_request_cleanup(&req);
}

/* Every method with parameters that pass, and which targets it takes. */
static const struct method_case {
    const char *params;
    bool ip_ok;       /* an IP target is allowed */
    bool name_ok;     /* a domain name is allowed */
    bool wildcard_ok; /* a "*." name is allowed */
} method_cases[] = {
    {"{\"validation_method\":\"website-change\",\"challenge_value\":\"q9\","
     "\"http_token_path\":\"p.txt\"}",
     true, true, false},
    {"{\"validation_method\":\"acme-http-01\",\"token\":\"t\","
     "\"key_authorization\":\"t.k\"}",
     true, true, false},
    {"{\"validation_method\":\"acme-tls-alpn-01\",\"key_authorization_hash\":"
     "\"653471d42925d7eb4cd39a39cda8b34d3034c94cb90067ab78c8123560ba2e5f\"}",
     true, true, false},
    {"{\"validation_method\":\"acme-dns-01\",\"key_authorization_hash\":"
     "\"h\"}",
     false, true, true},
    {"{\"validation_method\":\"dns-change\",\"challenge_value\":\"q9\","
     "\"dns_record_type\":\"TXT\"}",
     false, true, true},
    {"{\"validation_method\":\"contact-email-txt\",\"challenge_value\":"
     "\"a@b.example\"}",
     false, true, true},
    {"{\"validation_method\":\"contact-phone-txt\",\"challenge_value\":"
     "\"+1 555\"}",
     false, true, true},
    {"{\"validation_method\":\"contact-email-caa\",\"challenge_value\":"
     "\"a@b.example\"}",
     false, true, true},
    {"{\"validation_method\":\"contact-phone-caa\",\"challenge_value\":"
     "\"+1 555\"}",
     false, true, true},
    {"{\"validation_method\":\"ip-address\",\"challenge_value\":"
     "\"192.0.2.1\",\"dns_record_type\":\"A\"}",
     false, true, false},
    {"{\"validation_method\":\"reverse-address-lookup\",\"challenge_value\":"
     "\"a.example\"}",
     true, false, false},
    {"{\"validation_method\":\"dns-persistent\",\"issuer_domain_names\":"
     "[\"ca.example\"],\"expected_account_uri\":\"https://ca.example/a/1\"}",
     false, true, true},
    {"{\"validation_method\":\"dns-account-01\",\"account_uri\":"
     "\"https://ca.example/a/1\",\"key_authorization_hash\":\"h\"}",
     false, true, true},
};

/* POST /mpic and POST /dcv must agree on whether `target` is allowed. */
static void expect_dcv_target(const char *target, const char *params, bool ok,
                              const char *type, const char *fragment)
{
    char body[2048];
    char check[2048];
    struct mpic_request req;
    struct mpic_check_request creq;
    struct mpic_errlist errs;
    enum mpic_err rc;
    bool found = false;

    snprintf(check, sizeof(check),
             "{\"domain_or_ip_target\":\"%s\",\"dcv_check_parameters\":%s}",
             target, params);
    if (ok) {
        snprintf(body, sizeof(body),
                 "{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"%s\","
                 "\"dcv_check_parameters\":%s}",
                 target, params);
        parse_ok(body, &req);
        mpic_request_cleanup(&req);
    } else {
        expect_dcv_issue(target, params, type, fragment);
    }
    mpic_errlist_init(&errs);
    rc = mpic_check_request_parse(check, strlen(check), MPIC_CHECK_DCV, &creq,
                                  &errs);
    for (size_t i = 0; i < errs.n && type != NULL; i++) {
        if (strcmp(errs.items[i].type, type) == 0 &&
            strstr(errs.items[i].message, fragment) != NULL)
            found = true;
    }
    if ((rc == MPIC_OK) != ok || (!ok && !found)) {
        print_error("check request %s: wanted %s\n", check,
                    ok ? "success" : fragment);
        print_issues(&errs);
    }
    assert_int_equal(rc, ok ? MPIC_OK : MPIC_ERR_INVALID);
    if (!ok)
        assert_true(found);
    else
        mpic_check_request_cleanup(&creq);
    mpic_errlist_cleanup(&errs);
}

/*
 * open-mpic-api.md 6, "Targets per method": wildcards only with the
 * DNS-based domain methods, addresses only with the methods of BR 3.2.2.5,
 * in POST /mpic and in the checkers' POST /dcv alike.
 */
static void test_targets_per_method(void **state)
{
    static const char *const ips[] = {"192.0.2.1", "2001:db8::1",
                                      "[2001:db8::1]"};
    const char *mm = "invalid-target-for-method";

    (void)state;
    for (size_t i = 0; i < sizeof(method_cases) / sizeof(method_cases[0]);
         i++) {
        const struct method_case *mc = &method_cases[i];

        for (size_t j = 0; j < sizeof(ips) / sizeof(ips[0]); j++)
            expect_dcv_target(ips[j], mc->params, mc->ip_ok, mm,
                              "$.domain_or_ip_target: ");
        expect_dcv_target("a.example", mc->params, mc->name_ok, mm,
                          "needs an IP address");
        if (!mc->name_ok)
            expect_dcv_target("*.a.example", mc->params, false, mm,
                              "needs an IP address");
        else
            expect_dcv_target("*.a.example", mc->params, mc->wildcard_ok, mm,
                              "cannot validate a wildcard");
    }
    /* The messages say what is wrong. */
    expect_dcv_issue("*.a.example", method_cases[1].params, mm,
                     "$.domain_or_ip_target: acme-http-01 cannot validate a "
                     "wildcard");
    expect_dcv_issue("192.0.2.1", method_cases[3].params, mm,
                     "$.domain_or_ip_target: acme-dns-01 needs a domain name");
    /* CAA takes wildcards and addresses. */
    for (size_t j = 0; j < sizeof(ips) / sizeof(ips[0]); j++) {
        char body[256];
        struct mpic_request req;

        snprintf(body, sizeof(body),
                 "{\"check_type\":\"caa\",\"domain_or_ip_target\":\"%s\"}",
                 ips[j]);
        parse_ok(body, &req);
        mpic_request_cleanup(&req);
    }
}

/*
 * BR 3.2.2.4.18: the value looked for must not appear in the request that
 * fetches the page (path, target name, headers; any case), for
 * website-change's challenge_value and acme-http-01's key authorization.
 */
static void test_value_not_in_request(void **state)
{
    static const struct {
        const char *target;
        const char *params;
        const char *where; /* NULL: accepted */
    } cases[] = {
        {"a.example",
         "{\"validation_method\":\"website-change\",\"challenge_value\":"
         "\"r4nd0m\",\"http_token_path\":\"file-r4nd0m.txt\"}",
         "challenge_value: appears in the URL's path"},
        {"a.example",
         "{\"validation_method\":\"website-change\",\"challenge_value\":"
         "\"R4ND0M\",\"http_token_path\":\"r4nd0m\"}",
         "the URL's path"},
        {"a.example",
         "{\"validation_method\":\"website-change\",\"challenge_value\":"
         "\"pki-validation\",\"http_token_path\":\"f.txt\"}",
         "the URL's path"},
        {"r4nd0m.example",
         "{\"validation_method\":\"website-change\",\"challenge_value\":"
         "\"R4nd0m\",\"http_token_path\":\"f.txt\"}",
         "the target name"},
        {"a.example",
         "{\"validation_method\":\"website-change\",\"challenge_value\":"
         "\"r4nd0m\",\"http_token_path\":\"f.txt\",\"http_headers\":"
         "{\"X-Echo\":\"x r4nd0m y\"}}",
         "appears in http_headers"},
        {"a.example",
         "{\"validation_method\":\"website-change\",\"challenge_value\":"
         "\"x-r4nd0m\",\"http_token_path\":\"f.txt\",\"http_headers\":"
         "{\"X-R4nd0m\":\"1\"}}",
         "http_headers"},
        {"a.example",
         "{\"validation_method\":\"acme-http-01\",\"token\":\"tok-123\","
         "\"key_authorization\":\"tok-123\"}",
         "key_authorization: appears in the URL's path"},
        {"a.example",
         "{\"validation_method\":\"acme-http-01\",\"token\":\"tok-123\","
         "\"key_authorization\":\"acme-challenge\"}",
         "the URL's path"},
        /* accepted: the value is nowhere in the request */
        {"a.example",
         "{\"validation_method\":\"website-change\",\"challenge_value\":"
         "\"r4nd0m\",\"http_token_path\":\"f.txt\",\"http_headers\":"
         "{\"X-Echo\":\"r4nd0\"}}",
         NULL},
        {"a.example",
         "{\"validation_method\":\"acme-http-01\",\"token\":\"tok-123\","
         "\"key_authorization\":\"tok-123.thumbprint\"}",
         NULL},
        /* a regex-only website-change looks for no value */
        {"a.example",
         "{\"validation_method\":\"website-change\",\"challenge_value\":"
         "\"\",\"match_regex\":\"f\\\\.txt\",\"http_token_path\":\"f.txt\"}",
         NULL},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        expect_dcv_target(cases[i].target, cases[i].params,
                          cases[i].where == NULL, "invalid-parameter-value",
                          cases[i].where);
}

/* Target syntax refusals are the same for CAA and DCV, /mpic and checkers. */
static void test_target_syntax_for_all_checks(void **state)
{
    static const struct {
        const char *target;
        const char *fragment;
    } bad[] = {
        {"2130706433", "all digits"},
        {"0x7f000001", "hexadecimal"},
        {"0x7f.0.0.1", "all digits"},
        {"127.1", "all digits"},
        {"0177.0.0.1", "all digits"},
        {"1.2.0.192.in-addr.arpa", "BR 4.2.2"},
        {"IN-ADDR.ARPA.", "in-addr.arpa"},
        {"*.8.b.d.0.1.0.0.2.ip6.arpa", "ip6.arpa"},
        {"_acme-challenge.a.example", "'_'"},
        {"a_b.example", "'_'"},
    };
    const char *ti = "invalid-domain-or-ip-target";

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char body[512];
        struct mpic_check_request creq;
        struct mpic_errlist errs;

        snprintf(body, sizeof(body),
                 "{\"check_type\":\"caa\",\"domain_or_ip_target\":\"%s\"}",
                 bad[i].target);
        expect_issue(body, ti, bad[i].fragment);
        expect_dcv_target(bad[i].target, method_cases[3].params, false, ti,
                          bad[i].fragment);
        expect_dcv_target(bad[i].target, method_cases[0].params, false, ti,
                          "$.domain_or_ip_target: ");
        snprintf(body, sizeof(body), "{\"domain_or_ip_target\":\"%s\"}",
                 bad[i].target);
        mpic_errlist_init(&errs);
        assert_int_equal(mpic_check_request_parse(body, strlen(body),
                                                  MPIC_CHECK_CAA, &creq, &errs),
                         MPIC_ERR_INVALID);
        assert_int_equal(errs.n, 1);
        assert_string_equal(errs.items[0].type, ti);
        assert_non_null(strstr(errs.items[0].message, bad[i].fragment));
        mpic_errlist_cleanup(&errs);
    }
}

/* RFC 8555 8.3: the acme-http-01 token is base64url. */
static void test_token_syntax(void **state)
{
    static const char *const bad[] = {
        "../x", "x/y", "a.b",    "a=",       "a+b",      "a b",     "a%2f",
        "a?b",  "a#b", "a\\\\b", "t\\u00e9", "a\\u0001", "\\u00ff", "~a",
    };
    static const char *const good[] = {
        "LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0",
        "a-b_c",
        "-",
        "_",
    };
    char params[512];

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(params, sizeof(params),
                 "{\"validation_method\":\"acme-http-01\",\"token\":\"%s\","
                 "\"key_authorization\":\"k.q9\"}",
                 bad[i]);
        expect_dcv_target("a.example", params, false, "invalid-parameter-value",
                          "$.dcv_check_parameters.token: must be base64url");
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(params, sizeof(params),
                 "{\"validation_method\":\"acme-http-01\",\"token\":\"%s\","
                 "\"key_authorization\":\"k.q9\"}",
                 good[i]);
        expect_dcv_target("a.example", params, true, NULL, NULL);
        expect_dcv_target("192.0.2.1", params, true, NULL, NULL);
    }
}

/* http_token_path: one file name in /.well-known/pki-validation/. */
static void test_http_token_path_syntax(void **state)
{
    static const struct {
        const char *path;
        const char *fragment;
    } bad[] = {
        {"a?b", "query or fragment ('?')"},
        {"a#b", "query or fragment ('#')"},
        {"../x", "\"..\""},
        {"..", "\"..\""},
        {".", "\".\""},
        {"a..b", "\"..\""},
        {"..;", "\"..\""},
        {"a/b", "one path segment, without '/'"},
        {"/a", "without '/'"},
        {"a\\\\b", "without '\\'"},
        {"a%2fb", "percent-encoding"},
        {"%2e%2e", "percent-encoding"},
        {"a;b", "character ';'"},
        {"a b", "0x20"},
        {"a\\tb", "0x09"},
        {"a\\u0001", "0x01"},
        {"a\\u007f", "0x7f"},
        {"\\u00e9.txt", "0xc3"},
        {"a\\\"b", "character '\"'"},
        {"a<b>", "character '<'"},
        {"a|b", "character '|'"},
        {"a{b}", "character '{'"},
        {"a^b", "character '^'"},
        {"a`b", "character '`'"},
        {"a[b]", "character '['"},
    };
    static const char *const good[] = {
        "fileauth.txt", "a.b-c_d~e", "X!$&'()*+,=:@",
        ".hidden",      "x.",        "0123456789abcdef.txt",
    };
    char params[1024];
    char *long_path;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char want[128];

        snprintf(params, sizeof(params),
                 "{\"validation_method\":\"website-change\","
                 "\"challenge_value\":\"q9\",\"http_token_path\":\"%s\"}",
                 bad[i].path);
        snprintf(want, sizeof(want), "$.dcv_check_parameters.http_token_path");
        expect_dcv_target("a.example", params, false, "invalid-parameter-value",
                          want);
        expect_dcv_target("a.example", params, false, "invalid-parameter-value",
                          bad[i].fragment);
    }
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        snprintf(params, sizeof(params),
                 "{\"validation_method\":\"website-change\","
                 "\"challenge_value\":\"q9\",\"http_token_path\":\"%s\"}",
                 good[i]);
        expect_dcv_target("a.example", params, true, NULL, NULL);
    }
    /* 255 octets is a file name; 256 is not. */
    long_path = malloc(257);
    assert_non_null(long_path);
    memset(long_path, 'a', 256);
    long_path[255] = '\0';
    snprintf(params, sizeof(params),
             "{\"validation_method\":\"website-change\","
             "\"challenge_value\":\"q9\",\"http_token_path\":\"%s\"}",
             long_path);
    expect_dcv_target("a.example", params, true, NULL, NULL);
    long_path[255] = 'a';
    long_path[256] = '\0';
    snprintf(params, sizeof(params),
             "{\"validation_method\":\"website-change\","
             "\"challenge_value\":\"q9\",\"http_token_path\":\"%s\"}",
             long_path);
    expect_dcv_target("a.example", params, false, "invalid-parameter-value",
                      "256 octets long (limit 255)");
    free(long_path);
}

static void test_issue_parameter_values(void **state)
{
    (void)state;
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"website-change\","
                     "\"challenge_value\":\"\",\"http_token_path\":\"p\"}",
                     "invalid-parameter-value",
                     ".challenge_value: must not be empty without "
                     "match_regex");
    /* An empty match_regex looks for nothing either. */
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"website-change\","
                     "\"challenge_value\":\"\",\"http_token_path\":\"p\","
                     "\"match_regex\":\"\"}",
                     "invalid-parameter-value",
                     ".challenge_value: must not be empty without "
                     "match_regex");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"website-change\","
                     "\"challenge_value\":\"q9\",\"http_token_path\":\"p\","
                     "\"match_regex\":\"(ab\"}",
                     "invalid-parameter-value", ".match_regex: does not");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"website-change\","
                     "\"challenge_value\":\"q9\",\"http_token_path\":\"p\","
                     "\"url_scheme\":\"ftp\"}",
                     "invalid-parameter-value", ".url_scheme");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"website-change\","
                     "\"challenge_value\":\"q9\",\"http_token_path\":\"\"}",
                     "invalid-parameter-value", ".http_token_path");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-http-01\",\"token\":\"t\","
                     "\"key_authorization\":\"k.q9\",\"http_headers\":"
                     "{\"X-A\":\"a\\r\\nInjected: 1\"}}",
                     "invalid-parameter-value", ".http_headers");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-http-01\",\"token\":\"t\","
                     "\"key_authorization\":\"k.q9\",\"http_headers\":"
                     "{\"Bad Name\":\"a\"}}",
                     "invalid-parameter-value", ".http_headers");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-http-01\",\"token\":\"\","
                     "\"key_authorization\":\"k.q9\"}",
                     "invalid-parameter-value", ".token: must not be empty");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-tls-alpn-01\","
                     "\"key_authorization_hash\":\"abc\"}",
                     "invalid-parameter-value", "64 hex digits");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-tls-alpn-01\","
                     "\"key_authorization_hash\":\"g53471d42925d7eb4cd39a39cd"
                     "a8b34d3034c94cb90067ab78c8123560ba2e5f\"}",
                     "invalid-parameter-value", "64 hex digits");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"acme-dns-01\","
                     "\"key_authorization_hash\":\"h\","
                     "\"dns_name_prefix\":\"_other\"}",
                     "invalid-parameter-value",
                     ".dns_name_prefix: must be \"_acme-challenge\"");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"contact-email-caa\","
                     "\"challenge_value\":\"q9\",\"dns_name_prefix\":\"_x\"}",
                     "invalid-parameter-value",
                     ".dns_name_prefix: must be null");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"TXT\","
                     "\"dns_name_prefix\":\"_a..b\"}",
                     "invalid-parameter-value", ".dns_name_prefix");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"q9\",\"dns_record_type\":\"TXT\","
                     "\"dns_name_prefix\":\"a b\"}",
                     "invalid-parameter-value", ".dns_name_prefix");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"ip-address\","
                     "\"challenge_value\":\"192.0.2.1\",\"dns_record_type\":"
                     "\"A\",\"dns_name_prefix\":\"x.\"}",
                     "invalid-parameter-value", ".dns_name_prefix");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-change\","
                     "\"challenge_value\":\"\",\"dns_record_type\":\"TXT\"}",
                     "invalid-parameter-value", ".challenge_value");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"contact-email-txt\","
                     "\"challenge_value\":\"\"}",
                     "invalid-parameter-value", ".challenge_value");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-persistent\","
                     "\"issuer_domain_names\":[],"
                     "\"expected_account_uri\":\"https://c/a\"}",
                     "invalid-parameter-value",
                     ".issuer_domain_names: must not be empty");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-persistent\","
                     "\"issuer_domain_names\":[\"ca.example\",\"\"],"
                     "\"expected_account_uri\":\"https://c/a\"}",
                     "invalid-parameter-value", ".issuer_domain_names[1]");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-persistent\","
                     "\"issuer_domain_names\":[\"ca.example\"],"
                     "\"expected_account_uri\":\"no-scheme\"}",
                     "invalid-parameter-value", "not a URI");
    expect_dcv_issue("a.example",
                     "{\"validation_method\":\"dns-account-01\","
                     "\"account_uri\":\"https:\",\"key_authorization_hash\":"
                     "\"h\"}",
                     "invalid-parameter-value", ".account_uri: not a URI");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":{\"certificate_type\":\"ev\"}}",
                 "invalid-parameter-value", ".certificate_type");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":{\"caa_domains\":[\"\"]}}",
                 "invalid-parameter-value", ".caa_domains[0]");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":{\"validation_method\":\"\"}}",
                 "invalid-parameter-value", ".validation_method");
    expect_issue("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.ex\","
                 "\"caa_check_parameters\":{\"account_uri\":\"\"}}",
                 "invalid-parameter-value", ".account_uri");
}

static void test_website_change_regex_only(void **state)
{
    struct mpic_request req;

    (void)state;
    parse_ok("{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"a.example\","
             "\"dcv_check_parameters\":{\"validation_method\":"
             "\"website-change\",\"challenge_value\":\"\","
             "\"http_token_path\":\"p\",\"match_regex\":\"tok[0-9]+\"}}",
             &req);
    assert_string_equal(req.check.dcv.challenge_value, "");
    assert_string_equal(req.check.dcv.match_regex, "tok[0-9]+");
    assert_int_equal(req.check.dcv.url_scheme, MPIC_URL_HTTP);
    assert_true(req.check.dcv.require_exact_case);
    mpic_request_cleanup(&req);
}

static void test_issue_orchestration(void **state)
{
    (void)state;
    expect_orch_issue("{\"perspective_count\":true}",
                      "$.orchestration_parameters.perspective_count: must be "
                      "an integer");
    expect_orch_issue("{\"quorum_count\":3.5}", ".quorum_count");
    expect_orch_issue("{\"quorum_count\":3.0}", ".quorum_count");
    expect_orch_issue("{\"max_attempts\":\"3\"}", ".max_attempts");
    expect_orch_issue("{\"max_attempts\":0}", "out of range");
    expect_orch_issue("{\"cohort_for_single_attempt\":-1}", "out of range");
    expect_orch_issue("{\"perspective_count\":99999999999}", "out of range");
}

static void test_issues_collected(void **state)
{
    size_t n;

    (void)state;
    /* Every problem is reported at once. */
    n = expect_issue(
        "{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"bad..x\","
        "\"trace_identifier\":1,\"orchestration_parameters\":"
        "{\"quorum_count\":false,\"max_attempts\":1.5},"
        "\"dcv_check_parameters\":{\"validation_method\":\"website-change\","
        "\"url_scheme\":\"gopher\"}}",
        "invalid-domain-or-ip-target", "empty label");
    assert_int_equal(n, 7);
}

/* ---- checker requests ---- */

static void test_check_request_parse(void **state)
{
    struct mpic_check_request req;
    struct mpic_errlist errs;
    const char *caa = "{\"domain_or_ip_target\":\"a.example\"}";
    const char *dcv_missing = "{\"domain_or_ip_target\":\"a.example\","
                              "\"trace_identifier\":null}";
    const char *dcv_bad = "{\"domain_or_ip_target\":\"a.example\","
                          "\"dcv_check_parameters\":{\"validation_method\":"
                          "\"dns-change\",\"challenge_value\":\"q9\","
                          "\"dns_record_type\":\"PTR\"}}";

    (void)state;
    mpic_errlist_init(&errs);
    assert_int_equal(
        mpic_check_request_parse(caa, strlen(caa), MPIC_CHECK_CAA, &req, &errs),
        MPIC_OK);
    assert_false(req.has_caa_params);
    assert_null(req.trace_id);
    assert_string_equal(req.target, "a.example");
    mpic_check_request_cleanup(&req);

    assert_int_equal(mpic_check_request_parse(dcv_missing, strlen(dcv_missing),
                                              MPIC_CHECK_DCV, &req, &errs),
                     MPIC_ERR_INVALID);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.items[0].type, "missing-required-field");
    assert_null(req.target);
    mpic_errlist_cleanup(&errs);

    mpic_errlist_init(&errs);
    assert_int_equal(mpic_check_request_parse(dcv_bad, strlen(dcv_bad),
                                              MPIC_CHECK_DCV, &req, &errs),
                     MPIC_ERR_INVALID);
    assert_int_equal(errs.n, 1);
    assert_string_equal(errs.items[0].type, "invalid-dns-record-type");
    mpic_errlist_cleanup(&errs);

    mpic_errlist_init(&errs);
    assert_int_equal(
        mpic_check_request_parse("[]", 2, MPIC_CHECK_CAA, &req, &errs),
        MPIC_ERR_INVALID);
    assert_string_equal(errs.items[0].type, "invalid-json");
    mpic_errlist_cleanup(&errs);
}

static void test_check_request_from_request(void **state)
{
    struct mpic_request req;
    struct mpic_check_request creq;
    char *enc;
    json_t *j;
    json_error_t jerr;

    (void)state;
    parse_ok("{\"check_type\":\"dcv\",\"domain_or_ip_target\":\"Bücher."
             "example\",\"trace_identifier\":\"tr\",\"dcv_check_parameters\":"
             "{\"validation_method\":\"website-change\",\"challenge_value\":"
             "\"q9\",\"http_token_path\":\"p\",\"http_headers\":{\"A\":\"b\"}}"
             "}",
             &req);
    mpic_check_request_from_request(&creq, &req);
    mpic_request_cleanup(&req); /* the copy stands alone */
    enc = mpic_check_request_encode(&creq);
    j = json_loads(enc, 0, &jerr);
    assert_json_equal_str(
        j, "{\"domain_or_ip_target\":\"Bücher.example\",\"trace_identifier\":"
           "\"tr\",\"dcv_check_parameters\":{\"validation_method\":"
           "\"website-change\",\"require_exact_case\":true,"
           "\"challenge_value\":\"q9\",\"http_token_path\":\"p\","
           "\"url_scheme\":\"http\",\"http_headers\":{\"A\":\"b\"},"
           "\"match_regex\":null}}");
    json_decref(j);
    free(enc);
    mpic_check_request_cleanup(&creq);

    parse_ok("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.example\"}",
             &req);
    mpic_check_request_from_request(&creq, &req);
    mpic_request_cleanup(&req);
    enc = mpic_check_request_encode(&creq);
    j = json_loads(enc, 0, &jerr);
    assert_json_equal_str(j, "{\"domain_or_ip_target\":\"a.example\","
                             "\"trace_identifier\":null,"
                             "\"caa_check_parameters\":null}");
    json_decref(j);
    free(enc);
    mpic_check_request_cleanup(&creq);

    parse_ok("{\"check_type\":\"caa\",\"domain_or_ip_target\":\"a.example\","
             "\"caa_check_parameters\":{\"caa_domains\":[\"ca.example\"]}}",
             &req);
    mpic_check_request_from_request(&creq, &req);
    mpic_request_cleanup(&req);
    enc = mpic_check_request_encode(&creq);
    j = json_loads(enc, 0, &jerr);
    assert_json_equal_str(j, "{\"domain_or_ip_target\":\"a.example\","
                             "\"trace_identifier\":null,"
                             "\"caa_check_parameters\":{\"certificate_type\":"
                             "\"tls-server\",\"caa_domains\":[\"ca.example\"],"
                             "\"allow_lookup_failure\":false}}");
    json_decref(j);
    free(enc);
    mpic_check_request_cleanup(&creq);
}

/* ---- check responses ---- */

static enum mpic_err parse_resp(const char *body, enum mpic_check_type ct,
                                struct mpic_check_response *r, char **why)
{
    return mpic_check_response_parse(body, strlen(body), ct, r, why);
}

static void test_response_tolerant(void **state)
{
    struct mpic_check_response r;
    char *why = NULL;

    (void)state;
    /* errors absent, details absent, timestamp absent. */
    assert_int_equal(parse_resp("{\"check_type\":\"dcv\",\"check_passed\":"
                                "true,\"check_completed\":true}",
                                MPIC_CHECK_DCV, &r, &why),
                     MPIC_OK);
    assert_true(r.check_passed);
    assert_true(r.check_completed);
    assert_int_equal(r.timestamp_ns, 0);
    assert_false(r.errors_present);
    assert_null(r.details);
    mpic_check_response_cleanup(&r);

    assert_int_equal(parse_resp("{\"check_type\":\"caa\",\"check_passed\":"
                                "false,\"check_completed\":false,\"errors\":"
                                "[{\"error_type\":\"x\"},{}],\"details\":"
                                "null,\"timestamp_ns\":5,\"extra\":1}",
                                MPIC_CHECK_CAA, &r, &why),
                     MPIC_OK);
    assert_true(r.errors_present);
    assert_int_equal(r.errors.n, 2);
    assert_string_equal(r.errors.items[0].type, "x");
    assert_string_equal(r.errors.items[0].message, "");
    assert_string_equal(r.errors.items[1].type, "");
    assert_int_equal(r.timestamp_ns, 5);
    mpic_check_response_cleanup(&r);
}

static void expect_bad_response(const char *body, enum mpic_check_type ct,
                                const char *fragment)
{
    struct mpic_check_response r;
    char *why = NULL;

    assert_int_equal(parse_resp(body, ct, &r, &why), MPIC_ERR_PEER);
    assert_non_null(why);
    if (strstr(why, fragment) == NULL) {
        print_error("%s: reason \"%s\" lacks \"%s\"\n", body, why, fragment);
        fail();
    }
    assert_null(r.details);
    free(why);
}

/* A NUL byte inside a string (a record value the checker saw) keeps the
 * response well-formed; a NUL inside check_type does not pass for the type. */
static void test_response_nul_in_strings(void **state)
{
    static const char body[] =
        "{\"check_type\":\"dcv\",\"check_passed\":false,"
        "\"check_completed\":true,\"timestamp_ns\":7,\"errors\":null,"
        "\"details\":{\"records_seen\":[\"a@example.com\\u0000\"]}}";
    struct mpic_check_response r;
    const json_t *seen;
    char *why = NULL;
    char *out;

    (void)state;
    assert_int_equal(parse_resp(body, MPIC_CHECK_DCV, &r, &why), MPIC_OK);
    assert_null(why);
    assert_false(r.check_passed);
    assert_true(r.check_completed);
    assert_int_equal(r.timestamp_ns, 7);
    seen = json_array_get(json_object_get(r.details, "records_seen"), 0);
    assert_true(json_is_string(seen));
    assert_int_equal(json_string_length(seen), 14);
    /* Written back with the NUL escaped, not cut short. */
    out = json_dumps(r.details, JSON_COMPACT);
    assert_non_null(out);
    assert_string_equal(out, "{\"records_seen\":[\"a@example.com\\u0000\"]}");
    free(out);
    mpic_check_response_cleanup(&r);

    expect_bad_response("{\"check_type\":\"dcv\\u0000x\",\"check_passed\":"
                        "true,\"check_completed\":true}",
                        MPIC_CHECK_DCV, "check_type");
}

static void test_response_strict(void **state)
{
    (void)state;
    expect_bad_response("", MPIC_CHECK_CAA, "not JSON");
    expect_bad_response("<html>", MPIC_CHECK_CAA, "not JSON");
    expect_bad_response("[]", MPIC_CHECK_CAA, "not an object");
    expect_bad_response("{\"check_type\":\"dcv\",\"check_passed\":true,"
                        "\"check_completed\":true}",
                        MPIC_CHECK_CAA, "check_type");
    expect_bad_response("{\"check_passed\":true,\"check_completed\":true}",
                        MPIC_CHECK_CAA, "check_type");
    expect_bad_response("{\"check_type\":\"caa\",\"check_completed\":true}",
                        MPIC_CHECK_CAA, "check_passed");
    expect_bad_response("{\"check_type\":\"caa\",\"check_passed\":\"true\","
                        "\"check_completed\":true}",
                        MPIC_CHECK_CAA, "check_passed");
    expect_bad_response("{\"check_type\":\"caa\",\"check_passed\":1,"
                        "\"check_completed\":true}",
                        MPIC_CHECK_CAA, "check_passed");
    expect_bad_response("{\"check_type\":\"caa\",\"check_passed\":true}",
                        MPIC_CHECK_CAA, "check_completed");
    expect_bad_response("{\"check_type\":\"caa\",\"check_passed\":true,"
                        "\"check_completed\":true,\"errors\":\"x\"}",
                        MPIC_CHECK_CAA, "errors");
    expect_bad_response("{\"check_type\":\"caa\",\"check_passed\":true,"
                        "\"check_completed\":true,\"errors\":[1]}",
                        MPIC_CHECK_CAA, "errors[0]");
    expect_bad_response("{\"check_type\":\"caa\",\"check_type\":\"caa\","
                        "\"check_passed\":true,\"check_completed\":true}",
                        MPIC_CHECK_CAA, "duplicate");
}

static void test_response_build(void **state)
{
    struct mpic_check_response r;
    json_t *j;
    int64_t before = mpic_now_ns();

    (void)state;
    memset(&r, 0, sizeof(r));
    r.check_type = MPIC_CHECK_DCV;
    r.timestamp_ns = mpic_now_ns();
    assert_true(r.timestamp_ns >= before);
    assert_true(r.timestamp_ns > 1600000000LL * 1000000000LL);
    r.timestamp_ns = 42;
    j = mpic_check_response_to_json(&r);
    assert_json_equal_str(j, "{\"check_type\":\"dcv\",\"check_passed\":"
                             "false,\"check_completed\":false,"
                             "\"timestamp_ns\":42,\"errors\":null,"
                             "\"details\":null}");
    json_decref(j);
    mpic_check_response_add_error(&r, "mpic_error:coordinator:remote_check",
                                  "connect to %s failed: %d", "p1", 111);
    r.details = json_pack("{s:s}", "validation_method", "acme-dns-01");
    j = mpic_check_response_to_json(&r);
    assert_json_equal_str(
        j, "{\"check_type\":\"dcv\",\"check_passed\":false,"
           "\"check_completed\":false,\"timestamp_ns\":42,\"errors\":[{"
           "\"error_type\":\"mpic_error:coordinator:remote_check\","
           "\"error_message\":\"connect to p1 failed: 111\"}],\"details\":{"
           "\"validation_method\":\"acme-dns-01\"}}");
    json_decref(j);
    mpic_check_response_cleanup(&r);
    assert_null(r.details);
    assert_int_equal(r.errors.n, 0);
}

/*
 * Byte mutations and truncations of every fixture through every decoder:
 * each either succeeds or fails with issues, never crashes or leaks (the
 * sanitizers watch).
 */
static void check_all_decoders(const char *body, size_t len)
{
    struct mpic_request req;
    struct mpic_check_request creq;
    struct mpic_check_response resp;
    struct mpic_errlist errs;
    char *why = NULL;
    enum mpic_err rc;

    mpic_errlist_init(&errs);
    rc = mpic_request_parse(body, len, &req, &errs);
    assert_true(rc == MPIC_OK ? errs.n == 0 : errs.n > 0);
    mpic_request_cleanup(&req);
    mpic_errlist_cleanup(&errs);
    for (int ct = MPIC_CHECK_CAA; ct <= MPIC_CHECK_DCV; ct++) {
        rc = mpic_check_request_parse(body, len, (enum mpic_check_type)ct,
                                      &creq, &errs);
        assert_true(rc == MPIC_OK ? errs.n == 0 : errs.n > 0);
        if (rc == MPIC_OK) {
            char *enc = mpic_check_request_encode(&creq);

            assert_non_null(enc);
            free(enc);
        }
        mpic_check_request_cleanup(&creq);
        mpic_errlist_cleanup(&errs);
        rc = mpic_check_response_parse(body, len, (enum mpic_check_type)ct,
                                       &resp, &why);
        assert_true(rc == MPIC_OK ? why == NULL : why != NULL);
        free(why);
        why = NULL;
        mpic_check_response_cleanup(&resp);
    }
}

static void test_mutations(void **state)
{
    static const char *const files[] = {
        "caa-request.json",
        "caa-request-minimal.json",
        "caa-response-denied.json",
        "dcv-request-acme-dns-01.json",
        "dcv-request-acme-http-01.json",
        "dcv-request-acme-tls-alpn-01.json",
        "dcv-request-contact-email-caa.json",
        "dcv-request-dns-change.json",
        "dcv-request-dns-persistent.json",
        "dcv-request-ip-address.json",
        "dcv-request-website-change.json",
        "dcv-response-http-passed.json",
    };
    static const char subst[] = {'"', '{', '}', '[',  '0',
                                 'x', ',', ':', '\\', (char)0xc3};

    (void)state;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        size_t len;
        char *orig = slurp(MPIC_SHARED_FIXTURES_DIR, files[f], &len);
        char *buf = malloc(len);

        assert_non_null(buf);
        for (size_t i = 0; i < len; i++) {
            check_all_decoders(orig, i); /* truncation */
            for (size_t k = 0; k < sizeof(subst); k++) {
                memcpy(buf, orig, len);
                buf[i] = subst[k];
                check_all_decoders(buf, len);
            }
        }
        free(buf);
        free(orig);
    }
}

/* mpic_json_dumps writes exactly what json_dumps writes, in every case. */
static void expect_same_dump(const json_t *j, size_t flags)
{
    char *want = json_dumps(j, flags);
    size_t len = 1;
    char *got = mpic_json_dumps(j, flags, &len);

    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(want);
    free(got);
}

static void test_json_dumps_matches_jansson(void **state)
{
    static const char *const files[] = {
        "caa-request.json",
        "caa-response-denied.json",
        "dcv-request-website-change.json",
        "dcv-response-http-passed.json",
        "dcv-response-tls-alpn-passed.json",
    };
    static const size_t flags[] = {
        JSON_COMPACT,
        0,
        JSON_INDENT(2) | JSON_SORT_KEYS,
        JSON_COMPACT | JSON_ENSURE_ASCII,
    };

    (void)state;
    for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
        size_t len;
        char *body = slurp(MPIC_SHARED_FIXTURES_DIR, files[f], &len);
        json_error_t jerr;
        json_t *j = json_loadb(body, len, 0, &jerr);

        assert_non_null(j);
        for (size_t k = 0; k < sizeof(flags) / sizeof(flags[0]); k++)
            expect_same_dump(j, flags[k]);
        json_decref(j);
        free(body);
    }
}

/* Output beyond the stack buffer takes the second, exact-size pass. */
static void test_json_dumps_large(void **state)
{
    json_t *a = json_array();
    char *s;
    size_t len = 0;

    (void)state;
    for (int i = 0; i < 3000; i++)
        assert_int_equal(json_array_append_new(a, json_string("caf\xc3\xa9")),
                         0);
    expect_same_dump(a, JSON_COMPACT);
    expect_same_dump(a, JSON_COMPACT | JSON_ENSURE_ASCII);
    s = mpic_json_dumps(a, JSON_COMPACT | JSON_ENSURE_ASCII, &len);
    assert_non_null(s);
    assert_true(len > 8192);
    assert_int_equal(len, 2 + 3000 * 11 + 2999); /* [, ], commas */
    free(s);
    json_decref(a);
}

static void test_json_dumps_refuses_what_jansson_refuses(void **state)
{
    json_t *str = json_string("x");
    size_t len = 7;
    char *s;

    (void)state;
    /* A bare string needs JSON_ENCODE_ANY, as with json_dumps. */
    assert_null(json_dumps(str, JSON_COMPACT));
    assert_null(mpic_json_dumps(str, JSON_COMPACT, &len));
    assert_int_equal(len, 0);
    s = mpic_json_dumps(str, JSON_COMPACT | JSON_ENCODE_ANY, NULL);
    assert_non_null(s);
    assert_string_equal(s, "\"x\"");
    free(s);
    assert_null(mpic_json_dumps(NULL, JSON_COMPACT, NULL));
    json_decref(str);
}

static void test_cleanup_null_safe(void **state)
{
    (void)state;
    mpic_caa_params_cleanup(NULL);
    mpic_dcv_params_cleanup(NULL);
    mpic_request_cleanup(NULL);
    mpic_check_request_cleanup(NULL);
    mpic_check_response_cleanup(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ip_address_challenge_not_an_address_is_accepted),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_fixture_requests),
        cmocka_unit_test(test_fixture_responses),
        cmocka_unit_test(test_fixture_response_details),
        cmocka_unit_test(test_request_caa_full),
        cmocka_unit_test(test_request_caa_minimal),
        cmocka_unit_test(test_request_caa_defaults),
        cmocka_unit_test(test_echo_website_change),
        cmocka_unit_test(test_echo_acme),
        cmocka_unit_test(test_echo_dns_methods),
        cmocka_unit_test(test_request_headers),
        cmocka_unit_test(test_issue_invalid_json),
        cmocka_unit_test(test_issue_missing_top),
        cmocka_unit_test(test_issue_missing_method_fields),
        cmocka_unit_test(test_issue_field_types),
        cmocka_unit_test(test_issue_check_type),
        cmocka_unit_test(test_issue_validation_method),
        cmocka_unit_test(test_issue_record_type),
        cmocka_unit_test(test_issue_target),
        cmocka_unit_test(test_ip_targets_allowed),
        cmocka_unit_test(test_targets_per_method),
        cmocka_unit_test(test_target_syntax_for_all_checks),
        cmocka_unit_test(test_value_not_in_request),
        cmocka_unit_test(test_token_syntax),
        cmocka_unit_test(test_http_token_path_syntax),
        cmocka_unit_test(test_issue_parameter_values),
        cmocka_unit_test(test_website_change_regex_only),
        cmocka_unit_test(test_issue_orchestration),
        cmocka_unit_test(test_issues_collected),
        cmocka_unit_test(test_check_request_parse),
        cmocka_unit_test(test_check_request_from_request),
        cmocka_unit_test(test_response_tolerant),
        cmocka_unit_test(test_response_strict),
        cmocka_unit_test(test_response_nul_in_strings),
        cmocka_unit_test(test_response_build),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_json_dumps_matches_jansson),
        cmocka_unit_test(test_json_dumps_large),
        cmocka_unit_test(test_json_dumps_refuses_what_jansson_refuses),
        cmocka_unit_test(test_cleanup_null_safe),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
