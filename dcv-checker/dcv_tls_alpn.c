/*
 * acme-tls-alpn-01 (RFC 8737, RFC 8738 for IP identifiers; BR 3.2.2.4.20
 * and 3.2.2.5.7). An OpenSSL client on a non-blocking socket driven by the
 * ev loop: TCP to the resolved address on port 443, TLS 1.2 or later,
 * ALPN "acme-tls/1" only, SNI the name (or the reverse-DNS name of an IP
 * target), no chain verification (the certificate is self-signed by
 * design). Then the certificate is judged: the server chose acme-tls/1,
 * exactly one SAN equal to the target, and a critical id-pe-acmeIdentifier
 * extension whose value is the DER OCTET STRING of the SHA-256 digest.
 */
#include "dcv-checker/dcv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/ev_curl.h"
#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/trace.h"

#define ACME_TLS_OID      "1.3.6.1.5.5.7.1.31" /* id-pe-acmeIdentifier */
#define ACME_TLS_PORT     443
#define ACME_TLS_PORT_STR "443"

struct tls_op {
    struct dcv_check *c;
    struct dcv_resolve *res;
    struct ev_timer *timer;
    int fd;
    bool connected;
    /* Through http.proxy: libcurl opens the tunnel (CONNECT_ONLY) and owns
     * the socket until the handle is cleaned up. */
    CURL *tunnel;
    char *ip;         /* the address connected to, once resolved */
    char *dest;       /* "IP:443" */
    int64_t start_ns; /* for the "tls-alpn handshake" span */
    char errbuf[CURL_ERROR_SIZE];
    SSL_CTX *ctx;
    SSL *ssl;
    char *sni;
};

static void tls_op_close(struct tls_op *op)
{
    if (op->fd >= 0) {
        ev_io_watch(op->c->d->loop, op->fd, 0, NULL, NULL);
        if (op->tunnel == NULL)
            close(op->fd);
        op->fd = -1;
    }
    if (op->tunnel != NULL) {
        ev_curl_cancel(op->c->d->curl, op->tunnel); /* if still opening */
        curl_easy_cleanup(op->tunnel);              /* closes the socket */
        op->tunnel = NULL;
    }
    SSL_free(op->ssl);
    op->ssl = NULL;
    SSL_CTX_free(op->ctx);
    op->ctx = NULL;
    ev_timer_stop(op->c->d->loop, op->timer);
    op->timer = NULL;
}

static void tls_op_cancel(void *arg)
{
    struct tls_op *op = arg;

    dcv_resolve_cancel(op->res);
    tls_op_close(op);
    free(op->sni);
    free(op->ip);
    free(op->dest);
    free(op);
}

static void tls_finish(struct tls_op *op, bool completed, const char *type,
                       const char *msg)
{
    struct dcv_check *c = op->c;

    mpic_trace_step_span(&c->trace, "tls-alpn handshake", MPIC_SPAN_CLIENT,
                         op->start_ns, type != NULL ? msg : NULL,
                         "tls.server.name", op->sni, "server.address", op->ip,
                         "server.port", ACME_TLS_PORT_STR, "mpic.proxy",
                         c->d->cfg->http_proxy, (const char *)NULL);

    tls_op_close(op);
    c->completed = completed;
    if (type != NULL) {
        c->passed = false;
        dcv_check_error(c, type, "%s", msg);
    }
    dcv_check_finish(c);
}

static char *ssl_errors(void)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    if (e == 0)
        return xstrdup("no details");
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return xstrdup(buf);
}

/* The one SAN must be the target (RFC 8737 3, RFC 8738 6). */
static const char *check_san(struct tls_op *op, X509 *cert, char **msg)
{
    const struct mpic_target *t = &op->c->target;
    GENERAL_NAMES *names;
    const GENERAL_NAME *gn;
    const char *type = NULL;
    int n;

    names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    n = names != NULL ? sk_GENERAL_NAME_num(names) : 0;
    if (n != 1) {
        type = DCV_ERR_TLS_NO_SINGLE_SAN;
        *msg = xasprintf("certificate has %d subjectAltNames, not 1", n);
        goto out;
    }
    gn = sk_GENERAL_NAME_value(names, 0);
    if (t->kind == MPIC_TARGET_DNS) {
        const unsigned char *p;
        int len;

        if (gn->type != GEN_DNS) {
            type = DCV_ERR_TLS_SAN_NOT_DNS;
            *msg = xstrdup("the subjectAltName is not a dNSName");
            goto out;
        }
        p = ASN1_STRING_get0_data(gn->d.dNSName);
        len = ASN1_STRING_length(gn->d.dNSName);
        if (len < 0 || (size_t)len != strlen(t->name) ||
            strncasecmp((const char *)p, t->name, (size_t)len) != 0 ||
            memchr(p, '\0', (size_t)len) != NULL) {
            type = DCV_ERR_TLS_SAN_NOT_HOST;
            *msg = xasprintf("the dNSName is not %s", t->name);
        }
    } else {
        size_t want = t->kind == MPIC_TARGET_IPV4 ? 4 : 16;

        if (gn->type != GEN_IPADD) {
            type = DCV_ERR_TLS_SAN_TYPE;
            *msg = xstrdup("the subjectAltName is not an iPAddress");
            goto out;
        }
        if ((size_t)ASN1_STRING_length(gn->d.iPAddress) != want ||
            memcmp(ASN1_STRING_get0_data(gn->d.iPAddress), t->addr, want) !=
                0) {
            type = DCV_ERR_TLS_SAN_NOT_HOST;
            *msg = xasprintf("the iPAddress is not %s", t->name);
        }
    }
out:
    GENERAL_NAMES_free(names);
    return type;
}

/* The acmeIdentifier extension (RFC 8737 3). */
static const char *check_extension(struct tls_op *op, X509 *cert, char **msg)
{
    const char *hex = op->c->creq.dcv.key_authorization_hash;
    ASN1_OBJECT *oid = OBJ_txt2obj(ACME_TLS_OID, 1);
    const char *type = NULL;
    unsigned char *digest = NULL;
    long dlen = 0;
    X509_EXTENSION *ext;
    const ASN1_OCTET_STRING *val;
    int idx;

    /* a constant OID: only a failed allocation can make this NULL */
    if (oid == NULL)
        fatalx("%s: OBJ_txt2obj failed (out of memory)", __func__);
    idx = X509_get_ext_by_OBJ(cert, oid, -1);
    if (idx < 0) {
        type = DCV_ERR_TLS_NO_EXT;
        *msg = xstrdup("no id-pe-acmeIdentifier extension");
        goto out;
    }
    if (X509_get_ext_by_OBJ(cert, oid, idx) >= 0) {
        type = DCV_ERR_TLS_EXT_VALUE;
        *msg = xstrdup("more than one id-pe-acmeIdentifier extension");
        goto out;
    }
    ext = X509_get_ext(cert, idx);
    if (!X509_EXTENSION_get_critical(ext)) {
        type = DCV_ERR_TLS_NONCRIT;
        *msg = xstrdup("the id-pe-acmeIdentifier extension is not critical");
        goto out;
    }
    digest = OPENSSL_hexstr2buf(hex != NULL ? hex : "", &dlen);
    val = X509_EXTENSION_get_data(ext);
    /* extnValue holds the DER of OCTET STRING (SIZE (32)): 04 20 || hash */
    if (digest == NULL || dlen != 32 || ASN1_STRING_length(val) != 34 ||
        ASN1_STRING_get0_data(val)[0] != 0x04 ||
        ASN1_STRING_get0_data(val)[1] != 0x20 ||
        CRYPTO_memcmp(ASN1_STRING_get0_data(val) + 2, digest, 32) != 0) {
        type = DCV_ERR_TLS_EXT_VALUE;
        *msg = xstrdup("the id-pe-acmeIdentifier value does not match "
                       "key_authorization_hash");
    }
out:
    OPENSSL_free(digest);
    ASN1_OBJECT_free(oid);
    return type;
}

static void judge(struct tls_op *op)
{
    struct dcv_check *c = op->c;
    const unsigned char *alpn = NULL;
    unsigned alpn_len = 0;
    X509 *cert = NULL;
    const char *type = NULL;
    char *msg = NULL;

    cert = SSL_get1_peer_certificate(op->ssl);
    if (cert != NULL)
        mpic_jset(c->details, "common_name", dcv_cert_common_name(cert));
    /* RFC 8737 3: the server must have negotiated acme-tls/1 */
    SSL_get0_alpn_selected(op->ssl, &alpn, &alpn_len);
    if (alpn_len != 10 || memcmp(alpn, "acme-tls/1", 10) != 0) {
        type = DCV_ERR_TLS_ALPN_PROTO;
        msg = xstrdup("the server did not negotiate acme-tls/1");
        goto out;
    }
    if (cert == NULL) {
        type = DCV_ERR_TLS_CERT;
        msg = xstrdup("no certificate");
        goto out;
    }
    type = check_san(op, cert, &msg);
    if (type != NULL)
        goto out;
    type = check_extension(op, cert, &msg);
    if (type != NULL)
        goto out;
    c->passed = true;
out:
    X509_free(cert);
    tls_finish(op, true, type, msg);
    free(msg);
}

static void on_io(struct ev_loop *loop, int fd, unsigned events, void *arg);

static void drive(struct tls_op *op)
{
    unsigned want = 0;
    int rc;
    char *msg;
    char *e;

    if (!op->connected) {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);

        if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            soerr = errno;
        if (soerr != 0) {
            msg = xasprintf("connecting to port %d failed: %s", ACME_TLS_PORT,
                            strerror(soerr));
            tls_finish(op, false, DCV_ERR_TLS, msg);
            free(msg);
            return;
        }
        op->connected = true;
    }
    ERR_clear_error();
    rc = SSL_connect(op->ssl);
    if (rc == 1) {
        judge(op);
        return;
    }
    switch (SSL_get_error(op->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        want = EV_READ;
        break;
    case SSL_ERROR_WANT_WRITE:
        want = EV_WRITE;
        break;
    default:
        e = ssl_errors();
        msg = xasprintf("TLS handshake with %s failed: %s", op->sni, e);
        free(e);
        tls_finish(op, false, DCV_ERR_TLS, msg);
        free(msg);
        return;
    }
    if (ev_io_watch(op->c->d->loop, op->fd, want, on_io, op) != 0)
        tls_finish(op, false, DCV_ERR_INTERNAL, "cannot watch the socket");
}

static void on_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    drive(arg);
}

static void on_timeout(struct ev_loop *loop, void *arg)
{
    struct tls_op *op = arg;

    op->timer = NULL;
    tls_finish(op, false, DCV_ERR_TIMEOUT, "TLS-ALPN check timed out");
}

/* The proxy's tunnel to IP:443 stands (or failed): TLS runs over it. */
static void on_tunnel(CURL *easy, CURLcode result, void *arg)
{
    struct tls_op *op = arg;
    curl_socket_t s = CURL_SOCKET_BAD;
    char *msg;

    msg = dcv_proxy_failure(easy, result, op->c->d->cfg->http_proxy, op->dest,
                            op->errbuf);
    if (msg == NULL && result != CURLE_OK)
        msg = xasprintf("connecting to %s through proxy %s failed: %s",
                        op->dest, op->c->d->cfg->http_proxy,
                        op->errbuf[0] != '\0' ? op->errbuf
                                              : curl_easy_strerror(result));
    if (msg == NULL &&
        (curl_easy_getinfo(easy, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK ||
         s == CURL_SOCKET_BAD))
        msg = xasprintf("proxy %s: no socket for the tunnel to %s",
                        op->c->d->cfg->http_proxy, op->dest);
    if (msg != NULL) {
        tls_finish(op, false, DCV_ERR_PROXY, msg);
        free(msg);
        return;
    }
    op->fd = (int)s;
    op->connected = true;
    if (SSL_set_fd(op->ssl, op->fd) != 1) {
        tls_finish(op, false, DCV_ERR_INTERNAL, "cannot set up TLS");
        return;
    }
    drive(op);
}

/* Asks http.proxy for a tunnel to addr:443 (CONNECT IP:443). */
static void tunnel_start(struct tls_op *op, const char *addr)
{
    struct dcv_check *c = op->c;
    char *url;
    CURL *e = curl_easy_init();

    if (e == NULL) {
        tls_finish(op, false, DCV_ERR_INTERNAL, "curl_easy_init failed");
        return;
    }
    op->tunnel = e;
    op->errbuf[0] = '\0';
    /* An IP literal: libcurl resolves nothing, the CONNECT names it. */
    url = xasprintf("http://%s/", op->dest);
    curl_easy_setopt(e, CURLOPT_URL, url);
    free(url);
    dcv_proxy_setopt(e, c->d->cfg->http_proxy);
    curl_easy_setopt(e, CURLOPT_CONNECT_ONLY, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    /* No FORBID_REUSE: it would close the tunnel when the CONNECT is done.
     * A CONNECT_ONLY connection is never reused by libcurl anyway. */
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)c->d->cfg->http_timeout_ms);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, op->errbuf);
    if (ev_curl_add_connect_only(c->d->curl, e, on_tunnel, op) != 0) {
        op->tunnel = NULL;
        curl_easy_cleanup(e);
        tls_finish(op, false, DCV_ERR_INTERNAL, "curl refused the transfer");
    }
}

static void on_resolved(enum mpic_err st, const char *addr, const char *why,
                        void *arg)
{
    static const unsigned char alpn[] = "\x0a"
                                        "acme-tls/1";
    struct tls_op *op = arg;
    struct dcv_check *c = op->c;
    struct sockaddr_storage ss;
    socklen_t sl;
    char *refusal = NULL;
    char *msg = NULL;

    op->res = NULL;
    if (st != MPIC_OK) {
        tls_finish(op, st == MPIC_ERR_NOTFOUND, DCV_ERR_LOOKUP, why);
        goto out;
    }
    op->ip = xstrdup(addr);
    op->dest = strchr(addr, ':') != NULL
                   ? xasprintf("[%s]:%d", addr, ACME_TLS_PORT)
                   : xasprintf("%s:%d", addr, ACME_TLS_PORT);
    refusal = dcv_address_refusal(c->d, addr);
    if (refusal != NULL) {
        tls_finish(op, true, DCV_ERR_PRIVATE, refusal);
        goto out;
    }
    memset(&ss, 0, sizeof(ss));
    if (strchr(addr, ':') != NULL) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(ACME_TLS_PORT);
        inet_pton(AF_INET6, addr, &s6->sin6_addr);
        sl = sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons(ACME_TLS_PORT);
        inet_pton(AF_INET, addr, &s4->sin_addr);
        sl = sizeof(*s4);
    }
    op->ctx = SSL_CTX_new(TLS_client_method());
    if (op->ctx == NULL) {
        tls_finish(op, false, DCV_ERR_INTERNAL, "SSL_CTX_new failed");
        goto out;
    }
    SSL_CTX_set_min_proto_version(op->ctx, TLS1_2_VERSION);
    if (SSL_CTX_set_cipher_list(op->ctx, DCV_TLS_CIPHERS) != 1 ||
        SSL_CTX_set1_groups_list(op->ctx, DCV_TLS_GROUPS) != 1) {
        tls_finish(op, false, DCV_ERR_INTERNAL,
                   "cannot restrict TLS to elliptic-curve key exchange");
        goto out;
    }
    /* the certificate is self-signed by design: judged below, not here */
    SSL_CTX_set_verify(op->ctx, SSL_VERIFY_NONE, NULL);
    op->ssl = SSL_new(op->ctx);
    if (c->d->cfg->http_proxy != NULL) {
        if (op->ssl == NULL ||
            SSL_set_alpn_protos(op->ssl, alpn, sizeof(alpn) - 1) != 0 ||
            SSL_set_tlsext_host_name(op->ssl, op->sni) != 1) {
            tls_finish(op, false, DCV_ERR_INTERNAL, "cannot set up TLS");
            goto out;
        }
        op->timer = ev_timer_start(c->d->loop, c->d->cfg->http_timeout_ms,
                                   on_timeout, op);
        tunnel_start(op, addr);
        goto out;
    }
    op->fd =
        socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (op->ssl == NULL || op->fd < 0) {
        tls_finish(op, false, DCV_ERR_INTERNAL, "cannot create the socket");
        goto out;
    }
    if (SSL_set_alpn_protos(op->ssl, alpn, sizeof(alpn) - 1) != 0 ||
        SSL_set_tlsext_host_name(op->ssl, op->sni) != 1 ||
        SSL_set_fd(op->ssl, op->fd) != 1) {
        tls_finish(op, false, DCV_ERR_INTERNAL, "cannot set up TLS");
        goto out;
    }
    if (connect(op->fd, (struct sockaddr *)&ss, sl) != 0 &&
        errno != EINPROGRESS) {
        msg = xasprintf("connecting to %s port %d failed: %s", addr,
                        ACME_TLS_PORT, strerror(errno));
        tls_finish(op, false, DCV_ERR_TLS, msg);
        goto out;
    }
    op->timer =
        ev_timer_start(c->d->loop, c->d->cfg->http_timeout_ms, on_timeout, op);
    if (ev_io_watch(c->d->loop, op->fd, EV_WRITE, on_io, op) != 0)
        tls_finish(op, false, DCV_ERR_INTERNAL, "cannot watch the socket");
out:
    free(refusal);
    free(msg);
}

void dcv_tls_alpn_start(struct dcv_check *c)
{
    struct tls_op *op = xcalloc(1, sizeof(*op));

    op->c = c;
    op->fd = -1;
    op->start_ns = mpic_trace_now_ns();
    c->op = op;
    c->op_cancel = tls_op_cancel;
    /* RFC 8738 6: an IP identifier is named by its reverse-DNS name */
    if (c->target.kind == MPIC_TARGET_DNS)
        op->sni = xstrdup(c->target.name);
    else
        op->sni = mpic_target_reverse_name(&c->target);
    op->res = dcv_resolve_start(c->d, c->target.name, on_resolved, op);
}
