#include "apm_merge.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static int merge_objects(json_t *into, json_t *from);
static json_t *normalize_array(json_t *arr);

/* An entry of a list of objects, with the members that decide who it is. */
struct entry {
	char *id;
	json_t *obj;
	size_t idx; /* position in the list: ties keep it */
};

static bool all_of_type(json_t *arr, json_type type)
{
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
	{
		if (type == JSON_INTEGER ? !json_is_number(v) : json_typeof(v) != type)
			return false;
	}
	return true;
}

static int cmp_string(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
		      json_string_value(*(json_t *const *)b));
}

static int cmp_number(const void *a, const void *b)
{
	double x = json_number_value(*(json_t *const *)a),
	       y = json_number_value(*(json_t *const *)b);

	return x < y ? -1 : x > y;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* Sorted, without duplicates (equal neighbours after sorting). */
static json_t *unique_sorted(json_t *arr, int (*cmp)(const void *, const void *))
{
	size_t n = json_array_size(arr);
	json_t **items = calloc(n ? n : 1, sizeof(*items));
	json_t *out = json_array();

	if (!items || !out) {
		free(items);
		json_decref(out);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		items[i] = json_array_get(arr, i);
	qsort(items, n, sizeof(*items), cmp);
	for (size_t i = 0; i < n; i++)
		if ((i == 0 || cmp(&items[i - 1], &items[i]) != 0) &&
		    json_array_append(out, items[i]) < 0) {
			json_decref(out);
			out = NULL;
			break;
		}
	free(items);
	return out;
}

/* The identity of an object entry: itself without list members, owner and
 * oldPath, as canonical JSON (sorted keys). */
static char *entry_id(json_t *obj)
{
	json_t *key = json_object();
	const char *k;
	json_t *v;
	char *id;

	if (!key)
		return NULL;
	json_object_foreach(obj, k, v)
	{
		if (json_is_array(v) || strcmp(k, "owner") == 0 || strcmp(k, "oldPath") == 0)
			continue;
		json_object_set(key, k, v);
	}
	id = json_dumps(key, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	json_decref(key);
	return id;
}

/* Folds entry b into a (same identity). */
static int merge_entry(json_t *a, json_t *b)
{
	json_t *ao = json_object_get(a, "owner"), *bo = json_object_get(b, "owner");
	const char *k;
	json_t *v;
	int rc;

	json_object_foreach(b, k, v)
	{
		json_t *mine = json_object_get(a, k);
		if (strcmp(k, "owner") == 0 || strcmp(k, "oldPath") == 0)
			continue;
		if (json_is_array(v) && json_is_array(mine)) {
			if (json_array_extend(mine, v) < 0)
				return -ENOMEM;
		} else if (json_is_object(v) && json_is_object(mine)) {
			rc = merge_objects(mine, v);
			if (rc < 0)
				return rc;
		} else if (!mine && json_object_set(a, k, v) < 0) {
			return -ENOMEM;
		}
	}
	/* Owner-only rules are narrower: keep one only when both sides had it. */
	if (json_is_true(ao) && !json_is_true(bo))
		json_object_del(a, "owner");
	{
		const char *op = json_string_value(json_object_get(a, "oldPath"));
		json_t *bp = json_object_get(b, "oldPath");
		if ((!op || !*op) && json_string_length(bp) &&
		    json_object_set(a, "oldPath", bp) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Normalises every list inside obj, in place. */
static int normalize_object(json_t *obj)
{
	const char *k;
	json_t *v;
	void *tmp;

	json_object_foreach_safe(obj, tmp, k, v)
	{
		if (json_is_array(v)) {
			json_t *n = normalize_array(v);
			if (!n || json_object_set_new(obj, k, n) < 0)
				return -ENOMEM;
		} else if (json_is_object(v)) {
			int rc = normalize_object(v);
			if (rc < 0)
				return rc;
		}
	}
	if (json_is_false(json_object_get(obj, "owner")))
		json_object_del(obj, "owner");
	if (json_is_string(json_object_get(obj, "oldPath")) &&
	    !json_string_length(json_object_get(obj, "oldPath")))
		json_object_del(obj, "oldPath");
	return 0;
}

static json_t *normalize_objects(json_t *arr)
{
	size_t n = json_array_size(arr), m = 0;
	struct entry *e = calloc(n ? n : 1, sizeof(*e));
	json_t *out = json_array();
	int rc = 0;

	if (!e || !out)
		goto fail;
	/* Work on copies: the entries are merged into each other. */
	for (size_t i = 0; i < n; i++) {
		e[i].obj = json_deep_copy(json_array_get(arr, i));
		e[i].id = e[i].obj ? entry_id(e[i].obj) : NULL;
		e[i].idx = i;
		if (!e[i].id)
			goto fail;
	}
	/* Ties in list order: the earlier side comes first, so oldPath is the first one. */
	qsort(e, n, sizeof(*e), cmp_entry);
	for (size_t i = 0; i < n && !rc; i++) {
		if (m > 0 && strcmp(e[m - 1].id, e[i].id) == 0) {
			rc = merge_entry(e[m - 1].obj, e[i].obj);
			continue;
		}
		if (m != i) {
			struct entry t = e[m];
			e[m] = e[i];
			e[i] = t;
		}
		m++;
	}
	for (size_t i = 0; i < m && !rc; i++) {
		rc = normalize_object(e[i].obj);
		if (!rc && json_array_append(out, e[i].obj) < 0)
			rc = -ENOMEM;
	}
	if (rc)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		free(e[i].id);
		json_decref(e[i].obj);
	}
	free(e);
	return out;
fail:
	for (size_t i = 0; e && i < n; i++) {
		free(e[i].id);
		json_decref(e[i].obj);
	}
	free(e);
	json_decref(out);
	return NULL;
}

/* Anything else (mixed lists): unique by canonical JSON, sorted by it. */
static json_t *normalize_mixed(json_t *arr)
{
	size_t n = json_array_size(arr);
	struct entry *e = calloc(n ? n : 1, sizeof(*e));
	json_t *out = json_array();
	bool ok = e && out;

	for (size_t i = 0; ok && i < n; i++) {
		e[i].obj = json_array_get(arr, i);
		e[i].id = json_dumps(e[i].obj, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		e[i].idx = i;
		ok = e[i].id != NULL;
	}
	if (ok)
		qsort(e, n, sizeof(*e), cmp_entry);
	for (size_t i = 0; ok && i < n; i++)
		if ((i == 0 || strcmp(e[i - 1].id, e[i].id) != 0) &&
		    json_array_append(out, e[i].obj) < 0)
			ok = false;
	for (size_t i = 0; e && i < n; i++)
		free(e[i].id);
	free(e);
	if (!ok) {
		json_decref(out);
		return NULL;
	}
	return out;
}

/* A new, normalised list. */
static json_t *normalize_array(json_t *arr)
{
	if (all_of_type(arr, JSON_STRING))
		return unique_sorted(arr, cmp_string);
	if (all_of_type(arr, JSON_INTEGER))
		return unique_sorted(arr, cmp_number);
	if (all_of_type(arr, JSON_OBJECT))
		return normalize_objects(arr);
	return normalize_mixed(arr);
}

static int merge_objects(json_t *into, json_t *from)
{
	const char *k;
	json_t *v;
	int rc;

	json_object_foreach(from, k, v)
	{
		json_t *mine = json_object_get(into, k);
		if (json_is_object(mine) && json_is_object(v)) {
			rc = merge_objects(mine, v);
			if (rc < 0)
				return rc;
		} else if (json_is_array(mine) && json_is_array(v)) {
			json_t *both = json_array();
			if (!both || json_array_extend(both, mine) < 0 ||
			    json_array_extend(both, v) < 0 ||
			    json_object_set_new(into, k, both) < 0)
				return -ENOMEM;
		} else if (json_object_set_new(into, k, json_deep_copy(v)) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

int apm_merge_data(json_t *into, json_t *from)
{
	json_t *dr_into, *dr_from, *profile, *st;
	int rc;

	if (!json_is_object(into) || !json_is_object(from))
		return -EINVAL;
	dr_from = json_object_get(from, "dynamicResult");
	dr_into = json_object_get(into, "dynamicResult");
	if (json_is_object(dr_from) && !json_is_object(dr_into)) {
		if (json_object_set_new(into, "dynamicResult", json_object()) < 0)
			return -ENOMEM;
		dr_into = json_object_get(into, "dynamicResult");
	}
	if (json_is_object(dr_from)) {
		rc = merge_objects(dr_into, dr_from);
		if (rc < 0)
			return rc;
	}
	if (json_is_object(dr_into)) {
		rc = normalize_object(dr_into);
		if (rc < 0)
			return rc;
	}
	profile = json_object_get(from, "profile");
	if (profile && json_object_set_new(into, "profile", json_deep_copy(profile)) < 0)
		return -ENOMEM;
	st = json_object_get(from, "staticResult");
	if (st && !json_object_get(into, "staticResult") &&
	    json_object_set_new(into, "staticResult", json_deep_copy(st)) < 0)
		return -ENOMEM;
	return 0;
}
