/*
 * The MPIC data model; see model.h. This file holds the names of check
 * types, validation methods and record types, the per-method DCV rules,
 * the cleanup and copy functions, and the typed getters the decoders share.
 * Decoding is in model_request.c and model_dcv.c, encoding in
 * model_encode.c, and the CHECK_RESPONSE codec in model_response.c.
 *
 * The DCV parameter rules are data: one row per method saying which fields
 * the method carries (in the reference's order), which are required, the
 * default of require_exact_case, and whether the record type and name prefix
 * are fixed.
 */
#include "common/model.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/model_int.h"

/* ---- names ---- */

const char *const mpic_model_method_names[MPIC_DCV_METHOD_COUNT] = {
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
    return mpic_model_method_names[m];
}

int mpic_dcv_method_from_name(const char *s, enum mpic_dcv_method *out)
{
    if (s == NULL)
        return -1;
    for (unsigned i = 0; i < MPIC_DCV_METHOD_COUNT; i++) {
        if (strcmp(s, mpic_model_method_names[i]) == 0) {
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

const struct method_rule mpic_model_rules[MPIC_DCV_METHOD_COUNT] = {
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
                              .target = T_NAME,
                              .wildcard_ok = true},
    [MPIC_DCV_ACME_TLS_ALPN_01] = {.fields = {F_KEY_AUTH_HASH},
                                   .required = REQ(F_KEY_AUTH_HASH)},
    [MPIC_DCV_DNS_CHANGE] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE,
                                        F_EXACT_MATCH},
                             .required = REQ(F_CHALLENGE) | REQ(F_RRTYPE),
                             .exact_case = true,
                             .allowed = {MPIC_RR_TXT, MPIC_RR_CNAME,
                                         MPIC_RR_CAA},
                             .target = T_NAME,
                             .wildcard_ok = true},
    [MPIC_DCV_CONTACT_EMAIL_TXT] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                                    .required = REQ(F_CHALLENGE),
                                    .fixed_rr = MPIC_RR_TXT,
                                    .prefix_fixed = true,
                                    .prefix = "_validation-contactemail",
                                    .target = T_NAME,
                                    .wildcard_ok = true},
    [MPIC_DCV_CONTACT_PHONE_TXT] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                                    .required = REQ(F_CHALLENGE),
                                    .fixed_rr = MPIC_RR_TXT,
                                    .prefix_fixed = true,
                                    .prefix = "_validation-contactphone",
                                    .target = T_NAME,
                                    .wildcard_ok = true},
    [MPIC_DCV_CONTACT_EMAIL_CAA] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                                    .required = REQ(F_CHALLENGE),
                                    .fixed_rr = MPIC_RR_CAA,
                                    .prefix_fixed = true,
                                    .target = T_NAME,
                                    .wildcard_ok = true},
    [MPIC_DCV_CONTACT_PHONE_CAA] = {.fields = {F_CHALLENGE, F_PREFIX, F_RRTYPE},
                                    .required = REQ(F_CHALLENGE),
                                    .fixed_rr = MPIC_RR_CAA,
                                    .prefix_fixed = true,
                                    .target = T_NAME,
                                    .wildcard_ok = true},
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
                                 .target = T_NAME,
                                 .wildcard_ok = true},
    [MPIC_DCV_DNS_ACCOUNT_01] = {.fields = {F_ACCOUNT_URI, F_KEY_AUTH_HASH,
                                            F_RRTYPE, F_PREFIX},
                                 .required =
                                     REQ(F_ACCOUNT_URI) | REQ(F_KEY_AUTH_HASH),
                                 .exact_case = true,
                                 .fixed_rr = MPIC_RR_TXT,
                                 .prefix_fixed = true,
                                 .target = T_NAME,
                                 .wildcard_ok = true},
};

const char *const mpic_model_field_keys[] = {
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

void mpic_request_cleanup(struct mpic_request *r)
{
    if (r == NULL)
        return;
    mpic_check_request_cleanup(&r->check);
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
                                     const struct mpic_request *req)
{
    const struct mpic_check_request *in = &req->check;

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

/* ---- typed getters ---- */

enum got mpic_model_get_string(const json_t *obj, const char *path,
                               const char *key, char **out,
                               struct mpic_errlist *errs)
{
    const json_t *v = json_object_get(obj, key);
    const char *s;

    if (v == NULL || json_is_null(v))
        return GOT_ABSENT;
    if (!json_is_string(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE, "%s.%s: must be a string, not %s",
                         path, key, model_type_word(v));
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

enum got mpic_model_get_bool(const json_t *obj, const char *path,
                             const char *key, bool *out,
                             struct mpic_errlist *errs)
{
    const json_t *v = json_object_get(obj, key);

    if (v == NULL || json_is_null(v))
        return GOT_ABSENT;
    if (!json_is_boolean(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE, "%s.%s: must be a boolean, not %s",
                         path, key, model_type_word(v));
        return GOT_BAD;
    }
    *out = json_is_true(v);
    return GOT_OK;
}

/* A list of non-empty strings; `out` is appended to. */
enum got mpic_model_get_strv(const json_t *obj, const char *path,
                             const char *key, struct mpic_strv *out,
                             struct mpic_errlist *errs)
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
                         model_type_word(v));
        return GOT_BAD;
    }
    json_array_foreach(v, i, item)
    {
        const char *s;

        if (!json_is_string(item)) {
            mpic_errlist_add(errs, ISSUE_TYPE,
                             "%s.%s[%zu]: must be a string, not %s", path, key,
                             i, model_type_word(item));
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
