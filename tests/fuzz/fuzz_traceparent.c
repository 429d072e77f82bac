/*
 * The W3C traceparent header (mpic_traceparent_parse, mpic_trace_begin).
 * Properties: an accepted value has lower-case hex ids that are not all
 * zeros and a version other than ff, and version 00 is exactly 55 bytes;
 * formatting what was parsed as version 00 gives the input's first 55
 * bytes back (with its version byte replaced by 00) and parses again to the
 * same fields; mpic_trace_begin continues exactly the accepted values and
 * otherwise starts a trace with a fresh non-zero id.
 */
#include "tests/fuzz/fuzz.h"

#include "common/trace.h"

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            return false;
    }
    return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpic_traceparent tp, again;
    struct mpic_trace t;
    const char *why = NULL;
    char out[MPIC_TRACEPARENT_LEN + 1];
    char *s;
    int rc;

    rc = mpic_traceparent_parse((const char *)data, size, &tp, &why);
    FUZZ_CHECK(rc == 0 || why != NULL);
    if (rc == 0) {
        FUZZ_CHECK(size >= MPIC_TRACEPARENT_LEN);
        FUZZ_CHECK(tp.version != 0xff);
        FUZZ_CHECK(tp.version != 0 || size == MPIC_TRACEPARENT_LEN);
        FUZZ_CHECK(!all_zero(tp.trace_id, MPIC_TRACE_ID_LEN));
        FUZZ_CHECK(!all_zero(tp.parent_id, MPIC_SPAN_ID_LEN));
        mpic_traceparent_format(tp.trace_id, tp.parent_id, tp.flags, out);
        FUZZ_CHECK(strlen(out) == MPIC_TRACEPARENT_LEN);
        FUZZ_CHECK(memcmp(out + 2, data + 2, MPIC_TRACEPARENT_LEN - 2) == 0);
        FUZZ_CHECK(mpic_traceparent_parse(out, strlen(out), &again, NULL) == 0);
        FUZZ_CHECK(
            again.version == 0 && again.flags == tp.flags &&
            memcmp(again.trace_id, tp.trace_id, MPIC_TRACE_ID_LEN) == 0 &&
            memcmp(again.parent_id, tp.parent_id, MPIC_SPAN_ID_LEN) == 0);
    }
    /* The daemons see a NUL-terminated header value. */
    s = fuzz_cstr(data, size);
    rc = mpic_traceparent_parse(s, strlen(s), &tp, NULL);
    if (mpic_trace_begin(&t, s, &why)) {
        FUZZ_CHECK(rc == 0 && t.has_parent && why == NULL);
        FUZZ_CHECK(memcmp(t.trace_id, tp.trace_id, MPIC_TRACE_ID_LEN) == 0);
        FUZZ_CHECK((t.flags & ~MPIC_TRACE_SAMPLED) == 0);
    } else {
        FUZZ_CHECK(rc != 0 && !t.has_parent && why != NULL);
        FUZZ_CHECK(!all_zero(t.trace_id, MPIC_TRACE_ID_LEN));
        FUZZ_CHECK(t.flags == MPIC_TRACE_SAMPLED);
    }
    FUZZ_CHECK(!all_zero(t.span_id, MPIC_SPAN_ID_LEN));
    FUZZ_CHECK(strlen(t.trace_hex) == MPIC_TRACE_HEX_LEN);
    free(s);
    return 0;
}
