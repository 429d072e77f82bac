/*
 * mpic-coordinator internals: the daemon state, the POST /mpic handler with
 * its response and audit record (api_mpic.c), the fan-out of one attempt to
 * its cohort (fanout.c), the time limits (deadline.c), the choice of a
 * checker's replica (replica.c) and the warm connections to the checkers
 * (warm.c).
 */
#ifndef MPIC_COORDINATOR_H
#define MPIC_COORDINATOR_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/model.h"
#include "common/trace.h"

struct ev_loop;
struct ev_curl;
struct http_server;
struct http_request;

#define COORD_ERR_REMOTE_CHECK "mpic_error:coordinator:remote_check"
#define COORD_ERR_NOT_AWAITED  "mpic_error:coordinator:not_awaited"

/* Largest checker answer we read; more is a remote_check error. */
#define COORD_MAX_CHECK_RESPONSE (1024 * 1024)
/* Easy handles kept for reuse. */
#define COORD_EASY_POOL 256
/* Connections the keep-alive pings hold open to one idle checker at most:
 * as many as calls were running at once lately (warm.c). */
#define COORD_WARM_MAX 8
/* Keep-alive connections the coordinator holds to one checker at most. */
#define COORD_CONNS_PER_CHECKER 64

struct coord_metrics {
    uint64_t mpic_valid[2]; /* by check type */
    uint64_t mpic_invalid[2];
    uint64_t mpic_error;     /* 500s: cohort failures */
    uint64_t mpic_cancelled; /* torn down unanswered (deadline, shutdown) */
    uint64_t remote_ok;
    uint64_t remote_failed;
    uint64_t remote_not_awaited; /* cut off as stragglers */
};

/* Connections to one checker, for /metrics (warm.c). */
struct coord_conn_stats {
    uint64_t new_conns;   /* TCP connections opened (calls and pings) */
    uint64_t tls_full;    /* of those, full TLS handshakes */
    uint64_t tls_resumed; /* and resumed TLS sessions */
    uint64_t pings_ok;
    uint64_t pings_failed;
    uint64_t failovers; /* calls moved on to another replica */
};

/*
 * One replica of a perspective's checker (docs/failover.md): its keep-alive
 * ping (warm.c) and whether it is held out of the rotation (replica.c).
 */
struct coord_replica {
    const char *url;       /* borrowed from the configuration */
    char *ping_url;        /* the replica's /healthz (curl_free) */
    /* Keep-alive pings in flight, one per connection kept warm (warm.c). */
    CURL *ping[COORD_WARM_MAX];
    void *ping_ctx[COORD_WARM_MAX]; /* owned while ping[i] is set */
    size_t n_pings;
    size_t peak;           /* most calls at once lately (COORD_WARM_WINDOW_MS) */
    uint64_t peak_ms;      /* when peak was last reached */
    uint64_t last_used_ms; /* a call or ping to it last finished */
    size_t running;        /* calls to it in libcurl */
    uint64_t down_until_ms; /* failed: picked last until then; 0: up */
    uint64_t calls_ok;     /* calls it answered with a check response */
    uint64_t calls_failed; /* calls that failed without one */
};

/*
 * One checker (a perspective's CAA or DCV URL, with its replicas): its
 * calls running in libcurl and those waiting for a connection (fanout.c),
 * and its keep-alive pings (warm.c).
 */
struct coord_queue {
    size_t running;
    TAILQ_HEAD(, coord_call) waiting; /* calls queued, in start order */
    bool https;
    struct coord_replica *reps; /* the perspective's replicas, in order */
    size_t n_reps;              /* 0: no checker of this type */
    size_t next_rep;            /* round robin over the replicas */
    uint64_t last_used_ms;      /* a call or ping to it last finished */
    struct coord_conn_stats stats;
};

struct coord {
    const struct mpic_coordinator_config *cfg; /* borrowed */
    struct ev_loop *loop;
    struct ev_curl *curl;
    struct http_server *srv;
    uint64_t deadline_ms; /* the HTTP layer's per-request deadline; 0: none */
    CURL *pool[COORD_EASY_POOL];
    size_t n_pool;
    struct curl_slist **hdrs;   /* per perspective, built on first call */
    struct coord_queue *queues; /* [perspective * 2 + (type == DCV)] */
    CURLSH *share;              /* TLS sessions shared by every handle */
    struct ev_timer *ping_timer;
    bool pump_pending;          /* a queue may start calls */
    bool pump_hooked;           /* the before-poll hook is registered */
    struct coord_metrics metrics;
};

/*
 * deadline.c: the time limits, all from remote_timeout_ms. The HTTP
 * layer's deadline for one POST /mpic gives every attempt the whole remote
 * timeout, plus COORD_GRACE_SLACK_MS; an attempt keeps
 * COORD_DEADLINE_MARGIN_MS of that deadline free, so a perspective that
 * does not answer becomes its error and the caller still gets a 200.
 */
/* Slack of the request deadline beyond the attempts; the deadline is also
 * how long in-flight requests may take to finish after SIGTERM. */
#define COORD_GRACE_SLACK_MS 2000
/* What an attempt keeps free of the request deadline. */
#define COORD_DEADLINE_MARGIN_MS 1000
/* How long after the per-call timeout the attempt timer fires: libcurl's
 * own timeout normally ends the call first, with its own message. */
#define COORD_ATTEMPT_SLACK_MS 250
/* The HTTP layer's deadline for one POST /mpic (struct coord's deadline_ms). */
uint64_t coord_request_deadline_ms(const struct mpic_coordinator_config *cfg);
/*
 * How long the next attempt of a request that started at start_ms may take
 * at now: remote_timeout_ms, or less if the request deadline (c->deadline_ms
 * after start_ms, minus the margin) is nearer; 0: no time left.
 */
uint64_t coord_attempt_budget_ms(const struct coord *c, uint64_t start_ms,
                                 uint64_t now);
/*
 * A call's whole time limit: its timeout_ms (the attempt's budget) or, when
 * that is 0, remote_timeout_ms; at least 1, since 0 means "no timeout" to
 * libcurl.
 */
uint64_t coord_call_limit_ms(const struct coord *c, uint64_t timeout_ms);

/* api_mpic.c: the POST /mpic route handler. */
void coord_on_mpic(struct http_request *req, void *arg);

struct coord_call;
/* fanout.c's report that a call has finished (call->check_response is set);
 * arg is what its owner gave coord_fanout_start(). */
typedef void coord_call_done_fn(struct coord_call *call, void *arg);

/* One perspective's call of an attempt. */
struct coord_call {
    struct coord *c;
    coord_call_done_fn *on_done; /* the owner's completion, and its arg */
    void *on_done_arg;
    size_t idx; /* perspective index in cfg->perspectives */
    enum mpic_check_type type;
    const char *method;   /* DCV method wire name (static), or NULL */
    uint64_t timeout_ms;  /* its attempt's budget; 0: remote_timeout_ms */
    const char *req_body; /* the check request (the request owns it) */
    size_t req_body_len;
    bool queued; /* waiting for a connection (fanout.c) */
    unsigned char rep;      /* the replica called (last) */
    unsigned char n_tried;  /* replicas called so far */
    unsigned tried;         /* bit k: replica k was called */
    char *failed_over;      /* why earlier replicas gave no answer, or NULL */
    TAILQ_ENTRY(coord_call) qlink; /* in its queue's waiting, if queued */
    CURL *easy; /* NULL once finished */
    signed char tls; /* -1 unknown/plain, 0 full handshake, 1 resumed */
    struct mpic_buf body;
    char errbuf[CURL_ERROR_SIZE];
    /* Over: answered, failed or cut off; check_response is set and nothing
     * of the call runs in libcurl or waits in its queue. */
    bool finished;
    uint64_t started_ms;
    uint64_t elapsed_ms;
    json_t *check_response; /* the CHECK_RESPONSE (owned), once finished */
    /* The check response's check_passed and check_completed; false for a
     * call that gave none (remote_check or not_awaited error). */
    bool check_passed;
    bool check_completed;
    /* Tracing (docs/tracing.md): this call's span, and its traceparent
     * header sent in front of the perspective's shared header list. */
    uint8_t span_id[MPIC_SPAN_ID_LEN];
    int64_t span_start_ns;
    bool span_done;
    char tp_line[sizeof("traceparent: ") + MPIC_TRACEPARENT_LEN];
    struct curl_slist tp_node;
};

/* fanout.c */
/*
 * Starts calls[0..n) (each with idx set) posting body (borrowed; must
 * outlive the calls) to the checker URL of the check type. on_done(call,
 * arg) runs once for each call not yet finished when this returns, later,
 * from the loop, never inside this call; a call finished on return failed
 * at setup (its check_response says why).
 */
void coord_fanout_start(struct coord *c, struct coord_call *calls, size_t n,
                        enum mpic_check_type type, const char *method,
                        const char *body, size_t body_len,
                        coord_call_done_fn *on_done, void *arg);
/* Stops an unfinished call without its completion. */
void coord_fanout_cancel(struct coord *c, struct coord_call *call);
/* Frees what a finished or cancelled call still holds. */
void coord_call_cleanup(struct coord *c, struct coord_call *call);

/*
 * A CHECK_RESPONSE for a failed remote call (new reference): passed and
 * completed false, one mpic_error:coordinator:remote_check error. method is
 * the DCV validation method name (NULL for CAA).
 */
json_t *coord_remote_error(enum mpic_check_type type, const char *method,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/*
 * The same for a call the coordinator stopped waiting for once its
 * attempt's outcome was decided (straggler_timeout_ms): error type
 * mpic_error:coordinator:not_awaited.
 */
json_t *coord_not_awaited_error(enum mpic_check_type type, const char *method,
                                const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The per-perspective request headers (built once); NULL on OOM. */
struct curl_slist *coord_perspective_headers(struct coord *c, size_t i);
/* Options every handle to a checker has (TLS, shared sessions, sockets). */
int coord_easy_setup_tls(const struct coord *c, CURL *easy);

/* warm.c */
/* The queues, made on first use; queue qi's checker URL (or NULL). */
struct coord_queue *coord_queues(struct coord *c);
const char *coord_queue_url(const struct coord *c, size_t qi);
/* Notes in *tls whether the transfer's TLS session was resumed (once it
 * is known: call from a write callback). */
void coord_conn_note_tls(CURL *easy, signed char *tls);
/* Counts a finished transfer's new connection and handshake in q. */
void coord_conn_count(struct coord_queue *q, CURL *easy, signed char tls);
/* Shared TLS sessions and keep-alive pings; 0 or -1 (logged). */
int coord_warm_start(struct coord *c);
/* After ev_curl_free() and coord_fanout_cleanup(); frees the queues. */
void coord_warm_cleanup(struct coord *c);

/* replica.c: which replica of q a call goes to, and what a failed call
 * means for it (docs/failover.md). */
/* The replica for a call that has called those in the bit set tried, or -1
 * when every replica has been called. */
int coord_replica_pick(struct coord_queue *q, unsigned tried, uint64_t now);
/* A call or ping to replica k failed (held out) or succeeded (back in). */
void coord_replica_failed(struct coord_queue *q, size_t k, uint64_t now);
void coord_replica_ok(struct coord_queue *q, size_t k);
/* Whether a call that ended with rc and HTTP status, whose answer was no
 * check response (parsed false) and whose request was sent or not, may
 * move on to another replica (and holds this one out). */
bool coord_replica_should_fail_over(CURLcode rc, long status, bool parsed,
                                    bool sent);

/* Easy-handle pool. */
CURL *coord_easy_get(struct coord *c);
void coord_easy_put(struct coord *c, CURL *easy);
/* Frees the pool and the per-perspective header lists. */
void coord_fanout_cleanup(struct coord *c);

#endif
