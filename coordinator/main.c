/*
 * mpic-coordinator: terminates POST /mpic, picks perspectives, fans out to
 * the checkers and decides. This file only wires configuration, the event
 * loop, libcurl and the HTTP layer together; see api_mpic.c and fanout.c.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/mem.h"
#include "coordinator/coordinator.h"
#include "coordinator/openapi.h"

/* How long in-flight requests may take to finish after SIGTERM. */
#define GRACE_SLACK_MS 2000

static json_t *on_configz(void *arg)
{
    struct coord *c = arg;

    return mpic_coordinator_config_to_json(c->cfg);
}

static void on_metrics(struct mpic_buf *out, void *arg)
{
    struct coord *c = arg;
    const struct coord_metrics *m = &c->metrics;

    mpic_buf_printf(
        out,
        "# HELP mpic_requests_total MPIC requests answered, by "
        "check type and outcome.\n"
        "# TYPE mpic_requests_total counter\n"
        "mpic_requests_total{check_type=\"caa\",result=\"valid\"} "
        "%llu\n"
        "mpic_requests_total{check_type=\"caa\",result=\"invalid\"} "
        "%llu\n"
        "mpic_requests_total{check_type=\"dcv\",result=\"valid\"} "
        "%llu\n"
        "mpic_requests_total{check_type=\"dcv\",result=\"invalid\"} "
        "%llu\n"
        "mpic_requests_total{check_type=\"any\",result=\"error\"} "
        "%llu\n"
        "mpic_requests_total{check_type=\"any\",result="
        "\"cancelled\"} %llu\n"
        "# HELP mpic_remote_checks_total Perspective calls, by "
        "whether the check passed (not_awaited: cut off once the "
        "attempt was decided).\n"
        "# TYPE mpic_remote_checks_total counter\n"
        "mpic_remote_checks_total{result=\"passed\"} %llu\n"
        "mpic_remote_checks_total{result=\"not_passed\"} %llu\n"
        "mpic_remote_checks_total{result=\"not_awaited\"} %llu\n",
        (unsigned long long)m->mpic_valid[MPIC_CHECK_CAA],
        (unsigned long long)m->mpic_invalid[MPIC_CHECK_CAA],
        (unsigned long long)m->mpic_valid[MPIC_CHECK_DCV],
        (unsigned long long)m->mpic_invalid[MPIC_CHECK_DCV],
        (unsigned long long)m->mpic_error,
        (unsigned long long)m->mpic_cancelled, (unsigned long long)m->remote_ok,
        (unsigned long long)m->remote_failed,
        (unsigned long long)m->remote_not_awaited);
}

/* GET /openapi.json: the built-in document; open like /healthz (no API
 * key: it describes the API, it reveals no configuration). */
static void on_openapi(struct http_request *req, void *arg)
{
    (void)arg;
    http_request_reply(req, 200, "application/json",
                       xmemdup(mpic_openapi_json, mpic_openapi_json_len),
                       mpic_openapi_json_len);
}

static int run(const struct mpic_coordinator_config *cfg)
{
    struct coord c;
    struct http_server_config hc;
    char *err = NULL;
    int rc = 1;
    uint64_t per_request;

    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    c.loop = ev_loop_new();
    if (c.loop == NULL) {
        log_error_errno("cannot create the event loop");
        return 1;
    }
    c.curl = ev_curl_new(c.loop);
    if (c.curl == NULL) {
        log_error("cannot create the libcurl multi handle");
        goto out;
    }
    /* Keep-alive connections to every checker. The cache must hold as many
     * connections as calls can be in flight, or every call beyond it closes
     * an idle connection and opens a new one (bench/: the throughput
     * collapses). Calls beyond the per-checker cap wait in fanout.c's
     * queue for a free connection, within their own timeout; the libcurl
     * cap below is only a backstop (two perspectives on one checker). */
    curl_multi_setopt(ev_curl_multi(c.curl), CURLMOPT_MAX_HOST_CONNECTIONS,
                      (long)COORD_CONNS_PER_CHECKER);
    curl_multi_setopt(
        ev_curl_multi(c.curl), CURLMOPT_MAXCONNECTS,
        (long)(cfg->n_perspectives * 2 * COORD_CONNS_PER_CHECKER + 16));

    /* Every attempt may take the whole remote timeout. */
    per_request = (uint64_t)cfg->remote_timeout_ms *
                      (uint64_t)cfg->absolute_max_attempts +
                  GRACE_SLACK_MS;
    memset(&hc, 0, sizeof(hc));
    hc.name = "mpic-coordinator";
    hc.listen = cfg->listen;
    hc.max_body = cfg->max_request_bytes;
    hc.deadline_ms = per_request;
    c.deadline_ms = per_request; /* api_mpic.c keeps attempts inside it */
    hc.tls_cert_file = cfg->tls.cert_file;
    hc.tls_key_file = cfg->tls.key_file;
    hc.tls_client_ca_file = cfg->tls.client_ca_file;
    hc.configz = on_configz;
    hc.configz_arg = &c;
    hc.metrics = on_metrics;
    hc.metrics_arg = &c;
    hc.curl_version = curl_version_info(CURLVERSION_NOW)->version;
    c.srv = http_server_new(c.loop, &hc, &err);
    if (c.srv == NULL) {
        log_error("cannot listen on %s: %s", cfg->listen, err ? err : "?");
        free(err);
        goto out;
    }
    http_server_route(c.srv, "POST", "/mpic", coord_on_mpic, &c);
    /* The path under which the Open MPIC API spec's clients and the
     * reference deployments publish the same API. */
    http_server_route(c.srv, "POST", "/mpic-coordinator/mpic", coord_on_mpic,
                      &c);
    http_server_route(c.srv, "GET", "/openapi.json", on_openapi, NULL);
    log_info("mpic-coordinator %s listening on %s with %zu perspectives",
             MPIC_VERSION, cfg->listen, cfg->n_perspectives);
    rc = http_server_run(c.srv, per_request) == 0 ? 0 : 1;
    log_info("mpic-coordinator stopped");

out:
    http_server_free(c.srv);
    ev_curl_free(c.curl);
    coord_fanout_cleanup(&c);
    ev_loop_free(c.loop);
    return rc;
}

int main(int argc, char **argv)
{
    struct mpic_coordinator_config cfg;
    struct mpic_errlist errs;
    enum mpic_cli_action action = MPIC_CLI_RUN;
    enum mpic_err err;
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    mpic_errlist_init(&errs);
    err = mpic_coordinator_config_load(argc, argv, &cfg, &action, &errs);
    if (action == MPIC_CLI_HELP) {
        fputs(mpic_config_usage(MPIC_DAEMON_COORDINATOR), stdout);
        rc = 0;
        goto out;
    }
    if (action == MPIC_CLI_VERSION) {
        printf("mpic-coordinator %s\n", MPIC_VERSION);
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < errs.n; i++)
        fprintf(stderr, "%s\n", errs.items[i].message);
    if (err != MPIC_OK || errs.n > 0) {
        fprintf(stderr,
                "mpic-coordinator: configuration is not usable (%zu "
                "problem%s)\n",
                errs.n, errs.n == 1 ? "" : "s");
        rc = 1;
        goto out;
    }
    if (action == MPIC_CLI_CHECK_CONFIG) {
        printf("configuration OK: %zu perspectives\n", cfg.n_perspectives);
        rc = 0;
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
    mpic_coordinator_config_cleanup(&cfg);
    return rc;
}
