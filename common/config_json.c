/*
 * The effective configuration as JSON for /configz, built from a key
 * table: the same nesting as the YAML file, secrets replaced by
 * "<redacted>". Each daemon's loader adds its own fields (config_checker.c,
 * config_coordinator.c).
 */
#include "common/config_int.h"

#include <stdlib.h>
#include <string.h>

#include "common/mem.h"

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

json_t *mpic_cfg_strv_json(const struct mpic_strv *sv, bool secret)
{
    json_t *a = json_array();

    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < sv->n; i++) {
        if (json_array_append_new(
                a, json_string(secret ? CFG_REDACTED : sv->v[i])) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *value_json(const struct cfg_key *k, const void *base,
                          cfg_json_fn *perspectives)
{
    const void *p = (const char *)base + k->offset;

    switch (k->type) {
    case K_STR: {
        const char *s = *(char *const *)p;

        if (s == NULL)
            return json_null();
        return json_string((k->flags & KF_SECRET) ? CFG_REDACTED : s);
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
        return mpic_cfg_strv_json(p, (k->flags & KF_SECRET) != 0);
    case K_LOGLEVEL:
        return json_string(
            mpic_log_level_name(*(const enum mpic_log_level *)p));
    case K_PERSPECTIVES:
        return perspectives != NULL ? perspectives(base) : json_null();
    }
    return NULL;
}

json_t *mpic_cfg_table_json(const struct cfg_key *keys, size_t n,
                            unsigned kind_flag, const void *base,
                            const char *config_file, cfg_json_fn *perspectives)
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
        if (json_set_path(o, keys[i].name,
                          value_json(&keys[i], base, perspectives)) != 0)
            goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}
