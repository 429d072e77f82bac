/*
 * Unit tests for common/log.c: the JSON line of mpic_log and mpic_log_json
 * (field order, escaping, invalid UTF-8, long lines, the caller's fields
 * left untouched), compared with what jansson writes for the same object.
 */
#include "common/log.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define TS_LEN 27 /* 2024-01-02T03:04:05.123456Z */

struct capture {
    FILE *f;
};

static int setup(void **state)
{
    struct capture *c = calloc(1, sizeof(*c));

    assert_non_null(c);
    c->f = tmpfile();
    assert_non_null(c->f);
    mpic_log_set_fd(fileno(c->f));
    mpic_log_set_level(MPIC_LOG_TRACE);
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    struct capture *c = *state;

    mpic_log_set_fd(2);
    mpic_log_set_level(MPIC_LOG_INFO);
    fclose(c->f);
    free(c);
    return 0;
}

/* Everything written since the last call; the caller frees it. */
static char *take(struct capture *c)
{
    int fd = fileno(c->f);
    off_t end = lseek(fd, 0, SEEK_END);
    char *buf = malloc((size_t)end + 1);

    assert_non_null(buf);
    assert_int_equal(pread(fd, buf, (size_t)end, 0), end);
    buf[end] = '\0';
    assert_int_equal(ftruncate(fd, 0), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return buf;
}

static bool is_timestamp(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.ddddddZ";

    for (size_t i = 0; i < TS_LEN; i++) {
        if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
            return false;
    }
    return true;
}

/*
 * The one line in `got` must be `want` (a complete line, its "ts" value
 * written as "TS") once the real timestamp is put in its place.
 */
static void expect_line(char *got, const char *want)
{
    const char *at = strstr(got, "\"ts\":\"");
    const char *mark = strstr(want, "\"ts\":\"TS\"");
    char *expect;
    size_t pre;

    assert_non_null(at);
    assert_non_null(mark);
    at += 6;
    if (!is_timestamp(at))
        print_error("bad timestamp in %s", got);
    assert_true(is_timestamp(at));
    pre = (size_t)(mark - want) + 6;
    expect = malloc(strlen(want) + TS_LEN);
    assert_non_null(expect);
    memcpy(expect, want, pre);
    memcpy(expect + pre, at, TS_LEN);
    memcpy(expect + pre + TS_LEN, want + pre + 2, strlen(want + pre + 2) + 1);
    assert_string_equal(got, expect);
    free(expect);
    free(got);
}

/* The line jansson writes for the object o (the reference). */
static char *reference_line(json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
    char *line;
    size_t n;

    assert_non_null(s);
    n = strlen(s);
    line = malloc(n + 2);
    assert_non_null(line);
    memcpy(line, s, n);
    memcpy(line + n, "\n", 2);
    free(s);
    json_decref(o);
    return line;
}

static void test_plain_line(void **state)
{
    struct capture *c = *state;

    mpic_log(MPIC_LOG_INFO, NULL, "dcv: %s %s: passed=%s", "acme-dns-01",
             "n1.bench.test", "true");
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"dcv: "
                         "acme-dns-01 n1.bench.test: passed=true\"}\n");
    mpic_log(MPIC_LOG_WARN, "trace-1", "x");
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"warn\",\"msg\":\"x\","
                         "\"trace_identifier\":\"trace-1\"}\n");
    mpic_log(MPIC_LOG_DEBUG, NULL, "%s", "");
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"debug\",\"msg\":\"\"}\n");
}

/* The W3C trace id follows trace_identifier (docs/tracing.md). */
static void test_trace_id_field(void **state)
{
    struct capture *c = *state;
    json_t *f;
    const char *scope;

    mpic_log_tr(MPIC_LOG_INFO, "t-1", "0af7651916cd43dd8448eb211c80319c",
                "dcv: %s", "x");
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"dcv: "
                         "x\",\"trace_identifier\":\"t-1\",\"trace_id\":"
                         "\"0af7651916cd43dd8448eb211c80319c\"}\n");
    mpic_log_tr(MPIC_LOG_WARN, NULL, "ab", "y");
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"warn\",\"msg\":\"y\","
                         "\"trace_id\":\"ab\"}\n");
    /* Both NULL: the line of mpic_log. */
    mpic_log_tr(MPIC_LOG_WARN, NULL, NULL, "z");
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"warn\",\"msg\":\"z\"}\n");
    /* With fields in place, and with fields that force a copy. */
    f = json_pack("{s:s, s:s}", "event", "mpic_audit", "trace_identifier",
                  "t-2");
    mpic_log_json_tr(MPIC_LOG_INFO, "t-2", "cd", "mpic audit", f);
    expect_line(take(c), "{\"event\":\"mpic_audit\",\"trace_identifier\":"
                         "\"t-2\",\"ts\":\"TS\",\"level\":\"info\",\"msg\":"
                         "\"mpic audit\",\"trace_id\":\"cd\"}\n");
    json_decref(f);
    f = json_pack("{s:s}", "trace_id", "old");
    mpic_log_json_tr(MPIC_LOG_INFO, NULL, "ef", "m", f);
    expect_line(take(c), "{\"trace_id\":\"ef\",\"ts\":\"TS\",\"level\":"
                         "\"info\",\"msg\":\"m\"}\n");
    json_decref(f);
    /* A scope gives lines without a trace id of their own one; restored. */
    scope = mpic_log_trace_scope("12");
    assert_null(scope);
    mpic_log(MPIC_LOG_INFO, "t-3", "s");
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"s\","
                         "\"trace_identifier\":\"t-3\",\"trace_id\":\"12\"}\n");
    mpic_log_tr(MPIC_LOG_INFO, NULL, "34", "own");
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"info\",\"msg\":"
                         "\"own\",\"trace_id\":\"34\"}\n");
    assert_string_equal(mpic_log_trace_scope(scope), "12");
    mpic_log(MPIC_LOG_INFO, NULL, "after");
    expect_line(take(c),
                "{\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"after\"}\n");
}

static void test_escaping_as_jansson(void **state)
{
    static const char *const msgs[] = {
        "quote \" backslash \\ slash /",
        "tab\tnewline\ncr\rbell\x07",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
        "del \x7f end",
    };
    struct capture *c = *state;

    for (size_t i = 0; i < sizeof(msgs) / sizeof(msgs[0]); i++) {
        char *want = reference_line(json_pack("{s:s,s:s,s:s,s:s}", "ts", "TS",
                                              "level", "error", "msg", msgs[i],
                                              "trace_identifier", msgs[i]));

        mpic_log(MPIC_LOG_ERROR, msgs[i], "%s", msgs[i]);
        expect_line(take(c), want);
        free(want);
    }
}

/* msg is made valid ('?'); a trace identifier jansson refuses is left out. */
static void test_invalid_utf8(void **state)
{
    struct capture *c = *state;

    mpic_log(MPIC_LOG_INFO, "bad\xff", "a \xff\xfe b \"%s\"", "q");
    expect_line(
        take(c),
        "{\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"a ?? b \\\"q\\\"\"}\n");
}

static void test_errno_suffix_and_preserved(void **state)
{
    struct capture *c = *state;

    errno = ENOENT;
    mpic_log_errno(MPIC_LOG_ERROR, NULL, "open %s", "/x");
    assert_int_equal(errno, ENOENT);
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"error\",\"msg\":\"open "
                         "/x: No such file or directory\"}\n");
    errno = EACCES;
    mpic_log(MPIC_LOG_INFO, NULL, "y");
    assert_int_equal(errno, EACCES);
    free(take(c));
}

/* A message past the stack buffer and a line past the line buffer. */
static void test_long_lines(void **state)
{
    struct capture *c = *state;
    size_t n = 20000;
    char *big = malloc(n + 1);
    json_t *fields = json_object();
    json_t *other;
    char *want;

    assert_non_null(big);
    memset(big, 'a', n);
    big[n] = '\0';
    big[700] = '"';
    mpic_log(MPIC_LOG_INFO, "t", "<%s>", big);
    want = reference_line(json_pack("{s:s,s:s,s:s++,s:s}", "ts", "TS", "level",
                                    "info", "msg", "<", big, ">",
                                    "trace_identifier", "t"));
    expect_line(take(c), want);
    free(want);

    for (int i = 0; i < 40; i++) {
        char key[16];

        snprintf(key, sizeof(key), "k%d", i);
        json_object_set_new(fields, key, json_string(big + n - 300));
    }
    mpic_log_json(MPIC_LOG_INFO, NULL, "audit", fields);
    other = json_deep_copy(fields);
    json_object_set_new(other, "ts", json_string("TS"));
    json_object_set_new(other, "level", json_string("info"));
    json_object_set_new(other, "msg", json_string("audit"));
    want = reference_line(other);
    expect_line(take(c), want);
    free(want);
    json_decref(fields);
    free(big);
}

/* The audit shape: the caller's fields first, then ts, level and msg. */
static void test_fields_first_and_untouched(void **state)
{
    struct capture *c = *state;
    json_t *fields = json_pack(
        "{s:s,s:s,s:s,s:i,s:[{s:i,s:[]}],s:{},s:n}", "event", "mpic_audit",
        "outcome", "answered", "trace_identifier", "trace-1", "n", 3,
        "attempts", "attempt", 1, "error_types", "empty", "last");
    char *before = json_dumps(fields, JSON_COMPACT);
    char *after;

    mpic_log_json(MPIC_LOG_INFO, "trace-1", "mpic audit", fields);
    expect_line(take(c),
                "{\"event\":\"mpic_audit\",\"outcome\":\"answered\","
                "\"trace_identifier\":\"trace-1\",\"n\":3,\"attempts\":[{"
                "\"attempt\":1,\"error_types\":[]}],\"empty\":{},\"last\":null,"
                "\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"mpic audit\"}\n");
    mpic_log_json(MPIC_LOG_INFO, NULL, "mpic audit", fields);
    expect_line(take(c),
                "{\"event\":\"mpic_audit\",\"outcome\":\"answered\","
                "\"trace_identifier\":\"trace-1\",\"n\":3,\"attempts\":[{"
                "\"attempt\":1,\"error_types\":[]}],\"empty\":{},\"last\":null,"
                "\"ts\":\"TS\",\"level\":\"info\",\"msg\":\"mpic audit\"}\n");
    after = json_dumps(fields, JSON_COMPACT);
    assert_string_equal(after, before);
    free(after);
    free(before);
    json_decref(fields);
}

/*
 * Keys of the line already in the fields keep their place and take the
 * logger's value, as json_object_set_new on a copy does; the rest follow.
 */
static void test_fields_with_colliding_keys(void **state)
{
    struct capture *c = *state;
    json_t *f1 =
        json_pack("{s:s,s:n,s:s}", "a", "b", "trace_identifier", "msg", "old");
    json_t *f2 = json_pack("{s:s,s:s}", "trace_identifier", "other", "a", "b");
    json_t *f3 = json_pack("{s:s}", "a", "b");
    json_t *f4 = json_object();

    mpic_log_json(MPIC_LOG_WARN, "t1", "m", f1);
    expect_line(take(c), "{\"a\":\"b\",\"trace_identifier\":\"t1\","
                         "\"msg\":\"m\",\"ts\":\"TS\",\"level\":\"warn\"}\n");
    mpic_log_json(MPIC_LOG_WARN, "t1", "m", f2);
    expect_line(take(c), "{\"trace_identifier\":\"t1\",\"a\":\"b\","
                         "\"ts\":\"TS\",\"level\":\"warn\",\"msg\":\"m\"}\n");
    /* invalid UTF-8: the existing value stays */
    mpic_log_json(MPIC_LOG_WARN, "t\xff", "m", f2);
    expect_line(take(c), "{\"trace_identifier\":\"other\",\"a\":\"b\","
                         "\"ts\":\"TS\",\"level\":\"warn\",\"msg\":\"m\"}\n");
    mpic_log_json(MPIC_LOG_WARN, "t1", "m", f3);
    expect_line(take(c), "{\"a\":\"b\",\"ts\":\"TS\",\"level\":\"warn\","
                         "\"msg\":\"m\",\"trace_identifier\":\"t1\"}\n");
    for (size_t i = 0; i < 3; i++) {
        static const char *const keys[] = {"ts", "level", "msg"};
        static const char *const want[] = {
            "{\"ts\":\"TS\",\"a\":1,\"level\":\"warn\",\"msg\":\"m\"}\n",
            "{\"level\":\"warn\",\"a\":1,\"ts\":\"TS\",\"msg\":\"m\"}\n",
            "{\"msg\":\"m\",\"a\":1,\"ts\":\"TS\",\"level\":\"warn\"}\n",
        };
        json_t *f = json_pack("{s:s,s:i}", keys[i], "old", "a", 1);

        mpic_log_json(MPIC_LOG_WARN, NULL, "m", f);
        expect_line(take(c), want[i]);
        json_decref(f);
    }
    mpic_log_json(MPIC_LOG_WARN, NULL, "m", f4);
    expect_line(take(c), "{\"ts\":\"TS\",\"level\":\"warn\",\"msg\":\"m\"}\n");
    assert_null(json_object_get(f1, "ts"));
    assert_string_equal(json_string_value(json_object_get(f1, "msg")), "old");
    json_decref(f1);
    json_decref(f2);
    json_decref(f3);
    json_decref(f4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_escaping_as_jansson, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invalid_utf8, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errno_suffix_and_preserved, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_long_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_id_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fields_first_and_untouched, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fields_with_colliding_keys, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
