/*
 * The CAA decision: given the relevant CAA RRset (already found by the tree
 * climb), may this CA issue? Implements RFC 8659 sections 4.1-4.3 (flags,
 * tags, issue/issuewild value grammar), RFC 9495 (issuemail) and the RFC 8657
 * parameters accounturi and validationmethods, as open-mpic-api.md section
 * 5.4 describes. No I/O and no lookups: the records come in as structs.
 *
 * The rule of thumb throughout: anything we cannot parse permits nobody. A
 * wrong "permit" can mean a mis-issued certificate; a wrong "deny" only
 * delays one.
 */
#include "caa-checker/caa_decide.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

/* Longest piece of outside text we echo into a reason string. */
#define CAA_REASON_MAX_ECHO 64

/* RFC 8659 section 4.1 and RFC 9495: the property tags we understand. */
static const char *const caa_known_tags[] = {
    "issue", "issuewild", "issuemail", "iodef", "contactemail", "contactphone",
};

/* A slice of a record value; not NUL-terminated. */
struct caa_span {
    const char *p;
    size_t n;
};

/* One parsed issue/issuewild/issuemail value; spans borrow the record. */
struct caa_value {
    struct caa_span issuer; /* trailing dot removed; may be empty */
    struct caa_span *tags;  /* parameter tags, owned array */
    struct caa_span *vals;  /* parameter values, parallel to tags */
    size_t nparams;
    size_t cap;
};

/* Why a relevant record naming us still did not permit. */
enum caa_refusal {
    CAA_REFUSE_NONE = 0,
    CAA_REFUSE_MALFORMED,
    CAA_REFUSE_ACCOUNTURI,
    CAA_REFUSE_METHODS,
    CAA_REFUSE_NO_ACCOUNT, /* strict: record has accounturi, request none */
    CAA_REFUSE_NO_METHOD,  /* strict: validationmethods, request no label */
};

/*
 * Open MPIC validation method names and their RFC 8657 validationmethods
 * labels: ACME challenge names (RFC 8555 8.3, 8.4; RFC 8737; the
 * dns-account-01 and dns-persist-01 drafts) for the ACME methods, and the
 * CA/B Forum SC-098 form "ca-tbr-<subsection of BR 3.2.2.4>" for the other
 * BR methods. reverse-address-lookup (BR 3.2.2.5.3) validates an IP
 * address, which has no CAA; SC-098 labels only 3.2.2.4 subsections, so it
 * has no label (NULL): a validationmethods record never lists it.
 */
static const struct {
    const char *method;
    const char *label;
} caa_method_labels[] = {
    {"acme-http-01", "http-01"},          /* BR 3.2.2.4.19 */
    {"acme-dns-01", "dns-01"},            /* BR 3.2.2.4.7 */
    {"acme-tls-alpn-01", "tls-alpn-01"},  /* BR 3.2.2.4.20 */
    {"dns-account-01", "dns-account-01"}, /* BR 3.2.2.4.21 */
    {"dns-persistent", "dns-persist-01"}, /* BR 3.2.2.4.22 */
    {"website-change", "ca-tbr-18"},      /* BR 3.2.2.4.18 */
    {"dns-change", "ca-tbr-7"},           /* BR 3.2.2.4.7 */
    {"ip-address", "ca-tbr-8"},           /* BR 3.2.2.4.8 */
    {"contact-email-caa", "ca-tbr-13"},   /* BR 3.2.2.4.13 */
    {"contact-email-txt", "ca-tbr-14"},   /* BR 3.2.2.4.14 */
    {"contact-phone-txt", "ca-tbr-16"},   /* BR 3.2.2.4.16 */
    {"contact-phone-caa", "ca-tbr-17"},   /* BR 3.2.2.4.17 */
    {"reverse-address-lookup", NULL},     /* BR 3.2.2.5.3: none */
};

static bool caa_is_wsp(char c)
{
    return c == ' ' || c == '\t';
}

/* ASCII only: isalnum() would follow the locale. */
static bool caa_is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

static bool caa_span_eq_icase(struct caa_span a, struct caa_span b)
{
    return a.n == b.n && strncasecmp(a.p, b.p, a.n) == 0;
}

static struct caa_span caa_span_of(const char *s)
{
    struct caa_span sp = {s, strlen(s)};

    return sp;
}

static size_t caa_skip_wsp(const char *v, size_t len, size_t i)
{
    while (i < len && caa_is_wsp(v[i]))
        i++;
    return i;
}

/*
 * RFC 8659 section 4.2: label = (ALPHA / DIGIT) *( *("-") (ALPHA / DIGIT)).
 * The parameter tag has the same shape. Returns the index just past the
 * longest match starting at i, or i if there is none; a trailing run of
 * hyphens is left unconsumed so the caller sees it as garbage.
 */
static size_t caa_scan_ldh(const char *v, size_t len, size_t i)
{
    size_t j = i, end = i;

    if (j >= len || !caa_is_alnum(v[j]))
        return i;
    while (j < len && (caa_is_alnum(v[j]) || v[j] == '-')) {
        j++;
        if (caa_is_alnum(v[j - 1]))
            end = j;
    }
    return end;
}

static void caa_value_cleanup(struct caa_value *cv)
{
    free(cv->tags);
    free(cv->vals);
    memset(cv, 0, sizeof(*cv));
}

static void caa_value_add_param(struct caa_value *cv, struct caa_span tag,
                                struct caa_span val)
{
    if (cv->nparams == cv->cap) {
        cv->cap = cv->cap ? cv->cap * 2 : 4;
        cv->tags = xreallocarray(cv->tags, cv->cap, sizeof(*cv->tags));
        cv->vals = xreallocarray(cv->vals, cv->cap, sizeof(*cv->vals));
    }
    cv->tags[cv->nparams] = tag;
    cv->vals[cv->nparams] = val;
    cv->nparams++;
}

/* Returns the value of parameter `name` (case-insensitive), or NULL. */
static const struct caa_span *caa_value_param(const struct caa_value *cv,
                                              const char *name)
{
    struct caa_span want = caa_span_of(name);

    for (size_t i = 0; i < cv->nparams; i++) {
        if (caa_span_eq_icase(cv->tags[i], want))
            return &cv->vals[i];
    }
    return NULL;
}

/*
 * Parses an issue/issuewild/issuemail value (RFC 8659 section 4.2, RFC 9495
 * section 3):
 *
 *   issue-value = *WSP [issuer-domain-name *WSP]
 *                 [";" *WSP [parameters *WSP]]
 *   issuer-domain-name = label *("." label)
 *   parameters = (parameter *WSP ";" *WSP parameters) / parameter
 *   parameter = tag *WSP "=" *WSP value
 *   value = *(%x21-3A / %x3C-7E)
 *
 * Beyond the grammar we accept one trailing dot on the issuer (an absolute
 * name means the same CA), and we refuse duplicate parameter tags: which of
 * two accounturi values would apply is anybody's guess. A trailing ";" after
 * the last parameter is outside the grammar and refused, as the reference
 * does. On failure *why gets a static description and cv is left empty.
 */
static bool caa_value_parse(const char *v, size_t len, struct caa_value *cv,
                            const char **why)
{
    size_t i = 0, e;

    memset(cv, 0, sizeof(*cv));
    for (size_t k = 0; k < len; k++) {
        unsigned char c = (unsigned char)v[k];

        if ((c < 0x20 && c != '\t') || c >= 0x7f) {
            *why = "control or non-ASCII byte in value";
            goto fail;
        }
    }

    i = caa_skip_wsp(v, len, i);
    if (i < len && v[i] != ';') {
        size_t start = i;

        for (;;) {
            e = caa_scan_ldh(v, len, i);
            if (e == i) {
                *why = "bad issuer-domain-name";
                goto fail;
            }
            i = e;
            if (i < len && v[i] == '.') {
                i++;
                if (i < len && caa_is_alnum(v[i]))
                    continue;
                /* A trailing dot: the name ends here (checked below). */
                cv->issuer.p = v + start;
                cv->issuer.n = i - 1 - start;
                break;
            }
            cv->issuer.p = v + start;
            cv->issuer.n = i - start;
            break;
        }
        i = caa_skip_wsp(v, len, i);
        if (i < len && v[i] != ';') {
            *why = "bad issuer-domain-name";
            goto fail;
        }
    }
    if (i == len)
        return true;

    /* v[i] == ';' */
    i = caa_skip_wsp(v, len, i + 1);
    if (i == len)
        return true;
    for (;;) {
        struct caa_span tag, val;

        e = caa_scan_ldh(v, len, i);
        if (e == i) {
            *why = "bad parameter tag";
            goto fail;
        }
        tag.p = v + i;
        tag.n = e - i;
        i = caa_skip_wsp(v, len, e);
        if (i == len || v[i] != '=') {
            *why = "parameter without '='";
            goto fail;
        }
        i = caa_skip_wsp(v, len, i + 1);
        val.p = v + i;
        while (i < len && v[i] >= 0x21 && v[i] <= 0x7e && v[i] != ';')
            i++;
        val.n = (size_t)(v + i - val.p);
        for (size_t k = 0; k < cv->nparams; k++) {
            if (caa_span_eq_icase(cv->tags[k], tag)) {
                *why = "duplicate parameter";
                goto fail;
            }
        }
        caa_value_add_param(cv, tag, val);

        i = caa_skip_wsp(v, len, i);
        if (i == len)
            return true;
        if (v[i] != ';') {
            *why = "bad parameter value";
            goto fail;
        }
        i = caa_skip_wsp(v, len, i + 1);
        if (i == len) {
            *why = "trailing ';' after parameters";
            goto fail;
        }
    }

fail:
    caa_value_cleanup(cv);
    return false;
}

/* RFC 8659 4.1: only a tag of ASCII letters and digits can be a known
 * tag; "issue\0" (a NUL byte on the wire) is an unknown tag. */
static bool caa_tag_is(const struct caa_record *r, const char *tag)
{
    return caa_record_tag_is(r, tag);
}

static bool caa_tag_is_known(const struct caa_record *r)
{
    for (size_t i = 0; i < sizeof(caa_known_tags) / sizeof(caa_known_tags[0]);
         i++) {
        if (caa_tag_is(r, caa_known_tags[i]))
            return true;
    }
    return false;
}

/* Compares ignoring case and one trailing dot on either side. */
static bool caa_domain_matches(struct caa_span issuer, const char *domain)
{
    struct caa_span d = caa_span_of(domain);

    if (d.n > 0 && d.p[d.n - 1] == '.')
        d.n--;
    return d.n > 0 && caa_span_eq_icase(issuer, d);
}

/* Returns the caa_domains entry naming issuer, or NULL. */
static const char *caa_names_us(struct caa_span issuer,
                                const struct mpic_strv *domains)
{
    if (issuer.n == 0 || domains == NULL)
        return NULL;
    for (size_t i = 0; i < domains->n; i++) {
        if (caa_domain_matches(issuer, domains->v[i]))
            return domains->v[i];
    }
    return NULL;
}

const char *caa_method_label(const char *method)
{
    if (method == NULL)
        return NULL;
    for (size_t i = 0;
         i < sizeof(caa_method_labels) / sizeof(caa_method_labels[0]); i++) {
        if (strcasecmp(method, caa_method_labels[i].method) == 0)
            return caa_method_labels[i].label;
    }
    return method; /* a raw RFC 8657 label, taken as given */
}

/* RFC 8657 section 4: validationmethods is a comma-separated label list;
 * labels compare case-insensitively. label NULL is in no list. */
static bool caa_methods_contain(struct caa_span list, const char *label)
{
    struct caa_span want;
    size_t i = 0;

    if (label == NULL || label[0] == '\0')
        return false;
    want = caa_span_of(label);
    while (i <= list.n) {
        struct caa_span item = {list.p + i, 0};

        while (i + item.n < list.n && list.p[i + item.n] != ',')
            item.n++;
        if (item.n > 0 && caa_span_eq_icase(item, want))
            return true;
        i += item.n + 1;
    }
    return false;
}

/*
 * RFC 8657 sections 3 and 4 for a record that names us. Strict (the
 * default): a record with accounturi permits only the request carrying
 * exactly that account URI, one with validationmethods only a request whose
 * method label is listed; a request without the value gets nothing from
 * the record. Lenient: a parameter is checked only when the request
 * carries the value it restricts.
 */
static enum caa_refusal caa_check_params(const struct caa_value *cv,
                                         const struct caa_decide_input *in)
{
    const struct caa_span *p;

    p = caa_value_param(cv, "accounturi");
    if (p != NULL) {
        if (in->account_uri == NULL) {
            if (!in->rfc8657_lenient)
                return CAA_REFUSE_NO_ACCOUNT;
        } else if (p->n != strlen(in->account_uri) ||
                   memcmp(p->p, in->account_uri, p->n) != 0) {
            return CAA_REFUSE_ACCOUNTURI;
        }
    }
    p = caa_value_param(cv, "validationmethods");
    if (p != NULL) {
        if (in->validation_method == NULL) {
            if (!in->rfc8657_lenient)
                return CAA_REFUSE_NO_METHOD;
        } else if (!caa_methods_contain(
                       *p, caa_method_label(in->validation_method))) {
            return CAA_REFUSE_METHODS;
        }
    }
    return CAA_REFUSE_NONE;
}

/* An owned copy of outside text safe to put in a reason: printable ASCII
 * only (others become '?'), at most CAA_REASON_MAX_ECHO characters. */
static char *caa_echo(const char *s, size_t n)
{
    size_t m = n > CAA_REASON_MAX_ECHO ? CAA_REASON_MAX_ECHO : n;
    char *out = xmalloc(m + 4);

    for (size_t i = 0; i < m; i++) {
        unsigned char c = (unsigned char)s[i];

        out[i] = (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\' && c != '"')
                     ? (char)c
                     : '?';
    }
    if (m < n) {
        memcpy(out + m, "...", 4);
    } else {
        out[m] = '\0';
    }
    return out;
}

/* "ca.example, ca2.example" or "(no caa_domains configured)"; owned. */
static char *caa_domain_list(const struct mpic_strv *domains)
{
    char *out = NULL;

    if (domains == NULL || domains->n == 0)
        return xstrdup("(no caa_domains configured)");
    for (size_t i = 0; i < domains->n; i++) {
        char *d = caa_echo(domains->v[i], strlen(domains->v[i]));
        char *next = out == NULL ? xstrdup(d) : xasprintf("%s, %s", out, d);

        free(d);
        free(out);
        out = next;
    }
    return out;
}

static char *caa_refusal_text(const char *tag, const char *domain,
                              enum caa_refusal why,
                              const struct caa_decide_input *in,
                              const char *malformed_why)
{
    char *d = caa_echo(domain, strlen(domain));
    char *m = NULL, *out = NULL;

    switch (why) {
    case CAA_REFUSE_ACCOUNTURI:
        out = xasprintf("%s record names %s but accounturi differs", tag, d);
        break;
    case CAA_REFUSE_METHODS: {
        const char *label = caa_method_label(in->validation_method);

        m = caa_echo(in->validation_method, strlen(in->validation_method));
        if (label == NULL) {
            out = xasprintf("%s record names %s but restricts "
                            "validationmethods, and %s has no RFC 8657 label",
                            tag, d, m);
        } else if (strcasecmp(label, in->validation_method) != 0) {
            char *l = caa_echo(label, strlen(label));

            out = xasprintf("%s record names %s but validationmethods omits "
                            "%s (%s)",
                            tag, d, l, m);
            free(l);
        } else {
            out = xasprintf("%s record names %s but validationmethods omits "
                            "%s",
                            tag, d, m);
        }
        break;
    }
    case CAA_REFUSE_NO_ACCOUNT:
        out = xasprintf("%s record names %s but restricts accounturi and the "
                        "request has no account_uri (RFC 8657, strict)",
                        tag, d);
        break;
    case CAA_REFUSE_NO_METHOD:
        out = xasprintf("%s record names %s but restricts validationmethods "
                        "and the request has no validation_method (RFC 8657, "
                        "strict)",
                        tag, d);
        break;
    case CAA_REFUSE_MALFORMED:
    case CAA_REFUSE_NONE:
        out = xasprintf("%s record names %s but is malformed (%s)", tag, d,
                        malformed_why != NULL ? malformed_why : "unknown");
        break;
    }
    free(m);
    free(d);
    return out;
}

/*
 * Crude issuer extraction for a malformed value, only to tell whether the
 * record was meant for us (which makes the reason far more useful): the
 * text before the first ';', trimmed of WSP and a trailing dot.
 */
static struct caa_span caa_rough_issuer(const char *v, size_t len)
{
    struct caa_span s;
    size_t i = caa_skip_wsp(v, len, 0), e = i;

    while (e < len && v[e] != ';')
        e++;
    while (e > i && caa_is_wsp(v[e - 1]))
        e--;
    if (e > i && v[e - 1] == '.')
        e--;
    s.p = v + i;
    s.n = e - i;
    return s;
}

bool caa_decide(const struct caa_record *recs, size_t n,
                const struct caa_decide_input *in, char **reason)
{
    const char *tag = NULL, *refused_domain = NULL, *malformed_why = NULL;
    enum caa_refusal refusal = CAA_REFUSE_NONE;
    size_t relevant = 0, malformed = 0;
    char *why = NULL, *list = NULL;
    bool permit = false;

    /* RFC 8659 section 4.1: an unknown critical property forbids issuance,
     * whatever else the RRset says. Flags 128 and 130 are both critical. */
    for (size_t i = 0; i < n; i++) {
        if ((recs[i].flags & 0x80) != 0 && !caa_tag_is_known(&recs[i])) {
            const char *t = recs[i].tag != NULL ? recs[i].tag : "";
            char *e = caa_echo(t, recs[i].tag != NULL ? recs[i].tag_len : 0);

            why = xasprintf("critical unknown tag '%s' (flags %u)", e,
                            (unsigned)recs[i].flags);
            free(e);
            goto out;
        }
    }

    switch (in->cert_type) {
    case MPIC_CERT_TLS_SERVER:
        /* RFC 8659 section 4.3: for a wildcard, issuewild records take
         * precedence over issue records when there are any. */
        tag = "issue";
        if (in->wildcard) {
            for (size_t i = 0; i < n; i++) {
                if (caa_tag_is(&recs[i], "issuewild")) {
                    tag = "issuewild";
                    break;
                }
            }
        }
        break;
    case MPIC_CERT_SMIME:
        tag = "issuemail"; /* RFC 9495 section 4 */
        break;
    default:
        why = xasprintf("unsupported certificate type %d", (int)in->cert_type);
        goto out;
    }

    for (size_t i = 0; i < n; i++) {
        const struct caa_record *r = &recs[i];
        const char *v = r->value != NULL ? r->value : "";
        size_t vlen = r->value != NULL ? r->value_len : 0;
        struct caa_value cv;
        const char *ours, *perr = NULL;
        enum caa_refusal rf;

        if (!caa_tag_is(r, tag))
            continue;
        relevant++;
        if (!caa_value_parse(v, vlen, &cv, &perr)) {
            /* RFC 8659 section 4.2: an unparsable value permits nobody. */
            malformed++;
            if (refused_domain == NULL) {
                ours = caa_names_us(caa_rough_issuer(v, vlen), in->caa_domains);
                if (ours != NULL) {
                    refused_domain = ours;
                    refusal = CAA_REFUSE_MALFORMED;
                    malformed_why = perr;
                }
            }
            continue;
        }
        /* An empty issuer (value "" or ";") names no CA: it permits
         * nobody, and it does not stop another record from permitting. */
        ours = caa_names_us(cv.issuer, in->caa_domains);
        if (ours == NULL) {
            caa_value_cleanup(&cv);
            continue;
        }
        rf = caa_check_params(&cv, in);
        caa_value_cleanup(&cv);
        if (rf == CAA_REFUSE_NONE) {
            char *d = caa_echo(ours, strlen(ours));

            why = xasprintf("%s record names %s", tag, d);
            free(d);
            permit = true;
            goto out;
        }
        if (refused_domain == NULL) {
            refused_domain = ours;
            refusal = rf;
        }
    }

    if (relevant == 0) {
        why = xasprintf("no %s records; any CA may issue", tag);
        permit = true;
        goto out;
    }
    if (refused_domain != NULL) {
        why = caa_refusal_text(tag, refused_domain, refusal, in, malformed_why);
        goto out;
    }
    list = caa_domain_list(in->caa_domains);
    if (malformed > 0) {
        why = xasprintf("no %s record names %s (%zu of %zu malformed)", tag,
                        list, malformed, relevant);
    } else {
        why = xasprintf("no %s record names %s", tag, list);
    }

out:
    free(list);
    if (reason != NULL) {
        *reason = why;
    } else {
        free(why);
    }
    return permit;
}
