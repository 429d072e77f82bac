/*
 * The CAA checker's reply (caa_check_build_response) built from what a
 * zone holds (issue 11): the name where CAA was found, the records (tag
 * and value bytes, decided by caa_decide), their presentation strings in
 * records_seen, and a lookup error naming the target. The input: byte 0
 * picks the lookup status (FOUND, NONE, ERROR) and flags, then fields of a
 * 2-byte big-endian length and that many bytes: target, found_at, error,
 * then (tag, value, seen) per record. Property: the reply encodes, parses
 * back with jansson as a well-formed CAA CHECK_RESPONSE, and the
 * coordinator's decoder accepts it.
 */
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

#include "caa-checker/caa.h"
#include "common/caa_tree.h"
#include "common/config.h"
#include "common/err.h"
#include "common/model.h"

#define MAX_RECORDS 16

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

struct reader {
    const uint8_t *p;
    size_t n;
};

/* The next field as an owned C string (cut at a NUL, as the C strings of
 * caa_tree are) with its length in *len (the bytes, NULs included). */
static char *field(struct reader *r, size_t *len)
{
    size_t l;
    char *s;

    if (r->n < 2) {
        r->n = 0; /* a lone last byte ends the input */
        *len = 0;
        return xstrdup("");
    }
    l = ((size_t)r->p[0] << 8) | r->p[1];
    r->p += 2;
    r->n -= 2;
    if (l > r->n)
        l = r->n;
    s = fuzz_cstr(r->p, l);
    r->p += l;
    r->n -= l;
    *len = l;
    return s;
}

static void check_shape(const json_t *o)
{
    const json_t *v;
    const json_t *d;
    const json_t *e;
    size_t i;

    FUZZ_CHECK(json_is_object(o));
    v = json_object_get(o, "check_type");
    FUZZ_CHECK(json_is_string(v) && strcmp(json_string_value(v), "caa") == 0);
    FUZZ_CHECK(json_is_boolean(json_object_get(o, "check_passed")));
    FUZZ_CHECK(json_is_boolean(json_object_get(o, "check_completed")));
    FUZZ_CHECK(json_is_integer(json_object_get(o, "timestamp_ns")));
    v = json_object_get(o, "errors");
    FUZZ_CHECK(json_is_null(v) || json_is_array(v));
    json_array_foreach(v, i, e)
    {
        FUZZ_CHECK(json_is_object(e) && json_object_size(e) == 2);
        FUZZ_CHECK(json_is_string(json_object_get(e, "error_type")));
        FUZZ_CHECK(json_is_string(json_object_get(e, "error_message")));
    }
    d = json_object_get(o, "details");
    FUZZ_CHECK(json_is_object(d));
    v = json_object_get(d, "caa_record_present");
    FUZZ_CHECK(json_is_boolean(v) || json_is_null(v));
    v = json_object_get(d, "found_at");
    FUZZ_CHECK(json_is_string(v) || json_is_null(v));
    v = json_object_get(d, "records_seen");
    FUZZ_CHECK(json_is_array(v) || json_is_null(v));
    json_array_foreach(v, i, e) FUZZ_CHECK(json_is_string(e));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpic_checker_config cfg;
    struct caa_checker ck;
    struct mpic_check_request req;
    struct caa_lookup_result res;
    struct caa_record recs[MAX_RECORDS];
    char *seen[MAX_RECORDS];
    struct mpic_check_response out;
    struct mpic_check_response back;
    struct reader rd;
    json_error_t jerr;
    json_t *o;
    json_t *parsed;
    char *found_at;
    char *error;
    char *enc;
    char *why = NULL;
    size_t n = 0;
    size_t l;

    if (size < 1)
        return 0;
    memset(&cfg, 0, sizeof(cfg));
    mpic_strv_init(&cfg.default_caa_domains);
    mpic_strv_push(&cfg.default_caa_domains, "ca.example");
    memset(&ck, 0, sizeof(ck));
    ck.cfg = &cfg;
    memset(&req, 0, sizeof(req));
    req.check_type = MPIC_CHECK_CAA;
    req.caa.allow_lookup_failure = (data[0] & 0x10) != 0;
    rd.p = data + 1;
    rd.n = size - 1;
    req.target = field(&rd, &l);
    found_at = field(&rd, &l);
    error = field(&rd, &l);
    while (rd.n > 0 && n < MAX_RECORDS) {
        recs[n].flags = (uint8_t)n;
        recs[n].tag = field(&rd, &l);
        recs[n].value = field(&rd, &recs[n].value_len);
        seen[n] = field(&rd, &l);
        n++;
    }
    memset(&res, 0, sizeof(res));
    res.status = (enum caa_lookup_status)(data[0] % 3);
    res.dns_status =
        res.status == CAA_LOOKUP_ERROR
            ? ((data[0] & 0x20) ? MPIC_DNS_TIMEOUT : MPIC_DNS_SERVFAIL)
            : MPIC_DNS_ANSWER;
    res.found_at = res.status == CAA_LOOKUP_NONE ? NULL : found_at;
    res.records = recs;
    res.n_records = res.status == CAA_LOOKUP_FOUND ? n : 0;
    res.records_seen = seen;
    res.rcode = (data[0] & 0x40) ? -1 : 0;
    res.error = error;

    caa_check_build_response(&ck, &req, (data[0] & 0x80) != 0,
                             (data[0] & 0x08) ? NULL : &res, &out);
    o = mpic_check_response_to_json(&out);
    FUZZ_CHECK(o != NULL);
    enc = mpic_json_dumps(o, JSON_COMPACT, &l);
    FUZZ_CHECK(enc != NULL);
    parsed = json_loadb(enc, l, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    FUZZ_CHECK(parsed != NULL);
    check_shape(parsed);
    memset(&back, 0, sizeof(back));
    FUZZ_CHECK(mpic_check_response_parse(enc, l, MPIC_CHECK_CAA, &back, &why) ==
               MPIC_OK);
    FUZZ_CHECK(back.check_passed == out.check_passed &&
               back.check_completed == out.check_completed);
    mpic_check_response_cleanup(&back);
    free(why);
    json_decref(parsed);
    free(enc);
    json_decref(o);
    mpic_check_response_cleanup(&out);
    for (size_t i = 0; i < n; i++) {
        free(recs[i].tag);
        free(recs[i].value);
        free(seen[i]);
    }
    free(found_at);
    free(error);
    free(req.target);
    mpic_strv_cleanup(&cfg.default_caa_domains);
    return 0;
}
