/* Loading and checking the built-in rule catalogue. */
#include "catalogue.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ARMORSMITH_ADVISOR_RULES
#define ARMORSMITH_ADVISOR_RULES "data/policy-advisor/built-in-rules.json"
#endif

static const char *const category_names[ADVISOR_CATEGORY_COUNT] = {
    [ADVISOR_ESCAPE_PATTERN] = "escape_pattern",
    [ADVISOR_CAPABILITY_SET] = "capability_set",
    [ADVISOR_CAPABILITY] = "capability",
    [ADVISOR_BLOCKING_EXPLOIT_VECTORS] = "blocking_exploit_vectors",
    [ADVISOR_INFORMATION_LEAK] = "information_leak",
    [ADVISOR_SENSITIVE_OPERATIONS] = "sensitive_operations",
    [ADVISOR_VULNERABILITY_MITIGATION] = "vulnerability_mitigation",
};

const char *advisor_category_name(enum advisor_category c)
{
	return c < ADVISOR_CATEGORY_COUNT ? category_names[c] : "?";
}

const char *advisor_catalogue_default_path(void)
{
	const char *env = getenv("ARMORSMITH_ADVISOR_RULES");

	return env && *env ? env : ARMORSMITH_ADVISOR_RULES;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A list of strings at obj[key] (absent: empty). */
static int load_strings(json_t *obj, const char *key, struct strlist *out, const char *file,
			const char *where, char *err, size_t errlen)
{
	json_t *arr = json_object_get(obj, key), *v;
	size_t i;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(err, errlen, "%s: %s.%s is not a list of strings", file, where, key);
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			return fail(err, errlen, "%s: %s.%s[%zu] is not a string", file, where, key,
				    i);
		if (strlist_add(out, json_string_value(v)))
			return -ENOMEM;
	}
	return 0;
}

/*
 * The catalogue's patterns are Python `re` expressions for re.search().
 * Those in the contract use only what POSIX ERE shares with Python
 * (alternation, anchors, ".*", escaped slashes), so regcomp() judges them
 * the same. REG_NEWLINE keeps "." from matching a newline, as in Python;
 * a path with an embedded newline is the one place where "^" and "$" could
 * still differ, and the README says so.
 */
static int load_files(json_t *conflicts, struct advisor_rule *r, const char *file,
		      const char *where, char *err, size_t errlen)
{
	json_t *arr = json_object_get(conflicts, "files"), *v;
	size_t i;
	int ret;

	if (!arr)
		return 0;
	if (!json_is_array(arr))
		return fail(err, errlen, "%s: %s.conflicts.files is not a list", file, where);
	r->conflict_files = calloc(json_array_size(arr) + 1, sizeof(*r->conflict_files));
	if (!r->conflict_files)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		struct advisor_file_conflict *fc = &r->conflict_files[i];
		char at[512];
		json_t *re = json_object_get(v, "path_regex");

		snprintf(at, sizeof(at), "%s.conflicts.files[%zu]", where, i);
		if (!json_is_object(v))
			return fail(err, errlen, "%s: %s is not an object", file, at);
		if (!json_is_string(re))
			return fail(err, errlen, "%s: %s has no path_regex string", file, at);
		if (!json_is_array(json_object_get(v, "permissions")))
			return fail(err, errlen, "%s: %s has no permissions list", file, at);
		fc->path_regex = strdup(json_string_value(re));
		if (!fc->path_regex)
			return -ENOMEM;
		if (regcomp(&fc->re, fc->path_regex, REG_EXTENDED | REG_NOSUB | REG_NEWLINE)) {
			free(fc->path_regex);
			fc->path_regex = NULL;
			return fail(err, errlen, "%s: %s.path_regex \"%s\" does not compile", file,
				    at, json_string_value(re));
		}
		r->n_conflict_files = i + 1;
		ret = load_strings(v, "permissions", &fc->permissions, file, at, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

static bool only_keys(json_t *obj, const char *const *allowed, const char **bad)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		bool ok = false;

		for (size_t i = 0; allowed[i]; i++)
			ok |= strcmp(key, allowed[i]) == 0;
		if (!ok) {
			*bad = key;
			return false;
		}
	}
	return true;
}

static int load_rule(json_t *j, struct advisor_rule *r, const char *file, const char *where,
		     char *err, size_t errlen)
{
	static const char *const rule_keys[] = {"id", "enforcers", "conflicts", "applicable", NULL};
	static const char *const conflict_keys[] = {"features",	  "capabilities", "syscalls",
						    "executions", "files",	  NULL};
	static const char *const applicable_keys[] = {"features", "capabilities", NULL};
	json_t *id = json_object_get(j, "id"), *conflicts, *applicable;
	const char *bad = NULL;
	char at[256];
	int ret;

	if (!json_is_object(j))
		return fail(err, errlen, "%s: %s is not an object", file, where);
	if (!json_is_string(id) || !*json_string_value(id))
		return fail(err, errlen, "%s: %s has no id", file, where);
	snprintf(at, sizeof(at), "%s (%s)", where, json_string_value(id));
	if (!only_keys(j, rule_keys, &bad))
		return fail(err, errlen, "%s: %s has an unknown key \"%s\"", file, at, bad);
	r->id = strdup(json_string_value(id));
	if (!r->id)
		return -ENOMEM;
	if (!json_is_array(json_object_get(j, "enforcers")))
		return fail(err, errlen, "%s: %s has no enforcers list", file, at);
	ret = load_strings(j, "enforcers", &r->enforcers, file, at, err, errlen);
	if (ret)
		return ret;

	conflicts = json_object_get(j, "conflicts");
	if (conflicts) {
		if (!json_is_object(conflicts))
			return fail(err, errlen, "%s: %s.conflicts is not an object", file, at);
		if (!only_keys(conflicts, conflict_keys, &bad))
			return fail(err, errlen, "%s: %s.conflicts has an unknown kind \"%s\"",
				    file, at, bad);
		ret = load_strings(conflicts, "features", &r->conflict_features, file, at, err,
				   errlen);
		if (!ret)
			ret = load_strings(conflicts, "capabilities", &r->conflict_capabilities,
					   file, at, err, errlen);
		if (!ret)
			ret = load_strings(conflicts, "syscalls", &r->conflict_syscalls, file, at,
					   err, errlen);
		if (!ret)
			ret = load_strings(conflicts, "executions", &r->conflict_executions, file,
					   at, err, errlen);
		if (!ret)
			ret = load_files(conflicts, r, file, at, err, errlen);
		if (ret)
			return ret;
	}

	applicable = json_object_get(j, "applicable");
	if (applicable) {
		if (!json_is_object(applicable))
			return fail(err, errlen, "%s: %s.applicable is not an object", file, at);
		if (!only_keys(applicable, applicable_keys, &bad))
			return fail(err, errlen, "%s: %s.applicable has an unknown kind \"%s\"",
				    file, at, bad);
		r->has_applicable = true;
		ret = load_strings(applicable, "features", &r->applicable_features, file, at, err,
				   errlen);
		if (!ret)
			ret = load_strings(applicable, "capabilities", &r->applicable_capabilities,
					   file, at, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

int advisor_catalogue_load(const char *path, struct advisor_catalogue *cat, char *err,
			   size_t errlen)
{
	json_error_t jerr;
	json_t *root = NULL, *v;
	const char *key;
	int ret = 0;

	memset(cat, 0, sizeof(*cat));
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_cannot_open_file) {
			snprintf(err, errlen, "cannot read the rule catalogue %s: %s", path,
				 jerr.text);
			return -ENOENT;
		}
		ret = fail(err, errlen, "%s: not valid JSON (line %d: %s)", path, jerr.line,
			   jerr.text);
		goto cleanup;
	}
	if (!json_is_object(root)) {
		ret = fail(err, errlen, "%s: the rule catalogue is not a JSON object", path);
		goto cleanup;
	}
	json_object_foreach(root, key, v)
	{
		bool known = false;

		for (int c = 0; c < ADVISOR_CATEGORY_COUNT; c++)
			known |= strcmp(key, category_names[c]) == 0;
		if (!known) {
			ret = fail(err, errlen, "%s: unknown rule category \"%s\"", path, key);
			goto cleanup;
		}
	}
	for (int c = 0; c < ADVISOR_CATEGORY_COUNT; c++) {
		json_t *arr = json_object_get(root, category_names[c]);
		size_t i;

		if (!json_is_array(arr)) {
			ret = fail(err, errlen, "%s: no \"%s\" list of rules", path,
				   category_names[c]);
			goto cleanup;
		}
		cat->rules[c] = calloc(json_array_size(arr) + 1, sizeof(struct advisor_rule));
		if (!cat->rules[c]) {
			ret = -ENOMEM;
			goto cleanup;
		}
		json_array_foreach(arr, i, v)
		{
			char where[64];

			snprintf(where, sizeof(where), "%s[%zu]", category_names[c], i);
			cat->n_rules[c] = i + 1;
			ret = load_rule(v, &cat->rules[c][i], path, where, err, errlen);
			if (ret)
				goto cleanup;
		}
	}

cleanup:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory loading %s", path);
	if (ret)
		advisor_catalogue_free(cat);
	json_decref(root);
	return ret;
}

void advisor_catalogue_free(struct advisor_catalogue *cat)
{
	for (int c = 0; c < ADVISOR_CATEGORY_COUNT; c++) {
		for (size_t i = 0; cat->rules[c] && i < cat->n_rules[c]; i++) {
			struct advisor_rule *r = &cat->rules[c][i];

			free(r->id);
			strlist_free(&r->enforcers);
			strlist_free(&r->conflict_features);
			strlist_free(&r->conflict_capabilities);
			strlist_free(&r->conflict_syscalls);
			strlist_free(&r->conflict_executions);
			for (size_t f = 0; f < r->n_conflict_files; f++) {
				if (r->conflict_files[f].path_regex)
					regfree(&r->conflict_files[f].re);
				free(r->conflict_files[f].path_regex);
				strlist_free(&r->conflict_files[f].permissions);
			}
			free(r->conflict_files);
			strlist_free(&r->applicable_features);
			strlist_free(&r->applicable_capabilities);
		}
		free(cat->rules[c]);
		cat->rules[c] = NULL;
		cat->n_rules[c] = 0;
	}
}
