/*
 * mpic-dcv-checker: one remote perspective for DCV (POST /dcv). This file
 * only wires configuration, the event loop, the resolver client, libcurl
 * and the HTTP layer together; the checks live in dcv_*.c.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/daemon_cli.h"
#include "common/dns.h"
#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/otlp_export.h"
#include "common/trace.h"
#include "common/versions.h"
#include "dcv-checker/dcv.h"

/* Concurrent outbound HTTP connections of one checker, in all / per host. */
#define MAX_FETCH_CONNECTIONS          256
#define MAX_FETCH_CONNECTIONS_PER_HOST 16
#define NAME                           "mpic-dcv-checker"
/* POST /dcv bodies are small; the reference's largest is well under. */
#define MAX_BODY (64u * 1024u)
/* After SIGTERM, checks still running get this long before they are
 * cancelled (orchestrators usually allow 10 s or more before SIGKILL). */
#define GRACE_MS 5000u

static void on_metrics(struct mpic_buf *out, void *arg)
{
    dcv_metrics(out, arg);
    mpic_trace_metrics(out);
}

static json_t *on_configz(void *arg)
{
    const struct mpic_checker_config *cfg = arg;

    return mpic_checker_config_to_json(cfg);
}

static int run(const struct mpic_checker_config *cfg)
{
    struct dcv_daemon d;
    struct mpic_http_server_config hc;
    struct mpic_http_library libs[MPIC_LIBRARIES_MAX];
    struct mpic_http_server *srv = NULL;
    struct ev_loop *loop = NULL;
    char *err = NULL;
    int rc = 1;

    memset(&d, 0, sizeof(d));
    loop = ev_loop_new();
    if (loop == NULL) {
        log_error_errno("cannot create the event loop");
        return 1;
    }
    d.loop = loop;
    d.cfg = cfg;
    d.dns = mpic_dns_new(loop, &cfg->dns, &err);
    if (d.dns == NULL) {
        log_error("cannot set up DNS: %s", err != NULL ? err : "?");
        goto out;
    }
    d.curl = ev_curl_new(loop);
    if (d.curl == NULL) {
        log_error("cannot create the libcurl multi handle");
        goto out;
    }
    /*
     * Bound what requesters can make us fetch at once: at most
     * MAX_FETCH_CONNECTIONS connections in all and a few per target host;
     * fetches beyond that wait in libcurl within their own timeout.
     */
    curl_multi_setopt(ev_curl_multi(d.curl), CURLMOPT_MAX_TOTAL_CONNECTIONS,
                      (long)MAX_FETCH_CONNECTIONS);
    curl_multi_setopt(ev_curl_multi(d.curl), CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)MAX_FETCH_CONNECTIONS_PER_HOST);
    memset(&hc, 0, sizeof(hc));
    hc.name = NAME;
    hc.listen = cfg->listen;
    hc.max_body = MAX_BODY;
    hc.deadline_ms = dcv_request_deadline_ms(&d);
    hc.tls_cert_file = cfg->tls.cert_file;
    hc.tls_key_file = cfg->tls.key_file;
    hc.tls_client_ca_file = cfg->tls.client_ca_file;
    hc.configz = on_configz;
    hc.configz_arg = (void *)(uintptr_t)cfg;
    hc.metrics = on_metrics;
    hc.metrics_arg = &d;
    hc.n_libraries = mpic_library_versions(
        libs, curl_version_info(CURLVERSION_NOW)->version);
    hc.libraries = libs;
    srv = mpic_http_server_new(loop, &hc, &err);
    if (srv == NULL) {
        log_error("cannot listen on %s: %s", cfg->listen,
                  err != NULL ? err : "?");
        goto out;
    }
    dcv_routes(&d, srv);
    if (cfg->tracing_otlp_endpoint != NULL &&
        mpic_otlp_start(loop, cfg->tracing_otlp_endpoint, NAME,
                        cfg->perspective_code) != 0)
        goto out;
    log_info(NAME " %s listening on %s (perspective %s)", MPIC_VERSION,
             cfg->listen,
             cfg->perspective_code != NULL ? cfg->perspective_code : "-");
    rc = mpic_http_server_run(srv, hc.deadline_ms < GRACE_MS ? hc.deadline_ms
                                                             : GRACE_MS) == 0
             ? 0
             : 1;
    log_info(NAME " stopped");
out:
    free(err);
    mpic_otlp_stop();
    mpic_http_server_free(srv);
    ev_curl_free(d.curl);
    mpic_dns_free(d.dns);
    ev_loop_free(loop);
    return rc;
}

int main(int argc, char **argv)
{
    struct mpic_checker_config cfg;
    struct mpic_errlist errs;
    enum mpic_cli_action action = MPIC_CLI_RUN;
    enum mpic_err err;
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    mpic_errlist_init(&errs);
    err = mpic_checker_config_load(MPIC_DAEMON_DCV_CHECKER, argc, argv, &cfg,
                                   &action, &errs);
    rc = mpic_daemon_cli(MPIC_DAEMON_DCV_CHECKER, err, action, &errs);
    if (rc >= 0)
        goto out;
    if (action == MPIC_CLI_CHECK_CONFIG) {
        rc = mpic_daemon_config_ok(NULL);
        goto out;
    }
    mpic_log_set_level(cfg.log_level);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("curl_global_init failed");
        rc = 1;
        goto out;
    }
    rc = run(&cfg);
    curl_global_cleanup();
out:
    mpic_errlist_cleanup(&errs);
    mpic_checker_config_cleanup(&cfg);
    return rc;
}
