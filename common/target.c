/*
 * Preparation of domain_or_ip_target; see target.h.
 *
 * Order of the checks: IPv6 in brackets, the "*." wildcard prefix, IPv4 and
 * bare IPv6 (inet_pton), then DNS names. A name that is pure ASCII and has
 * no "xn--" label is only lower-cased and checked; anything else goes
 * through libidn2 (IDNA2008 with UTS#46 non-transitional mapping), and its
 * output is checked with the same label rules, so a mapping that produces a
 * dot, a disallowed character or a reverse-zone name is still caught.
 */
#include "common/target.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <idn2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/mem.h"

#define MAX_NAME_OCTETS  253 /* RFC 1035 2.3.4, without the trailing dot */
#define MAX_LABEL_OCTETS 63

static bool is_ascii(const char *s)
{
    for (; *s != '\0'; s++) {
        if ((unsigned char)*s >= 0x80)
            return false;
    }
    return true;
}

static bool has_alabel(const char *s)
{
    const char *p = s;

    while (p != NULL) {
        if (strncasecmp(p, "xn--", 4) == 0)
            return true;
        p = strchr(p, '.');
        if (p != NULL)
            p++;
    }
    return false;
}

/*
 * LDH (RFC 1123 2.1, RFC 5890 2.3.1): no '_' in a target. A name for a
 * certificate never holds one (BR 7.1.4.2); the labels with '_' that DCV
 * queries are prefixed by the method, never taken from the target.
 */
static bool label_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/*
 * A last label that some resolvers and URL parsers read as a number, so
 * the whole name as an IPv4 address (inet_aton(3): "2130706433", "127.1",
 * "0177.0.0.1", "0x7f.0.0.1"; the WHATWG URL host parser's "ends in a
 * number": all digits, or "0x" and hex digits). Such a name is neither a
 * name nor an IP literal.
 */
static const char *numeric_label_problem(const char *label, size_t n)
{
    size_t i = 0;

    while (i < n && label[i] >= '0' && label[i] <= '9')
        i++;
    if (i == n)
        return "the last label is all digits (some resolvers read the "
               "name as an IPv4 address)";
    if (n >= 2 && label[0] == '0' && label[1] == 'x') {
        for (i = 2; i < n; i++) {
            if (!isxdigit((unsigned char)label[i]))
                return NULL;
        }
        return "the last label is a hexadecimal number (some resolvers "
               "read the name as an IPv4 address)";
    }
    return NULL;
}

/*
 * A Reserved LDH label (RFC 5890 2.3.1: "--" in the third and fourth
 * positions) other than an XN-label. BR 7.1.2.7.12 allows in a dNSName only
 * P-Labels and Non-Reserved LDH Labels, so no certificate can carry such a
 * name and no check may call it valid. XN-labels reach here only through
 * libidn2, which refuses one that is not valid Punycode (to_alabels).
 */
static bool reserved_ldh(const char *label, size_t n)
{
    return n >= 4 && label[2] == '-' && label[3] == '-' &&
           !(label[0] == 'x' && label[1] == 'n');
}

/* The IP reverse zones (RFC 1035 3.5, RFC 3596 2.5); BR 4.2.2. */
static const char *const reverse_zones[] = {"in-addr.arpa", "ip6.arpa"};

static const char *reverse_zone_of(const char *name)
{
    size_t len = strlen(name);

    for (size_t i = 0; i < sizeof(reverse_zones) / sizeof(reverse_zones[0]);
         i++) {
        const char *z = reverse_zones[i];
        size_t zl = strlen(z);

        if (len == zl && strcmp(name, z) == 0)
            return z;
        if (len > zl && name[len - zl - 1] == '.' &&
            strcmp(name + len - zl, z) == 0)
            return z;
    }
    return NULL;
}

/*
 * Checks a lower-case ASCII name: label characters and lengths, no hyphen
 * at either end of a label (LDH, RFC 1123 2.1), no Reserved LDH label but
 * an A-label (BR 7.1.2.7.12), a last label that is not a
 * number (RFC 3696 2; see numeric_label_problem) so a malformed or numeric
 * address such as "1.2.3.256" or "0x7f000001" never passes as a name, and
 * no name in an IP reverse zone.
 */
static char *check_ascii_name(const char *name)
{
    size_t len = strlen(name);
    const char *label = name;
    const char *numeric;
    const char *zone;

    if (len == 0)
        return xstrdup("empty name");
    if (len > MAX_NAME_OCTETS)
        return xasprintf("name is %zu octets long (limit %d)", len,
                         MAX_NAME_OCTETS);
    for (const char *p = name;; p++) {
        if (*p == '.' || *p == '\0') {
            size_t n = (size_t)(p - label);

            if (n == 0)
                return xstrdup("empty label");
            if (n > MAX_LABEL_OCTETS)
                return xasprintf("label \"%.*s\" is %zu octets long "
                                 "(limit %d)",
                                 (int)n, label, n, MAX_LABEL_OCTETS);
            if (label[0] == '-' || label[n - 1] == '-')
                return xasprintf("label \"%.*s\" starts or ends with '-'",
                                 (int)n, label);
            if (reserved_ldh(label, n))
                return xasprintf("label \"%.*s\" has \"--\" in the third "
                                 "and fourth positions but is not an A-label "
                                 "(a Reserved LDH label; BR 7.1.2.7.12)",
                                 (int)n, label);
            if (*p == '\0') {
                numeric = numeric_label_problem(label, n);
                if (numeric != NULL)
                    return xstrdup(numeric);
                break;
            }
            label = p + 1;
            continue;
        }
        if (!label_char_ok(*p)) {
            if (*p == '*')
                return xstrdup("'*' is only allowed as the whole first "
                               "label");
            if (*p == '_')
                return xstrdup("'_' is not allowed in a domain name "
                               "(letters, digits and '-' only)");
            return xasprintf("invalid character 0x%02x in a label",
                             (unsigned)(unsigned char)*p);
        }
    }
    zone = reverse_zone_of(name);
    if (zone != NULL)
        return xasprintf("names in the IP reverse zone %s are not allowed "
                         "(BR 4.2.2)",
                         zone);
    return NULL;
}

/* Encodes `in` to its lower-case A-label form; owned result or NULL. */
static char *to_alabels(const char *in, char **why)
{
    char *ace = NULL;
    char *res = NULL;
    int rc;

    if (is_ascii(in) && !has_alabel(in)) {
        res = xstrdup(in);
        for (char *p = res; *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        return res;
    }
    rc = idn2_to_ascii_8z(in, &ace, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    if (rc != IDN2_OK) {
        *why =
            xasprintf("invalid internationalized name: %s", idn2_strerror(rc));
        goto out;
    }
    res = xstrdup(ace);
    for (char *p = res; *p != '\0'; p++)
        *p = (char)tolower((unsigned char)*p);
out:
    idn2_free(ace);
    return res;
}

static int parse_name(const char *in, struct mpic_target *t, char **why)
{
    char *copy = NULL;
    char *ascii = NULL;
    char *problem = NULL;
    size_t len;
    int rc = -1;

    /* Spaces and control characters never reach libidn2. */
    for (const char *p = in; *p != '\0'; p++) {
        unsigned char c = (unsigned char)*p;

        if (c <= 0x20 || c == 0x7f) {
            *why =
                xasprintf("invalid character 0x%02x in the name", (unsigned)c);
            goto out;
        }
        if (c == '*') {
            *why = xstrdup("'*' is only allowed as the whole first label");
            goto out;
        }
    }
    copy = xstrdup(in);
    len = strlen(copy);
    if (len > 0 && copy[len - 1] == '.')
        copy[--len] = '\0';
    if (len == 0) {
        *why = xstrdup("empty name");
        goto out;
    }
    /* Empty labels would make libidn2 fail with a less helpful message. */
    if (copy[0] == '.' || strstr(copy, "..") != NULL) {
        *why = xstrdup("empty label");
        goto out;
    }
    ascii = to_alabels(copy, why);
    if (ascii == NULL)
        goto out;
    problem = check_ascii_name(ascii);
    if (problem != NULL) {
        *why = problem;
        problem = NULL;
        goto out;
    }
    t->kind = MPIC_TARGET_DNS;
    t->name = ascii;
    ascii = NULL;
    rc = 0;
out:
    free(copy);
    free(ascii);
    return rc;
}

static int parse_addr(const char *in, int af, struct mpic_target *t)
{
    char text[INET6_ADDRSTRLEN];

    if (inet_pton(af, in, t->addr) != 1)
        return -1;
    if (inet_ntop(af, t->addr, text, sizeof(text)) == NULL)
        return -1;
    t->kind = af == AF_INET ? MPIC_TARGET_IPV4 : MPIC_TARGET_IPV6;
    t->name = xstrdup(text);
    return 0;
}

int mpic_target_parse(const char *in, struct mpic_target *out, char **why)
{
    struct mpic_target t;
    char *inner = NULL;
    const char *rest = in;
    size_t len;
    int rc = -1;

    memset(&t, 0, sizeof(t));
    *why = NULL;
    if (in == NULL || in[0] == '\0') {
        *why = xstrdup("empty target");
        goto out;
    }
    len = strlen(in);
    if (in[0] == '[') {
        if (len < 3 || in[len - 1] != ']') {
            *why = xstrdup("unbalanced '[' in the target");
            goto out;
        }
        inner = xstrndup(in + 1, len - 2);
        if (parse_addr(inner, AF_INET6, &t) != 0) {
            *why = xstrdup("not an IPv6 address inside '[...]'");
            goto out;
        }
        rc = 0;
        goto out;
    }
    if (strncmp(in, "*.", 2) == 0) {
        t.wildcard = true;
        rest = in + 2;
    }
    if (parse_addr(rest, AF_INET, &t) == 0 ||
        parse_addr(rest, AF_INET6, &t) == 0) {
        if (t.wildcard) {
            *why = xstrdup("a wildcard is not allowed on an IP address");
            goto out;
        }
        rc = 0;
        goto out;
    }
    if (rest[0] == '[' || strchr(rest, ':') != NULL) {
        *why = xstrdup("not a valid IP address or name");
        goto out;
    }
    rc = parse_name(rest, &t, why);
out:
    free(inner);
    if (rc == 0) {
        *out = t;
    } else {
        mpic_target_cleanup(&t);
        if (*why == NULL)
            *why = xstrdup("invalid target");
    }
    return rc;
}

void mpic_target_cleanup(struct mpic_target *t)
{
    if (t == NULL)
        return;
    free(t->name);
    memset(t, 0, sizeof(*t));
}

char *mpic_target_reverse_name(const struct mpic_target *t)
{
    static const char hex[] = "0123456789abcdef";
    char buf[sizeof("x.") * 32 + sizeof("ip6.arpa")];
    char *p = buf;

    if (t == NULL)
        return NULL;
    switch (t->kind) {
    case MPIC_TARGET_IPV4:
        /* RFC 1035 3.5 */
        return xasprintf("%u.%u.%u.%u.in-addr.arpa", t->addr[3], t->addr[2],
                         t->addr[1], t->addr[0]);
    case MPIC_TARGET_IPV6:
        /* RFC 3596 2.5: nibbles, least significant first. */
        for (int i = 15; i >= 0; i--) {
            *p++ = hex[t->addr[i] & 0x0f];
            *p++ = '.';
            *p++ = hex[t->addr[i] >> 4];
            *p++ = '.';
        }
        memcpy(p, "ip6.arpa", sizeof("ip6.arpa"));
        return xstrdup(buf);
    case MPIC_TARGET_DNS:
        break;
    }
    return NULL;
}
