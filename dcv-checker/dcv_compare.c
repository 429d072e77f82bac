/*
 * Pure comparison rules of the DCV methods: record values against the
 * expected value, IP addresses and PTR targets, the dns-account-01 label,
 * and the HTTP redirect policy. Nothing here does I/O.
 */
#include "dcv-checker/dcv.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

static int lower(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 'a';
    return c;
}

static bool bytes_equal(const char *a, const char *b, size_t n, bool exact_case)
{
    size_t i;

    if (exact_case)
        return memcmp(a, b, n) == 0;
    for (i = 0; i < n; i++) {
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
            return false;
    }
    return true;
}

/* True if want (wlen >= 1 bytes) occurs in rec. Linear in rec_len + wlen
 * (glibc's memmem is the two-way algorithm): compared position by
 * position, a 32 KiB challenge_value on a 64 KiB page held the loop for
 * about half a second. */
static bool contains(const char *rec, size_t rec_len, const char *want,
                     size_t wlen, bool exact_case)
{
    char *r;
    char *w;
    bool found;
    size_t i;

    if (exact_case)
        return memmem(rec, rec_len, want, wlen) != NULL;
    r = xmemdup(rec, rec_len);
    w = xmemdup(want, wlen);
    for (i = 0; i < rec_len; i++)
        r[i] = (char)lower((unsigned char)r[i]);
    for (i = 0; i < wlen; i++)
        w[i] = (char)lower((unsigned char)w[i]);
    found = memmem(r, rec_len, w, wlen) != NULL;
    free(r);
    free(w);
    return found;
}

bool dcv_value_matches(const char *rec, size_t rec_len, const char *want,
                       bool exact_case, bool exact_match)
{
    size_t wlen;

    if (rec == NULL || want == NULL)
        return false;
    wlen = strlen(want);
    if (exact_match)
        return rec_len == wlen && bytes_equal(rec, want, wlen, exact_case);
    /* An empty challenge never proves control. */
    if (wlen == 0 || wlen > rec_len)
        return false;
    return contains(rec, rec_len, want, wlen, exact_case);
}

bool dcv_ip_equal(const char *a, const char *b)
{
    unsigned char x[16];
    unsigned char y[16];

    if (a == NULL || b == NULL)
        return false;
    if (inet_pton(AF_INET, a, x) == 1)
        return inet_pton(AF_INET, b, y) == 1 && memcmp(x, y, 4) == 0;
    if (inet_pton(AF_INET6, a, x) == 1)
        return inet_pton(AF_INET6, b, y) == 1 && memcmp(x, y, 16) == 0;
    return false;
}

bool dcv_ptr_equal(const char *a, const char *b)
{
    size_t la;
    size_t lb;

    if (a == NULL || b == NULL)
        return false;
    la = strlen(a);
    lb = strlen(b);
    if (la > 0 && a[la - 1] == '.')
        la--;
    if (lb > 0 && b[lb - 1] == '.')
        lb--;
    return la > 0 && la == lb && strncasecmp(a, b, la) == 0;
}

bool dcv_contact_equal(const char *rec, size_t rec_len, const char *want)
{
    /* A record that is not exactly the contact does not name it: no
     * trimming, case ignored only (BR 3.2.2.4.13/.14/.16/.17). */
    if (want == NULL || want[0] == '\0')
        return false;
    return dcv_value_matches(rec, rec_len, want, false, true);
}

bool dcv_caa_contact_tag(const char *tag, enum mpic_dcv_method m)
{
    if (tag == NULL)
        return false;
    if (m == MPIC_DCV_CONTACT_EMAIL_CAA)
        return strcasecmp(tag, "contactemail") == 0;
    if (m == MPIC_DCV_CONTACT_PHONE_CAA)
        return strcasecmp(tag, "contactphone") == 0;
    return false;
}

/* dns-change (BR 3.2.2.4.7): TXT honours require_exact_case; CNAME and
 * CAA values are compared case-insensitively; a CNAME target matches with
 * or without its trailing dot. */
static bool dns_change_matches(const struct mpic_dcv_params *p, const char *val,
                               size_t vlen)
{
    size_t l = vlen;

    /* Defence in depth: the API refuses an empty challenge_value, and
     * an empty expected value proves nothing even as an exact match. */
    if (p->challenge_value == NULL || p->challenge_value[0] == '\0')
        return false;
    if (p->dns_record_type == MPIC_RR_CNAME) {
        if (l > 0 && val[l - 1] == '.')
            l--;
        if (dcv_value_matches(val, l, p->challenge_value, false,
                              p->require_exact_match))
            return true;
        return dcv_value_matches(val, vlen, p->challenge_value, false,
                                 p->require_exact_match);
    }
    return dcv_value_matches(val, vlen, p->challenge_value,
                             p->dns_record_type != MPIC_RR_CAA &&
                                 p->dns_record_type != MPIC_RR_CNAME &&
                                 p->require_exact_case,
                             p->require_exact_match);
}

bool dcv_record_matches(const struct mpic_dcv_params *p, const char *val,
                        size_t vlen, bool wildcard_target, int64_t now_s,
                        const char **why)
{
    enum dcv_persist_verdict v;

    if (p == NULL || val == NULL)
        return false;
    switch (p->method) {
    case MPIC_DCV_ACME_DNS_01:
    case MPIC_DCV_DNS_ACCOUNT_01:
        /* RFC 8555 8.4: the TXT value is exactly the digest */
        if (p->key_authorization_hash == NULL ||
            p->key_authorization_hash[0] == '\0')
            return false;
        return dcv_value_matches(val, vlen, p->key_authorization_hash, true,
                                 true);
    case MPIC_DCV_CONTACT_EMAIL_TXT:
    case MPIC_DCV_CONTACT_PHONE_TXT:
    case MPIC_DCV_CONTACT_EMAIL_CAA:
    case MPIC_DCV_CONTACT_PHONE_CAA:
        return dcv_contact_equal(val, vlen, p->challenge_value);
    case MPIC_DCV_DNS_CHANGE:
        return dns_change_matches(p, val, vlen);
    case MPIC_DCV_IP_ADDRESS:
        /* a value with a NUL is no address */
        if (strlen(val) != vlen)
            return false;
        return dcv_ip_equal(val, p->challenge_value);
    case MPIC_DCV_REVERSE_ADDRESS_LOOKUP:
        if (strlen(val) != vlen)
            return false;
        return dcv_ptr_equal(val, p->challenge_value);
    case MPIC_DCV_DNS_PERSISTENT:
        v = dcv_persist_evaluate(val, vlen, &p->issuer_domain_names,
                                 p->expected_account_uri, wildcard_target,
                                 now_s);
        if (v != DCV_PERSIST_OK && why != NULL)
            *why = dcv_persist_verdict_name(v);
        return v == DCV_PERSIST_OK;
    default:
        break;
    }
    return false;
}

char *dcv_base32_lower(const unsigned char *p, size_t n)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    char *out = xmalloc((n * 8 + 4) / 5 + 1);
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    size_t i;

    for (i = 0; i < n; i++) {
        acc = (acc << 8) | p[i];
        bits += 8;
        while (bits >= 5) {
            out[o++] = alphabet[(acc >> (bits - 5)) & 31];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 31];
    out[o] = '\0';
    return out;
}

char *dcv_account_label(const char *account_uri)
{
    unsigned char md[SHA256_DIGEST_LENGTH];

    /* RFC draft-ietf-acme-dns-account-label: first 10 octets, base32. */
    SHA256((const unsigned char *)account_uri, strlen(account_uri), md);
    return dcv_base32_lower(md, 10);
}

char *dcv_base64(const void *p, size_t n)
{
    char *out = xmalloc(4 * ((n + 2) / 3) + 1);

    EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

char *dcv_url_build(const char *scheme, const char *host, const char *path)
{
    if (strchr(host, ':') != NULL)
        return xasprintf("%s://[%s]%s", scheme, host, path);
    return xasprintf("%s://%s%s", scheme, host, path);
}

size_t dcv_rstrip_len(const char *s, size_t len)
{
    while (len > 0 &&
           (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
            s[len - 1] == '\n' || s[len - 1] == '\v' || s[len - 1] == '\f'))
        len--;
    return len;
}

bool dcv_redirect_status_ok(long status)
{
    return status == 301 || status == 302 || status == 307 || status == 308;
}

/* True if the two URLs are equal up to their fragments ('#' on). */
static bool same_but_fragment(const char *a, const char *b)
{
    size_t la = strcspn(a, "#");
    size_t lb = strcspn(b, "#");

    return la == lb && memcmp(a, b, la) == 0;
}

static bool url_has_part(CURLU *u, CURLUPart what)
{
    char *v = NULL;
    bool has = curl_url_get(u, what, &v, 0) == CURLUE_OK;

    curl_free(v);
    return has;
}

/* Checks scheme, host and port of a parsed URL; reason on failure. */
static enum mpic_err url_check(CURLU *u, char **host, unsigned *port,
                               char **why)
{
    enum mpic_err rc = MPIC_ERR_INVALID;
    char *scheme = NULL;
    char *h = NULL;
    char *p = NULL;
    unsigned pn;

    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
        *why = xstrdup("URL without a scheme");
        goto out;
    }
    if (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0) {
        *why = xasprintf("scheme %s is not http or https", scheme);
        goto out;
    }
    /* No credentials in a URL we fetch: a redirect must not make us send
     * user:password (RFC 9110 4.2.4: userinfo is deprecated in http(s)). */
    if (url_has_part(u, CURLUPART_USER) ||
        url_has_part(u, CURLUPART_PASSWORD) ||
        url_has_part(u, CURLUPART_OPTIONS)) {
        *why = xstrdup("URL with userinfo (user:password@)");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &h, 0) != CURLUE_OK || h[0] == '\0') {
        *why = xstrdup("URL without a host");
        goto out;
    }
    /* libcurl takes "///%7f" as the host "\x7f" and then writes the URL
     * without it: no control characters or spaces in a host. */
    for (const char *c = h; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c == 0x7f) {
            *why = xstrdup("URL with a control character in its host");
            goto out;
        }
    }
    pn = strcasecmp(scheme, "https") == 0 ? 443 : 80;
    if (curl_url_get(u, CURLUPART_PORT, &p, 0) == CURLUE_OK) {
        char *end = NULL;
        unsigned long v = strtoul(p, &end, 10);

        /* BR 3.2.2.4.18/19: only the authorized ports 80 and 443. */
        if (end == p || *end != '\0' || (v != 80 && v != 443)) {
            *why = xasprintf("port %s is not 80 or 443", p);
            goto out;
        }
        pn = (unsigned)v;
    }
    if (host != NULL) {
        size_t hl = strlen(h);

        /* curl keeps IPv6 brackets in the host part */
        if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']')
            *host = xstrndup(h + 1, hl - 2);
        else
            *host = xstrdup(h);
    }
    if (port != NULL)
        *port = pn;
    rc = MPIC_OK;
out:
    curl_free(scheme);
    curl_free(h);
    curl_free(p);
    return rc;
}

enum mpic_err dcv_redirect_resolve(const char *base, const char *location,
                                   char **next, char **why)
{
    enum mpic_err rc = MPIC_ERR_INVALID;
    CURLU *u = NULL;
    char *full = NULL;
    char *base_full = NULL;
    char *host = NULL;
    unsigned port = 0;

    *next = NULL;
    *why = NULL;
    if (location == NULL || location[0] == '\0') {
        *why = xstrdup("redirect without a Location");
        goto out;
    }
    /* RFC 9110 10.2.2: a Location is a URI-reference (RFC 3986), printable
     * ASCII only. Raw bytes (not UTF-8, controls, blanks) are refused, not
     * guessed at. */
    for (const char *c = location; *c != '\0'; c++) {
        if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f) {
            *why =
                xasprintf("the Location is not a URI: byte 0x%02x at "
                          "offset %zu",
                          (unsigned)(unsigned char)*c, (size_t)(c - location));
            goto out;
        }
    }
    u = curl_url();
    if (u == NULL) {
        *why = xstrdup("curl_url failed");
        rc = MPIC_ERR_INTERNAL;
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK) {
        *why = xasprintf("bad base URL %s", base);
        goto out;
    }
    if (curl_url_get(u, CURLUPART_URL, &base_full, 0) != CURLUE_OK) {
        *why = xasprintf("bad base URL %s", base);
        goto out;
    }
    /* A relative Location is resolved against the current URL (RFC 9110
     * 10.2.2); non-http schemes are refused below. */
    if (curl_url_set(u, CURLUPART_URL, location, CURLU_NON_SUPPORT_SCHEME) !=
        CURLUE_OK) {
        *why = xasprintf("unparseable Location %s", location);
        goto out;
    }
    if (url_check(u, NULL, NULL, why) != MPIC_OK)
        goto out;
    if (curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK) {
        *why = xasprintf("unparseable Location %s", location);
        goto out;
    }
    /* What we follow is the URL as written out: it must parse back to an
     * http(s) URL with a host and an authorized port. */
    if (dcv_url_host_port(full, &host, &port) != MPIC_OK) {
        *why = xasprintf("unparseable Location %s", location);
        goto out;
    }
    /* The same URL with another fragment is no redirect at all (the
     * fragment is never sent): a loop, or a trick to hide one. A bare
     * "#frag" is that by definition (RFC 3986 5.2.2), whatever libcurl
     * makes of it (it drops the last path segment). */
    if (location[0] == '#' ||
        (strchr(location, '#') != NULL && same_but_fragment(base_full, full))) {
        *why = xstrdup("the Location changes only the fragment");
        goto out;
    }
    *next = xstrdup(full);
    rc = MPIC_OK;
out:
    free(host);
    curl_free(full);
    curl_free(base_full);
    curl_url_cleanup(u);
    return rc;
}

enum mpic_err dcv_url_host_port(const char *url, char **host, unsigned *port)
{
    enum mpic_err rc = MPIC_ERR_INVALID;
    CURLU *u = curl_url();
    char *why = NULL;

    *host = NULL;
    if (u == NULL)
        return MPIC_ERR_INTERNAL;
    if (curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) !=
        CURLUE_OK)
        goto out;
    rc = url_check(u, host, port, &why);
out:
    free(why);
    curl_url_cleanup(u);
    return rc;
}
