/* A minimal unit-test harness: each CHECK counts, the summary line is the
 * plain "N passed, N failed" that CI reads, and the exit code is non-zero
 * when anything failed. */
#ifndef ARMORSMITH_TESTING_H
#define ARMORSMITH_TESTING_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_passed, t_failed;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (cond) {                                                                        \
			t_passed++;                                                                \
		} else {                                                                           \
			t_failed++;                                                                \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *a_ = (a), *b_ = (b);                                                   \
		if (a_ && b_ && strcmp(a_, b_) == 0) {                                             \
			t_passed++;                                                                \
		} else {                                                                           \
			t_failed++;                                                                \
			fprintf(stderr, "%s:%d: %s != %s\n  got:      %s\n  expected: %s\n",       \
				__FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)",                    \
				b_ ? b_ : "(null)");                                               \
		}                                                                                  \
	} while (0)

/* Reads <ARMORSMITH_SOURCE_DIR>/<rel> (ctest sets it to the repo root)
 * into a new string, or NULL with a message. */
static inline char *testing_read_source_file(const char *rel)
{
	const char *root = getenv("ARMORSMITH_SOURCE_DIR");
	char path[4096];
	char *data = NULL;
	size_t len = 0;
	FILE *f, *out;
	int c;

	snprintf(path, sizeof(path), "%s/%s", root ? root : ".", rel);
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "cannot open %s (set ARMORSMITH_SOURCE_DIR)\n", path);
		return NULL;
	}
	out = open_memstream(&data, &len);
	while (out && (c = fgetc(f)) != EOF)
		fputc(c, out);
	if (out)
		fclose(out);
	fclose(f);
	return data;
}

#define TEST_SUMMARY() (printf("%d passed, %d failed\n", t_passed, t_failed), t_failed ? 1 : 0)

#endif
