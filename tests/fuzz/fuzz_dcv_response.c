/*
 * The DCV checker's reply built from what a target sends (issue 11): the
 * details skeleton, response_history entries with refused Locations, the
 * page fields, a reason phrase and a Location quoted in error messages, a
 * certificate's common name (d2i_X509 of the input), DNS records and
 * names. The input: byte 0 picks the method family (0 HTTP, 1 TLS-ALPN,
 * 2 DNS), then fields of a 2-byte big-endian length and that many bytes.
 * Property: the reply encodes, parses back with jansson as a well-formed
 * CHECK_RESPONSE (open-mpic-api.md section 2), and the coordinator's
 * decoder accepts it.
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>
#include <openssl/x509.h>

#include "common/err.h"
#include "common/json_safe.h"
#include "common/model.h"
#include "dcv-checker/dcv.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

struct reader {
    const uint8_t *p;
    size_t n;
};

/* The next field (may be empty; NULs and any bytes allowed). */
static const char *field(struct reader *r, size_t *len)
{
    const char *f;
    size_t l;

    if (r->n < 2) {
        r->n = 0; /* a lone last byte ends the input */
        *len = 0;
        return "";
    }
    l = ((size_t)r->p[0] << 8) | r->p[1];
    r->p += 2;
    r->n -= 2;
    if (l > r->n)
        l = r->n;
    f = (const char *)r->p;
    r->p += l;
    r->n -= l;
    *len = l;
    return f;
}

static void check_string_or_null(const json_t *v)
{
    FUZZ_CHECK(v != NULL && (json_is_string(v) || json_is_null(v)));
}

/* open-mpic-api.md section 2: CHECK_RESPONSE of a DCV check. */
static void check_shape(const json_t *o, enum mpic_dcv_method m)
{
    const json_t *v;
    const json_t *d;
    const json_t *e;
    size_t i;

    FUZZ_CHECK(json_is_object(o));
    v = json_object_get(o, "check_type");
    FUZZ_CHECK(json_is_string(v) && strcmp(json_string_value(v), "dcv") == 0);
    FUZZ_CHECK(json_is_boolean(json_object_get(o, "check_passed")));
    FUZZ_CHECK(json_is_boolean(json_object_get(o, "check_completed")));
    FUZZ_CHECK(json_is_integer(json_object_get(o, "timestamp_ns")));
    v = json_object_get(o, "errors");
    FUZZ_CHECK(json_is_null(v) || json_is_array(v));
    json_array_foreach(v, i, e)
    {
        FUZZ_CHECK(json_is_object(e) && json_object_size(e) == 2);
        FUZZ_CHECK(json_is_string(json_object_get(e, "error_type")));
        FUZZ_CHECK(json_is_string(json_object_get(e, "error_message")));
    }
    d = json_object_get(o, "details");
    FUZZ_CHECK(json_is_object(d));
    v = json_object_get(d, "validation_method");
    FUZZ_CHECK(json_is_string(v) &&
               strcmp(json_string_value(v), mpic_dcv_method_name(m)) == 0);
    if (m == MPIC_DCV_ACME_HTTP_01) {
        FUZZ_CHECK(json_object_size(d) == 6);
        v = json_object_get(d, "response_history");
        FUZZ_CHECK(json_is_array(v));
        json_array_foreach(v, i, e)
        {
            FUZZ_CHECK(json_is_object(e));
            FUZZ_CHECK(json_is_integer(json_object_get(e, "status_code")));
            check_string_or_null(json_object_get(e, "url"));
            if (json_object_size(e) == 3)
                check_string_or_null(json_object_get(e, "location"));
            else
                FUZZ_CHECK(json_object_size(e) == 2);
        }
        check_string_or_null(json_object_get(d, "response_url"));
        FUZZ_CHECK(json_is_integer(json_object_get(d, "response_status_code")));
        FUZZ_CHECK(json_is_string(json_object_get(d, "response_page")));
        check_string_or_null(json_object_get(d, "resolved_ip"));
    } else if (m == MPIC_DCV_ACME_TLS_ALPN_01) {
        FUZZ_CHECK(json_object_size(d) == 2);
        check_string_or_null(json_object_get(d, "common_name"));
    } else {
        FUZZ_CHECK(json_object_size(d) == 6);
        FUZZ_CHECK(json_is_array(json_object_get(d, "records_seen")));
        FUZZ_CHECK(json_is_array(json_object_get(d, "cname_chain")));
        check_string_or_null(json_object_get(d, "found_at"));
    }
}

static void http_details(struct reader *r, json_t *details,
                         struct mpic_errlist *errs)
{
    json_t *history = NULL;
    const char *url, *loc, *reason, *body;
    size_t ul, ll, rl, bl, sl;
    const char *st;
    char *curl_url;
    char *cloc;
    char *next = NULL;
    char *why = NULL;
    char *rs;
    long status;

    url = field(r, &ul);
    loc = field(r, &ll);
    reason = field(r, &rl);
    body = field(r, &bl);
    st = field(r, &sl);
    status = sl >= 2 ? (long)(((unsigned)(uint8_t)st[0] << 8) | (uint8_t)st[1])
                     : 302;
    curl_url = fuzz_cstr((const uint8_t *)url, ul);
    cloc = fuzz_cstr((const uint8_t *)loc, ll);
    /* as on_done: a followed hop, then the refused one with its Location */
    dcv_history_push(&history, 301, curl_url, NULL, 0, false);
    if (dcv_redirect_resolve(curl_url, cloc, &next, &why) != MPIC_OK)
        mpic_errlist_add(errs, DCV_ERR_REDIRECT, "redirect from %s refused: %s",
                         curl_url, why);
    dcv_history_push(&history, status, curl_url, loc, ll, true);
    mpic_jset(details, "response_history", history);
    /* as on_header and judge_page */
    rs = mpic_utf8_valid(reason, rl, false, NULL);
    mpic_errlist_add(errs, DCV_ERR_HTTP,
                     "An HTTP error occurred: Response status %ld, "
                     "Response reason: %s",
                     status, rs);
    dcv_page_details(details, next != NULL ? next : curl_url, status, body, bl);
    mpic_jset(details, "resolved_ip", mpic_jstr_bytes(url, ul));
    free(rs);
    free(next);
    free(why);
    free(cloc);
    free(curl_url);
}

static void tls_details(struct reader *r, json_t *details)
{
    const unsigned char *der = r->p;
    X509 *cert = d2i_X509(NULL, &der, (long)r->n);

    if (cert != NULL) {
        mpic_jset(details, "common_name", dcv_cert_common_name(cert));
        X509_free(cert);
    }
}

static void dns_details(struct reader *r, json_t *details)
{
    json_t *seen = mpic_jarr();
    json_t *chain = mpic_jarr();
    const char *f;
    size_t l;
    char *s;

    f = field(r, &l);
    mpic_jset(details, "found_at", mpic_jstr_bytes(f, l));
    f = field(r, &l);
    s = fuzz_cstr((const uint8_t *)f, l);
    mpic_jpush(chain, mpic_jstr(s));
    free(s);
    while (r->n > 0) {
        f = field(r, &l);
        mpic_jpush(seen, mpic_jstr_bytes(f, l));
    }
    mpic_jset(details, "records_seen", seen);
    mpic_jset(details, "cname_chain", chain);
    mpic_jset(details, "response_code", mpic_jint(0));
    mpic_jset(details, "ad_flag", mpic_jbool(false));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpic_check_response r;
    struct mpic_check_response back;
    struct reader rd;
    enum mpic_dcv_method m;
    json_error_t jerr;
    json_t *o;
    json_t *parsed;
    char *enc;
    char *why = NULL;
    size_t len = 0;

    if (size < 1)
        return 0;
    switch (data[0] % 3) {
    case 0:
        m = MPIC_DCV_ACME_HTTP_01;
        break;
    case 1:
        m = MPIC_DCV_ACME_TLS_ALPN_01;
        break;
    default:
        m = MPIC_DCV_DNS_CHANGE;
        break;
    }
    rd.p = data + 1;
    rd.n = size - 1;
    memset(&r, 0, sizeof(r));
    mpic_errlist_init(&r.errors);
    r.check_type = MPIC_CHECK_DCV;
    r.details = dcv_details_skeleton(m);
    if (m == MPIC_DCV_ACME_HTTP_01)
        http_details(&rd, r.details, &r.errors);
    else if (m == MPIC_DCV_ACME_TLS_ALPN_01)
        tls_details(&rd, r.details);
    else
        dns_details(&rd, r.details);
    r.errors_present = r.errors.n > 0;
    r.check_completed = true;

    o = mpic_check_response_to_json(&r);
    FUZZ_CHECK(o != NULL);
    enc = mpic_json_dumps(o, JSON_COMPACT, &len);
    FUZZ_CHECK(enc != NULL);
    parsed =
        json_loadb(enc, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FUZZ_CHECK(parsed != NULL);
    check_shape(parsed, m);
    /* the coordinator reads it */
    memset(&back, 0, sizeof(back));
    FUZZ_CHECK(mpic_check_response_parse(enc, len, MPIC_CHECK_DCV, &back,
                                         &why) == MPIC_OK);
    FUZZ_CHECK(back.errors.n == r.errors.n);
    mpic_check_response_cleanup(&back);
    free(why);
    json_decref(parsed);
    free(enc);
    json_decref(o);
    json_decref(r.details);
    mpic_errlist_cleanup(&r.errors);
    return 0;
}
