/*
 * What every HTTP exchange with a checker shares, calls (fanout.c) and
 * keep-alive pings (warm.c) alike: the libcurl options of a handle (TLS to
 * the checker, the shared TLS session cache, socket options) and the
 * request headers of each perspective.
 */
#include "coordinator/coordinator.h"

#include <stdlib.h>

#include "common/mem.h"

/*
 * Options every handle to a checker has, calls (fanout.c) and keep-alive
 * pings (warm.c) alike; set once when a handle is made. A call sets the
 * rest.
 */
int coord_easy_setup_tls(const struct coord *c, CURL *easy)
{
    const struct mpic_coordinator_config *cfg = c->cfg;
    int rc = 0;

    rc |= curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    rc |= curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(easy, CURLOPT_TCP_NODELAY, 1L);
    rc |= curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
    if (c->share != NULL)
        rc |= curl_easy_setopt(easy, CURLOPT_SHARE, c->share);
    if (cfg->checker_tls.ca_file != NULL)
        rc |= curl_easy_setopt(easy, CURLOPT_CAINFO, cfg->checker_tls.ca_file);
    if (cfg->checker_tls.cert_file != NULL) {
        rc |=
            curl_easy_setopt(easy, CURLOPT_SSLCERT, cfg->checker_tls.cert_file);
        rc |= curl_easy_setopt(easy, CURLOPT_SSLKEY, cfg->checker_tls.key_file);
    }
    return rc == 0 ? 0 : -1;
}

/*
 * The request headers of the calls to perspective i, built on first use and
 * kept until coord_fanout_cleanup(): Content-Type, an empty Expect (no
 * 100-continue round trip), then the perspective's configured headers.
 */
struct curl_slist *coord_perspective_headers(struct coord *c, size_t i)
{
    const struct mpic_perspective *p = &c->cfg->perspectives[i];
    struct curl_slist *h = NULL, *nh;

    if (c->hdrs == NULL)
        c->hdrs = xcalloc(c->cfg->n_perspectives, sizeof(*c->hdrs));
    if (c->hdrs[i] != NULL)
        return c->hdrs[i];
    nh = curl_slist_append(h, "Content-Type: application/json");
    if (nh == NULL)
        return NULL;
    h = nh;
    nh = curl_slist_append(h, "Expect:");
    if (nh == NULL)
        goto fail;
    h = nh;
    for (size_t k = 0; k < p->n_headers; k++) {
        char *line =
            xasprintf("%s: %s", p->headers[k].name, p->headers[k].value);

        nh = curl_slist_append(h, line);
        free(line);
        if (nh == NULL)
            goto fail;
        h = nh;
    }
    c->hdrs[i] = h;
    return h;

fail:
    curl_slist_free_all(h);
    return NULL;
}
