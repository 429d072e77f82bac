/*
 * Unit tests for common/trace.c and common/otlp.c: the traceparent parser
 * (W3C Trace Context Level 1, 3.2: what is continued and what starts a new
 * trace), formatting, random ids, the bounded span queue with its drop
 * counter, and the OTLP/HTTP JSON encoding of spans.
 */
#include "common/trace.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define PID "00f067aa0ba902b7"

static int parse(const char *s, struct mpic_traceparent *tp)
{
    const char *why = NULL;
    int rc = mpic_traceparent_parse(s, strlen(s), tp, &why);

    if (rc != 0)
        assert_non_null(why); /* a reason with every refusal */
    return rc;
}

static void test_parse_valid(void **state)
{
    struct mpic_traceparent tp;
    char hex[33];

    (void)state;
    assert_int_equal(parse("00-" TID "-" PID "-01", &tp), 0);
    assert_int_equal(tp.version, 0);
    mpic_trace_hex(tp.trace_id, MPIC_TRACE_ID_LEN, hex);
    assert_string_equal(hex, TID);
    mpic_trace_hex(tp.parent_id, MPIC_SPAN_ID_LEN, hex);
    assert_string_equal(hex, PID);
    assert_int_equal(tp.flags, 1);
    assert_int_equal(parse("00-" TID "-" PID "-00", &tp), 0);
    assert_int_equal(tp.flags, 0);
    /* Unknown flags are parsed (and not propagated, mpic_trace_begin). */
    assert_int_equal(parse("00-" TID "-" PID "-ff", &tp), 0);
    assert_int_equal(tp.flags, 0xff);
    /* A later version: the first four fields, more after a '-'. */
    assert_int_equal(parse("01-" TID "-" PID "-01", &tp), 0);
    assert_int_equal(tp.version, 1);
    assert_int_equal(parse("cc-" TID "-" PID "-01-what-the-future-holds", &tp),
                     0);
    assert_int_equal(tp.version, 0xcc);
}

static void test_parse_invalid(void **state)
{
    static const char *const bad[] = {
        "",
        "00",
        "00-" TID "-" PID "-0",   /* short */
        "00-" TID "-" PID "-01-", /* 00 is exactly 55 */
        "00-" TID "-" PID "-01 ", /* trailing space */
        " 00-" TID "-" PID "-0",  /* leading space */
        "ff-" TID "-" PID "-01",  /* version ff */
        "0G-" TID "-" PID "-01",  /* version not hex */
        "0A-" TID "-" PID "-01",  /* upper-case version */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-" PID "-01", /* upper trace */
        "00-" TID "-00F067AA0BA902B7-01",                 /* upper parent */
        "00-" TID "-" PID "-0A",                          /* upper flags */
        "00-00000000000000000000000000000000-" PID "-01", /* zero trace */
        "00-" TID "-0000000000000000-01",                 /* zero parent */
        "00_" TID "-" PID "-01",                          /* separator */
        "00-" TID "_" PID "-01",
        "00-" TID "-" PID "_01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-" PID "0-01", /* shifted */
        "00-" TID "-" PID "-0x",
        "01-" TID "-" PID "-01x", /* later version, no '-' */
        "00-" TID "-" PID,
    };
    struct mpic_traceparent tp;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i], &tp) == 0)
            fail_msg("accepted %s", bad[i]);
    }
    /* Embedded NUL: len counts it, so it is not hex. */
    {
        char s[] = "00-" TID "-" PID "-01";

        s[10] = '\0';
        assert_int_equal(mpic_traceparent_parse(s, 55, &tp, NULL), -1);
    }
    assert_int_equal(mpic_traceparent_parse(NULL, 0, &tp, NULL), -1);
}

static void test_format_roundtrip(void **state)
{
    uint8_t tid[MPIC_TRACE_ID_LEN], sid[MPIC_SPAN_ID_LEN];
    char out[MPIC_TRACEPARENT_LEN + 1];
    struct mpic_traceparent tp;

    (void)state;
    mpic_trace_random_trace_id(tid);
    mpic_trace_random_span_id(sid);
    mpic_traceparent_format(tid, sid, 1, out);
    assert_int_equal(strlen(out), MPIC_TRACEPARENT_LEN);
    assert_int_equal(parse(out, &tp), 0);
    assert_memory_equal(tp.trace_id, tid, sizeof(tid));
    assert_memory_equal(tp.parent_id, sid, sizeof(sid));
    assert_int_equal(tp.flags, 1);
}

static void test_begin(void **state)
{
    struct mpic_trace t, u;
    const char *why = "unset";
    char sid[17];

    (void)state;
    assert_true(mpic_trace_begin(&t, "00-" TID "-" PID "-03", &why));
    assert_null(why);
    assert_string_equal(t.trace_hex, TID);
    assert_true(t.has_parent);
    mpic_trace_hex(t.parent_id, MPIC_SPAN_ID_LEN, sid);
    assert_string_equal(sid, PID);
    assert_int_equal(t.flags, MPIC_TRACE_SAMPLED); /* unknown bit dropped */
    mpic_trace_hex(t.span_id, MPIC_SPAN_ID_LEN, sid);
    assert_string_not_equal(sid, PID); /* our own span */
    assert_true(t.start_ns > 0);

    /* Absent: new, sampled, no reason. */
    assert_false(mpic_trace_begin(&t, NULL, &why));
    assert_null(why);
    assert_false(t.has_parent);
    assert_int_equal(t.flags, MPIC_TRACE_SAMPLED);
    assert_int_equal(strlen(t.trace_hex), 32);
    /* Malformed: new, with the reason. */
    assert_false(mpic_trace_begin(&u, "ff-" TID "-" PID "-01", &why));
    assert_non_null(why);
    assert_string_not_equal(u.trace_hex, TID);
    assert_string_not_equal(u.trace_hex, t.trace_hex);
    assert_false(u.has_parent);
}

static void span_with_attrs(struct mpic_span *s, int64_t start)
{
    struct mpic_trace t;

    mpic_trace_begin(&t, "00-" TID "-" PID "-01", NULL);
    mpic_span_init(s, "POST /mpic", MPIC_SPAN_SERVER, t.trace_id, t.span_id,
                   t.parent_id, start);
    s->end_ns = start + 5;
    mpic_span_attr_str(s, "mpic.target", "example.com");
    mpic_span_attr_int(s, "http.response.status_code", 200);
    mpic_span_attr_bool(s, "mpic.is_valid", true);
    mpic_span_attr_str(s, "left.out", NULL);
}

static void test_queue_bounded(void **state)
{
    struct mpic_span s, out[8];
    struct mpic_trace_stats *st = mpic_trace_stats();
    uint64_t full0 = st->dropped_full;

    (void)state;
    /* Not recording: nothing queued, nothing counted. */
    mpic_trace_queue_setup(0);
    assert_false(mpic_trace_recording());
    span_with_attrs(&s, 1);
    mpic_trace_submit(&s, MPIC_TRACE_SAMPLED);
    assert_int_equal(mpic_trace_queue_len(), 0);

    mpic_trace_queue_setup(3);
    assert_true(mpic_trace_recording());
    for (int i = 0; i < 5; i++) {
        span_with_attrs(&s, 100 + i);
        mpic_trace_submit(&s, MPIC_TRACE_SAMPLED);
    }
    assert_int_equal(mpic_trace_queue_len(), 3);
    assert_int_equal(st->dropped_full - full0, 2);
    /* Not sampled: not queued, not a drop. */
    span_with_attrs(&s, 200);
    mpic_trace_submit(&s, 0);
    assert_int_equal(st->dropped_full - full0, 2);
    /* Oldest first, then room again (the ring wraps). */
    assert_int_equal(mpic_trace_queue_take(out, 2), 2);
    assert_int_equal(out[0].start_ns, 100);
    assert_int_equal(out[1].start_ns, 101);
    mpic_span_cleanup(&out[0]);
    mpic_span_cleanup(&out[1]);
    span_with_attrs(&s, 300);
    mpic_trace_submit(&s, MPIC_TRACE_SAMPLED);
    span_with_attrs(&s, 301);
    mpic_trace_submit(&s, MPIC_TRACE_SAMPLED);
    assert_int_equal(mpic_trace_queue_take(out, 8), 3);
    assert_int_equal(out[0].start_ns, 102);
    assert_int_equal(out[1].start_ns, 300);
    assert_int_equal(out[2].start_ns, 301);
    for (int i = 0; i < 3; i++)
        mpic_span_cleanup(&out[i]);
    /* Setup(0) frees what is still queued. */
    span_with_attrs(&s, 400);
    mpic_trace_submit(&s, MPIC_TRACE_SAMPLED);
    mpic_trace_queue_setup(0);
    assert_int_equal(mpic_trace_queue_len(), 0);
}

static const json_t *attr_value(const json_t *attrs, const char *key)
{
    size_t i;
    const json_t *a;

    json_array_foreach(attrs, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "key")), key) == 0)
            return json_object_get(a, "value");
    }
    return NULL;
}

static void test_otlp_encode(void **state)
{
    struct mpic_span s[2];
    json_t *root, *rs, *ss, *spans, *sp, *attrs;
    json_error_t jerr;
    char hex[17];
    size_t len = 0;
    char *out;

    (void)state;
    span_with_attrs(&s[0], 1700000000123456789LL);
    mpic_span_set_status(&s[0], MPIC_SPAN_STATUS_ERROR,
                         "bad \"thing\"\x01\xff");
    mpic_span_init(&s[1], "mpic attempt", MPIC_SPAN_INTERNAL, s[0].trace_id,
                   s[0].parent_id, NULL, 7);
    s[1].end_ns = 9;
    out = mpic_otlp_encode(s, 2, "mpic-coordinator", "us-east-1", &len);
    assert_non_null(out);
    assert_int_equal(len, strlen(out));
    root = json_loads(out, 0, &jerr);
    if (root == NULL)
        fail_msg("not JSON: %s: %s", jerr.text, out);
    rs = json_array_get(json_object_get(root, "resourceSpans"), 0);
    attrs = json_object_get(json_object_get(rs, "resource"), "attributes");
    assert_string_equal(json_string_value(json_object_get(
                            attr_value(attrs, "service.name"), "stringValue")),
                        "mpic-coordinator");
    assert_string_equal(
        json_string_value(json_object_get(
            attr_value(attrs, "mpic.perspective_code"), "stringValue")),
        "us-east-1");
    ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(ss, "scope"), "name")),
                        "open-mpic-c");
    spans = json_object_get(ss, "spans");
    assert_int_equal(json_array_size(spans), 2);
    sp = json_array_get(spans, 0);
    assert_string_equal(json_string_value(json_object_get(sp, "traceId")), TID);
    mpic_trace_hex(s[0].span_id, MPIC_SPAN_ID_LEN, hex);
    assert_string_equal(json_string_value(json_object_get(sp, "spanId")), hex);
    assert_string_equal(json_string_value(json_object_get(sp, "parentSpanId")),
                        PID);
    assert_string_equal(json_string_value(json_object_get(sp, "name")),
                        "POST /mpic");
    assert_int_equal(json_integer_value(json_object_get(sp, "kind")), 2);
    assert_string_equal(
        json_string_value(json_object_get(sp, "startTimeUnixNano")),
        "1700000000123456789");
    assert_string_equal(
        json_string_value(json_object_get(sp, "endTimeUnixNano")),
        "1700000000123456794");
    attrs = json_object_get(sp, "attributes");
    assert_int_equal(json_array_size(attrs), 3); /* NULL string left out */
    assert_string_equal(json_string_value(json_object_get(
                            attr_value(attrs, "mpic.target"), "stringValue")),
                        "example.com");
    /* int64 as a decimal string (proto3 JSON), bool as a bool */
    assert_string_equal(
        json_string_value(json_object_get(
            attr_value(attrs, "http.response.status_code"), "intValue")),
        "200");
    assert_true(json_is_true(
        json_object_get(attr_value(attrs, "mpic.is_valid"), "boolValue")));
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(sp, "status"), "code")),
                     2);
    /* invalid UTF-8 made valid, quotes escaped */
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(sp, "status"), "message")),
                        "bad \"thing\"\x01?");
    sp = json_array_get(spans, 1);
    assert_null(json_object_get(sp, "parentSpanId")); /* a root span */
    assert_int_equal(json_integer_value(json_object_get(sp, "kind")), 1);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(sp, "status"), "code")),
                     0);
    json_decref(root);
    free(out);
    mpic_span_cleanup(&s[0]);
    mpic_span_cleanup(&s[1]);

    /* No spans: still a well-formed request. */
    out = mpic_otlp_encode(NULL, 0, "x", NULL, NULL);
    assert_non_null(out);
    root = json_loads(out, 0, NULL);
    assert_non_null(root);
    json_decref(root);
    free(out);
}

static void test_endpoint_check(void **state)
{
    (void)state;
    assert_null(mpic_otlp_endpoint_check(NULL));
    assert_null(mpic_otlp_endpoint_check("http://127.0.0.1:4318/v1/traces"));
    assert_null(mpic_otlp_endpoint_check("https://collector/v1/traces"));
    assert_non_null(mpic_otlp_endpoint_check("ftp://c/v1/traces"));
    assert_non_null(mpic_otlp_endpoint_check("collector:4318"));
    assert_non_null(mpic_otlp_endpoint_check("http:///v1/traces"));
    assert_non_null(mpic_otlp_endpoint_check("http://"));
    assert_non_null(mpic_otlp_endpoint_check("http://a b/"));
}

static void test_metrics_text(void **state)
{
    struct mpic_buf b;

    (void)state;
    mpic_buf_init(&b, 1 << 20);
    mpic_trace_metrics(&b);
    assert_non_null(b.data);
    assert_non_null(
        strstr(b.data, "# TYPE mpic_trace_spans_dropped_total counter\n"));
    assert_non_null(strstr(b.data, "# HELP mpic_trace_spans_exported_total "));
    assert_non_null(strstr(
        b.data, "mpic_trace_spans_dropped_total{reason=\"queue_full\"} "));
    mpic_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_valid),
        cmocka_unit_test(test_parse_invalid),
        cmocka_unit_test(test_format_roundtrip),
        cmocka_unit_test(test_begin),
        cmocka_unit_test(test_queue_bounded),
        cmocka_unit_test(test_otlp_encode),
        cmocka_unit_test(test_endpoint_check),
        cmocka_unit_test(test_metrics_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
