/*
 * mpic-coordinator: terminates POST /mpic, picks perspectives, fans out to
 * the checkers and decides. This file only wires configuration, the event
 * loop, libcurl and the HTTP layer together; see api_mpic.c and fanout.c.
 */
#include <curl/curl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/compliance.h"
#include "common/config.h"
#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/http_server.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/otlp_export.h"
#include "common/trace.h"
#include "coordinator/coordinator.h"
#include "coordinator/openapi.h"

static json_t *on_configz(void *arg)
{
    struct coord *c = arg;

    return mpic_coordinator_config_to_json(c->cfg);
}

/* `name{perspective="code"` for checker qi, with the text format's label
 * escapes (backslash, quote, newline). */
static void metric_start(struct mpic_buf *out, const struct coord *c,
                         const char *name, size_t qi)
{
    mpic_buf_printf(out, "%s{perspective=\"", name);
    for (const char *s = c->cfg->perspectives[qi / 2].code; *s; s++) {
        if (*s == '\\' || *s == '"')
            mpic_buf_printf(out, "\\%c", *s);
        else if (*s == '\n')
            mpic_buf_printf(out, "\\n");
        else
            mpic_buf_printf(out, "%c", *s);
    }
}

/* One sample per checker: {perspective="code",check_type="caa"}. */
static void metric_per_checker(struct mpic_buf *out, const struct coord *c,
                               const char *name, const char *extra_label,
                               size_t field)
{
    for (size_t qi = 0; qi < c->cfg->n_perspectives * 2; qi++) {
        const struct coord_queue *q = &c->queues[qi];
        uint64_t v;

        if (coord_queue_url(c, qi) == NULL)
            continue;
        memcpy(&v, (const char *)&q->stats + field, sizeof(v));
        metric_start(out, c, name, qi);
        mpic_buf_printf(out, "\",check_type=\"%s\"%s} %llu\n",
                        qi % 2 == 0 ? "caa" : "dcv", extra_label,
                        (unsigned long long)v);
    }
}

/* The replicas of each checker (docs/failover.md), by their index in the
 * checker's URL list: in rotation or held out, and their calls. */
static void metrics_replicas(struct mpic_buf *out, const struct coord *c)
{
    uint64_t now = ev_now_ms();

    mpic_buf_printf(out, "# HELP mpic_checker_failovers_total Calls that "
                         "moved on to another replica of the perspective's "
                         "checker.\n"
                         "# TYPE mpic_checker_failovers_total counter\n");
    metric_per_checker(out, c, "mpic_checker_failovers_total", "",
                       offsetof(struct coord_conn_stats, failovers));
    mpic_buf_printf(out, "# HELP mpic_checker_replica_up 1 if the replica "
                         "is in rotation, 0 if held out after a failure.\n"
                         "# TYPE mpic_checker_replica_up gauge\n");
    for (size_t qi = 0; qi < c->cfg->n_perspectives * 2; qi++) {
        for (size_t k = 0; k < c->queues[qi].n_reps; k++) {
            metric_start(out, c, "mpic_checker_replica_up", qi);
            mpic_buf_printf(out, "\",check_type=\"%s\",replica=\"%zu\"} %d\n",
                            qi % 2 == 0 ? "caa" : "dcv", k,
                            c->queues[qi].reps[k].down_until_ms <= now);
        }
    }
    mpic_buf_printf(out, "# HELP mpic_checker_replica_calls_total Calls to "
                         "each replica: answered with a check response, or "
                         "failed without one.\n"
                         "# TYPE mpic_checker_replica_calls_total counter\n");
    for (size_t qi = 0; qi < c->cfg->n_perspectives * 2; qi++) {
        for (size_t k = 0; k < c->queues[qi].n_reps; k++) {
            const struct coord_replica *r = &c->queues[qi].reps[k];

            for (int ok = 1; ok >= 0; ok--) {
                metric_start(out, c, "mpic_checker_replica_calls_total", qi);
                mpic_buf_printf(
                    out,
                    "\",check_type=\"%s\",replica=\"%zu\",result=\"%s\"} "
                    "%llu\n",
                    qi % 2 == 0 ? "caa" : "dcv", k, ok ? "ok" : "failed",
                    (unsigned long long)(ok ? r->calls_ok : r->calls_failed));
            }
        }
    }
}

static void metrics_connections(struct mpic_buf *out, const struct coord *c)
{
    if (c->queues == NULL)
        return;
    mpic_buf_printf(out, "# HELP mpic_checker_connections_total New "
                         "connections to each checker (calls and keep-alive "
                         "pings).\n"
                         "# TYPE mpic_checker_connections_total counter\n");
    metric_per_checker(out, c, "mpic_checker_connections_total", "",
                       offsetof(struct coord_conn_stats, new_conns));
    mpic_buf_printf(out, "# HELP mpic_checker_tls_handshakes_total TLS "
                         "handshakes with each checker: full, or a resumed "
                         "session.\n"
                         "# TYPE mpic_checker_tls_handshakes_total counter\n");
    metric_per_checker(out, c, "mpic_checker_tls_handshakes_total",
                       ",kind=\"full\"",
                       offsetof(struct coord_conn_stats, tls_full));
    metric_per_checker(out, c, "mpic_checker_tls_handshakes_total",
                       ",kind=\"resumed\"",
                       offsetof(struct coord_conn_stats, tls_resumed));
    mpic_buf_printf(out, "# HELP mpic_checker_pings_total Keep-alive pings "
                         "(GET /healthz) to idle checkers.\n"
                         "# TYPE mpic_checker_pings_total counter\n");
    metric_per_checker(out, c, "mpic_checker_pings_total", ",result=\"ok\"",
                       offsetof(struct coord_conn_stats, pings_ok));
    metric_per_checker(out, c, "mpic_checker_pings_total",
                       ",result=\"failed\"",
                       offsetof(struct coord_conn_stats, pings_failed));
    metrics_replicas(out, c);
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
    metrics_connections(out, c);
    mpic_trace_metrics(out);
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

    per_request = coord_request_deadline_ms(cfg); /* also the SIGTERM grace */
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
    if (coord_warm_start(&c) != 0)
        goto out;
    if (cfg->tracing_otlp_endpoint != NULL &&
        mpic_otlp_start(c.loop, cfg->tracing_otlp_endpoint, "mpic-coordinator",
                        NULL) != 0)
        goto out;
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
    mpic_otlp_stop();
    http_server_free(c.srv);
    ev_curl_free(c.curl);
    coord_fanout_cleanup(&c);
    coord_warm_cleanup(&c);
    ev_loop_free(c.loop);
    return rc;
}

/*
 * Takes --as-of DATE (or --as-of=DATE) out of argv into *as_of; the rest
 * goes to the configuration loader. Returns the new argc.
 */
static int take_as_of(int argc, char **argv, char **out, const char **as_of)
{
    int n = 0;

    *as_of = NULL;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--as-of") == 0) {
            *as_of = i + 1 < argc ? argv[++i] : "";
            continue;
        }
        if (i > 0 && strncmp(argv[i], "--as-of=", 8) == 0) {
            *as_of = argv[i] + 8;
            continue;
        }
        out[n++] = argv[i];
    }
    out[n] = NULL;
    return n;
}

/* The compliance policy in force at now, for the log. */
static void log_policy(const struct mpic_coordinator_config *cfg, time_t now,
                       char *buf, size_t len)
{
    bool from_config;
    const char *since = NULL;
    long min = mpic_compliance_minimum(&cfg->compliance, now, &from_config);

    (void)mpic_br_min_perspectives(now, &since);
    if (from_config)
        snprintf(buf, len,
                 "minimum %ld perspectives (compliance.min_perspective_count), "
                 "method_sunsets %s",
                 min, mpic_sunset_mode_name(cfg->compliance.method_sunsets));
    else
        snprintf(buf, len,
                 "minimum %ld perspectives (auto: BR 3.2.2.9 %s%s), "
                 "method_sunsets %s",
                 min, since != NULL ? "from " : "before 2026-03-15",
                 since != NULL ? since : "",
                 mpic_sunset_mode_name(cfg->compliance.method_sunsets));
}

int main(int argc, char **argv)
{
    struct mpic_coordinator_config cfg;
    struct mpic_errlist errs;
    enum mpic_cli_action action = MPIC_CLI_RUN;
    enum mpic_err err;
    char **args = xcalloc((size_t)argc + 1, sizeof(*args));
    const char *as_of = NULL;
    time_t as_of_t = 0;
    char policy[256];
    int rc;

    memset(&cfg, 0, sizeof(cfg));
    mpic_errlist_init(&errs);
    argc = take_as_of(argc, argv, args, &as_of);
    if (as_of != NULL) {
        if (mpic_compliance_parse_date(as_of, &as_of_t) != 0) {
            fprintf(stderr,
                    "mpic-coordinator: --as-of: expected a date YYYY-MM-DD, "
                    "got '%s'\n",
                    as_of);
            rc = 1;
            goto out;
        }
        /* 1970-01-01 is 0, which means "the real clock": use a second. */
        mpic_coordinator_config_set_now(as_of_t != 0 ? as_of_t : 1);
    }
    err = mpic_coordinator_config_load(argc, args, &cfg, &action, &errs);
    if (action == MPIC_CLI_HELP) {
        fputs(mpic_config_usage(MPIC_DAEMON_COORDINATOR), stdout);
        fputs("  --as-of YYYY-MM-DD   with --check-config: check against the "
              "BR calendar of\n"
              "                       that day (compliance.min_perspective_"
              "count: auto)\n",
              stdout);
        rc = 0;
        goto out;
    }
    if (as_of != NULL && action != MPIC_CLI_CHECK_CONFIG &&
        action != MPIC_CLI_VERSION) {
        fprintf(stderr, "mpic-coordinator: --as-of is only for "
                        "--check-config\n");
        rc = 1;
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
    log_policy(&cfg, as_of != NULL ? as_of_t : time(NULL), policy,
               sizeof(policy));
    if (action == MPIC_CLI_CHECK_CONFIG) {
        printf("configuration OK: %zu perspectives; compliance%s%s: %s\n",
               cfg.n_perspectives, as_of != NULL ? " as of " : "",
               as_of != NULL ? as_of : "", policy);
        rc = 0;
        goto out;
    }
    mpic_log_set_level(cfg.log_level);
    log_info("compliance policy: %s (open-mpic-api.md 9)", policy);
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
    free(args);
    return rc;
}
