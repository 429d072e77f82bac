/*
 * Daemon configuration (see config.h). One table per daemon kind maps each
 * YAML key (as a dotted path) to its type, its place in the config struct,
 * its bounds and flags (secret, environment variable, file check). The same
 * table drives parsing, the environment layer, whole-config validation,
 * unknown-key warnings and the /configz output with secrets redacted.
 *
 * Every value remembers where it came from (file and line, environment
 * variable or flag), so a problem in the final, layered value is reported
 * against the layer that set it: "file:line: key: problem". The loader
 * never exits and never stops at the first problem.
 */
#include "common/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/mem.h"

#ifndef MPIC_VERSION
#define MPIC_VERSION "0.0.0"
#endif

#define REDACTED "<redacted>"

static const char *resolv_conf_path = "/etc/resolv.conf";

void mpic_config_set_resolv_conf(const char *path)
{
    resolv_conf_path = path != NULL ? path : "/etc/resolv.conf";
}

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

/* ---- the key tables --------------------------------------------------------
 */

enum key_type {
    K_STR,
    K_UINT,     /* unsigned */
    K_LONG,     /* long */
    K_SIZE,     /* size_t */
    K_BOOL,     /* bool */
    K_STRV,     /* struct mpic_strv */
    K_LOGLEVEL, /* enum mpic_log_level */
    K_PERSPECTIVES,
};

enum key_check {
    CHK_NONE,
    CHK_LISTEN,
    CHK_RESOLVERS,
    CHK_FILE,     /* a readable file, if set */
    CHK_NONEMPTY, /* strings (or each list element) non-empty */
};

#define KF_SECRET   0x01u
#define KF_REQUIRED 0x02u
#define KF_DCV      0x04u /* checker tables: keys of the DCV checker */
#define KF_CAA      0x08u /* checker tables: keys of the CAA checker */
#define KF_CHECKERS (KF_DCV | KF_CAA)

struct cfg_key {
    const char *name; /* dotted path */
    enum key_type type;
    size_t offset;
    long min, max; /* numbers only */
    unsigned flags;
    enum key_check check;
    const char *env;      /* environment variable, or NULL */
    const char *env_seps; /* list separators of env, K_STRV only */
};

#define CK(f)  offsetof(struct mpic_checker_config, f)
#define OK_(f) offsetof(struct mpic_coordinator_config, f)

static const struct cfg_key checker_keys[] = {
    {"perspective_code", K_STR, CK(perspective_code), 0, 0, KF_CHECKERS,
     CHK_NONE, "MPIC_PERSPECTIVE_CODE", NULL},
    {"listen", K_STR, CK(listen), 0, 0, KF_CHECKERS, CHK_LISTEN, "MPIC_LISTEN",
     NULL},
    {"log_level", K_LOGLEVEL, CK(log_level), 0, 0, KF_CHECKERS, CHK_NONE,
     "MPIC_LOG_LEVEL", NULL},
    {"dns.resolvers", K_STRV, CK(dns.resolvers), 0, 0, KF_CHECKERS,
     CHK_RESOLVERS, "MPIC_DNS_RESOLVERS", ","},
    {"dns.timeout_ms", K_UINT, CK(dns.timeout_ms), 1, 600000, KF_CHECKERS,
     CHK_NONE, NULL, NULL},
    {"dns.tries", K_UINT, CK(dns.tries), 1, 10, KF_CHECKERS, CHK_NONE, NULL,
     NULL},
    {"http.timeout_ms", K_UINT, CK(http_timeout_ms), 1, 600000, KF_DCV,
     CHK_NONE, NULL, NULL},
    {"http.verify_tls", K_BOOL, CK(http_verify_tls), 0, 0, KF_DCV, CHK_NONE,
     NULL, NULL},
    {"http.max_redirects", K_UINT, CK(http_max_redirects), 0, 50, KF_DCV,
     CHK_NONE, NULL, NULL},
    {"http.user_agent", K_STR, CK(http_user_agent), 0, 0, KF_DCV, CHK_NONEMPTY,
     NULL, NULL},
    {"targets.allow_private_addresses", K_BOOL, CK(allow_private_addresses), 0,
     0, KF_CHECKERS, CHK_NONE, NULL, NULL},
    {"caa.default_caa_domains", K_STRV, CK(default_caa_domains), 0, 0, KF_CAA,
     CHK_NONEMPTY, "MPIC_DEFAULT_CAA_DOMAINS", ",|"},
    {"auth.bearer_tokens", K_STRV, CK(bearer_tokens), 0, 0,
     KF_CHECKERS | KF_SECRET, CHK_NONEMPTY, NULL, NULL},
    {"tls.cert_file", K_STR, CK(tls.cert_file), 0, 0, KF_CHECKERS, CHK_FILE,
     NULL, NULL},
    {"tls.key_file", K_STR, CK(tls.key_file), 0, 0, KF_CHECKERS, CHK_FILE, NULL,
     NULL},
    {"tls.client_ca_file", K_STR, CK(tls.client_ca_file), 0, 0, KF_CHECKERS,
     CHK_FILE, NULL, NULL},
};

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
    {"api_keys", K_STRV, OK_(api_keys), 0, 0, KF_SECRET, CHK_NONEMPTY,
     "MPIC_API_KEYS", ","},
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
};

#define N_CHECKER_KEYS (sizeof(checker_keys) / sizeof(checker_keys[0]))
#define N_COORDINATOR_KEYS                                                     \
    (sizeof(coordinator_keys) / sizeof(coordinator_keys[0]))

/* ---- the loader ------------------------------------------------------------
 */

/* Where a value came from: src is a file name, "$VAR" or "--flag". */
struct origin {
    const char *src; /* borrowed (config file name or literal); NULL: default */
    unsigned line;   /* 0: no line */
    unsigned *elem_lines; /* K_STRV from a file: line of each element */
    size_t n_elem_lines;
    bool set; /* set by a layer (file, env, flag) */
};

/* Lines of one perspective entry, for cross-checks after parsing. */
struct persp_lines {
    unsigned item, code, dcv, caa, headers;
};

struct loader {
    const char *file; /* config file, or NULL */
    yaml_document_t *doc;
    struct mpic_errlist *errs;
    const struct cfg_key *keys;
    size_t n_keys;
    unsigned kind_flag; /* KF_DCV/KF_CAA for checkers; 0: coordinator */
    void *base;
    struct origin *origins;
    unsigned root_line;
    struct persp_lines *plines; /* coordinator only */
    size_t n_plines;
};

static void issue_v(struct mpic_errlist *errs, const char *src, unsigned line,
                    const char *key, const char *fmt, va_list ap)
    __attribute__((format(printf, 5, 0)));

static void issue_v(struct mpic_errlist *errs, const char *src, unsigned line,
                    const char *key, const char *fmt, va_list ap)
{
    char *msg = NULL;

    if (vasprintf(&msg, fmt, ap) < 0)
        fatalx("out of memory (config)");
    if (src == NULL)
        src = "configuration";
    if (line > 0 && key != NULL)
        mpic_errlist_add(errs, "config", "%s:%u: %s: %s", src, line, key, msg);
    else if (line > 0)
        mpic_errlist_add(errs, "config", "%s:%u: %s", src, line, msg);
    else if (key != NULL)
        mpic_errlist_add(errs, "config", "%s: %s: %s", src, key, msg);
    else
        mpic_errlist_add(errs, "config", "%s: %s", src, msg);
    free(msg);
}

/* An issue at "src[:line]: key: ...". */
static void issue(struct mpic_errlist *errs, const char *src, unsigned line,
                  const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void issue(struct mpic_errlist *errs, const char *src, unsigned line,
                  const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    issue_v(errs, src, line, key, fmt, ap);
    va_end(ap);
}

/* An issue in the file being parsed, at a node. */
static void issue_at(struct loader *ld, const yaml_node_t *n, const char *key,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void issue_at(struct loader *ld, const yaml_node_t *n, const char *key,
                     const char *fmt, ...)
{
    va_list ap;
    unsigned line = n != NULL ? (unsigned)n->start_mark.line + 1 : 1;

    va_start(ap, fmt);
    issue_v(ld->errs, ld->file, line, key, fmt, ap);
    va_end(ap);
}

/* An issue against the layer that set key i (or its element elem, or -1). */
static void issue_key(struct loader *ld, size_t i, long elem, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));

static void issue_key(struct loader *ld, size_t i, long elem, const char *fmt,
                      ...)
{
    va_list ap;
    const struct origin *o = &ld->origins[i];
    unsigned line = o->line;
    char *key = NULL;

    if (elem >= 0) {
        key = xasprintf("%s[%ld]", ld->keys[i].name, elem);
        if ((size_t)elem < o->n_elem_lines)
            line = o->elem_lines[elem];
    } else {
        key = xstrdup(ld->keys[i].name);
    }
    if (o->src == NULL)
        line = 0;
    va_start(ap, fmt);
    /* A default value is reported against the file (or the whole). */
    issue_v(ld->errs,
            o->src != NULL     ? o->src
            : ld->file != NULL ? ld->file
                               : "configuration",
            line, key, fmt, ap);
    va_end(ap);
    free(key);
}

static void *field(struct loader *ld, size_t i)
{
    return (char *)ld->base + ld->keys[i].offset;
}

static bool key_applies(const struct loader *ld, const struct cfg_key *k)
{
    return ld->kind_flag == 0 || (k->flags & ld->kind_flag) != 0;
}

static long find_key(const struct loader *ld, const char *name, bool *other)
{
    *other = false;
    for (size_t i = 0; i < ld->n_keys; i++) {
        if (strcmp(ld->keys[i].name, name) != 0)
            continue;
        if (key_applies(ld, &ld->keys[i]))
            return (long)i;
        *other = true;
    }
    return -1;
}

/* True if some key of this daemon (of any daemon) lives under "prefix.". */
static bool is_section(const struct loader *ld, const char *prefix,
                       bool any_kind)
{
    size_t n = strlen(prefix);

    for (size_t i = 0; i < ld->n_keys; i++) {
        const struct cfg_key *k = &ld->keys[i];

        if (strncmp(k->name, prefix, n) == 0 && k->name[n] == '.' &&
            (any_kind || key_applies(ld, k)))
            return true;
    }
    return false;
}

static void origin_set(struct origin *o, const char *src, unsigned line)
{
    free(o->elem_lines);
    o->elem_lines = NULL;
    o->n_elem_lines = 0;
    o->src = src;
    o->line = line;
    o->set = true;
}

/* ---- YAML helpers ----------------------------------------------------------
 */

static yaml_node_t *node_at(yaml_document_t *doc, int index)
{
    return yaml_document_get_node(doc, index);
}

static const char *node_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_SCALAR_NODE:
        return "a scalar";
    case YAML_SEQUENCE_NODE:
        return "a list";
    case YAML_MAPPING_NODE:
        return "a mapping";
    default:
        return "nothing";
    }
}

static const char *scalar(const yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE)
        return NULL;
    return (const char *)n->data.scalar.value;
}

/* A plain null: "", "~", "null". */
static bool is_null(const yaml_node_t *n)
{
    const char *s = scalar(n);

    if (s == NULL || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static unsigned line_of(const yaml_node_t *n)
{
    return (unsigned)n->start_mark.line + 1;
}

/*
 * Loads the first document of path. Returns 0 with *doc to be deleted by
 * the caller, or -1 with the problem in errs.
 */
static int yaml_load_path(const char *path, yaml_document_t *doc,
                          struct mpic_errlist *errs)
{
    yaml_parser_t parser;
    FILE *f = NULL;
    int rc = -1;

    f = fopen(path, "r");
    if (f == NULL) {
        issue(errs, path, 0, NULL, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (yaml_parser_initialize(&parser) == 0) {
        issue(errs, path, 0, NULL, "cannot initialise the YAML parser");
        goto out_file;
    }
    yaml_parser_set_input_file(&parser, f);
    if (yaml_parser_load(&parser, doc) == 0) {
        const char *problem = parser.problem ? parser.problem : "parse error";

        if (parser.context != NULL)
            issue(errs, path, (unsigned)parser.problem_mark.line + 1, NULL,
                  "YAML syntax error: %s %s", parser.context, problem);
        else
            issue(errs, path, (unsigned)parser.problem_mark.line + 1, NULL,
                  "YAML syntax error: %s", problem);
        goto out;
    }
    rc = 0;
out:
    yaml_parser_delete(&parser);
out_file:
    fclose(f);
    return rc;
}

/* ---- typed setters from YAML -------------------------------------------- */

static bool parse_number(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return false;
    if (!isdigit((unsigned char)s[0]) &&
        !(s[0] == '-' && isdigit((unsigned char)s[1])))
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool parse_bool(const char *s, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};

    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = true;
            return true;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = false;
            return true;
        }
    }
    return false;
}

static void set_number(struct loader *ld, size_t i, long v)
{
    void *p = field(ld, i);

    switch (ld->keys[i].type) {
    case K_UINT:
        *(unsigned *)p = (unsigned)v;
        break;
    case K_LONG:
        *(long *)p = v;
        break;
    case K_SIZE:
        *(size_t *)p = (size_t)v;
        break;
    default:
        MPIC_ASSERT(0);
    }
}

static void parse_perspectives(struct loader *ld, size_t i, yaml_node_t *v);

static void set_from_node(struct loader *ld, size_t i, yaml_node_t *v)
{
    const struct cfg_key *k = &ld->keys[i];
    const char *s = scalar(v);
    void *p = field(ld, i);
    long num;

    if (k->type == K_PERSPECTIVES) {
        parse_perspectives(ld, i, v);
        return;
    }
    if (k->type == K_STRV) {
        struct mpic_strv sv;
        unsigned *lines = NULL;
        bool ok = true;
        size_t n;

        if (is_null(v)) {
            mpic_strv_cleanup(p);
            origin_set(&ld->origins[i], ld->file, line_of(v));
            return;
        }
        if (v->type != YAML_SEQUENCE_NODE) {
            issue_at(ld, v, k->name, "expected a list of strings, got %s",
                     node_kind(v));
            return;
        }
        mpic_strv_init(&sv);
        n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        lines = xcalloc(n ? n : 1, sizeof(*lines));
        for (size_t j = 0; j < n; j++) {
            yaml_node_t *e = node_at(ld->doc, v->data.sequence.items.start[j]);
            const char *es = scalar(e);

            if (es == NULL || is_null(e)) {
                char *ek = xasprintf("%s[%zu]", k->name, j);
                issue_at(ld, e, ek, "expected a string, got %s",
                         es == NULL ? node_kind(e) : "null");
                free(ek);
                ok = false;
                continue;
            }
            lines[sv.n] = line_of(e);
            mpic_strv_push(&sv, es);
        }
        if (!ok) {
            mpic_strv_cleanup(&sv);
            free(lines);
            return;
        }
        mpic_strv_cleanup(p);
        *(struct mpic_strv *)p = sv;
        origin_set(&ld->origins[i], ld->file, line_of(v));
        ld->origins[i].elem_lines = lines;
        ld->origins[i].n_elem_lines = sv.n;
        return;
    }
    if (s == NULL) {
        issue_at(ld, v, k->name, "expected a %s, got %s",
                 k->type == K_STR        ? "string"
                 : k->type == K_BOOL     ? "boolean"
                 : k->type == K_LOGLEVEL ? "log level"
                                         : "number",
                 node_kind(v));
        return;
    }
    switch (k->type) {
    case K_STR:
        free(*(char **)p);
        *(char **)p = is_null(v) ? NULL : xstrdup(s);
        break;
    case K_UINT:
    case K_LONG:
    case K_SIZE:
        if (!parse_number(s, k->min, k->max, &num)) {
            issue_at(ld, v, k->name,
                     "expected a whole number in %ld..%ld, "
                     "got '%s'",
                     k->min, k->max, s);
            return;
        }
        set_number(ld, i, num);
        break;
    case K_BOOL:
        if (!parse_bool(s, p)) {
            issue_at(ld, v, k->name, "expected true or false, got '%s'", s);
            return;
        }
        break;
    case K_LOGLEVEL:
        if (mpic_log_parse_level(s, p) != 0) {
            issue_at(ld, v, k->name,
                     "expected trace, debug, info, warn or "
                     "error, got '%s'",
                     s);
            return;
        }
        break;
    default:
        MPIC_ASSERT(0);
    }
    origin_set(&ld->origins[i], ld->file, line_of(v));
}

/* Reports a key that appears twice in one mapping. */
static bool duplicate_key(struct loader *ld, yaml_node_t *map,
                          yaml_node_pair_t *pair, const char *full)
{
    const char *name = scalar(node_at(ld->doc, pair->key));

    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pair; q++) {
        const char *other = scalar(node_at(ld->doc, q->key));

        if (other != NULL && strcmp(other, name) == 0) {
            issue_at(ld, node_at(ld->doc, pair->key), full,
                     "duplicate key (first at line %u)",
                     line_of(node_at(ld->doc, q->key)));
            return true;
        }
    }
    return false;
}

static void walk_mapping(struct loader *ld, yaml_node_t *map,
                         const char *prefix)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *kn = node_at(ld->doc, pair->key);
        yaml_node_t *vn = node_at(ld->doc, pair->value);
        const char *name = scalar(kn);
        char *full = NULL;
        bool other = false;
        long idx;

        if (name == NULL) {
            issue_at(ld, kn, prefix != NULL ? prefix : "(top level)",
                     "keys must be strings, got %s", node_kind(kn));
            continue;
        }
        full =
            prefix != NULL ? xasprintf("%s.%s", prefix, name) : xstrdup(name);
        if (duplicate_key(ld, map, pair, full))
            goto next;
        idx = find_key(ld, full, &other);
        if (idx >= 0) {
            set_from_node(ld, (size_t)idx, vn);
        } else if (is_section(ld, full, false)) {
            if (vn->type == YAML_MAPPING_NODE)
                walk_mapping(ld, vn, full);
            else if (!is_null(vn))
                issue_at(ld, vn, full, "expected a mapping, got %s",
                         node_kind(vn));
        } else if (other || is_section(ld, full, true)) {
            log_warn("%s:%u: %s: not used by this daemon (ignored)", ld->file,
                     line_of(kn), full);
        } else {
            log_warn("%s:%u: %s: unknown key (ignored)", ld->file, line_of(kn),
                     full);
        }
    next:
        free(full);
    }
}

/* Parses ld->file into ld->base. Returns false if it could not be read. */
static bool load_file(struct loader *ld)
{
    yaml_document_t doc;
    yaml_node_t *root;

    if (yaml_load_path(ld->file, &doc, ld->errs) != 0)
        return false;
    ld->doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root != NULL) {
        ld->root_line = line_of(root);
        if (root->type == YAML_MAPPING_NODE)
            walk_mapping(ld, root, NULL);
        else if (!is_null(root))
            issue_at(ld, root, "(top level)", "expected a mapping, got %s",
                     node_kind(root));
    }
    ld->doc = NULL;
    yaml_document_delete(&doc);
    return true;
}

/* ---- perspectives ----------------------------------------------------------
 */

static void perspective_cleanup(struct mpic_perspective *p)
{
    free(p->code);
    free(p->name);
    mpic_strv_cleanup(&p->too_close_codes);
    free(p->dcv_url);
    free(p->caa_url);
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
static bool persp_string(struct loader *ld, yaml_node_t *v, const char *key,
                         char **dst)
{
    const char *s = scalar(v);

    if (s == NULL || is_null(v)) {
        issue_at(ld, v, key, "expected a string, got %s",
                 s == NULL ? node_kind(v) : "null");
        return false;
    }
    free(*dst);
    *dst = xstrdup(s);
    return true;
}

static bool header_seen(const struct mpic_perspective *p, const char *name)
{
    for (size_t i = 0; i < p->n_headers; i++) {
        if (strcasecmp(p->headers[i].name, name) == 0)
            return true;
    }
    return false;
}

static bool persp_headers(struct loader *ld, yaml_node_t *v, const char *key,
                          struct mpic_perspective *p)
{
    bool ok = true;
    size_t n;

    if (is_null(v))
        return true;
    if (v->type != YAML_MAPPING_NODE) {
        issue_at(ld, v, key,
                 "expected a mapping of header names to values, "
                 "got %s",
                 node_kind(v));
        return false;
    }
    n = (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start);
    p->headers = xcalloc(n ? n : 1, sizeof(*p->headers));
    for (size_t j = 0; j < n; j++) {
        yaml_node_pair_t *pair = &v->data.mapping.pairs.start[j];
        yaml_node_t *hk = node_at(ld->doc, pair->key);
        yaml_node_t *hv = node_at(ld->doc, pair->value);
        const char *name = scalar(hk), *value = scalar(hv);
        char *hkey = xasprintf("%s.%s", key, name != NULL ? name : "?");

        if (name == NULL || is_null(hk)) {
            issue_at(ld, hk, hkey, "header name must be a string");
            ok = false;
        } else if (value == NULL || is_null(hv)) {
            issue_at(ld, hv, hkey, "header value must be a string, got %s",
                     value == NULL ? node_kind(hv) : "null");
            ok = false;
        } else if (name[strspn(name, "!#$%&'*+-.^_`|~0123456789"
                                     "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "abcdefghijklmnopqrstuvwxyz")] != '\0') {
            issue_at(ld, hk, hkey, "not a valid HTTP header name");
            ok = false;
        } else if (strpbrk(value, "\r\n") != NULL) {
            issue_at(ld, hv, hkey, "header value must not contain CR or LF");
            ok = false;
        } else if (header_seen(p, name)) {
            issue_at(ld, hk, hkey, "duplicate header");
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

static void parse_perspectives(struct loader *ld, size_t i, yaml_node_t *v)
{
    struct mpic_coordinator_config *c = ld->base;
    struct mpic_perspective *ps = NULL;
    struct persp_lines *pl = NULL;
    size_t n = 0;

    if (is_null(v))
        goto done;
    if (v->type != YAML_SEQUENCE_NODE) {
        issue_at(ld, v, "perspectives", "expected a list, got %s",
                 node_kind(v));
        return;
    }
    n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
    ps = xcalloc(n ? n : 1, sizeof(*ps));
    pl = xcalloc(n ? n : 1, sizeof(*pl));
    for (size_t j = 0; j < n; j++) {
        yaml_node_t *item = node_at(ld->doc, v->data.sequence.items.start[j]);
        char *base = xasprintf("perspectives[%zu]", j);

        pl[j].item = line_of(item);
        if (item->type != YAML_MAPPING_NODE) {
            issue_at(ld, item, base, "expected a mapping, got %s",
                     node_kind(item));
            free(base);
            continue;
        }
        for (yaml_node_pair_t *pair = item->data.mapping.pairs.start;
             pair < item->data.mapping.pairs.top; pair++) {
            yaml_node_t *kn = node_at(ld->doc, pair->key);
            yaml_node_t *vn = node_at(ld->doc, pair->value);
            const char *name = scalar(kn);
            char *key = xasprintf("%s.%s", base, name != NULL ? name : "?");

            if (name == NULL) {
                issue_at(ld, kn, key, "keys must be strings");
            } else if (duplicate_key(ld, item, pair, key)) {
                /* reported */
            } else if (strcmp(name, "code") == 0) {
                if (persp_string(ld, vn, key, &ps[j].code))
                    pl[j].code = line_of(vn);
            } else if (strcmp(name, "dcv_url") == 0) {
                if (is_null(vn)) {
                    free(ps[j].dcv_url);
                    ps[j].dcv_url = NULL;
                } else if (persp_string(ld, vn, key, &ps[j].dcv_url)) {
                    pl[j].dcv = line_of(vn);
                }
            } else if (strcmp(name, "caa_url") == 0) {
                if (is_null(vn)) {
                    free(ps[j].caa_url);
                    ps[j].caa_url = NULL;
                } else if (persp_string(ld, vn, key, &ps[j].caa_url)) {
                    pl[j].caa = line_of(vn);
                }
            } else if (strcmp(name, "headers") == 0) {
                pl[j].headers = line_of(vn);
                persp_headers(ld, vn, key, &ps[j]);
            } else {
                log_warn("%s:%u: %s: unknown key (ignored)", ld->file,
                         line_of(kn), key);
            }
            free(key);
        }
        if (ps[j].code == NULL)
            issue_at(ld, item, base, "code is required");
        free(base);
    }
done:
    perspectives_free(c->perspectives, c->n_perspectives);
    free(ld->plines);
    c->perspectives = ps;
    c->n_perspectives = n;
    ld->plines = pl;
    ld->n_plines = n;
    origin_set(&ld->origins[i], ld->file, line_of(v));
}

/* ---- available_perspectives.yaml -------------------------------------------
 */

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

/* Parses entry j of available_regions into all[j]; all[0..j) are done. */
static void avail_region(struct loader *ld, yaml_node_t *item, size_t j,
                         struct avail *all)
{
    struct avail *a = &all[j];
    bool have_rir = false;

    a->line = line_of(item);
    for (yaml_node_pair_t *pair = item->data.mapping.pairs.start;
         pair < item->data.mapping.pairs.top; pair++) {
        yaml_node_t *kn = node_at(ld->doc, pair->key);
        yaml_node_t *vn = node_at(ld->doc, pair->value);
        const char *name = scalar(kn), *s = scalar(vn);
        char *key = xasprintf("available_regions[%zu].%s", j,
                              name != NULL ? name : "?");

        if (name == NULL) {
            issue_at(ld, kn, key, "keys must be strings");
        } else if (duplicate_key(ld, item, pair, key)) {
            /* reported */
        } else if (strcmp(name, "code") == 0) {
            if (s == NULL || is_null(vn) || *s == '\0') {
                issue_at(ld, vn, key, "expected a non-empty string");
            } else {
                for (size_t k = 0; k < j; k++) {
                    if (all[k].code != NULL && strcmp(all[k].code, s) == 0)
                        issue_at(ld, vn, key,
                                 "duplicate region code '%s' (first at line "
                                 "%u)",
                                 s, all[k].line);
                }
                free(a->code);
                a->code = xstrdup(s);
            }
        } else if (strcmp(name, "name") == 0) {
            if (s == NULL)
                issue_at(ld, vn, key, "expected a string, got %s",
                         node_kind(vn));
            else if (!is_null(vn))
                a->name = xstrdup(s);
        } else if (strcmp(name, "rir") == 0) {
            have_rir = true;
            if (s == NULL || mpic_rir_from_name(s, &a->rir) != 0)
                issue_at(ld, vn, key,
                         "unknown RIR '%s' (expected ARIN, RIPE NCC, APNIC, "
                         "LACNIC or AFRINIC)",
                         s != NULL ? s : node_kind(vn));
        } else if (strcmp(name, "too_close_codes") == 0) {
            if (is_null(vn)) {
                /* none */
            } else if (vn->type != YAML_SEQUENCE_NODE) {
                issue_at(ld, vn, key, "expected a list of strings, got %s",
                         node_kind(vn));
            } else {
                for (yaml_node_item_t *it = vn->data.sequence.items.start;
                     it < vn->data.sequence.items.top; it++) {
                    yaml_node_t *e = node_at(ld->doc, *it);
                    const char *es = scalar(e);

                    if (es == NULL || is_null(e)) {
                        char *ek = xasprintf(
                            "%s[%ld]", key,
                            (long)(it - vn->data.sequence.items.start));
                        issue_at(ld, e, ek, "expected a string");
                        free(ek);
                    } else {
                        mpic_strv_push(&a->too_close, es);
                    }
                }
            }
        } else {
            log_warn("%s:%u: %s: unknown key (ignored)", ld->file, line_of(kn),
                     key);
        }
        free(key);
    }
    if (a->code == NULL) {
        char *key = xasprintf("available_regions[%zu].code", j);
        issue_at(ld, item, key, "required");
        free(key);
    }
    if (!have_rir) {
        char *key = xasprintf("available_regions[%zu].rir", j);
        issue_at(ld, item, key, "required");
        free(key);
    }
}

/*
 * Loads the available perspectives file into *out (owned). Problems go to
 * ld->errs against that file. Returns false if the file could not be used.
 */
static bool load_available(struct loader *parent, const char *path,
                           struct avail **out, size_t *n_out)
{
    struct loader ld = *parent;
    yaml_document_t doc;
    yaml_node_t *root, *regions = NULL;
    struct avail *a = NULL;
    size_t n = 0, errs_before = parent->errs->n;

    *out = NULL;
    *n_out = 0;
    if (yaml_load_path(path, &doc, parent->errs) != 0)
        return false;
    ld.file = path;
    ld.doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root == NULL || root->type != YAML_MAPPING_NODE) {
        issue_at(&ld, root, "available_regions",
                 "expected a mapping with key available_regions");
        goto out;
    }
    for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
         pair < root->data.mapping.pairs.top; pair++) {
        const char *name = scalar(node_at(&doc, pair->key));

        if (name != NULL && strcmp(name, "available_regions") == 0)
            regions = node_at(&doc, pair->value);
    }
    if (regions == NULL) {
        issue_at(&ld, root, "available_regions", "required");
        goto out;
    }
    if (regions->type != YAML_SEQUENCE_NODE) {
        issue_at(&ld, regions, "available_regions", "expected a list, got %s",
                 node_kind(regions));
        goto out;
    }
    n = (size_t)(regions->data.sequence.items.top -
                 regions->data.sequence.items.start);
    a = xcalloc(n ? n : 1, sizeof(*a));
    for (size_t j = 0; j < n; j++) {
        yaml_node_t *item =
            node_at(&doc, regions->data.sequence.items.start[j]);

        if (item->type != YAML_MAPPING_NODE) {
            char *key = xasprintf("available_regions[%zu]", j);
            issue_at(&ld, item, key, "expected a mapping, got %s",
                     node_kind(item));
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

/* ---- validation helpers ----------------------------------------------------
 */

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
static const char *check_listen(const char *s)
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

/* IP, IP:PORT, [v6] or [v6]:PORT. */
static const char *check_resolver(const char *s)
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

/* An absolute http:// or https:// URL with a host. */
static const char *check_url(const char *s)
{
    CURLU *u = curl_url();
    char *scheme = NULL, *host = NULL, *user = NULL;
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
out:
    curl_free(scheme);
    curl_free(host);
    curl_free(user);
    curl_url_cleanup(u);
    return why;
}

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

/* Per-key checks from the table, against the final layered values. */
static void validate_keys(struct loader *ld)
{
    for (size_t i = 0; i < ld->n_keys; i++) {
        const struct cfg_key *k = &ld->keys[i];
        void *p = field(ld, i);
        const char *why;
        int err = 0;

        if (!key_applies(ld, k))
            continue;
        if (k->type == K_STR && (k->flags & KF_REQUIRED) &&
            *(char **)p == NULL) {
            if (ld->file != NULL)
                issue(ld->errs, ld->file, ld->root_line ? ld->root_line : 1,
                      k->name, "required (set it in this file%s%s)",
                      k->env ? " or in $" : "", k->env ? k->env : "");
            else
                issue(ld->errs, "configuration", 0, k->name,
                      "required (set it in --config FILE%s%s)",
                      k->env ? " or in $" : "", k->env ? k->env : "");
            continue;
        }
        switch (k->check) {
        case CHK_NONE:
            break;
        case CHK_LISTEN:
            why = check_listen(*(char **)p);
            if (why != NULL)
                issue_key(ld, i, -1, "'%s': %s", *(char **)p ? *(char **)p : "",
                          why);
            break;
        case CHK_RESOLVERS: {
            const struct mpic_strv *sv = p;

            for (size_t j = 0; j < sv->n; j++) {
                why = check_resolver(sv->v[j]);
                if (why != NULL)
                    issue_key(ld, i, (long)j, "'%s': %s", sv->v[j], why);
            }
            break;
        }
        case CHK_FILE:
            if (*(char **)p != NULL && !file_readable(*(char **)p, &err))
                issue_key(ld, i, -1, "cannot read '%s': %s", *(char **)p,
                          strerror(err));
            break;
        case CHK_NONEMPTY:
            if (k->type == K_STR && *(char **)p != NULL && **(char **)p == '\0')
                issue_key(ld, i, -1, "must not be empty");
            if (k->type == K_STRV) {
                const struct mpic_strv *sv = p;

                for (size_t j = 0; j < sv->n; j++) {
                    if (sv->v[j][0] == '\0')
                        issue_key(ld, i, (long)j, "must not be empty");
                }
            }
            break;
        }
    }
}

static long key_index(const struct loader *ld, const char *name)
{
    bool other;

    return find_key(ld, name, &other);
}

/* cert and key: both or neither; client CA needs both. */
static void validate_tls_pair(struct loader *ld, const char *section,
                              const struct mpic_tls_files *t)
{
    char *cert = xasprintf("%s.cert_file", section);
    char *key = xasprintf("%s.key_file", section);
    long ic = key_index(ld, cert), ik = key_index(ld, key);

    if (t->cert_file != NULL && t->key_file == NULL && ic >= 0)
        issue_key(ld, (size_t)ic, -1, "%s is set but %s is not", cert, key);
    if (t->key_file != NULL && t->cert_file == NULL && ik >= 0)
        issue_key(ld, (size_t)ik, -1, "%s is set but %s is not", key, cert);
    if (t->client_ca_file != NULL && t->cert_file == NULL) {
        char *ca = xasprintf("%s.client_ca_file", section);
        long ica = key_index(ld, ca);

        if (ica >= 0)
            issue_key(ld, (size_t)ica, -1, "client certificates need %s and %s",
                      cert, key);
        free(ca);
    }
    free(cert);
    free(key);
}

/* ---- environment and command line ------------------------------------------
 */

static void apply_env(struct loader *ld)
{
    for (size_t i = 0; i < ld->n_keys; i++) {
        const struct cfg_key *k = &ld->keys[i];
        const char *v;
        void *p = field(ld, i);

        if (k->env == NULL || !key_applies(ld, k))
            continue;
        v = getenv(k->env);
        if (v == NULL || *v == '\0')
            continue;
        switch (k->type) {
        case K_STR:
            free(*(char **)p);
            *(char **)p = xstrdup(v);
            break;
        case K_STRV:
            mpic_strv_cleanup(p);
            mpic_strv_split(p, v, k->env_seps);
            break;
        case K_LOGLEVEL:
            if (mpic_log_parse_level(v, p) != 0) {
                issue(ld->errs, k->env, 0, k->name,
                      "expected trace, debug, info, warn or error, got '%s'",
                      v);
                continue;
            }
            break;
        default:
            MPIC_ASSERT(0);
        }
        /* The variable's name is the origin (a literal in the table). */
        origin_set(&ld->origins[i], k->env, 0);
    }
}

struct cli {
    const char *config;
    const char *listen;
    enum mpic_cli_action action;
};

/* "--name VALUE" or "--name=VALUE"; advances *i past a separate value. */
static bool flag_value(int argc, char **argv, int *i, const char *name,
                       const char **val, struct mpic_errlist *errs)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (strncmp(a, name, n) != 0)
        return false;
    if (a[n] == '=') {
        *val = a + n + 1;
        if (**val == '\0')
            issue(errs, "command line", 0, NULL, "%s needs a value", name);
        return true;
    }
    if (a[n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        issue(errs, "command line", 0, NULL, "%s needs a value", name);
        return true;
    }
    *val = argv[++*i];
    return true;
}

static void parse_cli(int argc, char **argv, struct cli *cli,
                      struct mpic_errlist *errs)
{
    bool help = false, version = false, check = false;

    memset(cli, 0, sizeof(*cli));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (flag_value(argc, argv, &i, "--config", &cli->config, errs))
            continue;
        if (flag_value(argc, argv, &i, "--listen", &cli->listen, errs))
            continue;
        if (strcmp(a, "--check-config") == 0)
            check = true;
        else if (strcmp(a, "--version") == 0)
            version = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            help = true;
        else if (a[0] == '-')
            issue(errs, "command line", 0, NULL, "unknown option '%s'", a);
        else
            issue(errs, "command line", 0, NULL, "unexpected argument '%s'", a);
    }
    cli->action = help      ? MPIC_CLI_HELP
                  : version ? MPIC_CLI_VERSION
                  : check   ? MPIC_CLI_CHECK_CONFIG
                            : MPIC_CLI_RUN;
}

static void apply_cli(struct loader *ld, const struct cli *cli)
{
    long i;

    if (cli->listen == NULL || *cli->listen == '\0')
        return;
    i = key_index(ld, "listen");
    MPIC_ASSERT(i >= 0);
    free(*(char **)field(ld, (size_t)i));
    *(char **)field(ld, (size_t)i) = xstrdup(cli->listen);
    origin_set(&ld->origins[i], "--listen", 0);
}

static void loader_init(struct loader *ld, const struct cfg_key *keys,
                        size_t n_keys, unsigned kind_flag, void *base,
                        struct mpic_errlist *errs)
{
    memset(ld, 0, sizeof(*ld));
    ld->keys = keys;
    ld->n_keys = n_keys;
    ld->kind_flag = kind_flag;
    ld->base = base;
    ld->errs = errs;
    ld->origins = xcalloc(n_keys, sizeof(*ld->origins));
}

static void loader_cleanup(struct loader *ld)
{
    for (size_t i = 0; i < ld->n_keys; i++)
        free(ld->origins[i].elem_lines);
    free(ld->origins);
    free(ld->plines);
    memset(ld, 0, sizeof(*ld));
}

/* The config file: --config, else $MPIC_CONFIG, else none. Owned or NULL. */
static char *config_path(const struct cli *cli)
{
    const char *env = getenv("MPIC_CONFIG");

    if (cli->config != NULL && *cli->config != '\0')
        return xstrdup(cli->config);
    if (env != NULL && *env != '\0')
        return xstrdup(env);
    return NULL;
}

/* ---- checker ----------------------------------------------------------------
 */

static void checker_defaults(struct mpic_checker_config *c,
                             enum mpic_daemon_kind kind)
{
    memset(c, 0, sizeof(*c));
    c->kind = kind;
    c->listen = xstrdup("0.0.0.0:8080");
    c->log_level = MPIC_LOG_INFO;
    c->dns.timeout_ms = 2000;
    c->dns.tries = 3;
    c->http_timeout_ms = 10000;
    c->http_verify_tls = false;
    c->http_max_redirects = 20;
    c->http_user_agent = xstrdup("open-mpic-c/" MPIC_VERSION);
    c->allow_private_addresses = false;
}

/* "nameserver X" lines of resolv.conf that parse as addresses. */
static void resolvers_from_resolv_conf(struct mpic_strv *out)
{
    FILE *f = fopen(resolv_conf_path, "r");
    char line[512];

    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = line, *e;

        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "nameserver", 10) != 0 ||
            (p[10] != ' ' && p[10] != '\t'))
            continue;
        p += 10;
        while (*p == ' ' || *p == '\t')
            p++;
        e = p + strcspn(p, " \t\r\n#;");
        *e = '\0';
        if (*p == '\0')
            continue;
        if (check_resolver(p) == NULL)
            mpic_strv_push(out, p);
        else
            log_debug("%s: nameserver '%s' skipped (not usable)",
                      resolv_conf_path, p);
    }
    fclose(f);
}

enum mpic_err mpic_checker_config_load(enum mpic_daemon_kind kind, int argc,
                                       char **argv,
                                       struct mpic_checker_config *out,
                                       enum mpic_cli_action *action,
                                       struct mpic_errlist *errs)
{
    struct loader ld;
    struct cli cli;
    size_t errs_before = errs->n;
    long ri;

    MPIC_ASSERT(kind == MPIC_DAEMON_DCV_CHECKER ||
                kind == MPIC_DAEMON_CAA_CHECKER);
    checker_defaults(out, kind);
    parse_cli(argc, argv, &cli, errs);
    *action = cli.action;
    if (cli.action == MPIC_CLI_HELP || cli.action == MPIC_CLI_VERSION)
        return MPIC_OK;

    loader_init(&ld, checker_keys, N_CHECKER_KEYS,
                kind == MPIC_DAEMON_DCV_CHECKER ? KF_DCV : KF_CAA, out, errs);
    out->config_file = config_path(&cli);
    ld.file = out->config_file;
    if (ld.file != NULL)
        load_file(&ld);
    apply_env(&ld);
    apply_cli(&ld, &cli);

    ri = key_index(&ld, "dns.resolvers");
    MPIC_ASSERT(ri >= 0);
    if (out->dns.resolvers.n == 0) {
        resolvers_from_resolv_conf(&out->dns.resolvers);
        origin_set(&ld.origins[ri], resolv_conf_path, 0);
        if (out->dns.resolvers.n == 0)
            issue(errs, ld.file != NULL ? ld.file : "configuration", 0,
                  "dns.resolvers",
                  "none configured and %s lists no usable nameserver",
                  resolv_conf_path);
    }
    validate_keys(&ld);
    validate_tls_pair(&ld, "tls", &out->tls);
    loader_cleanup(&ld);
    return errs->n == errs_before ? MPIC_OK : MPIC_ERR_INVALID;
}

void mpic_checker_config_cleanup(struct mpic_checker_config *c)
{
    if (c == NULL)
        return;
    free(c->config_file);
    free(c->perspective_code);
    free(c->listen);
    mpic_strv_cleanup(&c->dns.resolvers);
    free(c->http_user_agent);
    mpic_strv_cleanup(&c->default_caa_domains);
    mpic_strv_cleanup(&c->bearer_tokens);
    free(c->tls.cert_file);
    free(c->tls.key_file);
    free(c->tls.client_ca_file);
    free(c->tls.ca_file);
    memset(c, 0, sizeof(*c));
}

/* ---- coordinator ------------------------------------------------------------
 */

static void coordinator_defaults(struct mpic_coordinator_config *c)
{
    memset(c, 0, sizeof(*c));
    c->listen = xstrdup("0.0.0.0:8000");
    c->log_level = MPIC_LOG_INFO;
    c->available_perspectives_file = xstrdup("available_perspectives.yaml");
    c->default_perspective_count = 3;
    c->absolute_max_attempts = 3;
    c->remote_timeout_ms = 12000;
    c->max_request_bytes = 65536;
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

static void validate_perspectives(struct loader *ld,
                                  struct mpic_coordinator_config *c)
{
    const char *src = ld->file;
    struct avail *a = NULL;
    size_t n_a = 0;
    bool have_avail = false;
    long ai = key_index(ld, "available_perspectives_file");
    char *resolved;

    MPIC_ASSERT(ai >= 0);
    if (c->available_perspectives_file == NULL ||
        c->available_perspectives_file[0] == '\0') {
        /* `available_perspectives_file:` with no value */
        issue_key(ld, (size_t)ai, -1, "must name a file");
        free(c->available_perspectives_file);
        c->available_perspectives_file = NULL;
        return;
    }
    resolved = resolve_relative(c->config_file, c->available_perspectives_file);
    free(c->available_perspectives_file);
    c->available_perspectives_file = resolved;
    if (c->n_perspectives > 0 || ld->origins[ai].set)
        have_avail = load_available(ld, resolved, &a, &n_a);

    for (size_t i = 0; i < c->n_perspectives; i++) {
        struct mpic_perspective *p = &c->perspectives[i];
        const struct persp_lines *pl = &ld->plines[i];
        char key[64];
        const char *why;

        if (p->code == NULL)
            continue; /* reported while parsing */
        snprintf(key, sizeof(key), "perspectives[%zu].code", i);
        for (size_t j = 0; j < i; j++) {
            if (c->perspectives[j].code != NULL &&
                strcmp(c->perspectives[j].code, p->code) == 0) {
                issue(ld->errs, src, pl->code, key,
                      "duplicate perspective code '%s' (first at line %u)",
                      p->code, ld->plines[j].code);
                break;
            }
        }
        if (p->dcv_url == NULL && p->caa_url == NULL) {
            snprintf(key, sizeof(key), "perspectives[%zu]", i);
            issue(ld->errs, src, pl->item, key,
                  "needs dcv_url or caa_url (or both)");
        }
        if (p->dcv_url != NULL) {
            why = check_url(p->dcv_url);
            snprintf(key, sizeof(key), "perspectives[%zu].dcv_url", i);
            if (why != NULL)
                issue(ld->errs, src, pl->dcv, key, "'%s': %s", p->dcv_url, why);
        }
        if (p->caa_url != NULL) {
            why = check_url(p->caa_url);
            snprintf(key, sizeof(key), "perspectives[%zu].caa_url", i);
            if (why != NULL)
                issue(ld->errs, src, pl->caa, key, "'%s': %s", p->caa_url, why);
        }
        if (!have_avail)
            continue;
        snprintf(key, sizeof(key), "perspectives[%zu].code", i);
        for (size_t j = 0; j <= n_a; j++) {
            if (j == n_a) {
                issue(ld->errs, src, pl->code, key,
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

    if (c->default_perspective_count > (long)c->n_perspectives) {
        long di = key_index(ld, "default_perspective_count");

        MPIC_ASSERT(di >= 0);
        issue_key(ld, (size_t)di, -1,
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

enum mpic_err mpic_coordinator_config_load(int argc, char **argv,
                                           struct mpic_coordinator_config *out,
                                           enum mpic_cli_action *action,
                                           struct mpic_errlist *errs)
{
    struct loader ld;
    struct cli cli;
    size_t errs_before = errs->n;

    coordinator_defaults(out);
    parse_cli(argc, argv, &cli, errs);
    *action = cli.action;
    if (cli.action == MPIC_CLI_HELP || cli.action == MPIC_CLI_VERSION)
        return MPIC_OK;

    loader_init(&ld, coordinator_keys, N_COORDINATOR_KEYS, 0, out, errs);
    out->config_file = config_path(&cli);
    ld.file = out->config_file;
    if (ld.file != NULL)
        load_file(&ld);
    apply_env(&ld);
    apply_cli(&ld, &cli);

    validate_keys(&ld);
    validate_tls_pair(&ld, "tls", &out->tls);
    validate_tls_pair(&ld, "checker_tls", &out->checker_tls);
    validate_perspectives(&ld, out);
    loader_cleanup(&ld);
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
    memset(c, 0, sizeof(*c));
}

/* ---- /configz
 * ----------------------------------------------------------------- */

/* Sets o["a"]["b"]... = v for dotted name "a.b"; consumes v. 0 or -1. */
static int json_set_path(json_t *o, const char *name, json_t *v)
{
    const char *dot = strchr(name, '.');
    json_t *sub;
    char *head;
    int rc;

    if (dot == NULL)
        return json_object_set_new(o, name, v);
    head = xstrndup(name, (size_t)(dot - name));
    sub = json_object_get(o, head);
    if (sub == NULL) {
        sub = json_object();
        if (json_object_set_new(o, head, sub) != 0) {
            free(head);
            json_decref(v);
            return -1;
        }
    }
    free(head);
    rc = json_set_path(sub, dot + 1, v);
    return rc;
}

static json_t *strv_json(const struct mpic_strv *sv, bool secret)
{
    json_t *a = json_array();

    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < sv->n; i++) {
        if (json_array_append_new(
                a, json_string(secret ? REDACTED : sv->v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static bool header_is_secret(const char *name)
{
    static const char *const words[] = {"authorization", "token",  "key",
                                        "secret",        "cookie", "password"};

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasestr(name, words[i]) != NULL)
            return true;
    }
    return false;
}

static json_t *perspectives_json(const struct mpic_coordinator_config *c)
{
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
            const char *v = header_is_secret(p->headers[j].name)
                                ? REDACTED
                                : p->headers[j].value;

            if (json_object_set_new(h, p->headers[j].name, json_string(v)) != 0)
                goto fail;
        }
        if (json_object_set_new(o, "code", json_string(p->code)) != 0 ||
            json_object_set_new(
                o, "name", p->name ? json_string(p->name) : json_null()) != 0 ||
            json_object_set_new(o, "rir", json_string(mpic_rir_name(p->rir))) !=
                0 ||
            json_object_set_new(o, "too_close_codes",
                                strv_json(&p->too_close_codes, false)) != 0 ||
            json_object_set_new(o, "dcv_url",
                                p->dcv_url ? json_string(p->dcv_url)
                                           : json_null()) != 0 ||
            json_object_set_new(o, "caa_url",
                                p->caa_url ? json_string(p->caa_url)
                                           : json_null()) != 0)
            goto fail;
    }
    return a;
fail:
    json_decref(a);
    return NULL;
}

static json_t *value_json(const struct cfg_key *k, const void *base,
                          const struct mpic_coordinator_config *coord)
{
    const void *p = (const char *)base + k->offset;

    switch (k->type) {
    case K_STR: {
        const char *s = *(char *const *)p;

        if (s == NULL)
            return json_null();
        return json_string((k->flags & KF_SECRET) ? REDACTED : s);
    }
    case K_UINT:
        return json_integer(*(const unsigned *)p);
    case K_LONG:
        return json_integer(*(const long *)p);
    case K_SIZE:
        return json_integer((json_int_t) * (const size_t *)p);
    case K_BOOL:
        return json_boolean(*(const bool *)p);
    case K_STRV:
        return strv_json(p, (k->flags & KF_SECRET) != 0);
    case K_LOGLEVEL:
        return json_string(
            mpic_log_level_name(*(const enum mpic_log_level *)p));
    case K_PERSPECTIVES:
        return coord != NULL ? perspectives_json(coord) : json_null();
    }
    return NULL;
}

static json_t *table_json(const struct cfg_key *keys, size_t n,
                          unsigned kind_flag, const void *base,
                          const char *config_file,
                          const struct mpic_coordinator_config *coord)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (json_object_set_new(o, "config_file",
                            config_file ? json_string(config_file)
                                        : json_null()) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (kind_flag != 0 && (keys[i].flags & kind_flag) == 0)
            continue;
        if (json_set_path(o, keys[i].name, value_json(&keys[i], base, coord)) !=
            0)
            goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

json_t *mpic_checker_config_to_json(const struct mpic_checker_config *c)
{
    json_t *o = table_json(checker_keys, N_CHECKER_KEYS,
                           c->kind == MPIC_DAEMON_DCV_CHECKER ? KF_DCV : KF_CAA,
                           c, c->config_file, NULL);

    if (o != NULL &&
        json_object_set_new(o, "daemon",
                            json_string(c->kind == MPIC_DAEMON_DCV_CHECKER
                                            ? "mpic-dcv-checker"
                                            : "mpic-caa-checker")) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *mpic_coordinator_config_to_json(const struct mpic_coordinator_config *c)
{
    json_t *o = table_json(coordinator_keys, N_COORDINATOR_KEYS, 0, c,
                           c->config_file, c);

    if (o != NULL && json_object_set_new(
                         o, "daemon", json_string("mpic-coordinator")) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- --help
 * ------------------------------------------------------------------- */

const char *mpic_config_usage(enum mpic_daemon_kind kind)
{
    switch (kind) {
    case MPIC_DAEMON_COORDINATOR:
        return "usage: mpic-coordinator [--config FILE] [--listen HOST:PORT]\n"
               "                        [--check-config] [--version] "
               "[--help]\n"
               "\n"
               "Terminates the Open MPIC API (POST /mpic), fans out DCV and "
               "CAA checks\n"
               "to remote perspectives and decides quorum.\n"
               "\n"
               "Options:\n"
               "  --config FILE        YAML configuration (default: "
               "$MPIC_CONFIG, else\n"
               "                       built-in defaults and the "
               "environment)\n"
               "  --listen HOST:PORT   listen address, [::]:PORT for IPv6 "
               "(default 0.0.0.0:8000)\n"
               "  --check-config       validate the configuration and the "
               "available\n"
               "                       perspectives file, print every "
               "problem, exit 0 or 1\n"
               "  --version            print the version and exit\n"
               "  --help               print this help and exit\n"
               "\n"
               "Environment (wins over the file, loses to flags):\n"
               "  MPIC_CONFIG          configuration file if --config is "
               "not given\n"
               "  MPIC_LISTEN          listen address\n"
               "  MPIC_LOG_LEVEL       trace|debug|info|warn|error\n"
               "  MPIC_HASH_SECRET     secret for hashing (required unless "
               "in the file)\n"
               "  MPIC_API_KEYS        comma-separated API keys for /mpic\n";
    case MPIC_DAEMON_DCV_CHECKER:
        return "usage: mpic-dcv-checker [--config FILE] [--listen HOST:PORT]\n"
               "                        [--check-config] [--version] "
               "[--help]\n"
               "\n"
               "One remote perspective for domain control validation (POST "
               "/dcv).\n"
               "\n"
               "Options:\n"
               "  --config FILE        YAML configuration (default: "
               "$MPIC_CONFIG)\n"
               "  --listen HOST:PORT   listen address, [::]:PORT for IPv6 "
               "(default 0.0.0.0:8080)\n"
               "  --check-config       validate the configuration, print "
               "every problem,\n"
               "                       exit 0 or 1\n"
               "  --version            print the version and exit\n"
               "  --help               print this help and exit\n"
               "\n"
               "Environment (wins over the file, loses to flags):\n"
               "  MPIC_CONFIG            configuration file if --config is "
               "not given\n"
               "  MPIC_LISTEN            listen address\n"
               "  MPIC_LOG_LEVEL         trace|debug|info|warn|error\n"
               "  MPIC_DNS_RESOLVERS     comma-separated IP[:PORT] or "
               "[IPv6]:PORT\n"
               "                         (default: nameservers of "
               "/etc/resolv.conf)\n"
               "  MPIC_PERSPECTIVE_CODE  the code of this perspective\n";
    case MPIC_DAEMON_CAA_CHECKER:
        return "usage: mpic-caa-checker [--config FILE] [--listen HOST:PORT]\n"
               "                        [--check-config] [--version] "
               "[--help]\n"
               "\n"
               "One remote perspective for CAA checks (POST /caa).\n"
               "\n"
               "Options:\n"
               "  --config FILE        YAML configuration (default: "
               "$MPIC_CONFIG)\n"
               "  --listen HOST:PORT   listen address, [::]:PORT for IPv6 "
               "(default 0.0.0.0:8080)\n"
               "  --check-config       validate the configuration, print "
               "every problem,\n"
               "                       exit 0 or 1\n"
               "  --version            print the version and exit\n"
               "  --help               print this help and exit\n"
               "\n"
               "Environment (wins over the file, loses to flags):\n"
               "  MPIC_CONFIG               configuration file if --config "
               "is not given\n"
               "  MPIC_LISTEN               listen address\n"
               "  MPIC_LOG_LEVEL            trace|debug|info|warn|error\n"
               "  MPIC_DNS_RESOLVERS        comma-separated IP[:PORT] or "
               "[IPv6]:PORT\n"
               "                            (default: nameservers of "
               "/etc/resolv.conf)\n"
               "  MPIC_PERSPECTIVE_CODE     the code of this perspective\n"
               "  MPIC_DEFAULT_CAA_DOMAINS  CAA issuer domains of this CA, "
               "comma or '|'\n"
               "                            separated\n";
    }
    return "";
}
