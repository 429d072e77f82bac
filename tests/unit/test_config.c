/*
 * Configuration loading (common/config.c): defaults, the file, environment
 * and flag layers, every validation path with its "file:line: key" prefix,
 * redaction in /configz output, and the shipped example configs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/mem.h"
#include "coordinator/config_coordinator.h"

#define FIX MPIC_FIXTURES_DIR "/config"

/* 2026-01-01T00:00:00Z */
#define CLOCK_2026_01_01 ((time_t)1767225600)

static char tmpdir[] = "/tmp/mpic-test-config-XXXXXX";
static unsigned tmp_seq;

static const char *const env_vars[] = {
    "MPIC_CONFIG",           "MPIC_LISTEN",
    "MPIC_LOG_LEVEL",        "MPIC_HASH_SECRET",
    "MPIC_API_KEYS",         "MPIC_DNS_RESOLVERS",
    "MPIC_PERSPECTIVE_CODE", "MPIC_DEFAULT_CAA_DOMAINS",
};

static void clear_env(void)
{
    for (size_t i = 0; i < sizeof(env_vars) / sizeof(env_vars[0]); i++)
        unsetenv(env_vars[i]);
}

static int group_setup(void **state)
{
    (void)state;
    if (mkdtemp(tmpdir) == NULL)
        return -1;
    mpic_config_set_resolv_conf(FIX "/resolv.conf");
    mpic_log_set_level(MPIC_LOG_ERROR); /* keep warnings off the output */
    /* Before the BR minimum rose above 2 (2026-03-15): the tests of other
     * rules use two or three perspectives; the compliance tests set their
     * own day. */
    mpic_coordinator_config_set_now(CLOCK_2026_01_01);
    return 0;
}

static int group_teardown(void **state)
{
    char *cmd = xasprintf("rm -rf '%s'", tmpdir);
    int rc;

    (void)state;
    rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static int test_setup(void **state)
{
    (void)state;
    clear_env();
    return 0;
}

/* Writes text to a new file under tmpdir; returns its owned path. */
static char *write_tmp(const char *text)
{
    char *path = xasprintf("%s/c%u.yaml", tmpdir, tmp_seq++);
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
    return path;
}

/* True if some issue message starts with prefix. */
static bool has_issue(const struct mpic_errlist *errs, const char *prefix)
{
    for (size_t i = 0; i < errs->n; i++) {
        if (strncmp(errs->items[i].message, prefix, strlen(prefix)) == 0)
            return true;
    }
    return false;
}

static void print_issues(const struct mpic_errlist *errs)
{
    for (size_t i = 0; i < errs->n; i++)
        print_message("  issue: %s\n", errs->items[i].message);
}

#define assert_issue(errs, ...)                                                \
    do {                                                                       \
        char *want_ = xasprintf(__VA_ARGS__);                                  \
        if (!has_issue((errs), want_)) {                                       \
            print_issues(errs);                                                \
            fail_msg("no issue starting with \"%s\"", want_);                  \
        }                                                                      \
        free(want_);                                                           \
    } while (0)

/* ---- loading helpers ------------------------------------------------------
 */

struct cres {
    enum mpic_err rc;
    enum mpic_cli_action action;
    struct mpic_errlist errs;
};

static void load_checker_argv(enum mpic_daemon_kind kind, int argc, char **argv,
                              struct mpic_checker_config *c, struct cres *r)
{
    mpic_errlist_init(&r->errs);
    r->rc = mpic_checker_config_load(kind, argc, argv, c, &r->action, &r->errs);
}

/* Loads a checker from a file path (or none if NULL). */
static void load_checker(enum mpic_daemon_kind kind, const char *path,
                         struct mpic_checker_config *c, struct cres *r)
{
    char *argv[] = {"mpic-checker", "--config", (char *)(uintptr_t)path, NULL};

    load_checker_argv(kind, path != NULL ? 3 : 1, argv, c, r);
}

static void load_coord_argv(int argc, char **argv,
                            struct mpic_coordinator_config *c, struct cres *r)
{
    mpic_errlist_init(&r->errs);
    r->rc = mpic_coordinator_config_load(argc, argv, c, &r->action, &r->errs);
}

static void load_coord(const char *path, struct mpic_coordinator_config *c,
                       struct cres *r)
{
    char *argv[] = {"mpic-coordinator", "--config", (char *)(uintptr_t)path,
                    NULL};

    load_coord_argv(path != NULL ? 3 : 1, argv, c, r);
}

/*
 * text, followed by what a checker needs since configurations are strict
 * (a perspective_code, and an escape from the beyond-loopback rule) where
 * text does not set them itself; the lines of text stay where they are.
 */
static char *with_checker_tail(const char *text)
{
    return xasprintf("%s%s%s", text,
                     strstr(text, "perspective_code") == NULL
                         ? "perspective_code: unit-test-1\n"
                         : "",
                     strstr(text, "auth:") == NULL
                         ? "auth:\n  allow_unauthenticated: true\n"
                         : "");
}

/* A checker config from text; asserts the outcome; returns the errlist. */
static void checker_text(enum mpic_daemon_kind kind, const char *text,
                         struct mpic_checker_config *c, struct cres *r,
                         char **path)
{
    char *full = with_checker_tail(text);

    *path = write_tmp(full);
    free(full);
    load_checker(kind, *path, c, r);
}

/* text exactly as given (no tail). */
static void checker_text_raw(enum mpic_daemon_kind kind, const char *text,
                             struct mpic_checker_config *c, struct cres *r,
                             char **path)
{
    *path = write_tmp(text);
    load_checker(kind, *path, c, r);
}

/* The coordinator head used by the error tests: lines 1-4. */
#define COORD_HEAD                                                             \
    "hash_secret: s\n"                                                         \
    "available_perspectives_file: " FIX "/available.yaml\n"                    \
    "default_perspective_count: 2\n"                                           \
    "perspectives:\n"
#define P_US                                                                   \
    "  - code: us-east-1\n"                                                    \
    "    dcv_url: http://127.0.0.1:1/dcv\n"
#define P_EU                                                                   \
    "  - code: eu-west-1\n"                                                    \
    "    caa_url: http://127.0.0.1:2/caa\n"

/*
 * text, listening on loopback unless it says where to listen or how
 * clients authenticate (the lines of text stay where they are).
 */
static void coord_text(const char *text, struct mpic_coordinator_config *c,
                       struct cres *r, char **path)
{
    char *full = strstr(text, "listen") == NULL &&
                         strstr(text, "api_keys") == NULL &&
                         strstr(text, "allow_unauthenticated") == NULL
                     ? xasprintf("%slisten: 127.0.0.1:8000\n", text)
                     : xstrdup(text);

    *path = write_tmp(full);
    free(full);
    load_coord(*path, c, r);
}

/* text exactly as given. */
static void coord_text_raw(const char *text, struct mpic_coordinator_config *c,
                           struct cres *r, char **path)
{
    *path = write_tmp(text);
    load_coord(*path, c, r);
}

/* ---- RIR names ------------------------------------------------------------
 */

static void test_rir_names_accept_spellings_of_ripe_ncc(void **state)
{
    enum mpic_rir r = MPIC_RIR_ARIN;
    const char *ok[] = {"RIPE NCC", "ripe ncc", "ripe-ncc", "Ripe_NCC",
                        "RIPENCC"};

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        r = MPIC_RIR_ARIN;
        assert_int_equal(mpic_rir_from_name(ok[i], &r), 0);
        assert_int_equal(r, MPIC_RIR_RIPE_NCC);
    }
    assert_int_equal(mpic_rir_from_name("ArIn", &r), 0);
    assert_int_equal(r, MPIC_RIR_ARIN);
    assert_int_equal(mpic_rir_from_name("afrinic", &r), 0);
    assert_int_equal(r, MPIC_RIR_AFRINIC);
    assert_string_equal(mpic_rir_name(MPIC_RIR_RIPE_NCC), "ripe ncc");
}

static void test_rir_names_reject_others(void **state)
{
    enum mpic_rir r = MPIC_RIR_APNIC;

    (void)state;
    assert_int_equal(mpic_rir_from_name("ripe", &r), -1);
    assert_int_equal(mpic_rir_from_name("RIPE  NCC", &r), -1);
    assert_int_equal(mpic_rir_from_name("", &r), -1);
    assert_int_equal(mpic_rir_from_name("iana", &r), -1);
    assert_int_equal(mpic_rir_from_name(NULL, &r), -1);
    assert_int_equal(r, MPIC_RIR_APNIC);
}

/* ---- defaults --------------------------------------------------------------
 */

static void test_checker_defaults_without_file(void **state)
{
    struct mpic_checker_config c;
    struct cres r;

    (void)state;
    /*
     * A bare checker is not usable: it has no perspective code, and its
     * default listen address (0.0.0.0) is beyond loopback with no way to
     * authenticate callers. Each problem names the key to set.
     */
    load_checker(MPIC_DAEMON_DCV_CHECKER, NULL, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "configuration: perspective_code: required (set it in "
                 "--config FILE or in $MPIC_PERSPECTIVE_CODE)");
    assert_issue(&r.errs,
                 "configuration: listen: '0.0.0.0:8080' is beyond loopback, "
                 "and /dcv would answer anyone: set auth.bearer_tokens or "
                 "tls.client_ca_file (or auth.allow_unauthenticated: true");
    assert_int_equal(r.errs.n, 2);
    assert_int_equal(r.action, MPIC_CLI_RUN);
    assert_null(c.config_file);
    assert_null(c.perspective_code);
    assert_string_equal(c.listen, "0.0.0.0:8080");
    assert_int_equal(c.log_level, MPIC_LOG_INFO);
    assert_int_equal(c.dns.timeout_ms, 2000);
    assert_int_equal(c.dns.tries, 3);
    assert_int_equal(c.http_timeout_ms, 10000);
    assert_false(c.http_verify_tls);
    assert_int_equal(c.http_max_redirects, 20);
    assert_string_equal(c.http_user_agent, "open-mpic-c/" MPIC_VERSION);
    assert_false(c.allow_private_addresses);
    assert_int_equal(c.default_caa_domains.n, 0);
    assert_int_equal(c.bearer_tokens.n, 0);
    assert_null(c.tls.cert_file);
    /* resolv.conf: the scoped and commented nameservers are skipped */
    assert_int_equal(c.dns.resolvers.n, 2);
    assert_string_equal(c.dns.resolvers.v[0], "192.0.2.53");
    assert_string_equal(c.dns.resolvers.v[1], "2001:db8::53");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_checker_without_any_resolver_is_invalid(void **state)
{
    struct mpic_checker_config c;
    struct cres r;

    (void)state;
    mpic_config_set_resolv_conf(FIX "/resolv-empty.conf");
    load_checker(MPIC_DAEMON_CAA_CHECKER, NULL, &c, &r);
    mpic_config_set_resolv_conf(FIX "/resolv.conf");
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "configuration: dns.resolvers: none configured");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_coordinator_defaults_need_secret_and_perspectives(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;

    (void)state;
    load_coord(NULL, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "configuration: hash_secret: required");
    assert_issue(&r.errs,
                 "configuration: default_perspective_count: 5 exceeds the "
                 "number");
    assert_string_equal(c.listen, "0.0.0.0:8000");
    assert_int_equal(c.log_level, MPIC_LOG_INFO);
    assert_int_equal(c.default_perspective_count, 5);
    assert_int_equal(c.absolute_max_attempts, 3);
    assert_int_equal(c.remote_timeout_ms, 12000);
    assert_int_equal(c.max_request_bytes, 65536);
    assert_int_equal(c.n_perspectives, 0);
    assert_string_equal(c.compliance_min_text, "auto");
    assert_int_equal(c.compliance.min_perspective_count, 0);
    assert_string_equal(c.compliance_sunsets_text, "enforce");
    assert_int_equal(c.compliance.method_sunsets, MPIC_SUNSET_ENFORCE);
    assert_null(c.hash_secret);
    assert_string_equal(c.available_perspectives_file,
                        "available_perspectives.yaml");
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

/* ---- full valid files
 * -------------------------------------------------------- */

static void test_dcv_full_file(void **state)
{
    struct mpic_checker_config c;
    struct cres r;

    (void)state;
    load_checker(MPIC_DAEMON_DCV_CHECKER, FIX "/dcv-full.yaml", &c, &r);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.config_file, FIX "/dcv-full.yaml");
    assert_string_equal(c.perspective_code, "us-east-1");
    assert_string_equal(c.listen, "[::1]:9999");
    assert_int_equal(c.log_level, MPIC_LOG_DEBUG);
    assert_int_equal(c.dns.resolvers.n, 3);
    assert_string_equal(c.dns.resolvers.v[0], "127.0.0.1:5353");
    assert_string_equal(c.dns.resolvers.v[1], "[::1]:53");
    assert_string_equal(c.dns.resolvers.v[2], "10.0.0.1");
    assert_int_equal(c.dns.timeout_ms, 1500);
    assert_int_equal(c.dns.tries, 2);
    assert_int_equal(c.http_timeout_ms, 8000);
    assert_true(c.http_verify_tls);
    assert_int_equal(c.http_max_redirects, 5);
    assert_string_equal(c.http_user_agent, "test-agent/1");
    assert_true(c.allow_private_addresses);
    assert_int_equal(c.bearer_tokens.n, 2);
    assert_string_equal(c.bearer_tokens.v[1], "tok-two");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_caa_full_file(void **state)
{
    struct mpic_checker_config c;
    struct cres r;

    (void)state;
    load_checker(MPIC_DAEMON_CAA_CHECKER, FIX "/caa-full.yaml", &c, &r);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(c.kind, MPIC_DAEMON_CAA_CHECKER);
    assert_string_equal(c.perspective_code, "eu-west-1");
    assert_string_equal(c.listen, "127.0.0.1:9101");
    assert_int_equal(c.log_level, MPIC_LOG_WARN);
    assert_int_equal(c.dns.resolvers.n, 1);
    assert_string_equal(c.dns.resolvers.v[0], "127.0.0.1");
    assert_int_equal(c.dns.timeout_ms, 3000);
    assert_int_equal(c.dns.tries, 4);
    assert_int_equal(c.default_caa_domains.n, 2);
    assert_string_equal(c.default_caa_domains.v[0], "ca.example");
    assert_string_equal(c.default_caa_domains.v[1], "ca2.example");
    assert_int_equal(c.bearer_tokens.n, 0);
    assert_string_equal(c.caa_rfc8657, "strict"); /* the default */
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

/* caa.rfc8657: strict (default) | lenient; anything else is refused. */
static void test_caa_rfc8657_setting(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;
    json_t *j;

    (void)state;
    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "dns:\n  resolvers: [127.0.0.1]\n"
                 "caa:\n  rfc8657: lenient\n",
                 &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.caa_rfc8657, "lenient");
    j = mpic_checker_config_to_json(&c);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "caa"), "rfc8657")),
                        "lenient");
    json_decref(j);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text(MPIC_DAEMON_CAA_CHECKER, "dns:\n  resolvers: [127.0.0.1]\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    j = mpic_checker_config_to_json(&c);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(j, "caa"), "rfc8657")),
                        "strict");
    json_decref(j);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "dns:\n  resolvers: [127.0.0.1]\n"
                 "caa:\n  rfc8657: Lenient\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:4: caa.rfc8657: 'Lenient': must be strict or lenient",
                 path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "dns:\n  resolvers: [127.0.0.1]\n"
                 "caa:\n  rfc8657: \"\"\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:4: caa.rfc8657: '': must be strict or lenient",
                 path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_coordinator_full_file(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    const struct mpic_perspective *p;

    (void)state;
    load_coord(FIX "/coordinator-full.yaml", &c, &r);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.listen, "127.0.0.1:8000");
    assert_int_equal(c.log_level, MPIC_LOG_ERROR);
    /* relative to the config file's directory */
    assert_string_equal(c.available_perspectives_file, FIX "/available.yaml");
    assert_int_equal(c.default_perspective_count, 3);
    assert_int_equal(c.absolute_max_attempts, 2);
    assert_string_equal(c.hash_secret, "file-hash-secret");
    assert_int_equal(c.remote_timeout_ms, 5000);
    assert_int_equal(c.api_keys.n, 2);
    assert_int_equal(c.max_request_bytes, 131072);
    assert_int_equal(c.n_perspectives, 3);

    p = &c.perspectives[0];
    assert_string_equal(p->code, "us-east-1");
    assert_string_equal(p->name, "US East (N. Virginia)");
    assert_int_equal(p->rir, MPIC_RIR_ARIN);
    assert_int_equal(p->too_close_codes.n, 1);
    assert_string_equal(p->too_close_codes.v[0], "us-east-2");
    assert_string_equal(p->dcv_url, "http://127.0.0.1:9201/dcv");
    assert_string_equal(p->caa_url, "https://127.0.0.1:9101/caa");
    assert_int_equal(p->n_headers, 3);
    assert_string_equal(p->headers[0].name, "Authorization");
    assert_string_equal(p->headers[0].value, "Bearer s3cret-hdr");

    p = &c.perspectives[1];
    assert_string_equal(p->code, "eu-west-1");
    assert_int_equal(p->rir, MPIC_RIR_RIPE_NCC); /* "RIPE NCC" in the file */
    assert_non_null(p->dcv_url);
    assert_null(p->caa_url);
    assert_int_equal(p->too_close_codes.n, 0);

    p = &c.perspectives[2];
    assert_int_equal(p->rir, MPIC_RIR_APNIC);
    assert_null(p->dcv_url);
    assert_string_equal(p->caa_url, "https://checker.example:8443/caa");
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_config_file_from_environment(void **state)
{
    struct mpic_checker_config c;
    struct cres r;

    (void)state;
    setenv("MPIC_CONFIG", FIX "/caa-full.yaml", 1);
    load_checker(MPIC_DAEMON_CAA_CHECKER, NULL, &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.config_file, FIX "/caa-full.yaml");
    assert_string_equal(c.perspective_code, "eu-west-1");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    /* --config wins over MPIC_CONFIG */
    load_checker(MPIC_DAEMON_CAA_CHECKER, FIX "/dcv-full.yaml", &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.perspective_code, "us-east-1");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

/* ---- layering
 * ------------------------------------------------------------------ */

static void test_checker_env_overrides_file(void **state)
{
    struct mpic_checker_config c;
    struct cres r;

    (void)state;
    setenv("MPIC_LISTEN", "127.0.0.1:7000", 1);
    setenv("MPIC_LOG_LEVEL", "TRACE", 1);
    setenv("MPIC_DNS_RESOLVERS", "192.0.2.1:53, [2001:db8::1]:5353", 1);
    setenv("MPIC_PERSPECTIVE_CODE", "ap-northeast-1", 1);
    setenv("MPIC_DEFAULT_CAA_DOMAINS", "a.example|b.example,c.example", 1);
    load_checker(MPIC_DAEMON_CAA_CHECKER, FIX "/caa-full.yaml", &c, &r);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.listen, "127.0.0.1:7000");
    assert_int_equal(c.log_level, MPIC_LOG_TRACE);
    assert_int_equal(c.dns.resolvers.n, 2);
    assert_string_equal(c.dns.resolvers.v[0], "192.0.2.1:53");
    assert_string_equal(c.dns.resolvers.v[1], "[2001:db8::1]:5353");
    assert_string_equal(c.perspective_code, "ap-northeast-1");
    assert_int_equal(c.default_caa_domains.n, 3);
    assert_string_equal(c.default_caa_domains.v[0], "a.example");
    assert_string_equal(c.default_caa_domains.v[1], "b.example");
    assert_string_equal(c.default_caa_domains.v[2], "c.example");
    /* untouched by the environment */
    assert_int_equal(c.dns.timeout_ms, 3000);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_dcv_checker_ignores_caa_domains_env(void **state)
{
    struct mpic_checker_config c;
    struct cres r;

    (void)state;
    setenv("MPIC_DEFAULT_CAA_DOMAINS", "a.example", 1);
    load_checker(MPIC_DAEMON_DCV_CHECKER, FIX "/dcv-full.yaml", &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(c.default_caa_domains.n, 0);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_coordinator_env_overrides_file(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;

    (void)state;
    setenv("MPIC_LISTEN", "[::]:8443", 1);
    setenv("MPIC_LOG_LEVEL", "warn", 1);
    setenv("MPIC_HASH_SECRET", "env-secret", 1);
    setenv("MPIC_API_KEYS", "k1,k2 , k3", 1);
    load_coord(FIX "/coordinator-full.yaml", &c, &r);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.listen, "[::]:8443");
    assert_int_equal(c.log_level, MPIC_LOG_WARN);
    assert_string_equal(c.hash_secret, "env-secret");
    assert_int_equal(c.api_keys.n, 3);
    assert_string_equal(c.api_keys.v[2], "k3");
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_hash_secret_from_env_only(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    setenv("MPIC_HASH_SECRET", "only-env", 1);
    coord_text("available_perspectives_file: " FIX "/available.yaml\n"
               "default_perspective_count: 2\n"
               "perspectives:\n" P_US P_EU,
               &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.hash_secret, "only-env");
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_flag_overrides_env(void **state)
{
    struct mpic_checker_config c;
    struct mpic_coordinator_config cc;
    struct cres r;
    char *argv1[] = {"x",        "--config",       FIX "/dcv-full.yaml",
                     "--listen", "127.0.0.1:6000", NULL};
    char *argv2[] = {"x", "--config=" FIX "/coordinator-full.yaml",
                     "--listen=127.0.0.2:6001", NULL};

    (void)state;
    setenv("MPIC_LISTEN", "127.0.0.1:7000", 1);
    load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 5, argv1, &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.listen, "127.0.0.1:6000");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    load_coord_argv(3, argv2, &cc, &r);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(cc.listen, "127.0.0.2:6001");
    assert_string_equal(cc.config_file, FIX "/coordinator-full.yaml");
    mpic_coordinator_config_cleanup(&cc);
    mpic_errlist_cleanup(&r.errs);
}

/* ---- command line
 * ------------------------------------------------------------ */

static void test_cli_actions(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *check[] = {"x", "--check-config", "--config", FIX "/dcv-full.yaml",
                     NULL};
    char *version[] = {"x", "--version", NULL};
    char *help[] = {"x", "--config", "/nonexistent.yaml", "--help", NULL};

    (void)state;
    load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 4, check, &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(r.action, MPIC_CLI_CHECK_CONFIG);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 2, version, &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(r.action, MPIC_CLI_VERSION);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    /* --help works even when the config cannot be read */
    load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 4, help, &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(r.action, MPIC_CLI_HELP);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_cli_unknown_flag_and_missing_value(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *argv[] = {"x", "--bogus", "stray", "--listen", NULL};

    (void)state;
    setenv("MPIC_PERSPECTIVE_CODE", "us-east-1", 1);
    setenv("MPIC_LISTEN", "127.0.0.1:8080", 1);
    load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 4, argv, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "command line: unknown option '--bogus'");
    assert_issue(&r.errs, "command line: unexpected argument 'stray'");
    assert_issue(&r.errs, "command line: --listen needs a value");
    assert_int_equal(r.errs.n, 3);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_usage_lists_flags_and_env(void **state)
{
    const char *co = mpic_config_usage(MPIC_DAEMON_COORDINATOR);
    const char *caa = mpic_config_usage(MPIC_DAEMON_CAA_CHECKER);
    const char *dcv = mpic_config_usage(MPIC_DAEMON_DCV_CHECKER);

    (void)state;
    assert_non_null(strstr(co, "--check-config"));
    assert_non_null(strstr(co, "MPIC_HASH_SECRET"));
    assert_non_null(strstr(co, "MPIC_API_KEYS"));
    assert_null(strstr(co, "MPIC_DNS_RESOLVERS"));
    assert_non_null(strstr(caa, "MPIC_DEFAULT_CAA_DOMAINS"));
    assert_non_null(strstr(dcv, "MPIC_DNS_RESOLVERS"));
    assert_non_null(strstr(dcv, "--listen HOST:PORT"));
    assert_null(strstr(dcv, "MPIC_DEFAULT_CAA_DOMAINS"));
}

/* ---- validation: checkers --------------------------------------------------
 */

static void test_bad_listen_reports_its_layer(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;
    char *argv[4];

    (void)state;
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "log_level: info\n"
                 "listen: 127.0.0.1:99999\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:2: listen: '127.0.0.1:99999': port", path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    setenv("MPIC_LISTEN", "::1:80", 1);
    load_checker(MPIC_DAEMON_DCV_CHECKER, path, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "MPIC_LISTEN: listen: '::1:80': IPv6");
    assert_int_equal(r.errs.n, 1);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    argv[0] = "x";
    argv[1] = "--listen";
    argv[2] = "localhost";
    argv[3] = NULL;
    load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 3, argv, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "--listen: listen: 'localhost': ");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_listen_forms(void **state)
{
    const char *good[] = {"0.0.0.0:0", "[::]:8000", "localhost:80",
                          "127.0.0.1:65535"};
    const char *bad[] = {"127.0.0.1", "127.0.0.1:", "127.0.0.1:65536",
                         "[::1:80",   "[zz]:80",    "a b:80",
                         ":80",       "1.2.3.4:-1"};

    char *conf = write_tmp("perspective_code: t\n"
                           "auth:\n"
                           "  allow_unauthenticated: true\n");

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct mpic_checker_config c;
        struct cres r;
        char *argv[] = {
            "x", "--config", conf, "--listen", (char *)(uintptr_t)good[i],
            NULL};

        load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 5, argv, &c, &r);
        if (r.rc != MPIC_OK)
            print_issues(&r.errs);
        assert_int_equal(r.rc, MPIC_OK);
        mpic_checker_config_cleanup(&c);
        mpic_errlist_cleanup(&r.errs);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct mpic_checker_config c;
        struct cres r;
        char *argv[] = {"x", "--listen", (char *)(uintptr_t)bad[i], NULL};

        load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 3, argv, &c, &r);
        if (r.rc != MPIC_ERR_INVALID)
            print_message("accepted bad listen '%s'\n", bad[i]);
        assert_int_equal(r.rc, MPIC_ERR_INVALID);
        assert_issue(&r.errs, "--listen: listen: ");
        mpic_checker_config_cleanup(&c);
        mpic_errlist_cleanup(&r.errs);
    }
    free(conf);
}

static void test_bad_log_level(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_CAA_CHECKER, "\n\nlog_level: verbose\n", &c, &r,
                 &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:3: log_level: expected trace", path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    setenv("MPIC_LOG_LEVEL", "loud", 1);
    load_checker(MPIC_DAEMON_CAA_CHECKER, NULL, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "MPIC_LOG_LEVEL: log_level: expected trace");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

/* caa.lookup_failure (open-mpic-api.md 5.2): dnssec-insecure by default,
 * never switches the carve-out off, nothing else is accepted. */
static void test_caa_lookup_failure_setting(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "dns:\n  resolvers: [\"127.0.0.1\"]\n", &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.caa_lookup_failure, "dnssec-insecure");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "dns:\n  resolvers: [\"127.0.0.1\"]\n"
                 "caa:\n  lookup_failure: never\n",
                 &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.caa_lookup_failure, "never");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "dns:\n  resolvers: [\"127.0.0.1\"]\n"
                 "caa:\n  lookup_failure: always\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:4: caa.lookup_failure: \"always\" is not one",
                 path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_bad_resolvers_report_element_line(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "dns:\n"
                 "  resolvers:\n"
                 "    - 127.0.0.1:53\n"
                 "    - 999.1.1.1\n"
                 "    - ::1:53\n"
                 "    - \"[::1]:0\"\n"
                 "    - 10.0.0.1:53\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:4: dns.resolvers[1]: '999.1.1.1'", path);
    assert_issue(&r.errs, "%s:6: dns.resolvers[3]: '[::1]:0': port", path);
    /* "::1:53" is a valid bare IPv6 address (no port) */
    assert_int_equal(r.errs.n, 2);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    setenv("MPIC_DNS_RESOLVERS", "1.2.3.4,bogus", 1);
    load_checker(MPIC_DAEMON_DCV_CHECKER, path, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "MPIC_DNS_RESOLVERS: dns.resolvers[1]: 'bogus'");
    assert_int_equal(r.errs.n, 1);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_checker_numbers_out_of_range(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "dns:\n"
                 "  timeout_ms: 0\n"
                 "  tries: 11\n"
                 "http:\n"
                 "  timeout_ms: 600001\n"
                 "  max_redirects: 51\n"
                 "  verify_tls: maybe\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:2: dns.timeout_ms: expected a whole number in "
                 "1..600000, got '0'",
                 path);
    assert_issue(&r.errs, "%s:3: dns.tries: expected a whole number in 1..10",
                 path);
    assert_issue(&r.errs, "%s:5: http.timeout_ms: ", path);
    assert_issue(&r.errs,
                 "%s:6: http.max_redirects: expected a whole number "
                 "in 0..50",
                 path);
    assert_issue(&r.errs, "%s:7: http.verify_tls: expected true or false",
                 path);
    assert_int_equal(r.errs.n, 5);
    /* rejected values leave the defaults in place */
    assert_int_equal(c.dns.tries, 3);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_numbers_must_be_whole(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "dns:\n"
                 "  timeout_ms: 1.5\n"
                 "  tries: -1\n"
                 "http:\n"
                 "  max_redirects: 0x10\n"
                 "  timeout_ms: 99999999999999999999999\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:2: dns.timeout_ms: ", path);
    assert_issue(&r.errs, "%s:3: dns.tries: ", path);
    assert_issue(&r.errs, "%s:5: http.max_redirects: ", path);
    assert_issue(&r.errs, "%s:6: http.timeout_ms: ", path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_wrong_types(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "listen: [127.0.0.1, 8080]\n"
                 "dns:\n"
                 "  resolvers: 127.0.0.1\n"
                 "  tries: {a: 1}\n"
                 "caa:\n"
                 "  default_caa_domains: [ok.example, [nested]]\n"
                 "targets: true\n"
                 "perspective_code:\n"
                 "  - a\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:1: listen: expected a string, got a list", path);
    assert_issue(&r.errs,
                 "%s:3: dns.resolvers: expected a list of strings, "
                 "got a scalar",
                 path);
    assert_issue(&r.errs, "%s:4: dns.tries: expected a number, got a mapping",
                 path);
    assert_issue(&r.errs,
                 "%s:6: caa.default_caa_domains[1]: expected a "
                 "string, got a list",
                 path);
    assert_issue(&r.errs, "%s:7: targets: expected a mapping, got a scalar",
                 path);
    assert_issue(&r.errs,
                 "%s:9: perspective_code: expected a string, got a "
                 "list",
                 path);
    /* and so it is missing */
    assert_issue(&r.errs, "%s:1: perspective_code: required", path);
    assert_int_equal(r.errs.n, 7);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_top_level_must_be_mapping(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text_raw(MPIC_DAEMON_CAA_CHECKER, "# comment\n- a\n- b\n", &c, &r,
                     &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:2: (top level): expected a mapping, got a list",
                 path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_empty_file_gives_defaults(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_CAA_CHECKER, "# nothing here\n", &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.listen, "0.0.0.0:8080");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_duplicate_yaml_key(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "dns:\n"
                 "  tries: 2\n"
                 "  tries: 5\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:3: dns.tries: duplicate key (first at line 2)",
                 path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_unknown_keys_are_errors(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;
    char logbuf[4096];
    FILE *logf = tmpfile();
    size_t n;

    (void)state;
    assert_non_null(logf);
    mpic_log_set_fd(fileno(logf));
    mpic_log_set_level(MPIC_LOG_WARN);
    checker_text(MPIC_DAEMON_CAA_CHECKER,
                 "colour: blue\n"
                 "dns:\n"
                 "  retries: 2\n"
                 "http:\n"
                 "  timeout_ms: 5\n",
                 &c, &r, &path);
    mpic_log_set_level(MPIC_LOG_ERROR);
    mpic_log_set_fd(2);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:1: colour: unknown key", path);
    assert_issue(&r.errs, "%s:3: dns.retries: unknown key", path);
    assert_int_equal(r.errs.n, 2);
    rewind(logf);
    n = fread(logbuf, 1, sizeof(logbuf) - 1, logf);
    logbuf[n] = '\0';
    fclose(logf);
    /*
     * A DCV-only key in a CAA checker's file is a key of the checkers'
     * shared schema (one file may serve both): a warning, not an error.
     */
    assert_non_null(
        strstr(logbuf, ":4: http: a key of the DCV checker, not used"));
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_yaml_aliases_are_safe(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    /* a self-referencing alias must neither loop nor be accepted */
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "dns: &d\n"
                 "  resolvers: &r [127.0.0.1, *r]\n"
                 "  dns: *d\n"
                 "tls: *d\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:2: dns.resolvers[1]: expected a string", path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* plain aliases of scalars work */
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "perspective_code: &p us-east-1\n"
                 "http:\n"
                 "  user_agent: *p\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.http_user_agent, "us-east-1");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_unreadable_config_file(void **state)
{
    struct mpic_checker_config c;
    struct cres r;

    (void)state;
    load_checker(MPIC_DAEMON_DCV_CHECKER, FIX "/does-not-exist.yaml", &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, FIX "/does-not-exist.yaml: cannot open: ");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_yaml_syntax_error_has_line(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;

    (void)state;
    load_coord(FIX "/syntax-error.yaml", &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, FIX "/syntax-error.yaml:5: YAML syntax error: ");
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_tls_pairs_and_readability(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "tls:\n"
                 "  cert_file: " FIX "/dcv-full.yaml\n"
                 "  client_ca_file: /nonexistent/ca.pem\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:2: tls.cert_file: tls.cert_file is set but "
                 "tls.key_file is not",
                 path);
    assert_issue(&r.errs,
                 "%s:3: tls.client_ca_file: cannot read "
                 "'/nonexistent/ca.pem': ",
                 path);
    assert_int_equal(r.errs.n, 2);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "tls:\n"
                 "  key_file: " FIX "/dcv-full.yaml\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:2: tls.key_file: tls.key_file is set but "
                 "tls.cert_file is not",
                 path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "tls:\n"
                 "  cert_file: " FIX "/tls-a.crt\n"
                 "  key_file: " FIX "/tls-a.key\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.tls.cert_file, FIX "/tls-a.crt");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

/* ---- validation: coordinator ----------------------------------------------
 */

static void test_coordinator_minimal_valid(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US P_EU, &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(c.n_perspectives, 2);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

/* `available_perspectives_file:` with no value (found by fuzz_config). */
static void test_empty_available_perspectives_file(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text("hash_secret: s\n"
               "available_perspectives_file:\n"
               "default_perspective_count: 2\n"
               "perspectives:\n" P_US P_EU,
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:2: available_perspectives_file: must name a file",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_missing_and_empty_hash_secret(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text("available_perspectives_file: " FIX "/available.yaml\n"
               "default_perspective_count: 2\n"
               "perspectives:\n" P_US P_EU,
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:1: hash_secret: required", path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    coord_text("available_perspectives_file: " FIX "/available.yaml\n"
               "default_perspective_count: 2\n"
               "hash_secret: \"\"\n"
               "perspectives:\n" P_US P_EU,
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:3: hash_secret: must not be empty", path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_coordinator_numbers_out_of_range(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US P_EU /* lines 5-8 */
               "absolute_max_attempts: 101\n"
               "remote_timeout_ms: 600001\n"
               "max_request_bytes: 1023\n"
               "default_perspective_count: 1\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:9: absolute_max_attempts: expected a whole "
                 "number in 1..100",
                 path);
    assert_issue(&r.errs, "%s:10: remote_timeout_ms: ", path);
    assert_issue(&r.errs,
                 "%s:11: max_request_bytes: expected a whole number "
                 "in 1024..16777216",
                 path);
    assert_issue(&r.errs, "%s:12: default_perspective_count: duplicate key",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    coord_text("hash_secret: s\n"
               "available_perspectives_file: " FIX "/available.yaml\n"
               "default_perspective_count: 1\n"
               "perspectives:\n" P_US P_EU,
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:3: default_perspective_count: expected a whole "
                 "number in 2..",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_count_exceeds_perspectives(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text("hash_secret: s\n"
               "available_perspectives_file: " FIX "/available.yaml\n"
               "default_perspective_count: 3\n"
               "perspectives:\n" P_US P_EU,
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:3: default_perspective_count: 3 exceeds the "
                 "number of perspectives configured (2)",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_duplicate_perspective_code(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US P_EU /* lines 5-8 */
               "  - code: us-east-1\n"
               "    caa_url: http://127.0.0.1:3/caa\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:9: perspectives[2].code: duplicate perspective "
                 "code 'us-east-1' (first at line 5)",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_perspective_not_in_available_file(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US P_EU /* lines 5-8 */
               "  - code: mars-north-1\n"
               "    caa_url: http://127.0.0.1:3/caa\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:9: perspectives[2].code: perspective "
                 "'mars-north-1' is not defined in " FIX "/available.yaml",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_bad_perspective_urls(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD                           /* lines 1-4 */
               "  - code: us-east-1\n"              /* 5 */
               "    dcv_url: ftp://127.0.0.1/dcv\n" /* 6 */
               "    caa_url: 127.0.0.1:9101/caa\n"  /* 7 */
               "  - code: eu-west-1\n"              /* 8 */
               "    dcv_url: \"http:///dcv\"\n"     /* 9 */
               "  - code: ap-northeast-1\n"         /* 10 */
               "    headers: {X-A: b}\n"            /* 11 */
               "  - dcv_url: http://127.0.0.1/\n"   /* 12 */
               "  - code: sa-east-1\n"              /* 13 */
               "    dcv_url: http:/h/dcv\n"         /* 14 */
               "    caa_url: http://u:pw@h/caa\n",  /* 15 */
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:6: perspectives[0].dcv_url: "
                 "'ftp://127.0.0.1/dcv': ",
                 path);
    assert_issue(&r.errs,
                 "%s:7: perspectives[0].caa_url: "
                 "'127.0.0.1:9101/caa': ",
                 path);
    assert_issue(&r.errs,
                 "%s:9: perspectives[1].dcv_url: 'http:///dcv': ", path);
    assert_issue(&r.errs, "%s:10: perspectives[2]: needs dcv_url or caa_url",
                 path);
    assert_issue(&r.errs, "%s:12: perspectives[3]: code is required", path);
    assert_issue(&r.errs,
                 "%s:14: perspectives[4].dcv_url: 'http:/h/dcv': ", path);
    assert_issue(&r.errs,
                 "%s:15: perspectives[4].caa_url: "
                 "'http://u:pw@h/caa': credentials",
                 path);
    assert_int_equal(r.errs.n, 7);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_bad_perspective_headers(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US P_EU           /* lines 1-8 */
               "    headers:\n"               /* 9 */
               "      \"Bad Name\": x\n"      /* 10 */
               "      X-List: [a]\n"          /* 11 */
               "      X-Crlf: \"a\\r\\nb\"\n" /* 12 */
               "      X-Ok: fine\n"           /* 13 */
               "      x-ok: again\n",         /* 14 */
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:10: perspectives[1].headers.Bad Name: not a "
                 "valid HTTP header name",
                 path);
    assert_issue(&r.errs,
                 "%s:11: perspectives[1].headers.X-List: header "
                 "value must be a string, got a list",
                 path);
    assert_issue(&r.errs,
                 "%s:12: perspectives[1].headers.X-Crlf: header "
                 "value must not contain CR or LF",
                 path);
    assert_issue(&r.errs,
                 "%s:14: perspectives[1].headers.x-ok: duplicate "
                 "header",
                 path);
    assert_int_equal(r.errs.n, 4);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    coord_text(COORD_HEAD P_US P_EU "    headers: [a, b]\n", &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:9: perspectives[1].headers: expected a mapping",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_perspectives_must_be_a_list(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD "  us-east-1: http://x/\n", &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:5: perspectives: expected a list, got a mapping",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_bad_available_file(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;
    const char *av = FIX "/available-bad.yaml";

    (void)state;
    coord_text("hash_secret: s\n"
               "available_perspectives_file: " FIX "/available-bad.yaml\n"
               "default_perspective_count: 2\n"
               "perspectives:\n" P_US P_EU,
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:4: available_regions[1].code: duplicate region "
                 "code 'us-east-1' (first at line 2)",
                 av);
    assert_issue(&r.errs,
                 "%s:5: available_regions[1].rir: unknown RIR "
                 "'ripe'",
                 av);
    assert_issue(&r.errs, "%s:6: available_regions[2].code: required", av);
    assert_issue(&r.errs, "%s:8: available_regions[3].rir: required", av);
    assert_int_equal(r.errs.n, 4);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    coord_text("hash_secret: s\n"
               "available_perspectives_file: nope.yaml\n"
               "default_perspective_count: 2\n"
               "perspectives:\n" P_US P_EU,
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s/nope.yaml: cannot open: ", tmpdir);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_several_errors_reported_together(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text("listen: 0.0.0.0\n"
               "log_level: chatty\n"
               "available_perspectives_file: " FIX "/available.yaml\n"
               "perspectives:\n"
               "  - code: us-east-1\n"
               "    dcv_url: nope\n"
               "remote_timeout_ms: 0\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:1: listen: ", path);
    assert_issue(&r.errs, "%s:2: log_level: ", path);
    assert_issue(&r.errs, "%s:6: perspectives[0].dcv_url: ", path);
    assert_issue(&r.errs, "%s:7: remote_timeout_ms: ", path);
    assert_issue(&r.errs, "%s:1: hash_secret: required", path);
    assert_issue(&r.errs, "%s: default_perspective_count: 5 exceeds", path);
    assert_int_equal(r.errs.n, 6);
    for (size_t i = 0; i < r.errs.n; i++)
        assert_string_equal(r.errs.items[i].type, "config");
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_checker_tls_of_coordinator(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US P_EU /* 1-8 */
               "checker_tls:\n"
               "  ca_file: " FIX "/available.yaml\n"
               "  cert_file: " FIX "/available.yaml\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:11: checker_tls.cert_file: checker_tls."
                 "cert_file is set but checker_tls.key_file is not",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

/* ---- /configz ---------------------------------------------------------------
 */

/* ---- compliance (open-mpic-api.md 9) --------------------------------------
 */

/* 00:00:00 UTC of the days the BR minimum rises to 4 and to 5. */
#define CLOCK_2026_06_15 ((time_t)1781481600)
#define CLOCK_2026_12_15 ((time_t)1797292800)

/* Six perspectives over five RIRs, no too-close pair: lines 1-16. */
#define COORD_SIX(count)                                                       \
    "hash_secret: s\n"                                                         \
    "available_perspectives_file: " FIX "/available.yaml\n"                    \
    "default_perspective_count: " count "\n"                                   \
    "perspectives:\n"                                                          \
    "  - code: us-east-1\n"                                                    \
    "    dcv_url: http://127.0.0.1:1/dcv\n"                                    \
    "  - code: eu-west-1\n"                                                    \
    "    dcv_url: http://127.0.0.1:2/dcv\n"                                    \
    "  - code: eu-central-1\n"                                                 \
    "    dcv_url: http://127.0.0.1:3/dcv\n"                                    \
    "  - code: ap-northeast-1\n"                                               \
    "    dcv_url: http://127.0.0.1:4/dcv\n"                                    \
    "  - code: sa-east-1\n"                                                    \
    "    dcv_url: http://127.0.0.1:5/dcv\n"                                    \
    "  - code: af-south-1\n"                                                   \
    "    dcv_url: http://127.0.0.1:6/dcv\n"

static void test_compliance_keys(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;
    json_t *j, *comp;

    (void)state;
    coord_text(COORD_SIX("5") "compliance:\n"
                              "  min_perspective_count: 3\n"
                              "  method_sunsets: warn\n",
               &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(c.compliance.min_perspective_count, 3);
    assert_int_equal(c.compliance.method_sunsets, MPIC_SUNSET_WARN);
    j = mpic_coordinator_config_to_json(&c);
    comp = json_object_get(j, "compliance");
    assert_true(
        json_is_integer(json_object_get(comp, "min_perspective_count")));
    assert_int_equal(
        json_integer_value(json_object_get(comp, "min_perspective_count")), 3);
    assert_string_equal(
        json_string_value(json_object_get(comp, "method_sunsets")), "warn");
    json_decref(j);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    coord_text(COORD_SIX("5") "compliance:\n"
                              "  min_perspective_count: auto\n"
                              "  method_sunsets: \"off\"\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(c.compliance.min_perspective_count, 0);
    assert_int_equal(c.compliance.method_sunsets, MPIC_SUNSET_OFF);
    j = mpic_coordinator_config_to_json(&c);
    comp = json_object_get(j, "compliance");
    assert_string_equal(
        json_string_value(json_object_get(comp, "min_perspective_count")),
        "auto");
    assert_string_equal(
        json_string_value(json_object_get(comp, "method_sunsets")), "off");
    json_decref(j);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_compliance_key_errors(void **state)
{
    static const char *const bad_min[] = {"1",    "0",    "-3", "3.5",
                                          "five", "\"\"", "2x", "99999999999"};
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL, *text;

    (void)state;
    for (size_t i = 0; i < sizeof(bad_min) / sizeof(bad_min[0]); i++) {
        text = xasprintf(COORD_SIX("5") "compliance:\n"
                                        "  min_perspective_count: %s\n",
                         bad_min[i]);
        coord_text(text, &c, &r, &path);
        assert_int_equal(r.rc, MPIC_ERR_INVALID);
        assert_issue(&r.errs,
                     "%s:18: compliance.min_perspective_count: expected auto "
                     "or a whole number of at least 2",
                     path);
        mpic_coordinator_config_cleanup(&c);
        mpic_errlist_cleanup(&r.errs);
        free(path);
        free(text);
    }
    coord_text(COORD_SIX("5") "compliance:\n"
                              "  method_sunsets: strict\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:18: compliance.method_sunsets: expected enforce, warn or "
                 "off, got 'strict'",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
    /* A typo in the section is refused like any unknown key would be, and
     * a section that is not a mapping is an error. */
    coord_text(COORD_SIX("5") "compliance: strict\n", &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:17: compliance: expected a mapping", path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

/* auto: the BR minimum of the day the configuration is checked. */
static void test_compliance_default_below_minimum_by_date(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    mpic_coordinator_config_set_now(CLOCK_2026_12_15 - 1);
    coord_text(COORD_SIX("4"), &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    mpic_coordinator_config_set_now(CLOCK_2026_12_15);
    coord_text(COORD_SIX("4"), &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:3: default_perspective_count: 4 is below the minimum of 5 "
                 "remote perspectives that BR 3.2.2.9 requires from "
                 "2026-12-15",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    mpic_coordinator_config_set_now(CLOCK_2026_06_15 - 1);
    coord_text(COORD_SIX("3"), &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
    mpic_coordinator_config_set_now(CLOCK_2026_06_15);
    coord_text(COORD_SIX("3"), &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:3: default_perspective_count: 3 is below the minimum of 4",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* A configured minimum overrides the calendar both ways. */
    mpic_coordinator_config_set_now(CLOCK_2026_12_15);
    coord_text(COORD_SIX("3") "compliance:\n"
                              "  min_perspective_count: 2\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
    mpic_coordinator_config_set_now(CLOCK_2026_01_01);
    coord_text(COORD_SIX("5") "compliance:\n"
                              "  min_perspective_count: 6\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:3: default_perspective_count: 5 is below "
                 "compliance.min_perspective_count (6)",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
    mpic_coordinator_config_set_now(CLOCK_2026_01_01);
}

static void test_compliance_too_few_perspectives(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_SIX("6") "compliance:\n"
                              "  min_perspective_count: 7\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:5: perspectives: 6 perspectives configured, fewer than "
                 "the minimum of 7 (compliance.min_perspective_count)",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    mpic_coordinator_config_set_now(CLOCK_2026_12_15);
    coord_text(COORD_HEAD P_US P_EU, &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:5: perspectives: 2 perspectives configured, fewer than "
                 "the minimum of 5 (BR 3.2.2.9 on this day)",
                 path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
    mpic_coordinator_config_set_now(CLOCK_2026_01_01);
}

static void test_coordinator_json_redacts_secrets(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    json_t *j, *p0, *h;
    char *dump;

    (void)state;
    load_coord(FIX "/coordinator-full.yaml", &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    j = mpic_coordinator_config_to_json(&c);
    assert_non_null(j);
    dump = json_dumps(j, JSON_COMPACT);
    assert_non_null(dump);
    assert_null(strstr(dump, "file-hash-secret"));
    assert_null(strstr(dump, "api-key-1"));
    assert_null(strstr(dump, "s3cret-hdr"));
    assert_null(strstr(dump, "k3y-hdr"));
    free(dump);
    assert_string_equal(json_string_value(json_object_get(j, "hash_secret")),
                        "<redacted>");
    assert_int_equal(json_array_size(json_object_get(j, "api_keys")), 2);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(j, "api_keys"), 0)),
        "<redacted>");
    assert_string_equal(json_string_value(json_object_get(j, "listen")),
                        "127.0.0.1:8000");
    assert_string_equal(json_string_value(json_object_get(j, "log_level")),
                        "error");
    assert_int_equal(
        json_integer_value(json_object_get(j, "max_request_bytes")), 131072);
    p0 = json_array_get(json_object_get(j, "perspectives"), 0);
    assert_string_equal(json_string_value(json_object_get(p0, "rir")), "arin");
    h = json_object_get(p0, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "Authorization")),
                        "<redacted>");
    assert_string_equal(json_string_value(json_object_get(h, "X-Api-Key")),
                        "<redacted>");
    /* By position, not by name: no header value is shown. */
    assert_string_equal(json_string_value(json_object_get(h, "X-Trace")),
                        "<redacted>");
    dump = json_dumps(h, JSON_COMPACT);
    assert_non_null(dump);
    assert_null(strstr(dump, "visible"));
    free(dump);
    assert_true(json_is_null(json_object_get(
        json_array_get(json_object_get(j, "perspectives"), 1), "caa_url")));
    json_decref(j);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_checker_json_redacts_tokens(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    json_t *j;
    char *dump;

    (void)state;
    load_checker(MPIC_DAEMON_DCV_CHECKER, FIX "/dcv-full.yaml", &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    j = mpic_checker_config_to_json(&c);
    assert_non_null(j);
    dump = json_dumps(j, JSON_COMPACT);
    assert_non_null(dump);
    assert_null(strstr(dump, "tok-one"));
    assert_null(strstr(dump, "tok-two"));
    free(dump);
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_object_get(j, "auth"), "bearer_tokens"), 0)),
        "<redacted>");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(j, "dns"), "timeout_ms")),
                     1500);
    assert_true(json_is_true(
        json_object_get(json_object_get(j, "http"), "verify_tls")));
    assert_string_equal(
        json_string_value(json_array_get(
            json_object_get(json_object_get(j, "dns"), "resolvers"), 0)),
        "127.0.0.1:5353");
    /* a DCV checker shows no caa section */
    assert_null(json_object_get(j, "caa"));
    json_decref(j);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

/* ---- the shipped example configs --------------------------------------------
 */

/* The TLS files the examples name exist only where they are deployed. */
static void assert_checker_file_ok(enum mpic_daemon_kind kind, const char *path)
{
    struct mpic_checker_config c;
    struct cres r;
    char *argv[] = {"x",        "--check-config",        "--lenient-paths",
                    "--config", (char *)(uintptr_t)path, NULL};

    load_checker_argv(kind, 5, argv, &c, &r);
    if (r.rc != MPIC_OK) {
        print_issues(&r.errs);
        fail_msg("%s does not load", path);
    }
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void assert_coord_file_ok(const char *path, size_t n_persp)
{
    struct mpic_coordinator_config c;
    struct cres r;
    bool rirs[MPIC_RIR_COUNT] = {false};
    size_t n_rirs = 0;

    load_coord(path, &c, &r);
    if (r.rc != MPIC_OK) {
        print_issues(&r.errs);
        fail_msg("%s does not load", path);
    }
    assert_int_equal(c.n_perspectives, n_persp);
    for (size_t i = 0; i < c.n_perspectives; i++) {
        if (!rirs[c.perspectives[i].rir])
            n_rirs++;
        rirs[c.perspectives[i].rir] = true;
    }
    assert_true(n_rirs >= 3);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_example_configs_load(void **state)
{
    (void)state;
    /* listening beyond loopback: keys come from the environment */
    setenv("MPIC_API_KEYS", "example-key", 1);
    assert_coord_file_ok(MPIC_SOURCE_DIR "/config/coordinator.yaml", 10);
    unsetenv("MPIC_API_KEYS");
    assert_checker_file_ok(MPIC_DAEMON_DCV_CHECKER,
                           MPIC_SOURCE_DIR "/config/dcv-checker.yaml");
    assert_checker_file_ok(MPIC_DAEMON_CAA_CHECKER,
                           MPIC_SOURCE_DIR "/config/caa-checker.yaml");
}

static void test_local_configs_load(void **state)
{
    static const char *const codes[] = {"us-east-1",      "us-west-2",
                                        "eu-west-1",      "eu-central-1",
                                        "ap-northeast-1", "sa-east-1"};
    struct mpic_coordinator_config c;
    struct cres r;

    (void)state;
    assert_coord_file_ok(MPIC_SOURCE_DIR "/config/local/coordinator.yaml", 6);
    for (size_t i = 0; i < 6; i++) {
        char *dcv =
            xasprintf("%s/config/local/dcv-%s.yaml", MPIC_SOURCE_DIR, codes[i]);
        char *caa =
            xasprintf("%s/config/local/caa-%s.yaml", MPIC_SOURCE_DIR, codes[i]);
        struct mpic_checker_config cc;
        char *want;

        assert_checker_file_ok(MPIC_DAEMON_DCV_CHECKER, dcv);
        assert_checker_file_ok(MPIC_DAEMON_CAA_CHECKER, caa);
        load_checker(MPIC_DAEMON_CAA_CHECKER, caa, &cc, &r);
        want = xasprintf("127.0.0.1:%zu", 9101 + i);
        assert_string_equal(cc.listen, want);
        assert_string_equal(cc.perspective_code, codes[i]);
        free(want);
        mpic_checker_config_cleanup(&cc);
        mpic_errlist_cleanup(&r.errs);
        load_checker(MPIC_DAEMON_DCV_CHECKER, dcv, &cc, &r);
        want = xasprintf("127.0.0.1:%zu", 9201 + i);
        assert_string_equal(cc.listen, want);
        free(want);
        mpic_checker_config_cleanup(&cc);
        mpic_errlist_cleanup(&r.errs);
        free(dcv);
        free(caa);
    }
    /* the local coordinator's URLs point at the local checkers */
    load_coord(MPIC_SOURCE_DIR "/config/local/coordinator.yaml", &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.hash_secret, "local-dev-only-secret");
    assert_string_equal(c.listen, "127.0.0.1:8000");
    assert_string_equal(c.perspectives[0].caa_url, "http://127.0.0.1:9101/caa");
    assert_string_equal(c.perspectives[5].dcv_url, "http://127.0.0.1:9206/dcv");
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
}

static void test_production_too_close_pairs_are_symmetric(void **state)
{
    static const char *const pairs[][2] = {
        {"us-east-1", "us-east-2"},
        {"ap-northeast-1", "ap-northeast-3"},
        {"eu-west-2", "eu-west-3"},
        {"eu-west-1", "eu-west-2"},
    };
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;
    char *text;
    const char *all[] = {"us-east-1",      "us-east-2", "ap-northeast-1",
                         "ap-northeast-3", "eu-west-1", "eu-west-2",
                         "eu-west-3"};

    (void)state;
    /* a coordinator naming each of the pair members, to read their records */
    text = xasprintf("hash_secret: s\n"
                     "available_perspectives_file: %s/config/"
                     "available_perspectives.yaml\n"
                     "perspectives:\n",
                     MPIC_SOURCE_DIR);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        char *t =
            xasprintf("%s  - code: %s\n    dcv_url: http://127.0.0.1:%zu/\n",
                      text, all[i], 9000 + i);
        free(text);
        text = t;
    }
    coord_text(text, &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    for (size_t k = 0; k < sizeof(pairs) / sizeof(pairs[0]); k++) {
        int found = 0;

        for (size_t i = 0; i < c.n_perspectives; i++) {
            const struct mpic_perspective *p = &c.perspectives[i];

            if (strcmp(p->code, pairs[k][0]) == 0)
                found += mpic_strv_contains(&p->too_close_codes, pairs[k][1]);
            if (strcmp(p->code, pairs[k][1]) == 0)
                found += mpic_strv_contains(&p->too_close_codes, pairs[k][0]);
        }
        assert_int_equal(found, 2);
    }
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(text);
    free(path);
}

/* ---- strict configuration and secure defaults -----------------------------
 */

static void test_typo_is_an_error_with_did_you_mean(void **state)
{
    struct mpic_coordinator_config c;
    struct mpic_checker_config k;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US P_EU "default_perspectve_count: 5\n"
                                    "tls:\n"
                                    "  cert_flie: /x\n"
                                    "colour: blue\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:9: default_perspectve_count: unknown key (did you mean "
                 "'default_perspective_count'?)",
                 path);
    assert_issue(&r.errs,
                 "%s:11: tls.cert_flie: unknown key (did you mean "
                 "'tls.cert_file'?)",
                 path);
    assert_issue(&r.errs, "%s:12: colour: unknown key", path);
    assert_false(has_issue(&r.errs, "colour: unknown key (did"));
    assert_int_equal(r.errs.n, 3);
    /* the typo did not silently leave the default in place unnoticed */
    assert_int_equal(c.default_perspective_count, 2);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* checkers: nested keys and whole sections */
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "dns:\n"
                 "  retries: 2\n"
                 "tsl:\n"
                 "  cert_file: /x\n",
                 &k, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:2: dns.retries: unknown key", path);
    assert_issue(&r.errs, "%s:3: tsl: unknown key (did you mean 'tls'?)", path);
    assert_int_equal(r.errs.n, 2);
    mpic_checker_config_cleanup(&k);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_unknown_key_in_perspective_entry(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US "    caa_ulr: http://127.0.0.1:3/caa\n" P_EU, &c,
               &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:7: perspectives[0].caa_ulr: unknown key (did you mean "
                 "'caa_url'?)",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_unknown_key_in_available_entry(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *avail = write_tmp("available_regions:\n"
                            "  - code: us-east-1\n"
                            "    rir: arin\n"
                            "    too_close_code: []\n"
                            "  - code: eu-west-1\n"
                            "    rir: ripe ncc\n"
                            "    region_group: eu\n"
                            "regions_extra: 1\n");
    char *text = xasprintf("hash_secret: s\n"
                           "available_perspectives_file: %s\n"
                           "default_perspective_count: 2\n"
                           "perspectives:\n" P_US P_EU,
                           avail);
    char *path = NULL;

    (void)state;
    coord_text(text, &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:4: available_regions[0].too_close_code: unknown key "
                 "(did you mean 'too_close_codes'?)",
                 avail);
    assert_issue(&r.errs,
                 "%s:7: available_regions[1].region_group: unknown key", avail);
    assert_issue(&r.errs, "%s:8: regions_extra: unknown key", avail);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(text);
    free(avail);
    free(path);
}

static void test_tls_key_must_match_certificate(void **state)
{
    struct mpic_checker_config c;
    struct mpic_coordinator_config cc;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "tls:\n"
                 "  cert_file: " FIX "/tls-a.crt\n"
                 "  key_file: " FIX "/tls-b.key\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:3: tls.key_file: '" FIX "/tls-b.key' is not the private "
                 "key of the certificate in tls.cert_file ('" FIX
                 "/tls-a.crt')",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* a file that is no certificate at all */
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "tls:\n"
                 "  cert_file: " FIX "/dcv-full.yaml\n"
                 "  key_file: " FIX "/tls-a.key\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:2: tls.cert_file: '" FIX
                 "/dcv-full.yaml' holds no PEM certificate",
                 path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* a device is not read (it would never end) */
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "tls:\n"
                 "  cert_file: /dev/zero\n"
                 "  key_file: " FIX "/tls-a.key\n",
                 &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:2: tls.cert_file: '/dev/zero' is not a regular file",
                 path);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* a matching pair is fine */
    checker_text(MPIC_DAEMON_DCV_CHECKER,
                 "tls:\n"
                 "  cert_file: " FIX "/tls-a.crt\n"
                 "  key_file: " FIX "/tls-a.key\n",
                 &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* the coordinator's client certificate for the checkers, too */
    coord_text(COORD_HEAD P_US P_EU "checker_tls:\n"
                                    "  cert_file: " FIX "/tls-b.crt\n"
                                    "  key_file: " FIX "/tls-a.key\n",
               &cc, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:11: checker_tls.key_file: '" FIX "/tls-a.key' is not "
                 "the private key",
                 path);
    mpic_coordinator_config_cleanup(&cc);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_lenient_paths(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;
    char *argv[5];

    (void)state;
    path = write_tmp("perspective_code: us-east-1\n"
                     "listen: 0.0.0.0:8443\n"
                     "tls:\n"
                     "  cert_file: /run/credentials/x/checker.crt\n"
                     "  key_file: /run/credentials/x/checker.key\n"
                     "  client_ca_file: /run/credentials/x/ca.crt\n");
    /* as shipped: the files are missing, and that is an error */
    load_checker(MPIC_DAEMON_DCV_CHECKER, path, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:4: tls.cert_file: cannot read "
                 "'/run/credentials/x/checker.crt'",
                 path);
    assert_int_equal(r.errs.n, 3);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    argv[0] = "x";
    argv[1] = "--check-config";
    argv[2] = "--lenient-paths";
    argv[3] = "--config";
    argv[4] = path;
    load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 5, argv, &c, &r);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(r.action, MPIC_CLI_CHECK_CONFIG);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    /* only with --check-config: a running daemon needs its files */
    argv[1] = "--lenient-paths";
    argv[2] = "--config";
    argv[3] = path;
    load_checker_argv(MPIC_DAEMON_DCV_CHECKER, 4, argv, &c, &r);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "command line: --lenient-paths only goes with --check-config");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_checker_needs_perspective_code(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text_raw(MPIC_DAEMON_CAA_CHECKER,
                     "listen: 127.0.0.1:8080\n"
                     "caa:\n"
                     "  default_caa_domains: [ca.example]\n",
                     &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:1: perspective_code: required (set it in this file or "
                 "in $MPIC_PERSPECTIVE_CODE)",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    setenv("MPIC_PERSPECTIVE_CODE", "eu-west-1", 1);
    load_checker(MPIC_DAEMON_CAA_CHECKER, path, &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    assert_string_equal(c.perspective_code, "eu-west-1");
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_duplicate_checker_url(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    /* scheme and host case and the default port do not make it another */
    coord_text(COORD_HEAD "  - code: us-east-1\n"
                          "    dcv_url: https://Checker.Example/dcv\n"
                          "  - code: eu-west-1\n"
                          "    dcv_url: HTTPS://checker.example:443/dcv\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:8: perspectives[1].dcv_url: "
                 "'HTTPS://checker.example:443/dcv' is the checker of "
                 "perspective 'us-east-1' too (perspectives[0].dcv_url, line "
                 "6): one checker would count twice towards quorum",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* a CAA URL that is another perspective's DCV URL */
    coord_text(COORD_HEAD "  - code: us-east-1\n"
                          "    dcv_url: http://127.0.0.1:9/x\n"
                          "  - code: eu-west-1\n"
                          "    caa_url: http://localhost:9/x\n"
                          "    dcv_url: http://127.0.0.1:80/x\n"
                          "  - code: ap-northeast-1\n"
                          "    caa_url: http://127.0.0.1/x\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:11: perspectives[2].caa_url: ", path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

/* docs/failover.md: dcv_url and caa_url take a list of replicas. */
static void test_checker_replicas(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;
    json_t *j, *p0, *p1;

    (void)state;
    coord_text(COORD_HEAD "  - code: us-east-1\n"
                          "    caa_url: [\"http://127.0.0.1:1/caa\",\n"
                          "              \"http://127.0.0.2:1/caa\"]\n"
                          "    dcv_url:\n"
                          "      - http://127.0.0.1:3/dcv\n"
                          "  - code: eu-west-1\n"
                          "    caa_url: http://127.0.0.1:2/caa\n",
               &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    assert_int_equal(c.n_perspectives, 2);
    /* the first replica stays the perspective's URL */
    assert_string_equal(c.perspectives[0].caa_url, "http://127.0.0.1:1/caa");
    assert_int_equal(c.perspectives[0].caa_urls.n, 2);
    assert_string_equal(c.perspectives[0].caa_urls.v[1],
                        "http://127.0.0.2:1/caa");
    assert_string_equal(c.perspectives[0].dcv_url, "http://127.0.0.1:3/dcv");
    assert_int_equal(c.perspectives[0].dcv_urls.n, 1);
    /* a single string is one replica */
    assert_string_equal(c.perspectives[1].caa_url, "http://127.0.0.1:2/caa");
    assert_int_equal(c.perspectives[1].caa_urls.n, 1);
    assert_null(c.perspectives[1].dcv_url);
    assert_int_equal(c.perspectives[1].dcv_urls.n, 0);
    /* /configz: a list as a list, one URL as a string */
    j = mpic_coordinator_config_to_json(&c);
    p0 = json_array_get(json_object_get(j, "perspectives"), 0);
    p1 = json_array_get(json_object_get(j, "perspectives"), 1);
    assert_true(json_is_array(json_object_get(p0, "caa_url")));
    assert_int_equal(json_array_size(json_object_get(p0, "caa_url")), 2);
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(p0, "caa_url"), 1)),
        "http://127.0.0.2:1/caa");
    assert_string_equal(json_string_value(json_object_get(p0, "dcv_url")),
                        "http://127.0.0.1:3/dcv");
    assert_string_equal(json_string_value(json_object_get(p1, "caa_url")),
                        "http://127.0.0.1:2/caa");
    assert_true(json_is_null(json_object_get(p1, "dcv_url")));
    json_decref(j);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_checker_replica_errors(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD                                    /* lines 1-4 */
               "  - code: us-east-1\n"                       /* 5 */
               "    caa_url: []\n"                           /* 6 */
               "    dcv_url:\n"                              /* 7 */
               "      - http://127.0.0.1:1/dcv\n"            /* 8 */
               "      - {a: b}\n"                            /* 9 */
               "  - code: eu-west-1\n"                       /* 10 */
               "    caa_url:\n"                              /* 11 */
               "      - https://127.0.0.1:2/caa\n"           /* 12 */
               "      - ftp://127.0.0.1/caa\n"               /* 13 */
               "      - http://10.0.0.6:8080/caa\n"          /* 14 */
               "  - code: ap-northeast-1\n"                  /* 15 */
               "    caa_url: [a, b, c, d, e, f, g, h, i]\n", /* 16 */
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:6: perspectives[0].caa_url: expected one URL or a list "
                 "of 1 to 8 URLs (the replicas of this perspective's "
                 "checker), got 0",
                 path);
    assert_issue(&r.errs,
                 "%s:9: perspectives[0].dcv_url[1]: expected a string, got "
                 "a mapping",
                 path);
    assert_issue(&r.errs, "%s:5: perspectives[0]: needs dcv_url or caa_url",
                 path);
    assert_issue(
        &r.errs,
        "%s:13: perspectives[1].caa_url[1]: 'ftp://127.0.0.1/caa': ", path);
    /* BR 3.2.2.9 holds for every replica */
    assert_issue(&r.errs,
                 "%s:14: perspectives[1].caa_url[2]: "
                 "'http://10.0.0.6:8080/caa': plaintext http:// to a host "
                 "that is not loopback",
                 path);
    assert_issue(&r.errs,
                 "%s:16: perspectives[2].caa_url: expected one URL "
                 "or a list of 1 to 8 URLs",
                 path);
    assert_int_equal(r.errs.n, 7);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_checker_replica_duplicates(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    /* a replica of one perspective that is another perspective's checker */
    coord_text(COORD_HEAD "  - code: us-east-1\n"                /* 5 */
                          "    caa_url:\n"                       /* 6 */
                          "      - https://a.example/caa\n"      /* 7 */
                          "      - https://b.example/caa\n"      /* 8 */
                          "  - code: eu-west-1\n"                /* 9 */
                          "    caa_url:\n"                       /* 10 */
                          "      - https://c.example/caa\n"      /* 11 */
                          "      - HTTPS://B.example:443/caa\n", /* 12 */
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:12: perspectives[1].caa_url[1]: "
                 "'HTTPS://B.example:443/caa' is the checker of perspective "
                 "'us-east-1' too (perspectives[0].caa_url[1], line 8): one "
                 "checker would count twice towards quorum",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* against a single-string URL of another perspective, either way */
    coord_text(COORD_HEAD "  - code: us-east-1\n"                 /* 5 */
                          "    dcv_url: https://a.example/x\n"    /* 6 */
                          "  - code: eu-west-1\n"                 /* 7 */
                          "    caa_url: [https://b.example/x,\n"  /* 8 */
                          "              https://a.example/x]\n", /* 9 */
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:9: perspectives[1].caa_url[1]: 'https://a.example/x' "
                 "is the checker of perspective 'us-east-1' too "
                 "(perspectives[0].dcv_url, line 6)",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* one replica listed twice */
    coord_text(COORD_HEAD "  - code: us-east-1\n"                      /* 5 */
                          "    caa_url: [https://a.example/caa,\n"     /* 6 */
                          "              https://A.example:443/caa]\n" /* 7 */
                          "  - code: eu-west-1\n"                      /* 8 */
                          "    caa_url: https://c.example/caa\n",      /* 9 */
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:7: perspectives[0].caa_url[1]: "
                 "'https://A.example:443/caa' is listed twice "
                 "(perspectives[0].caa_url[0], line 6): each replica once",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* one perspective's DCV and CAA replicas may share a host */
    coord_text(COORD_HEAD "  - code: us-east-1\n"
                          "    caa_url: [https://a.example/x, "
                          "https://b.example/x]\n"
                          "    dcv_url: [https://b.example/x, "
                          "https://a.example/x]\n"
                          "  - code: eu-west-1\n"
                          "    caa_url: https://c.example/caa\n",
               &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_coordinator_beyond_loopback_needs_api_keys(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text_raw(COORD_HEAD P_US P_EU, &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s: listen: '0.0.0.0:8000' is beyond loopback, and /mpic "
                 "would answer anyone: set api_keys (or MPIC_API_KEYS)",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);

    setenv("MPIC_API_KEYS", "k1", 1);
    load_coord(path, &c, &r);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    unsetenv("MPIC_API_KEYS");
    free(path);

    coord_text_raw(COORD_HEAD P_US P_EU "listen: \"[::]:8000\"\n", &c, &r,
                   &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs, "%s:9: listen: '[::]:8000' is beyond loopback", path);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* the escape hatch, for a proxy in front that authenticates */
    coord_text_raw(COORD_HEAD P_US P_EU "allow_unauthenticated: true\n", &c, &r,
                   &path);
    assert_int_equal(r.rc, MPIC_OK);
    assert_true(c.allow_unauthenticated);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* loopback (IPv6 too) needs nothing */
    coord_text_raw(COORD_HEAD P_US P_EU "listen: \"[::1]:8000\"\n", &c, &r,
                   &path);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_plaintext_checker_beyond_loopback(void **state)
{
    struct mpic_coordinator_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    coord_text(COORD_HEAD P_US "  - code: eu-west-1\n"
                               "    caa_url: http://10.0.0.6:8080/caa\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:8: perspectives[1].caa_url: 'http://10.0.0.6:8080/caa': "
                 "plaintext http:// to a host that is not loopback",
                 path);
    assert_true(strstr(r.errs.items[0].message,
                       "allow_plaintext_checkers: true") != NULL);
    assert_int_equal(r.errs.n, 1);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    coord_text(COORD_HEAD P_US "  - code: eu-west-1\n"
                               "    caa_url: http://10.0.0.6:8080/caa\n"
                               "allow_plaintext_checkers: true\n",
               &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    /* https:// anywhere and http:// on loopback are fine */
    coord_text(COORD_HEAD P_US "  - code: eu-west-1\n"
                               "    caa_url: https://10.0.0.6:8443/caa\n"
                               "    dcv_url: http://[::1]:8080/dcv\n",
               &c, &r, &path);
    print_issues(&r.errs);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_coordinator_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

static void test_checker_beyond_loopback_needs_auth(void **state)
{
    struct mpic_checker_config c;
    struct cres r;
    char *path = NULL;

    (void)state;
    checker_text_raw(MPIC_DAEMON_DCV_CHECKER,
                     "perspective_code: us-east-1\n"
                     "listen: 0.0.0.0:8080\n",
                     &c, &r, &path);
    assert_int_equal(r.rc, MPIC_ERR_INVALID);
    assert_issue(&r.errs,
                 "%s:2: listen: '0.0.0.0:8080' is beyond loopback, and /dcv "
                 "would answer anyone: set auth.bearer_tokens or "
                 "tls.client_ca_file (or auth.allow_unauthenticated: true",
                 path);
    assert_int_equal(r.errs.n, 1);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text_raw(MPIC_DAEMON_DCV_CHECKER,
                     "perspective_code: us-east-1\n"
                     "listen: 0.0.0.0:8080\n"
                     "auth:\n"
                     "  bearer_tokens: [t0k3n]\n",
                     &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text_raw(MPIC_DAEMON_CAA_CHECKER,
                     "perspective_code: us-east-1\n"
                     "auth:\n"
                     "  allow_unauthenticated: true\n",
                     &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    assert_true(c.allow_unauthenticated);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);

    checker_text_raw(MPIC_DAEMON_CAA_CHECKER,
                     "perspective_code: us-east-1\n"
                     "listen: 127.0.0.1:8080\n",
                     &c, &r, &path);
    assert_int_equal(r.rc, MPIC_OK);
    mpic_checker_config_cleanup(&c);
    mpic_errlist_cleanup(&r.errs);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup(f, test_setup)
        T(test_rir_names_accept_spellings_of_ripe_ncc),
        T(test_rir_names_reject_others),
        T(test_checker_defaults_without_file),
        T(test_checker_without_any_resolver_is_invalid),
        T(test_coordinator_defaults_need_secret_and_perspectives),
        T(test_dcv_full_file),
        T(test_caa_full_file),
        T(test_caa_rfc8657_setting),
        T(test_caa_lookup_failure_setting),
        T(test_coordinator_full_file),
        T(test_config_file_from_environment),
        T(test_checker_env_overrides_file),
        T(test_dcv_checker_ignores_caa_domains_env),
        T(test_coordinator_env_overrides_file),
        T(test_hash_secret_from_env_only),
        T(test_flag_overrides_env),
        T(test_cli_actions),
        T(test_cli_unknown_flag_and_missing_value),
        T(test_usage_lists_flags_and_env),
        T(test_bad_listen_reports_its_layer),
        T(test_listen_forms),
        T(test_bad_log_level),
        T(test_bad_resolvers_report_element_line),
        T(test_checker_numbers_out_of_range),
        T(test_numbers_must_be_whole),
        T(test_wrong_types),
        T(test_top_level_must_be_mapping),
        T(test_empty_file_gives_defaults),
        T(test_duplicate_yaml_key),
        T(test_unknown_keys_are_errors),
        T(test_yaml_aliases_are_safe),
        T(test_unreadable_config_file),
        T(test_yaml_syntax_error_has_line),
        T(test_tls_pairs_and_readability),
        T(test_coordinator_minimal_valid),
        T(test_empty_available_perspectives_file),
        T(test_missing_and_empty_hash_secret),
        T(test_coordinator_numbers_out_of_range),
        T(test_count_exceeds_perspectives),
        T(test_duplicate_perspective_code),
        T(test_perspective_not_in_available_file),
        T(test_bad_perspective_urls),
        T(test_bad_perspective_headers),
        T(test_perspectives_must_be_a_list),
        T(test_bad_available_file),
        T(test_several_errors_reported_together),
        T(test_checker_tls_of_coordinator),
        T(test_compliance_keys),
        T(test_compliance_key_errors),
        T(test_compliance_default_below_minimum_by_date),
        T(test_compliance_too_few_perspectives),
        T(test_coordinator_json_redacts_secrets),
        T(test_checker_json_redacts_tokens),
        T(test_example_configs_load),
        T(test_local_configs_load),
        T(test_production_too_close_pairs_are_symmetric),
        T(test_typo_is_an_error_with_did_you_mean),
        T(test_unknown_key_in_perspective_entry),
        T(test_unknown_key_in_available_entry),
        T(test_tls_key_must_match_certificate),
        T(test_lenient_paths),
        T(test_checker_needs_perspective_code),
        T(test_duplicate_checker_url),
        T(test_checker_replicas),
        T(test_checker_replica_errors),
        T(test_checker_replica_duplicates),
        T(test_coordinator_beyond_loopback_needs_api_keys),
        T(test_plaintext_checker_beyond_loopback),
        T(test_checker_beyond_loopback_needs_auth),
#undef T
    };

    return cmocka_run_group_tests_name("config", tests, group_setup,
                                       group_teardown);
}
