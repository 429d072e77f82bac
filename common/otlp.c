/*
 * The OTLP/HTTP JSON encoding of an ExportTraceServiceRequest
 * (opentelemetry-proto, "JSON Protobuf Encoding"): trace and span ids are
 * lower-case hex strings, 64-bit integers (times, intValue) are decimal
 * strings, enums (kind, status code) are integers, field names are
 * lowerCamelCase.
 */
#include "common/trace.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/mem.h"

#ifndef MPIC_VERSION
#define MPIC_VERSION "0.0.0"
#endif

/*
 * Written straight into one buffer (no json_t per field): a batch is encoded
 * on the daemon's loop, so its cost is time every request waits. Strings
 * that are printable ASCII without '"' and '\\' (nearly all of them) are
 * copied; anything else goes through jansson, which escapes it and refuses
 * invalid UTF-8 (then bytes >= 0x80 become '?').
 */

static bool plain(const char *s, size_t *len)
{
    const unsigned char *p = (const unsigned char *)s;

    for (; *p != '\0'; p++) {
        if (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\')
            return false;
    }
    *len = (size_t)(p - (const unsigned char *)s);
    return true;
}

static int put_cb(const char *s, size_t n, void *arg)
{
    return mpic_buf_append(arg, s, n);
}

/* A JSON string. */
static int put_str(struct mpic_buf *b, const char *s)
{
    json_t *j;
    char *copy = NULL;
    size_t n;
    int rc;

    if (plain(s, &n)) {
        return mpic_buf_append(b, "\"", 1) || mpic_buf_append(b, s, n) ||
                       mpic_buf_append(b, "\"", 1)
                   ? -1
                   : 0;
    }
    j = json_string(s);
    if (j == NULL) {
        copy = xstrdup(s);
        for (char *p = copy; *p != '\0'; p++) {
            if ((unsigned char)*p >= 0x80)
                *p = '?';
        }
        j = json_string(copy);
        free(copy);
        if (j == NULL)
            return -1;
    }
    rc = json_dump_callback(j, put_cb, b, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(j);
    return rc;
}

#define PUT(b, lit) mpic_buf_append((b), (lit), sizeof(lit) - 1)

static int put_hex(struct mpic_buf *b, const uint8_t *p, size_t n)
{
    char h[2 * MPIC_TRACE_ID_LEN + 1];

    mpic_trace_hex(p, n, h);
    return PUT(b, "\"") || mpic_buf_append(b, h, 2 * n) || PUT(b, "\"");
}

/* {"key":K,"value":{"stringValue":V}} */
static int put_kv_str(struct mpic_buf *b, const char *key, const char *v)
{
    return PUT(b, "{\"key\":") || put_str(b, key) ||
           PUT(b, ",\"value\":{\"stringValue\":") || put_str(b, v) ||
           PUT(b, "}}");
}

static int put_attr(struct mpic_buf *b, const struct mpic_span_attr *a)
{
    switch (a->type) {
    case MPIC_ATTR_STR:
        return put_kv_str(b, a->key, a->s != NULL ? a->s : "");
    case MPIC_ATTR_INT: /* int64: a decimal string (proto3 JSON) */
        return PUT(b, "{\"key\":") || put_str(b, a->key) ||
               mpic_buf_printf(b, ",\"value\":{\"intValue\":\"%" PRId64 "\"}}",
                               a->i);
    case MPIC_ATTR_BOOL:
        return PUT(b, "{\"key\":") || put_str(b, a->key) ||
               mpic_buf_printf(b, ",\"value\":{\"boolValue\":%s}}",
                               a->b ? "true" : "false");
    }
    return -1;
}

static int put_span(struct mpic_buf *b, const struct mpic_span *s)
{
    int rc = 0;

    rc |= PUT(b, "{\"traceId\":") || put_hex(b, s->trace_id, MPIC_TRACE_ID_LEN);
    rc |= PUT(b, ",\"spanId\":") || put_hex(b, s->span_id, MPIC_SPAN_ID_LEN);
    if (s->has_parent)
        rc |= PUT(b, ",\"parentSpanId\":") ||
              put_hex(b, s->parent_id, MPIC_SPAN_ID_LEN);
    rc |=
        PUT(b, ",\"name\":") || put_str(b, s->name != NULL ? s->name : "span");
    rc |= mpic_buf_printf(b,
                          ",\"kind\":%d,\"startTimeUnixNano\":\"%" PRId64
                          "\",\"endTimeUnixNano\":\"%" PRId64
                          "\",\"attributes\":[",
                          (int)s->kind, s->start_ns, s->end_ns);
    for (size_t i = 0; i < s->n_attrs && i < MPIC_SPAN_MAX_ATTRS; i++) {
        if (i > 0)
            rc |= PUT(b, ",");
        rc |= put_attr(b, &s->attrs[i]);
    }
    rc |= mpic_buf_printf(b, "],\"status\":{\"code\":%d", (int)s->status);
    if (s->status_msg != NULL)
        rc |= PUT(b, ",\"message\":") || put_str(b, s->status_msg);
    rc |= PUT(b, "}}");
    return rc;
}

char *mpic_otlp_encode(const struct mpic_span *spans, size_t n,
                       const char *service_name, const char *perspective_code,
                       size_t *len)
{
    struct mpic_buf b;
    int rc = 0;

    mpic_buf_init(&b, SIZE_MAX / 2);
    rc |= PUT(&b, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    rc |= put_kv_str(&b, "service.name",
                     service_name != NULL ? service_name : "open-mpic-c");
    rc |= PUT(&b, ",") || put_kv_str(&b, "service.version", MPIC_VERSION);
    if (perspective_code != NULL)
        rc |= PUT(&b, ",") ||
              put_kv_str(&b, "mpic.perspective_code", perspective_code);
    rc |= PUT(&b, "]},\"scopeSpans\":[{\"scope\":{\"name\":\"open-mpic-c\","
                  "\"version\":");
    rc |= put_str(&b, MPIC_VERSION);
    rc |= PUT(&b, "},\"spans\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            rc |= PUT(&b, ",");
        rc |= put_span(&b, &spans[i]);
    }
    rc |= PUT(&b, "]}]}]}");
    if (rc != 0) {
        mpic_buf_cleanup(&b);
        return NULL;
    }
    return mpic_buf_take(&b, len);
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
