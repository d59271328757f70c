/* The behavior data of an ArmorProfileModel JSON object (kubectl -o json,
 * the status API's GET, or `armorsmith model`'s NAME.armorprofilemodel.json)
 * as the advisor reads it: every item keeps where it came from, so that an
 * explanation can cite the exact element. */
#ifndef ARMORSMITH_ADVISOR_BEHAVIOR_DATA_H
#define ARMORSMITH_ADVISOR_BEHAVIOR_DATA_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

enum bd_source { BD_APPARMOR, BD_BPF, BD_SECCOMP };

/* "apparmor", "bpf" or "seccomp": the key under data.dynamicResult. */
const char *bd_source_name(enum bd_source s);

struct bd_item {
	char *value;
	enum bd_source source;
	size_t index; /* position in its list, for citations */
};

struct bd_file {
	char *path;
	char *old_path; /* NULL when absent or empty */
	char **permissions;
	size_t n_permissions;
	bool owner;
	enum bd_source source;
	size_t index;
};

struct bd_mount {
	char *path;
	char *type;
	bool umount; /* its flags name "umount" */
	size_t index;
};

struct bd_items {
	struct bd_item *v;
	size_t n;
};

struct behavior_data {
	char *name;	    /* metadata.name */
	char *namespace;    /* metadata.namespace, may be NULL */
	char *profile_name; /* data.profile.name, may be NULL */
	char *enforcer;	    /* data.profile.enforcer, may be NULL */
	bool has_apparmor, has_bpf, has_seccomp;
	struct bd_items capabilities; /* apparmor, then bpf */
	struct bd_items executions;   /* apparmor, then bpf */
	struct bd_items syscalls;     /* seccomp */
	struct bd_file *files;	      /* apparmor, then bpf */
	size_t n_files;
	struct bd_mount *mounts; /* bpf */
	size_t n_mounts;
};

/*
 * Reads the ArmorProfileModel JSON file at path into *bd. The object must
 * be an ArmorProfileModel (kind, when given, says so) with a
 * data.dynamicResult object; every list under it must have the CRD's shape.
 * On failure err names the file and the missing or malformed element.
 * Returns 0, -ENOENT/-EACCES (unreadable), -EINVAL (not a usable model),
 * -ENOMEM.
 */
int behavior_data_load(const char *path, struct behavior_data *bd, char *err, size_t errlen);

/* The same from an already-parsed object; label names it in messages. */
int behavior_data_parse(json_t *root, const char *label, struct behavior_data *bd, char *err,
			size_t errlen);

void behavior_data_free(struct behavior_data *bd);

#endif
