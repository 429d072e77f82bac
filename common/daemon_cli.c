/*
 * What the three daemons' main() share on the command line (daemon_cli.h).
 */
#include "common/daemon_cli.h"

#include <stdio.h>

const char *mpic_daemon_name(enum mpic_daemon_kind kind)
{
    switch (kind) {
    case MPIC_DAEMON_COORDINATOR:
        return "mpic-coordinator";
    case MPIC_DAEMON_DCV_CHECKER:
        return "mpic-dcv-checker";
    case MPIC_DAEMON_CAA_CHECKER:
        return "mpic-caa-checker";
    }
    return "mpic";
}

int mpic_daemon_cli(enum mpic_daemon_kind kind, enum mpic_err load,
                    enum mpic_cli_action action,
                    const struct mpic_errlist *errs)
{
    if (action == MPIC_CLI_HELP) {
        fputs(mpic_config_usage(kind), stdout);
        return 0;
    }
    if (action == MPIC_CLI_VERSION) {
        printf("%s %s\n", mpic_daemon_name(kind), MPIC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < errs->n; i++)
        fprintf(stderr, "%s\n", errs->items[i].message);
    if (load != MPIC_OK || errs->n > 0) {
        fprintf(stderr, "%s: configuration is not usable (%zu problem%s)\n",
                mpic_daemon_name(kind), errs->n, errs->n == 1 ? "" : "s");
        return 1;
    }
    return -1;
}

int mpic_daemon_config_ok(const char *detail)
{
    if (detail != NULL)
        printf("configuration OK: %s\n", detail);
    else
        printf("configuration OK\n");
    return 0;
}
