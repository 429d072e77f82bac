/*
 * The CHECK_RESPONSE: its encoder, its tolerant decoder (a checker's answer
 * as the coordinator reads it), the error helper the checkers use to build
 * one, and the clock for its timestamp.
 */
#include "common/model.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/json_safe.h"
#include "common/log.h"
#include "common/mem.h"
#include "common/model_int.h"

/* ---- CHECK_RESPONSE ---- */

/* Total (json_safe.h): only OOM can fail, and that is fatal. */
static json_t *errors_to_json(const struct mpic_check_response *r)
{
    json_t *a;

    if (!r->errors_present)
        return json_null();
    a = mpic_jarr();
    for (size_t i = 0; i < r->errors.n; i++) {
        json_t *e = mpic_jobj();

        mpic_jset(e, "error_type", mpic_jstr(r->errors.items[i].type));
        mpic_jset(e, "error_message", mpic_jstr(r->errors.items[i].message));
        mpic_jpush(a, e);
    }
    return a;
}

/* Never NULL: every value is ours or already valid (errlist, details). */
json_t *mpic_check_response_to_json(const struct mpic_check_response *r)
{
    json_t *o = mpic_jobj();

    mpic_jset(o, "check_completed", mpic_jbool(r->check_completed));
    mpic_jset(o, "check_passed", mpic_jbool(r->check_passed));
    mpic_jset(o, "errors", errors_to_json(r));
    mpic_jset(o, "timestamp_ns", mpic_jint(r->timestamp_ns));
    mpic_jset(o, "check_type", mpic_jstr(mpic_check_type_name(r->check_type)));
    mpic_jset(o, "details",
              r->details != NULL ? json_incref(r->details) : json_null());
    return o;
}

static const char *string_or_empty(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));

    return s != NULL ? s : "";
}

enum mpic_err mpic_check_response_parse(const char *body, size_t len,
                                        enum mpic_check_type expected,
                                        struct mpic_check_response *out,
                                        char **why)
{
    struct mpic_check_response resp;
    json_error_t jerr;
    json_t *root = NULL;
    json_t *v;
    const json_t *item;
    size_t i;
    enum mpic_err rc = MPIC_ERR_PEER;

    memset(&resp, 0, sizeof(resp));
    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (body == NULL) {
        *why = xstrdup("empty body");
        goto out;
    }
    /* JSON_ALLOW_NUL: a record a checker saw may hold a NUL byte (e.g. a
     * TXT value "x\u0000" in details.records_seen); that is still a
     * well-formed check response and must not discard the verdict. Strings
     * read below as C strings are compared by length where it matters. */
    root = json_loadb(body, len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL,
                      &jerr);
    if (root == NULL) {
        *why = xasprintf("not JSON: %s", jerr.text);
        goto out;
    }
    if (!json_is_object(root)) {
        *why =
            xasprintf("the body is %s, not an object", model_type_word(root));
        goto out;
    }
    v = json_object_get(root, "check_type");
    if (!json_is_string(v) ||
        json_string_length(v) != strlen(mpic_check_type_name(expected)) ||
        strcmp(json_string_value(v), mpic_check_type_name(expected)) != 0) {
        *why = xasprintf("check_type is not \"%s\"",
                         mpic_check_type_name(expected));
        goto out;
    }
    resp.check_type = expected;
    v = json_object_get(root, "check_passed");
    if (!json_is_boolean(v)) {
        *why = xstrdup("check_passed is missing or not a boolean");
        goto out;
    }
    resp.check_passed = json_is_true(v);
    v = json_object_get(root, "check_completed");
    if (!json_is_boolean(v)) {
        *why = xstrdup("check_completed is missing or not a boolean");
        goto out;
    }
    resp.check_completed = json_is_true(v);
    v = json_object_get(root, "timestamp_ns");
    if (json_is_integer(v))
        resp.timestamp_ns = (int64_t)json_integer_value(v);

    v = json_object_get(root, "errors");
    if (json_is_array(v)) {
        resp.errors_present = true;
        json_array_foreach(v, i, item)
        {
            if (!json_is_object(item)) {
                *why = xasprintf("errors[%zu] is not an object", i);
                goto out;
            }
            mpic_errlist_add(&resp.errors, string_or_empty(item, "error_type"),
                             "%s", string_or_empty(item, "error_message"));
        }
    } else if (v != NULL && !json_is_null(v)) {
        *why = xstrdup("errors is neither a list nor null");
        goto out;
    }
    v = json_object_get(root, "details");
    if (v != NULL && !json_is_null(v))
        resp.details = json_incref(v);

    *out = resp;
    memset(&resp, 0, sizeof(resp));
    rc = MPIC_OK;
out:
    mpic_check_response_cleanup(&resp);
    json_decref(root);
    return rc;
}

void mpic_check_response_add_error(struct mpic_check_response *r,
                                   const char *type, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    mpic_errlist_vadd(&r->errors, type, fmt, ap);
    va_end(ap);
    r->errors_present = true;
}

int64_t mpic_now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
