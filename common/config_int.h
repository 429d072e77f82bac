/*
 * Internals of the configuration loaders, shared by the files that make
 * them up and by nothing else: config.c (key lookup, the YAML file, the
 * environment and flag layers, problem reports, --help), config_validate.c
 * (per-key checks of the final values), config_json.c (/configz),
 * config_checker.c (the checkers' table, defaults and cross-checks) and
 * coordinator/config_coordinator.c (the coordinator's). The public
 * interfaces are config.h and coordinator/config_coordinator.h.
 */
#ifndef MPIC_COMMON_CONFIG_INT_H
#define MPIC_COMMON_CONFIG_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>
#include <yaml.h>

#include "common/config.h"
#include "common/err.h"

#define CFG_REDACTED "<redacted>"

/* ---- the key tables ------------------------------------------------------ */

enum cfg_key_type {
    K_STR,
    K_UINT,     /* unsigned */
    K_LONG,     /* long */
    K_SIZE,     /* size_t */
    K_BOOL,     /* bool */
    K_STRV,     /* struct mpic_strv */
    K_LOGLEVEL, /* enum mpic_log_level */
    K_PERSPECTIVES,
};

enum cfg_key_check {
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
    enum cfg_key_type type;
    size_t offset;
    long min, max; /* numbers only */
    unsigned flags;
    enum cfg_key_check check;
    const char *env;      /* environment variable, or NULL */
    const char *env_seps; /* list separators of env, K_STRV only */
};

/* ---- the loader ---------------------------------------------------------- */

/* Where a value came from: src is a file name, "$VAR" or "--flag". */
struct cfg_origin {
    const char *src; /* borrowed (config file name or literal); NULL: default */
    unsigned line;   /* 0: no line */
    unsigned *elem_lines; /* K_STRV from a file: line of each element */
    size_t n_elem_lines;
    bool set; /* set by a layer (file, env, flag) */
};

/* Lines of one perspective entry (the coordinator's loader). */
struct cfg_persp_lines;

struct cfg_loader;

/* Parses the YAML value v of key i (a K_PERSPECTIVES key). */
typedef void cfg_parse_fn(struct cfg_loader *ld, size_t i, yaml_node_t *v);

/* The /configz value of a K_PERSPECTIVES key of the config at base. */
typedef json_t *cfg_json_fn(const void *base);

struct cfg_loader {
    const char *file; /* config file, or NULL */
    yaml_document_t *doc;
    struct mpic_errlist *errs;
    const struct cfg_key *keys;
    size_t n_keys;
    unsigned kind_flag; /* KF_DCV/KF_CAA for checkers; 0: coordinator */
    void *base;
    struct cfg_origin *origins;
    unsigned root_line;
    /* The coordinator's loader sets these; the checkers have no such key. */
    cfg_parse_fn *parse_perspectives;
    struct cfg_persp_lines *plines; /* owned */
    size_t n_plines;
    /* --check-config --lenient-paths: files are not opened. */
    bool lenient_paths;
};

/* The command line (INTERFACE.md); strings borrowed from argv. */
struct cfg_cli {
    const char *config;
    const char *listen;
    enum mpic_cli_action action;
    bool lenient_paths; /* --lenient-paths (with --check-config only) */
};

static inline void *cfg_field(struct cfg_loader *ld, size_t i)
{
    return (char *)ld->base + ld->keys[i].offset;
}

static inline bool cfg_key_applies(const struct cfg_loader *ld,
                                   const struct cfg_key *k)
{
    return ld->kind_flag == 0 || (k->flags & ld->kind_flag) != 0;
}

/*
 * Sets up ld over keys for the config struct at base (borrowed, like keys
 * and errs); kind_flag selects a checker's keys (0: all). Release with
 * mpic_cfg_loader_cleanup().
 */
void mpic_cfg_loader_init(struct cfg_loader *ld, const struct cfg_key *keys,
                          size_t n_keys, unsigned kind_flag, void *base,
                          struct mpic_errlist *errs);
void mpic_cfg_loader_cleanup(struct cfg_loader *ld);

/* Index of the key called name in ld's table for this daemon, or -1. */
long mpic_cfg_key_index(const struct cfg_loader *ld, const char *name);

/* Records that a layer set a value; src is borrowed and must outlive ld. */
void mpic_cfg_origin_set(struct cfg_origin *o, const char *src, unsigned line);

/* ---- problems ------------------------------------------------------------ */

/* A problem at "src[:line]: key: ..." (src NULL: "configuration"). */
void mpic_cfg_issue(struct mpic_errlist *errs, const char *src, unsigned line,
                    const char *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* A problem in the file being parsed, at node n (NULL: line 1). */
void mpic_cfg_issue_at(struct cfg_loader *ld, const yaml_node_t *n,
                       const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* A problem against the layer that set key i (or its element elem, or -1). */
void mpic_cfg_issue_key(struct cfg_loader *ld, size_t i, long elem,
                        const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Reports key (at node n) as unknown: an error naming the closest of the
 * candidates ("did you mean 'x'?") when one is a near miss.
 */
void mpic_cfg_unknown_key(struct cfg_loader *ld, const yaml_node_t *n,
                          const char *key, const char *const *candidates,
                          size_t n_candidates);

/* The candidate within a small edit distance of s, or NULL. */
const char *mpic_cfg_near_miss(const char *s, const char *const *candidates,
                               size_t n_candidates);

/* ---- YAML ---------------------------------------------------------------- */

/*
 * Loads the first document of path. Returns 0 with *doc to be deleted by
 * the caller, or -1 with the problem in errs.
 */
int mpic_cfg_yaml_load(const char *path, yaml_document_t *doc,
                       struct mpic_errlist *errs);

/* Reports a key that appears twice in one mapping; true if it does. */
bool mpic_cfg_duplicate_key(struct cfg_loader *ld, yaml_node_t *map,
                            yaml_node_pair_t *pair, const char *full);

static inline yaml_node_t *cfg_node(yaml_document_t *doc, int index)
{
    return yaml_document_get_node(doc, index);
}

static inline const char *cfg_node_kind(const yaml_node_t *n)
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

static inline const char *cfg_scalar(const yaml_node_t *n)
{
    if (n == NULL || n->type != YAML_SCALAR_NODE)
        return NULL;
    return (const char *)n->data.scalar.value;
}

/* A plain null: "", "~", "null". */
static inline bool cfg_is_null(const yaml_node_t *n)
{
    const char *s = cfg_scalar(n);

    if (s == NULL || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return s[0] == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
           strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0;
}

static inline unsigned cfg_line_of(const yaml_node_t *n)
{
    return (unsigned)n->start_mark.line + 1;
}

/* ---- layers -------------------------------------------------------------- */

/* Parses argv into cli; usage problems go to errs. */
void mpic_cfg_parse_cli(int argc, char **argv, struct cfg_cli *cli,
                        struct mpic_errlist *errs);

/*
 * Applies the layers above the defaults: the file (--config, else
 * $MPIC_CONFIG, else none), the environment, then --listen. Sets
 * *config_file to the file's name (owned; NULL: none) and ld->file to it.
 */
void mpic_cfg_apply_layers(struct cfg_loader *ld, const struct cfg_cli *cli,
                           char **config_file);

/* ---- validation (config_validate.c) -------------------------------------- */

/* NULL if s is HOST:PORT or [v6]:PORT (a listen address); else why not. */
const char *mpic_cfg_check_listen(const char *s);

/* NULL if s is IP, IP:PORT, [v6] or [v6]:PORT; else what is wrong. */
const char *mpic_cfg_check_resolver(const char *s);

/* The table's per-key checks against the final layered values. */
void mpic_cfg_validate_keys(struct cfg_loader *ld);

/*
 * section.cert_file and .key_file: both or neither, and the key must be the
 * certificate's (unless ld->lenient_paths); client CA needs both.
 */
void mpic_cfg_validate_tls_pair(struct cfg_loader *ld, const char *section,
                                const struct mpic_tls_files *t);
/* tracing.otlp_endpoint: NULL (off) or an http(s):// URL with a host. */
void mpic_cfg_validate_otlp_endpoint(struct cfg_loader *ld, const char *url);

/* True if a listen address (HOST:PORT, [v6]:PORT) is on loopback only. */
bool mpic_cfg_listen_is_loopback(const char *listen);

/* True if host (an IP literal, [v6] or a name) is a loopback host. */
bool mpic_cfg_host_is_loopback(const char *host);

/* ---- /configz (config_json.c) -------------------------------------------- */

/* A JSON array of sv (every element redacted if secret); new reference. */
json_t *mpic_cfg_strv_json(const struct mpic_strv *sv, bool secret);

/*
 * The effective configuration at base as a JSON object (new reference, or
 * NULL), secrets redacted; K_PERSPECTIVES values come from perspectives
 * (NULL: null).
 */
json_t *mpic_cfg_table_json(const struct cfg_key *keys, size_t n,
                            unsigned kind_flag, const void *base,
                            const char *config_file, cfg_json_fn *perspectives);

#endif
