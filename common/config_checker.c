/*
 * The checkers' configuration (DCV and CAA, see config.h): their key table,
 * defaults and loader. One table serves both daemons; each key is marked
 * with the checkers that use it, and the other checker's keys are warned
 * about and ignored. Default resolvers come from resolv.conf.
 */
#include "common/config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#ifndef MPIC_VERSION
#define MPIC_VERSION "0.0.0"
#endif

static const char *resolv_conf_path = "/etc/resolv.conf";

void mpic_config_set_resolv_conf(const char *path)
{
    resolv_conf_path = path != NULL ? path : "/etc/resolv.conf";
}

#define CK(f) offsetof(struct mpic_checker_config, f)

static const struct cfg_key checker_keys[] = {
    {"perspective_code", K_STR, CK(perspective_code), 0, 0,
     KF_CHECKERS | KF_REQUIRED, CHK_NONEMPTY, "MPIC_PERSPECTIVE_CODE", NULL},
    {"listen", K_STR, CK(listen), 0, 0, KF_CHECKERS, CHK_LISTEN, "MPIC_LISTEN",
     NULL},
    {"log_level", K_LOGLEVEL, CK(log_level), 0, 0, KF_CHECKERS, CHK_NONE,
     "MPIC_LOG_LEVEL", NULL},
    {"dns.resolvers", K_STRV, CK(dns.resolvers), 0, 0, KF_CHECKERS,
     CHK_RESOLVERS, "MPIC_DNS_RESOLVERS", ","},
    {"dns.timeout_ms", K_UINT, CK(dns.timeout_ms), 1, 600000, KF_CHECKERS,
     CHK_NONE, NULL, NULL},
    {"dns.tries", K_UINT, CK(dns.tries), 1, 10, KF_CHECKERS, CHK_NONE, NULL,
     NULL},
    {"http.timeout_ms", K_UINT, CK(http_timeout_ms), 1, 600000, KF_DCV,
     CHK_NONE, NULL, NULL},
    {"http.verify_tls", K_BOOL, CK(http_verify_tls), 0, 0, KF_DCV, CHK_NONE,
     NULL, NULL},
    {"http.max_redirects", K_UINT, CK(http_max_redirects), 0, 50, KF_DCV,
     CHK_NONE, NULL, NULL},
    {"http.user_agent", K_STR, CK(http_user_agent), 0, 0, KF_DCV, CHK_NONEMPTY,
     NULL, NULL},
    {"http.proxy", K_STR, CK(http_proxy), 0, 0, KF_DCV, CHK_NONE,
     "MPIC_HTTP_PROXY", NULL},
    {"targets.allow_private_addresses", K_BOOL, CK(allow_private_addresses), 0,
     0, KF_CHECKERS, CHK_NONE, NULL, NULL},
    {"caa.default_caa_domains", K_STRV, CK(default_caa_domains), 0, 0, KF_CAA,
     CHK_NONEMPTY, "MPIC_DEFAULT_CAA_DOMAINS", ",|"},
    {"caa.rfc8657", K_STR, CK(caa_rfc8657), 0, 0, KF_CAA, CHK_NONE, NULL, NULL},
    {"caa.lookup_failure", K_STR, CK(caa_lookup_failure), 0, 0, KF_CAA,
     CHK_NONEMPTY, NULL, NULL},
    {"auth.bearer_tokens", K_STRV, CK(bearer_tokens), 0, 0,
     KF_CHECKERS | KF_SECRET, CHK_NONEMPTY, NULL, NULL},
    {"auth.allow_unauthenticated", K_BOOL, CK(allow_unauthenticated), 0, 0,
     KF_CHECKERS, CHK_NONE, NULL, NULL},
    {"tls.cert_file", K_STR, CK(tls.cert_file), 0, 0, KF_CHECKERS, CHK_FILE,
     NULL, NULL},
    {"tls.key_file", K_STR, CK(tls.key_file), 0, 0, KF_CHECKERS, CHK_FILE, NULL,
     NULL},
    {"tls.client_ca_file", K_STR, CK(tls.client_ca_file), 0, 0, KF_CHECKERS,
     CHK_FILE, NULL, NULL},
    /* Checked by mpic_cfg_validate_otlp_endpoint(). */
    {"tracing.otlp_endpoint", K_STR, CK(tracing_otlp_endpoint), 0, 0,
     KF_CHECKERS, CHK_NONE, NULL, NULL},
};

#define N_CHECKER_KEYS (sizeof(checker_keys) / sizeof(checker_keys[0]))

static void checker_defaults(struct mpic_checker_config *c,
                             enum mpic_daemon_kind kind)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->listen = xstrdup("0.0.0.0:8080");
    c->log_level = MPIC_LOG_INFO;
    c->dns.timeout_ms = 2000;
    c->dns.tries = 3;
    c->http_timeout_ms = 10000;
    c->http_verify_tls = false;
    c->http_max_redirects = 20;
    c->http_user_agent = xstrdup("open-mpic-c/" MPIC_VERSION);
    c->allow_private_addresses = false;
    c->caa_rfc8657 = xstrdup("strict");
    c->caa_lookup_failure = xstrdup(MPIC_CAA_LOOKUP_FAILURE_DNSSEC);
}

/* caa.lookup_failure: one of the two settings (open-mpic-api.md 5.2). */
static void check_caa_lookup_failure(struct cfg_loader *ld,
                                     const struct mpic_checker_config *c)
{
    long i = mpic_cfg_key_index(ld, "caa.lookup_failure");

    if (i < 0 || c->caa_lookup_failure == NULL ||
        strcmp(c->caa_lookup_failure, MPIC_CAA_LOOKUP_FAILURE_DNSSEC) == 0 ||
        strcmp(c->caa_lookup_failure, MPIC_CAA_LOOKUP_FAILURE_NEVER) == 0)
        return;
    mpic_cfg_issue_key(ld, (size_t)i, -1, "\"%s\" is not one of \"%s\", \"%s\"",
                       c->caa_lookup_failure, MPIC_CAA_LOOKUP_FAILURE_DNSSEC,
                       MPIC_CAA_LOOKUP_FAILURE_NEVER);
}

/* "nameserver X" lines of resolv.conf that parse as addresses. */
static void resolvers_from_resolv_conf(struct mpic_strv *out)
{
    FILE *f = fopen(resolv_conf_path, "r");
    char line[512];

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *e;

        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "nameserver", 10) != 0 ||
            (p[10] != ' ' && p[10] != '\t'))
            continue;
        p += 10;
        while (*p == ' ' || *p == '\t')
            p++;
        e = p + strcspn(p, " \t\r\n#;");
        *e = '\0';
        if (*p == '\0')
            continue;
        if (mpic_cfg_check_resolver(p) == NULL)
            mpic_strv_push(out, p);
        else
            log_debug("%s: nameserver '%s' skipped (not usable)",
                      resolv_conf_path, p);
    }
    fclose(f);
}

/*
 * Secure by default: a checker that others can reach must know who calls
 * it (bearer tokens or client certificates), unless the operator says that
 * something in front of it does.
 */
/*
 * http.proxy: an HTTP CONNECT proxy as http://HOST:PORT (a name, an IPv4
 * address or [IPv6]; a trailing "/" is fine). No credentials in the URL
 * (they would show in /configz and logs), no other scheme. An empty value
 * means none.
 */
static const char *proxy_url_problem(const char *u)
{
    const char *h, *end, *colon;
    unsigned long port;
    char *pe;

    if (strncmp(u, "http://", 7) != 0)
        return "must be http://HOST:PORT (an HTTP CONNECT proxy)";
    h = u + 7;
    end = h + strcspn(h, "/?#");
    if (*end != '\0' && strcmp(end, "/") != 0)
        return "must be http://HOST:PORT, without a path, query or fragment";
    if (memchr(h, '@', (size_t)(end - h)) != NULL)
        return "credentials in the proxy URL are not supported";
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));

        if (rb == NULL || rb[1] != ':')
            return "must be http://[IPv6]:PORT";
        colon = rb + 1;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        if (colon == NULL || colon == h)
            return "must name a host and a port (http://HOST:PORT)";
        for (const char *p = h; p < colon; p++) {
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                  (*p >= '0' && *p <= '9') || *p == '.' || *p == '-'))
                return "the host holds a character a host name cannot";
        }
    }
    if (colon[1] < '0' || colon[1] > '9')
        return "must name a port (http://HOST:PORT)";
    port = strtoul(colon + 1, &pe, 10);
    if (pe != end || port == 0 || port > 65535)
        return "the port must be 1-65535";
    return NULL;
}

static void check_proxy(struct cfg_loader *ld, struct mpic_checker_config *c)
{
    long i = mpic_cfg_key_index(ld, "http.proxy");
    const char *why;

    if (i < 0 || c->http_proxy == NULL)
        return;
    if (c->http_proxy[0] == '\0') {
        free(c->http_proxy);
        c->http_proxy = NULL;
        return;
    }
    why = proxy_url_problem(c->http_proxy);
    if (why != NULL)
        mpic_cfg_issue_key(ld, (size_t)i, -1, "'%s': %s", c->http_proxy, why);
}

static void check_open_to_anyone(struct cfg_loader *ld,
                                 const struct mpic_checker_config *c)
{
    long li = mpic_cfg_key_index(ld, "listen");

    MPIC_ASSERT(li >= 0);
    if (c->bearer_tokens.n > 0 || c->tls.client_ca_file != NULL ||
        c->allow_unauthenticated || mpic_cfg_check_listen(c->listen) != NULL ||
        mpic_cfg_listen_is_loopback(c->listen))
        return;
    mpic_cfg_issue_key(ld, (size_t)li, -1,
                       "'%s' is beyond loopback, and %s would answer anyone: "
                       "set auth.bearer_tokens or tls.client_ca_file (or "
                       "auth.allow_unauthenticated: true if something in "
                       "front authenticates the coordinator)",
                       c->listen,
                       c->kind == MPIC_DAEMON_DCV_CHECKER ? "/dcv" : "/caa");
}

enum mpic_err mpic_checker_config_load(enum mpic_daemon_kind kind, int argc,
                                       char **argv,
                                       struct mpic_checker_config *out,
                                       enum mpic_cli_action *action,
                                       struct mpic_errlist *errs)
{
    struct cfg_loader ld;
    struct cfg_cli cli;
    size_t errs_before = errs->n;
    long ri;

    MPIC_ASSERT(kind == MPIC_DAEMON_DCV_CHECKER ||
                kind == MPIC_DAEMON_CAA_CHECKER);
    checker_defaults(out, kind);
    mpic_cfg_parse_cli(argc, argv, &cli, errs);
    *action = cli.action;
    if (cli.action == MPIC_CLI_HELP || cli.action == MPIC_CLI_VERSION)
        return MPIC_OK;

    mpic_cfg_loader_init(&ld, checker_keys, N_CHECKER_KEYS,
                         kind == MPIC_DAEMON_DCV_CHECKER ? KF_DCV : KF_CAA, out,
                         errs);
    mpic_cfg_apply_layers(&ld, &cli, &out->config_file);

    ri = mpic_cfg_key_index(&ld, "dns.resolvers");
    MPIC_ASSERT(ri >= 0);
    if (out->dns.resolvers.n == 0) {
        resolvers_from_resolv_conf(&out->dns.resolvers);
        mpic_cfg_origin_set(&ld.origins[ri], resolv_conf_path, 0);
        if (out->dns.resolvers.n == 0)
            mpic_cfg_issue(errs, ld.file != NULL ? ld.file : "configuration", 0,
                           "dns.resolvers",
                           "none configured and %s lists no usable nameserver",
                           resolv_conf_path);
    }
    mpic_cfg_validate_keys(&ld);
    ri = mpic_cfg_key_index(&ld, "caa.rfc8657");
    if (kind == MPIC_DAEMON_CAA_CHECKER && ri >= 0 &&
        (out->caa_rfc8657 == NULL ||
         (strcmp(out->caa_rfc8657, "strict") != 0 &&
          strcmp(out->caa_rfc8657, "lenient") != 0)))
        mpic_cfg_issue_key(&ld, (size_t)ri, -1,
                           "'%s': must be strict or lenient",
                           out->caa_rfc8657 != NULL ? out->caa_rfc8657 : "");
    if (kind == MPIC_DAEMON_DCV_CHECKER)
        check_proxy(&ld, out);
    if (kind == MPIC_DAEMON_CAA_CHECKER)
        check_caa_lookup_failure(&ld, out);
    mpic_cfg_validate_tls_pair(&ld, "tls", &out->tls);
    mpic_cfg_validate_otlp_endpoint(&ld, out->tracing_otlp_endpoint);
    check_open_to_anyone(&ld, out);
    mpic_cfg_loader_cleanup(&ld);
    return errs->n == errs_before ? MPIC_OK : MPIC_ERR_INVALID;
}

void mpic_checker_config_cleanup(struct mpic_checker_config *c)
{
    if (c == NULL)
        return;
    free(c->config_file);
    free(c->perspective_code);
    free(c->listen);
    mpic_strv_cleanup(&c->dns.resolvers);
    free(c->http_user_agent);
    free(c->http_proxy);
    mpic_strv_cleanup(&c->default_caa_domains);
    free(c->caa_rfc8657);
    free(c->caa_lookup_failure);
    mpic_strv_cleanup(&c->bearer_tokens);
    free(c->tls.cert_file);
    free(c->tls.key_file);
    free(c->tls.client_ca_file);
    free(c->tls.ca_file);
    free(c->tracing_otlp_endpoint);
    memset(c, 0, sizeof(*c));
}

json_t *mpic_checker_config_to_json(const struct mpic_checker_config *c)
{
    json_t *o = mpic_cfg_table_json(checker_keys, N_CHECKER_KEYS,
                                    c->kind == MPIC_DAEMON_DCV_CHECKER ? KF_DCV
                                                                       : KF_CAA,
                                    c, c->config_file, NULL);

    if (o != NULL &&
        json_object_set_new(o, "daemon",
                            json_string(c->kind == MPIC_DAEMON_DCV_CHECKER
                                            ? "mpic-dcv-checker"
                                            : "mpic-caa-checker")) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
