/*
 * The coordinator's time limits, all derived from remote_timeout_ms in one
 * place: the HTTP layer's deadline for one POST /mpic (main.c), what an
 * attempt may take of what is left of it (api_mpic.c), and one call's
 * libcurl timeout (fanout.c).
 */
#include "coordinator/coordinator.h"

uint64_t coord_request_deadline_ms(const struct mpic_coordinator_config *cfg)
{
    /* Every attempt may take the whole remote timeout. */
    return (uint64_t)cfg->remote_timeout_ms *
               (uint64_t)cfg->absolute_max_attempts +
           COORD_GRACE_SLACK_MS;
}

uint64_t coord_attempt_budget_ms(const struct coord *c, uint64_t start_ms,
                                 uint64_t now)
{
    uint64_t limit = c->cfg->remote_timeout_ms;
    uint64_t due;

    if (c->deadline_ms == 0)
        return limit;
    due = start_ms + c->deadline_ms;
    if (due <= now + COORD_DEADLINE_MARGIN_MS)
        return 0;
    return due - now - COORD_DEADLINE_MARGIN_MS < limit
               ? due - now - COORD_DEADLINE_MARGIN_MS
               : limit;
}

uint64_t coord_call_limit_ms(const struct coord *c, uint64_t timeout_ms)
{
    uint64_t t =
        timeout_ms > 0 ? timeout_ms : (uint64_t)c->cfg->remote_timeout_ms;

    return t < 1 ? 1 : t;
}
