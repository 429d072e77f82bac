/*
 * Egress through an HTTP CONNECT proxy (http.proxy, MPIC_HTTP_PROXY). BR
 * 3.2.2.9 places a perspective where its traffic leaves for the Internet,
 * so a proxy per region is a way to run perspectives. The checker still
 * resolves every hop through its own resolvers and vets the address; the
 * proxy is only asked for a tunnel to that address and port (CONNECT
 * IP:PORT), so the address policy and the redirect rules hold exactly as
 * without a proxy, and SNI and Host stay the name. Every fetch tunnels,
 * plain HTTP too: a proxy never gets a name to resolve itself.
 */
#include "dcv-checker/dcv.h"

#include "common/mem.h"

void dcv_proxy_setopt(CURL *e, const char *proxy)
{
    if (proxy == NULL) {
        /* Never a proxy from the environment (HTTP_PROXY, ...). */
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        return;
    }
    curl_easy_setopt(e, CURLOPT_PROXY, proxy);
    curl_easy_setopt(e, CURLOPT_PROXYTYPE, (long)CURLPROXY_HTTP);
    curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
    /* NO_PROXY from the environment must not send a fetch around it. */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
}

char *dcv_proxy_failure(CURL *e, CURLcode result, const char *proxy,
                        const char *dest, const char *errbuf)
{
    long code = 0;
    const char *detail = errbuf != NULL && errbuf[0] != '\0'
                             ? errbuf
                             : curl_easy_strerror(result);

    if (proxy == NULL || result == CURLE_OK)
        return NULL;
    curl_easy_getinfo(e, CURLINFO_HTTP_CONNECTCODE, &code);
    if (code == 200)
        return NULL; /* the tunnel stood: the target failed */
    if (result == CURLE_COULDNT_RESOLVE_PROXY)
        return xasprintf("proxy %s: cannot resolve its name: %s", proxy,
                         detail);
    if (code != 0)
        return xasprintf("proxy %s answered %ld to CONNECT %s", proxy, code,
                         dest);
    if (result == CURLE_OPERATION_TIMEDOUT)
        return xasprintf("proxy %s: no tunnel to %s in time: %s", proxy, dest,
                         detail);
    return xasprintf("proxy %s: no tunnel to %s: %s", proxy, dest, detail);
}
