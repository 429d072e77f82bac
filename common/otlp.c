/*
 * The OTLP/HTTP JSON encoding of an ExportTraceServiceRequest
 * (opentelemetry-proto, "JSON Protobuf Encoding"): trace and span ids are
 * lower-case hex strings, 64-bit integers (times, intValue) are decimal
 * strings, enums (kind, status code) are integers, field names are
 * lowerCamelCase.
 */
#include "common/trace.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/mem.h"

#ifndef MPIC_VERSION
#define MPIC_VERSION "0.0.0"
#endif

/* A JSON string of s; bytes that are not valid UTF-8 become '?'. */
static json_t *str_lossy(const char *s)
{
    json_t *j = json_string(s);
    char *copy;

    if (j != NULL)
        return j;
    copy = xstrdup(s);
    for (char *p = copy; *p != '\0'; p++) {
        if ((unsigned char)*p >= 0x80)
            *p = '?';
    }
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *int_string(int64_t v)
{
    char b[32];

    snprintf(b, sizeof(b), "%" PRId64, v);
    return json_string(b);
}

static json_t *hex_string(const uint8_t *p, size_t n)
{
    char b[2 * MPIC_TRACE_ID_LEN + 1];

    mpic_trace_hex(p, n, b);
    return json_string(b);
}

static json_t *kv_str(const char *key, const char *v)
{
    return json_pack("{s:s, s:{s:o}}", "key", key, "value", "stringValue",
                     str_lossy(v));
}

static json_t *attr_json(const struct mpic_span_attr *a)
{
    switch (a->type) {
    case MPIC_ATTR_STR:
        return kv_str(a->key, a->s != NULL ? a->s : "");
    case MPIC_ATTR_INT:
        return json_pack("{s:s, s:{s:o}}", "key", a->key, "value", "intValue",
                         int_string(a->i));
    case MPIC_ATTR_BOOL:
        return json_pack("{s:s, s:{s:b}}", "key", a->key, "value", "boolValue",
                         a->b);
    }
    return NULL;
}

static json_t *span_json(const struct mpic_span *s)
{
    json_t *o = json_object();
    json_t *attrs = json_array();
    json_t *status = json_object();

    if (o == NULL || attrs == NULL || status == NULL)
        goto fail;
    json_object_set_new_nocheck(o, "traceId",
                                hex_string(s->trace_id, MPIC_TRACE_ID_LEN));
    json_object_set_new_nocheck(o, "spanId",
                                hex_string(s->span_id, MPIC_SPAN_ID_LEN));
    if (s->has_parent)
        json_object_set_new_nocheck(o, "parentSpanId",
                                    hex_string(s->parent_id, MPIC_SPAN_ID_LEN));
    json_object_set_new_nocheck(o, "name",
                                str_lossy(s->name != NULL ? s->name : "span"));
    json_object_set_new_nocheck(o, "kind", json_integer(s->kind));
    json_object_set_new_nocheck(o, "startTimeUnixNano",
                                int_string(s->start_ns));
    json_object_set_new_nocheck(o, "endTimeUnixNano", int_string(s->end_ns));
    for (size_t i = 0; i < s->n_attrs && i < MPIC_SPAN_MAX_ATTRS; i++) {
        json_t *a = attr_json(&s->attrs[i]);

        if (a != NULL)
            json_array_append_new(attrs, a);
    }
    json_object_set_new_nocheck(o, "attributes", attrs);
    attrs = NULL;
    json_object_set_new_nocheck(status, "code", json_integer(s->status));
    if (s->status_msg != NULL)
        json_object_set_new_nocheck(status, "message",
                                    str_lossy(s->status_msg));
    json_object_set_new_nocheck(o, "status", status);
    return o;

fail:
    json_decref(o);
    json_decref(attrs);
    json_decref(status);
    return NULL;
}

char *mpic_otlp_encode(const struct mpic_span *spans, size_t n,
                       const char *service_name, const char *perspective_code,
                       size_t *len)
{
    json_t *res_attrs = json_array();
    json_t *list = json_array();
    json_t *root = NULL;
    char *out = NULL;

    if (res_attrs == NULL || list == NULL)
        goto out;
    json_array_append_new(
        res_attrs, kv_str("service.name",
                          service_name != NULL ? service_name : "open-mpic-c"));
    json_array_append_new(res_attrs, kv_str("service.version", MPIC_VERSION));
    if (perspective_code != NULL)
        json_array_append_new(
            res_attrs, kv_str("mpic.perspective_code", perspective_code));
    for (size_t i = 0; i < n; i++) {
        json_t *s = span_json(&spans[i]);

        if (s == NULL)
            goto out;
        json_array_append_new(list, s);
    }
    root = json_pack("{s:[{s:{s:o}, s:[{s:{s:s, s:s}, s:o}]}]}",
                     "resourceSpans", "resource", "attributes", res_attrs,
                     "scopeSpans", "scope", "name", "open-mpic-c", "version",
                     MPIC_VERSION, "spans", list);
    res_attrs = NULL; /* stolen by json_pack, even on failure */
    list = NULL;
    if (root == NULL)
        goto out;
    out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (out != NULL && len != NULL)
        *len = strlen(out);
out:
    json_decref(res_attrs);
    json_decref(list);
    json_decref(root);
    return out;
}

const char *mpic_otlp_endpoint_check(const char *url)
{
    const char *host;

    if (url == NULL)
        return NULL;
    if (strncmp(url, "http://", 7) == 0)
        host = url + 7;
    else if (strncmp(url, "https://", 8) == 0)
        host = url + 8;
    else
        return "must be an http:// or https:// URL (OTLP/HTTP, e.g. "
               "http://otel-collector:4318/v1/traces)";
    if (*host == '\0' || *host == '/' || *host == ':')
        return "has no host";
    for (const char *p = url; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return "contains spaces or characters outside printable ASCII";
    }
    return NULL;
}
