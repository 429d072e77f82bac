/*
 * The DCV checker (mpic-dcv-checker): one remote perspective that runs the
 * Open MPIC DCV methods (open-mpic-api.md section 6). The pure rules
 * (value comparison, dns-persistent records, the special-purpose address
 * table, redirect policy, URL building) live in the mpic_dcv library and
 * have unit tests; the asynchronous parts (DNS, HTTP, TLS-ALPN) run on the
 * daemon's single ev loop.
 */
#ifndef MPIC_DCV_DCV_H
#define MPIC_DCV_DCV_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/config.h"
#include "common/err.h"
#include "common/model.h"
#include "common/strv.h"
#include "common/target.h"
#include "common/trace.h"

/* Error type strings (open-mpic-api.md section 7). */
#define DCV_ERR_LOOKUP     "mpic_error:dcv_checker:lookup"
#define DCV_ERR_PARAMETER  "mpic_error:dcv_checker:parameter"
#define DCV_ERR_HTTP       "mpic_error:http"
#define DCV_ERR_REDIRECT   "mpic_error:redirect:invalid"
#define DCV_ERR_PRIVATE    "mpic_error:dcv_checker:private_address"
#define DCV_ERR_INTERNAL   "mpic_error:dcv_checker:internal"
#define DCV_ERR_TIMEOUT    "mpic_error:dcv_checker:timeout"
#define DCV_ERR_PROXY      "mpic_error:dcv_checker:proxy"
#define DCV_ERR_TLS        "mpic_error:dcv_checker:tls_alpn"
#define DCV_ERR_TLS_CERT   "mpic_error:dcv_checker:tls_alpn:certificate"
#define DCV_ERR_TLS_NO_EXT DCV_ERR_TLS_CERT ":extension_missing"
#define DCV_ERR_TLS_NONCRIT                                                    \
    "mpic_error:dcv_checker:tls_alpn:certificate:noncritical_alpn_extension"
#define DCV_ERR_TLS_EXT_VALUE     DCV_ERR_TLS_CERT ":extension_value_mismatch"
#define DCV_ERR_TLS_NO_SINGLE_SAN DCV_ERR_TLS_CERT ":no_single_san"
#define DCV_ERR_TLS_SAN_NOT_DNS   DCV_ERR_TLS_CERT ":san_not_dnsname"
#define DCV_ERR_TLS_SAN_TYPE      DCV_ERR_TLS_CERT ":san_type_not_match"
#define DCV_ERR_TLS_SAN_NOT_HOST  DCV_ERR_TLS_CERT ":san_not_hostname"
#define DCV_ERR_TLS_ALPN_PROTO    "mpic_error:dcv_checker:tls_alpn:protocol"

/*
 * Key exchange of every TLS connection to a target (https fetches and
 * acme-tls-alpn-01): elliptic curves only. With finite-field DHE the
 * server picks the group, and a 10000-bit one (not even a prime: OpenSSL
 * takes it) costs the loop about 0.6 s of CPU per handshake. Boulder's Go
 * TLS client offers no DHE either.
 */
#define DCV_TLS_CIPHERS "DEFAULT:!kDHE"
#define DCV_TLS_GROUPS  "X25519:P-256:X448:P-521:P-384"

/* ---- dcv_compare.c: pure comparison rules ---- */

/*
 * True if a record value (rec, rec_len bytes, may hold NULs) matches want.
 * exact_match: the whole value equals want; otherwise want is a substring.
 * exact_case false compares ASCII letters case-insensitively. A NUL byte
 * in rec only matches a NUL in want, so embedded NULs never vanish.
 */
bool dcv_value_matches(const char *rec, size_t rec_len, const char *want,
                       bool exact_case, bool exact_match);
/*
 * True if the two texts are the same IP address of the same family
 * ("2001:db8::1" equals "2001:0db8:0:0::1"). An IPv4-mapped IPv6 address
 * (::ffff:1.2.3.4) is NOT equal to 1.2.3.4: the record type decides the
 * family, and a mapped address in AAAA is a different record. Unparseable
 * input is never equal.
 */
bool dcv_ip_equal(const char *a, const char *b);
/* PTR targets: case-insensitive, one trailing dot on either side ignored. */
bool dcv_ptr_equal(const char *a, const char *b);
/*
 * Contact records (BR 3.2.2.4.13/.14/.16/.17): rec equals want exactly,
 * ignoring ASCII case only; no trimming. An empty want never matches.
 */
bool dcv_contact_equal(const char *rec, size_t rec_len, const char *want);
/* contact-email-caa / contact-phone-caa: is `tag` the method's CAA tag
 * (contactemail / contactphone, case-insensitive)? False for other methods. */
bool dcv_caa_contact_tag(const char *tag, enum mpic_dcv_method m);
/*
 * The per-method rule of the DNS methods (open-mpic-api.md section 6): does
 * one record value (val, vlen bytes, as it appears in records_seen: TXT
 * strings joined, the CAA value, a CNAME/PTR target with its trailing dot,
 * an address in text) satisfy the request p? wildcard_target and now_s
 * matter only for dns-persistent; when that refuses a record and why is
 * not NULL, *why names the reason (static string). Methods without a DNS
 * record rule never match.
 */
bool dcv_record_matches(const struct mpic_dcv_params *p, const char *val,
                        size_t vlen, bool wildcard_target, int64_t now_s,
                        const char **why);
/*
 * dns-account-01 label: lower-case unpadded base32 (RFC 4648) of the first
 * 10 bytes of SHA-256(account_uri), 16 characters. Returns an owned string.
 */
char *dcv_account_label(const char *account_uri);
/* Base32 (RFC 4648, lower case, no padding) of n bytes; owned string. */
char *dcv_base32_lower(const unsigned char *p, size_t n);
/* Base64 of n bytes (OpenSSL EVP_EncodeBlock); owned string. */
char *dcv_base64(const void *p, size_t n);
/*
 * Builds "scheme://host/path" with IPv6 hosts in brackets; path must start
 * with '/'. Returns an owned string.
 */
char *dcv_url_build(const char *scheme, const char *host, const char *path);
/* Strips trailing ASCII whitespace: returns the new length. */
size_t dcv_rstrip_len(const char *s, size_t len);

/* Redirect policy (open-mpic-api.md section 6, HTTP rules). */
bool dcv_redirect_status_ok(long status);
/*
 * Resolves `location` against `base` (curl_url) and checks the result:
 * http or https only, explicit port only 80 or 443, a host present. Returns
 * MPIC_OK with the owned absolute URL in *next, or MPIC_ERR_INVALID with an
 * owned reason in *why.
 */
enum mpic_err dcv_redirect_resolve(const char *base, const char *location,
                                   char **next, char **why);
/*
 * Splits an absolute http(s) URL: owned host (without brackets) and the
 * port (explicit, or 80/443 from the scheme). MPIC_OK or MPIC_ERR_INVALID.
 */
enum mpic_err dcv_url_host_port(const char *url, char **host, unsigned *port);

/* ---- dcv_details.c: response details from what the target sent ---- */

/* Details of method m with every field null (what an early error
 * reports); never NULL. */
json_t *dcv_details_skeleton(enum mpic_dcv_method m);
/*
 * Appends one response_history entry to *history (created if NULL): the
 * reference's {status_code, url} for the URL that answered with a
 * redirect; for a refused redirect also "location", the Location as
 * received (location_len bytes, any bytes), made valid UTF-8.
 */
void dcv_history_push(json_t **history, long status, const char *url,
                      const char *location, size_t location_len, bool refused);
/* Sets response_url, response_status_code and response_page (base64 of
 * the n bytes of page) in details. */
void dcv_page_details(json_t *details, const char *url, long status,
                      const char *page, size_t n);
/* The certificate's first subject CN as a JSON string (any ASN.1 string
 * type, any bytes: converted or repaired, NULs kept), or JSON null. */
typedef struct x509_st X509;
json_t *dcv_cert_common_name(X509 *cert);

/* ---- dcv_addr.c: IANA special-purpose address registries ---- */

/*
 * Returns a short name of the special-purpose block containing the address
 * (family AF_INET with 4 bytes, AF_INET6 with 16; the name starts with
 * the block in CIDR form), or NULL if the address may be connected to. A
 * NAT64 address (64:ff9b::/96) is judged by the IPv4 address it embeds;
 * IPv4-mapped, IPv4-compatible and 6to4 addresses are refused as blocks,
 * as is any IPv6 address outside 2000::/3.
 */
const char *dcv_addr_special(int family, const unsigned char *addr);
/* Same for a text address; "unparseable" for garbage. */
const char *dcv_addr_special_text(const char *ip);
/* Rows of the table for AF_INET or AF_INET6 (for tests: every row has one). */
size_t dcv_addr_table_rows(int family);

/* ---- dcv_persist.c: dns-persistent records ---- */

enum dcv_persist_verdict {
    DCV_PERSIST_OK = 0,
    DCV_PERSIST_MALFORMED,
    DCV_PERSIST_WRONG_ISSUER,
    DCV_PERSIST_WRONG_ACCOUNT,
    DCV_PERSIST_EXPIRED,
    DCV_PERSIST_NO_WILDCARD,
};

struct dcv_persist_record {
    char *issuer;     /* owned, as written (trimmed) */
    char *accounturi; /* owned */
    bool policy_wildcard;
    bool has_persist_until;
    int64_t persist_until; /* seconds since the epoch */
};

/*
 * Parses `issuer; accounturi=URI[; policy=wildcard][; persistUntil=EPOCH]`
 * (parameter names case-insensitive, blanks around tokens allowed,
 * unknown parameters ignored). Duplicate known parameters, an empty
 * parameter, a parameter without '=', an empty value, a trailing ';', a
 * missing issuer or accounturi, a NUL byte, or a persistUntil that is not
 * a decimal number make it malformed: MPIC_ERR_INVALID and an owned reason
 * in *why. On MPIC_OK the caller cleans *out.
 */
enum mpic_err dcv_persist_parse(const char *txt, size_t len,
                                struct dcv_persist_record *out, char **why);
void dcv_persist_record_cleanup(struct dcv_persist_record *r);
/* Parses and judges one record against the request; now_s is the time. */
enum dcv_persist_verdict dcv_persist_evaluate(const char *txt, size_t len,
                                              const struct mpic_strv *issuers,
                                              const char *account_uri,
                                              bool wildcard_target,
                                              int64_t now_s);
const char *dcv_persist_verdict_name(enum dcv_persist_verdict v);

/* ---- the daemon (dcv_check.c, dcv_dns.c, dcv_http.c, dcv_tls_alpn.c,
 * dcv_resolve.c) ---- */

struct ev_loop;
struct ev_curl;
struct ev_timer;
struct mpic_dns;
struct mpic_http_request;
struct mpic_http_server;

struct dcv_daemon {
    struct ev_loop *loop;                  /* borrowed */
    const struct mpic_checker_config *cfg; /* borrowed */
    struct mpic_dns *dns;                  /* borrowed */
    struct ev_curl *curl;                  /* borrowed */
    /* metrics */
    unsigned long n_checks[MPIC_DCV_METHOD_COUNT];
    unsigned long n_passed;
    unsigned long n_failed;
    unsigned long n_errors;
    unsigned long n_bad_requests;
};

typedef void dcv_op_cancel_fn(void *op);

/* One POST /dcv in flight. Freed only by dcv_check_free. */
struct dcv_check {
    struct dcv_daemon *d;
    struct mpic_http_request *req; /* NULL once cancelled */
    struct mpic_check_request creq;
    struct mpic_target target;
    /* the answer being built */
    bool passed;
    bool completed;
    struct mpic_errlist errors;
    json_t *details; /* owned object */
    /* the running sub-operation, cancelled with the request */
    void *op;
    dcv_op_cancel_fn *op_cancel;
    struct ev_timer *finish_timer;
    struct ev_timer *deadline_timer;
    struct mpic_trace trace; /* docs/tracing.md */
    /* How a method reports that it is done (dcv_check.c sets it): methods
     * depend on this header, not on the file that dispatches them. */
    void (*finish)(struct dcv_check *c);
};

struct mpic_buf;

/* Registers POST /dcv on srv. */
void dcv_routes(struct dcv_daemon *d, struct mpic_http_server *srv);
/* The HTTP layer's deadline for one request (above the check's own). */
uint64_t dcv_request_deadline_ms(const struct dcv_daemon *d);
/* mpic_http_metrics_fn: appends the DCV counters; arg is the dcv_daemon. */
void dcv_metrics(struct mpic_buf *out, void *arg);
/* Adds one error (type and message) to the check. */
static inline void dcv_check_error(struct dcv_check *c, const char *type,
                                   const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void dcv_check_error(struct dcv_check *c, const char *type,
                                   const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mpic_errlist_vadd(&c->errors, type, fmt, ap);
    va_end(ap);
}
/*
 * The method is done: the check's fields hold the verdict and nothing of
 * c->op is still pending (the op itself is freed with the check through
 * op_cancel). The reply goes out from a fresh loop iteration, so this is
 * safe inside any library callback.
 */
static inline void dcv_check_finish(struct dcv_check *c)
{
    c->finish(c);
}

/* Method entry points: each fills c->details and eventually finishes. */
void dcv_dns_start(struct dcv_check *c);
void dcv_http_start(struct dcv_check *c);

/* dcv_proxy.c: egress through http.proxy (NULL: direct, never the
 * environment's proxy). */
void dcv_proxy_setopt(CURL *e, const char *proxy);
/*
 * When a transfer through proxy failed before its tunnel to dest
 * ("IP:PORT") stood, what went wrong, naming the proxy (owned); NULL when
 * there is no proxy, no failure, or the target failed behind the tunnel.
 */
char *dcv_proxy_failure(CURL *e, CURLcode result, const char *proxy,
                        const char *dest, const char *errbuf);
void dcv_tls_alpn_start(struct dcv_check *c);

/* dcv_resolve.c: the host resolver of the HTTP and TLS-ALPN methods. */
/*
 * Resolves host (A, then AAAA if there is no A) through the daemon's
 * resolvers. cb gets status MPIC_OK with the text address, MPIC_ERR_NOTFOUND
 * (no address), or MPIC_ERR_DNS with a reason. An IP literal is answered
 * at once. cb always runs from a fresh loop iteration, never inside this
 * call. Returns a handle for dcv_resolve_cancel, invalid once cb ran.
 */
typedef void dcv_resolve_fn(enum mpic_err status, const char *addr,
                            const char *why, void *arg);
struct dcv_resolve;
struct dcv_resolve *dcv_resolve_start(struct dcv_daemon *d, const char *host,
                                      dcv_resolve_fn *cb, void *arg);
void dcv_resolve_cancel(struct dcv_resolve *r);
/*
 * If private addresses are refused and addr is special-purpose, returns
 * an owned message naming it; else NULL.
 */
char *dcv_address_refusal(const struct dcv_daemon *d, const char *addr);

#endif
