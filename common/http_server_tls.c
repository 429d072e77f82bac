/*
 * TLS for the HTTP layer: reads the certificate, key and client CA files
 * (capped PEM, handed to libmicrohttpd in memory at start) and checks a
 * connection's client certificate through its GnuTLS session. Which
 * requests need a certificate is decided in http_server.c.
 */
#include "common/http_server_int.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

#define TLS_FILE_MAX (1024u * 1024u)

/* ---- TLS client certificates ---- */

bool http_client_cert_verified(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci;
    gnutls_session_t session;
    unsigned status = 0;

    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return false;
    session = (gnutls_session_t)ci->tls_session;
    if (gnutls_certificate_type_get(session) != GNUTLS_CRT_X509)
        return false;
    if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS)
        return false;
    return status == 0;
}

/* ---- TLS files ---- */

static char *read_pem(const char *path, char **errmsg)
{
    struct mpic_buf b;
    char chunk[4096];
    FILE *f;
    size_t n;
    char *out = NULL;

    f = fopen(path, "re");
    if (f == NULL) {
        *errmsg = xasprintf("%s: %s", path, strerror(errno));
        return NULL;
    }
    mpic_buf_init(&b, TLS_FILE_MAX);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (mpic_buf_append(&b, chunk, n) < 0) {
            *errmsg = xasprintf("%s: file too large", path);
            goto out;
        }
    }
    if (ferror(f)) {
        *errmsg = xasprintf("%s: read error", path);
        goto out;
    }
    if (b.len == 0) {
        *errmsg = xasprintf("%s: empty file", path);
        goto out;
    }
    out = mpic_buf_take(&b, NULL);
out:
    mpic_buf_cleanup(&b);
    fclose(f);
    return out;
}

int http_tls_load(struct mpic_http_server *srv,
                  const struct mpic_http_server_config *cfg, char **errmsg)
{
    gnutls_datum_t key = {NULL, 0};

    if (cfg->tls_cert_file == NULL && cfg->tls_key_file == NULL &&
        cfg->tls_client_ca_file == NULL)
        return 0;
    if (cfg->tls_cert_file == NULL || cfg->tls_key_file == NULL) {
        *errmsg = xstrdup("tls: cert_file and key_file must both be set");
        return -1;
    }
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        *errmsg = xstrdup("tls: libmicrohttpd was built without TLS");
        return -1;
    }
    srv->tls_cert = read_pem(cfg->tls_cert_file, errmsg);
    if (srv->tls_cert == NULL)
        return -1;
    srv->tls_key = read_pem(cfg->tls_key_file, errmsg);
    if (srv->tls_key == NULL)
        return -1;
    if (cfg->tls_client_ca_file != NULL) {
        srv->tls_trust = read_pem(cfg->tls_client_ca_file, errmsg);
        if (srv->tls_trust == NULL)
            return -1;
        srv->require_client_cert = true;
    }
    if (gnutls_session_ticket_key_generate(&key) != GNUTLS_E_SUCCESS) {
        *errmsg = xstrdup("tls: cannot make a session ticket key");
        return -1;
    }
    srv->ticket_key = key.data;
    srv->ticket_key_len = key.size;
    return 0;
}

void http_tls_on_connection(void *cls, struct MHD_Connection *conn,
                            void **socket_context,
                            enum MHD_ConnectionNotificationCode toe)
{
    struct mpic_http_server *srv = cls;
    const union MHD_ConnectionInfo *ci;
    gnutls_datum_t key;

    (void)socket_context;
    if (toe != MHD_CONNECTION_NOTIFY_STARTED || srv->ticket_key == NULL)
        return;
    ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return;
    key.data = srv->ticket_key;
    key.size = srv->ticket_key_len;
    /* Without tickets the connection still works, with full handshakes. */
    (void)gnutls_session_ticket_enable_server((gnutls_session_t)ci->tls_session,
                                              &key);
}

void http_tls_cleanup(struct mpic_http_server *srv)
{
    if (srv->ticket_key != NULL) {
        gnutls_memset(srv->ticket_key, 0, srv->ticket_key_len);
        gnutls_free(srv->ticket_key);
        srv->ticket_key = NULL;
    }
    free(srv->tls_cert);
    free(srv->tls_key);
    free(srv->tls_trust);
    srv->tls_cert = srv->tls_key = srv->tls_trust = NULL;
}
