/*
 * The parts of a DCV check response built from what the target sent:
 * the details skeleton, response_history entries, the page fields and the
 * certificate's common name. Every string goes through json_safe.h (valid
 * UTF-8, NULs kept), so nothing a target sends can make an encoder fail;
 * tests/fuzz/fuzz_dcv_response.c feeds them arbitrary bytes.
 */
#include "dcv-checker/dcv.h"

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdlib.h>

#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"

/* Details with every field null: what an early error reports. */
json_t *dcv_details_skeleton(enum mpic_dcv_method m)
{
    static const char *const dns_keys[] = {"records_seen", "response_code",
                                           "ad_flag",      "found_at",
                                           "cname_chain",  NULL};
    static const char *const http_keys[] = {
        "response_history", "response_url", "response_status_code",
        "response_page",    "resolved_ip",  NULL};
    static const char *const tls_keys[] = {"common_name", NULL};
    const char *const *keys;
    json_t *o = mpic_jobj();
    size_t i;

    switch (m) {
    case MPIC_DCV_WEBSITE_CHANGE:
    case MPIC_DCV_ACME_HTTP_01:
        keys = http_keys;
        break;
    case MPIC_DCV_ACME_TLS_ALPN_01:
        keys = tls_keys;
        break;
    default:
        keys = dns_keys;
        break;
    }
    mpic_jset(o, "validation_method", mpic_jstr(mpic_dcv_method_name(m)));
    for (i = 0; keys[i] != NULL; i++)
        mpic_jset(o, keys[i], json_null());
    return o;
}

void dcv_history_push(json_t **history, long status, const char *url,
                      const char *location, size_t location_len, bool refused)
{
    json_t *h = mpic_jobj();

    if (*history == NULL)
        *history = mpic_jarr();
    mpic_jset(h, "status_code", mpic_jint(status));
    mpic_jset(h, "url", mpic_jstr(url));
    if (refused)
        mpic_jset(h, "location",
                  location != NULL ? mpic_jstr_bytes(location, location_len)
                                   : json_null());
    mpic_jpush(*history, h);
}

void dcv_page_details(json_t *details, const char *url, long status,
                      const char *page, size_t n)
{
    char *b64 = dcv_base64(page, n);

    mpic_jset(details, "response_url", mpic_jstr(url));
    mpic_jset(details, "response_status_code", mpic_jint(status));
    mpic_jset(details, "response_page", mpic_jstr(b64));
    free(b64);
}

/*
 * The certificate's (first) subject CN as a JSON string, or null. The CN
 * is the applicant's: any ASN.1 string type, any bytes. Converted to UTF-8
 * by OpenSSL where its type allows; else (a UTF8String that is not UTF-8,
 * a BMPString of odd length...) its raw bytes, repaired; NULs kept.
 */
json_t *dcv_cert_common_name(X509 *cert)
{
    const X509_NAME *name = X509_get_subject_name(cert);
    const ASN1_STRING *s;
    unsigned char *utf8 = NULL;
    json_t *v;
    int i;
    int n;

    i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (i < 0)
        return json_null();
    s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
    if (s == NULL)
        return json_null();
    n = ASN1_STRING_to_UTF8(&utf8, s);
    if (n >= 0) {
        v = mpic_jstr_bytes((const char *)utf8, (size_t)n);
        OPENSSL_free(utf8);
        return v;
    }
    ERR_clear_error();
    n = ASN1_STRING_length(s);
    return mpic_jstr_bytes((const char *)ASN1_STRING_get0_data(s),
                           n > 0 ? (size_t)n : 0);
}
