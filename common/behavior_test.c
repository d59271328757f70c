#include "behavior.h"
#include "strset.h"
#include "testing.h"

#include <stdio.h>

static void test_strlist_sort_unique(void)
{
	struct strlist l = {0};

	strlist_add(&l, "write");
	strlist_add(&l, "brk");
	strlist_add(&l, "write");
	strlist_add(&l, "access");
	strlist_sort_unique(&l);
	CHECK(l.len == 3);
	CHECK_STR(l.items[0], "access");
	CHECK_STR(l.items[1], "brk");
	CHECK_STR(l.items[2], "write");
	CHECK(strlist_contains(&l, "brk"));
	CHECK(!strlist_contains(&l, "br"));
	strlist_free(&l);
	CHECK(l.len == 0 && l.items == NULL);
}

static void test_model_normalize_orders_everything(void)
{
	struct behavior_model m = {0};

	behavior_model_add_file(&m, "/etc/passwd", "r", true, NULL);
	behavior_model_add_file(&m, "/etc/group", "r", true, "");
	behavior_model_add_network(&m, "inet", "stream", "tcp", "10.0.0.1", 443);
	behavior_model_add_network(&m, "inet", "stream", "tcp", "10.0.0.1", 80);
	behavior_model_add_mount(&m, "umount", "/mnt", "", "", "");
	behavior_model_add_mount(&m, "mount", "/mnt", "tmpfs", "tmpfs", "");
	behavior_model_normalize(&m);
	CHECK_STR(m.files[0].path, "/etc/group");
	CHECK(m.files[0].old_path == NULL);
	CHECK(m.networks[0].port == 80);
	CHECK_STR(m.mounts[0].operation, "mount");
	behavior_model_free(&m);
	CHECK(m.n_files == 0);
}

static void test_strset_grows_and_dedups(void)
{
	struct strset set = {0};
	char key[32];
	int added = 0;

	for (int round = 0; round < 2; round++)
		for (int i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "syscall:%d", i);
			added += strset_add(&set, key) == 1;
		}
	CHECK(added == 1000);
	CHECK(set.len == 1000);
	CHECK(strset_contains(&set, "syscall:999"));
	CHECK(!strset_contains(&set, "syscall:1000"));
	strset_free(&set);
	CHECK(!strset_contains(&set, "syscall:1"));
}

int main(void)
{
	test_strset_grows_and_dedups();
	test_strlist_sort_unique();
	test_model_normalize_orders_everything();
	return TEST_SUMMARY();
}
