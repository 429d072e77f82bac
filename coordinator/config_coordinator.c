/*
 * The coordinator's configuration (see config_coordinator.h): its key
 * table, defaults and loader, the perspectives list with each checker's
 * URLs and headers, and available_perspectives.yaml (codes, names, RIRs,
 * too_close_codes), cross-checked against each other. Checker URLs are
 * checked with libcurl's URL parser, the one that will use them.
 */
#include "coordinator/config_coordinator.h"

#include <ctype.h>
#include <curl/curl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config_int.h"
#include "common/mem.h"
#include "coordinator/cohort.h"

/* ---- RIRs ---------------------------------------------------------------- */

static const char *const rir_names[MPIC_RIR_COUNT] = {
    [MPIC_RIR_ARIN] = "arin",       [MPIC_RIR_RIPE_NCC] = "ripe ncc",
    [MPIC_RIR_APNIC] = "apnic",     [MPIC_RIR_LACNIC] = "lacnic",
    [MPIC_RIR_AFRINIC] = "afrinic",
};

int mpic_rir_from_name(const char *s, enum mpic_rir *out)
{
    if (s == NULL)
        return -1;
    for (int i = 0; i < MPIC_RIR_COUNT; i++) {
        if (strcasecmp(s, rir_names[i]) == 0) {
            *out = (enum mpic_rir)i;
            return 0;
        }
    }
    /* Spellings of RIPE NCC seen in operators' files. */
    if (strcasecmp(s, "ripe-ncc") == 0 || strcasecmp(s, "ripe_ncc") == 0 ||
        strcasecmp(s, "ripencc") == 0) {
        *out = MPIC_RIR_RIPE_NCC;
        return 0;
    }
    return -1;
}

const char *mpic_rir_name(enum mpic_rir r)
{
    if ((int)r < 0 || r >= MPIC_RIR_COUNT)
        return "unknown";
    return rir_names[r];
}

/* Lines of one perspective entry, for cross-checks after parsing. */
struct cfg_persp_lines {
    unsigned item, code, dcv, caa, headers;
    /* [0]: dcv_url, [1]: caa_url: each replica's line, and whether the
     * value was a list (its keys are then dcv_url[k]). */
    unsigned urls[2][MPIC_MAX_REPLICAS];
    bool url_list[2];
};

/* ---- the key table ------------------------------------------------------- */

#define OK_(f) offsetof(struct mpic_coordinator_config, f)

static const struct cfg_key coordinator_keys[] = {
    {"listen", K_STR, OK_(listen), 0, 0, 0, CHK_LISTEN, "MPIC_LISTEN", NULL},
    {"log_level", K_LOGLEVEL, OK_(log_level), 0, 0, 0, CHK_NONE,
     "MPIC_LOG_LEVEL", NULL},
    {"available_perspectives_file", K_STR, OK_(available_perspectives_file), 0,
     0, 0, CHK_NONEMPTY, NULL, NULL},
    {"perspectives", K_PERSPECTIVES, OK_(perspectives), 0, 0, 0, CHK_NONE, NULL,
     NULL},
    {"default_perspective_count", K_LONG, OK_(default_perspective_count), 2,
     1000, 0, CHK_NONE, NULL, NULL},
    {"absolute_max_attempts", K_LONG, OK_(absolute_max_attempts), 1, 100, 0,
     CHK_NONE, NULL, NULL},
    {"hash_secret", K_STR, OK_(hash_secret), 0, 0, KF_SECRET | KF_REQUIRED,
     CHK_NONEMPTY, "MPIC_HASH_SECRET", NULL},
    {"remote_timeout_ms", K_UINT, OK_(remote_timeout_ms), 1, 600000, 0,
     CHK_NONE, NULL, NULL},
    {"straggler_timeout_ms", K_UINT, OK_(straggler_timeout_ms), 0, 600000, 0,
     CHK_NONE, NULL, NULL},
    {"api_keys", K_STRV, OK_(api_keys), 0, 0, KF_SECRET, CHK_NONEMPTY,
     "MPIC_API_KEYS", ","},
    {"allow_unauthenticated", K_BOOL, OK_(allow_unauthenticated), 0, 0, 0,
     CHK_NONE, NULL, NULL},
    {"allow_plaintext_checkers", K_BOOL, OK_(allow_plaintext_checkers), 0, 0, 0,
     CHK_NONE, NULL, NULL},
    {"max_request_bytes", K_SIZE, OK_(max_request_bytes), 1024,
     16L * 1024 * 1024, 0, CHK_NONE, NULL, NULL},
    {"tls.cert_file", K_STR, OK_(tls.cert_file), 0, 0, 0, CHK_FILE, NULL, NULL},
    {"tls.key_file", K_STR, OK_(tls.key_file), 0, 0, 0, CHK_FILE, NULL, NULL},
    {"tls.client_ca_file", K_STR, OK_(tls.client_ca_file), 0, 0, 0, CHK_FILE,
     NULL, NULL},
    {"checker_tls.ca_file", K_STR, OK_(checker_tls.ca_file), 0, 0, 0, CHK_FILE,
     NULL, NULL},
    {"checker_tls.cert_file", K_STR, OK_(checker_tls.cert_file), 0, 0, 0,
     CHK_FILE, NULL, NULL},
    {"checker_tls.key_file", K_STR, OK_(checker_tls.key_file), 0, 0, 0,
     CHK_FILE, NULL, NULL},
    /* Parsed and checked by validate_compliance(). */
    {"compliance.min_perspective_count", K_STR, OK_(compliance_min_text), 0, 0,
     0, CHK_NONE, NULL, NULL},
    {"compliance.method_sunsets", K_STR, OK_(compliance_sunsets_text), 0, 0, 0,
     CHK_NONE, NULL, NULL},
    /* Checked by mpic_cfg_validate_otlp_endpoint(). */
    {"tracing.otlp_endpoint", K_STR, OK_(tracing_otlp_endpoint), 0, 0, 0,
     CHK_NONE, NULL, NULL},
};

#define N_COORDINATOR_KEYS                                                     \
    (sizeof(coordinator_keys) / sizeof(coordinator_keys[0]))

/* ---- perspectives -------------------------------------------------------- */

static void perspective_cleanup(struct mpic_perspective *p)
{
    free(p->code);
    free(p->name);
    mpic_strv_cleanup(&p->too_close_codes);
    free(p->dcv_url);
    free(p->caa_url);
    mpic_strv_cleanup(&p->dcv_urls);
    mpic_strv_cleanup(&p->caa_urls);
    for (size_t i = 0; i < p->n_headers; i++) {
        free(p->headers[i].name);
        free(p->headers[i].value);
    }
    free(p->headers);
    memset(p, 0, sizeof(*p));
}

static void perspectives_free(struct mpic_perspective *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        perspective_cleanup(&v[i]);
    free(v);
}

/* A string member of a perspective mapping. */
static bool persp_string(struct cfg_loader *ld, yaml_node_t *v, const char *key,
                         char **dst)
{
    const char *s = cfg_scalar(v);

    if (s == NULL || cfg_is_null(v)) {
        mpic_cfg_issue_at(ld, v, key, "expected a string, got %s",
                          s == NULL ? cfg_node_kind(v) : "null");
        return false;
    }
    free(*dst);
    *dst = xstrdup(s);
    return true;
}

/*
 * dcv_url or caa_url (f 0 or 1): one URL, or a list of the URLs of the
 * perspective's replicas (docs/failover.md). *first and urls are replaced
 * (null clears them); lines go to pl.
 */
static void persp_urls(struct cfg_loader *ld, yaml_node_t *v, const char *key,
                       char **first, struct mpic_strv *urls,
                       struct cfg_persp_lines *pl, int f)
{
    size_t n;

    free(*first);
    *first = NULL;
    mpic_strv_cleanup(urls);
    pl->url_list[f] = false;
    if (cfg_is_null(v))
        return;
    if (v->type != YAML_SEQUENCE_NODE) {
        if (persp_string(ld, v, key, first)) {
            mpic_strv_push(urls, *first);
            pl->urls[f][0] = cfg_line_of(v);
            if (f == 0)
                pl->dcv = pl->urls[f][0];
            else
                pl->caa = pl->urls[f][0];
        }
        return;
    }
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    if (n == 0 || n > MPIC_MAX_REPLICAS) {
        mpic_cfg_issue_at(ld, v, key,
                          "expected one URL or a list of 1 to %d URLs (the "
                          "replicas of this perspective's checker), got %zu",
                          MPIC_MAX_REPLICAS, n);
        return;
    }
    pl->url_list[f] = true;
    for (size_t k = 0; k < n; k++) {
        yaml_node_t *item = cfg_node(ld->doc, v->data.sequence.items.start[k]);
        char *ikey = xasprintf("%s[%zu]", key, k);
        char *u = NULL;

        if (persp_string(ld, item, ikey, &u)) {
            pl->urls[f][urls->n] = cfg_line_of(item);
            mpic_strv_push_owned(urls, u);
        }
        free(ikey);
    }
    if (urls->n != n) {
        mpic_strv_cleanup(urls); /* reported */
        return;
    }
    *first = xstrdup(urls->v[0]);
    if (f == 0)
        pl->dcv = pl->urls[f][0];
    else
        pl->caa = pl->urls[f][0];
}

static bool header_seen(const struct mpic_perspective *p, const char *name)
{
    for (size_t i = 0; i < p->n_headers; i++) {
        if (strcasecmp(p->headers[i].name, name) == 0)
            return true;
    }
    return false;
}

static bool persp_headers(struct cfg_loader *ld, yaml_node_t *v,
                          const char *key, struct mpic_perspective *p)
{
    bool ok = true;
    size_t n;

    if (cfg_is_null(v))
        return true;
    if (v->type != YAML_MAPPING_NODE) {
        mpic_cfg_issue_at(ld, v, key,
                          "expected a mapping of header names to values, "
                          "got %s",
                          cfg_node_kind(v));
        return false;
    }
    n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    p->headers = xcalloc(n ? n : 1, sizeof(*p->headers));
    for (size_t j = 0; j < n; j++) {
        yaml_node_pair_t *pair = &v->data.mapping.pairs.start[j];
        yaml_node_t *hk = cfg_node(ld->doc, pair->key);
        yaml_node_t *hv = cfg_node(ld->doc, pair->value);
        const char *name = cfg_scalar(hk), *value = cfg_scalar(hv);
        char *hkey = xasprintf("%s.%s", key, name != NULL ? name : "?");

        if (name == NULL || cfg_is_null(hk)) {
            mpic_cfg_issue_at(ld, hk, hkey, "header name must be a string");
            ok = false;
        } else if (value == NULL || cfg_is_null(hv)) {
            mpic_cfg_issue_at(ld, hv, hkey,
                              "header value must be a string, got %s",
                              value == NULL ? cfg_node_kind(hv) : "null");
            ok = false;
        } else if (name[strspn(name, "!#$%&'*+-.^_`|~0123456789"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz")] != '\0') {
            mpic_cfg_issue_at(ld, hk, hkey, "not a valid HTTP header name");
            ok = false;
        } else if (strpbrk(value, "\r\n") != NULL) {
            mpic_cfg_issue_at(ld, hv, hkey,
                              "header value must not contain CR or LF");
            ok = false;
        } else if (header_seen(p, name)) {
            mpic_cfg_issue_at(ld, hk, hkey, "duplicate header");
            ok = false;
        } else {
            p->headers[p->n_headers].name = xstrdup(name);
            p->headers[p->n_headers].value = xstrdup(value);
            p->n_headers++;
        }
        free(hkey);
    }
    return ok;
}

static const char *const persp_keys[] = {"code", "dcv_url", "caa_url",
                                         "headers"};

static void parse_perspectives(struct cfg_loader *ld, size_t i, yaml_node_t *v)
{
    struct mpic_coordinator_config *c = ld->base;
    struct mpic_perspective *ps = NULL;
    struct cfg_persp_lines *pl = NULL;
    size_t n = 0;

    if (cfg_is_null(v))
        goto done;
    if (v->type != YAML_SEQUENCE_NODE) {
        mpic_cfg_issue_at(ld, v, "perspectives", "expected a list, got %s",
                          cfg_node_kind(v));
        return;
    }
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    ps = xcalloc(n ? n : 1, sizeof(*ps));
    pl = xcalloc(n ? n : 1, sizeof(*pl));
    for (size_t j = 0; j < n; j++) {
        yaml_node_t *item = cfg_node(ld->doc, v->data.sequence.items.start[j]);
        char *base = xasprintf("perspectives[%zu]", j);

        pl[j].item = cfg_line_of(item);
        if (item->type != YAML_MAPPING_NODE) {
            mpic_cfg_issue_at(ld, item, base, "expected a mapping, got %s",
                              cfg_node_kind(item));
            free(base);
            continue;
        }
        for (yaml_node_pair_t *pair = item->data.mapping.pairs.start;
             pair < item->data.mapping.pairs.top; pair++) {
            yaml_node_t *kn = cfg_node(ld->doc, pair->key);
            yaml_node_t *vn = cfg_node(ld->doc, pair->value);
            const char *name = cfg_scalar(kn);
            char *key = xasprintf("%s.%s", base, name != NULL ? name : "?");

            if (name == NULL) {
                mpic_cfg_issue_at(ld, kn, key, "keys must be strings");
            } else if (mpic_cfg_duplicate_key(ld, item, pair, key)) {
                /* reported */
            } else if (strcmp(name, "code") == 0) {
                if (persp_string(ld, vn, key, &ps[j].code))
                    pl[j].code = cfg_line_of(vn);
            } else if (strcmp(name, "dcv_url") == 0) {
                persp_urls(ld, vn, key, &ps[j].dcv_url, &ps[j].dcv_urls, &pl[j],
                           0);
            } else if (strcmp(name, "caa_url") == 0) {
                persp_urls(ld, vn, key, &ps[j].caa_url, &ps[j].caa_urls, &pl[j],
                           1);
            } else if (strcmp(name, "headers") == 0) {
                pl[j].headers = cfg_line_of(vn);
                persp_headers(ld, vn, key, &ps[j]);
            } else {
                mpic_cfg_unknown_key(ld, kn, key, persp_keys,
                                     sizeof(persp_keys) /
                                         sizeof(persp_keys[0]));
            }
            free(key);
        }
        if (ps[j].code == NULL)
            mpic_cfg_issue_at(ld, item, base, "code is required");
        free(base);
    }
done:
    perspectives_free(c->perspectives, c->n_perspectives);
    free(ld->plines);
    c->perspectives = ps;
    c->n_perspectives = n;
    ld->plines = pl;
    ld->n_plines = n;
    mpic_cfg_origin_set(&ld->origins[i], ld->file, cfg_line_of(v));
}

/* ---- available_perspectives.yaml ----------------------------------------- */

struct avail {
    char *code;
    char *name;
    enum mpic_rir rir;
    struct mpic_strv too_close;
    unsigned line;
};

static void avail_free(struct avail *a, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(a[i].code);
        free(a[i].name);
        mpic_strv_cleanup(&a[i].too_close);
    }
    free(a);
}

/* The keys of an available_regions entry (the Open MPIC format). */
static const char *const avail_keys[] = {"code", "name", "rir",
                                         "too_close_codes"};

/* Parses entry j of available_regions into all[j]; all[0..j) are done. */
static void avail_region(struct cfg_loader *ld, yaml_node_t *item, size_t j,
                         struct avail *all)
{
    struct avail *a = &all[j];
    bool have_rir = false;

    a->line = cfg_line_of(item);
    for (yaml_node_pair_t *pair = item->data.mapping.pairs.start;
         pair < item->data.mapping.pairs.top; pair++) {
        yaml_node_t *kn = cfg_node(ld->doc, pair->key);
        yaml_node_t *vn = cfg_node(ld->doc, pair->value);
        const char *name = cfg_scalar(kn), *s = cfg_scalar(vn);
        char *key = xasprintf("available_regions[%zu].%s", j,
                              name != NULL ? name : "?");

        if (name == NULL) {
            mpic_cfg_issue_at(ld, kn, key, "keys must be strings");
        } else if (mpic_cfg_duplicate_key(ld, item, pair, key)) {
            /* reported */
        } else if (strcmp(name, "code") == 0) {
            if (s == NULL || cfg_is_null(vn) || *s == '\0') {
                mpic_cfg_issue_at(ld, vn, key, "expected a non-empty string");
            } else {
                for (size_t k = 0; k < j; k++) {
                    if (all[k].code != NULL && strcmp(all[k].code, s) == 0)
                        mpic_cfg_issue_at(
                            ld, vn, key,
                            "duplicate region code '%s' (first at line "
                            "%u)",
                            s, all[k].line);
                }
                free(a->code);
                a->code = xstrdup(s);
            }
        } else if (strcmp(name, "name") == 0) {
            if (s == NULL)
                mpic_cfg_issue_at(ld, vn, key, "expected a string, got %s",
                                  cfg_node_kind(vn));
            else if (!cfg_is_null(vn))
                a->name = xstrdup(s);
        } else if (strcmp(name, "rir") == 0) {
            have_rir = true;
            if (s == NULL || mpic_rir_from_name(s, &a->rir) != 0)
                mpic_cfg_issue_at(
                    ld, vn, key,
                    "unknown RIR '%s' (expected ARIN, RIPE NCC, APNIC, "
                    "LACNIC or AFRINIC)",
                    s != NULL ? s : cfg_node_kind(vn));
        } else if (strcmp(name, "too_close_codes") == 0) {
            if (cfg_is_null(vn)) {
                /* none */
            } else if (vn->type != YAML_SEQUENCE_NODE) {
                mpic_cfg_issue_at(ld, vn, key,
                                  "expected a list of strings, got %s",
                                  cfg_node_kind(vn));
            } else {
                for (yaml_node_item_t *it = vn->data.sequence.items.start;
                     it < vn->data.sequence.items.top; it++) {
                    yaml_node_t *e = cfg_node(ld->doc, *it);
                    const char *es = cfg_scalar(e);

                    if (es == NULL || cfg_is_null(e)) {
                        char *ek = xasprintf(
                            "%s[%ld]", key,
                            (long)(it - vn->data.sequence.items.start));
                        mpic_cfg_issue_at(ld, e, ek, "expected a string");
                        free(ek);
                    } else {
                        mpic_strv_push(&a->too_close, es);
                    }
                }
            }
        } else {
            mpic_cfg_unknown_key(ld, kn, key, avail_keys,
                                 sizeof(avail_keys) / sizeof(avail_keys[0]));
        }
        free(key);
    }
    if (a->code == NULL) {
        char *key = xasprintf("available_regions[%zu].code", j);
        mpic_cfg_issue_at(ld, item, key, "required");
        free(key);
    }
    if (!have_rir) {
        char *key = xasprintf("available_regions[%zu].rir", j);
        mpic_cfg_issue_at(ld, item, key, "required");
        free(key);
    }
}

/*
 * Loads the available perspectives file into *out (owned). Problems go to
 * ld->errs against that file. Returns false if the file could not be used.
 */
static bool load_available(struct cfg_loader *parent, const char *path,
                           struct avail **out, size_t *n_out)
{
    struct cfg_loader ld = *parent;
    yaml_document_t doc;
    yaml_node_t *root, *regions = NULL;
    struct avail *a = NULL;
    size_t n = 0, errs_before = parent->errs->n;

    *out = NULL;
    *n_out = 0;
    if (mpic_cfg_yaml_load(path, &doc, parent->errs) != 0)
        return false;
    ld.file = path;
    ld.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        mpic_cfg_issue_at(&ld, root, "available_regions",
                          "expected a mapping with key available_regions");
        goto out;
    }
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        yaml_node_t *kn = cfg_node(&doc, pair->key);
        const char *name = cfg_scalar(kn);
        static const char *const top[] = {"available_regions"};

        if (name != NULL && strcmp(name, "available_regions") == 0)
            regions = cfg_node(&doc, pair->value);
        else
            mpic_cfg_unknown_key(&ld, kn, name != NULL ? name : "?", top, 1);
    }
    if (regions == NULL) {
        mpic_cfg_issue_at(&ld, root, "available_regions", "required");
        goto out;
    }
    if (regions->type != YAML_SEQUENCE_NODE) {
        mpic_cfg_issue_at(&ld, regions, "available_regions",
                          "expected a list, got %s", cfg_node_kind(regions));
        goto out;
    }
    n = (size_t)(regions->data.sequence.items.top -
                 regions->data.sequence.items.start);
    a = xcalloc(n ? n : 1, sizeof(*a));
    for (size_t j = 0; j < n; j++) {
        yaml_node_t *item =
            cfg_node(&doc, regions->data.sequence.items.start[j]);

        if (item->type != YAML_MAPPING_NODE) {
            char *key = xasprintf("available_regions[%zu]", j);
            mpic_cfg_issue_at(&ld, item, key, "expected a mapping, got %s",
                              cfg_node_kind(item));
            free(key);
            continue;
        }
        avail_region(&ld, item, j, a);
    }
    for (size_t j = 0; j < n; j++) {
        for (size_t k = 0; k < a[j].too_close.n; k++) {
            bool known = false;

            for (size_t m = 0; m < n && !known; m++)
                known = a[m].code != NULL &&
                        strcmp(a[m].code, a[j].too_close.v[k]) == 0;
            if (!known)
                log_warn("%s:%u: available_regions[%zu].too_close_codes: "
                         "'%s' is not defined in this file",
                         path, a[j].line, j, a[j].too_close.v[k]);
        }
    }
out:
    yaml_document_delete(&doc);
    if (parent->errs->n != errs_before) {
        avail_free(a, n);
        return false;
    }
    *out = a;
    *n_out = n;
    return true;
}

/* ---- checker URLs -------------------------------------------------------- */

/*
 * An absolute http:// or https:// URL with a host. On success, *norm (if
 * not NULL) is the URL in the form two URLs of one checker share: scheme
 * and host in lower case, the port always written, no fragment (owned);
 * *plaintext_remote tells an http:// URL whose host is not loopback.
 */
static const char *check_url(const char *s, char **norm, bool *plaintext_remote)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL, *port = NULL;
    char *path = NULL, *query = NULL;
    const char *why = NULL;

    if (u == NULL)
        return "cannot parse URLs (libcurl)";
    /* libcurl tolerates "http:/h" and "http:///h"; be strict here. */
    if (strncasecmp(s, "http://", 7) != 0 &&
        strncasecmp(s, "https://", 8) != 0) {
        why = "must be an absolute http:// or https:// URL";
        goto out;
    }
    if (s[strcspn(s, ":") + 3] == '/') {
        why = "URL has no host";
        goto out;
    }
    if (curl_url_set(u, CURLUPART_URL, s, 0) != CURLUE_OK) {
        why = "not a valid absolute URL";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
        (strcasecmp(scheme, "http") != 0 && strcasecmp(scheme, "https") != 0)) {
        why = "URL scheme must be http or https";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        host[0] == '\0') {
        why = "URL has no host";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
        why = "credentials in the URL are not allowed (use headers)";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
            CURLUE_OK ||
        curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
        why = "not a valid absolute URL";
        goto out;
    }
    if (curl_url_get(u, CURLUPART_QUERY, &query, 0) != CURLUE_OK)
        query = NULL;
    for (char *c = scheme; *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    for (char *c = host; *c != '\0'; c++)
        *c = (char)tolower((unsigned char)*c);
    if (norm != NULL)
        *norm = xasprintf("%s://%s:%s%s%s%s", scheme, host, port, path,
                          query != NULL ? "?" : "", query != NULL ? query : "");
    if (plaintext_remote != NULL)
        *plaintext_remote =
            strcmp(scheme, "http") == 0 && !mpic_cfg_host_is_loopback(host);
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_free(port);
    curl_free(path);
    curl_free(query);
    curl_url_cleanup(u);
    return why;
}

/* ---- the loader ---------------------------------------------------------- */

static void coordinator_defaults(struct mpic_coordinator_config *c)
{
    memset(c, 0, sizeof(*c));
    c->listen = xstrdup("0.0.0.0:8000");
    c->log_level = MPIC_LOG_INFO;
    c->available_perspectives_file = xstrdup("available_perspectives.yaml");
    c->default_perspective_count = 5; /* BR 3.2.2.9 from 2026-12-15 */
    c->absolute_max_attempts = 3;
    c->remote_timeout_ms = 12000;
    c->straggler_timeout_ms = 2000;
    c->max_request_bytes = 65536;
    c->compliance_min_text = xstrdup("auto");
    c->compliance_sunsets_text = xstrdup("enforce");
}

/* Resolves a relative path against the directory of the config file. */
static char *resolve_relative(const char *config_file, const char *path)
{
    char *copy, *dir, *res;

    if (path[0] == '/' || config_file == NULL)
        return xstrdup(path);
    copy = xstrdup(config_file);
    dir = dirname(copy);
    res = xasprintf("%s/%s", dir, path);
    free(copy);
    return res;
}

/*
 * Checks perspectives[i].<field> (url, at line; NULL: not set) and keeps
 * its normalised form in *norm for check_shared_checkers().
 */
static void check_checker_url(struct cfg_loader *ld,
                              const struct mpic_coordinator_config *c,
                              const char *key, const char *url, unsigned line,
                              char **norm)
{
    bool plaintext_remote = false;
    const char *why;

    (void)c;
    if (url == NULL)
        return;
    why = check_url(url, norm, &plaintext_remote);
    if (why != NULL) {
        mpic_cfg_issue(ld->errs, ld->file, line, key, "'%s': %s", url, why);
        return;
    }
    /* BR 3.2.2.9: CA-to-perspective traffic authenticated and encrypted. */
    if (plaintext_remote && !c->allow_plaintext_checkers)
        mpic_cfg_issue(ld->errs, ld->file, line, key,
                       "'%s': plaintext http:// to a host that is not "
                       "loopback; the BRs (3.2.2.9) require authenticated, "
                       "encrypted traffic to perspectives: use https:// "
                       "(see checker_tls), or set allow_plaintext_checkers: "
                       "true if the network path is protected otherwise",
                       url);
}

/* Replica k of field f (0 dcv_url, 1 caa_url) of perspective i. */
#define URL_SLOT(i, f, k) ((((i)*2) + (f)) * MPIC_MAX_REPLICAS + (k))

static const char *const url_fields[2] = {"dcv_url", "caa_url"};

/* The key of replica k of field f of perspective i: dcv_url or dcv_url[k]. */
static void url_key(char *key, size_t size, const struct cfg_loader *ld,
                    size_t i, size_t f, size_t k)
{
    if (ld->plines[i].url_list[f])
        snprintf(key, size, "perspectives[%zu].%s[%zu]", i, url_fields[f], k);
    else
        snprintf(key, size, "perspectives[%zu].%s", i, url_fields[f]);
}

static const struct mpic_strv *persp_url_list(const struct mpic_perspective *p,
                                              size_t f)
{
    return f == 0 ? &p->dcv_urls : &p->caa_urls;
}

/*
 * Two perspective codes calling one checker would count one perspective
 * twice towards quorum, and a replica listed twice under one perspective is
 * a mistake (one of the replicas meant is missing). norms[URL_SLOT(i, f,
 * k)]: the URLs, normalised (NULL: not set or not valid).
 */
static void check_shared_checkers(struct cfg_loader *ld,
                                  const struct mpic_coordinator_config *c,
                                  char *const *norms)
{
    for (size_t i = 0; i < c->n_perspectives; i++) {
        for (size_t f = 0; f < 2; f++) {
            const struct mpic_strv *urls =
                persp_url_list(&c->perspectives[i], f);

            for (size_t k = 0; k < urls->n && k < MPIC_MAX_REPLICAS; k++) {
                const char *u = norms[URL_SLOT(i, f, k)];
                bool done = false;

                if (u == NULL)
                    continue;
                for (size_t j = 0; j <= i && !done; j++) {
                    for (size_t g = 0; g < 2 && !done; g++) {
                        const struct mpic_strv *other =
                            persp_url_list(&c->perspectives[j], g);
                        bool same_code =
                            j == i || (c->perspectives[i].code != NULL &&
                                       c->perspectives[j].code != NULL &&
                                       strcmp(c->perspectives[i].code,
                                              c->perspectives[j].code) == 0);

                        for (size_t l = 0;
                             l < other->n && l < MPIC_MAX_REPLICAS && !done;
                             l++) {
                            const char *o = norms[URL_SLOT(j, g, l)];
                            char key[80], okey[80];

                            if (j == i && (g > f || (g == f && l >= k)))
                                break; /* only entries before this one */
                            if (o == NULL || strcmp(o, u) != 0)
                                continue;
                            if (same_code && (j != i || g != f))
                                continue; /* reported as a duplicate code,
                                             or its DCV and CAA checker */
                            url_key(key, sizeof(key), ld, i, f, k);
                            url_key(okey, sizeof(okey), ld, j, g, l);
                            if (same_code)
                                mpic_cfg_issue(
                                    ld->errs, ld->file,
                                    ld->plines[i].urls[f][k], key,
                                    "'%s' is listed twice (%s, line %u): "
                                    "each replica once",
                                    urls->v[k], okey, ld->plines[j].urls[g][l]);
                            else
                                mpic_cfg_issue(
                                    ld->errs, ld->file,
                                    ld->plines[i].urls[f][k], key,
                                    "'%s' is the checker of perspective '%s' "
                                    "too (%s, line %u): one checker would "
                                    "count twice towards quorum",
                                    urls->v[k],
                                    c->perspectives[j].code != NULL
                                        ? c->perspectives[j].code
                                        : "?",
                                    okey, ld->plines[j].urls[g][l]);
                            done = true;
                        }
                    }
                }
            }
        }
    }
}

/*
 * Secure by default: /mpic reachable beyond loopback needs API keys (or
 * client certificates), unless a proxy in front authenticates.
 */
static void check_open_to_anyone(struct cfg_loader *ld,
                                 const struct mpic_coordinator_config *c)
{
    long li = mpic_cfg_key_index(ld, "listen");

    MPIC_ASSERT(li >= 0);
    if (c->api_keys.n > 0 || c->tls.client_ca_file != NULL ||
        c->allow_unauthenticated || mpic_cfg_check_listen(c->listen) != NULL ||
        mpic_cfg_listen_is_loopback(c->listen))
        return;
    mpic_cfg_issue_key(ld, (size_t)li, -1,
                       "'%s' is beyond loopback, and /mpic would answer "
                       "anyone: set api_keys (or MPIC_API_KEYS), or listen "
                       "on 127.0.0.1, or set allow_unauthenticated: true if "
                       "a proxy in front authenticates clients",
                       c->listen);
}

static void validate_perspectives(struct cfg_loader *ld,
                                  struct mpic_coordinator_config *c)
{
    const char *src = ld->file;
    struct avail *a = NULL;
    size_t n_a = 0;
    bool have_avail = false;
    long ai = mpic_cfg_key_index(ld, "available_perspectives_file");
    char *resolved;
    char **norms = NULL;

    MPIC_ASSERT(ai >= 0);
    if (c->available_perspectives_file == NULL ||
        c->available_perspectives_file[0] == '\0') {
        /* `available_perspectives_file:` with no value */
        mpic_cfg_issue_key(ld, (size_t)ai, -1, "must name a file");
        free(c->available_perspectives_file);
        c->available_perspectives_file = NULL;
        return;
    }
    resolved = resolve_relative(c->config_file, c->available_perspectives_file);
    free(c->available_perspectives_file);
    c->available_perspectives_file = resolved;
    if (c->n_perspectives > 0 || ld->origins[ai].set)
        have_avail = load_available(ld, resolved, &a, &n_a);
    norms =
        xcalloc(2 * MPIC_MAX_REPLICAS * c->n_perspectives + 1, sizeof(*norms));

    for (size_t i = 0; i < c->n_perspectives; i++) {
        struct mpic_perspective *p = &c->perspectives[i];
        const struct cfg_persp_lines *pl = &ld->plines[i];
        char key[64];

        if (p->code == NULL)
            continue; /* reported while parsing */
        snprintf(key, sizeof(key), "perspectives[%zu].code", i);
        for (size_t j = 0; j < i; j++) {
            if (c->perspectives[j].code != NULL &&
                strcmp(c->perspectives[j].code, p->code) == 0) {
                mpic_cfg_issue(
                    ld->errs, src, pl->code, key,
                    "duplicate perspective code '%s' (first at line %u)",
                    p->code, ld->plines[j].code);
                break;
            }
        }
        if (p->dcv_url == NULL && p->caa_url == NULL) {
            snprintf(key, sizeof(key), "perspectives[%zu]", i);
            mpic_cfg_issue(ld->errs, src, pl->item, key,
                           "needs dcv_url or caa_url (or both)");
        }
        for (size_t f = 0; f < 2; f++) {
            const struct mpic_strv *urls = persp_url_list(p, f);

            for (size_t k = 0; k < urls->n && k < MPIC_MAX_REPLICAS; k++) {
                url_key(key, sizeof(key), ld, i, f, k);
                check_checker_url(ld, c, key, urls->v[k], pl->urls[f][k],
                                  &norms[URL_SLOT(i, f, k)]);
            }
        }
        if (!have_avail)
            continue;
        snprintf(key, sizeof(key), "perspectives[%zu].code", i);
        for (size_t j = 0; j <= n_a; j++) {
            if (j == n_a) {
                mpic_cfg_issue(ld->errs, src, pl->code, key,
                               "perspective '%s' is not defined in %s", p->code,
                               resolved);
                break;
            }
            if (a[j].code == NULL || strcmp(a[j].code, p->code) != 0)
                continue;
            p->rir = a[j].rir;
            free(p->name);
            p->name = a[j].name != NULL ? xstrdup(a[j].name) : NULL;
            mpic_strv_cleanup(&p->too_close_codes);
            mpic_strv_copy(&p->too_close_codes, &a[j].too_close);
            break;
        }
    }
    avail_free(a, n_a);
    check_shared_checkers(ld, c, norms);
    for (size_t i = 0; i < 2 * MPIC_MAX_REPLICAS * c->n_perspectives; i++)
        free(norms[i]);
    free(norms);

    if (c->default_perspective_count > (long)c->n_perspectives) {
        long di = mpic_cfg_key_index(ld, "default_perspective_count");

        MPIC_ASSERT(di >= 0);
        mpic_cfg_issue_key(
            ld, (size_t)di, -1,
            "%ld exceeds the number of perspectives configured (%zu)",
            c->default_perspective_count, c->n_perspectives);
    }
    if (have_avail && c->n_perspectives > 1) {
        bool distinct = false;

        for (size_t i = 1; i < c->n_perspectives; i++)
            distinct |= c->perspectives[i].rir != c->perspectives[0].rir;
        if (!distinct)
            log_warn("%s: perspectives: all perspectives are in one RIR; "
                     "no cohort can span two RIRs",
                     src != NULL ? src : "configuration");
    }
}

/* ---- compliance (open-mpic-api.md 9) ------------------------------------ */

static time_t config_now; /* 0: the real clock */

void mpic_coordinator_config_set_now(time_t now)
{
    config_now = now;
}

/* Perspectives with a checker for the check type (caa true: CAA). */
static size_t count_with_checker(const struct mpic_coordinator_config *c,
                                 bool caa)
{
    size_t n = 0;

    for (size_t i = 0; i < c->n_perspectives; i++)
        n += (caa ? c->perspectives[i].caa_url : c->perspectives[i].dcv_url) !=
             NULL;
    return n;
}

/*
 * Whether cohorts of default_perspective_count can be formed from the
 * perspectives of one check type (RIRs, too_close_codes): if not, every
 * request that uses the default fails with a cohort error.
 */
static void warn_cohorts(const char *src,
                         const struct mpic_coordinator_config *c, bool caa)
{
    struct mpic_perspective *ps;
    struct mpic_cohorts co;
    size_t n = 0;
    char *why = NULL;

    n = count_with_checker(c, caa);
    if (n == 0)
        return;
    if (n < (size_t)c->default_perspective_count) {
        log_warn("%s: default_perspective_count: only %zu perspectives have "
                 "a %s checker; requests that use the default (%ld) will "
                 "be refused",
                 src != NULL ? src : "configuration", n, caa ? "CAA" : "DCV",
                 c->default_perspective_count);
        return;
    }
    n = 0;
    ps = xcalloc(c->n_perspectives, sizeof(*ps));
    for (size_t i = 0; i < c->n_perspectives; i++) {
        if ((caa ? c->perspectives[i].caa_url : c->perspectives[i].dcv_url) !=
            NULL)
            ps[n++] = c->perspectives[i]; /* shallow */
    }
    if (mpic_cohorts_build(ps, n, (size_t)c->default_perspective_count,
                           "check-config", "example.com", &co, &why) == MPIC_OK)
        mpic_cohorts_cleanup(&co);
    else
        log_warn("%s: default_perspective_count: no cohort of %ld %s "
                 "perspectives can be formed (%s); requests that use the "
                 "default will fail",
                 src != NULL ? src : "configuration",
                 c->default_perspective_count, caa ? "CAA" : "DCV",
                 why != NULL ? why : "?");
    free(why);
    free(ps);
}

/*
 * compliance.min_perspective_count and method_sunsets, and the minimum in
 * force today (or at mpic_coordinator_config_set_now()) against
 * default_perspective_count and the perspectives configured.
 */
static void validate_compliance(struct cfg_loader *ld,
                                struct mpic_coordinator_config *c,
                                bool perspectives_ok)
{
    long mi = mpic_cfg_key_index(ld, "compliance.min_perspective_count");
    long si = mpic_cfg_key_index(ld, "compliance.method_sunsets");
    long di = mpic_cfg_key_index(ld, "default_perspective_count");
    long pi = mpic_cfg_key_index(ld, "perspectives");
    const char *t = c->compliance_min_text;
    time_t now = config_now != 0 ? config_now : time(NULL);
    const char *since = NULL;
    bool from_config, ok = true;
    long min;

    MPIC_ASSERT(mi >= 0 && si >= 0 && di >= 0 && pi >= 0);
    c->compliance.min_perspective_count = 0;
    if (t == NULL || strcmp(t, "auto") != 0) {
        char *end = NULL;
        long v = -1;

        if (t != NULL && t[0] >= '0' && t[0] <= '9' && strlen(t) <= 9)
            v = strtol(t, &end, 10);
        if (v < 2 || end == NULL || *end != '\0') {
            mpic_cfg_issue_key(ld, (size_t)mi, -1,
                               "expected auto or a whole number of at least "
                               "2, got '%s'",
                               t != NULL ? t : "null");
            ok = false;
        } else {
            c->compliance.min_perspective_count = v;
        }
    }
    if (mpic_sunset_mode_from_name(c->compliance_sunsets_text,
                                   &c->compliance.method_sunsets) != 0) {
        mpic_cfg_issue_key(
            ld, (size_t)si, -1, "expected enforce, warn or off, got '%s'",
            c->compliance_sunsets_text != NULL ? c->compliance_sunsets_text
                                               : "null");
        ok = false;
    }
    if (!ok)
        return;

    min = mpic_compliance_minimum(&c->compliance, now, &from_config);
    if (!from_config)
        (void)mpic_br_min_perspectives(now, &since);
    else if (min < mpic_br_min_perspectives(now, NULL))
        log_warn("%s: compliance.min_perspective_count: %ld is below the "
                 "minimum of %ld remote perspectives that BR 3.2.2.9 "
                 "requires today: for tests and labs only",
                 ld->file != NULL ? ld->file : "configuration", min,
                 mpic_br_min_perspectives(now, NULL));
    if (c->default_perspective_count < min) {
        if (from_config)
            mpic_cfg_issue_key(ld, (size_t)di, -1,
                               "%ld is below compliance.min_perspective_count "
                               "(%ld)",
                               c->default_perspective_count, min);
        else
            mpic_cfg_issue_key(ld, (size_t)di, -1,
                               "%ld is below the minimum of %ld remote "
                               "perspectives that BR 3.2.2.9 requires %s%s",
                               c->default_perspective_count, min,
                               since != NULL ? "from " : "before 2026-03-15",
                               since != NULL ? since : "");
    }
    if (!perspectives_ok)
        return;
    if (c->n_perspectives < (size_t)min)
        mpic_cfg_issue_key(ld, (size_t)pi, -1,
                           "%zu perspectives configured, fewer than the "
                           "minimum of %ld (%s)",
                           c->n_perspectives, min,
                           from_config ? "compliance.min_perspective_count"
                                       : "BR 3.2.2.9 on this day");
    else if (c->default_perspective_count <= (long)c->n_perspectives)
        for (int caa = 0; caa < 2; caa++)
            warn_cohorts(ld->file, c, caa != 0);
}

enum mpic_err mpic_coordinator_config_load(int argc, char **argv,
                                           struct mpic_coordinator_config *out,
                                           enum mpic_cli_action *action,
                                           struct mpic_errlist *errs)
{
    struct cfg_loader ld;
    struct cfg_cli cli;
    size_t errs_before = errs->n;

    coordinator_defaults(out);
    mpic_cfg_parse_cli(argc, argv, &cli, errs);
    *action = cli.action;
    if (cli.action == MPIC_CLI_HELP || cli.action == MPIC_CLI_VERSION)
        return MPIC_OK;

    mpic_cfg_loader_init(&ld, coordinator_keys, N_COORDINATOR_KEYS, 0, out,
                         errs);
    ld.parse_perspectives = parse_perspectives;
    mpic_cfg_apply_layers(&ld, &cli, &out->config_file);

    mpic_cfg_validate_keys(&ld);
    mpic_cfg_validate_tls_pair(&ld, "tls", &out->tls);
    mpic_cfg_validate_tls_pair(&ld, "checker_tls", &out->checker_tls);
    mpic_cfg_validate_otlp_endpoint(&ld, out->tracing_otlp_endpoint);
    {
        size_t before = errs->n;

        validate_perspectives(&ld, out);
        check_open_to_anyone(&ld, out);
        validate_compliance(&ld, out, errs->n == before);
    }
    mpic_cfg_loader_cleanup(&ld);
    return errs->n == errs_before ? MPIC_OK : MPIC_ERR_INVALID;
}

void mpic_coordinator_config_cleanup(struct mpic_coordinator_config *c)
{
    if (c == NULL)
        return;
    free(c->config_file);
    free(c->listen);
    free(c->available_perspectives_file);
    perspectives_free(c->perspectives, c->n_perspectives);
    free(c->hash_secret);
    mpic_strv_cleanup(&c->api_keys);
    free(c->tls.cert_file);
    free(c->tls.key_file);
    free(c->tls.client_ca_file);
    free(c->tls.ca_file);
    free(c->checker_tls.cert_file);
    free(c->checker_tls.key_file);
    free(c->checker_tls.client_ca_file);
    free(c->checker_tls.ca_file);
    free(c->compliance_min_text);
    free(c->compliance_sunsets_text);
    free(c->tracing_otlp_endpoint);
    memset(c, 0, sizeof(*c));
}

/* ---- /configz ------------------------------------------------------------ */

/* A checker URL as configured: a string, or the list of its replicas. */
static json_t *url_json(const char *url, const struct mpic_strv *urls)
{
    if (url == NULL)
        return json_null();
    if (urls->n > 1)
        return mpic_cfg_strv_json(urls, false);
    return json_string(url);
}

static json_t *perspectives_json(const void *base)
{
    const struct mpic_coordinator_config *c = base;
    json_t *a = json_array();

    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < c->n_perspectives; i++) {
        const struct mpic_perspective *p = &c->perspectives[i];
        json_t *o = json_object(), *h = json_object();

        if (json_array_append_new(a, o) != 0 ||
            json_object_set_new(o, "headers", h) != 0) {
            json_decref(h);
            goto fail;
        }
        for (size_t j = 0; j < p->n_headers; j++) {
            /* Every value: which header carries a secret is not knowable. */
            if (json_object_set_new(h, p->headers[j].name,
                                    json_string(CFG_REDACTED)) != 0)
                goto fail;
        }
        if (json_object_set_new(o, "code", json_string(p->code)) != 0 ||
            json_object_set_new(
                o, "name", p->name ? json_string(p->name) : json_null()) != 0 ||
            json_object_set_new(o, "rir", json_string(mpic_rir_name(p->rir))) !=
                0 ||
            json_object_set_new(
                o, "too_close_codes",
                mpic_cfg_strv_json(&p->too_close_codes, false)) != 0 ||
            json_object_set_new(o, "dcv_url",
                                url_json(p->dcv_url, &p->dcv_urls)) != 0 ||
            json_object_set_new(o, "caa_url",
                                url_json(p->caa_url, &p->caa_urls)) != 0)
            goto fail;
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

json_t *mpic_coordinator_config_to_json(const struct mpic_coordinator_config *c)
{
    json_t *o = mpic_cfg_table_json(coordinator_keys, N_COORDINATOR_KEYS, 0, c,
                                    c->config_file, perspectives_json);

    json_t *comp = json_object_get(o, "compliance");

    if (o != NULL && json_object_set_new(
                         o, "daemon", json_string("mpic-coordinator")) != 0) {
        json_decref(o);
        return NULL;
    }
    /* An integer minimum is shown as one ("auto" stays a string). */
    if (json_is_object(comp) && c->compliance.min_perspective_count > 0 &&
        json_object_set_new(
            comp, "min_perspective_count",
            json_integer((json_int_t)c->compliance.min_perspective_count)) !=
            0) {
        json_decref(o);
        return NULL;
    }
    return o;
}
