/*
 * The encoders of the MPIC model: parameter echo objects with every default
 * filled in, and the body the coordinator sends to a checker, in the
 * reference's shape; plus mpic_json_dumps(). The CHECK_RESPONSE encoder is
 * in model_response.c.
 */
#include "common/model.h"

#include <stdlib.h>
#include <string.h>

#include "common/json_safe.h"
#include "common/mem.h"
#include "common/model_int.h"

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

/*
 * The encoders below follow json_safe.h: total, fatal only when memory
 * runs out. The strings they echo come from a parsed request (valid UTF-8
 * already) and go through mpic_jstr() all the same.
 */

/* A missing string becomes null. */
static json_t *str_or_null(const char *s)
{
    return mpic_jstr(s);
}

static json_t *strv_to_json(const struct mpic_strv *v)
{
    json_t *a = mpic_jarr();

    for (size_t i = 0; i < v->n; i++)
        mpic_jpush(a, mpic_jstr(v->v[i]));
    return a;
}

json_t *mpic_caa_params_to_json(const struct mpic_caa_params *p)
{
    json_t *o = mpic_jobj();

    mpic_jset(o, "certificate_type",
              mpic_jstr(p->certificate_type == MPIC_CERT_SMIME ? "s-mime"
                                                               : "tls-server"));
    mpic_jset(o, "caa_domains",
              p->caa_domains.n > 0 ? strv_to_json(&p->caa_domains)
                                   : json_null());
    mpic_jset(o, "allow_lookup_failure", mpic_jbool(p->allow_lookup_failure));
    /* RFC 8657 extensions: only when given, so the reference shape holds. */
    if (p->account_uri != NULL)
        mpic_jset(o, "account_uri", mpic_jstr(p->account_uri));
    if (p->validation_method != NULL)
        mpic_jset(o, "validation_method", mpic_jstr(p->validation_method));
    return o;
}

static json_t *headers_to_json(const struct mpic_dcv_params *p)
{
    json_t *o;

    if (!p->has_http_headers)
        return json_null();
    o = mpic_jobj();
    for (size_t i = 0; i < p->n_http_headers; i++) {
        char *name =
            mpic_utf8_valid(p->http_headers[i].name,
                            strlen(p->http_headers[i].name), false, NULL);

        mpic_jset(o, name, mpic_jstr(p->http_headers[i].value));
        free(name);
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
        return mpic_jstr(p->url_scheme == MPIC_URL_HTTPS ? "https" : "http");
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
                   : mpic_jstr(mpic_rrtype_name(p->dns_record_type));
    case F_EXACT_MATCH:
        return mpic_jbool(p->require_exact_match);
    case F_ISSUERS:
        return strv_to_json(&p->issuer_domain_names);
    case F_EXPECTED_URI:
        return str_or_null(p->expected_account_uri);
    case F_ACCOUNT_URI:
        return str_or_null(p->account_uri);
    case F_END:
        break;
    }
    return json_null();
}

json_t *mpic_dcv_params_to_json(const struct mpic_dcv_params *p)
{
    json_t *o;

    if ((unsigned)p->method >= MPIC_DCV_METHOD_COUNT)
        return NULL;
    o = mpic_jobj();
    mpic_jset(o, "validation_method",
              mpic_jstr(mpic_model_method_names[p->method]));
    mpic_jset(o, "require_exact_case", mpic_jbool(p->require_exact_case));
    for (const enum dcv_field *f = mpic_model_rules[p->method].fields;
         *f != F_END; f++)
        mpic_jset(o, mpic_model_field_keys[*f], dcv_field_to_json(p, *f));
    return o;
}

static void set_orch(json_t *o, const char *key, long v)
{
    if (v >= 0)
        mpic_jset(o, key, mpic_jint(v));
}

json_t *mpic_orch_params_to_json(const struct mpic_orch_params *p)
{
    json_t *o;

    if (!p->present)
        return json_null();
    o = mpic_jobj();
    set_orch(o, "perspective_count", p->perspective_count);
    set_orch(o, "quorum_count", p->quorum_count);
    set_orch(o, "max_attempts", p->max_attempts);
    set_orch(o, "cohort_for_single_attempt", p->cohort_for_single_attempt);
    return o;
}

char *mpic_check_request_encode(const struct mpic_check_request *r)
{
    json_t *o = mpic_jobj();
    json_t *params;
    char *s;

    mpic_jset(o, "domain_or_ip_target", str_or_null(r->target));
    mpic_jset(o, "trace_identifier", str_or_null(r->trace_id));
    if (r->check_type == MPIC_CHECK_CAA) {
        params =
            r->has_caa_params ? mpic_caa_params_to_json(&r->caa) : json_null();
        mpic_jset(o, "caa_check_parameters", params);
    } else {
        params = mpic_dcv_params_to_json(&r->dcv);
        if (params == NULL) { /* not a method: a caller's bug */
            json_decref(o);
            return NULL;
        }
        mpic_jset(o, "dcv_check_parameters", params);
    }
    s = mpic_json_dumps(o, JSON_COMPACT, NULL);
    json_decref(o);
    return s;
}
