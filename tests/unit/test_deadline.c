/*
 * The coordinator's time limits (coordinator/deadline.c): the request
 * deadline, the budget of each attempt within it, and a call's timeout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "coordinator/coordinator.h"

static void make_coord(struct coord *c, struct mpic_coordinator_config *cfg,
                       unsigned remote_timeout_ms, long max_attempts)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->remote_timeout_ms = remote_timeout_ms;
    cfg->absolute_max_attempts = max_attempts;
    memset(c, 0, sizeof(*c));
    c->cfg = cfg;
    c->deadline_ms = coord_request_deadline_ms(cfg);
}

static void test_request_deadline(void **state)
{
    struct mpic_coordinator_config cfg;
    struct coord c;

    (void)state;
    make_coord(&c, &cfg, 12000, 3);
    /* every attempt may take the whole remote timeout, plus the slack */
    assert_int_equal(c.deadline_ms, 3 * 12000 + COORD_GRACE_SLACK_MS);
    make_coord(&c, &cfg, 500, 1);
    assert_int_equal(c.deadline_ms, 500 + COORD_GRACE_SLACK_MS);
}

static void test_attempt_budget(void **state)
{
    struct mpic_coordinator_config cfg;
    struct coord c;
    uint64_t start = 100000;

    (void)state;
    make_coord(&c, &cfg, 12000, 3);
    /* early in the request: the whole remote timeout */
    assert_int_equal(coord_attempt_budget_ms(&c, start, start), 12000);
    assert_int_equal(coord_attempt_budget_ms(&c, start, start + 24000), 12000);
    /* the deadline (38000 after start) nearer than remote_timeout_ms:
     * what is left of it, minus the margin */
    assert_int_equal(coord_attempt_budget_ms(&c, start, start + 30000),
                     38000 - 30000 - COORD_DEADLINE_MARGIN_MS);
    /* the margin reached or passed: no time left */
    assert_int_equal(coord_attempt_budget_ms(
                         &c, start, start + 38000 - COORD_DEADLINE_MARGIN_MS),
                     0);
    assert_int_equal(coord_attempt_budget_ms(&c, start, start + 50000), 0);
    /* no request deadline: always the remote timeout */
    c.deadline_ms = 0;
    assert_int_equal(coord_attempt_budget_ms(&c, start, start + 50000), 12000);
}

static void test_call_limit(void **state)
{
    struct mpic_coordinator_config cfg;
    struct coord c;

    (void)state;
    make_coord(&c, &cfg, 12000, 3);
    assert_int_equal(coord_call_limit_ms(&c, 7000), 7000);
    assert_int_equal(coord_call_limit_ms(&c, 0), 12000);
    /* never 0, which would mean "no timeout" to libcurl */
    cfg.remote_timeout_ms = 0;
    assert_int_equal(coord_call_limit_ms(&c, 0), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_deadline),
        cmocka_unit_test(test_attempt_budget),
        cmocka_unit_test(test_call_limit),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
