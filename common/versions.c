/*
 * The library versions of GET /configz (see versions.h).
 */
#include "common/versions.h"

#include <ares.h>
#include <jansson.h>
#include <ldns/ldns.h>
#include <openssl/crypto.h>

size_t mpic_library_versions(struct mpic_http_library *out,
                             const char *curl_version)
{
    size_t n = 0;

    /* Only the daemons that make HTTP requests link libcurl. */
    if (curl_version != NULL)
        out[n++] = (struct mpic_http_library){"curl", curl_version};
    out[n++] = (struct mpic_http_library){"c-ares", ares_version(NULL)};
    out[n++] = (struct mpic_http_library){"ldns", ldns_version()};
    out[n++] = (struct mpic_http_library){"jansson", jansson_version_str()};
    out[n++] =
        (struct mpic_http_library){"openssl", OpenSSL_version(OPENSSL_VERSION)};
    return n;
}
