/*
 * The YAML configuration loaders (mpic_coordinator_config_load and
 * mpic_checker_config_load for both checkers) through a file, as the
 * daemons read it. The first byte picks the daemon; the rest is the file,
 * held in a memfd and named as /proc/self/fd/N. MPIC_* environment
 * variables are cleared so only the file counts. Property: a refused
 * configuration always says why.
 */
#include "tests/fuzz/fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "common/config.h"
#include "common/err.h"
#include "coordinator/config_coordinator.h"

extern char **environ;

static char fuzz_dir[] = "/tmp/mpic-fuzz-config.XXXXXX";
static char *fuzz_config_path;
static char *fuzz_avail_path;

static void fuzz_cleanup_dir(void)
{
    unlink(fuzz_config_path);
    unlink(fuzz_avail_path);
    rmdir(fuzz_dir);
}

/* Writes n bytes to path (created or truncated). */
static void fuzz_write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "w");

    FUZZ_CHECK(f != NULL);
    FUZZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n);
    FUZZ_CHECK(fclose(f) == 0);
}

static void fuzz_copy_fixture(const char *from, const char *to)
{
    char buf[64 * 1024];
    FILE *f = fopen(from, "r");
    size_t n;

    FUZZ_CHECK(f != NULL);
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    fuzz_write_file(to, buf, n);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char **e;
    int fd;

    (void)argc;
    (void)argv;
    fuzz_quiet();
    /* A file key naming /dev/stdin must not block the run. */
    fd = open("/dev/null", O_RDONLY);
    if (fd >= 0) {
        dup2(fd, 0);
        close(fd);
    }
    FUZZ_CHECK(mkdtemp(fuzz_dir) != NULL);
    fuzz_config_path = xasprintf("%s/config.yaml", fuzz_dir);
    fuzz_avail_path = xasprintf("%s/available_perspectives.yaml", fuzz_dir);
    fuzz_copy_fixture(MPIC_FIXTURES_DIR "/config/available.yaml",
                      fuzz_avail_path);
    atexit(fuzz_cleanup_dir);
    /* Drop the environment layer (unsetenv shifts environ: restart). */
    for (e = environ; e != NULL && *e != NULL;) {
        if (strncmp(*e, "MPIC_", 5) == 0) {
            char *name = xstrdup(*e);
            char *eq = strchr(name, '=');

            if (eq != NULL)
                *eq = '\0';
            unsetenv(name);
            free(name);
            e = environ;
            continue;
        }
        e++;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mpic_errlist errs;
    enum mpic_cli_action action = MPIC_CLI_RUN;
    enum mpic_err rc;
    char *argv[5];

    if (size < 1 || size > 64 * 1024)
        return 0;
    fuzz_write_file(fuzz_config_path, data + 1, size - 1);
    argv[0] = (char *)(uintptr_t) "mpic-fuzz";
    argv[1] = (char *)(uintptr_t) "--config";
    argv[2] = fuzz_config_path;
    argv[3] = (char *)(uintptr_t) "--check-config";
    argv[4] = NULL;
    mpic_errlist_init(&errs);
    switch (data[0] % 3) {
    case 0: {
        struct mpic_coordinator_config c;

        memset(&c, 0, sizeof(c));
        rc = mpic_coordinator_config_load(4, argv, &c, &action, &errs);
        mpic_coordinator_config_cleanup(&c);
        break;
    }
    default: {
        struct mpic_checker_config c;
        enum mpic_daemon_kind kind = data[0] % 3 == 1 ? MPIC_DAEMON_DCV_CHECKER
                                                      : MPIC_DAEMON_CAA_CHECKER;

        memset(&c, 0, sizeof(c));
        rc = mpic_checker_config_load(kind, 4, argv, &c, &action, &errs);
        mpic_checker_config_cleanup(&c);
        break;
    }
    }
    if (rc != MPIC_OK)
        FUZZ_CHECK(errs.n > 0);
    mpic_errlist_cleanup(&errs);
    return 0;
}
