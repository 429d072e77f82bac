/*
 * Decoding of dcv_check_parameters, driven by the per-method rules of
 * model.c: which fields a method carries, which are required, and the fixed
 * record type and name prefix. Also the value checks the fields need (URIs,
 * header names and values, name prefixes, SHA-256 hex, a compilable
 * match_regex).
 */
#include "common/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/model_int.h"

static bool method_has(enum mpic_dcv_method m, enum dcv_field f)
{
    for (const enum dcv_field *p = mpic_model_rules[m].fields; *p != F_END;
         p++) {
        if (*p == f)
            return true;
    }
    return false;
}

/* ---- value checks ---- */

static bool is_hex64(const char *s)
{
    size_t n = 0;

    for (; s[n] != '\0'; n++) {
        if (!isxdigit((unsigned char)s[n]))
            return false;
    }
    return n == 64;
}

/* RFC 3986 3.1: scheme ":" followed by something. */
static bool looks_like_uri(const char *s)
{
    size_t i = 0;

    if (!isalpha((unsigned char)s[0]))
        return false;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' ||
           s[i] == '.')
        i++;
    if (s[i] != ':' || s[i + 1] == '\0')
        return false;
    for (; s[i] != '\0'; i++) {
        if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
            return false;
    }
    return true;
}

/* RFC 9110 5.1/5.5: a token name; a value without CR, LF or NUL. */
static bool header_name_ok(const char *s)
{
    static const char tchar[] = "!#$%&'*+-.^_`|~";

    if (s[0] == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && strchr(tchar, *s) == NULL)
            return false;
    }
    return true;
}

static bool header_value_ok(const char *s)
{
    for (; *s != '\0'; s++) {
        if (*s == '\r' || *s == '\n')
            return false;
    }
    return true;
}

/* RFC 8555 8.3: a token is base64url, without padding. */
static bool is_base64url(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (; *s != '\0'; s++) {
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return false;
    }
    return true;
}

#define TOKEN_PATH_MAX 255 /* a file name (NAME_MAX) */

/*
 * http_token_path names a file in /.well-known/pki-validation/ (BR
 * 3.2.2.4.18): one path segment of RFC 3986 pchar without percent-encoding,
 * so that the URL fetched is that file and nothing else. Refused: '/' and
 * '\' (another directory), "." and any ".." (dot segments, which URL
 * parsers resolve, and "..;" on servlet containers), '?' and '#' (query,
 * fragment), '%' (encoded '/' or '.'), ';' (a path parameter that servlet
 * containers strip, so another file is served), and spaces, control bytes,
 * non-ASCII bytes and other characters that are not pchar. Returns the
 * reason, or NULL when it is fine.
 */
static char *token_path_problem(const char *s)
{
    static const char extra[] = "-._~!$&'()*+,=:@";
    size_t n = strlen(s);

    if (n > TOKEN_PATH_MAX)
        return xasprintf("%zu octets long (limit %d)", n, TOKEN_PATH_MAX);
    if (strcmp(s, ".") == 0 || strstr(s, "..") != NULL)
        return xstrdup("must not be \".\" or contain \"..\"");
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (isalnum(c) || (c != '\0' && strchr(extra, c) != NULL))
            continue;
        if (c == '/' || c == '\\')
            return xasprintf("must be one path segment, without '%c'", c);
        if (c == '?' || c == '#')
            return xasprintf("must not hold a query or fragment ('%c')", c);
        if (c == '%')
            return xstrdup("must not hold percent-encoding ('%')");
        if (c <= 0x20 || c >= 0x7f)
            return xasprintf("byte 0x%02x is not allowed (printable ASCII "
                             "only)",
                             (unsigned)c);
        return xasprintf("character '%c' is not allowed in the file name", c);
    }
    return NULL;
}

static void check_regex(const char *re, struct mpic_errlist *errs)
{
    pcre2_code *code;
    int ec = 0;
    PCRE2_SIZE off = 0;
    PCRE2_UCHAR msg[256];

    code = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec,
                         &off, NULL);
    if (code != NULL) {
        pcre2_code_free(code);
        return;
    }
    if (pcre2_get_error_message(ec, msg, sizeof(msg)) < 0)
        snprintf((char *)msg, sizeof(msg), "error %d", ec);
    mpic_errlist_add(errs, ISSUE_VALUE,
                     DCV_PATH ".match_regex: does not compile at offset "
                              "%zu: %s",
                     (size_t)off, (const char *)msg);
}

/* ---- DCV parameters ---- */

static void get_headers(const json_t *obj, struct mpic_dcv_params *p,
                        struct mpic_errlist *errs)
{
    json_t *v = json_object_get(obj, "http_headers");
    const char *name;
    const json_t *val;
    size_t n;

    if (v == NULL || json_is_null(v))
        return;
    if (!json_is_object(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE,
                         DCV_PATH ".http_headers: must be an object, not %s",
                         model_type_word(v));
        return;
    }
    n = json_object_size(v);
    p->has_http_headers = true;
    p->http_headers = n > 0 ? xcalloc(n, sizeof(*p->http_headers)) : NULL;
    json_object_foreach(v, name, val)
    {
        if (!json_is_string(val)) {
            mpic_errlist_add(errs, ISSUE_TYPE,
                             DCV_PATH ".http_headers.%s: must be a string, "
                                      "not %s",
                             name, model_type_word(val));
            continue;
        }
        if (!header_name_ok(name) ||
            strlen(json_string_value(val)) != json_string_length(val) ||
            !header_value_ok(json_string_value(val))) {
            mpic_errlist_add(errs, ISSUE_VALUE,
                             DCV_PATH ".http_headers: invalid header \"%s\"",
                             name);
            continue;
        }
        MPIC_ASSERT(p->n_http_headers < n);
        p->http_headers[p->n_http_headers].name = xstrdup(name);
        p->http_headers[p->n_http_headers].value =
            xstrdup(json_string_value(val));
        p->n_http_headers++;
    }
}

static void get_rrtype(const json_t *obj, const struct method_rule *r,
                       const char *mname, struct mpic_dcv_params *p,
                       struct mpic_errlist *errs)
{
    char *s = NULL;
    enum mpic_rrtype t = MPIC_RR_NONE;
    enum got g;

    g = mpic_model_get_string(obj, DCV_PATH, "dns_record_type", &s, errs);
    if (g == GOT_BAD)
        goto out;
    if (g == GOT_ABSENT) {
        if (r->fixed_rr != MPIC_RR_NONE)
            p->dns_record_type = r->fixed_rr;
        else
            mpic_errlist_add(errs, ISSUE_MISSING,
                             DCV_PATH ".dns_record_type: required for %s",
                             mname);
        goto out;
    }
    if (mpic_rrtype_from_name(s, &t) != 0) {
        mpic_errlist_add(errs, ISSUE_RRTYPE,
                         DCV_PATH ".dns_record_type: unknown type \"%s\"", s);
        goto out;
    }
    if (r->fixed_rr != MPIC_RR_NONE) {
        if (t != r->fixed_rr) {
            mpic_errlist_add(errs, ISSUE_RRTYPE,
                             DCV_PATH ".dns_record_type: must be %s for %s",
                             mpic_rrtype_name(r->fixed_rr), mname);
            goto out;
        }
    } else {
        bool ok = false;

        for (size_t i = 0; i < sizeof(r->allowed) / sizeof(r->allowed[0]);
             i++) {
            if (r->allowed[i] != MPIC_RR_NONE && r->allowed[i] == t)
                ok = true;
        }
        if (!ok) {
            mpic_errlist_add(errs, ISSUE_RRTYPE,
                             DCV_PATH ".dns_record_type: %s is not allowed "
                                      "for %s",
                             s, mname);
            goto out;
        }
    }
    p->dns_record_type = t;
out:
    free(s);
}

/*
 * A free dns_name_prefix is prepended to the target as labels: letters,
 * digits, '-' and '_', 1 to 63 octets each. "" means no prefix.
 */
static bool prefix_ok(const char *s)
{
    size_t n = 0;

    if (s[0] == '\0')
        return true;
    for (;; s++) {
        if (*s == '.' || *s == '\0') {
            if (n == 0 || n > 63)
                return false;
            if (*s == '\0')
                return true;
            n = 0;
            continue;
        }
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_')
            return false;
        n++;
    }
}

static void get_prefix(const json_t *obj, const struct method_rule *r,
                       const char *mname, struct mpic_dcv_params *p,
                       struct mpic_errlist *errs)
{
    char *s = NULL;
    enum got g;

    g = mpic_model_get_string(obj, DCV_PATH, "dns_name_prefix", &s, errs);
    if (g == GOT_BAD)
        goto out;
    if (!r->prefix_fixed) {
        if (s != NULL && !prefix_ok(s)) {
            mpic_errlist_add(errs, ISSUE_VALUE,
                             DCV_PATH ".dns_name_prefix: \"%s\" is not a "
                                      "sequence of DNS labels",
                             s);
            goto out;
        }
        p->dns_name_prefix = s;
        s = NULL;
        goto out;
    }
    /* A fixed prefix may be echoed back to us; null and "" mean none. */
    if (g == GOT_OK &&
        !(r->prefix != NULL ? strcmp(s, r->prefix) == 0 : s[0] == '\0')) {
        if (r->prefix != NULL)
            mpic_errlist_add(errs, ISSUE_VALUE,
                             DCV_PATH ".dns_name_prefix: must be \"%s\" for "
                                      "%s",
                             r->prefix, mname);
        else
            mpic_errlist_add(errs, ISSUE_VALUE,
                             DCV_PATH ".dns_name_prefix: must be null for %s",
                             mname);
        goto out;
    }
    p->dns_name_prefix = r->prefix != NULL ? xstrdup(r->prefix) : NULL;
out:
    free(s);
}

/* Stores a string field, reporting absence and emptiness as required. */
static void get_field_string(const json_t *obj, enum dcv_field f,
                             const struct method_rule *r, const char *mname,
                             char **out, struct mpic_errlist *errs)
{
    const char *key = mpic_model_field_keys[f];
    enum got g = mpic_model_get_string(obj, DCV_PATH, key, out, errs);

    if (g == GOT_ABSENT && (r->required & REQ(f)) != 0)
        mpic_errlist_add(errs, ISSUE_MISSING, DCV_PATH ".%s: required for %s",
                         key, mname);
}

/*
 * A required string must also be non-empty: an empty challenge_value would
 * be "contained" in every record. website-change is the one exception, with
 * a match_regex (checked by the caller).
 */
static void require_nonempty(const char *s, enum dcv_field f, const char *mname,
                             struct mpic_errlist *errs)
{
    if (s != NULL && s[0] == '\0')
        mpic_errlist_add(errs, ISSUE_VALUE,
                         DCV_PATH ".%s: must not be empty for %s",
                         mpic_model_field_keys[f], mname);
}

void mpic_model_parse_dcv_params(const json_t *v, struct mpic_dcv_params *p,
                                 bool *method_ok, struct mpic_errlist *errs)
{
    char *mstr = NULL;
    char *scheme = NULL;
    const struct method_rule *r;
    const char *mname;
    enum got g;

    *method_ok = false;
    if (!json_is_object(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE,
                         DCV_PATH ": must be an object, "
                                  "not %s",
                         model_type_word(v));
        goto out;
    }
    g = mpic_model_get_string(v, DCV_PATH, "validation_method", &mstr, errs);
    if (g == GOT_ABSENT)
        mpic_errlist_add(errs, ISSUE_MISSING,
                         DCV_PATH ".validation_method: required");
    if (g != GOT_OK)
        goto out;
    if (mpic_dcv_method_from_name(mstr, &p->method) != 0) {
        mpic_errlist_add(errs, ISSUE_METHOD,
                         DCV_PATH ".validation_method: unknown method \"%s\"",
                         mstr);
        goto out;
    }
    *method_ok = true;
    r = &mpic_model_rules[p->method];
    mname = mpic_model_method_names[p->method];

    p->require_exact_case = r->exact_case;
    mpic_model_get_bool(v, DCV_PATH, "require_exact_case",
                        &p->require_exact_case, errs);

    for (const enum dcv_field *f = r->fields; *f != F_END; f++) {
        switch (*f) {
        case F_CHALLENGE:
            get_field_string(v, *f, r, mname, &p->challenge_value, errs);
            break;
        case F_TOKEN_PATH:
            get_field_string(v, *f, r, mname, &p->http_token_path, errs);
            require_nonempty(p->http_token_path, *f, mname, errs);
            if (p->http_token_path != NULL && p->http_token_path[0] != '\0') {
                char *why = token_path_problem(p->http_token_path);

                if (why != NULL)
                    mpic_errlist_add(errs, ISSUE_VALUE,
                                     DCV_PATH ".http_token_path: %s", why);
                free(why);
            }
            break;
        case F_URL_SCHEME:
            p->url_scheme = MPIC_URL_HTTP;
            if (mpic_model_get_string(v, DCV_PATH, "url_scheme", &scheme,
                                      errs) != GOT_OK)
                break;
            if (strcmp(scheme, "https") == 0)
                p->url_scheme = MPIC_URL_HTTPS;
            else if (strcmp(scheme, "http") != 0)
                mpic_errlist_add(errs, ISSUE_VALUE,
                                 DCV_PATH ".url_scheme: must be \"http\" or "
                                          "\"https\", not \"%s\"",
                                 scheme);
            break;
        case F_HEADERS:
            get_headers(v, p, errs);
            break;
        case F_REGEX:
            get_field_string(v, *f, r, mname, &p->match_regex, errs);
            if (p->match_regex != NULL)
                check_regex(p->match_regex, errs);
            break;
        case F_TOKEN:
            get_field_string(v, *f, r, mname, &p->token, errs);
            require_nonempty(p->token, *f, mname, errs);
            if (p->token != NULL && p->token[0] != '\0' &&
                !is_base64url(p->token))
                mpic_errlist_add(errs, ISSUE_VALUE,
                                 DCV_PATH ".token: must be base64url "
                                          "(A-Z a-z 0-9 - _; RFC 8555 8.3)");
            break;
        case F_KEY_AUTH:
            get_field_string(v, *f, r, mname, &p->key_authorization, errs);
            require_nonempty(p->key_authorization, *f, mname, errs);
            break;
        case F_KEY_AUTH_HASH:
            get_field_string(v, *f, r, mname, &p->key_authorization_hash, errs);
            require_nonempty(p->key_authorization_hash, *f, mname, errs);
            break;
        case F_PREFIX:
            get_prefix(v, r, mname, p, errs);
            break;
        case F_RRTYPE:
            get_rrtype(v, r, mname, p, errs);
            break;
        case F_EXACT_MATCH:
            mpic_model_get_bool(v, DCV_PATH, "require_exact_match",
                                &p->require_exact_match, errs);
            break;
        case F_ISSUERS:
            g = mpic_model_get_strv(v, DCV_PATH, "issuer_domain_names",
                                    &p->issuer_domain_names, errs);
            if (g == GOT_ABSENT)
                mpic_errlist_add(errs, ISSUE_MISSING,
                                 DCV_PATH ".issuer_domain_names: required "
                                          "for %s",
                                 mname);
            else if (g == GOT_OK && p->issuer_domain_names.n == 0)
                mpic_errlist_add(errs, ISSUE_VALUE,
                                 DCV_PATH ".issuer_domain_names: must not be "
                                          "empty");
            break;
        case F_EXPECTED_URI:
            get_field_string(v, *f, r, mname, &p->expected_account_uri, errs);
            if (p->expected_account_uri != NULL &&
                !looks_like_uri(p->expected_account_uri))
                mpic_errlist_add(errs, ISSUE_VALUE,
                                 DCV_PATH ".expected_account_uri: not a URI");
            break;
        case F_ACCOUNT_URI:
            get_field_string(v, *f, r, mname, &p->account_uri, errs);
            if (p->account_uri != NULL && !looks_like_uri(p->account_uri))
                mpic_errlist_add(errs, ISSUE_VALUE,
                                 DCV_PATH ".account_uri: not a URI");
            break;
        case F_END:
            break;
        }
    }

    switch (p->method) {
    case MPIC_DCV_WEBSITE_CHANGE:
        /* An empty match_regex is none: it looks for nothing either. */
        if (p->challenge_value != NULL && p->challenge_value[0] == '\0' &&
            (p->match_regex == NULL || p->match_regex[0] == '\0'))
            mpic_errlist_add(errs, ISSUE_VALUE,
                             DCV_PATH ".challenge_value: must not be empty "
                                      "without match_regex");
        break;
    case MPIC_DCV_ACME_TLS_ALPN_01:
        if (p->key_authorization_hash != NULL &&
            p->key_authorization_hash[0] != '\0' &&
            !is_hex64(p->key_authorization_hash))
            mpic_errlist_add(errs, ISSUE_VALUE,
                             DCV_PATH ".key_authorization_hash: must be 64 "
                                      "hex digits (SHA-256)");
        break;
    case MPIC_DCV_DNS_CHANGE:
        /* Only TXT values are compared case-sensitively. */
        if (p->dns_record_type != MPIC_RR_TXT)
            p->require_exact_case = false;
        require_nonempty(p->challenge_value, F_CHALLENGE, mname, errs);
        break;
    case MPIC_DCV_IP_ADDRESS:
        /*
         * A challenge_value that is not an address is not refused here:
         * it can match no record, so the check runs and fails (the API
         * compliance suite expects a 200 with is_valid false).
         */
        require_nonempty(p->challenge_value, F_CHALLENGE, mname, errs);
        break;
    default:
        if (method_has(p->method, F_CHALLENGE))
            require_nonempty(p->challenge_value, F_CHALLENGE, mname, errs);
        break;
    }
out:
    free(mstr);
    free(scheme);
}
