/*
 * The HTTP methods: website-change (BR 3.2.2.4.18 / 3.2.2.5.1) and
 * acme-http-01 (RFC 8555 8.3, BR 3.2.2.4.19 / 3.2.2.5.6). libcurl runs the
 * transfers on the ev loop, but redirects are followed by this code, not
 * by curl: every hop is checked against the redirect policy, its host is
 * resolved through the perspective's resolvers, refused if it is a
 * special-purpose address, and the connection is pinned to the address we
 * resolved (CURLOPT_CONNECT_TO), so no other resolver has a say. Bodies are
 * read only as far as the decision needs.
 */
#include "dcv-checker/dcv.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <curl/curl.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/trace.h"

/* website-change searches this much of the page (BR: "contains"). */
#define WEBSITE_BODY_MAX (64u * 1024u)
/* acme-http-01: trailing whitespace allowed after the key authorization */
#define HTTP01_SLACK 256u
/* match_regex: pattern steps for the whole page (about 0.1 s of CPU) */
#define REGEX_STEP_BUDGET 10000000ul

struct http_op {
    struct dcv_check *c;
    char *url; /* the URL being fetched now */
    char *host;
    unsigned port;
    struct dcv_resolve *res;
    CURL *easy;
    struct curl_slist *headers;
    struct curl_slist *connect_to;
    struct mpic_buf body;
    size_t cap;
    bool truncated;      /* the body went on past cap */
    char *location;      /* Location of the current response, as received */
    size_t location_len; /* its length: it may hold a NUL byte */
    char *reason;        /* reason phrase of the current response */
    unsigned hops;
    json_t *history;
    uint64_t start_ms;
    char *ip;             /* the address of the current hop, once resolved */
    char *dest;           /* "IP:PORT" of the current hop, once resolved */
    int64_t hop_start_ns; /* for the "http fetch" span of the hop */
    char errbuf[CURL_ERROR_SIZE];
};

static void http_op_release_easy(struct http_op *op)
{
    if (op->easy != NULL) {
        ev_curl_cancel(op->c->d->curl, op->easy);
        curl_easy_cleanup(op->easy);
        op->easy = NULL;
    }
    curl_slist_free_all(op->headers);
    op->headers = NULL;
    curl_slist_free_all(op->connect_to);
    op->connect_to = NULL;
    free(op->ip);
    op->ip = NULL;
    free(op->dest);
    op->dest = NULL;
    free(op->location);
    op->location = NULL;
    op->location_len = 0;
    free(op->reason);
    op->reason = NULL;
    mpic_buf_cleanup(&op->body);
    op->truncated = false;
}

static void http_op_cancel(void *arg)
{
    struct http_op *op = arg;

    dcv_resolve_cancel(op->res);
    http_op_release_easy(op);
    free(op->url);
    free(op->host);
    json_decref(op->history);
    free(op);
}

/* v is built with the json_safe.h helpers: only OOM can fail here. */
static void set_details(struct dcv_check *c, const char *key, json_t *v)
{
    mpic_jset(c->details, key, v);
}

static const char *expected_value(const struct dcv_check *c)
{
    const struct mpic_dcv_params *p = &c->creq.dcv;

    if (p->method == MPIC_DCV_ACME_HTTP_01)
        return p->key_authorization != NULL ? p->key_authorization : "";
    return p->challenge_value != NULL ? p->challenge_value : "";
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct http_op *op = arg;
    size_t n = size * nmemb;
    size_t room = op->cap - op->body.len;

    if (n <= room) {
        mpic_buf_append(&op->body, ptr, n);
        return n;
    }
    /* Keep what fits, then stop reading: we have all we will judge. */
    mpic_buf_append(&op->body, ptr, room);
    op->truncated = true;
    return 0;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *arg)
{
    struct http_op *op = arg;
    size_t n = size * nmemb;
    size_t l = dcv_rstrip_len(ptr, n);

    if (l >= 5 && strncmp(ptr, "HTTP/", 5) == 0) {
        /* a new response (e.g. after 100 Continue): forget the last one */
        const char *sp = memchr(ptr, ' ', l);

        free(op->location);
        op->location = NULL;
        op->location_len = 0;
        free(op->reason);
        op->reason = NULL;
        if (sp != NULL) {
            const char *sp2 = memchr(sp + 1, ' ', l - (size_t)(sp + 1 - ptr));

            /* outside text: valid UTF-8 before it can reach a reply */
            if (sp2 != NULL)
                op->reason = mpic_utf8_valid(
                    sp2 + 1, l - (size_t)(sp2 + 1 - ptr), false, NULL);
        }
    } else if (l > 9 && strncasecmp(ptr, "location:", 9) == 0) {
        const char *v = ptr + 9;
        size_t vl = l - 9;

        while (vl > 0 && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        /* kept byte for byte (NULs included): judged in on_done */
        free(op->location);
        op->location = xmemdup(v, vl);
        op->location_len = vl;
    }
    return n;
}

static const char *reason_of(long status)
{
    switch (status) {
    case 200:
        return "OK";
    case 301:
        return "Moved Permanently";
    case 302:
        return "Found";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 500:
        return "Internal Server Error";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "";
    }
}

/* One response_history entry (dcv_history_push, dcv_details.c). */
static void history_push(struct http_op *op, long status, bool refused)
{
    dcv_history_push(&op->history, status, op->url, op->location,
                     op->location_len, refused);
}

/* Ends the check; the op is freed with it. */
static void http_finish(struct http_op *op)
{
    struct dcv_check *c = op->c;

    set_details(c, "response_history",
                op->history != NULL ? json_incref(op->history) : json_null());
    dcv_check_finish(c);
}

static void http_fail(struct http_op *op, bool completed, const char *type,
                      const char *msg)
{
    op->c->passed = false;
    op->c->completed = completed;
    dcv_check_error(op->c, type, "%s", msg);
    http_finish(op);
}

/* PCRE2's match and depth limits count per start position, so a
 * backtracking pattern on a 64 KiB page could run 64 Ki times the limit,
 * all on the loop. Every pattern step is an automatic callout that spends
 * one unit of a budget shared by the whole match. */
static int regex_step(pcre2_callout_block *cb, void *arg)
{
    unsigned long *left = arg;

    if (*left == 0)
        return PCRE2_ERROR_CALLOUT;
    (*left)--;
    return 0;
}

static bool regex_matches(struct dcv_check *c, const char *re, const char *subj,
                          size_t len)
{
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    int errcode = 0;
    PCRE2_SIZE erroff = 0;
    char *fixed = NULL;
    unsigned long left = REGEX_STEP_BUDGET;
    int rc;

    code =
        pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                      PCRE2_UTF | PCRE2_AUTO_CALLOUT, &errcode, &erroff, NULL);
    if (code == NULL) {
        dcv_check_error(c, DCV_ERR_PARAMETER,
                        "match_regex does not compile (offset %zu)",
                        (size_t)erroff);
        return false;
    }
    md = pcre2_match_data_create_from_pattern(code, NULL);
    mctx = pcre2_match_context_create(NULL);
    if (md == NULL || mctx == NULL)
        fatalx("%s: out of memory", __func__);
    /* a hostile pattern must not stall the loop on a 64 KiB page */
    pcre2_set_match_limit(mctx, 1000000);
    pcre2_set_depth_limit(mctx, 10000);
    pcre2_set_callout(mctx, regex_step, &left);
    /* A page that is not UTF-8 (the applicant's bytes) is matched as
     * repaired text (docs/json-safety.md: U+FFFD, NULs kept), as the
     * reference matches the text its HTTP client decoded; it is not an
     * error of the request's pattern. */
    if (!mpic_utf8_is_valid(subj, len)) {
        fixed = mpic_utf8_valid(subj, len, true, &len);
        subj = fixed;
    }
    rc = pcre2_match(code, (PCRE2_SPTR)subj, len, 0, 0, md, mctx);
    if (rc == PCRE2_ERROR_CALLOUT || rc == PCRE2_ERROR_MATCHLIMIT ||
        rc == PCRE2_ERROR_DEPTHLIMIT)
        dcv_check_error(c, DCV_ERR_PARAMETER,
                        "match_regex needs more than %lu steps on this page "
                        "(pcre2 %d): too much backtracking",
                        REGEX_STEP_BUDGET, rc);
    else if (rc < -1)
        dcv_check_error(c, DCV_ERR_PARAMETER,
                        "match_regex could not be evaluated (pcre2 %d)", rc);
    pcre2_match_context_free(mctx);
    pcre2_match_data_free(md);
    pcre2_code_free(code);
    free(fixed);
    return rc >= 0;
}

static void judge_page(struct http_op *op, long status)
{
    struct dcv_check *c = op->c;
    const struct mpic_dcv_params *p = &c->creq.dcv;
    const char *want = expected_value(c);
    size_t sample = strlen(want) > 100 ? strlen(want) : 100;
    const char *data = op->body.data != NULL ? op->body.data : "";
    size_t len = op->body.len;
    char *msg;

    c->completed = true;
    dcv_page_details(c->details, op->url, status, data,
                     len < sample ? len : sample);
    if (status != 200) {
        msg = xasprintf("An HTTP error occurred: Response status %ld, "
                        "Response reason: %s",
                        status,
                        op->reason != NULL && op->reason[0] != '\0'
                            ? op->reason
                            : reason_of(status));
        http_fail(op, true, DCV_ERR_HTTP, msg);
        free(msg);
        return;
    }
    if (p->method == MPIC_DCV_ACME_HTTP_01) {
        /* RFC 8555 8.3: the body, trailing whitespace stripped, equals the
         * key authorization; a longer body can never be it. */
        c->passed =
            !op->truncated && dcv_value_matches(data, dcv_rstrip_len(data, len),
                                                want, true, true);
    } else {
        bool ok = true;

        if (want[0] != '\0')
            ok = dcv_value_matches(data, len, want, p->require_exact_case,
                                   false);
        if (ok && p->match_regex != NULL && p->match_regex[0] != '\0')
            ok = regex_matches(c, p->match_regex, data, len);
        else if (want[0] == '\0' &&
                 (p->match_regex == NULL || p->match_regex[0] == '\0'))
            ok = false; /* nothing to look for proves nothing */
        c->passed = ok;
    }
    http_finish(op);
}

static void fetch_hop(struct http_op *op);

static void on_done(CURL *easy, CURLcode result, void *arg)
{
    struct http_op *op = arg;
    struct dcv_check *c = op->c;
    long status = 0;
    char *next = NULL;
    char *why = NULL;
    char *msg = NULL;

    op->easy = NULL; /* ours again; cleaned up below */
    {
        char code[16], port[8];
        long st = 0;

        curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &st);
        snprintf(code, sizeof(code), "%ld", st);
        snprintf(port, sizeof(port), "%u", op->port);
        mpic_trace_step_span(
            &c->trace, "http fetch", MPIC_SPAN_CLIENT, op->hop_start_ns,
            result != CURLE_OK &&
                    !(result == CURLE_WRITE_ERROR && op->truncated)
                ? curl_easy_strerror(result)
                : NULL,
            "url.full", op->url, "server.address", op->ip, "server.port", port,
            "http.response.status_code", code, "mpic.proxy",
            c->d->cfg->http_proxy, (const char *)NULL);
    }
    msg = dcv_proxy_failure(easy, result, c->d->cfg->http_proxy, op->dest,
                            op->errbuf);
    if (msg != NULL) {
        /* Our own egress failed: no verdict on the target. */
        http_fail(op, false, DCV_ERR_PROXY, msg);
        goto out;
    }
    if (result != CURLE_OK && !(result == CURLE_WRITE_ERROR && op->truncated)) {
        msg = xasprintf("fetching %s failed: %s%s%s", op->url,
                        curl_easy_strerror(result),
                        op->errbuf[0] != '\0' ? ": " : "", op->errbuf);
        http_fail(op, false,
                  result == CURLE_OPERATION_TIMEDOUT ? DCV_ERR_TIMEOUT
                                                     : DCV_ERR_HTTP,
                  msg);
        goto out;
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
    if (status >= 300 && status < 400 && op->location != NULL) {
        /* every refusal below records the refused hop in the history */
        if (!dcv_redirect_status_ok(status)) {
            msg = xasprintf("redirect with status %ld from %s is not allowed",
                            status, op->url);
        } else if (op->hops >= c->d->cfg->http_max_redirects) {
            msg = xasprintf("more than %u redirects",
                            c->d->cfg->http_max_redirects);
        } else if (memchr(op->location, '\0', op->location_len) != NULL) {
            msg = xasprintf("redirect from %s refused: the Location holds a "
                            "NUL byte",
                            op->url);
        } else if (dcv_redirect_resolve(op->url, op->location, &next, &why) !=
                   MPIC_OK) {
            msg = xasprintf("redirect from %s refused: %s", op->url, why);
        }
        if (msg != NULL) {
            history_push(op, status, true);
            http_fail(op, true, DCV_ERR_REDIRECT, msg);
            goto out;
        }
        history_push(op, status, false);
        op->hops++;
        free(op->url);
        op->url = next;
        next = NULL;
        http_op_release_easy(op);
        fetch_hop(op);
        goto out;
    }
    judge_page(op, status);
out:
    curl_easy_cleanup(easy);
    free(next);
    free(why);
    free(msg);
}

static void add_request_headers(struct http_op *op)
{
    const struct mpic_dcv_params *p = &op->c->creq.dcv;
    size_t i;

    for (i = 0; p->has_http_headers && i < p->n_http_headers; i++) {
        const struct mpic_header *h = &p->http_headers[i];
        char *line;

        /* No header splitting, and no Host override: the Host is the
         * name being validated (BR 3.2.2.4.18). */
        if (strpbrk(h->name, "\r\n:") != NULL ||
            strpbrk(h->value, "\r\n") != NULL || h->name[0] == '\0' ||
            strcasecmp(h->name, "host") == 0 ||
            strcasecmp(h->name, "content-length") == 0 ||
            strcasecmp(h->name, "transfer-encoding") == 0 ||
            strcasecmp(h->name, "connection") == 0) {
            logt_warn(op->c->creq.trace_id, "dcv: ignoring header %s", h->name);
            continue;
        }
        line = xasprintf("%s: %s", h->name, h->value);
        op->headers = curl_slist_append(op->headers, line);
        free(line);
        if (op->headers == NULL)
            fatalx("%s: out of memory", __func__);
    }
}

static void on_resolved(enum mpic_err st, const char *addr, const char *why,
                        void *arg)
{
    struct http_op *op = arg;
    struct dcv_check *c = op->c;
    const struct mpic_checker_config *cfg = c->d->cfg;
    uint64_t elapsed = ev_now_ms() - op->start_ms;
    char *refusal = NULL;
    char *pin = NULL;
    CURL *e;

    op->res = NULL;
    if (st == MPIC_ERR_NOTFOUND) {
        http_fail(op, true, DCV_ERR_LOOKUP, why);
        goto out;
    }
    if (st != MPIC_OK) {
        http_fail(op, false, DCV_ERR_LOOKUP, why);
        goto out;
    }
    set_details(c, "resolved_ip", mpic_jstr(addr));
    free(op->ip);
    op->ip = xstrdup(addr);
    free(op->dest);
    op->dest = strchr(addr, ':') != NULL ? xasprintf("[%s]:%u", addr, op->port)
                                         : xasprintf("%s:%u", addr, op->port);
    refusal = dcv_address_refusal(c->d, addr);
    if (refusal != NULL) {
        http_fail(op, true, DCV_ERR_PRIVATE, refusal);
        goto out;
    }
    if (elapsed >= cfg->http_timeout_ms) {
        http_fail(op, false, DCV_ERR_TIMEOUT, "HTTP fetch timed out");
        goto out;
    }
    e = curl_easy_init();
    if (e == NULL) {
        http_fail(op, false, DCV_ERR_INTERNAL, "curl_easy_init failed");
        goto out;
    }
    op->easy = e;
    mpic_buf_init(&op->body, op->cap + 1);
    op->errbuf[0] = '\0';
    if (strchr(addr, ':') != NULL)
        pin = xasprintf("::[%s]:", addr);
    else
        pin = xasprintf("::%s:", addr);
    /* "::ADDR:" connects any host and port of this handle to ADDR at the
     * same port: the URL's host keeps its SNI and Host header. */
    op->connect_to = curl_slist_append(NULL, pin);
    if (op->connect_to == NULL)
        fatalx("%s: out of memory", __func__);
    add_request_headers(op);
    curl_easy_setopt(e, CURLOPT_URL, op->url);
    curl_easy_setopt(e, CURLOPT_CONNECT_TO, op->connect_to);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    dcv_proxy_setopt(e, cfg->http_proxy);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     (long)(cfg->http_timeout_ms - elapsed));
    curl_easy_setopt(e, CURLOPT_USERAGENT, cfg->http_user_agent);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, op->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, op);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, op);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, cfg->http_verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, cfg->http_verify_tls ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_CIPHER_LIST, DCV_TLS_CIPHERS);
    curl_easy_setopt(e, CURLOPT_SSL_EC_CURVES, DCV_TLS_GROUPS);
    if (ev_curl_add(c->d->curl, e, on_done, op) != 0) {
        op->easy = NULL;
        curl_easy_cleanup(e);
        http_fail(op, false, DCV_ERR_INTERNAL, "curl refused the transfer");
        goto out;
    }
out:
    free(refusal);
    free(pin);
}

static void fetch_hop(struct http_op *op)
{
    free(op->host);
    op->host = NULL;
    if (dcv_url_host_port(op->url, &op->host, &op->port) != MPIC_OK) {
        http_fail(op, true, DCV_ERR_REDIRECT, "URL not allowed");
        return;
    }
    op->hop_start_ns = mpic_trace_now_ns();
    op->res = dcv_resolve_start(op->c->d, op->host, on_resolved, op);
}

void dcv_http_start(struct dcv_check *c)
{
    struct http_op *op = xcalloc(1, sizeof(*op));
    const struct mpic_dcv_params *p = &c->creq.dcv;
    char *path;

    op->c = c;
    op->start_ms = ev_now_ms();
    c->op = op;
    c->op_cancel = http_op_cancel;
    if (p->method == MPIC_DCV_ACME_HTTP_01) {
        path = xasprintf("/.well-known/acme-challenge/%s",
                         p->token != NULL ? p->token : "");
        op->url = dcv_url_build("http", c->target.name, path);
        op->cap = strlen(expected_value(c)) + HTTP01_SLACK;
    } else {
        path = xasprintf("/.well-known/pki-validation/%s",
                         p->http_token_path != NULL ? p->http_token_path : "");
        op->url =
            dcv_url_build(p->url_scheme == MPIC_URL_HTTPS ? "https" : "http",
                          c->target.name, path);
        op->cap = WEBSITE_BODY_MAX;
    }
    free(path);
    fetch_hop(op);
}
