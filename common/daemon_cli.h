/*
 * The command line every daemon shares (INTERFACE.md: --config, --listen,
 * --check-config, --version, --help). The configuration loaders parse the
 * flags; this is what a daemon's main() does with the outcome, so the
 * three daemons answer --help, --version, a configuration that is not
 * usable and a good --check-config in the same words.
 */
#ifndef MPIC_DAEMON_CLI_H
#define MPIC_DAEMON_CLI_H

#include "common/config.h"
#include "common/err.h"

/*
 * After the configuration loader: prints --help (to stdout, exit 0),
 * --version ("NAME VERSION", exit 0), or every problem in errs and
 * "NAME: configuration is not usable (N problems)" (stderr, exit 1).
 * Returns the exit status, or -1 when the daemon goes on: to run, or to
 * report --check-config with mpic_daemon_config_ok().
 */
int mpic_daemon_cli(enum mpic_daemon_kind kind, enum mpic_err load,
                    enum mpic_cli_action action,
                    const struct mpic_errlist *errs);

/* --check-config found nothing wrong: "configuration OK", then ": " and
 * detail unless detail is NULL. The exit status is 0. */
int mpic_daemon_config_ok(const char *detail);

/* The daemon's program name, e.g. "mpic-dcv-checker". */
const char *mpic_daemon_name(enum mpic_daemon_kind kind);

#endif
