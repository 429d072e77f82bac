/*
 * dns-persistent records (BR 3.2.2.4.22, draft-ietf-acme-dns-persist):
 * `issuer-domain-name; accounturi=URI[; policy=wildcard][;
 * persistUntil=EPOCH]` in a TXT record at _validation-persist.<domain>.
 * The parser is strict where a sloppy record could widen what it grants
 * (duplicates, empty parts) and tolerant of parameters it does not know.
 */
#include "dcv-checker/dcv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Trims blanks around [s, s+n) in place of a fresh owned copy. */
static char *trimmed_copy(const char *s, size_t n)
{
    while (n > 0 && is_blank(*s)) {
        s++;
        n--;
    }
    while (n > 0 && is_blank(s[n - 1]))
        n--;
    return xstrndup(s, n);
}

void dcv_persist_record_cleanup(struct dcv_persist_record *r)
{
    if (r == NULL)
        return;
    free(r->issuer);
    free(r->accounturi);
    memset(r, 0, sizeof(*r));
}

static enum mpic_err parse_epoch(const char *v, int64_t *out)
{
    int64_t n = 0;
    const char *p;

    if (v[0] == '\0')
        return MPIC_ERR_INVALID;
    for (p = v; *p != '\0'; p++) {
        if (*p < '0' || *p > '9')
            return MPIC_ERR_INVALID;
        if (n > (INT64_MAX - 9) / 10)
            return MPIC_ERR_INVALID;
        n = n * 10 + (*p - '0');
    }
    *out = n;
    return MPIC_OK;
}

/* One `key=value` parameter into r; reason on error. */
static enum mpic_err parse_param(char *param, struct dcv_persist_record *r,
                                 bool *seen_policy, char **why)
{
    char *eq = strchr(param, '=');
    char *key = NULL;
    char *val = NULL;
    enum mpic_err rc = MPIC_ERR_INVALID;

    if (param[0] == '\0') {
        *why = xstrdup("empty parameter");
        goto out;
    }
    if (eq == NULL) {
        *why = xasprintf("parameter without '=': %s", param);
        goto out;
    }
    key = trimmed_copy(param, (size_t)(eq - param));
    val = trimmed_copy(eq + 1, strlen(eq + 1));
    if (key[0] == '\0') {
        *why = xasprintf("parameter without a name: %s", param);
        goto out;
    }
    if (val[0] == '\0') {
        *why = xasprintf("parameter %s without a value", key);
        goto out;
    }
    if (strcasecmp(key, "accounturi") == 0) {
        if (r->accounturi != NULL) {
            *why = xstrdup("duplicate accounturi");
            goto out;
        }
        r->accounturi = val;
        val = NULL;
    } else if (strcasecmp(key, "policy") == 0) {
        if (*seen_policy) {
            *why = xstrdup("duplicate policy");
            goto out;
        }
        *seen_policy = true;
        /* Other policy values grant nothing beyond the default. */
        r->policy_wildcard = strcasecmp(val, "wildcard") == 0;
    } else if (strcasecmp(key, "persistuntil") == 0) {
        if (r->has_persist_until) {
            *why = xstrdup("duplicate persistUntil");
            goto out;
        }
        if (parse_epoch(val, &r->persist_until) != MPIC_OK) {
            *why = xasprintf("persistUntil is not a decimal epoch: %s", val);
            goto out;
        }
        r->has_persist_until = true;
    }
    /* unknown parameters are ignored (forward compatibility) */
    rc = MPIC_OK;
out:
    free(key);
    free(val);
    return rc;
}

enum mpic_err dcv_persist_parse(const char *txt, size_t len,
                                struct dcv_persist_record *out, char **why)
{
    struct dcv_persist_record r = {0};
    enum mpic_err rc = MPIC_ERR_INVALID;
    bool seen_policy = false;
    char *copy = NULL;
    char *p;
    char *semi;

    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (memchr(txt, '\0', len) != NULL) {
        *why = xstrdup("NUL byte in record");
        goto out;
    }
    copy = xmemdup(txt, len);
    semi = strchr(copy, ';');
    if (semi != NULL)
        *semi = '\0';
    r.issuer = trimmed_copy(copy, strlen(copy));
    if (r.issuer[0] == '\0') {
        *why = xstrdup("missing issuer-domain-name");
        goto out;
    }
    if (strpbrk(r.issuer, " \t=") != NULL) {
        *why = xasprintf("bad issuer-domain-name: %s", r.issuer);
        goto out;
    }
    p = semi == NULL ? NULL : semi + 1;
    while (p != NULL) {
        char *param;

        semi = strchr(p, ';');
        if (semi != NULL)
            *semi = '\0';
        param = trimmed_copy(p, strlen(p));
        if (param[0] == '\0') {
            *why = xstrdup(semi == NULL ? "trailing ';'" : "empty parameter");
            free(param);
            goto out;
        }
        if (parse_param(param, &r, &seen_policy, why) != MPIC_OK) {
            free(param);
            goto out;
        }
        free(param);
        p = semi == NULL ? NULL : semi + 1;
    }
    if (r.accounturi == NULL) {
        *why = xstrdup("missing accounturi");
        goto out;
    }
    *out = r;
    memset(&r, 0, sizeof(r));
    rc = MPIC_OK;
out:
    free(copy);
    dcv_persist_record_cleanup(&r);
    return rc;
}

enum dcv_persist_verdict dcv_persist_evaluate(const char *txt, size_t len,
                                              const struct mpic_strv *issuers,
                                              const char *account_uri,
                                              bool wildcard_target,
                                              int64_t now_s)
{
    struct dcv_persist_record r;
    enum dcv_persist_verdict v = DCV_PERSIST_MALFORMED;
    char *why = NULL;
    size_t il;

    if (dcv_persist_parse(txt, len, &r, &why) != MPIC_OK) {
        free(why);
        return DCV_PERSIST_MALFORMED;
    }
    /* an issuer written as an absolute name still names the same CA */
    il = strlen(r.issuer);
    if (il > 1 && r.issuer[il - 1] == '.')
        r.issuer[il - 1] = '\0';
    if (!mpic_strv_contains_icase(issuers, r.issuer)) {
        v = DCV_PERSIST_WRONG_ISSUER;
        goto out;
    }
    /* exact comparison, as the draft and Boulder do (open-mpic-api.md 6) */
    if (account_uri == NULL || strcmp(r.accounturi, account_uri) != 0) {
        v = DCV_PERSIST_WRONG_ACCOUNT;
        goto out;
    }
    if (r.has_persist_until && r.persist_until < now_s) {
        v = DCV_PERSIST_EXPIRED;
        goto out;
    }
    if (wildcard_target && !r.policy_wildcard) {
        v = DCV_PERSIST_NO_WILDCARD;
        goto out;
    }
    v = DCV_PERSIST_OK;
out:
    dcv_persist_record_cleanup(&r);
    return v;
}

const char *dcv_persist_verdict_name(enum dcv_persist_verdict v)
{
    switch (v) {
    case DCV_PERSIST_OK:
        return "ok";
    case DCV_PERSIST_MALFORMED:
        return "malformed record";
    case DCV_PERSIST_WRONG_ISSUER:
        return "issuer not in issuer_domain_names";
    case DCV_PERSIST_WRONG_ACCOUNT:
        return "accounturi differs from expected_account_uri";
    case DCV_PERSIST_EXPIRED:
        return "persistUntil has passed";
    case DCV_PERSIST_NO_WILDCARD:
        return "wildcard target without policy=wildcard";
    }
    return "unknown";
}
