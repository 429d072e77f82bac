/*
 * A growable byte buffer with a hard cap (after curl's dynbuf). Network input
 * always lands in one of these: growing past the cap is an error, never an
 * unbounded allocation. The content is kept NUL-terminated for convenience.
 */
#ifndef MPIC_COMMON_BUF_H
#define MPIC_COMMON_BUF_H

#include <stdbool.h>
#include <stddef.h>

struct mpic_buf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
    size_t max;      /* hard limit on len */
    bool overflowed; /* an append was refused because of max */
};

void mpic_buf_init(struct mpic_buf *b, size_t max);
/* Returns 0, or -1 (and sets overflowed) if len + n would exceed max. */
int mpic_buf_append(struct mpic_buf *b, const void *data, size_t n);
int mpic_buf_append_str(struct mpic_buf *b, const char *s);
int mpic_buf_printf(struct mpic_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void mpic_buf_reset(struct mpic_buf *b); /* len = 0, keeps memory */
/* Hands the data to the caller (owned; free()) and resets b to empty. */
char *mpic_buf_take(struct mpic_buf *b, size_t *len);
void mpic_buf_cleanup(struct mpic_buf *b);

#endif
