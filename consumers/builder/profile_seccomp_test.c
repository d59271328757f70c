#include "profile_seccomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "testing.h"

static void test_seed(void)
{
	struct behavior_model m = {0};
	char *list = testing_read_source_file("consumers/builder/testdata/seed_syscalls.txt");
	char *expected = testing_read_source_file("consumers/builder/testdata/seed_seccomp.json");
	char *out = NULL, *save = NULL;

	CHECK(list && expected);
	if (!list || !expected)
		goto cleanup;
	/* Arrival order as the seed printed it, plus noise that must vanish. */
	for (char *tok = strtok_r(list, "\n", &save); tok; tok = strtok_r(NULL, "\n", &save))
		strlist_add(&m.syscalls, tok);
	strlist_add(&m.syscalls, "read");
	strlist_add(&m.syscalls, "openat");
	strlist_add(&m.syscalls, "fcntl");
	CHECK(profile_seccomp_generate(&m, &out) == 0);
	CHECK_STR(out, expected);
	/* The generator sorts a copy: the model keeps its order. */
	CHECK_STR(m.syscalls.items[0], "fcntl");
cleanup:
	free(out);
	free(list);
	free(expected);
	behavior_model_free(&m);
}

static void test_small(void)
{
	struct behavior_model m = {0};
	char *out = NULL;

	strlist_add(&m.syscalls, "write");
	strlist_add(&m.syscalls, "mmap");
	strlist_add(&m.syscalls, "brk");
	strlist_add(&m.syscalls, "mmap");
	strlist_add(&m.syscalls, "epoll_wait");
	strlist_add(&m.syscalls, "epoll_create1");
	CHECK(profile_seccomp_generate(&m, &out) == 0);
	CHECK_STR(out, "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"syscalls\":[{\"names\":[\"open\","
		       "\"openat\",\"openat2\",\"close\",\"read\",\"write\"],\"action\":"
		       "\"SCMP_ACT_ALLOW\"},{\"names\":[\"brk\",\"epoll_create1\",\"epoll_wait\","
		       "\"mmap\"],\"action\":\"SCMP_ACT_ALLOW\"}]}");
	free(out);
	behavior_model_free(&m);
}

static void test_nothing_beyond_six(void)
{
	struct behavior_model m = {0};
	char *out = (char *)"sentinel";

	CHECK(profile_seccomp_generate(&m, &out) == -ENODATA);
	CHECK(out == NULL);
	strlist_add(&m.syscalls, "read");
	strlist_add(&m.syscalls, "openat2");
	out = (char *)"sentinel";
	CHECK(profile_seccomp_generate(&m, &out) == -ENODATA);
	CHECK(out == NULL);
	behavior_model_free(&m);
}

static void test_invalid_names(void)
{
	static const char *const bad[] = {
	    "", "Open", "open\"", "a b", "x\n", "mmap\",\"ptrace", "../etc", "\xc3\xa9"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct behavior_model m = {0};
		char *out = NULL;

		strlist_add(&m.syscalls, "mmap");
		strlist_add(&m.syscalls, bad[i]);
		CHECK(profile_seccomp_generate(&m, &out) == -EINVAL);
		CHECK(out == NULL);
		behavior_model_free(&m);
	}
}

int main(void)
{
	/* The invalid-name cases log on purpose; keep the output readable. */
	log_set_level(LOG_LEVEL_ERROR);
	test_seed();
	test_small();
	test_nothing_beyond_six();
	test_invalid_names();
	return TEST_SUMMARY();
}
