/*
 * The encoders of the MPIC model: parameter echo objects with every default
 * filled in, and the body the coordinator sends to a checker, in the
 * reference's shape; plus mpic_json_dumps(). The CHECK_RESPONSE encoder is
 * in model_response.c.
 */
#include "common/model.h"

#include <stdlib.h>

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
            json_string_nocheck(mpic_model_method_names[p->method])) != 0)
        goto fail;
    if (json_object_set_new_nocheck(o, "require_exact_case",
                                    json_boolean(p->require_exact_case)) != 0)
        goto fail;
    for (const enum dcv_field *f = mpic_model_rules[p->method].fields;
         *f != F_END; f++) {
        if (json_object_set_new_nocheck(o, mpic_model_field_keys[*f],
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
