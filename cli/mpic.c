/*
 * mpic: a command-line client for POST /mpic (INTERFACE.md, "Command-line
 * client"; the manual is docs/mpic.1).
 *
 *   mpic [options] caa TARGET
 *   mpic [options] dcv METHOD TARGET
 *
 * Every API parameter is a flag named after its field, '_' written as '-'.
 * The request is built with jansson, sent with libcurl, and the answer is
 * shown as a table (or as received, with --json).
 *
 * Exit status: 0 valid, 1 not valid, 2 request refused (a 4xx, or a usage
 * mistake caught here), 3 service or transport error.
 */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define EXIT_VALID     0
#define EXIT_NOT_VALID 1
#define EXIT_REFUSED   2
#define EXIT_SERVICE   3

#define DEFAULT_URL     "http://127.0.0.1:8000"
#define MAX_ANSWER      (16L * 1024 * 1024)
#define DEFAULT_TIMEOUT 120

struct opts {
    const char *url;
    const char *api_key;
    const char *cacert;
    long timeout_s;
    bool json;
    json_t *orch; /* orchestration_parameters, or NULL */
    json_t *caa;  /* caa_check_parameters, or NULL */
    json_t *dcv;  /* dcv_check_parameters (without validation_method) */
    const char *trace_id;
};

enum {
    O_URL = 256,
    O_API_KEY,
    O_CACERT,
    O_TIMEOUT,
    O_JSON,
    O_TRACE_ID,
    O_PERSPECTIVE_COUNT,
    O_QUORUM_COUNT,
    O_MAX_ATTEMPTS,
    O_COHORT,
    O_CERTIFICATE_TYPE,
    O_CAA_DOMAIN,
    O_ALLOW_LOOKUP_FAILURE,
    O_ACCOUNT_URI,
    O_VALIDATION_METHOD,
    O_CHALLENGE_VALUE,
    O_HTTP_TOKEN_PATH,
    O_URL_SCHEME,
    O_HTTP_HEADER,
    O_MATCH_REGEX,
    O_REQUIRE_EXACT_CASE,
    O_NO_REQUIRE_EXACT_CASE,
    O_TOKEN,
    O_KEY_AUTHORIZATION,
    O_KEY_AUTHORIZATION_HASH,
    O_DNS_NAME_PREFIX,
    O_DNS_RECORD_TYPE,
    O_REQUIRE_EXACT_MATCH,
    O_ISSUER_DOMAIN_NAME,
    O_EXPECTED_ACCOUNT_URI,
    O_VERSION,
};

static const struct option long_opts[] = {
    {"url", required_argument, NULL, O_URL},
    {"api-key", required_argument, NULL, O_API_KEY},
    {"cacert", required_argument, NULL, O_CACERT},
    {"timeout", required_argument, NULL, O_TIMEOUT},
    {"json", no_argument, NULL, O_JSON},
    {"trace-identifier", required_argument, NULL, O_TRACE_ID},
    {"perspective-count", required_argument, NULL, O_PERSPECTIVE_COUNT},
    {"quorum-count", required_argument, NULL, O_QUORUM_COUNT},
    {"max-attempts", required_argument, NULL, O_MAX_ATTEMPTS},
    {"cohort-for-single-attempt", required_argument, NULL, O_COHORT},
    {"certificate-type", required_argument, NULL, O_CERTIFICATE_TYPE},
    {"caa-domain", required_argument, NULL, O_CAA_DOMAIN},
    {"allow-lookup-failure", no_argument, NULL, O_ALLOW_LOOKUP_FAILURE},
    {"account-uri", required_argument, NULL, O_ACCOUNT_URI},
    {"validation-method", required_argument, NULL, O_VALIDATION_METHOD},
    {"challenge-value", required_argument, NULL, O_CHALLENGE_VALUE},
    {"http-token-path", required_argument, NULL, O_HTTP_TOKEN_PATH},
    {"url-scheme", required_argument, NULL, O_URL_SCHEME},
    {"http-header", required_argument, NULL, O_HTTP_HEADER},
    {"match-regex", required_argument, NULL, O_MATCH_REGEX},
    {"require-exact-case", no_argument, NULL, O_REQUIRE_EXACT_CASE},
    {"no-require-exact-case", no_argument, NULL, O_NO_REQUIRE_EXACT_CASE},
    {"token", required_argument, NULL, O_TOKEN},
    {"key-authorization", required_argument, NULL, O_KEY_AUTHORIZATION},
    {"key-authorization-hash", required_argument, NULL,
     O_KEY_AUTHORIZATION_HASH},
    {"dns-name-prefix", required_argument, NULL, O_DNS_NAME_PREFIX},
    {"dns-record-type", required_argument, NULL, O_DNS_RECORD_TYPE},
    {"require-exact-match", no_argument, NULL, O_REQUIRE_EXACT_MATCH},
    {"issuer-domain-name", required_argument, NULL, O_ISSUER_DOMAIN_NAME},
    {"expected-account-uri", required_argument, NULL, O_EXPECTED_ACCOUNT_URI},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, O_VERSION},
    {NULL, 0, NULL, 0},
};

static void usage(FILE *f)
{
    fputs(
        "usage: mpic [options] caa TARGET\n"
        "       mpic [options] dcv METHOD TARGET\n"
        "\n"
        "Asks an MPIC coordinator (POST /mpic) to corroborate a CAA check or "
        "a\n"
        "domain control validation from several network perspectives.\n"
        "\n"
        "Connection:\n"
        "  --url URL              coordinator (default $MPIC_URL, "
        "else " DEFAULT_URL ")\n"
        "  --api-key KEY          sent as x-api-key (default $MPIC_API_KEY)\n"
        "  --cacert FILE          trust anchor for an https:// coordinator\n"
        "  --timeout SECONDS      whole request (default 120)\n"
        "  --json                 print the answer as received\n"
        "\n"
        "Request (each flag is the API field, '_' written as '-'):\n"
        "  --trace-identifier ID\n"
        "  --perspective-count N  --quorum-count N  --max-attempts N\n"
        "  --cohort-for-single-attempt N\n"
        "CAA:\n"
        "  --certificate-type tls-server|s-mime  --caa-domain D (repeat)\n"
        "  --allow-lookup-failure  --account-uri URI  --validation-method M\n"
        "DCV:\n"
        "  --challenge-value V  --http-token-path P  --url-scheme http|https\n"
        "  --http-header 'Name: value' (repeat)  --match-regex RE\n"
        "  --require-exact-case | --no-require-exact-case\n"
        "  --token T  --key-authorization KA  --key-authorization-hash H\n"
        "  --dns-name-prefix P  --dns-record-type TXT|CNAME|CAA|A|AAAA\n"
        "  --require-exact-match  --issuer-domain-name D (repeat)\n"
        "  --expected-account-uri URI  --account-uri URI\n"
        "\n"
        "Examples, one per check:\n"
        "  mpic caa example.com --caa-domain ca.example\n"
        "  mpic dcv website-change example.com --http-token-path t0k3n \\\n"
        "       --challenge-value 'ca-xyz'\n"
        "  mpic dcv acme-http-01 example.com --token evaGxfADs6pSRb2LAv9I \\\n"
        "       --key-authorization evaGxfADs6pSRb2LAv9I.NzbLsXh8uDCcd\n"
        "  mpic dcv acme-dns-01 example.com --key-authorization-hash "
        "7FwkJPsKf-TH54wu4eiIFA3nhzYaevsL7953ihy-tpo\n"
        "  mpic dcv acme-tls-alpn-01 example.com --key-authorization-hash "
        "<64 hex digits>\n"
        "  mpic dcv dns-change example.com --dns-name-prefix _ca \\\n"
        "       --dns-record-type TXT --challenge-value ca-xyz\n"
        "  mpic dcv contact-email-txt example.com --challenge-value "
        "admin@example.com\n"
        "  mpic dcv contact-phone-txt example.com --challenge-value "
        "+1-555-0100\n"
        "  mpic dcv contact-email-caa example.com --challenge-value "
        "admin@example.com\n"
        "  mpic dcv contact-phone-caa example.com --challenge-value "
        "+1-555-0100\n"
        "  mpic dcv ip-address example.com --dns-record-type A "
        "--challenge-value 192.0.2.1\n"
        "  mpic dcv reverse-address-lookup 192.0.2.1 --challenge-value "
        "host.example.com\n"
        "  mpic dcv dns-persistent example.com --issuer-domain-name ca.example "
        "\\\n"
        "       --expected-account-uri https://ca.example/acct/1\n"
        "  mpic dcv dns-account-01 example.com --account-uri "
        "https://ca.example/acct/1 \\\n"
        "       --key-authorization-hash H\n"
        "\n"
        "Exit status: 0 valid, 1 not valid, 2 request refused (4xx or usage),\n"
        "3 service or transport error.\n",
        f);
}

/* A usage mistake: what is wrong with arg. */
static int die_usage(const char *what, const char *arg)
{
    fprintf(stderr, "mpic: %s: '%s' (see mpic --help)\n", what, arg);
    return EXIT_REFUSED;
}

/* A JSON object member of *slot, creating the object on first use. */
static void set_field(json_t **slot, const char *key, json_t *v)
{
    if (*slot == NULL)
        *slot = json_object();
    json_object_set_new(*slot, key, v);
}

static void append_field(json_t **slot, const char *key, json_t *v)
{
    json_t *a;

    if (*slot == NULL)
        *slot = json_object();
    a = json_object_get(*slot, key);
    if (a == NULL) {
        a = json_array();
        json_object_set_new(*slot, key, a);
    }
    json_array_append_new(a, v);
}

static int parse_long(const char *s, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return -1;
    *out = v;
    return 0;
}

/* "Name: value" as {"Name": "value"} in http_headers. */
static int add_header(struct opts *o, const char *arg)
{
    const char *colon = strchr(arg, ':');
    json_t *hs;
    char *name;
    const char *v;

    if (colon == NULL || colon == arg)
        return -1;
    name = xstrndup(arg, (size_t)(colon - arg));
    for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
        ;
    if (o->dcv == NULL)
        o->dcv = json_object();
    hs = json_object_get(o->dcv, "http_headers");
    if (hs == NULL) {
        hs = json_object();
        json_object_set_new(o->dcv, "http_headers", hs);
    }
    json_object_set_new(hs, name, json_string(v));
    free(name);
    return 0;
}

/* Returns -1 to go on, or an exit status. */
static int parse_opt(struct opts *o, int c, const char *arg)
{
    long n;

    switch (c) {
    case O_URL:
        o->url = arg;
        break;
    case O_API_KEY:
        o->api_key = arg;
        break;
    case O_CACERT:
        o->cacert = arg;
        break;
    case O_TIMEOUT:
        if (parse_long(arg, &o->timeout_s) != 0 || o->timeout_s < 1)
            return die_usage("--timeout: not a number of seconds", arg);
        break;
    case O_JSON:
        o->json = true;
        break;
    case O_TRACE_ID:
        o->trace_id = arg;
        break;
    case O_PERSPECTIVE_COUNT:
    case O_QUORUM_COUNT:
    case O_MAX_ATTEMPTS:
    case O_COHORT: {
        static const char *const names[] = {"perspective_count", "quorum_count",
                                            "max_attempts",
                                            "cohort_for_single_attempt"};

        if (parse_long(arg, &n) != 0)
            return die_usage("not an integer", arg);
        set_field(&o->orch, names[c - O_PERSPECTIVE_COUNT], json_integer(n));
        break;
    }
    case O_CERTIFICATE_TYPE:
        set_field(&o->caa, "certificate_type", json_string(arg));
        break;
    case O_CAA_DOMAIN:
        append_field(&o->caa, "caa_domains", json_string(arg));
        break;
    case O_ALLOW_LOOKUP_FAILURE:
        set_field(&o->caa, "allow_lookup_failure", json_true());
        break;
    case O_ACCOUNT_URI:
        /* caa_check_parameters.account_uri or dcv (dns-account-01): put
         * in both; the check type picks one when the request is built. */
        set_field(&o->caa, "account_uri", json_string(arg));
        set_field(&o->dcv, "account_uri", json_string(arg));
        break;
    case O_VALIDATION_METHOD:
        set_field(&o->caa, "validation_method", json_string(arg));
        break;
    case O_CHALLENGE_VALUE:
        set_field(&o->dcv, "challenge_value", json_string(arg));
        break;
    case O_HTTP_TOKEN_PATH:
        set_field(&o->dcv, "http_token_path", json_string(arg));
        break;
    case O_URL_SCHEME:
        set_field(&o->dcv, "url_scheme", json_string(arg));
        break;
    case O_HTTP_HEADER:
        if (add_header(o, arg) != 0)
            return die_usage("--http-header: not 'Name: value'", arg);
        break;
    case O_MATCH_REGEX:
        set_field(&o->dcv, "match_regex", json_string(arg));
        break;
    case O_REQUIRE_EXACT_CASE:
        set_field(&o->dcv, "require_exact_case", json_true());
        break;
    case O_NO_REQUIRE_EXACT_CASE:
        set_field(&o->dcv, "require_exact_case", json_false());
        break;
    case O_TOKEN:
        set_field(&o->dcv, "token", json_string(arg));
        break;
    case O_KEY_AUTHORIZATION:
        set_field(&o->dcv, "key_authorization", json_string(arg));
        break;
    case O_KEY_AUTHORIZATION_HASH:
        set_field(&o->dcv, "key_authorization_hash", json_string(arg));
        break;
    case O_DNS_NAME_PREFIX:
        set_field(&o->dcv, "dns_name_prefix", json_string(arg));
        break;
    case O_DNS_RECORD_TYPE:
        set_field(&o->dcv, "dns_record_type", json_string(arg));
        break;
    case O_REQUIRE_EXACT_MATCH:
        set_field(&o->dcv, "require_exact_match", json_true());
        break;
    case O_ISSUER_DOMAIN_NAME:
        append_field(&o->dcv, "issuer_domain_names", json_string(arg));
        break;
    case O_EXPECTED_ACCOUNT_URI:
        set_field(&o->dcv, "expected_account_uri", json_string(arg));
        break;
    case 'h':
        usage(stdout);
        return EXIT_VALID;
    case O_VERSION:
        printf("mpic %s\n", MPIC_VERSION);
        return EXIT_VALID;
    default:
        usage(stderr);
        return EXIT_REFUSED;
    }
    return -1;
}

/*
 * The POST /mpic body for the positional arguments args[0..n), or NULL
 * with the usage problem printed.
 */
static json_t *build_request(struct opts *o, char **args, int n)
{
    json_t *req = json_object();
    const char *target;

    if (n >= 1 && strcmp(args[0], "caa") == 0 && n == 2) {
        target = args[1];
        json_object_set_new(req, "check_type", json_string("caa"));
        if (o->caa != NULL)
            json_object_set(req, "caa_check_parameters", o->caa);
    } else if (n >= 1 && strcmp(args[0], "dcv") == 0 && n == 3) {
        json_t *d = o->dcv != NULL ? json_deep_copy(o->dcv) : json_object();

        target = args[2];
        json_object_set_new(req, "check_type", json_string("dcv"));
        json_object_set_new(d, "validation_method", json_string(args[1]));
        json_object_set_new(req, "dcv_check_parameters", d);
    } else {
        json_decref(req);
        fprintf(stderr, "mpic: expected 'caa TARGET' or 'dcv METHOD "
                        "TARGET' (see mpic --help)\n");
        return NULL;
    }
    json_object_set_new(req, "domain_or_ip_target", json_string(target));
    if (o->trace_id != NULL)
        json_object_set_new(req, "trace_identifier", json_string(o->trace_id));
    if (o->orch != NULL)
        json_object_set(req, "orchestration_parameters", o->orch);
    return req;
}

struct answer {
    char *data;
    size_t len;
    bool too_big;
};

static size_t on_data(char *p, size_t size, size_t nmemb, void *arg)
{
    struct answer *a = arg;
    size_t n = size * nmemb;
    char *d;

    if (a->len + n > (size_t)MAX_ANSWER) {
        a->too_big = true;
        return 0;
    }
    d = xrealloc(a->data, a->len + n + 1);
    memcpy(d + a->len, p, n);
    a->data = d;
    a->len += n;
    a->data[a->len] = '\0';
    return n;
}

/*
 * One HTTP exchange: POST body (or GET when body is NULL) to url. Returns
 * the status (0 on a transport failure, with the reason printed).
 */
static long exchange(const struct opts *o, const char *url, const char *body,
                     struct answer *a)
{
    CURL *easy = curl_easy_init();
    struct curl_slist *h = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    char *keyhdr = NULL;
    long status = 0;
    CURLcode rc;

    if (easy == NULL) {
        fprintf(stderr, "mpic: cannot set up libcurl\n");
        return 0;
    }
    h = curl_slist_append(h, "Content-Type: application/json");
    h = curl_slist_append(h, "Expect:");
    if (o->api_key != NULL && o->api_key[0] != '\0') {
        keyhdr = xasprintf("x-api-key: %s", o->api_key);
        h = curl_slist_append(h, keyhdr);
    }
    curl_easy_setopt(easy, CURLOPT_URL, url);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT, o->timeout_s);
    curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(easy, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(easy, CURLOPT_USERAGENT, "mpic/" MPIC_VERSION);
    if (o->cacert != NULL)
        curl_easy_setopt(easy, CURLOPT_CAINFO, o->cacert);
    if (body != NULL) {
        curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE,
                         (curl_off_t)strlen(body));
    }
    rc = curl_easy_perform(easy);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    } else if (body != NULL) {
        fprintf(stderr, "mpic: %s: %s\n", url,
                a->too_big  ? "answer larger than 16 MiB"
                : errbuf[0] ? errbuf
                            : curl_easy_strerror(rc));
    }
    curl_slist_free_all(h);
    free(keyhdr);
    curl_easy_cleanup(easy);
    return status;
}

/* code -> RIR from the coordinator's /configz; a new object (maybe empty). */
static json_t *perspective_rirs(const struct opts *o, const char *base)
{
    json_t *map = json_object();
    struct answer a = {0};
    char *url = NULL;
    json_t *cfg, *ps, *p;
    size_t i;

    url = xasprintf("%s/configz", base);
    if (exchange(o, url, NULL, &a) == 200 && a.data != NULL) {
        cfg = json_loadb(a.data, a.len, 0, NULL);
        ps = json_object_get(json_object_get(cfg, "config"), "perspectives");
        if (ps == NULL)
            ps = json_object_get(cfg, "perspectives");
        json_array_foreach(ps, i, p)
        {
            json_t *code = json_object_get(p, "code");
            json_t *rir = json_object_get(p, "rir");

            if (json_is_string(code) && json_is_string(rir))
                json_object_set(map, json_string_value(code), rir);
        }
        json_decref(cfg);
    }
    free(a.data);
    free(url);
    return map;
}

static const char *str_or(json_t *j, const char *dflt)
{
    return json_is_string(j) ? json_string_value(j) : dflt;
}

/* Prints what went wrong in a 4xx/5xx body. */
static void print_refusal(long status, json_t *body)
{
    json_t *issues = json_object_get(body, "validation_issues");
    json_t *is;
    size_t i;

    fprintf(stderr, "refused (%ld): %s\n", status,
            str_or(json_object_get(body, "error"), "(no error field)"));
    if (json_is_string(json_object_get(body, "message")))
        fprintf(stderr, "  %s\n",
                json_string_value(json_object_get(body, "message")));
    json_array_foreach(issues, i, is)
    {
        fprintf(stderr, "  %s: %s\n",
                str_or(json_object_get(is, "issue_type"), "?"),
                str_or(json_object_get(is, "message"), ""));
    }
}

/* The first error type of a check response, or "-". */
static const char *first_error(json_t *cr)
{
    json_t *errs = json_object_get(cr, "errors");
    json_t *e = json_array_get(errs, 0);

    return str_or(json_object_get(e, "error_type"), "-");
}

static void print_table(json_t *ans, json_t *rirs)
{
    json_t *actual = json_object_get(ans, "actual_orchestration_parameters");
    json_t *ps = json_object_get(ans, "perspectives");
    json_t *warnings = json_object_get(ans, "warnings");
    json_t *p, *w;
    size_t i, passed = 0;

    json_array_foreach(ps, i, p)
    {
        if (json_is_true(json_object_get(json_object_get(p, "check_response"),
                                         "check_passed")))
            passed++;
    }
    printf("%s  %s %s\n",
           json_is_true(json_object_get(ans, "is_valid")) ? "VALID"
                                                          : "NOT VALID",
           str_or(json_object_get(ans, "check_type"), "?"),
           str_or(json_object_get(ans, "domain_or_ip_target"), "?"));
    printf(
        "quorum %zu/%zu (needed %lld), attempts %lld, mpic_completed %s\n",
        passed, json_array_size(ps),
        (long long)json_integer_value(json_object_get(actual, "quorum_count")),
        (long long)json_integer_value(json_object_get(actual, "attempt_count")),
        json_is_true(json_object_get(ans, "mpic_completed")) ? "true"
                                                             : "false");
    json_array_foreach(warnings, i, w)
    {
        printf("warning: %s\n",
               json_is_string(w)
                   ? json_string_value(w)
                   : str_or(json_object_get(w, "message"),
                            str_or(json_object_get(w, "warning_type"), "?")));
    }
    printf("\n%-20s %-10s %-7s %s\n", "PERSPECTIVE", "RIR", "PASSED", "ERROR");
    json_array_foreach(ps, i, p)
    {
        json_t *cr = json_object_get(p, "check_response");
        const char *code = str_or(json_object_get(p, "perspective_code"), "?");

        printf("%-20s %-10s %-7s %s\n", code,
               str_or(json_object_get(rirs, code), "-"),
               json_is_true(json_object_get(cr, "check_passed")) ? "yes" : "no",
               first_error(cr));
    }
}

int main(int argc, char **argv)
{
    struct opts o;
    json_t *req = NULL, *ans = NULL, *rirs = NULL;
    struct answer a = {0};
    char *body = NULL, *url = NULL;
    const char *base;
    size_t blen;
    long status;
    int c, rc = EXIT_SERVICE;

    memset(&o, 0, sizeof(o));
    o.url = getenv("MPIC_URL");
    o.api_key = getenv("MPIC_API_KEY");
    o.timeout_s = DEFAULT_TIMEOUT;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        rc = parse_opt(&o, c, optarg);
        if (rc >= 0)
            goto out;
    }
    rc = EXIT_SERVICE;
    req = build_request(&o, argv + optind, argc - optind);
    if (req == NULL) {
        rc = EXIT_REFUSED;
        goto out;
    }
    if (o.url == NULL || o.url[0] == '\0')
        o.url = DEFAULT_URL;
    base = o.url;
    blen = strlen(base);
    while (blen > 0 && base[blen - 1] == '/')
        blen--;
    if (blen >= 5 && strncmp(base + blen - 5, "/mpic", 5) == 0)
        blen -= 5; /* --url may name the endpoint itself */
    url = xasprintf("%.*s/mpic", (int)blen, base);
    body = json_dumps(req, JSON_COMPACT);
    if (body == NULL || curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        goto out;
    status = exchange(&o, url, body, &a);
    if (status == 0)
        goto out_curl;
    ans = a.data != NULL ? json_loadb(a.data, a.len, 0, NULL) : NULL;
    if (o.json && a.data != NULL) {
        fwrite(a.data, 1, a.len, stdout);
        if (a.len == 0 || a.data[a.len - 1] != '\n')
            putchar('\n');
    }
    if (status >= 400 && status < 500) {
        if (!o.json)
            print_refusal(status, ans);
        rc = EXIT_REFUSED;
    } else if (status != 200 || !json_is_object(ans) ||
               !json_is_boolean(json_object_get(ans, "is_valid"))) {
        if (!o.json)
            print_refusal(status, ans);
        fprintf(stderr, "mpic: %s answered %ld%s\n", url, status,
                status == 200 ? " without a valid MPIC response" : "");
        rc = EXIT_SERVICE;
    } else {
        if (!o.json) {
            char *b = xstrndup(o.url, blen);

            rirs = perspective_rirs(&o, b);
            free(b);
            print_table(ans, rirs);
        }
        rc = json_is_true(json_object_get(ans, "is_valid")) ? EXIT_VALID
                                                            : EXIT_NOT_VALID;
    }
out_curl:
    curl_global_cleanup();
out:
    json_decref(rirs);
    json_decref(ans);
    json_decref(req);
    json_decref(o.orch);
    json_decref(o.caa);
    json_decref(o.dcv);
    free(a.data);
    free(body);
    free(url);
    return rc;
}
