/*
 * Shared bits of the libFuzzer targets in tests/fuzz/: the entry point
 * prototypes (the targets are built with -Wmissing-prototypes), a quiet
 * logger, and FUZZ_CHECK for the round-trip properties a target asserts on
 * top of the sanitizers. Each target feeds one parser of outside bytes.
 */
#ifndef MPIC_TESTS_FUZZ_H
#define MPIC_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken property is a crash: libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz property failed: %s (%s:%d)\n", #cond,       \
                    __FILE__, __LINE__);                                       \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* A NUL-terminated owned copy of the input. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);

    if (size > 0)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}

/* Only fatal messages: the parsers may log at debug/warn. */
static inline void fuzz_quiet(void)
{
    mpic_log_set_level(MPIC_LOG_ERROR);
}

#endif
