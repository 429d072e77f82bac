/*
 * Checks of the final, layered configuration values that the key tables ask
 * for (listen addresses, resolver addresses, readable files, non-empty
 * strings, required keys) and of TLS file pairs. Each problem is reported
 * against the layer that set the value. Cross-checks of one daemon's own
 * keys (perspectives, resolv.conf) live in its loader.
 */
#include "common/config_int.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "common/mem.h"
#include "common/trace.h"

/* ---- addresses ----------------------------------------------------------- */

static bool parse_port(const char *s, bool allow_zero)
{
    long v;

    if (s == NULL || *s == '\0' || strspn(s, "0123456789") != strlen(s) ||
        strlen(s) > 5)
        return false;
    v = strtol(s, NULL, 10);
    return v <= 65535 && (allow_zero || v > 0);
}

static bool is_hostname(const char *s, size_t n)
{
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return false;
    }
    return s[0] != '-' && s[0] != '.';
}

/* "[v6]" at s with length n; copies the address into buf. */
static bool bracketed_v6(const char *s, size_t n)
{
    char buf[INET6_ADDRSTRLEN + 1];
    struct in6_addr a6;

    if (n < 3 || s[0] != '[' || s[n - 1] != ']' || n - 2 >= sizeof(buf))
        return false;
    memcpy(buf, s + 1, n - 2);
    buf[n - 2] = '\0';
    return inet_pton(AF_INET6, buf, &a6) == 1;
}

static bool ipv4_n(const char *s, size_t n)
{
    char buf[INET_ADDRSTRLEN + 1];
    struct in_addr a4;

    if (n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(AF_INET, buf, &a4) == 1;
}

/* HOST:PORT or [v6]:PORT; port 0..65535. */
const char *mpic_cfg_check_listen(const char *s)
{
    const char *colon;

    if (s == NULL || *s == '\0')
        return "must be HOST:PORT or [IPv6]:PORT";
    colon = strrchr(s, ':');
    if (colon == NULL)
        return "must be HOST:PORT or [IPv6]:PORT (port missing)";
    if (!parse_port(colon + 1, true))
        return "port must be a number in 0..65535";
    if (s[0] == '[') {
        if (!bracketed_v6(s, (size_t)(colon - s)))
            return "invalid IPv6 address in brackets";
        return NULL;
    }
    if (memchr(s, ':', (size_t)(colon - s)) != NULL)
        return "IPv6 addresses must be written in brackets: [::]:PORT";
    if (!ipv4_n(s, (size_t)(colon - s)) && !is_hostname(s, (size_t)(colon - s)))
        return "invalid host";
    return NULL;
}

const char *mpic_cfg_check_resolver(const char *s)
{
    struct in6_addr a6;
    const char *colon;

    if (s == NULL || *s == '\0')
        return "empty resolver address";
    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || !bracketed_v6(s, (size_t)(close - s) + 1))
            return "invalid IPv6 address in brackets";
        if (close[1] == '\0')
            return NULL;
        if (close[1] != ':' || !parse_port(close + 2, false))
            return "port must be a number in 1..65535";
        return NULL;
    }
    if (inet_pton(AF_INET6, s, &a6) == 1)
        return NULL;
    colon = strchr(s, ':');
    if (colon == NULL)
        return ipv4_n(s, strlen(s)) ? NULL : "not an IP address";
    if (!ipv4_n(s, (size_t)(colon - s)))
        return "not an IP address (IPv6 with a port needs brackets)";
    if (!parse_port(colon + 1, false))
        return "port must be a number in 1..65535";
    return NULL;
}

/* ---- loopback ------------------------------------------------------------ */

bool mpic_cfg_host_is_loopback(const char *host)
{
    char buf[INET6_ADDRSTRLEN + 1];
    struct in_addr a4;
    struct in6_addr a6;
    size_t n;

    if (host == NULL)
        return false;
    if (strcasecmp(host, "localhost") == 0)
        return true;
    n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof(buf))
            return false;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) ||
               (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

bool mpic_cfg_listen_is_loopback(const char *listen)
{
    const char *colon;
    char *host;
    bool r;

    if (mpic_cfg_check_listen(listen) != NULL ||
        (colon = strrchr(listen, ':')) == NULL)
        return false;
    host = xstrndup(listen, (size_t)(colon - listen));
    r = mpic_cfg_host_is_loopback(host);
    free(host);
    return r;
}

/* ---- the table's checks -------------------------------------------------- */

static bool file_readable(const char *path, int *err)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        *err = errno;
        return false;
    }
    fclose(f);
    return true;
}

void mpic_cfg_validate_keys(struct cfg_loader *ld)
{
    for (size_t i = 0; i < ld->n_keys; i++) {
        const struct cfg_key *k = &ld->keys[i];
        void *p = cfg_field(ld, i);
        const char *why;
        int err = 0;

        if (!cfg_key_applies(ld, k))
            continue;
        if (k->type == K_STR && (k->flags & KF_REQUIRED) &&
            *(char **)p == NULL) {
            if (ld->file != NULL)
                mpic_cfg_issue(ld->errs, ld->file,
                               ld->root_line ? ld->root_line : 1, k->name,
                               "required (set it in this file%s%s)",
                               k->env ? " or in $" : "", k->env ? k->env : "");
            else
                mpic_cfg_issue(ld->errs, "configuration", 0, k->name,
                               "required (set it in --config FILE%s%s)",
                               k->env ? " or in $" : "", k->env ? k->env : "");
            continue;
        }
        switch (k->check) {
        case CHK_NONE:
            break;
        case CHK_LISTEN:
            why = mpic_cfg_check_listen(*(char **)p);
            if (why != NULL)
                mpic_cfg_issue_key(ld, i, -1, "'%s': %s",
                                   *(char **)p ? *(char **)p : "", why);
            break;
        case CHK_RESOLVERS: {
            const struct mpic_strv *sv = p;

            for (size_t j = 0; j < sv->n; j++) {
                why = mpic_cfg_check_resolver(sv->v[j]);
                if (why != NULL)
                    mpic_cfg_issue_key(ld, i, (long)j, "'%s': %s", sv->v[j],
                                       why);
            }
            break;
        }
        case CHK_FILE:
            /* --lenient-paths: the file exists only at run time. */
            if (*(char **)p != NULL && !ld->lenient_paths &&
                !file_readable(*(char **)p, &err))
                mpic_cfg_issue_key(ld, i, -1, "cannot read '%s': %s",
                                   *(char **)p, strerror(err));
            break;
        case CHK_NONEMPTY:
            if (k->type == K_STR && *(char **)p != NULL && **(char **)p == '\0')
                mpic_cfg_issue_key(ld, i, -1, "must not be empty");
            if (k->type == K_STRV) {
                const struct mpic_strv *sv = p;

                for (size_t j = 0; j < sv->n; j++) {
                    if (sv->v[j][0] == '\0')
                        mpic_cfg_issue_key(ld, i, (long)j, "must not be empty");
                }
            }
            break;
        }
    }
}

/* Never prompts for a pass phrase: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

#define TLS_FILE_MAX (1024 * 1024)

/*
 * A memory BIO over the whole of path if it is a regular file of at most
 * TLS_FILE_MAX bytes (never /dev/zero or a FIFO that would stall the
 * check); NULL with *why set otherwise.
 */
static BIO *tls_file_bio(const char *path, const char **why)
{
    struct stat st;
    FILE *f = fopen(path, "r");
    char *buf = NULL;
    BIO *bio = NULL;

    *why = "cannot be read";
    if (f == NULL)
        return NULL;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        *why = "is not a regular file";
        goto out;
    }
    if (st.st_size > TLS_FILE_MAX) {
        *why = "is larger than 1 MiB";
        goto out;
    }
    buf = xmalloc((size_t)st.st_size + 1);
    if (fread(buf, 1, (size_t)st.st_size, f) != (size_t)st.st_size)
        goto out;
    bio = BIO_new(BIO_s_mem());
    if (bio == NULL ||
        BIO_write(bio, buf, (int)st.st_size) != (int)st.st_size) {
        BIO_free(bio);
        bio = NULL;
        *why = "cannot be read (out of memory)";
    }
out:
    free(buf);
    fclose(f);
    return bio;
}

/*
 * The key in key_file must belong to the (first) certificate in cert_file,
 * or the daemon would only fail at its first handshake. Files that cannot
 * be opened were reported by their key's CHK_FILE check.
 */
static void check_key_matches(struct cfg_loader *ld, long ic, long ik,
                              const char *cert_key,
                              const struct mpic_tls_files *t)
{
    X509 *x = NULL;
    EVP_PKEY *pk = NULL;
    BIO *bio = NULL;
    const char *why = NULL;
    int err = 0;

    if (!file_readable(t->cert_file, &err) || !file_readable(t->key_file, &err))
        return;
    bio = tls_file_bio(t->cert_file, &why);
    if (bio != NULL) {
        x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
        why = "holds no PEM certificate";
    }
    if (x == NULL) {
        mpic_cfg_issue_key(ld, (size_t)ic, -1, "'%s' %s", t->cert_file, why);
        goto out;
    }
    bio = tls_file_bio(t->key_file, &why);
    if (bio != NULL) {
        pk = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
        BIO_free(bio);
        why = "holds no usable PEM private key (encrypted keys are not "
              "supported)";
    }
    if (pk == NULL) {
        mpic_cfg_issue_key(ld, (size_t)ik, -1, "'%s' %s", t->key_file, why);
        goto out;
    }
    if (X509_check_private_key(x, pk) != 1)
        mpic_cfg_issue_key(ld, (size_t)ik, -1,
                           "'%s' is not the private key of the certificate "
                           "in %s ('%s')",
                           t->key_file, cert_key, t->cert_file);
out:
    ERR_clear_error();
    EVP_PKEY_free(pk);
    X509_free(x);
}

void mpic_cfg_validate_tls_pair(struct cfg_loader *ld, const char *section,
                                const struct mpic_tls_files *t)
{
    char *cert = xasprintf("%s.cert_file", section);
    char *key = xasprintf("%s.key_file", section);
    long ic = mpic_cfg_key_index(ld, cert), ik = mpic_cfg_key_index(ld, key);

    if (t->cert_file != NULL && t->key_file == NULL && ic >= 0)
        mpic_cfg_issue_key(ld, (size_t)ic, -1, "%s is set but %s is not", cert,
                           key);
    if (t->key_file != NULL && t->cert_file == NULL && ik >= 0)
        mpic_cfg_issue_key(ld, (size_t)ik, -1, "%s is set but %s is not", key,
                           cert);
    if (t->cert_file != NULL && t->key_file != NULL && ic >= 0 && ik >= 0 &&
        !ld->lenient_paths)
        check_key_matches(ld, ic, ik, cert, t);
    if (t->client_ca_file != NULL && t->cert_file == NULL) {
        char *ca = xasprintf("%s.client_ca_file", section);
        long ica = mpic_cfg_key_index(ld, ca);

        if (ica >= 0)
            mpic_cfg_issue_key(ld, (size_t)ica, -1,
                               "client certificates need %s and %s", cert, key);
        free(ca);
    }
    free(cert);
    free(key);
}

void mpic_cfg_validate_otlp_endpoint(struct cfg_loader *ld, const char *url)
{
    long i = mpic_cfg_key_index(ld, "tracing.otlp_endpoint");
    const char *why = mpic_otlp_endpoint_check(url);

    if (i >= 0 && why != NULL)
        mpic_cfg_issue_key(ld, (size_t)i, -1, "'%s' %s", url, why);
}
