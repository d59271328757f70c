/* A set of strings (open addressing, FNV-1a): the probe's per-run dedup. */
#ifndef ARMORSMITH_STRSET_H
#define ARMORSMITH_STRSET_H

#include <stddef.h>

struct strset {
	char **slots;
	size_t cap; /* a power of two */
	size_t len;
};

/* 1 when s was added, 0 when it was already there, -ENOMEM. */
int strset_add(struct strset *set, const char *s);
int strset_contains(const struct strset *set, const char *s);
void strset_free(struct strset *set);

#endif
