/*
 * The MPIC data model (Open MPIC API 3.x, docs/open-mpic-api.md) as C
 * structs, and its JSON codecs. Decoding copies everything out of the
 * jansson tree (docs/STYLE.md 6); encoding writes the reference's exact field
 * names. Parsing is strict about types and values and collects every issue
 * in an errlist; unknown fields are ignored.
 */
#ifndef MPIC_COMMON_MODEL_H
#define MPIC_COMMON_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "common/strv.h"

enum mpic_check_type {
    MPIC_CHECK_CAA = 0,
    MPIC_CHECK_DCV,
};

enum mpic_cert_type {
    MPIC_CERT_TLS_SERVER = 0,
    MPIC_CERT_SMIME,
};

enum mpic_dcv_method {
    MPIC_DCV_WEBSITE_CHANGE = 0,
    MPIC_DCV_ACME_HTTP_01,
    MPIC_DCV_ACME_DNS_01,
    MPIC_DCV_ACME_TLS_ALPN_01,
    MPIC_DCV_DNS_CHANGE,
    MPIC_DCV_CONTACT_EMAIL_TXT,
    MPIC_DCV_CONTACT_PHONE_TXT,
    MPIC_DCV_CONTACT_EMAIL_CAA,
    MPIC_DCV_CONTACT_PHONE_CAA,
    MPIC_DCV_IP_ADDRESS,
    MPIC_DCV_REVERSE_ADDRESS_LOOKUP,
    MPIC_DCV_DNS_PERSISTENT,
    MPIC_DCV_DNS_ACCOUNT_01,
    MPIC_DCV_METHOD_COUNT
};

enum mpic_url_scheme {
    MPIC_URL_HTTP = 0,
    MPIC_URL_HTTPS,
};

/* Record types used by DCV; values are the DNS type codes. */
enum mpic_rrtype {
    MPIC_RR_NONE = 0,
    MPIC_RR_A = 1,
    MPIC_RR_CNAME = 5,
    MPIC_RR_PTR = 12,
    MPIC_RR_TXT = 16,
    MPIC_RR_AAAA = 28,
    MPIC_RR_CAA = 257,
};

const char *mpic_check_type_name(enum mpic_check_type t); /* "caa"/"dcv" */
const char *mpic_dcv_method_name(enum mpic_dcv_method m); /* wire name */
/* 0 and *out set, or -1 if the name is unknown. */
int mpic_dcv_method_from_name(const char *s, enum mpic_dcv_method *out);
const char *mpic_rrtype_name(enum mpic_rrtype t); /* "TXT", ... */
int mpic_rrtype_from_name(const char *s, enum mpic_rrtype *out);

struct mpic_caa_params {
    enum mpic_cert_type certificate_type; /* default tls-server */
    struct mpic_strv caa_domains;         /* empty: checker defaults */
    bool allow_lookup_failure;            /* default false */
    char *account_uri;       /* RFC 8657 accounturi; NULL if absent */
    char *validation_method; /* RFC 8657 validationmethods; NULL if absent */
};

struct mpic_header {
    char *name;  /* owned */
    char *value; /* owned */
};

/*
 * DCV parameters: the union of every method's fields. Which fields a method
 * uses, which are required and what their defaults are follows the
 * reference's parameter classes (see model.c). Strings are owned; NULL means
 * absent / null.
 */
struct mpic_dcv_params {
    enum mpic_dcv_method method;
    bool require_exact_case;
    char *challenge_value;
    char *http_token_path;
    enum mpic_url_scheme url_scheme;
    bool has_http_headers; /* false: null */
    struct mpic_header *http_headers;
    size_t n_http_headers;
    char *match_regex;
    char *token;
    char *key_authorization;
    char *key_authorization_hash;
    char *dns_name_prefix;
    enum mpic_rrtype dns_record_type;
    bool require_exact_match;
    struct mpic_strv issuer_domain_names;
    char *expected_account_uri;
    char *account_uri; /* dns-account-01 */
};

struct mpic_orch_params {
    bool present;                   /* the object was given and not null */
    long perspective_count;         /* -1: absent */
    long quorum_count;              /* -1: absent */
    long max_attempts;              /* -1: absent */
    long cohort_for_single_attempt; /* -1: absent */
};

/* A POST /mpic body. */
struct mpic_request {
    enum mpic_check_type check_type;
    char *target;   /* domain_or_ip_target as sent */
    char *trace_id; /* NULL if absent or null */
    struct mpic_orch_params orch;
    bool has_caa_params; /* caa_check_parameters given and not null */
    struct mpic_caa_params caa;
    struct mpic_dcv_params dcv; /* valid when check_type is dcv */
};

/* A POST /caa or /dcv body (coordinator to checker). */
struct mpic_check_request {
    enum mpic_check_type check_type;
    char *target;
    char *trace_id;
    bool has_caa_params;
    struct mpic_caa_params caa;
    struct mpic_dcv_params dcv;
};

/* One CHECK_RESPONSE. */
struct mpic_check_response {
    enum mpic_check_type check_type;
    bool check_passed;
    bool check_completed;
    int64_t timestamp_ns;
    bool errors_present;        /* false: "errors": null */
    struct mpic_errlist errors; /* issue.type = error_type */
    json_t *details;            /* owned reference; NULL: null */
};

/* Cleanup functions free members and zero the struct; all NULL-safe. */
void mpic_caa_params_cleanup(struct mpic_caa_params *p);
void mpic_dcv_params_cleanup(struct mpic_dcv_params *p);
void mpic_request_cleanup(struct mpic_request *r);
void mpic_check_request_cleanup(struct mpic_check_request *r);
void mpic_check_response_cleanup(struct mpic_check_response *r);

/*
 * Parses a POST /mpic body. Every problem is appended to errs with the
 * Open MPIC issue_type and a message naming the JSON path; returns
 * MPIC_OK only if errs got nothing. Checks types, required fields, enum
 * values, per-method rules (record types, website-change needs
 * challenge_value or match_regex, hex hash for tls-alpn, a compilable
 * match_regex, ...) and that the target is a valid name or address for the
 * method. Range checks that need configuration (perspective_count, quorum,
 * cohort number) are the coordinator's.
 */
enum mpic_err mpic_request_parse(const char *body, size_t len,
                                 struct mpic_request *out,
                                 struct mpic_errlist *errs);

/* Parses a checker request; `expected` is the checker's check type. */
enum mpic_err mpic_check_request_parse(const char *body, size_t len,
                                       enum mpic_check_type expected,
                                       struct mpic_check_request *out,
                                       struct mpic_errlist *errs);

/*
 * json_dumps() with fewer copies: the text is built on the stack and copied
 * once into an owned string (free()); *len (if not NULL) gets its length.
 * NULL where json_dumps() fails.
 */
char *mpic_json_dumps(const json_t *j, size_t flags, size_t *len);

/* Echo objects with every default filled in (new references). */
json_t *mpic_caa_params_to_json(const struct mpic_caa_params *p);
json_t *mpic_dcv_params_to_json(const struct mpic_dcv_params *p);
json_t *mpic_orch_params_to_json(const struct mpic_orch_params *p);

/*
 * The body the coordinator sends to a checker, in the reference's shape
 * (every parameter with its default filled in). Returns an owned string.
 */
char *mpic_check_request_encode(const struct mpic_check_request *r);
/* Builds the check request for an MPIC request (copies). */
void mpic_check_request_from_request(struct mpic_check_request *out,
                                     const struct mpic_request *in);

/* A new reference to the CHECK_RESPONSE object. */
json_t *mpic_check_response_to_json(const struct mpic_check_response *r);

/*
 * Parses a checker's answer. Tolerant as the reference is (errors null or
 * [], missing details); strict on check_type, check_passed and
 * check_completed. On failure returns MPIC_ERR_PEER and an owned reason in
 * *why.
 */
enum mpic_err mpic_check_response_parse(const char *body, size_t len,
                                        enum mpic_check_type expected,
                                        struct mpic_check_response *out,
                                        char **why);

/* Adds an error (type, message copied) to a check response. */
void mpic_check_response_add_error(struct mpic_check_response *r,
                                   const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Current CLOCK_REALTIME in nanoseconds. */
int64_t mpic_now_ns(void);

#endif
