/*
 * The MPIC data model and its JSON codecs; see model.h.
 *
 * Decoding goes through small typed getters that copy values out of the
 * jansson tree and report every problem with its JSON path, so one bad
 * request yields the full list of issues (STYLE.md B4.6, B6). The DCV
 * parameter rules are data: one row per method saying which fields the
 * method carries (in the reference's order), which are required, the
 * default of require_exact_case, and whether the record type and name prefix
 * are fixed.
 */
#include "common/model.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "common/log.h"
#include "common/mem.h"
#include "common/target.h"

/* Issue types of the Open MPIC API (open-mpic-api.md 4). */
#define ISSUE_JSON       "invalid-json"
#define ISSUE_MISSING    "missing-required-field"
#define ISSUE_TYPE       "invalid-field-type"
#define ISSUE_CHECK_TYPE "invalid-check-type"
#define ISSUE_METHOD     "invalid-validation-method"
#define ISSUE_RRTYPE     "invalid-dns-record-type"
#define ISSUE_TARGET     "invalid-domain-or-ip-target"
#define ISSUE_VALUE      "invalid-parameter-value"
#define ISSUE_ORCH       "invalid-orchestration-parameters"

#define DCV_PATH "$.dcv_check_parameters"
#define CAA_PATH "$.caa_check_parameters"

/* ---- names ---- */

static const char *const method_names[MPIC_DCV_METHOD_COUNT] = {
    [MPIC_DCV_WEBSITE_CHANGE] = "website-change",
    [MPIC_DCV_ACME_HTTP_01] = "acme-http-01",
    [MPIC_DCV_ACME_DNS_01] = "acme-dns-01",
    [MPIC_DCV_ACME_TLS_ALPN_01] = "acme-tls-alpn-01",
    [MPIC_DCV_DNS_CHANGE] = "dns-change",
    [MPIC_DCV_CONTACT_EMAIL_TXT] = "contact-email-txt",
    [MPIC_DCV_CONTACT_PHONE_TXT] = "contact-phone-txt",
    [MPIC_DCV_CONTACT_EMAIL_CAA] = "contact-email-caa",
    [MPIC_DCV_CONTACT_PHONE_CAA] = "contact-phone-caa",
    [MPIC_DCV_IP_ADDRESS] = "ip-address",
    [MPIC_DCV_REVERSE_ADDRESS_LOOKUP] = "reverse-address-lookup",
    [MPIC_DCV_DNS_PERSISTENT] = "dns-persistent",
    [MPIC_DCV_DNS_ACCOUNT_01] = "dns-account-01",
};

const char *mpic_check_type_name(enum mpic_check_type t)
{
    return t == MPIC_CHECK_DCV ? "dcv" : "caa";
}

const char *mpic_dcv_method_name(enum mpic_dcv_method m)
{
    if ((unsigned)m >= MPIC_DCV_METHOD_COUNT)
        return "unknown";
    return method_names[m];
}

int mpic_dcv_method_from_name(const char *s, enum mpic_dcv_method *out)
{
    if (s == NULL)
        return -1;
    for (unsigned i = 0; i < MPIC_DCV_METHOD_COUNT; i++) {
        if (strcmp(s, method_names[i]) == 0) {
            *out = (enum mpic_dcv_method)i;
            return 0;
        }
    }
    return -1;
}

static const struct {
    enum mpic_rrtype type;
    const char *name;
} rrtypes[] = {
    {MPIC_RR_A, "A"},     {MPIC_RR_CNAME, "CNAME"}, {MPIC_RR_PTR, "PTR"},
    {MPIC_RR_TXT, "TXT"}, {MPIC_RR_AAAA, "AAAA"},   {MPIC_RR_CAA, "CAA"},
};

const char *mpic_rrtype_name(enum mpic_rrtype t)
{
    for (size_t i = 0; i < sizeof(rrtypes) / sizeof(rrtypes[0]); i++) {
        if (rrtypes[i].type == t)
            return rrtypes[i].name;
    }
    return "NONE";
}

int mpic_rrtype_from_name(const char *s, enum mpic_rrtype *out)
{
    if (s == NULL)
        return -1;
    for (size_t i = 0; i < sizeof(rrtypes) / sizeof(rrtypes[0]); i++) {
        if (strcmp(s, rrtypes[i].name) == 0) {
            *out = rrtypes[i].type;
            return 0;
        }
    }
    return -1;
}

/* ---- per-method rules ---- */

enum dcv_field {
    F_END = 0,
    F_CHALLENGE,
    F_TOKEN_PATH,
    F_URL_SCHEME,
    F_HEADERS,
    F_REGEX,
    F_TOKEN,
    F_KEY_AUTH,
    F_KEY_AUTH_HASH,
    F_PREFIX,
    F_RRTYPE,
    F_EXACT_MATCH,
    F_ISSUERS,
    F_EXPECTED_URI,
    F_ACCOUNT_URI,
};

enum target_rule {
    T_ANY = 0, /* a name or an address */
    T_NAME,    /* DNS methods: a name */
    T_IP,      /* reverse-address-lookup: an address */
};

struct method_rule {
    enum dcv_field fields[7]; /* echo order; F_END terminates */
    unsigned required;        /* bit (1u << field) */
    bool exact_case;          /* default of require_exact_case */
    /* MPIC_RR_NONE: required from `allowed`; else fixed to this type. */
    enum mpic_rrtype fixed_rr;
    enum mpic_rrtype allowed[3];
    bool prefix_fixed;
    const char *prefix; /* the fixed prefix (NULL: null) */
    enum target_rule target;
};

#define REQ(f) (1u << (f))

static const struct method_rule rules[MPIC_DCV_METHOD_COUNT] = {
    [MPIC_DCV_WEBSITE_CHANGE] = {.fields = {F_CHALLENGE, F_TOKEN_PATH,
                                            F_URL_SCHEME, F_HEADERS, F_REGEX},
                                 .required =
                                     REQ(F_CHALLENGE) | REQ(F_TOKEN_PATH),
                                 .exact_case = true},
    [MPIC_DCV_ACME_HTTP_01] = {.fields = {F_TOKEN, F_KEY_AUTH, F_HEADERS},
                               .required = REQ(F_TOKEN) | REQ(F_KEY_AUTH),
                               .exact_case = true},
    [MPIC_DCV_ACME_DNS_01] = {.fields = {F_KEY_AUTH_HASH, F_RRTYPE, F_PREFIX},
                              .required = REQ(F_KEY_AUTH_HASH),
                              .exact_case = true,
                              .fixed_rr = MPIC_RR_TXT,
                              .prefix_fixed = true,
                              .prefix = "_acme-challenge",
                              .target = T_NAME},
    [MPIC_DCV_ACME_TLS_ALPN_01] = {.fields = {F_KEY_AUTH_HASH},
                                   .required = REQ(F_KEY_AUTH_HASH)},
    [MPIC_DCV_DNS_CHANGE] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE,
                                        F_EXACT_MATCH},
                             .required = REQ(F_CHALLENGE) | REQ(F_RRTYPE),
                             .exact_case = true,
                             .allowed = {MPIC_RR_TXT, MPIC_RR_CNAME,
                                         MPIC_RR_CAA},
                             .target = T_NAME},
    [MPIC_DCV_CONTACT_EMAIL_TXT] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                                    .required = REQ(F_CHALLENGE),
                                    .fixed_rr = MPIC_RR_TXT,
                                    .prefix_fixed = true,
                                    .prefix = "_validation-contactemail",
                                    .target = T_NAME},
    [MPIC_DCV_CONTACT_PHONE_TXT] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                                    .required = REQ(F_CHALLENGE),
                                    .fixed_rr = MPIC_RR_TXT,
                                    .prefix_fixed = true,
                                    .prefix = "_validation-contactphone",
                                    .target = T_NAME},
    [MPIC_DCV_CONTACT_EMAIL_CAA] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                                    .required = REQ(F_CHALLENGE),
                                    .fixed_rr = MPIC_RR_CAA,
                                    .prefix_fixed = true,
                                    .target = T_NAME},
    [MPIC_DCV_CONTACT_PHONE_CAA] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                                    .required = REQ(F_CHALLENGE),
                                    .fixed_rr = MPIC_RR_CAA,
                                    .prefix_fixed = true,
                                    .target = T_NAME},
    [MPIC_DCV_IP_ADDRESS] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                             .required = REQ(F_CHALLENGE) | REQ(F_RRTYPE),
                             .allowed = {MPIC_RR_A, MPIC_RR_AAAA},
                             .target = T_NAME},
    [MPIC_DCV_REVERSE_ADDRESS_LOOKUP] = {.fields = {F_CHALLENGE, F_PREFIX,
                                                    F_RRTYPE},
                                         .required = REQ(F_CHALLENGE),
                                         .fixed_rr = MPIC_RR_PTR,
                                         .prefix_fixed = true,
                                         .target = T_IP},
    [MPIC_DCV_DNS_PERSISTENT] = {.fields = {F_RRTYPE, F_PREFIX, F_ISSUERS,
                                            F_EXPECTED_URI},
                                 .required =
                                     REQ(F_ISSUERS) | REQ(F_EXPECTED_URI),
                                 .fixed_rr = MPIC_RR_TXT,
                                 .prefix_fixed = true,
                                 .prefix = "_validation-persist",
                                 .target = T_NAME},
    [MPIC_DCV_DNS_ACCOUNT_01] = {.fields = {F_ACCOUNT_URI, F_KEY_AUTH_HASH,
                                            F_RRTYPE, F_PREFIX},
                                 .required =
                                     REQ(F_ACCOUNT_URI) | REQ(F_KEY_AUTH_HASH),
                                 .exact_case = true,
                                 .fixed_rr = MPIC_RR_TXT,
                                 .prefix_fixed = true,
                                 .target = T_NAME},
};

static const char *const field_keys[] = {
    [F_CHALLENGE] = "challenge_value",
    [F_TOKEN_PATH] = "http_token_path",
    [F_URL_SCHEME] = "url_scheme",
    [F_HEADERS] = "http_headers",
    [F_REGEX] = "match_regex",
    [F_TOKEN] = "token",
    [F_KEY_AUTH] = "key_authorization",
    [F_KEY_AUTH_HASH] = "key_authorization_hash",
    [F_PREFIX] = "dns_name_prefix",
    [F_RRTYPE] = "dns_record_type",
    [F_EXACT_MATCH] = "require_exact_match",
    [F_ISSUERS] = "issuer_domain_names",
    [F_EXPECTED_URI] = "expected_account_uri",
    [F_ACCOUNT_URI] = "account_uri",
};

static bool method_has(enum mpic_dcv_method m, enum dcv_field f)
{
    for (const enum dcv_field *p = rules[m].fields; *p != F_END; p++) {
        if (*p == f)
            return true;
    }
    return false;
}

/* ---- typed getters ---- */

enum got {
    GOT_ABSENT = 0, /* absent or null */
    GOT_OK,
    GOT_BAD, /* reported */
};

static const char *json_type_word(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

static enum got get_string(const json_t *obj, const char *path, const char *key,
                           char **out, struct mpic_errlist *errs)
{
    const json_t *v = json_object_get(obj, key);
    const char *s;

    if (v == NULL || json_is_null(v))
        return GOT_ABSENT;
    if (!json_is_string(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE, "%s.%s: must be a string, not %s",
                         path, key, json_type_word(v));
        return GOT_BAD;
    }
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) {
        mpic_errlist_add(errs, ISSUE_VALUE, "%s.%s: contains a NUL character",
                         path, key);
        return GOT_BAD;
    }
    free(*out);
    *out = xstrdup(s);
    return GOT_OK;
}

static enum got get_bool(const json_t *obj, const char *path, const char *key,
                         bool *out, struct mpic_errlist *errs)
{
    const json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return GOT_ABSENT;
    if (!json_is_boolean(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE, "%s.%s: must be a boolean, not %s",
                         path, key, json_type_word(v));
        return GOT_BAD;
    }
    *out = json_is_true(v);
    return GOT_OK;
}

/* A list of non-empty strings; `out` is appended to. */
static enum got get_strv(const json_t *obj, const char *path, const char *key,
                         struct mpic_strv *out, struct mpic_errlist *errs)
{
    const json_t *v = json_object_get(obj, key);
    const json_t *item;
    size_t i;
    enum got rc = GOT_OK;

    if (v == NULL || json_is_null(v))
        return GOT_ABSENT;
    if (!json_is_array(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE,
                         "%s.%s: must be a list of strings, not %s", path, key,
                         json_type_word(v));
        return GOT_BAD;
    }
    json_array_foreach(v, i, item)
    {
        const char *s;

        if (!json_is_string(item)) {
            mpic_errlist_add(errs, ISSUE_TYPE,
                             "%s.%s[%zu]: must be a string, not %s", path, key,
                             i, json_type_word(item));
            rc = GOT_BAD;
            continue;
        }
        s = json_string_value(item);
        if (s[0] == '\0' || strlen(s) != json_string_length(item)) {
            mpic_errlist_add(errs, ISSUE_VALUE,
                             "%s.%s[%zu]: must be a non-empty string", path,
                             key, i);
            rc = GOT_BAD;
            continue;
        }
        mpic_strv_push(out, s);
    }
    return rc;
}

/*
 * An orchestration value: a JSON integer >= 1. Booleans and reals (3.0
 * included) are refused: the reference's models are strict integers.
 */
static void get_orch_long(const json_t *obj, const char *key, long *out,
                          struct mpic_errlist *errs)
{
    const json_t *v = json_object_get(obj, key);
    json_int_t n;

    *out = -1;
    if (v == NULL || json_is_null(v))
        return;
    if (!json_is_integer(v)) {
        mpic_errlist_add(errs, ISSUE_ORCH,
                         "$.orchestration_parameters.%s: must be an integer, "
                         "not %s",
                         key, json_type_word(v));
        return;
    }
    n = json_integer_value(v);
    if (n < 1 || n > 1000000) {
        mpic_errlist_add(errs, ISSUE_ORCH,
                         "$.orchestration_parameters.%s: %lld is out of range",
                         key, (long long)n);
        return;
    }
    *out = (long)n;
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
                         json_type_word(v));
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
                             name, json_type_word(val));
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

    g = get_string(obj, DCV_PATH, "dns_record_type", &s, errs);
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

    g = get_string(obj, DCV_PATH, "dns_name_prefix", &s, errs);
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
    const char *key = field_keys[f];
    enum got g = get_string(obj, DCV_PATH, key, out, errs);

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
                         field_keys[f], mname);
}

static void parse_dcv_params(const json_t *v, struct mpic_dcv_params *p,
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
                         json_type_word(v));
        goto out;
    }
    g = get_string(v, DCV_PATH, "validation_method", &mstr, errs);
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
    r = &rules[p->method];
    mname = method_names[p->method];

    p->require_exact_case = r->exact_case;
    get_bool(v, DCV_PATH, "require_exact_case", &p->require_exact_case, errs);

    for (const enum dcv_field *f = r->fields; *f != F_END; f++) {
        switch (*f) {
        case F_CHALLENGE:
            get_field_string(v, *f, r, mname, &p->challenge_value, errs);
            break;
        case F_TOKEN_PATH:
            get_field_string(v, *f, r, mname, &p->http_token_path, errs);
            require_nonempty(p->http_token_path, *f, mname, errs);
            break;
        case F_URL_SCHEME:
            p->url_scheme = MPIC_URL_HTTP;
            if (get_string(v, DCV_PATH, "url_scheme", &scheme, errs) != GOT_OK)
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
            get_bool(v, DCV_PATH, "require_exact_match",
                     &p->require_exact_match, errs);
            break;
        case F_ISSUERS:
            g = get_strv(v, DCV_PATH, "issuer_domain_names",
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
        if (p->challenge_value != NULL && p->challenge_value[0] == '\0' &&
            p->match_regex == NULL)
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

/* ---- CAA parameters ---- */

static void parse_caa_params(const json_t *v, struct mpic_caa_params *p,
                             struct mpic_errlist *errs)
{
    char *ct = NULL;

    if (!json_is_object(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE,
                         CAA_PATH ": must be an object, "
                                  "not %s",
                         json_type_word(v));
        return;
    }
    p->certificate_type = MPIC_CERT_TLS_SERVER;
    if (get_string(v, CAA_PATH, "certificate_type", &ct, errs) == GOT_OK) {
        if (strcmp(ct, "s-mime") == 0)
            p->certificate_type = MPIC_CERT_SMIME;
        else if (strcmp(ct, "tls-server") != 0)
            mpic_errlist_add(errs, ISSUE_VALUE,
                             CAA_PATH ".certificate_type: must be "
                                      "\"tls-server\" or \"s-mime\", not "
                                      "\"%s\"",
                             ct);
    }
    get_strv(v, CAA_PATH, "caa_domains", &p->caa_domains, errs);
    get_bool(v, CAA_PATH, "allow_lookup_failure", &p->allow_lookup_failure,
             errs);
    if (get_string(v, CAA_PATH, "account_uri", &p->account_uri, errs) ==
            GOT_OK &&
        p->account_uri[0] == '\0')
        mpic_errlist_add(errs, ISSUE_VALUE,
                         CAA_PATH ".account_uri: must not be empty");
    if (get_string(v, CAA_PATH, "validation_method", &p->validation_method,
                   errs) == GOT_OK &&
        p->validation_method[0] == '\0')
        mpic_errlist_add(errs, ISSUE_VALUE,
                         CAA_PATH ".validation_method: must not be empty");
    free(ct);
}

/* ---- shared request parts ---- */

static json_t *load_object(const char *body, size_t len,
                           struct mpic_errlist *errs)
{
    json_error_t jerr;
    json_t *root;

    if (body == NULL) {
        mpic_errlist_add(errs, ISSUE_JSON, "$: empty body");
        return NULL;
    }
    root =
        json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (root == NULL) {
        mpic_errlist_add(errs, ISSUE_JSON, "$: not valid JSON: %s (line %d)",
                         jerr.text, jerr.line);
        return NULL;
    }
    if (!json_is_object(root)) {
        mpic_errlist_add(errs, ISSUE_JSON, "$: must be an object, not %s",
                         json_type_word(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

/* Target, trace identifier and method/target compatibility. */
static void parse_common(const json_t *root, char **target, char **trace_id,
                         struct mpic_target *t, bool *target_ok,
                         struct mpic_errlist *errs)
{
    char *why = NULL;
    enum got g;

    *target_ok = false;
    g = get_string(root, "$", "domain_or_ip_target", target, errs);
    if (g == GOT_ABSENT)
        mpic_errlist_add(errs, ISSUE_MISSING,
                         "$.domain_or_ip_target: required");
    if (g == GOT_OK) {
        if (mpic_target_parse(*target, t, &why) == 0)
            *target_ok = true;
        else
            mpic_errlist_add(errs, ISSUE_TARGET, "$.domain_or_ip_target: %s",
                             why);
    }
    get_string(root, "$", "trace_identifier", trace_id, errs);
    free(why);
}

static void check_target_for_method(const struct mpic_target *t,
                                    enum mpic_dcv_method m,
                                    struct mpic_errlist *errs)
{
    bool is_ip = t->kind != MPIC_TARGET_DNS;

    if (rules[m].target == T_NAME && is_ip)
        mpic_errlist_add(errs, ISSUE_TARGET,
                         "$.domain_or_ip_target: %s needs a domain name, not "
                         "an IP address",
                         method_names[m]);
    else if (rules[m].target == T_IP && !is_ip)
        mpic_errlist_add(errs, ISSUE_TARGET,
                         "$.domain_or_ip_target: %s needs an IP address",
                         method_names[m]);
}

/*
 * The check-type specific part shared by both request kinds: CAA
 * parameters (optional) or DCV parameters (required).
 */
static void parse_check_params(const json_t *root, enum mpic_check_type ct,
                               const struct mpic_target *t, bool target_ok,
                               bool *has_caa, struct mpic_caa_params *caa,
                               struct mpic_dcv_params *dcv,
                               struct mpic_errlist *errs)
{
    const json_t *v;
    bool method_ok = false;

    if (ct == MPIC_CHECK_CAA) {
        v = json_object_get(root, "caa_check_parameters");
        caa->certificate_type = MPIC_CERT_TLS_SERVER;
        if (v != NULL && !json_is_null(v)) {
            *has_caa = true;
            parse_caa_params(v, caa, errs);
        }
        return;
    }
    v = json_object_get(root, "dcv_check_parameters");
    if (v == NULL || json_is_null(v)) {
        mpic_errlist_add(errs, ISSUE_MISSING,
                         DCV_PATH ": required when check_type is dcv");
        return;
    }
    parse_dcv_params(v, dcv, &method_ok, errs);
    if (method_ok && target_ok)
        check_target_for_method(t, dcv->method, errs);
}

/* ---- POST /mpic ---- */

enum mpic_err mpic_request_parse(const char *body, size_t len,
                                 struct mpic_request *out,
                                 struct mpic_errlist *errs)
{
    struct mpic_request req;
    struct mpic_target t;
    json_t *root = NULL;
    const json_t *orch;
    char *ct = NULL;
    bool target_ok = false;
    bool ct_ok = false;
    size_t nerr_before = errs->n;
    enum got g;
    enum mpic_err rc = MPIC_ERR_INVALID;

    memset(&req, 0, sizeof(req));
    memset(&t, 0, sizeof(t));
    req.orch.perspective_count = -1;
    req.orch.quorum_count = -1;
    req.orch.max_attempts = -1;
    req.orch.cohort_for_single_attempt = -1;
    memset(out, 0, sizeof(*out));

    root = load_object(body, len, errs);
    if (root == NULL)
        goto out;

    g = get_string(root, "$", "check_type", &ct, errs);
    if (g == GOT_ABSENT)
        mpic_errlist_add(errs, ISSUE_MISSING, "$.check_type: required");
    if (g == GOT_OK) {
        if (strcmp(ct, "caa") == 0) {
            req.check_type = MPIC_CHECK_CAA;
            ct_ok = true;
        } else if (strcmp(ct, "dcv") == 0) {
            req.check_type = MPIC_CHECK_DCV;
            ct_ok = true;
        } else {
            mpic_errlist_add(errs, ISSUE_CHECK_TYPE,
                             "$.check_type: must be \"caa\" or \"dcv\", not "
                             "\"%s\"",
                             ct);
        }
    }
    parse_common(root, &req.target, &req.trace_id, &t, &target_ok, errs);

    orch = json_object_get(root, "orchestration_parameters");
    if (orch != NULL && !json_is_null(orch)) {
        if (!json_is_object(orch)) {
            mpic_errlist_add(errs, ISSUE_TYPE,
                             "$.orchestration_parameters: must be an object, "
                             "not %s",
                             json_type_word(orch));
        } else {
            req.orch.present = true;
            get_orch_long(orch, "perspective_count",
                          &req.orch.perspective_count, errs);
            get_orch_long(orch, "quorum_count", &req.orch.quorum_count, errs);
            get_orch_long(orch, "max_attempts", &req.orch.max_attempts, errs);
            get_orch_long(orch, "cohort_for_single_attempt",
                          &req.orch.cohort_for_single_attempt, errs);
        }
    }
    if (ct_ok)
        parse_check_params(root, req.check_type, &t, target_ok,
                           &req.has_caa_params, &req.caa, &req.dcv, errs);

    if (errs->n == nerr_before) {
        *out = req;
        memset(&req, 0, sizeof(req));
        rc = MPIC_OK;
    }
out:
    mpic_request_cleanup(&req);
    mpic_target_cleanup(&t);
    json_decref(root);
    free(ct);
    return rc;
}

/* ---- POST /caa, /dcv ---- */

enum mpic_err mpic_check_request_parse(const char *body, size_t len,
                                       enum mpic_check_type expected,
                                       struct mpic_check_request *out,
                                       struct mpic_errlist *errs)
{
    struct mpic_check_request req;
    struct mpic_target t;
    json_t *root = NULL;
    bool target_ok = false;
    size_t nerr_before = errs->n;
    enum mpic_err rc = MPIC_ERR_INVALID;

    memset(&req, 0, sizeof(req));
    memset(&t, 0, sizeof(t));
    memset(out, 0, sizeof(*out));
    req.check_type = expected;

    root = load_object(body, len, errs);
    if (root == NULL)
        goto out;
    parse_common(root, &req.target, &req.trace_id, &t, &target_ok, errs);
    parse_check_params(root, expected, &t, target_ok, &req.has_caa_params,
                       &req.caa, &req.dcv, errs);
    if (errs->n == nerr_before) {
        *out = req;
        memset(&req, 0, sizeof(req));
        rc = MPIC_OK;
    }
out:
    mpic_check_request_cleanup(&req);
    mpic_target_cleanup(&t);
    json_decref(root);
    return rc;
}

/* ---- cleanup and copies ---- */

void mpic_caa_params_cleanup(struct mpic_caa_params *p)
{
    if (p == NULL)
        return;
    mpic_strv_cleanup(&p->caa_domains);
    free(p->account_uri);
    free(p->validation_method);
    memset(p, 0, sizeof(*p));
}

void mpic_dcv_params_cleanup(struct mpic_dcv_params *p)
{
    if (p == NULL)
        return;
    free(p->challenge_value);
    free(p->http_token_path);
    for (size_t i = 0; i < p->n_http_headers; i++) {
        free(p->http_headers[i].name);
        free(p->http_headers[i].value);
    }
    free(p->http_headers);
    free(p->match_regex);
    free(p->token);
    free(p->key_authorization);
    free(p->key_authorization_hash);
    free(p->dns_name_prefix);
    mpic_strv_cleanup(&p->issuer_domain_names);
    free(p->expected_account_uri);
    free(p->account_uri);
    memset(p, 0, sizeof(*p));
}

void mpic_request_cleanup(struct mpic_request *r)
{
    if (r == NULL)
        return;
    free(r->target);
    free(r->trace_id);
    mpic_caa_params_cleanup(&r->caa);
    mpic_dcv_params_cleanup(&r->dcv);
    memset(r, 0, sizeof(*r));
}

void mpic_check_request_cleanup(struct mpic_check_request *r)
{
    if (r == NULL)
        return;
    free(r->target);
    free(r->trace_id);
    mpic_caa_params_cleanup(&r->caa);
    mpic_dcv_params_cleanup(&r->dcv);
    memset(r, 0, sizeof(*r));
}

void mpic_check_response_cleanup(struct mpic_check_response *r)
{
    if (r == NULL)
        return;
    mpic_errlist_cleanup(&r->errors);
    json_decref(r->details);
    memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
    return s != NULL ? xstrdup(s) : NULL;
}

static void caa_params_copy(struct mpic_caa_params *dst,
                            const struct mpic_caa_params *src)
{
    dst->certificate_type = src->certificate_type;
    mpic_strv_copy(&dst->caa_domains, &src->caa_domains);
    dst->allow_lookup_failure = src->allow_lookup_failure;
    dst->account_uri = dup_or_null(src->account_uri);
    dst->validation_method = dup_or_null(src->validation_method);
}

static void dcv_params_copy(struct mpic_dcv_params *dst,
                            const struct mpic_dcv_params *src)
{
    *dst = *src; /* scalars; every pointer is replaced below */
    dst->challenge_value = dup_or_null(src->challenge_value);
    dst->http_token_path = dup_or_null(src->http_token_path);
    dst->http_headers = NULL;
    if (src->n_http_headers > 0) {
        dst->http_headers =
            xcalloc(src->n_http_headers, sizeof(*dst->http_headers));
        for (size_t i = 0; i < src->n_http_headers; i++) {
            dst->http_headers[i].name = xstrdup(src->http_headers[i].name);
            dst->http_headers[i].value = xstrdup(src->http_headers[i].value);
        }
    }
    dst->match_regex = dup_or_null(src->match_regex);
    dst->token = dup_or_null(src->token);
    dst->key_authorization = dup_or_null(src->key_authorization);
    dst->key_authorization_hash = dup_or_null(src->key_authorization_hash);
    dst->dns_name_prefix = dup_or_null(src->dns_name_prefix);
    mpic_strv_copy(&dst->issuer_domain_names, &src->issuer_domain_names);
    dst->expected_account_uri = dup_or_null(src->expected_account_uri);
    dst->account_uri = dup_or_null(src->account_uri);
}

void mpic_check_request_from_request(struct mpic_check_request *out,
                                     const struct mpic_request *in)
{
    memset(out, 0, sizeof(*out));
    out->check_type = in->check_type;
    out->target = dup_or_null(in->target);
    out->trace_id = dup_or_null(in->trace_id);
    if (in->check_type == MPIC_CHECK_CAA) {
        out->has_caa_params = in->has_caa_params;
        if (in->has_caa_params)
            caa_params_copy(&out->caa, &in->caa);
    } else {
        dcv_params_copy(&out->dcv, &in->dcv);
    }
}

/* ---- encoders ---- */

/*
 * Output up to this size is written on the stack and copied once; larger
 * output is dumped a second time into an allocation of its exact size.
 */
#define DUMP_STACK 8192

char *mpic_json_dumps(const json_t *j, size_t flags, size_t *len)
{
    char stack[DUMP_STACK];
    size_t n;
    char *s;

    if (len != NULL)
        *len = 0;
    n = json_dumpb(j, stack, sizeof(stack), flags);
    if (n == 0)
        return NULL;
    if (n <= sizeof(stack)) {
        s = xmemdup(stack, n);
    } else {
        s = xmalloc(n + 1);
        if (json_dumpb(j, s, n, flags) != n) {
            free(s);
            return NULL;
        }
        s[n] = '\0';
    }
    if (len != NULL)
        *len = n;
    return s;
}

/* json_string(NULL) fails, so a missing string must become null. */
static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

static json_t *strv_to_json(const struct mpic_strv *v)
{
    json_t *a = json_array();

    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < v->n; i++) {
        if (json_array_append_new(a, json_string(v->v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *mpic_caa_params_to_json(const struct mpic_caa_params *p)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new_nocheck(
            o, "certificate_type",
            json_string_nocheck(p->certificate_type == MPIC_CERT_SMIME
                                    ? "s-mime"
                                    : "tls-server")) != 0)
        goto fail;
    if (json_object_set_new_nocheck(o, "caa_domains",
                                    p->caa_domains.n > 0
                                        ? strv_to_json(&p->caa_domains)
                                        : json_null()) != 0)
        goto fail;
    if (json_object_set_new_nocheck(o, "allow_lookup_failure",
                                    json_boolean(p->allow_lookup_failure)) != 0)
        goto fail;
    /* RFC 8657 extensions: only when given, so the reference shape holds. */
    if (p->account_uri != NULL &&
        json_object_set_new_nocheck(o, "account_uri",
                                    json_string(p->account_uri)) != 0)
        goto fail;
    if (p->validation_method != NULL &&
        json_object_set_new_nocheck(o, "validation_method",
                                    json_string(p->validation_method)) != 0)
        goto fail;
    return o;
fail:
    json_decref(o);
    return NULL;
}

static json_t *headers_to_json(const struct mpic_dcv_params *p)
{
    json_t *o;

    if (!p->has_http_headers)
        return json_null();
    o = json_object();
    if (o == NULL)
        return NULL;
    for (size_t i = 0; i < p->n_http_headers; i++) {
        if (json_object_set_new(o, p->http_headers[i].name,
                                json_string(p->http_headers[i].value)) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *dcv_field_to_json(const struct mpic_dcv_params *p,
                                 enum dcv_field f)
{
    switch (f) {
    case F_CHALLENGE:
        return str_or_null(p->challenge_value);
    case F_TOKEN_PATH:
        return str_or_null(p->http_token_path);
    case F_URL_SCHEME:
        return json_string_nocheck(p->url_scheme == MPIC_URL_HTTPS ? "https"
                                                                   : "http");
    case F_HEADERS:
        return headers_to_json(p);
    case F_REGEX:
        return str_or_null(p->match_regex);
    case F_TOKEN:
        return str_or_null(p->token);
    case F_KEY_AUTH:
        return str_or_null(p->key_authorization);
    case F_KEY_AUTH_HASH:
        return str_or_null(p->key_authorization_hash);
    case F_PREFIX:
        return str_or_null(p->dns_name_prefix);
    case F_RRTYPE:
        return p->dns_record_type == MPIC_RR_NONE
                   ? json_null()
                   : json_string_nocheck(mpic_rrtype_name(p->dns_record_type));
    case F_EXACT_MATCH:
        return json_boolean(p->require_exact_match);
    case F_ISSUERS:
        return strv_to_json(&p->issuer_domain_names);
    case F_EXPECTED_URI:
        return str_or_null(p->expected_account_uri);
    case F_ACCOUNT_URI:
        return str_or_null(p->account_uri);
    case F_END:
        break;
    }
    return NULL;
}

json_t *mpic_dcv_params_to_json(const struct mpic_dcv_params *p)
{
    json_t *o;

    if ((unsigned)p->method >= MPIC_DCV_METHOD_COUNT)
        return NULL;
    o = json_object();
    if (o == NULL)
        return NULL;
    if (json_object_set_new_nocheck(
            o, "validation_method",
            json_string_nocheck(method_names[p->method])) != 0)
        goto fail;
    if (json_object_set_new_nocheck(o, "require_exact_case",
                                    json_boolean(p->require_exact_case)) != 0)
        goto fail;
    for (const enum dcv_field *f = rules[p->method].fields; *f != F_END; f++) {
        if (json_object_set_new_nocheck(o, field_keys[*f],
                                        dcv_field_to_json(p, *f)) != 0)
            goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

static int set_orch(json_t *o, const char *key, long v)
{
    if (v < 0)
        return 0;
    return json_object_set_new_nocheck(o, key, json_integer(v));
}

json_t *mpic_orch_params_to_json(const struct mpic_orch_params *p)
{
    json_t *o;

    if (!p->present)
        return json_null();
    o = json_object();
    if (o == NULL)
        return NULL;
    if (set_orch(o, "perspective_count", p->perspective_count) != 0 ||
        set_orch(o, "quorum_count", p->quorum_count) != 0 ||
        set_orch(o, "max_attempts", p->max_attempts) != 0 ||
        set_orch(o, "cohort_for_single_attempt",
                 p->cohort_for_single_attempt) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *mpic_check_request_encode(const struct mpic_check_request *r)
{
    json_t *o = json_object();
    json_t *params;
    char *s = NULL;

    if (o == NULL)
        return NULL;
    if (json_object_set_new_nocheck(o, "domain_or_ip_target",
                                    str_or_null(r->target)) != 0)
        goto out;
    if (json_object_set_new_nocheck(o, "trace_identifier",
                                    str_or_null(r->trace_id)) != 0)
        goto out;
    if (r->check_type == MPIC_CHECK_CAA) {
        params =
            r->has_caa_params ? mpic_caa_params_to_json(&r->caa) : json_null();
        if (json_object_set_new_nocheck(o, "caa_check_parameters", params) != 0)
            goto out;
    } else {
        params = mpic_dcv_params_to_json(&r->dcv);
        if (json_object_set_new_nocheck(o, "dcv_check_parameters", params) != 0)
            goto out;
    }
    s = mpic_json_dumps(o, JSON_COMPACT, NULL);
out:
    json_decref(o);
    return s;
}

/* ---- CHECK_RESPONSE ---- */

static json_t *errors_to_json(const struct mpic_check_response *r)
{
    json_t *a;

    if (!r->errors_present)
        return json_null();
    a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < r->errors.n; i++) {
        json_t *e = json_object();

        if (json_array_append_new(a, e) != 0 ||
            json_object_set_new_nocheck(
                e, "error_type", json_string(r->errors.items[i].type)) != 0 ||
            json_object_set_new_nocheck(
                e, "error_message", json_string(r->errors.items[i].message)) !=
                0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *mpic_check_response_to_json(const struct mpic_check_response *r)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new_nocheck(o, "check_completed",
                                    json_boolean(r->check_completed)) != 0 ||
        json_object_set_new_nocheck(o, "check_passed",
                                    json_boolean(r->check_passed)) != 0 ||
        json_object_set_new_nocheck(o, "errors", errors_to_json(r)) != 0 ||
        json_object_set_new_nocheck(
            o, "timestamp_ns", json_integer((json_int_t)r->timestamp_ns)) !=
            0 ||
        json_object_set_new_nocheck(
            o, "check_type",
            json_string_nocheck(mpic_check_type_name(r->check_type))) != 0 ||
        json_object_set_new_nocheck(o, "details",
                                    r->details != NULL ? json_incref(r->details)
                                                       : json_null()) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static const char *string_or_empty(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s != NULL ? s : "";
}

enum mpic_err mpic_check_response_parse(const char *body, size_t len,
                                        enum mpic_check_type expected,
                                        struct mpic_check_response *out,
                                        char **why)
{
    struct mpic_check_response resp;
    json_error_t jerr;
    json_t *root = NULL;
    json_t *v;
    const json_t *item;
    size_t i;
    enum mpic_err rc = MPIC_ERR_PEER;

    memset(&resp, 0, sizeof(resp));
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (body == NULL) {
        *why = xstrdup("empty body");
        goto out;
    }
    /* JSON_ALLOW_NUL: a record a checker saw may hold a NUL byte (e.g. a
     * TXT value "x\u0000" in details.records_seen); that is still a
     * well-formed check response and must not discard the verdict. Strings
     * read below as C strings are compared by length where it matters. */
    root = json_loadb(body, len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                      &jerr);
    if (root == NULL) {
        *why = xasprintf("not JSON: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        *why = xasprintf("the body is %s, not an object", json_type_word(root));
        goto out;
    }
    v = json_object_get(root, "check_type");
    if (!json_is_string(v) ||
        json_string_length(v) != strlen(mpic_check_type_name(expected)) ||
        strcmp(json_string_value(v), mpic_check_type_name(expected)) != 0) {
        *why = xasprintf("check_type is not \"%s\"",
                         mpic_check_type_name(expected));
        goto out;
    }
    resp.check_type = expected;
    v = json_object_get(root, "check_passed");
    if (!json_is_boolean(v)) {
        *why = xstrdup("check_passed is missing or not a boolean");
        goto out;
    }
    resp.check_passed = json_is_true(v);
    v = json_object_get(root, "check_completed");
    if (!json_is_boolean(v)) {
        *why = xstrdup("check_completed is missing or not a boolean");
        goto out;
    }
    resp.check_completed = json_is_true(v);
    v = json_object_get(root, "timestamp_ns");
    if (json_is_integer(v))
        resp.timestamp_ns = (int64_t)json_integer_value(v);

    v = json_object_get(root, "errors");
    if (json_is_array(v)) {
        resp.errors_present = true;
        json_array_foreach(v, i, item)
        {
            if (!json_is_object(item)) {
                *why = xasprintf("errors[%zu] is not an object", i);
                goto out;
            }
            mpic_errlist_add(&resp.errors, string_or_empty(item, "error_type"),
                             "%s", string_or_empty(item, "error_message"));
        }
    } else if (v != NULL && !json_is_null(v)) {
        *why = xstrdup("errors is neither a list nor null");
        goto out;
    }
    v = json_object_get(root, "details");
    if (v != NULL && !json_is_null(v))
        resp.details = json_incref(v);

    *out = resp;
    memset(&resp, 0, sizeof(resp));
    rc = MPIC_OK;
out:
    mpic_check_response_cleanup(&resp);
    json_decref(root);
    return rc;
}

void mpic_check_response_add_error(struct mpic_check_response *r,
                                   const char *type, const char *fmt, ...)
{
    va_list ap;
    char *msg = NULL;

    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        fatalx("out of memory (check response error)");
    va_end(ap);
    r->errors_present = true;
    mpic_errlist_add(&r->errors, type, "%s", msg);
    free(msg);
}

int64_t mpic_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
