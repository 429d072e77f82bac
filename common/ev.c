/*
 * The event loop: one epoll instance, a table of fd watches indexed by fd,
 * one-shot timers in a binary min-heap ordered by (deadline, sequence),
 * before-poll hooks, and signals read from one signalfd. It does not own the
 * fds it watches and never closes them (except its own signalfd and epoll
 * fd). See docs/event-loop.md for how the libraries hang off it.
 */
#include "common/ev.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mem.h"

#define EV_MAX_EVENTS 64
#define EV_NSIG       65 /* signals 1..64 */
#define HEAP_NONE     SIZE_MAX

struct ev_watch {
    ev_io_fn *fn;
    void *arg;
    unsigned events;
    uint32_t gen;   /* bumped on every new registration of this fd */
    uint32_t kmask; /* epoll events last registered in the kernel; 0: none */
    bool active;
};

struct ev_timer {
    uint64_t deadline;
    uint64_t seq; /* FIFO order among equal deadlines */
    ev_timer_fn *fn;
    void *arg;
    size_t heap_idx; /* HEAP_NONE once out of the heap */
    bool running;    /* its callback is executing */
};

struct ev_hook {
    ev_timer_fn *fn;
    void *arg;
    bool removed;
};

struct ev_sig {
    ev_signal_fn *fn;
    void *arg;
};

struct ev_loop {
    int epfd;
    struct ev_watch *watches; /* indexed by fd */
    size_t nwatches;

    struct ev_timer **heap;
    size_t nheap;
    size_t capheap;
    uint64_t next_seq;

    struct ev_hook *hooks;
    size_t nhooks;
    size_t caphooks;
    bool hooks_dirty;

    int sigfd;
    sigset_t sigmask;
    struct ev_sig sigs[EV_NSIG];

    bool stop;
};

uint64_t ev_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct ev_loop *ev_loop_new(void)
{
    struct ev_loop *loop;
    int epfd;

    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0)
        return NULL;
    loop = xcalloc(1, sizeof(*loop));
    loop->epfd = epfd;
    loop->sigfd = -1;
    sigemptyset(&loop->sigmask);
    return loop;
}

void ev_loop_free(struct ev_loop *loop)
{
    size_t i;

    if (loop == NULL)
        return;
    for (i = 0; i < loop->nheap; i++)
        free(loop->heap[i]);
    free(loop->heap);
    free(loop->watches);
    free(loop->hooks);
    /* The signals stay blocked: unblocking one that is pending would run
     * its default action (termination) right here. */
    if (loop->sigfd >= 0)
        close(loop->sigfd);
    close(loop->epfd);
    free(loop);
}

/* ---- fd watches ---- */

static uint32_t to_epoll(unsigned events)
{
    uint32_t e = 0;

    if (events & EV_READ)
        e |= EPOLLIN | EPOLLRDHUP;
    if (events & EV_WRITE)
        e |= EPOLLOUT;
    return e;
}

static void watches_grow(struct ev_loop *loop, int fd)
{
    size_t n = loop->nwatches;
    size_t want = (size_t)fd + 1;

    if (want <= n)
        return;
    if (want < 2 * n)
        want = 2 * n;
    if (want < 64)
        want = 64;
    loop->watches = xreallocarray(loop->watches, want, sizeof(*loop->watches));
    memset(loop->watches + n, 0, (want - n) * sizeof(*loop->watches));
    loop->nwatches = want;
}

/* Drops a registration from the kernel for good. */
static int watch_forget(struct ev_loop *loop, int fd)
{
    struct ev_watch *w = &loop->watches[fd];

    if (w->kmask == 0)
        return 0;
    w->kmask = 0;
    /* The fd may already be closed (the kernel then dropped it from the
     * epoll set by itself); that is not an error for the caller. */
    if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 && errno != EBADF &&
        errno != ENOENT)
        return -1;
    return 0;
}

/*
 * Unwatching a read-only watch leaves the kernel registration in place
 * (lazy removal): libcurl unwatches a connection each time it goes back to
 * its cache and watches it again when it is reused, and this saves one
 * epoll_ctl each way. If the fd is closed, the kernel drops it by itself;
 * if it becomes readable while unwatched, io_dispatch removes it then, once.
 * A write watch is removed at once (an idle socket is always writable).
 */
static int watch_remove(struct ev_loop *loop, int fd)
{
    struct ev_watch *w;

    if ((size_t)fd >= loop->nwatches)
        return 0;
    w = &loop->watches[fd];
    w->active = false;
    w->fn = NULL;
    w->arg = NULL;
    w->events = 0;
    if (w->kmask & EPOLLOUT)
        return watch_forget(loop, fd);
    return 0;
}

int ev_io_watch(struct ev_loop *loop, int fd, unsigned events, ev_io_fn *fn,
                void *arg)
{
    struct epoll_event ee;
    struct ev_watch *w;
    uint32_t mask;
    int rc;

    if (fd < 0) {
        errno = EBADF;
        return -1;
    }
    if (events == 0)
        return watch_remove(loop, fd);
    watches_grow(loop, fd);
    w = &loop->watches[fd];
    mask = to_epoll(events);
    /* The same watch again: nothing changes in the kernel. */
    if (w->active && w->fn == fn && w->arg == arg && w->kmask == mask) {
        w->events = events;
        return 0;
    }
    if (!w->active || w->fn != fn || w->arg != arg)
        w->gen++;

    memset(&ee, 0, sizeof(ee));
    ee.events = mask;
    ee.data.u64 = ((uint64_t)w->gen << 32) | (uint32_t)fd;
    if (w->kmask != 0) {
        /* Registered (maybe lazily, after an unwatch). If the old file was
         * closed and this is a new one with the same number, the kernel
         * has forgotten it: register it afresh. */
        rc = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ee);
        if (rc < 0 && errno == ENOENT)
            rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee);
    } else {
        rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ee);
        if (rc < 0 && errno == EEXIST)
            rc = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, fd, &ee);
    }
    if (rc < 0) {
        w->active = false;
        w->fn = NULL;
        w->arg = NULL;
        w->events = 0;
        w->kmask = 0;
        return -1;
    }
    w->active = true;
    w->fn = fn;
    w->arg = arg;
    w->events = events;
    w->kmask = mask;
    return 0;
}

/* ---- timers: binary min-heap ---- */

static bool timer_before(const struct ev_timer *a, const struct ev_timer *b)
{
    if (a->deadline != b->deadline)
        return a->deadline < b->deadline;
    return a->seq < b->seq;
}

static void heap_set(struct ev_loop *loop, size_t i, struct ev_timer *t)
{
    loop->heap[i] = t;
    t->heap_idx = i;
}

static void heap_up(struct ev_loop *loop, size_t i)
{
    struct ev_timer *t = loop->heap[i];

    while (i > 0) {
        size_t parent = (i - 1) / 2;

        if (!timer_before(t, loop->heap[parent]))
            break;
        heap_set(loop, i, loop->heap[parent]);
        i = parent;
    }
    heap_set(loop, i, t);
}

static void heap_down(struct ev_loop *loop, size_t i)
{
    struct ev_timer *t = loop->heap[i];

    for (;;) {
        size_t l = 2 * i + 1;
        size_t r = l + 1;
        size_t m = l;

        if (l >= loop->nheap)
            break;
        if (r < loop->nheap && timer_before(loop->heap[r], loop->heap[l]))
            m = r;
        if (!timer_before(loop->heap[m], t))
            break;
        heap_set(loop, i, loop->heap[m]);
        i = m;
    }
    heap_set(loop, i, t);
}

static void heap_remove(struct ev_loop *loop, struct ev_timer *t)
{
    size_t i = t->heap_idx;
    struct ev_timer *last;

    MPIC_ASSERT(i < loop->nheap && loop->heap[i] == t);
    last = loop->heap[--loop->nheap];
    t->heap_idx = HEAP_NONE;
    if (last == t)
        return;
    heap_set(loop, i, last);
    if (i > 0 && timer_before(last, loop->heap[(i - 1) / 2]))
        heap_up(loop, i);
    else
        heap_down(loop, i);
}

struct ev_timer *ev_timer_start(struct ev_loop *loop, uint64_t ms,
                                ev_timer_fn *fn, void *arg)
{
    struct ev_timer *t;
    uint64_t now = ev_now_ms();

    t = xcalloc(1, sizeof(*t));
    t->deadline = ms > UINT64_MAX - now ? UINT64_MAX : now + ms;
    t->seq = loop->next_seq++;
    t->fn = fn;
    t->arg = arg;
    if (loop->nheap == loop->capheap) {
        loop->capheap = loop->capheap ? 2 * loop->capheap : 16;
        loop->heap =
            xreallocarray(loop->heap, loop->capheap, sizeof(*loop->heap));
    }
    loop->heap[loop->nheap] = t;
    t->heap_idx = loop->nheap++;
    heap_up(loop, t->heap_idx);
    return t;
}

void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t)
{
    if (t == NULL)
        return;
    /* Stopping a timer from inside its own callback is harmless: it is
     * already out of the heap and is freed when the callback returns. */
    if (t->running)
        return;
    heap_remove(loop, t);
    free(t);
}

/*
 * Fires the timers that are due. Timers started while we are at it (a 0 ms
 * re-arm, say) wait for the next iteration, so a callback that re-arms
 * itself cannot starve the fds.
 */
static void timers_run(struct ev_loop *loop)
{
    uint64_t now = ev_now_ms();
    uint64_t seq_limit = loop->next_seq;

    while (loop->nheap > 0 && !loop->stop) {
        struct ev_timer *t = loop->heap[0];

        if (t->deadline > now || t->seq >= seq_limit)
            break;
        heap_remove(loop, t);
        t->running = true;
        t->fn(loop, t->arg);
        free(t);
    }
}

static int timers_timeout(const struct ev_loop *loop)
{
    uint64_t now, d;

    if (loop->nheap == 0)
        return -1;
    now = ev_now_ms();
    d = loop->heap[0]->deadline;
    if (d <= now)
        return 0;
    if (d - now > INT_MAX)
        return INT_MAX;
    return (int)(d - now);
}

/* ---- before-poll hooks ---- */

void ev_before_poll(struct ev_loop *loop, ev_timer_fn *fn, void *arg)
{
    if (loop->nhooks == loop->caphooks) {
        loop->caphooks = loop->caphooks ? 2 * loop->caphooks : 4;
        loop->hooks =
            xreallocarray(loop->hooks, loop->caphooks, sizeof(*loop->hooks));
    }
    loop->hooks[loop->nhooks].fn = fn;
    loop->hooks[loop->nhooks].arg = arg;
    loop->hooks[loop->nhooks].removed = false;
    loop->nhooks++;
}

void ev_before_poll_remove(struct ev_loop *loop, ev_timer_fn *fn, void *arg)
{
    size_t i;

    if (loop == NULL)
        return;
    for (i = 0; i < loop->nhooks; i++) {
        if (loop->hooks[i].fn == fn && loop->hooks[i].arg == arg &&
            !loop->hooks[i].removed) {
            /* Compacted after the hooks ran; we may be inside one. */
            loop->hooks[i].removed = true;
            loop->hooks_dirty = true;
            return;
        }
    }
}

static void hooks_run(struct ev_loop *loop)
{
    size_t i, j;

    /* A hook may register another one (realloc): index, never pointer. */
    for (i = 0; i < loop->nhooks; i++) {
        if (!loop->hooks[i].removed)
            loop->hooks[i].fn(loop, loop->hooks[i].arg);
    }
    if (!loop->hooks_dirty)
        return;
    for (i = 0, j = 0; i < loop->nhooks; i++) {
        if (!loop->hooks[i].removed)
            loop->hooks[j++] = loop->hooks[i];
    }
    loop->nhooks = j;
    loop->hooks_dirty = false;
}

/* ---- signals ---- */

static void on_signalfd(struct ev_loop *loop, int fd, unsigned events,
                        void *arg)
{
    struct signalfd_siginfo si;

    (void)events;
    (void)arg;
    for (;;) {
        ssize_t n = read(fd, &si, sizeof(si));
        int signo;

        if (n != (ssize_t)sizeof(si))
            break;
        signo = (int)si.ssi_signo;
        if (signo > 0 && signo < EV_NSIG && loop->sigs[signo].fn != NULL)
            loop->sigs[signo].fn(loop, signo, loop->sigs[signo].arg);
        /* The callback may have freed nothing of ours, but it may have
         * stopped the loop; the remaining signals wait for the next run. */
        if (loop->stop)
            break;
    }
}

int ev_signal_watch(struct ev_loop *loop, int signo, ev_signal_fn *fn,
                    void *arg)
{
    sigset_t one;
    int fd;

    if (signo <= 0 || signo >= EV_NSIG) {
        errno = EINVAL;
        return -1;
    }
    sigemptyset(&one);
    sigaddset(&one, signo);
    if (sigprocmask(SIG_BLOCK, &one, NULL) < 0)
        return -1;
    sigaddset(&loop->sigmask, signo);
    fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -1;
    if (loop->sigfd < 0) {
        loop->sigfd = fd;
        if (ev_io_watch(loop, fd, EV_READ, on_signalfd, NULL) < 0) {
            close(fd);
            loop->sigfd = -1;
            return -1;
        }
    }
    loop->sigs[signo].fn = fn;
    loop->sigs[signo].arg = arg;
    return 0;
}

/* ---- running ---- */

static void io_dispatch(struct ev_loop *loop, const struct epoll_event *ee)
{
    int fd = (int)(uint32_t)ee->data.u64;
    uint32_t gen = (uint32_t)(ee->data.u64 >> 32);
    struct ev_watch *w;
    unsigned events = 0;

    if ((size_t)fd >= loop->nwatches)
        return;
    w = &loop->watches[fd];
    /* Unwatched (or re-watched for someone else) by an earlier callback of
     * this same iteration: the event belongs to the old watch. */
    if (w->gen != gen)
        return;
    if (!w->active) {
        /* A lazily kept registration that became ready: drop it now, or
         * level-triggered epoll would report it on every wait. */
        watch_forget(loop, fd);
        return;
    }
    if (ee->events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        events |= EV_READ;
    if (ee->events & EPOLLOUT)
        events |= EV_WRITE;
    if (ee->events & (EPOLLHUP | EPOLLERR))
        events |= w->events & EV_WRITE;
    events &= w->events | EV_READ;
    if (events == 0)
        return;
    w->fn(loop, fd, events, w->arg);
}

int ev_loop_run(struct ev_loop *loop)
{
    struct epoll_event evs[EV_MAX_EVENTS];

    loop->stop = false;
    while (!loop->stop) {
        int n, i, timeout;

        hooks_run(loop);
        if (loop->stop)
            break;
        timeout = timers_timeout(loop);
        n = epoll_wait(loop->epfd, evs, EV_MAX_EVENTS, timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_error_errno("%s: epoll_wait", __func__);
            return -1;
        }
        for (i = 0; i < n && !loop->stop; i++)
            io_dispatch(loop, &evs[i]);
        if (!loop->stop)
            timers_run(loop);
    }
    loop->stop = false;
    return 0;
}

void ev_loop_stop(struct ev_loop *loop)
{
    loop->stop = true;
}
