/* A growable vector of owned strings. */
#ifndef MPIC_COMMON_STRV_H
#define MPIC_COMMON_STRV_H

#include <stdbool.h>
#include <stddef.h>

struct mpic_strv {
    char **v; /* owned, each element owned */
    size_t n;
    size_t cap;
};

void mpic_strv_init(struct mpic_strv *s);
void mpic_strv_push(struct mpic_strv *s, const char *str); /* copies str */
void mpic_strv_push_owned(struct mpic_strv *s, char *str); /* takes str */
/* Splits `in` on any of the characters in `seps`, trims blanks, skips
 * empty pieces, and appends each piece. */
void mpic_strv_split(struct mpic_strv *s, const char *in, const char *seps);
bool mpic_strv_contains(const struct mpic_strv *s, const char *str);
bool mpic_strv_contains_icase(const struct mpic_strv *s, const char *str);
void mpic_strv_copy(struct mpic_strv *dst, const struct mpic_strv *src);
void mpic_strv_cleanup(struct mpic_strv *s);

#endif
