/*
 * Replica selection and failover rules of the coordinator
 * (coordinator/replica.c, docs/failover.md).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/coordinator.h"

static void make_queue(struct coord_queue *q, struct coord_replica *reps,
                       size_t n)
{
    static const char *const urls[] = {"https://a/caa", "https://b/caa",
                                       "https://c/caa"};

    memset(q, 0, sizeof(*q));
    memset(reps, 0, n * sizeof(*reps));
    for (size_t k = 0; k < n; k++)
        reps[k].url = urls[k];
    q->reps = reps;
    q->n_reps = n;
}

static void test_one_replica(void **state)
{
    struct coord_queue q;
    struct coord_replica reps[1];

    (void)state;
    make_queue(&q, reps, 1);
    assert_int_equal(coord_replica_pick(&q, 0, 1000), 0);
    assert_int_equal(coord_replica_pick(&q, 0, 1000), 0);
    /* called once: nothing left */
    assert_int_equal(coord_replica_pick(&q, 1u, 1000), -1);
    /* held out, it is still the only one */
    coord_replica_failed(&q, 0, 1000);
    assert_int_equal(coord_replica_pick(&q, 0, 1001), 0);
}

static void test_round_robin(void **state)
{
    struct coord_queue q;
    struct coord_replica reps[3];

    (void)state;
    make_queue(&q, reps, 3);
    assert_int_equal(coord_replica_pick(&q, 0, 1000), 0);
    assert_int_equal(coord_replica_pick(&q, 0, 1000), 1);
    assert_int_equal(coord_replica_pick(&q, 0, 1000), 2);
    assert_int_equal(coord_replica_pick(&q, 0, 1000), 0);
}

static void test_failover_skips_called(void **state)
{
    struct coord_queue q;
    struct coord_replica reps[3];
    unsigned tried = 0;
    int k;

    (void)state;
    make_queue(&q, reps, 3);
    /* one call walks every replica once, then has none left */
    for (int i = 0; i < 3; i++) {
        k = coord_replica_pick(&q, tried, 1000);
        assert_true(k >= 0 && k < 3);
        assert_int_equal(tried & (1u << k), 0);
        tried |= 1u << k;
        coord_replica_failed(&q, (size_t)k, 1000);
    }
    assert_int_equal(tried, 7u);
    assert_int_equal(coord_replica_pick(&q, tried, 1000), -1);
}

static void test_held_out_replica(void **state)
{
    struct coord_queue q;
    struct coord_replica reps[2];

    (void)state;
    make_queue(&q, reps, 2);
    coord_replica_failed(&q, 0, 1000);
    /* new calls go to the other one */
    for (int i = 0; i < 4; i++)
        assert_int_equal(coord_replica_pick(&q, 0, 1500), 1);
    /* a call that has called 1 still gets 0 as a last resort */
    assert_int_equal(coord_replica_pick(&q, 2u, 1500), 0);
    /* both held out: the one whose hold ends first */
    coord_replica_failed(&q, 1, 2000);
    assert_int_equal(coord_replica_pick(&q, 0, 2500), 0);
    assert_int_equal(coord_replica_pick(&q, 1u, 2500), 1);
    /* the hold ends by itself ... */
    assert_true(reps[0].down_until_ms > 1000);
    assert_int_equal(coord_replica_pick(&q, 2u, reps[0].down_until_ms), 0);
    /* ... or when the replica answers (a ping or a call) */
    coord_replica_ok(&q, 1);
    assert_int_equal(reps[1].down_until_ms, 0);
    assert_int_equal(coord_replica_pick(&q, 0, 2500), 1);
    assert_int_equal(coord_replica_pick(&q, 0, 2500), 1);
    /* out of range is ignored */
    coord_replica_failed(&q, 7, 2500);
    coord_replica_ok(&q, 7);
}

static void test_what_fails_over(void **state)
{
    (void)state;
    /* a check response is the perspective's answer, whatever it says */
    assert_false(coord_replica_should_fail_over(CURLE_OK, 200, true, false));
    assert_false(coord_replica_should_fail_over(CURLE_OK, 500, true, false));
    /* no connection, a dropped one, TLS, a connect timeout */
    assert_true(
        coord_replica_should_fail_over(CURLE_COULDNT_CONNECT, 0, false, false));
    assert_true(
        coord_replica_should_fail_over(CURLE_GOT_NOTHING, 0, false, false));
    assert_true(
        coord_replica_should_fail_over(CURLE_RECV_ERROR, 0, false, false));
    assert_true(coord_replica_should_fail_over(CURLE_SSL_CONNECT_ERROR, 0,
                                               false, false));
    assert_true(coord_replica_should_fail_over(CURLE_OPERATION_TIMEDOUT, 0,
                                               false, false));
    /* 5xx without a check response: a replica stopping, a proxy */
    assert_true(coord_replica_should_fail_over(CURLE_OK, 502, false, false));
    assert_true(coord_replica_should_fail_over(CURLE_OK, 503, false, false));
    /* a timeout once the request was sent: the call's time is used up
     * (and a slow check is seldom the replica's fault) */
    assert_false(coord_replica_should_fail_over(CURLE_OPERATION_TIMEDOUT, 0,
                                                false, true));
    /* a reset after sending is not a timeout: the replica went away */
    assert_true(
        coord_replica_should_fail_over(CURLE_RECV_ERROR, 0, false, true));
    assert_true(coord_replica_should_fail_over(CURLE_OK, 503, false, true));
    /* 4xx without one is a configuration fault, reported as it is */
    assert_false(coord_replica_should_fail_over(CURLE_OK, 401, false, false));
    assert_false(coord_replica_should_fail_over(CURLE_OK, 404, false, false));
    assert_false(coord_replica_should_fail_over(CURLE_OK, 200, false, false));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_replica),
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_failover_skips_called),
        cmocka_unit_test(test_held_out_replica),
        cmocka_unit_test(test_what_fails_over),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
