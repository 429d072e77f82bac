/*
 * DNS client of the checkers: c-ares 1.18 on the daemon's ev loop. Queries
 * are written by ares_create_query (by ldns for names it cannot take
 * byte-for-byte), answers are parsed by ldns. c-ares owns transport (UDP,
 * TCP retry on TC, timeouts, tries, server order); we own the wire format
 * and the mapping of outcomes to enum mpic_dns_status. This module keeps no
 * cache and does not read /etc/hosts (ares_send never does).
 *
 * c-ares 1.18 has no event thread and no ares_process_fds: sockets are
 * reported through ARES_OPT_SOCK_STATE_CB and watched on the loop, readiness
 * goes to ares_process_fd, and one timer re-armed from ares_timeout() drives
 * retransmissions and timeouts (docs/STYLE.md 5).
 */
#include "common/dns.h"

#include <ares.h>
#include <errno.h>
#include <openssl/rand.h>
#include <string.h>
#include <sys/time.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/ev.h"
#include "common/log.h"
#include "common/mem.h"

/* RFC 9715 / DNS flag day 2020: a UDP payload size that avoids
 * fragmentation. */
#define DNS_EDNS_BUFSIZE 1232
/* CNAME hops followed in one answer before giving up. */
#define DNS_MAX_CNAME_HOPS 16
/* Header, a name of at most 255 octets, type, class and the OPT record. */
#define DNS_HEADER_LEN 12
#define DNS_NAME_MAX   255
#define DNS_QUERY_MAX  (DNS_HEADER_LEN + DNS_NAME_MAX + 4 + 11)
/* Query IDs drawn from the CSPRNG at once. */
#define DNS_ID_BATCH 256
/*
 * Receive buffer of the UDP sockets. Answers come in bursts (a CAA check
 * asks for every ancestor at once) while the loop may be busy elsewhere;
 * with the kernel's default (212992 bytes, about 270 small datagrams) a
 * checker with 64 checks in flight dropped 291 answers in 15 s (bench/),
 * each then costing a whole retry timeout. The kernel caps it at
 * net.core.rmem_max.
 */
#define DNS_RCVBUF (1024 * 1024)
/*
 * Early retransmission: a query without an answer after this long is sent
 * once more (a new ID, the same question) while the first stays
 * outstanding, and whichever answer comes first counts. One lost datagram
 * then costs this, not a whole per-try timeout (2 s by default); unbound
 * starts its own retransmission timer near 376 ms. Only with tries >= 2
 * (tries 1 asks for one query), and at most half of timeout_ms.
 */
#define DNS_RETRANSMIT_MS 400

struct mpic_dns {
    struct ev_loop *loop;
    ares_channel ch;
    bool have_channel;
    struct ev_timer *timer; /* NULL when not armed */
    uint64_t timer_due;     /* ev_now_ms() when timer fires */
    unsigned tries;
    unsigned timeout_ms; /* per try, as given to c-ares */
    bool destroying;
    uint64_t queries;     /* mpic_dns_query calls that sent a query */
    uint64_t retransmits; /* early retransmissions sent */
    uint16_t ids[DNS_ID_BATCH]; /* random query IDs not yet used */
    size_t ids_left;
};

/*
 * One query. Its memory belongs to c-ares' callback: c-ares calls
 * on_ares_answer exactly once per ares_send (at the latest with
 * ARES_EDESTRUCTION from ares_destroy), and that is where it is freed.
 * Cancelling only clears cb.
 */
struct mpic_dns_query {
    struct mpic_dns *dns;
    mpic_dns_fn *cb; /* NULL once cancelled or called */
    void *arg;
    char *name; /* for error messages */
    ldns_rr_type type;
    uint8_t qname[DNS_NAME_MAX]; /* the name as sent, wire form */
    size_t qname_len;
    /* ares_send calls whose callback has not run yet (the query is freed
     * when this drops to 0), and whether we are inside one of them. */
    unsigned sends;
    bool in_send;
    uint8_t wire[DNS_QUERY_MAX]; /* as sent, for the retransmission */
    size_t wire_len;
    /* Overall deadline (timeout_ms * tries); NULL when not armed. */
    struct ev_timer *deadline;
    struct ev_timer *retransmit; /* NULL when not armed */
};

static void dns_rearm_timer(struct mpic_dns *dns);

static void on_dns_timer(struct ev_loop *loop, void *arg)
{
    struct mpic_dns *dns = arg;

    (void)loop;
    dns->timer = NULL; /* the loop dropped it when it fired */
    ares_process_fd(dns->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    dns_rearm_timer(dns);
}

static void dns_rearm_timer(struct mpic_dns *dns)
{
    struct timeval tv;
    struct timeval *next;
    uint64_t ms;
    uint64_t due;

    if (dns->destroying)
        return;
    next = ares_timeout(dns->ch, NULL, &tv);
    if (next == NULL) {
        /* nothing outstanding */
        ev_timer_stop(dns->loop, dns->timer);
        dns->timer = NULL;
        return;
    }
    /* Round up so we never wake just before c-ares considers it due. */
    ms =
        (uint64_t)next->tv_sec * 1000u + ((uint64_t)next->tv_usec + 999) / 1000;
    due = ev_now_ms() + ms;
    /* A timer due no later is kept: firing early only costs one
     * ares_process_fd that re-arms it, while replacing it after every
     * query and every answer costs an allocation and heap work. */
    if (dns->timer != NULL && dns->timer_due <= due)
        return;
    ev_timer_stop(dns->loop, dns->timer);
    dns->timer = ev_timer_start(dns->loop, ms, on_dns_timer, dns);
    dns->timer_due = due;
}

static void on_dns_io(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    struct mpic_dns *dns = arg;

    (void)loop;
    ares_process_fd(dns->ch, (events & EV_READ) ? fd : ARES_SOCKET_BAD,
                    (events & EV_WRITE) ? fd : ARES_SOCKET_BAD);
    dns_rearm_timer(dns);
}

static void on_sock_state(void *data, ares_socket_t fd, int readable,
                          int writable)
{
    struct mpic_dns *dns = data;
    unsigned ev = 0;

    if (readable)
        ev |= EV_READ;
    if (writable)
        ev |= EV_WRITE;
    /* ev == 0: c-ares is about to close the socket; stop watching it. */
    if (ev_io_watch(dns->loop, fd, ev, on_dns_io, dns) != 0 && ev != 0)
        log_error_errno("%s: cannot watch DNS socket %d", __func__, fd);
}

static void dns_query_free(struct mpic_dns_query *q)
{
    if (q == NULL)
        return;
    ev_timer_stop(q->dns->loop, q->deadline);
    q->deadline = NULL;
    ev_timer_stop(q->dns->loop, q->retransmit);
    q->retransmit = NULL;
    free(q->name);
    free(q);
}

/* Runs the user's callback once, then forgets it. */
static void dns_complete(struct mpic_dns_query *q,
                         const struct mpic_dns_result *res)
{
    mpic_dns_fn *cb = q->cb;

    q->cb = NULL;
    ev_timer_stop(q->dns->loop, q->retransmit);
    q->retransmit = NULL;
    if (cb != NULL)
        cb(res, q->arg);
}

static void dns_fail(struct mpic_dns_query *q, enum mpic_dns_status st,
                     const char *msg)
{
    struct mpic_dns_result res = {
        .status = st, .rcode = -1, .ad = false, .pkt = NULL, .error = msg};

    dns_complete(q, &res);
}

/*
 * The overall deadline of one query. c-ares 1.18 doubles the per-try
 * timeout every round over the server list (timeout 2000 ms x 3 tries can
 * take 14 s), which would outlive the coordinator's remote_timeout_ms and
 * turn a DNS timeout into a perspective timeout. So we promise
 * timeout_ms * tries in total: when that passes, the caller gets
 * MPIC_DNS_TIMEOUT now and the query is detached the way mpic_dns_cancel
 * does it; c-ares finishes it later and on_ares_answer frees it.
 */
static void on_query_deadline(struct ev_loop *loop, void *arg)
{
    struct mpic_dns_query *q = arg;
    char *msg;

    (void)loop;
    q->deadline = NULL; /* the loop dropped it when it fired */
    if (q->cb == NULL)
        return;
    msg = xasprintf("timed out after %u ms (%u tries) looking up %s",
                    q->dns->timeout_ms * q->dns->tries, q->dns->tries, q->name);
    dns_fail(q, MPIC_DNS_TIMEOUT, msg);
    free(msg);
}

/* Maps a c-ares failure status (not ARES_SUCCESS) to ours. */
static enum mpic_dns_status dns_map_ares_status(int status)
{
    switch (status) {
    case ARES_ESERVFAIL:
        return MPIC_DNS_SERVFAIL;
    case ARES_EREFUSED:
        return MPIC_DNS_REFUSED;
    case ARES_ETIMEOUT:
        return MPIC_DNS_TIMEOUT;
    case ARES_ECONNREFUSED:
        return MPIC_DNS_NO_SERVER;
    case ARES_EBADRESP:
    case ARES_EFORMERR:
    case ARES_ENOTIMP:
        return MPIC_DNS_BAD_RESPONSE;
    default:
        return MPIC_DNS_ERROR;
    }
}

/*
 * Two names in uncompressed wire form are the same name if their octets
 * are, ASCII letters compared case-insensitively (RFC 4343), which is what
 * ldns_dname_compare() == 0 means. Label lengths (at most 63) are never
 * letters, so comparing the whole wire form compares label by label.
 */
static bool dns_wire_name_equal(const uint8_t *a, size_t alen, const uint8_t *b,
                                size_t blen)
{
    size_t i;

    if (alen != blen)
        return false;
    for (i = 0; i < alen; i++) {
        uint8_t x = a[i];
        uint8_t y = b[i];

        if (x >= 'A' && x <= 'Z')
            x = (uint8_t)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z')
            y = (uint8_t)(y - 'A' + 'a');
        if (x != y)
            return false;
    }
    return true;
}

/* True if the response carries exactly our question (RFC 5452 9.1; the
 * ID was matched by c-ares). Names compare case-insensitively. */
static bool dns_same_question(const ldns_pkt *pkt,
                              const struct mpic_dns_query *q)
{
    const ldns_rr_list *qs = ldns_pkt_question(pkt);
    const ldns_rr *qr;
    const ldns_rdf *owner;

    if (!ldns_pkt_qr(pkt) || qs == NULL || ldns_rr_list_rr_count(qs) != 1)
        return false;
    qr = ldns_rr_list_rr(qs, 0);
    if (ldns_rr_get_type(qr) != q->type ||
        ldns_rr_get_class(qr) != LDNS_RR_CLASS_IN)
        return false;
    owner = ldns_rr_owner(qr);
    if (owner == NULL || ldns_rdf_get_type(owner) != LDNS_RDF_TYPE_DNAME)
        return false;
    return dns_wire_name_equal(ldns_rdf_data(owner), ldns_rdf_size(owner),
                               q->qname, q->qname_len);
}

/* Copies the question name (uncompressed, as we wrote it) out of a query
 * built by mpic_dns_wire_query. Returns -1 if it is not well-formed. */
static int dns_query_qname(const uint8_t *wire, size_t len, uint8_t *out,
                           size_t *out_len)
{
    size_t i = DNS_HEADER_LEN;

    while (i < len && wire[i] != 0) {
        if (wire[i] > 63)
            return -1;
        i += (size_t)wire[i] + 1;
    }
    if (i >= len || i + 1 - DNS_HEADER_LEN > DNS_NAME_MAX)
        return -1;
    *out_len = i + 1 - DNS_HEADER_LEN;
    memcpy(out, wire + DNS_HEADER_LEN, *out_len);
    return 0;
}

static void dns_handle_answer(struct mpic_dns_query *q,
                              const unsigned char *abuf, int alen)
{
    struct mpic_dns_result res = {
        .status = MPIC_DNS_ANSWER, .rcode = -1, .ad = false, .pkt = NULL};
    ldns_pkt *pkt = NULL;
    char *msg = NULL;
    int rcode;

    if (abuf == NULL || alen <= 0 ||
        ldns_wire2pkt(&pkt, abuf, (size_t)alen) != LDNS_STATUS_OK) {
        msg = xasprintf("unparsable response from resolver for %s", q->name);
        dns_fail(q, MPIC_DNS_BAD_RESPONSE, msg);
        goto out;
    }
    if (!dns_same_question(pkt, q)) {
        msg = xasprintf("response from resolver does not answer the "
                        "question for %s",
                        q->name);
        dns_fail(q, MPIC_DNS_BAD_RESPONSE, msg);
        goto out;
    }
    rcode = (int)ldns_pkt_get_rcode(pkt);
    res.rcode = rcode;
    res.ad = ldns_pkt_ad(pkt);
    res.pkt = pkt;
    if (rcode == LDNS_RCODE_NOERROR || rcode == LDNS_RCODE_NXDOMAIN) {
        if (ldns_pkt_tc(pkt)) {
            /*
             * c-ares retries truncated UDP answers over TCP; a TC answer
             * reaching us means that failed. A partial RRset must never
             * count as the whole one.
             */
            res.status = MPIC_DNS_BAD_RESPONSE;
            msg = xasprintf("truncated response from resolver for %s", q->name);
        }
    } else if (rcode == LDNS_RCODE_SERVFAIL) {
        res.status = MPIC_DNS_SERVFAIL;
        msg = xasprintf("SERVFAIL from resolver for %s", q->name);
    } else if (rcode == LDNS_RCODE_REFUSED) {
        res.status = MPIC_DNS_REFUSED;
        msg = xasprintf("REFUSED from resolver for %s", q->name);
    } else {
        res.status = MPIC_DNS_BAD_RESPONSE;
        msg = xasprintf("resolver answered RCODE %d for %s", rcode, q->name);
    }
    res.error = msg;
    dns_complete(q, &res);
out:
    free(msg);
    ldns_pkt_free(pkt);
}

static void on_ares_answer(void *arg, int status, int timeouts,
                           unsigned char *abuf, int alen)
{
    struct mpic_dns_query *q = arg;
    struct mpic_dns *dns = q->dns;
    char *msg = NULL;

    (void)timeouts;
    if (status == ARES_ETIMEOUT && q->cb != NULL && q->sends > 1) {
        /* A retransmission of it is still out: wait for that one. */
        goto out;
    }
    if (q->cb == NULL || status == ARES_EDESTRUCTION ||
        status == ARES_ECANCELLED) {
        /* Cancelled, or the channel is going away: the header promises
         * MPIC_DNS_ERROR to callers that did not cancel. */
        if (q->cb != NULL)
            dns_fail(q, MPIC_DNS_ERROR, "DNS client shut down");
        goto out;
    }
    if (status == ARES_SUCCESS) {
        dns_handle_answer(q, abuf, alen);
        goto out;
    }
    switch (status) {
    case ARES_ETIMEOUT:
        msg = xasprintf("timed out after %u tries looking up %s", dns->tries,
                        q->name);
        break;
    case ARES_ESERVFAIL:
        msg = xasprintf("SERVFAIL from resolver for %s", q->name);
        break;
    case ARES_EREFUSED:
        msg = xasprintf("REFUSED from resolver for %s", q->name);
        break;
    case ARES_ECONNREFUSED:
        msg = xasprintf("no resolver reachable for %s (connection refused)",
                        q->name);
        break;
    default:
        msg = xasprintf("DNS lookup of %s failed: %s", q->name,
                        ares_strerror(status));
        break;
    }
    dns_fail(q, dns_map_ares_status(status), msg);
out:
    free(msg);
    q->sends--;
    if (q->sends == 0 && !q->in_send)
        dns_query_free(q); /* else the ares_send caller frees it */
}

/* Joins the configured resolvers into c-ares' CSV form. */
static char *dns_servers_csv(const struct mpic_strv *resolvers)
{
    struct mpic_buf b;
    size_t i;

    mpic_buf_init(&b, 64 * 1024);
    for (i = 0; i < resolvers->n; i++) {
        if (i > 0)
            mpic_buf_append_str(&b, ",");
        mpic_buf_append_str(&b, resolvers->v[i]);
    }
    if (b.overflowed) {
        mpic_buf_cleanup(&b);
        return NULL;
    }
    return mpic_buf_take(&b, NULL);
}

struct mpic_dns *mpic_dns_new(struct ev_loop *loop,
                              const struct mpic_dns_settings *settings,
                              char **errmsg)
{
    struct mpic_dns *dns = NULL;
    struct ares_options opts;
    int optmask;
    int rc;
    char *csv = NULL;

    *errmsg = NULL;
    rc = ares_library_init(ARES_LIB_INIT_ALL);
    if (rc != ARES_SUCCESS) {
        *errmsg = xasprintf("c-ares init: %s", ares_strerror(rc));
        return NULL;
    }
    dns = xcalloc(1, sizeof(*dns));
    dns->loop = loop;
    dns->tries = settings->tries > 0 ? settings->tries : 3;
    dns->timeout_ms = settings->timeout_ms > 0 ? settings->timeout_ms : 2000;

    memset(&opts, 0, sizeof(opts));
    /*
     * NOCHECKRESP: c-ares 1.18 would swallow SERVFAIL/REFUSED answers, try
     * the next server and, once out of servers, report ARES_ECONNREFUSED
     * (seen against unbound). That status means "no resolver reachable",
     * which allow_lookup_failure may turn into a pass; a SERVFAIL (e.g. a
     * DNSSEC-bogus zone) must never become one. So every answer comes to
     * dns_handle_answer, which maps the RCODE and checks the question.
     */
    opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_EDNS |
                 ARES_FLAG_NOCHECKRESP;
    opts.timeout = (int)dns->timeout_ms;
    opts.tries = (int)dns->tries;
    opts.sock_state_cb = on_sock_state;
    opts.sock_state_cb_data = dns;
    opts.ednspsz = DNS_EDNS_BUFSIZE;
    opts.socket_receive_buffer_size = DNS_RCVBUF;
    optmask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
              ARES_OPT_SOCK_STATE_CB | ARES_OPT_EDNSPSZ | ARES_OPT_NOROTATE |
              ARES_OPT_SOCK_RCVBUF;
    rc = ares_init_options(&dns->ch, &opts, optmask);
    if (rc != ARES_SUCCESS) {
        *errmsg = xasprintf("c-ares channel: %s", ares_strerror(rc));
        goto fail;
    }
    dns->have_channel = true;

    if (settings->resolvers.n > 0) {
        csv = dns_servers_csv(&settings->resolvers);
        if (csv == NULL) {
            *errmsg = xstrdup("dns.resolvers: list too long");
            goto fail;
        }
        rc = ares_set_servers_ports_csv(dns->ch, csv);
        if (rc != ARES_SUCCESS) {
            *errmsg = xasprintf("dns.resolvers: cannot use \"%s\": %s", csv,
                                ares_strerror(rc));
            goto fail;
        }
    }
    free(csv);
    return dns;
fail:
    free(csv);
    mpic_dns_free(dns); /* also undoes ares_library_init */
    return NULL;
}

void mpic_dns_free(struct mpic_dns *dns)
{
    if (dns == NULL)
        return;
    dns->destroying = true; /* no timer re-arming from here on */
    ev_timer_stop(dns->loop, dns->timer);
    dns->timer = NULL;
    if (dns->have_channel) {
        /* Completes every outstanding query with ARES_EDESTRUCTION and
         * closes the sockets (sock_state_cb unwatches them). */
        ares_destroy(dns->ch);
    }
    free(dns);
    ares_library_cleanup();
}

/* The query as ldns writes it: any name ldns accepts, escapes included. */
static int dns_wire_query_ldns(const char *name, ldns_rr_type type, uint16_t id,
                               bool dnssec_ok, uint8_t *out, size_t cap,
                               size_t *len)
{
    ldns_rdf *qname = NULL;
    ldns_pkt *pkt = NULL;
    uint8_t *wire = NULL;
    size_t n = 0;
    int rc = -1;

    qname = ldns_dname_new_frm_str(name);
    if (qname == NULL)
        goto out;
    pkt = ldns_pkt_query_new(qname, type, LDNS_RR_CLASS_IN, LDNS_RD | LDNS_AD);
    if (pkt == NULL) {
        ldns_rdf_deep_free(qname);
        goto out;
    }
    qname = NULL; /* owned by pkt */
    ldns_pkt_set_id(pkt, id);
    ldns_pkt_set_edns_udp_size(pkt, DNS_EDNS_BUFSIZE);
    if (dnssec_ok)
        ldns_pkt_set_edns_do(pkt, true);
    if (ldns_pkt2wire(&wire, pkt, &n) != LDNS_STATUS_OK || n > cap)
        goto out;
    memcpy(out, wire, n);
    *len = n;
    rc = 0;
out:
    LDNS_FREE(wire);
    ldns_pkt_free(pkt);
    return rc;
}

/*
 * True if ares_create_query writes name exactly as ldns does. Not so for
 * escapes (c-ares 1.18 reads "\065" as "065", ldns as "A") and the empty
 * name (c-ares: the root; ldns: an error); those go to ldns. So do the
 * names c-ares refuses (".onion" by RFC 7686, empty or long labels, too
 * long a name), so that ldns decides about them as before. The unit tests
 * hold the two to the same bytes.
 */
static bool dns_plain_name(const char *name)
{
    return name[0] != '\0' && strchr(name, '\\') == NULL;
}

int mpic_dns_wire_query(const char *name, ldns_rr_type type, uint16_t id,
                        uint8_t *out, size_t cap, size_t *len)
{
    unsigned char *buf = NULL;
    int n = 0;
    int rc;

    *len = 0;
    if (name == NULL)
        return -1;
    if (!dns_plain_name(name))
        return dns_wire_query_ldns(name, type, id, false, out, cap, len);
    /* Same bytes as ldns at a fraction of the cost: no packet object, no
     * compression table. */
    rc = ares_create_query(name, LDNS_RR_CLASS_IN, (int)type, id, 1, &buf, &n,
                           DNS_EDNS_BUFSIZE);
    if (rc != ARES_SUCCESS || n < DNS_HEADER_LEN || (size_t)n > cap) {
        ares_free_string(buf);
        return dns_wire_query_ldns(name, type, id, false, out, cap, len);
    }
    memcpy(out, buf, (size_t)n);
    ares_free_string(buf);
    /* AD (RFC 6840 5.7): bit 0x20 of the second flags octet. */
    out[3] |= 0x20;
    *len = (size_t)n;
    return 0;
}

/*
 * A query ID from the CSPRNG (RFC 5452 9.2). c-ares 1.18 sends the ID found
 * in the buffer given to ares_send unchanged, so this is the only thing
 * that makes it unpredictable. IDs are drawn in batches: one RAND_bytes
 * call (and its fork check, a getpid) per DNS_ID_BATCH queries.
 */
static int dns_next_id(struct mpic_dns *dns, uint16_t *id)
{
    if (dns->ids_left == 0) {
        if (RAND_bytes((unsigned char *)dns->ids, sizeof(dns->ids)) != 1)
            return -1;
        dns->ids_left = DNS_ID_BATCH;
    }
    dns->ids_left--;
    *id = dns->ids[dns->ids_left];
    dns->ids[dns->ids_left] = 0; /* handed out: not kept around */
    return 0;
}

static unsigned dns_retransmit_ms(const struct mpic_dns *dns);

void mpic_dns_metrics(const struct mpic_dns *dns, struct mpic_buf *out)
{
    if (dns == NULL)
        return;
    mpic_buf_printf(out,
                    "# HELP mpic_dns_queries_total DNS queries sent to the "
                    "perspective's resolver (first transmissions).\n"
                    "# TYPE mpic_dns_queries_total counter\n"
                    "mpic_dns_queries_total %llu\n"
                    "# HELP mpic_dns_retransmits_total Queries sent again "
                    "after %u ms without an answer.\n"
                    "# TYPE mpic_dns_retransmits_total counter\n"
                    "mpic_dns_retransmits_total %llu\n",
                    (unsigned long long)dns->queries, dns_retransmit_ms(dns),
                    (unsigned long long)dns->retransmits);
}

static unsigned dns_retransmit_ms(const struct mpic_dns *dns)
{
    unsigned half = dns->timeout_ms / 2;

    return half < DNS_RETRANSMIT_MS ? (half > 0 ? half : 1)
                                    : DNS_RETRANSMIT_MS;
}

/*
 * No answer yet: send the question again under a new random ID; the first
 * answer to either completes the query (DNS_RETRANSMIT_MS).
 */
static void on_retransmit(struct ev_loop *loop, void *arg)
{
    struct mpic_dns_query *q = arg;
    struct mpic_dns *dns = q->dns;
    uint16_t id;

    (void)loop;
    q->retransmit = NULL;
    if (q->cb == NULL || dns_next_id(dns, &id) != 0)
        return;
    dns->retransmits++;
    q->wire[0] = (uint8_t)(id >> 8);
    q->wire[1] = (uint8_t)(id & 0xff);
    q->sends++;
    q->in_send = true;
    ares_send(dns->ch, q->wire, (int)q->wire_len, on_ares_answer, q);
    q->in_send = false;
    if (q->sends == 0) {
        dns_query_free(q);
        return;
    }
    dns_rearm_timer(dns);
}

/* Sends one query; dnssec_ok sets the EDNS0 DO bit (RFC 3225). */
static struct mpic_dns_query *dns_query_send(struct mpic_dns *dns,
                                             const char *name,
                                             ldns_rr_type type, bool dnssec_ok,
                                             mpic_dns_fn *cb, void *arg)
{
    struct mpic_dns_query *q;
    uint8_t wire[DNS_QUERY_MAX];
    size_t len = 0;
    uint16_t id = 0;
    char *msg = NULL;

    q = xcalloc(1, sizeof(*q));
    q->dns = dns;
    q->cb = cb;
    q->arg = arg;
    q->name = xstrdup(name);
    q->type = type;

    if (dns_next_id(dns, &id) != 0)
        msg = xasprintf("cannot draw a random DNS query ID for \"%s\"", name);
    else if ((dnssec_ok ? dns_wire_query_ldns(name, type, id, true, wire,
                                              sizeof(wire), &len)
                        : mpic_dns_wire_query(name, type, id, wire,
                                              sizeof(wire), &len)) != 0 ||
             dns_query_qname(wire, len, q->qname, &q->qname_len) != 0)
        msg = xasprintf("cannot build a DNS query for \"%s\"", name);
    if (msg != NULL) {
        dns_fail(q, MPIC_DNS_ERROR, msg);
        free(msg);
        dns_query_free(q);
        return NULL;
    }
    memcpy(q->wire, wire, len);
    q->wire_len = len;
    dns->queries++;
    q->sends = 1;
    q->in_send = true;
    ares_send(dns->ch, wire, (int)len, on_ares_answer, q);
    q->in_send = false;
    if (q->sends == 0) {
        dns_query_free(q);
        return NULL;
    }
    q->deadline =
        ev_timer_start(dns->loop, (uint64_t)dns->timeout_ms * dns->tries,
                       on_query_deadline, q);
    if (dns->tries >= 2 && q->cb != NULL)
        q->retransmit = ev_timer_start(dns->loop, dns_retransmit_ms(dns),
                                       on_retransmit, q);
    dns_rearm_timer(dns);
    return q;
}

struct mpic_dns_query *mpic_dns_query(struct mpic_dns *dns, const char *name,
                                      ldns_rr_type type, mpic_dns_fn *cb,
                                      void *arg)
{
    return dns_query_send(dns, name, type, false, cb, arg);
}

struct mpic_dns_query *mpic_dns_query_dnssec(struct mpic_dns *dns,
                                             const char *name,
                                             ldns_rr_type type, mpic_dns_fn *cb,
                                             void *arg)
{
    return dns_query_send(dns, name, type, true, cb, arg);
}

void mpic_dns_cancel(struct mpic_dns_query *q)
{
    if (q == NULL)
        return;
    q->cb = NULL;
    ev_timer_stop(q->dns->loop, q->retransmit);
    q->retransmit = NULL;
}

/* The records of `type` and class IN owned by `owner` in the answer
 * section, in the order received (cloned; NULL if none). */
static ldns_rr_list *dns_rrs_at(const ldns_rr_list *ans, const ldns_rdf *owner,
                                ldns_rr_type type)
{
    ldns_rr_list *out = NULL;
    size_t i;

    for (i = 0; i < ldns_rr_list_rr_count(ans); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(ans, i);
        ldns_rr *copy;

        if (ldns_rr_get_type(rr) != type ||
            ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN ||
            ldns_dname_compare(ldns_rr_owner(rr), owner) != 0)
            continue;
        copy = ldns_rr_clone(rr);
        if (copy == NULL)
            fatalx("%s: out of memory", __func__);
        if (out == NULL) {
            out = ldns_rr_list_new();
            if (out == NULL)
                fatalx("%s: out of memory", __func__);
        }
        if (!ldns_rr_list_push_rr(out, copy))
            fatalx("%s: out of memory", __func__);
    }
    return out;
}

/* The target of the first CNAME (class IN) owned by `owner`, borrowed. */
static const ldns_rdf *dns_cname_at(const ldns_rr_list *ans,
                                    const ldns_rdf *owner)
{
    size_t i;

    for (i = 0; i < ldns_rr_list_rr_count(ans); i++) {
        const ldns_rr *rr = ldns_rr_list_rr(ans, i);

        if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME &&
            ldns_rr_get_class(rr) == LDNS_RR_CLASS_IN &&
            ldns_rr_rd_count(rr) == 1 &&
            ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) == LDNS_RDF_TYPE_DNAME &&
            ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
            return ldns_rr_rdf(rr, 0);
    }
    return NULL;
}

/*
 * The CNAME walk behind mpic_dns_answer_rrs and mpic_dns_answer_rrs_checked.
 * *fault gets 0, or DNS_CHAIN_LOOP / DNS_CHAIN_TOO_LONG when the chain in
 * the answer loops or goes on past DNS_MAX_CNAME_HOPS (the records are then
 * unknown, and NULL is returned).
 */
#define DNS_CHAIN_LOOP     1
#define DNS_CHAIN_TOO_LONG 2

static ldns_rr_list *dns_answer_walk(const ldns_pkt *pkt, const char *qname,
                                     ldns_rr_type type,
                                     struct mpic_strv *cname_chain, int *fault)
{
    const ldns_rr_list *ans;
    const ldns_rdf *seen[DNS_MAX_CNAME_HOPS + 1];
    ldns_rdf *start = NULL;
    const ldns_rdf *cur;
    ldns_rr_list *out = NULL;
    size_t hops = 0;
    size_t i;

    *fault = 0;
    if (pkt == NULL || qname == NULL)
        return NULL;
    ans = ldns_pkt_answer(pkt);
    start = ldns_dname_new_frm_str(qname);
    if (start == NULL || ans == NULL)
        goto out;
    cur = start;
    for (;;) {
        const ldns_rdf *target;
        char *s;

        out = dns_rrs_at(ans, cur, type);
        if (out != NULL || type == LDNS_RR_TYPE_CNAME)
            break;
        target = dns_cname_at(ans, cur);
        if (target == NULL)
            break;
        if (hops == DNS_MAX_CNAME_HOPS) {
            *fault = DNS_CHAIN_TOO_LONG;
            break;
        }
        seen[hops++] = cur;
        for (i = 0; i < hops; i++) {
            if (ldns_dname_compare(seen[i], target) == 0) {
                *fault = DNS_CHAIN_LOOP;
                goto out;
            }
        }
        if (cname_chain != NULL) {
            s = ldns_rdf2str(target);
            if (s == NULL)
                fatalx("%s: out of memory", __func__);
            mpic_strv_push(cname_chain, s);
            LDNS_FREE(s);
        }
        cur = target;
    }
out:
    ldns_rdf_deep_free(start);
    return out;
}

ldns_rr_list *mpic_dns_answer_rrs(const ldns_pkt *pkt, const char *qname,
                                  ldns_rr_type type,
                                  struct mpic_strv *cname_chain)
{
    int fault;

    return dns_answer_walk(pkt, qname, type, cname_chain, &fault);
}

int mpic_dns_answer_rrs_checked(const ldns_pkt *pkt, const char *qname,
                                ldns_rr_type type,
                                struct mpic_strv *cname_chain,
                                ldns_rr_list **out, char **why)
{
    int fault;
    ldns_rr_list *l = dns_answer_walk(pkt, qname, type, cname_chain, &fault);

    if (fault == DNS_CHAIN_LOOP) {
        *why = xasprintf("CNAME loop in the answer for %s", qname);
        return -1;
    }
    if (fault == DNS_CHAIN_TOO_LONG) {
        *why = xasprintf("CNAME chain for %s longer than %d hops", qname,
                         DNS_MAX_CNAME_HOPS);
        return -1;
    }
    *out = l;
    return 0;
}

/*
 * Appends bytes as the inside of an RFC 1035 <character-string> in
 * presentation form: '"' and '\' escaped with a backslash, bytes outside
 * printable ASCII as \DDD.
 */
static void dns_append_escaped(struct mpic_buf *b, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        uint8_t c = p[i];

        if (c == '"' || c == '\\')
            mpic_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            mpic_buf_printf(b, "\\%03u", (unsigned)c);
        else
            mpic_buf_append(b, &c, 1);
    }
}

/* CAA rdata (RFC 8659 4.1) as ldns 1.8 parses it: flags (INT8), tag (TAG:
 * a length byte then the tag), value (LONG_STR: the remaining bytes; the
 * field is absent when the value is empty). */
static char *dns_caa_to_str(const ldns_rr *rr)
{
    struct mpic_buf b;
    const ldns_rdf *flags;
    const ldns_rdf *tag;
    const ldns_rdf *val = NULL;
    const uint8_t *td;
    size_t tn;

    if (ldns_rr_rd_count(rr) < 2 || ldns_rr_rd_count(rr) > 3)
        return NULL;
    flags = ldns_rr_rdf(rr, 0);
    tag = ldns_rr_rdf(rr, 1);
    if (ldns_rr_rd_count(rr) == 3)
        val = ldns_rr_rdf(rr, 2);
    if (ldns_rdf_size(flags) != 1 || ldns_rdf_size(tag) < 1)
        return NULL;
    td = ldns_rdf_data(tag);
    tn = td[0];
    if (tn + 1 != ldns_rdf_size(tag))
        return NULL;
    mpic_buf_init(&b, 256 * 1024);
    mpic_buf_printf(&b, "%u ", (unsigned)ldns_rdf2native_int8(flags));
    dns_append_escaped(&b, td + 1, tn);
    mpic_buf_append_str(&b, " \"");
    if (val != NULL)
        dns_append_escaped(&b, ldns_rdf_data(val), ldns_rdf_size(val));
    mpic_buf_append_str(&b, "\"");
    if (b.overflowed) {
        mpic_buf_cleanup(&b);
        return NULL;
    }
    return mpic_buf_take(&b, NULL);
}

char *mpic_dns_rr_to_str(const ldns_rr *rr)
{
    struct mpic_buf b;
    size_t i;

    if (rr == NULL)
        return NULL;
    if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CAA)
        return dns_caa_to_str(rr);
    /* Other types: ldns' presentation of each rdata field. */
    mpic_buf_init(&b, 256 * 1024);
    for (i = 0; i < ldns_rr_rd_count(rr); i++) {
        char *s = ldns_rdf2str(ldns_rr_rdf(rr, i));

        if (s == NULL) {
            mpic_buf_cleanup(&b);
            return NULL;
        }
        if (i > 0)
            mpic_buf_append_str(&b, " ");
        mpic_buf_append_str(&b, s);
        LDNS_FREE(s);
    }
    if (b.overflowed) {
        mpic_buf_cleanup(&b);
        return NULL;
    }
    if (b.data == NULL)
        return xstrdup("");
    return mpic_buf_take(&b, NULL);
}

char *mpic_dns_txt_joined(const ldns_rr *rr, size_t *len)
{
    struct mpic_buf b;
    size_t i;
    size_t n = 0;
    char *out;

    mpic_buf_init(&b, 256 * 1024);
    for (i = 0; rr != NULL && i < ldns_rr_rd_count(rr); i++) {
        const ldns_rdf *f = ldns_rr_rdf(rr, i);
        const uint8_t *d = ldns_rdf_data(f);
        size_t sz = ldns_rdf_size(f);

        /* Each TXT field is one <character-string>: length, then bytes. */
        if (ldns_rdf_get_type(f) != LDNS_RDF_TYPE_STR || sz < 1 ||
            (size_t)d[0] + 1 != sz)
            continue;
        mpic_buf_append(&b, d + 1, d[0]);
    }
    if (b.overflowed) {
        mpic_buf_cleanup(&b);
        return NULL;
    }
    if (b.data == NULL)
        out = xstrdup("");
    else
        out = mpic_buf_take(&b, &n);
    if (len != NULL)
        *len = n;
    return out;
}
