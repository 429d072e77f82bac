/*
 * The one event loop of a daemon: epoll for file descriptors, one-shot
 * timers, before-poll hooks and signals through signalfd. Single-threaded;
 * nothing here is safe to call from another thread. libmicrohttpd, the curl
 * multi handle and the c-ares channel all hang off it (docs/event-loop.md).
 */
#ifndef MPIC_COMMON_EV_H
#define MPIC_COMMON_EV_H

#include <stdint.h>

struct ev_loop;
struct ev_timer;

#define EV_READ  1u
#define EV_WRITE 2u

typedef void ev_io_fn(struct ev_loop *loop, int fd, unsigned events, void *arg);
typedef void ev_timer_fn(struct ev_loop *loop, void *arg);
typedef void ev_signal_fn(struct ev_loop *loop, int signo, void *arg);

/* Returns an owned loop (ev_loop_free), or NULL with errno set. */
struct ev_loop *ev_loop_new(void);
/* NULL-safe. Watched fds are not closed; pending timers are discarded. */
void ev_loop_free(struct ev_loop *loop);

/*
 * Watches fd for `events` (EV_READ|EV_WRITE), replacing any earlier watch of
 * the same fd; events == 0 removes the watch. fn gets the events that are
 * ready (EV_READ is also reported for errors and hang-ups). Returns 0 or -1
 * with errno set. It is safe to unwatch or close any fd from any callback.
 */
int ev_io_watch(struct ev_loop *loop, int fd, unsigned events, ev_io_fn *fn,
                void *arg);

/*
 * Starts a one-shot timer that calls fn after `ms` milliseconds (0 means at
 * the next iteration). The returned handle belongs to the loop and becomes
 * invalid once fn has been called or ev_timer_stop() has been called.
 */
struct ev_timer *ev_timer_start(struct ev_loop *loop, uint64_t ms,
                                ev_timer_fn *fn, void *arg);
/* Cancels a pending timer. NULL-safe. Must not be called on a timer whose
 * callback has already run. */
void ev_timer_stop(struct ev_loop *loop, struct ev_timer *t);

/* Registers fn to run before every wait for events (for deferred work). */
void ev_before_poll(struct ev_loop *loop, ev_timer_fn *fn, void *arg);
/* Unregisters a hook added with the same fn and arg (safe from inside a
 * hook). NULL-safe; no-op if there is none. */
void ev_before_poll_remove(struct ev_loop *loop, ev_timer_fn *fn, void *arg);

/* Delivers signo through signalfd (blocking it for the process). 0 or -1. */
int ev_signal_watch(struct ev_loop *loop, int signo, ev_signal_fn *fn,
                    void *arg);

/* Runs until ev_loop_stop(). Returns 0, or -1 if epoll failed. */
int ev_loop_run(struct ev_loop *loop);
void ev_loop_stop(struct ev_loop *loop);

/* Monotonic clock in milliseconds (CLOCK_MONOTONIC). */
uint64_t ev_now_ms(void);

#endif
