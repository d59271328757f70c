/* Import merging: unions of every list, files by path with permissions
 * unioned and owner AND-ed, keyed entries (signals, ptraces, mounts,
 * egresses, sockets), the profile replaced, sorted output, idempotence. */
#include "apm_merge.h"
#include "testing.h"

#include <errno.h>
#include <jansson.h>

static json_t *parse(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j)
		fprintf(stderr, "bad test json: %s\n", e.text);
	return j;
}

/* Compares canonical dumps (sorted keys) but list order as it is. */
static void check_json(json_t *got, const char *want_text, int line)
{
	json_t *want = parse(want_text);
	char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
	char *w = want ? json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	if (!g || !w || strcmp(g, w) != 0)
		fprintf(stderr, "line %d:\n  got:  %s\n  want: %s\n", line, g ? g : "(null)",
			w ? w : "(null)");
	CHECK(g && w && strcmp(g, w) == 0);
	free(g);
	free(w);
	json_decref(want);
}

#define CHECK_JSON(got, want) check_json(got, want, __LINE__)

static void test_union(void)
{
	json_t *into = parse(
	    "{\"dynamicResult\":{"
	    "\"seccomp\":{\"syscalls\":[\"write\",\"read\",\"read\"]},"
	    "\"apparmor\":{\"profiles\":[\"p\"],\"executions\":[\"/bin/sh\"],"
	    "\"capabilities\":[\"net_raw\"],"
	    "\"files\":[{\"path\":\"/etc/passwd\",\"permissions\":[\"r\"],\"owner\":true},"
	    "{\"path\":\"/tmp/a\",\"permissions\":[\"w\",\"r\"],\"owner\":true},"
	    "{\"path\":\"/new\",\"permissions\":[\"l\"],\"oldPath\":\"/old1\"}],"
	    "\"signals\":[{\"peer\":\"x\",\"permissions\":[\"send\"],\"signals\":[\"term\"]}],"
	    "\"ptraces\":[{\"peer\":\"y\",\"permissions\":[\"read\"]}],"
	    "\"unhandled\":[\"b\"]},"
	    "\"bpf\":{\"mounts\":[{\"path\":\"/m\",\"type\":\"tmpfs\",\"flags\":[\"ro\"]}],"
	    "\"network\":{\"egresses\":[{\"ip\":\"10.0.0.1\",\"ports\":[443]}],"
	    "\"sockets\":[{\"domain\":\"inet\",\"type\":\"stream\",\"protocol\":\"tcp\"}]}}},"
	    "\"profile\":{\"name\":\"old\",\"enforcer\":\"AppArmor\",\"mode\":\"enforce\","
	    "\"content\":\"old content\"},"
	    "\"staticResult\":{\"kept\":true}}");
	json_t *from = parse(
	    "{\"dynamicResult\":{"
	    "\"seccomp\":{\"syscalls\":[\"openat\",\"read\"]},"
	    "\"apparmor\":{\"profiles\":[\"p\"],\"executions\":[\"/bin/cat\"],"
	    "\"files\":[{\"path\":\"/etc/passwd\",\"permissions\":[\"r\",\"w\"],\"owner\":true},"
	    "{\"path\":\"/tmp/a\",\"permissions\":[\"k\"]},"
	    "{\"path\":\"/new\",\"permissions\":[\"r\"],\"oldPath\":\"/old2\"},"
	    "{\"path\":\"/bin/cat\",\"permissions\":[\"m\",\"r\"]}],"
	    "\"signals\":[{\"peer\":\"x\",\"permissions\":[\"receive\"],\"signals\":[\"hup\"]},"
	    "{\"peer\":\"a\",\"permissions\":[\"send\"],\"signals\":[\"kill\"]}],"
	    "\"ptraces\":[{\"peer\":\"y\",\"permissions\":[\"trace\"]}],"
	    "\"unhandled\":[\"a\"]},"
	    "\"bpf\":{\"mounts\":[{\"path\":\"/m\",\"type\":\"tmpfs\",\"flags\":[\"nosuid\"]},"
	    "{\"path\":\"/m\",\"type\":\"proc\",\"flags\":[]}],"
	    "\"capabilities\":[\"chown\"],"
	    "\"network\":{\"egresses\":[{\"ip\":\"10.0.0.1\",\"ports\":[80,443]},"
	    "{\"ip\":\"1.1.1.1\",\"ports\":[53]}],"
	    "\"sockets\":[{\"domain\":\"inet\",\"type\":\"stream\",\"protocol\":\"tcp\"},"
	    "{\"domain\":\"unix\",\"type\":\"dgram\"}]}}},"
	    "\"profile\":{\"name\":\"new\",\"enforcer\":\"AppArmorSeccomp\",\"mode\":\"enforce\","
	    "\"content\":\"new content\",\"seccompContent\":\"{}\"},"
	    "\"staticResult\":{\"ignored\":true}}");

	CHECK(apm_merge_data(into, from) == 0);
	CHECK_JSON(
	    into,
	    "{\"dynamicResult\":{"
	    "\"seccomp\":{\"syscalls\":[\"openat\",\"read\",\"write\"]},"
	    "\"apparmor\":{\"profiles\":[\"p\"],\"executions\":[\"/bin/cat\",\"/bin/sh\"],"
	    "\"capabilities\":[\"net_raw\"],"
	    "\"files\":[{\"path\":\"/bin/cat\",\"permissions\":[\"m\",\"r\"]},"
	    "{\"path\":\"/etc/passwd\",\"permissions\":[\"r\",\"w\"],\"owner\":true},"
	    "{\"path\":\"/new\",\"permissions\":[\"l\",\"r\"],\"oldPath\":\"/old1\"},"
	    "{\"path\":\"/tmp/a\",\"permissions\":[\"k\",\"r\",\"w\"]}],"
	    "\"signals\":[{\"peer\":\"a\",\"permissions\":[\"send\"],\"signals\":[\"kill\"]},"
	    "{\"peer\":\"x\",\"permissions\":[\"receive\",\"send\"],\"signals\":[\"hup\",\"term\"]}"
	    "],"
	    "\"ptraces\":[{\"peer\":\"y\",\"permissions\":[\"read\",\"trace\"]}],"
	    "\"unhandled\":[\"a\",\"b\"]},"
	    "\"bpf\":{\"mounts\":[{\"path\":\"/m\",\"type\":\"proc\",\"flags\":[]},"
	    "{\"path\":\"/m\",\"type\":\"tmpfs\",\"flags\":[\"nosuid\",\"ro\"]}],"
	    "\"capabilities\":[\"chown\"],"
	    "\"network\":{\"egresses\":[{\"ip\":\"1.1.1.1\",\"ports\":[53]},"
	    "{\"ip\":\"10.0.0.1\",\"ports\":[80,443]}],"
	    "\"sockets\":[{\"domain\":\"inet\",\"type\":\"stream\",\"protocol\":\"tcp\"},"
	    "{\"domain\":\"unix\",\"type\":\"dgram\"}]}}},"
	    "\"profile\":{\"name\":\"new\",\"enforcer\":\"AppArmorSeccomp\",\"mode\":\"enforce\","
	    "\"content\":\"new content\",\"seccompContent\":\"{}\"},"
	    "\"staticResult\":{\"kept\":true}}");
	/* Idempotent: merging the same data again changes nothing. */
	{
		char *before = json_dumps(into, JSON_COMPACT | JSON_SORT_KEYS), *after;
		CHECK(apm_merge_data(into, from) == 0);
		after = json_dumps(into, JSON_COMPACT | JSON_SORT_KEYS);
		CHECK_STR(after, before);
		free(before);
		free(after);
	}
	json_decref(into);
	json_decref(from);
}

static void test_into_empty(void)
{
	json_t *into = parse("{}");
	json_t *from =
	    parse("{\"dynamicResult\":{\"seccomp\":{\"syscalls\":[\"b\",\"a\"]}},"
		  "\"profile\":{\"name\":\"n\",\"enforcer\":\"Seccomp\",\"mode\":\"enforce\"}}");

	CHECK(apm_merge_data(into, from) == 0);
	CHECK_JSON(into,
		   "{\"dynamicResult\":{\"seccomp\":{\"syscalls\":[\"a\",\"b\"]}},"
		   "\"profile\":{\"name\":\"n\",\"enforcer\":\"Seccomp\",\"mode\":\"enforce\"}}");
	/* No profile in the import: the existing one stays. */
	json_decref(from);
	from = parse("{\"dynamicResult\":{\"seccomp\":{\"syscalls\":[\"c\"]}}}");
	CHECK(apm_merge_data(into, from) == 0);
	CHECK_JSON(into,
		   "{\"dynamicResult\":{\"seccomp\":{\"syscalls\":[\"a\",\"b\",\"c\"]}},"
		   "\"profile\":{\"name\":\"n\",\"enforcer\":\"Seccomp\",\"mode\":\"enforce\"}}");
	CHECK(apm_merge_data(into, json_array_get(json_object_get(from, "x"), 0)) == -EINVAL);
	json_decref(into);
	json_decref(from);
}

static void test_many_files(void)
{
	json_t *into = parse("{\"dynamicResult\":{\"apparmor\":{\"files\":[]}}}");
	json_t *from = parse("{\"dynamicResult\":{\"apparmor\":{\"files\":[]}}}");
	json_t *fi = json_object_get(
	    json_object_get(json_object_get(into, "dynamicResult"), "apparmor"), "files");
	json_t *ff = json_object_get(
	    json_object_get(json_object_get(from, "dynamicResult"), "apparmor"), "files");
	char path[64];

	/* 30000 each, half overlapping: must stay fast (no quadratic pass). */
	for (int i = 0; i < 30000; i++) {
		snprintf(path, sizeof(path), "/data/f%05d", i);
		json_array_append_new(fi,
				      json_pack("{s:s, s:[s]}", "path", path, "permissions", "r"));
		snprintf(path, sizeof(path), "/data/f%05d", i + 15000);
		json_array_append_new(ff,
				      json_pack("{s:s, s:[s]}", "path", path, "permissions", "w"));
	}
	CHECK(apm_merge_data(into, from) == 0);
	fi = json_object_get(json_object_get(json_object_get(into, "dynamicResult"), "apparmor"),
			     "files");
	CHECK(json_array_size(fi) == 45000);
	CHECK_STR(json_string_value(json_object_get(json_array_get(fi, 0), "path")),
		  "/data/f00000");
	CHECK(json_array_size(json_object_get(json_array_get(fi, 15000), "permissions")) == 2);
	CHECK(json_array_size(json_object_get(json_array_get(fi, 44999), "permissions")) == 1);
	json_decref(into);
	json_decref(from);
}

int main(void)
{
	test_union();
	test_into_empty();
	test_many_files();
	return TEST_SUMMARY();
}
