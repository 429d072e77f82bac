/*
 * Decoding of the MPIC requests: POST /mpic bodies and the checker requests
 * (POST /caa, /dcv), with their CAA and orchestration parameters; the DCV
 * parameters are decoded in model_dcv.c.
 *
 * Decoding goes through small typed getters (model.c) that copy values out
 * of the jansson tree and report every problem with its JSON path, so one
 * bad request yields the full list of issues (docs/STYLE.md 4.6 and 6).
 */
#include "common/model.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"
#include "common/model_int.h"
#include "common/target.h"

/* ---- orchestration parameters ---- */

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
                         key, model_type_word(v));
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

/* ---- CAA parameters ---- */

static void parse_caa_params(const json_t *v, struct mpic_caa_params *p,
                             struct mpic_errlist *errs)
{
    char *ct = NULL;

    if (!json_is_object(v)) {
        mpic_errlist_add(errs, ISSUE_TYPE,
                         CAA_PATH ": must be an object, "
                                  "not %s",
                         model_type_word(v));
        return;
    }
    p->certificate_type = MPIC_CERT_TLS_SERVER;
    if (mpic_model_get_string(v, CAA_PATH, "certificate_type", &ct, errs) ==
        GOT_OK) {
        if (strcmp(ct, "s-mime") == 0)
            p->certificate_type = MPIC_CERT_SMIME;
        else if (strcmp(ct, "tls-server") != 0)
            mpic_errlist_add(errs, ISSUE_VALUE,
                             CAA_PATH ".certificate_type: must be "
                                      "\"tls-server\" or \"s-mime\", not "
                                      "\"%s\"",
                             ct);
    }
    mpic_model_get_strv(v, CAA_PATH, "caa_domains", &p->caa_domains, errs);
    mpic_model_get_bool(v, CAA_PATH, "allow_lookup_failure",
                        &p->allow_lookup_failure, errs);
    if (mpic_model_get_string(v, CAA_PATH, "account_uri", &p->account_uri,
                              errs) == GOT_OK &&
        p->account_uri[0] == '\0')
        mpic_errlist_add(errs, ISSUE_VALUE,
                         CAA_PATH ".account_uri: must not be empty");
    if (mpic_model_get_string(v, CAA_PATH, "validation_method",
                              &p->validation_method, errs) == GOT_OK &&
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
                         model_type_word(root));
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
    g = mpic_model_get_string(root, "$", "domain_or_ip_target", target, errs);
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
    mpic_model_get_string(root, "$", "trace_identifier", trace_id, errs);
    free(why);
}

/*
 * Which targets a DCV method can validate (open-mpic-api.md 6, "Targets per
 * method"): addresses only with the methods of BR 3.2.2.5 that take them,
 * wildcards only with the DNS-based domain methods.
 */
static void check_target_for_method(const struct mpic_target *t,
                                    enum mpic_dcv_method m,
                                    struct mpic_errlist *errs)
{
    const struct method_rule *r = &mpic_model_rules[m];
    bool is_ip = t->kind != MPIC_TARGET_DNS;

    if (r->target == T_NAME && is_ip)
        mpic_errlist_add(errs, ISSUE_TARGET_METHOD,
                         "$.domain_or_ip_target: %s needs a domain name, not "
                         "an IP address",
                         mpic_model_method_names[m]);
    else if (r->target == T_IP && !is_ip)
        mpic_errlist_add(errs, ISSUE_TARGET_METHOD,
                         "$.domain_or_ip_target: %s needs an IP address",
                         mpic_model_method_names[m]);
    if (t->wildcard && !r->wildcard_ok)
        mpic_errlist_add(errs, ISSUE_TARGET_METHOD,
                         "$.domain_or_ip_target: %s cannot validate a "
                         "wildcard domain name; only the DNS-based methods "
                         "can (BR 3.2.2.4.18-20, RFC 8555 7.1.3)",
                         mpic_model_method_names[m]);
}

/* Where `what` appears in `where` (ignoring ASCII case), or false. */
static bool appears_in(const char *what, const char *where)
{
    return where != NULL && strcasestr(where, what) != NULL;
}

/*
 * BR 3.2.2.4.18: the Random Value or Request Token "MUST NOT appear in the
 * request used to retrieve the file or web page". A server that echoes its
 * request (an error page quoting the URL, a debug page listing headers)
 * would otherwise show the value without the applicant ever placing it.
 * The same holds for acme-http-01's key authorization (RFC 8555 8.3: the
 * token plus the account key's thumbprint, so a correct one never appears
 * in the request). Case is ignored: servers change the case of what they
 * echo. The checker's User-Agent is its own and not known here.
 */
static void check_value_not_in_request(const struct mpic_target *t,
                                       const struct mpic_dcv_params *p,
                                       struct mpic_errlist *errs)
{
    const char *value;
    const char *field;
    const char *file;
    const char *where = NULL;
    char *path;

    if (p->method == MPIC_DCV_WEBSITE_CHANGE) {
        value = p->challenge_value;
        field = "challenge_value";
        file = p->http_token_path;
        path = xasprintf("/.well-known/pki-validation/%s",
                         file != NULL ? file : "");
    } else if (p->method == MPIC_DCV_ACME_HTTP_01) {
        value = p->key_authorization;
        field = "key_authorization";
        file = p->token;
        path = xasprintf("/.well-known/acme-challenge/%s",
                         file != NULL ? file : "");
    } else {
        return;
    }
    if (value == NULL || value[0] == '\0') {
        free(path);
        return;
    }
    if (appears_in(value, path))
        where = "the URL's path";
    else if (appears_in(value, t->name))
        where = "the target name (URL and Host header)";
    for (size_t i = 0; where == NULL && i < p->n_http_headers; i++) {
        if (appears_in(value, p->http_headers[i].name) ||
            appears_in(value, p->http_headers[i].value))
            where = "http_headers";
    }
    if (where != NULL)
        mpic_errlist_add(errs, ISSUE_VALUE,
                         DCV_PATH ".%s: appears in %s of the request that "
                                  "fetches it, so a server echoing its request "
                                  "would show it (BR 3.2.2.4.18)",
                         field, where);
    free(path);
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
    mpic_model_parse_dcv_params(v, dcv, &method_ok, errs);
    if (method_ok && target_ok) {
        check_target_for_method(t, dcv->method, errs);
        check_value_not_in_request(t, dcv, errs);
    }
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

    g = mpic_model_get_string(root, "$", "check_type", &ct, errs);
    if (g == GOT_ABSENT)
        mpic_errlist_add(errs, ISSUE_MISSING, "$.check_type: required");
    if (g == GOT_OK) {
        if (strcmp(ct, "caa") == 0) {
            req.check.check_type = MPIC_CHECK_CAA;
            ct_ok = true;
        } else if (strcmp(ct, "dcv") == 0) {
            req.check.check_type = MPIC_CHECK_DCV;
            ct_ok = true;
        } else {
            mpic_errlist_add(errs, ISSUE_CHECK_TYPE,
                             "$.check_type: must be \"caa\" or \"dcv\", not "
                             "\"%s\"",
                             ct);
        }
    }
    parse_common(root, &req.check.target, &req.check.trace_id, &t, &target_ok,
                 errs);

    orch = json_object_get(root, "orchestration_parameters");
    if (orch != NULL && !json_is_null(orch)) {
        if (!json_is_object(orch)) {
            mpic_errlist_add(errs, ISSUE_TYPE,
                             "$.orchestration_parameters: must be an object, "
                             "not %s",
                             model_type_word(orch));
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
        parse_check_params(root, req.check.check_type, &t, target_ok,
                           &req.check.has_caa_params, &req.check.caa,
                           &req.check.dcv, errs);

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
