/*
 * Daemon configuration (see config.h): the loader the daemons share. One
 * table per daemon kind (config_checker.c, config_coordinator.c) maps each
 * YAML key (as a dotted path) to its type, its place in the config struct,
 * its bounds and flags (secret, environment variable, file check). The same
 * table drives parsing, the environment layer, whole-config validation
 * (config_validate.c), unknown-key errors and the /configz output with
 * secrets redacted (config_json.c). This file holds the layers: the YAML
 * file, the environment and the flags, and the --help texts.
 *
 * Every value remembers where it came from (file and line, environment
 * variable or flag), so a problem in the final, layered value is reported
 * against the layer that set it: "file:line: key: problem". The loader
 * never exits and never stops at the first problem.
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "common/config_int.h"
#include "common/mem.h"

/* ---- problems ------------------------------------------------------------ */

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

void mpic_cfg_issue(struct mpic_errlist *errs, const char *src, unsigned line,
                    const char *key, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    issue_v(errs, src, line, key, fmt, ap);
    va_end(ap);
}

void mpic_cfg_issue_at(struct cfg_loader *ld, const yaml_node_t *n,
                       const char *key, const char *fmt, ...)
{
    va_list ap;
    unsigned line = n != NULL ? (unsigned)n->start_mark.line + 1 : 1;

    va_start(ap, fmt);
    issue_v(ld->errs, ld->file, line, key, fmt, ap);
    va_end(ap);
}

void mpic_cfg_issue_key(struct cfg_loader *ld, size_t i, long elem,
                        const char *fmt, ...)
{
    va_list ap;
    const struct cfg_origin *o = &ld->origins[i];
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

/* ---- keys ---------------------------------------------------------------- */

static long find_key(const struct cfg_loader *ld, const char *name, bool *other)
{
    *other = false;
    for (size_t i = 0; i < ld->n_keys; i++) {
        if (strcmp(ld->keys[i].name, name) != 0)
            continue;
        if (cfg_key_applies(ld, &ld->keys[i]))
            return (long)i;
        *other = true;
    }
    return -1;
}

/* True if some key of this daemon (of any daemon) lives under "prefix.". */
static bool is_section(const struct cfg_loader *ld, const char *prefix,
                       bool any_kind)
{
    size_t n = strlen(prefix);

    for (size_t i = 0; i < ld->n_keys; i++) {
        const struct cfg_key *k = &ld->keys[i];

        if (strncmp(k->name, prefix, n) == 0 && k->name[n] == '.' &&
            (any_kind || cfg_key_applies(ld, k)))
            return true;
    }
    return false;
}

/* ---- unknown keys -------------------------------------------------------- */

/* Optimal string alignment distance (a swap of neighbours costs 1). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *d = NULL, r;

    /* Names are short; a name longer than this is no near miss anyway. */
    if (la > 128 || lb > 128)
        return SIZE_MAX;
#define D(i, j) d[(i) * (lb + 1) + (j)]
    d = xcalloc((la + 1) * (lb + 1), sizeof(*d));
    for (size_t i = 0; i <= la; i++)
        D(i, 0) = i;
    for (size_t j = 0; j <= lb; j++)
        D(0, j) = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = D(i - 1, j) + 1;

            if (D(i, j - 1) + 1 < v)
                v = D(i, j - 1) + 1;
            if (D(i - 1, j - 1) + cost < v)
                v = D(i - 1, j - 1) + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && D(i - 2, j - 2) + 1 < v)
                v = D(i - 2, j - 2) + 1;
            D(i, j) = v;
        }
    }
    r = D(la, lb);
#undef D
    free(d);
    return r;
}

const char *mpic_cfg_near_miss(const char *s, const char *const *candidates,
                               size_t n_candidates)
{
    size_t limit = strlen(s) / 4, best = SIZE_MAX;
    const char *found = NULL;

    if (limit < 1)
        limit = 1;
    if (limit > 3)
        limit = 3;
    for (size_t i = 0; i < n_candidates; i++) {
        size_t d = strcasecmp(s, candidates[i]) == 0
                       ? 0
                       : edit_distance(s, candidates[i]);

        if (d <= limit && d < best) {
            best = d;
            found = candidates[i];
        }
    }
    return found;
}

void mpic_cfg_unknown_key(struct cfg_loader *ld, const yaml_node_t *n,
                          const char *key, const char *const *candidates,
                          size_t n_candidates)
{
    const char *leaf = strrchr(key, '.');
    const char *near;

    leaf = leaf != NULL ? leaf + 1 : key;
    near = mpic_cfg_near_miss(leaf, candidates, n_candidates);
    if (near != NULL)
        mpic_cfg_issue_at(ld, n, key, "unknown key (did you mean '%s'?)", near);
    else
        mpic_cfg_issue_at(ld, n, key, "unknown key");
}

/*
 * An unknown key of the table at dotted path full: the candidates are this
 * daemon's keys and sections, compared whole ("tls.cert_flie").
 */
static void unknown_table_key(struct cfg_loader *ld, const yaml_node_t *kn,
                              const char *full)
{
    const char **cands = xcalloc(ld->n_keys * 4 + 1, sizeof(*cands));
    char **owned = xcalloc(ld->n_keys * 4 + 1, sizeof(*owned));
    size_t n = 0, n_owned = 0;
    const char *near;

    for (size_t i = 0; i < ld->n_keys; i++) {
        const char *name = ld->keys[i].name;

        if (!cfg_key_applies(ld, &ld->keys[i]))
            continue;
        cands[n++] = name;
        /* Its sections ("tls" of "tls.cert_file"): a mistyped section. */
        for (const char *dot = strchr(name, '.');
             dot != NULL && n_owned < 3 * ld->n_keys;
             dot = strchr(dot + 1, '.')) {
            owned[n_owned] = xstrndup(name, (size_t)(dot - name));
            cands[n++] = owned[n_owned++];
        }
    }
    near = mpic_cfg_near_miss(full, cands, n);
    if (near != NULL)
        mpic_cfg_issue_at(ld, kn, full, "unknown key (did you mean '%s'?)",
                          near);
    else
        mpic_cfg_issue_at(ld, kn, full, "unknown key");
    for (size_t i = 0; i < n_owned; i++)
        free(owned[i]);
    free(owned);
    free(cands);
}

long mpic_cfg_key_index(const struct cfg_loader *ld, const char *name)
{
    bool other;

    return find_key(ld, name, &other);
}

void mpic_cfg_origin_set(struct cfg_origin *o, const char *src, unsigned line)
{
    free(o->elem_lines);
    o->elem_lines = NULL;
    o->n_elem_lines = 0;
    o->src = src;
    o->line = line;
    o->set = true;
}

/* ---- YAML ---------------------------------------------------------------- */

int mpic_cfg_yaml_load(const char *path, yaml_document_t *doc,
                       struct mpic_errlist *errs)
{
    yaml_parser_t parser;
    FILE *f = NULL;
    int rc = -1;

    f = fopen(path, "r");
    if (f == NULL) {
        mpic_cfg_issue(errs, path, 0, NULL, "cannot open: %s", strerror(errno));
        return -1;
    }
    if (yaml_parser_initialize(&parser) == 0) {
        mpic_cfg_issue(errs, path, 0, NULL,
                       "cannot initialise the YAML parser");
        goto out_file;
    }
    yaml_parser_set_input_file(&parser, f);
    if (yaml_parser_load(&parser, doc) == 0) {
        const char *problem = parser.problem ? parser.problem : "parse error";

        if (parser.context != NULL)
            mpic_cfg_issue(errs, path, (unsigned)parser.problem_mark.line + 1,
                           NULL, "YAML syntax error: %s %s", parser.context,
                           problem);
        else
            mpic_cfg_issue(errs, path, (unsigned)parser.problem_mark.line + 1,
                           NULL, "YAML syntax error: %s", problem);
        goto out;
    }
    rc = 0;
out:
    yaml_parser_delete(&parser);
out_file:
    fclose(f);
    return rc;
}

/* ---- typed setters from YAML --------------------------------------------- */

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

static void set_number(struct cfg_loader *ld, size_t i, long v)
{
    void *p = cfg_field(ld, i);

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

static void set_from_node(struct cfg_loader *ld, size_t i, yaml_node_t *v)
{
    const struct cfg_key *k = &ld->keys[i];
    const char *s = cfg_scalar(v);
    void *p = cfg_field(ld, i);
    long num;

    if (k->type == K_PERSPECTIVES) {
        MPIC_ASSERT(ld->parse_perspectives != NULL);
        ld->parse_perspectives(ld, i, v);
        return;
    }
    if (k->type == K_STRV) {
        struct mpic_strv sv;
        unsigned *lines = NULL;
        bool ok = true;
        size_t n;

        if (cfg_is_null(v)) {
            mpic_strv_cleanup(p);
            mpic_cfg_origin_set(&ld->origins[i], ld->file, cfg_line_of(v));
            return;
        }
        if (v->type != YAML_SEQUENCE_NODE) {
            mpic_cfg_issue_at(ld, v, k->name,
                              "expected a list of strings, got %s",
                              cfg_node_kind(v));
            return;
        }
        mpic_strv_init(&sv);
        n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
        lines = xcalloc(n ? n : 1, sizeof(*lines));
        for (size_t j = 0; j < n; j++) {
            yaml_node_t *e = cfg_node(ld->doc, v->data.sequence.items.start[j]);
            const char *es = cfg_scalar(e);

            if (es == NULL || cfg_is_null(e)) {
                char *ek = xasprintf("%s[%zu]", k->name, j);
                mpic_cfg_issue_at(ld, e, ek, "expected a string, got %s",
                                  es == NULL ? cfg_node_kind(e) : "null");
                free(ek);
                ok = false;
                continue;
            }
            lines[sv.n] = cfg_line_of(e);
            mpic_strv_push(&sv, es);
        }
        if (!ok) {
            mpic_strv_cleanup(&sv);
            free(lines);
            return;
        }
        mpic_strv_cleanup(p);
        *(struct mpic_strv *)p = sv;
        mpic_cfg_origin_set(&ld->origins[i], ld->file, cfg_line_of(v));
        ld->origins[i].elem_lines = lines;
        ld->origins[i].n_elem_lines = sv.n;
        return;
    }
    if (s == NULL) {
        mpic_cfg_issue_at(ld, v, k->name, "expected a %s, got %s",
                          k->type == K_STR        ? "string"
                          : k->type == K_BOOL     ? "boolean"
                          : k->type == K_LOGLEVEL ? "log level"
                                                  : "number",
                          cfg_node_kind(v));
        return;
    }
    switch (k->type) {
    case K_STR:
        free(*(char **)p);
        *(char **)p = cfg_is_null(v) ? NULL : xstrdup(s);
        break;
    case K_UINT:
    case K_LONG:
    case K_SIZE:
        if (!parse_number(s, k->min, k->max, &num)) {
            mpic_cfg_issue_at(ld, v, k->name,
                              "expected a whole number in %ld..%ld, "
                              "got '%s'",
                              k->min, k->max, s);
            return;
        }
        set_number(ld, i, num);
        break;
    case K_BOOL:
        if (!parse_bool(s, p)) {
            mpic_cfg_issue_at(ld, v, k->name,
                              "expected true or false, got '%s'", s);
            return;
        }
        break;
    case K_LOGLEVEL:
        if (mpic_log_parse_level(s, p) != 0) {
            mpic_cfg_issue_at(ld, v, k->name,
                              "expected trace, debug, info, warn or "
                              "error, got '%s'",
                              s);
            return;
        }
        break;
    default:
        MPIC_ASSERT(0);
    }
    mpic_cfg_origin_set(&ld->origins[i], ld->file, cfg_line_of(v));
}

bool mpic_cfg_duplicate_key(struct cfg_loader *ld, yaml_node_t *map,
                            yaml_node_pair_t *pair, const char *full)
{
    const char *name = cfg_scalar(cfg_node(ld->doc, pair->key));

    for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pair; q++) {
        const char *other = cfg_scalar(cfg_node(ld->doc, q->key));

        if (other != NULL && strcmp(other, name) == 0) {
            mpic_cfg_issue_at(ld, cfg_node(ld->doc, pair->key), full,
                              "duplicate key (first at line %u)",
                              cfg_line_of(cfg_node(ld->doc, q->key)));
            return true;
        }
    }
    return false;
}

static void walk_mapping(struct cfg_loader *ld, yaml_node_t *map,
                         const char *prefix)
{
    for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
         pair < map->data.mapping.pairs.top; pair++) {
        yaml_node_t *kn = cfg_node(ld->doc, pair->key);
        yaml_node_t *vn = cfg_node(ld->doc, pair->value);
        const char *name = cfg_scalar(kn);
        char *full = NULL;
        bool other = false;
        long idx;

        if (name == NULL) {
            mpic_cfg_issue_at(ld, kn, prefix != NULL ? prefix : "(top level)",
                              "keys must be strings, got %s",
                              cfg_node_kind(kn));
            continue;
        }
        full =
            prefix != NULL ? xasprintf("%s.%s", prefix, name) : xstrdup(name);
        if (mpic_cfg_duplicate_key(ld, map, pair, full))
            goto next;
        idx = find_key(ld, full, &other);
        if (idx >= 0) {
            set_from_node(ld, (size_t)idx, vn);
        } else if (is_section(ld, full, false)) {
            if (vn->type == YAML_MAPPING_NODE)
                walk_mapping(ld, vn, full);
            else if (!cfg_is_null(vn))
                mpic_cfg_issue_at(ld, vn, full, "expected a mapping, got %s",
                                  cfg_node_kind(vn));
        } else if (other || is_section(ld, full, true)) {
            /* The checkers share one schema: a file may serve both. */
            log_warn("%s:%u: %s: a key of the %s checker, not used by this "
                     "one (ignored)",
                     ld->file, cfg_line_of(kn), full,
                     ld->kind_flag == KF_DCV ? "CAA" : "DCV");
        } else {
            unknown_table_key(ld, kn, full);
        }
    next:
        free(full);
    }
}

/* Parses ld->file into ld->base. Returns false if it could not be read. */
static bool load_file(struct cfg_loader *ld)
{
    yaml_document_t doc;
    yaml_node_t *root;

    if (mpic_cfg_yaml_load(ld->file, &doc, ld->errs) != 0)
        return false;
    ld->doc = &doc;
    root = yaml_document_get_root_node(&doc);
    if (root != NULL) {
        ld->root_line = cfg_line_of(root);
        if (root->type == YAML_MAPPING_NODE)
            walk_mapping(ld, root, NULL);
        else if (!cfg_is_null(root))
            mpic_cfg_issue_at(ld, root, "(top level)",
                              "expected a mapping, got %s",
                              cfg_node_kind(root));
    }
    ld->doc = NULL;
    yaml_document_delete(&doc);
    return true;
}

/* ---- environment and command line ---------------------------------------- */

static void apply_env(struct cfg_loader *ld)
{
    for (size_t i = 0; i < ld->n_keys; i++) {
        const struct cfg_key *k = &ld->keys[i];
        const char *v;
        void *p = cfg_field(ld, i);

        if (k->env == NULL || !cfg_key_applies(ld, k))
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
                mpic_cfg_issue(
                    ld->errs, k->env, 0, k->name,
                    "expected trace, debug, info, warn or error, got '%s'", v);
                continue;
            }
            break;
        default:
            MPIC_ASSERT(0);
        }
        /* The variable's name is the origin (a literal in the table). */
        mpic_cfg_origin_set(&ld->origins[i], k->env, 0);
    }
}

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
            mpic_cfg_issue(errs, "command line", 0, NULL, "%s needs a value",
                           name);
        return true;
    }
    if (a[n] != '\0')
        return false;
    if (*i + 1 >= argc) {
        mpic_cfg_issue(errs, "command line", 0, NULL, "%s needs a value", name);
        return true;
    }
    *val = argv[++*i];
    return true;
}

void mpic_cfg_parse_cli(int argc, char **argv, struct cfg_cli *cli,
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
        else if (strcmp(a, "--lenient-paths") == 0)
            cli->lenient_paths = true;
        else if (strcmp(a, "--version") == 0)
            version = true;
        else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
            help = true;
        else if (a[0] == '-')
            mpic_cfg_issue(errs, "command line", 0, NULL, "unknown option '%s'",
                           a);
        else
            mpic_cfg_issue(errs, "command line", 0, NULL,
                           "unexpected argument '%s'", a);
    }
    if (cli->lenient_paths && !check && !help && !version)
        mpic_cfg_issue(errs, "command line", 0, NULL,
                       "--lenient-paths only goes with --check-config (a "
                       "running daemon needs its files)");
    cli->action = help      ? MPIC_CLI_HELP
                  : version ? MPIC_CLI_VERSION
                  : check   ? MPIC_CLI_CHECK_CONFIG
                            : MPIC_CLI_RUN;
}

static void apply_cli(struct cfg_loader *ld, const struct cfg_cli *cli)
{
    long i;

    if (cli->listen == NULL || *cli->listen == '\0')
        return;
    i = mpic_cfg_key_index(ld, "listen");
    MPIC_ASSERT(i >= 0);
    free(*(char **)cfg_field(ld, (size_t)i));
    *(char **)cfg_field(ld, (size_t)i) = xstrdup(cli->listen);
    mpic_cfg_origin_set(&ld->origins[i], "--listen", 0);
}

void mpic_cfg_loader_init(struct cfg_loader *ld, const struct cfg_key *keys,
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

void mpic_cfg_loader_cleanup(struct cfg_loader *ld)
{
    for (size_t i = 0; i < ld->n_keys; i++)
        free(ld->origins[i].elem_lines);
    free(ld->origins);
    free(ld->plines);
    memset(ld, 0, sizeof(*ld));
}

/* The config file: --config, else $MPIC_CONFIG, else none. Owned or NULL. */
static char *config_path(const struct cfg_cli *cli)
{
    const char *env = getenv("MPIC_CONFIG");

    if (cli->config != NULL && *cli->config != '\0')
        return xstrdup(cli->config);
    if (env != NULL && *env != '\0')
        return xstrdup(env);
    return NULL;
}

void mpic_cfg_apply_layers(struct cfg_loader *ld, const struct cfg_cli *cli,
                           char **config_file)
{
    *config_file = config_path(cli);
    ld->file = *config_file;
    ld->lenient_paths = cli->lenient_paths;
    if (ld->file != NULL)
        load_file(ld);
    apply_env(ld);
    apply_cli(ld, cli);
}

/* ---- --help -------------------------------------------------------------- */

const char *mpic_config_usage(enum mpic_daemon_kind kind)
{
    switch (kind) {
    case MPIC_DAEMON_COORDINATOR:
        return "usage: mpic-coordinator [--config FILE] [--listen HOST:PORT]\n"
               "                        [--check-config [--lenient-paths]] "
               "[--version] [--help]\n"
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
               "  --lenient-paths      with --check-config: do not open "
               "files named by the\n"
               "                       configuration (they exist only at run "
               "time)\n"
               "  --as-of YYYY-MM-DD   with --check-config: check against the "
               "BR calendar of\n"
               "                       that day (compliance.min_perspective_"
               "count: auto)\n"
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
               "                        [--check-config [--lenient-paths]] "
               "[--version] [--help]\n"
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
               "  --lenient-paths      with --check-config: do not open "
               "files named by the\n"
               "                       configuration (they exist only at run "
               "time)\n"
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
               "                        [--check-config [--lenient-paths]] "
               "[--version] [--help]\n"
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
               "  --lenient-paths      with --check-config: do not open "
               "files named by the\n"
               "                       configuration (they exist only at run "
               "time)\n"
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
