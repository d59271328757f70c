/* Reading the behavior data out of an ArmorProfileModel JSON object. */
#include "behavior_data.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bd_source_name(enum bd_source s)
{
	switch (s) {
	case BD_APPARMOR:
		return "apparmor";
	case BD_BPF:
		return "bpf";
	case BD_SECCOMP:
		return "seccomp";
	}
	return "?";
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

static int dup_opt(json_t *s, char **out)
{
	if (!json_is_string(s))
		return 0;
	*out = strdup(json_string_value(s));
	return *out ? 0 : -ENOMEM;
}

static int add_item(struct bd_items *items, const char *value, enum bd_source src, size_t index)
{
	struct bd_item *v = realloc(items->v, (items->n + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	items->v = v;
	v[items->n].value = strdup(value);
	if (!v[items->n].value)
		return -ENOMEM;
	v[items->n].source = src;
	v[items->n].index = index;
	items->n++;
	return 0;
}

/* obj[key], when present, must be a list of strings: each goes to items. */
static int read_strings(json_t *obj, const char *key, enum bd_source src, struct bd_items *items,
			const char *label, char *err, size_t errlen)
{
	json_t *arr = json_object_get(obj, key), *v;
	size_t i;
	int ret;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return fail(err, errlen, "%s: data.dynamicResult.%s.%s is not a list of strings",
			    label, bd_source_name(src), key);
	json_array_foreach(arr, i, v)
	{
		if (!json_is_string(v))
			return fail(err, errlen,
				    "%s: data.dynamicResult.%s.%s[%zu] is not a string", label,
				    bd_source_name(src), key, i);
		ret = add_item(items, json_string_value(v), src, i);
		if (ret)
			return ret;
	}
	return 0;
}

static int read_file(json_t *v, enum bd_source src, size_t i, struct bd_file *f, const char *label,
		     char *err, size_t errlen)
{
	const char *sn = bd_source_name(src);
	json_t *path = json_object_get(v, "path"), *perms = json_object_get(v, "permissions");
	json_t *old = json_object_get(v, "oldPath"), *p;
	size_t k;

	if (!json_is_object(v))
		return fail(err, errlen, "%s: data.dynamicResult.%s.files[%zu] is not an object",
			    label, sn, i);
	if (!json_is_string(path))
		return fail(err, errlen, "%s: data.dynamicResult.%s.files[%zu] has no path string",
			    label, sn, i);
	if (!json_is_array(perms))
		return fail(err, errlen,
			    "%s: data.dynamicResult.%s.files[%zu] (%s) has no permissions list",
			    label, sn, i, json_string_value(path));
	if (old && !json_is_null(old) && !json_is_string(old))
		return fail(err, errlen,
			    "%s: data.dynamicResult.%s.files[%zu].oldPath is not a string", label,
			    sn, i);
	f->source = src;
	f->index = i;
	f->owner = json_is_true(json_object_get(v, "owner"));
	f->path = strdup(json_string_value(path));
	if (!f->path)
		return -ENOMEM;
	/* vArmor matches oldPath only when it is non-empty (its Go type has
	 * omitempty, so "" and absent mean the same). */
	if (json_is_string(old) && *json_string_value(old)) {
		f->old_path = strdup(json_string_value(old));
		if (!f->old_path)
			return -ENOMEM;
	}
	f->permissions = calloc(json_array_size(perms) + 1, sizeof(char *));
	if (!f->permissions)
		return -ENOMEM;
	json_array_foreach(perms, k, p)
	{
		if (!json_is_string(p))
			return fail(
			    err, errlen,
			    "%s: data.dynamicResult.%s.files[%zu].permissions[%zu] is not a "
			    "string",
			    label, sn, i, k);
		f->permissions[k] = strdup(json_string_value(p));
		if (!f->permissions[k])
			return -ENOMEM;
		f->n_permissions = k + 1;
	}
	return 0;
}

static int read_files(json_t *obj, enum bd_source src, struct behavior_data *bd, const char *label,
		      char *err, size_t errlen)
{
	json_t *arr = json_object_get(obj, "files"), *v;
	struct bd_file *files;
	size_t i;
	int ret;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return fail(err, errlen, "%s: data.dynamicResult.%s.files is not a list", label,
			    bd_source_name(src));
	files = realloc(bd->files, (bd->n_files + json_array_size(arr) + 1) * sizeof(*files));
	if (!files)
		return -ENOMEM;
	bd->files = files;
	json_array_foreach(arr, i, v)
	{
		memset(&bd->files[bd->n_files], 0, sizeof(*bd->files));
		bd->n_files++;
		ret = read_file(v, src, i, &bd->files[bd->n_files - 1], label, err, errlen);
		if (ret)
			return ret;
	}
	return 0;
}

/* bpf.mounts: [{path, type, flags: [...]}]; vArmor's BPF enforcer names an
 * unmount with the flag "umount". */
static int read_mounts(json_t *bpf, struct behavior_data *bd, const char *label, char *err,
		       size_t errlen)
{
	json_t *arr = json_object_get(bpf, "mounts"), *v, *flags, *fl;
	size_t i, k;

	if (!arr || json_is_null(arr))
		return 0;
	if (!json_is_array(arr))
		return fail(err, errlen, "%s: data.dynamicResult.bpf.mounts is not a list", label);
	bd->mounts = calloc(json_array_size(arr) + 1, sizeof(*bd->mounts));
	if (!bd->mounts)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		struct bd_mount *m = &bd->mounts[i];

		if (!json_is_object(v) || !json_is_string(json_object_get(v, "path")))
			return fail(err, errlen,
				    "%s: data.dynamicResult.bpf.mounts[%zu] has no path string",
				    label, i);
		bd->n_mounts = i + 1;
		m->index = i;
		if (dup_opt(json_object_get(v, "path"), &m->path) ||
		    dup_opt(json_object_get(v, "type"), &m->type))
			return -ENOMEM;
		flags = json_object_get(v, "flags");
		if (flags && !json_is_array(flags))
			return fail(err, errlen,
				    "%s: data.dynamicResult.bpf.mounts[%zu].flags is not a list",
				    label, i);
		json_array_foreach(flags, k, fl) m->umount |=
		    json_is_string(fl) && strcmp(json_string_value(fl), "umount") == 0;
	}
	return 0;
}

static int read_section(json_t *dyn, const char *key, json_t **out, const char *label, char *err,
			size_t errlen)
{
	json_t *s = json_object_get(dyn, key);

	*out = NULL;
	if (!s || json_is_null(s))
		return 0;
	if (!json_is_object(s))
		return fail(err, errlen, "%s: data.dynamicResult.%s is not an object", label, key);
	*out = s;
	return 0;
}

int behavior_data_parse(json_t *root, const char *label, struct behavior_data *bd, char *err,
			size_t errlen)
{
	json_t *kind, *data, *dyn, *aa, *bpf, *sc, *meta, *profile;
	int ret = 0;

	memset(bd, 0, sizeof(*bd));
	if (!json_is_object(root))
		return fail(err, errlen, "%s: not a JSON object, so not an ArmorProfileModel",
			    label);
	kind = json_object_get(root, "kind");
	if (kind &&
	    !(json_is_string(kind) && strcmp(json_string_value(kind), "ArmorProfileModel") == 0)) {
		return fail(err, errlen, "%s: kind is %s%s%s, not ArmorProfileModel", label,
			    json_is_string(kind) ? "\"" : "",
			    json_is_string(kind) ? json_string_value(kind) : "not a string",
			    json_is_string(kind) ? "\"" : "");
	}
	data = json_object_get(root, "data");
	if (!json_is_object(data))
		return fail(err, errlen, "%s: no data object, so not an ArmorProfileModel", label);
	dyn = json_object_get(data, "dynamicResult");
	if (!json_is_object(dyn)) {
		json_t *st = json_object_get(root, "storageType");

		if (json_is_string(st) && strcmp(json_string_value(st), "LocalDisk") == 0)
			return fail(
			    err, errlen,
			    "%s: no data.dynamicResult (storageType LocalDisk: the behavior "
			    "data is served by the status API, export it from there)",
			    label);
		return fail(err, errlen, "%s: no data.dynamicResult object with behavior data",
			    label);
	}
	if (json_object_get(dyn, "appArmor"))
		return fail(err, errlen,
			    "%s: data.dynamicResult.appArmor is the field name of a later vArmor "
			    "API; this advisor reads crd.varmor.org/v1beta1 as of September 2025 "
			    "(data.dynamicResult.apparmor)",
			    label);

	ret = read_section(dyn, "apparmor", &aa, label, err, errlen);
	if (!ret)
		ret = read_section(dyn, "bpf", &bpf, label, err, errlen);
	if (!ret)
		ret = read_section(dyn, "seccomp", &sc, label, err, errlen);
	if (ret)
		goto cleanup;
	bd->has_apparmor = aa != NULL;
	bd->has_bpf = bpf != NULL;
	bd->has_seccomp = sc != NULL;

	meta = json_object_get(root, "metadata");
	profile = json_object_get(data, "profile");
	ret = dup_opt(json_object_get(meta, "name"), &bd->name);
	if (!ret)
		ret = dup_opt(json_object_get(meta, "namespace"), &bd->namespace);
	if (!ret)
		ret = dup_opt(json_object_get(profile, "name"), &bd->profile_name);
	if (!ret)
		ret = dup_opt(json_object_get(profile, "enforcer"), &bd->enforcer);

	/* Lists keep vArmor's order: AppArmor data first, then BPF data. */
	if (!ret)
		ret = read_strings(aa, "capabilities", BD_APPARMOR, &bd->capabilities, label, err,
				   errlen);
	if (!ret)
		ret = read_strings(bpf, "capabilities", BD_BPF, &bd->capabilities, label, err,
				   errlen);
	if (!ret)
		ret = read_strings(aa, "executions", BD_APPARMOR, &bd->executions, label, err,
				   errlen);
	if (!ret)
		ret = read_strings(bpf, "executions", BD_BPF, &bd->executions, label, err, errlen);
	if (!ret)
		ret = read_strings(sc, "syscalls", BD_SECCOMP, &bd->syscalls, label, err, errlen);
	if (!ret)
		ret = read_files(aa, BD_APPARMOR, bd, label, err, errlen);
	if (!ret)
		ret = read_files(bpf, BD_BPF, bd, label, err, errlen);
	if (!ret)
		ret = read_mounts(bpf, bd, label, err, errlen);

cleanup:
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory reading %s", label);
	if (ret)
		behavior_data_free(bd);
	return ret;
}

int behavior_data_load(const char *path, struct behavior_data *bd, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *root;
	int ret;

	memset(bd, 0, sizeof(*bd));
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (json_error_code(&jerr) == json_error_cannot_open_file) {
			snprintf(err, errlen, "cannot read the model %s: %s", path, jerr.text);
			return -ENOENT;
		}
		return fail(err, errlen, "%s: not valid JSON (line %d, column %d: %s)", path,
			    jerr.line, jerr.column, jerr.text);
	}
	ret = behavior_data_parse(root, path, bd, err, errlen);
	json_decref(root);
	return ret;
}

static void free_items(struct bd_items *items)
{
	for (size_t i = 0; i < items->n; i++)
		free(items->v[i].value);
	free(items->v);
	items->v = NULL;
	items->n = 0;
}

void behavior_data_free(struct behavior_data *bd)
{
	free(bd->name);
	free(bd->namespace);
	free(bd->profile_name);
	free(bd->enforcer);
	free_items(&bd->capabilities);
	free_items(&bd->executions);
	free_items(&bd->syscalls);
	for (size_t i = 0; i < bd->n_files; i++) {
		free(bd->files[i].path);
		free(bd->files[i].old_path);
		for (size_t k = 0; k < bd->files[i].n_permissions; k++)
			free(bd->files[i].permissions[k]);
		free(bd->files[i].permissions);
	}
	free(bd->files);
	for (size_t i = 0; i < bd->n_mounts; i++) {
		free(bd->mounts[i].path);
		free(bd->mounts[i].type);
	}
	free(bd->mounts);
	memset(bd, 0, sizeof(*bd));
}
