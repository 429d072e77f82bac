/*
 * Outside data into JSON: the one rule and the one encoding convention
 * (docs/json-safety.md).
 *
 * Rule: every string that comes from outside (URLs, Location headers,
 * response headers and reason phrases, page bodies, certificate names, DNS
 * records, a peer's messages) is made valid UTF-8 where it enters our data
 * model, with mpic_utf8_valid() or mpic_jstr_bytes(). An ill-formed
 * sequence becomes one U+FFFD per maximal subpart (Unicode 15 ch. 3.9,
 * "U+FFFD substitution of maximal subparts", as in the WHATWG decoder); a
 * NUL byte is kept (JSON "\u0000") where the value has a length, and
 * becomes U+FFFD where it must be a C string, so it never cuts a value
 * short without a trace.
 *
 * Convention: JSON is built with the helpers below. Each is total: given
 * valid input it cannot fail except by running out of memory, and only
 * that ends the process (docs/STYLE.md 4.5, as xmalloc). Strings reach them
 * only through mpic_jstr*(), which repair instead of failing, so a string
 * from outside can never make jansson refuse a value. Keys are our own
 * ASCII literals (or strings already made valid).
 */
#ifndef MPIC_COMMON_JSON_SAFE_H
#define MPIC_COMMON_JSON_SAFE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* True if the n bytes are well-formed UTF-8 (NUL bytes allowed). */
bool mpic_utf8_is_valid(const char *p, size_t n);
/*
 * An owned, NUL-terminated copy of n outside bytes as valid UTF-8:
 * ill-formed sequences replaced by U+FFFD. keep_nul: NUL bytes are kept
 * (the result's length is in *out_len, not strlen); otherwise each NUL
 * becomes U+FFFD too, so the result is a whole C string. out_len may be
 * NULL.
 */
char *mpic_utf8_valid(const char *p, size_t n, bool keep_nul, size_t *out_len);

/* A JSON string of n outside bytes (repaired, NULs kept). Never NULL. */
json_t *mpic_jstr_bytes(const char *p, size_t n);
/* A JSON string of a C string (repaired); NULL gives JSON null. */
json_t *mpic_jstr(const char *s);
/* An empty object / array. Never NULL. */
json_t *mpic_jobj(void);
json_t *mpic_jarr(void);
/* Integer and boolean. Never NULL. */
json_t *mpic_jint(long long v);
json_t *mpic_jbool(bool v);
/*
 * Sets key (a valid UTF-8 key, normally an ASCII literal) to v, stealing
 * v. v NULL can only come from an allocation that failed: fatal.
 */
void mpic_jset(json_t *o, const char *key, json_t *v);
/* Appends v to the array a, stealing v; same rule. */
void mpic_jpush(json_t *a, json_t *v);

#endif
