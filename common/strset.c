#include "strset.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t strset_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static size_t strset_find(char **slots, size_t cap, const char *s)
{
	size_t i = strset_hash(s) & (cap - 1);

	while (slots[i] && strcmp(slots[i], s) != 0)
		i = (i + 1) & (cap - 1);
	return i;
}

static int strset_grow(struct strset *set)
{
	size_t ncap = set->cap ? set->cap * 2 : 64;
	char **n = calloc(ncap, sizeof(*n));

	if (!n)
		return -ENOMEM;
	for (size_t i = 0; i < set->cap; i++)
		if (set->slots[i])
			n[strset_find(n, ncap, set->slots[i])] = set->slots[i];
	free(set->slots);
	set->slots = n;
	set->cap = ncap;
	return 0;
}

int strset_add(struct strset *set, const char *s)
{
	size_t i;

	/* Keep the load under 1/2 so probes stay short. */
	if ((set->len + 1) * 2 > set->cap && strset_grow(set) < 0)
		return -ENOMEM;
	i = strset_find(set->slots, set->cap, s);
	if (set->slots[i])
		return 0;
	set->slots[i] = strdup(s);
	if (!set->slots[i])
		return -ENOMEM;
	set->len++;
	return 1;
}

int strset_contains(const struct strset *set, const char *s)
{
	return set->cap && set->slots[strset_find(set->slots, set->cap, s)] != NULL;
}

void strset_free(struct strset *set)
{
	for (size_t i = 0; i < set->cap; i++)
		free(set->slots[i]);
	free(set->slots);
	memset(set, 0, sizeof(*set));
}
