/*
 * Internals of the MPIC model codecs, shared by the files that make them up
 * and by nothing else: model.c (names, the per-method DCV rules, cleanup,
 * copies and the typed getters), model_request.c (CAA parameters, POST
 * /mpic and checker request decoding), model_dcv.c (DCV parameter decoding),
 * model_encode.c (request encoders) and model_response.c (CHECK_RESPONSE).
 * The public interface is model.h.
 */
#ifndef MPIC_COMMON_MODEL_INT_H
#define MPIC_COMMON_MODEL_INT_H

#include <jansson.h>
#include <stdbool.h>

#include "common/err.h"
#include "common/model.h"
#include "common/strv.h"

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
/* A well-formed target the method cannot validate (wildcard, address). */
#define ISSUE_TARGET_METHOD "invalid-target-for-method"

#define DCV_PATH "$.dcv_check_parameters"
#define CAA_PATH "$.caa_check_parameters"

/* ---- per-method rules (model.c) ---- */

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
    /*
     * A wildcard target ("*.") is allowed: the DNS-based domain methods
     * only. website-change, acme-http-01 and acme-tls-alpn-01 are "NOT
     * suitable for validating Wildcard Domain Names" (BR 3.2.2.4.18, .19,
     * .20).
     */
    bool wildcard_ok;
};

#define REQ(f) (1u << (f))

/* Indexed by method; see model.c. */
extern const char *const mpic_model_method_names[MPIC_DCV_METHOD_COUNT];
extern const struct method_rule mpic_model_rules[MPIC_DCV_METHOD_COUNT];
/* JSON key of each field, indexed by enum dcv_field. */
extern const char *const mpic_model_field_keys[];

/* ---- typed getters (model.c) ---- */

enum got {
    GOT_ABSENT = 0, /* absent or null */
    GOT_OK,
    GOT_BAD, /* reported */
};

static inline const char *model_type_word(const json_t *v)
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

/*
 * Each copies the value of `key` in `obj` out (a string replaces *out, which
 * is freed), or reports a wrong type or a bad value with `path` in errs
 * (GOT_BAD). Absent and null are GOT_ABSENT and report nothing.
 */
enum got mpic_model_get_string(const json_t *obj, const char *path,
                               const char *key, char **out,
                               struct mpic_errlist *errs);
enum got mpic_model_get_bool(const json_t *obj, const char *path,
                             const char *key, bool *out,
                             struct mpic_errlist *errs);
/* A list of non-empty strings; `out` is appended to. */
enum got mpic_model_get_strv(const json_t *obj, const char *path,
                             const char *key, struct mpic_strv *out,
                             struct mpic_errlist *errs);

/* ---- DCV parameters (model_dcv.c) ---- */

/*
 * Decodes dcv_check_parameters into p (owned members), reporting every
 * problem in errs; *method_ok says whether validation_method was known.
 */
void mpic_model_parse_dcv_params(const json_t *v, struct mpic_dcv_params *p,
                                 bool *method_ok, struct mpic_errlist *errs);

#endif
