/* Tests of the event loop: timers, fd watches, hooks and signals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "common/ev.h"

struct rec {
    struct ev_loop *loop;
    int order[16];
    int n;
    int stop_after;
    unsigned iteration;
};

struct tick {
    struct rec *rec;
    int id;
};

static void on_tick(struct ev_loop *loop, void *arg)
{
    struct tick *t = arg;

    t->rec->order[t->rec->n++] = t->id;
    if (t->rec->n == t->rec->stop_after)
        ev_loop_stop(loop);
}

static void on_stop(struct ev_loop *loop, void *arg)
{
    (void)arg;
    ev_loop_stop(loop);
}

static void test_timers_fire_in_deadline_order(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct rec r = {.stop_after = 3};
    struct tick t[3] = {{&r, 30}, {&r, 10}, {&r, 20}};

    (void)state;
    assert_non_null(loop);
    ev_timer_start(loop, 30, on_tick, &t[0]);
    ev_timer_start(loop, 10, on_tick, &t[1]);
    ev_timer_start(loop, 20, on_tick, &t[2]);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(r.n, 3);
    assert_int_equal(r.order[0], 10);
    assert_int_equal(r.order[1], 20);
    assert_int_equal(r.order[2], 30);
    ev_loop_free(loop);
}

static void test_equal_deadlines_fire_in_start_order(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct rec r = {.stop_after = 5};
    struct tick t[5];
    int i;

    (void)state;
    for (i = 0; i < 5; i++) {
        t[i].rec = &r;
        t[i].id = i;
        ev_timer_start(loop, 0, on_tick, &t[i]);
    }
    assert_int_equal(ev_loop_run(loop), 0);
    for (i = 0; i < 5; i++)
        assert_int_equal(r.order[i], i);
    ev_loop_free(loop);
}

static void test_stopped_timer_never_fires(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct rec r = {.stop_after = 99};
    struct tick a = {&r, 1}, b = {&r, 2};
    struct ev_timer *ta;

    (void)state;
    ta = ev_timer_start(loop, 5, on_tick, &a);
    ev_timer_start(loop, 10, on_tick, &b);
    ev_timer_start(loop, 40, on_stop, NULL);
    ev_timer_stop(loop, ta);
    ev_timer_stop(loop, NULL); /* NULL-safe */
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.order[0], 2);
    ev_loop_free(loop);
}

struct stopper {
    struct ev_timer *victim;
    struct ev_timer *self;
    int fired;
};

static void on_stop_other(struct ev_loop *loop, void *arg)
{
    struct stopper *s = arg;

    s->fired++;
    ev_timer_stop(loop, s->victim); /* due in the same pass */
    ev_timer_stop(loop, s->self);   /* own timer: harmless */
}

static void test_timer_stopped_from_another_timer_callback(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct rec r = {.stop_after = 99};
    struct tick victim = {&r, 7};
    struct stopper s = {0};

    (void)state;
    s.self = ev_timer_start(loop, 0, on_stop_other, &s);
    s.victim = ev_timer_start(loop, 0, on_tick, &victim);
    ev_timer_start(loop, 20, on_stop, NULL);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(s.fired, 1);
    assert_int_equal(r.n, 0);
    ev_loop_free(loop);
}

static void test_free_discards_pending_timers(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct rec r = {0};
    struct tick t = {&r, 1};

    (void)state;
    ev_timer_start(loop, 100000, on_tick, &t);
    ev_loop_free(loop); /* ASan reports a leak if the timer is kept */
    assert_int_equal(r.n, 0);
}

struct io {
    struct ev_loop *loop;
    int fds[2];
    int calls;
    unsigned events;
    int fd_seen;
};

static void on_readable(struct ev_loop *loop, int fd, unsigned events,
                        void *arg)
{
    struct io *io = arg;
    char c;

    io->calls++;
    io->events = events;
    io->fd_seen = fd;
    assert_int_equal(read(fd, &c, 1), 1);
    ev_loop_stop(loop);
}

static void test_io_watch_reports_readable_pipe(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct io io = {0};

    (void)state;
    assert_int_equal(pipe(io.fds), 0);
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     0);
    assert_int_equal(write(io.fds[1], "x", 1), 1);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io.calls, 1);
    assert_int_equal(io.fd_seen, io.fds[0]);
    assert_true(io.events & EV_READ);
    assert_false(io.events & EV_WRITE);
    assert_int_equal(ev_io_watch(loop, io.fds[0], 0, NULL, NULL), 0);
    close(io.fds[0]);
    close(io.fds[1]);
    ev_loop_free(loop);
}

static void test_io_watch_rejects_bad_fd(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct io io = {0};

    (void)state;
    assert_int_equal(ev_io_watch(loop, -1, EV_READ, on_readable, &io), -1);
    /* A closed fd: epoll_ctl refuses it. */
    assert_int_equal(pipe(io.fds), 0);
    close(io.fds[0]);
    close(io.fds[1]);
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     -1);
    ev_loop_free(loop);
}

/* Two readable pipes; whichever callback runs first unwatches and closes
 * the other, whose event from the same epoll_wait must be dropped. */
struct pair {
    struct rec *rec;
    int a[2];
    int b[2];
    int calls_a;
    int calls_b;
    int calls_new;
    unsigned new_iteration;
};

static void on_pair_a(struct ev_loop *loop, int fd, unsigned events, void *arg);
static void on_pair_b(struct ev_loop *loop, int fd, unsigned events, void *arg);

static void on_pair_new(struct ev_loop *loop, int fd, unsigned events,
                        void *arg)
{
    struct pair *p = arg;

    (void)events;
    p->calls_new++;
    p->new_iteration = p->rec->iteration;
    ev_io_watch(loop, fd, 0, NULL, NULL);
    ev_loop_stop(loop);
}

static void on_pair_a(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    struct pair *p = arg;

    (void)fd;
    (void)events;
    p->calls_a++;
    ev_io_watch(loop, p->a[0], 0, NULL, NULL);
    /* Re-watch the other fd for a new owner: its stale event must not
     * reach the new callback either. */
    ev_io_watch(loop, p->b[0], EV_READ, on_pair_new, p);
}

static void on_pair_b(struct ev_loop *loop, int fd, unsigned events, void *arg)
{
    struct pair *p = arg;

    (void)fd;
    (void)events;
    p->calls_b++;
    ev_io_watch(loop, p->b[0], 0, NULL, NULL);
    ev_io_watch(loop, p->a[0], EV_READ, on_pair_new, p);
}

static void count_iteration(struct ev_loop *loop, void *arg)
{
    struct rec *r = arg;

    (void)loop;
    r->iteration++;
}

static void test_unwatch_inside_callback_drops_pending_event(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct rec r = {0};
    struct pair p = {.rec = &r};

    (void)state;
    assert_int_equal(pipe(p.a), 0);
    assert_int_equal(pipe(p.b), 0);
    ev_before_poll(loop, count_iteration, &r);
    assert_int_equal(ev_io_watch(loop, p.a[0], EV_READ, on_pair_a, &p), 0);
    assert_int_equal(ev_io_watch(loop, p.b[0], EV_READ, on_pair_b, &p), 0);
    assert_int_equal(write(p.a[1], "x", 1), 1);
    assert_int_equal(write(p.b[1], "x", 1), 1);
    assert_int_equal(ev_loop_run(loop), 0);
    /* Exactly one of the two first callbacks ran ... */
    assert_int_equal(p.calls_a + p.calls_b, 1);
    /* ... and the re-watched fd was dispatched only in a later iteration. */
    assert_int_equal(p.calls_new, 1);
    assert_int_equal(p.new_iteration, 2);
    close(p.a[0]);
    close(p.a[1]);
    close(p.b[0]);
    close(p.b[1]);
    ev_loop_free(loop);
}

static void on_close_self(struct ev_loop *loop, int fd, unsigned events,
                          void *arg)
{
    struct io *io = arg;

    (void)events;
    io->calls++;
    close(fd); /* close without unwatching: the loop must cope */
    io->fds[0] = -1;
    ev_loop_stop(loop);
}

static void test_closed_fd_number_can_be_watched_again(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct io io = {0};
    struct io io2 = {0};

    (void)state;
    assert_int_equal(pipe(io.fds), 0);
    ev_io_watch(loop, io.fds[0], EV_READ, on_close_self, &io);
    assert_int_equal(write(io.fds[1], "x", 1), 1);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io.calls, 1);
    close(io.fds[1]);
    /* The next pipe likely reuses the fd numbers. */
    assert_int_equal(pipe(io2.fds), 0);
    assert_int_equal(ev_io_watch(loop, io2.fds[0], EV_READ, on_readable, &io2),
                     0);
    assert_int_equal(write(io2.fds[1], "y", 1), 1);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io2.calls, 1);
    ev_io_watch(loop, io2.fds[0], 0, NULL, NULL);
    close(io2.fds[0]);
    close(io2.fds[1]);
    ev_loop_free(loop);
}

static void on_writable(struct ev_loop *loop, int fd, unsigned events,
                        void *arg)
{
    struct io *io = arg;

    (void)fd;
    io->calls++;
    io->events = events;
    ev_loop_stop(loop);
}

static void test_io_watch_reports_writable(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct io io = {0};

    (void)state;
    assert_int_equal(pipe(io.fds), 0);
    assert_int_equal(ev_io_watch(loop, io.fds[1], EV_WRITE, on_writable, &io),
                     0);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io.calls, 1);
    assert_true(io.events & EV_WRITE);
    close(io.fds[0]);
    close(io.fds[1]);
    ev_loop_free(loop);
}

struct hook {
    int runs;
    int stop_at;
};

static void on_hook(struct ev_loop *loop, void *arg)
{
    struct hook *h = arg;

    h->runs++;
    if (h->runs == h->stop_at)
        ev_loop_stop(loop);
}

static void test_before_poll_hook_runs_and_can_be_removed(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct hook h = {.stop_at = 3};
    struct hook other = {.stop_at = 2};

    (void)state;
    ev_before_poll(loop, on_hook, &h);
    ev_before_poll(loop, count_iteration, &(struct rec){0});
    ev_timer_start(loop, 0, on_stop, NULL); /* keeps the loop turning */
    ev_timer_start(loop, 1, on_stop, NULL);
    ev_timer_start(loop, 2, on_stop, NULL);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(h.runs, 1);
    ev_before_poll_remove(loop, on_hook, &h);
    ev_before_poll(loop, on_hook, &other);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(h.runs, 1); /* removed: not run again */
    assert_true(other.runs >= 1);
    ev_loop_free(loop);
}

struct sig {
    int signo;
    int calls;
};

static void on_sig(struct ev_loop *loop, int signo, void *arg)
{
    struct sig *s = arg;

    s->signo = signo;
    s->calls++;
    ev_loop_stop(loop);
}

static void test_signal_arrives_through_the_loop(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct sig s = {0};
    struct sig s2 = {0};

    (void)state;
    assert_int_equal(ev_signal_watch(loop, SIGUSR1, on_sig, &s), 0);
    assert_int_equal(ev_signal_watch(loop, SIGUSR2, on_sig, &s2), 0);
    assert_int_equal(raise(SIGUSR2), 0);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(s.calls, 0);
    assert_int_equal(s2.calls, 1);
    assert_int_equal(s2.signo, SIGUSR2);
    assert_int_equal(raise(SIGUSR1), 0);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.signo, SIGUSR1);
    assert_int_equal(ev_signal_watch(loop, 0, on_sig, &s), -1);
    assert_int_equal(ev_signal_watch(loop, 200, on_sig, &s), -1);
    ev_loop_free(loop);
}

static void test_now_is_monotonic(void **state)
{
    uint64_t a = ev_now_ms();
    uint64_t b = ev_now_ms();

    (void)state;
    assert_true(a > 0);
    assert_true(b >= a);
}

/* Runs one loop iteration that does not block (a 0 ms timer stops it). */
static void run_once(struct ev_loop *loop)
{
    ev_timer_start(loop, 0, on_stop, NULL);
    assert_int_equal(ev_loop_run(loop), 0);
}

static void test_unwatched_fd_stays_silent_then_rewatch_works(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct io io = {0};

    (void)state;
    assert_int_equal(pipe(io.fds), 0);
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     0);
    assert_int_equal(ev_io_watch(loop, io.fds[0], 0, NULL, NULL), 0);
    /* Readable while unwatched: never reported, however often we poll. */
    assert_int_equal(write(io.fds[1], "x", 1), 1);
    run_once(loop);
    run_once(loop);
    run_once(loop);
    assert_int_equal(io.calls, 0);
    /* Watched again with the very same arguments: reported. */
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     0);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io.calls, 1);
    /* Unwatch, watch, unwatch, watch again with nothing in between. */
    assert_int_equal(ev_io_watch(loop, io.fds[0], 0, NULL, NULL), 0);
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     0);
    assert_int_equal(write(io.fds[1], "y", 1), 1);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io.calls, 2);
    assert_int_equal(ev_io_watch(loop, io.fds[0], 0, NULL, NULL), 0);
    close(io.fds[0]);
    close(io.fds[1]);
    ev_loop_free(loop);
}

static void test_unwatched_closed_fd_number_rewatched_same_args(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct io io = {0};
    int old0;

    (void)state;
    assert_int_equal(pipe(io.fds), 0);
    old0 = io.fds[0];
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     0);
    /* Unwatch then close, as libcurl and c-ares do. */
    assert_int_equal(ev_io_watch(loop, io.fds[0], 0, NULL, NULL), 0);
    close(io.fds[0]);
    close(io.fds[1]);
    assert_int_equal(pipe(io.fds), 0);
    assert_int_equal(io.fds[0], old0); /* the lowest free number again */
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     0);
    assert_int_equal(write(io.fds[1], "z", 1), 1);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io.calls, 1);
    assert_int_equal(ev_io_watch(loop, io.fds[0], 0, NULL, NULL), 0);
    close(io.fds[0]);
    close(io.fds[1]);
    ev_loop_free(loop);
}

static void test_identical_watch_twice_reports_once(void **state)
{
    struct ev_loop *loop = ev_loop_new();
    struct io io = {0};

    (void)state;
    assert_int_equal(pipe(io.fds), 0);
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     0);
    assert_int_equal(ev_io_watch(loop, io.fds[0], EV_READ, on_readable, &io),
                     0);
    assert_int_equal(write(io.fds[1], "x", 1), 1);
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io.calls, 1);
    run_once(loop);
    assert_int_equal(io.calls, 1);
    /* A write watch after an unwatch is registered for real. */
    assert_int_equal(ev_io_watch(loop, io.fds[0], 0, NULL, NULL), 0);
    assert_int_equal(ev_io_watch(loop, io.fds[1], EV_WRITE, on_writable, &io),
                     0);
    io.calls = 0;
    assert_int_equal(ev_loop_run(loop), 0);
    assert_int_equal(io.calls, 1);
    assert_true(io.events & EV_WRITE);
    assert_int_equal(ev_io_watch(loop, io.fds[1], 0, NULL, NULL), 0);
    run_once(loop);
    assert_int_equal(io.calls, 1);
    close(io.fds[0]);
    close(io.fds[1]);
    ev_loop_free(loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timers_fire_in_deadline_order),
        cmocka_unit_test(test_equal_deadlines_fire_in_start_order),
        cmocka_unit_test(test_stopped_timer_never_fires),
        cmocka_unit_test(test_timer_stopped_from_another_timer_callback),
        cmocka_unit_test(test_free_discards_pending_timers),
        cmocka_unit_test(test_io_watch_reports_readable_pipe),
        cmocka_unit_test(test_unwatched_fd_stays_silent_then_rewatch_works),
        cmocka_unit_test(test_unwatched_closed_fd_number_rewatched_same_args),
        cmocka_unit_test(test_identical_watch_twice_reports_once),
        cmocka_unit_test(test_io_watch_rejects_bad_fd),
        cmocka_unit_test(test_unwatch_inside_callback_drops_pending_event),
        cmocka_unit_test(test_closed_fd_number_can_be_watched_again),
        cmocka_unit_test(test_io_watch_reports_writable),
        cmocka_unit_test(test_before_poll_hook_runs_and_can_be_removed),
        cmocka_unit_test(test_signal_arrives_through_the_loop),
        cmocka_unit_test(test_now_is_monotonic),
    };

    return cmocka_run_group_tests_name("ev", tests, NULL, NULL);
}
