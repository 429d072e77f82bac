/*
 * mpic-caa-checker: one remote perspective for CAA (INTERFACE.md). A thin
 * shell: load and validate the configuration, then run the event loop with
 * the DNS client and the HTTP server serving POST /caa (caa_check.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caa-checker/caa.h"
#include "caa-checker/curl_dl.h"
#include "common/config.h"
#include "common/daemon_cli.h"
#include "common/dns.h"
#include "common/ev.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/otlp_export.h"
#include "common/trace.h"
#include "common/versions.h"

#define CAA_NAME "mpic-caa-checker"
/* Bodies of check requests are small; anything larger is not one. */
#define CAA_MAX_BODY (64 * 1024)
/* How long SIGTERM waits for checks in flight. */
#define CAA_GRACE_MS 10000

static void on_metrics(struct mpic_buf *out, void *arg)
{
    caa_metrics(out, arg);
    mpic_trace_metrics(out);
}

static json_t *on_configz(void *arg)
{
    return mpic_checker_config_to_json(arg);
}

/*
 * The longest a lookup may take: c-ares doubles the per-try timeout with
 * each round over the servers, so allow every try its doubled share, plus
 * a second of slack; capped to keep suspended requests bounded.
 */
static uint64_t caa_deadline_ms(const struct mpic_checker_config *cfg)
{
    uint64_t t = cfg->dns.timeout_ms > 0 ? cfg->dns.timeout_ms : 2000;
    uint64_t total = 0;
    unsigned tries = cfg->dns.tries > 0 ? cfg->dns.tries : 3;
    unsigned i;

    for (i = 0; i < tries && i < 16; i++) {
        total += t;
        t *= 2;
    }
    /* allow_lookup_failure: the failed lookup (timeout_ms * tries at
     * most, common/dns.c) and, after a SERVFAIL, its retry (the same
     * again); the DNSSEC proof runs alongside the lookup. */
    if (cfg->caa_lookup_failure == NULL ||
        strcmp(cfg->caa_lookup_failure, MPIC_CAA_LOOKUP_FAILURE_NEVER) != 0) {
        uint64_t proof =
            2 *
            (uint64_t)(cfg->dns.timeout_ms > 0 ? cfg->dns.timeout_ms : 2000) *
            tries;

        if (total < proof)
            total = proof;
    }
    total += 1000;
    return total < 60000 ? total : 60000;
}

int main(int argc, char **argv)
{
    struct mpic_checker_config cfg = {0};
    struct mpic_errlist errs;
    enum mpic_cli_action action = MPIC_CLI_RUN;
    enum mpic_err load;
    struct ev_loop *loop = NULL;
    struct mpic_dns *dns = NULL;
    struct mpic_http_server *srv = NULL;
    struct mpic_http_server_config hc = {0};
    struct mpic_http_library libs[MPIC_LIBRARIES_MAX];
    const char *curl_version = NULL;
    struct caa_checker ck = {0};
    char *errmsg = NULL;
    bool curl_started = false;
    int status = 1;

    mpic_errlist_init(&errs);
    load = mpic_checker_config_load(MPIC_DAEMON_CAA_CHECKER, argc, argv, &cfg,
                                    &action, &errs);
    status = mpic_daemon_cli(MPIC_DAEMON_CAA_CHECKER, load, action, &errs);
    if (status >= 0)
        goto out;
    status = 1;
    if (action == MPIC_CLI_CHECK_CONFIG) {
        status = mpic_daemon_config_ok(NULL);
        goto out;
    }
    mpic_log_set_level(cfg.log_level);

    loop = ev_loop_new();
    if (loop == NULL) {
        log_error_errno("%s: cannot create the event loop", CAA_NAME);
        goto out;
    }
    dns = mpic_dns_new(loop, &cfg.dns, &errmsg);
    if (dns == NULL) {
        log_error("%s: DNS client: %s", CAA_NAME, errmsg);
        goto out;
    }
    ck.cfg = &cfg;
    ck.dns = dns;
    ck.loop = loop;
    /* libcurl is opened only for span export (docs/tracing.md). */
    if (cfg.tracing_otlp_endpoint != NULL) {
        const char *why = NULL;

        if (mpic_curl_dl_load(&why) != 0) {
            log_error("%s: tracing.otlp_endpoint is set but libcurl cannot "
                      "be loaded: %s",
                      CAA_NAME, why);
            goto out;
        }
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            log_error("%s: curl_global_init failed", CAA_NAME);
            goto out;
        }
        curl_started = true;
        curl_version = curl_version_info(CURLVERSION_NOW)->version;
        if (mpic_otlp_start(loop, cfg.tracing_otlp_endpoint, CAA_NAME,
                            cfg.perspective_code) != 0)
            goto out;
    }

    hc.name = CAA_NAME;
    hc.listen = cfg.listen;
    hc.max_body = CAA_MAX_BODY;
    hc.deadline_ms = caa_deadline_ms(&cfg);
    ck.deadline_ms = hc.deadline_ms;
    hc.tls_cert_file = cfg.tls.cert_file;
    hc.tls_key_file = cfg.tls.key_file;
    hc.tls_client_ca_file = cfg.tls.client_ca_file;
    hc.configz = on_configz;
    hc.configz_arg = &cfg;
    hc.metrics = on_metrics;
    hc.metrics_arg = &ck;
    hc.n_libraries = mpic_library_versions(libs, curl_version);
    hc.libraries = libs;
    srv = mpic_http_server_new(loop, &hc, &errmsg);
    if (srv == NULL) {
        log_error("%s: HTTP server on %s: %s", CAA_NAME, cfg.listen, errmsg);
        goto out;
    }
    mpic_http_server_route(srv, "POST", "/caa", caa_on_request, &ck);
    log_info("%s %s: perspective %s listening on %s (port %u), %zu "
             "resolver(s)",
             CAA_NAME, MPIC_VERSION,
             cfg.perspective_code != NULL ? cfg.perspective_code : "-",
             cfg.listen, mpic_http_server_port(srv), cfg.dns.resolvers.n);
    if (mpic_http_server_run(srv, CAA_GRACE_MS) != 0) {
        log_error("%s: the event loop failed", CAA_NAME);
        goto out;
    }
    status = 0;
out:
    /* The server goes first: cancelling its requests cancels their
     * lookups while the DNS client still exists. */
    mpic_http_server_free(srv);
    mpic_otlp_stop();
    if (curl_started)
        curl_global_cleanup();
    mpic_dns_free(dns);
    ev_loop_free(loop);
    free(errmsg);
    mpic_checker_config_cleanup(&cfg);
    mpic_errlist_cleanup(&errs);
    return status;
}
