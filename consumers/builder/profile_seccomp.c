#include "profile_seccomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"

/* The modeling filter allows these, so they are never observed in audit mode;
 * every profile allows them in a group of their own, as vArmor does. */
static const char *const always_allowed[] = {"open", "openat", "openat2", "close", "read", "write"};

#define N_ALWAYS (sizeof(always_allowed) / sizeof(always_allowed[0]))

static bool is_always_allowed(const char *name)
{
	for (size_t i = 0; i < N_ALWAYS; i++)
		if (strcmp(always_allowed[i], name) == 0)
			return true;
	return false;
}

/* A name that reaches a kernel filter must be a real syscall identifier; a
 * stray byte here would at best fail the runtime, at worst hide in JSON. */
static bool valid_syscall_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int profile_seccomp_generate(const struct behavior_model *m, char **out_json)
{
	const char **sorted = NULL;
	json_t *root = NULL, *six = NULL, *observed = NULL;
	size_t n = 0;
	int ret = -ENOMEM;

	*out_json = NULL;
	for (size_t i = 0; i < m->syscalls.len; i++) {
		if (!valid_syscall_name(m->syscalls.items[i])) {
			char a[128], b[128];

			log_error("seccomp profile %s: invalid syscall name \"%s\"",
				  log_printable(m->profile_name, a, sizeof(a)),
				  log_printable(m->syscalls.items[i], b, sizeof(b)));
			return -EINVAL;
		}
	}

	/* Sort a private copy: the model is const and may not be normalized. */
	sorted = calloc(m->syscalls.len ? m->syscalls.len : 1, sizeof(*sorted));
	if (!sorted)
		goto cleanup;
	for (size_t i = 0; i < m->syscalls.len; i++)
		if (!is_always_allowed(m->syscalls.items[i]))
			sorted[n++] = m->syscalls.items[i];
	if (!n) {
		ret = -ENODATA;
		goto cleanup;
	}
	qsort(sorted, n, sizeof(*sorted), cmp_cstr);

	six = json_array();
	observed = json_array();
	if (!six || !observed)
		goto cleanup;
	for (size_t i = 0; i < N_ALWAYS; i++)
		if (json_array_append_new(six, json_string(always_allowed[i])))
			goto cleanup;
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(sorted[i - 1], sorted[i]) == 0)
			continue;
		if (json_array_append_new(observed, json_string(sorted[i])))
			goto cleanup;
	}
	/* "o" steals both arrays, on failure too (jansson >= 2.11). */
	root = json_pack("{s:s, s:[{s:o, s:s}, {s:o, s:s}]}", "defaultAction", "SCMP_ACT_ERRNO",
			 "syscalls", "names", six, "action", "SCMP_ACT_ALLOW", "names", observed,
			 "action", "SCMP_ACT_ALLOW");
	six = observed = NULL;
	if (!root)
		goto cleanup;
	*out_json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	ret = *out_json ? 0 : -ENOMEM;

cleanup:
	if (ret == -ENOMEM) {
		char a[128];

		log_error("seccomp profile %s: out of memory",
			  log_printable(m->profile_name, a, sizeof(a)));
	}
	json_decref(six);
	json_decref(observed);
	json_decref(root);
	free(sorted);
	return ret;
}
