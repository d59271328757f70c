#include "profile_build.h"
#include "apm_model.h"
#include "log.h"
#include "pathnorm.h"
#include "profile_apparmor.h"
#include "profile_seccomp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Union of two AppArmor permission strings in a fixed letter order; 'a' is
 * dropped when 'w' is there (AppArmor refuses both in one rule). */
static void perms_union(char *dst, size_t len, const char *a, const char *b)
{
	static const char order[] = "mrwaklx";
	size_t n = 0;

	for (const char *c = order; *c && n + 1 < len; c++) {
		if (!strchr(a, *c) && !strchr(b, *c))
			continue;
		if (*c == 'a' && (strchr(a, 'w') || strchr(b, 'w')))
			continue;
		dst[n++] = *c;
	}
	dst[n] = '\0';
}

/* Rewrites file paths with the path normaliser (library dirs, /tmp, /proc
 * pids, random segments) and merges rules that became the same path. The
 * store keeps the raw paths; only the profile and the object are
 * normalised, so a better normaliser can rebuild old runs by replay. */
static int normalize_file_paths(struct behavior_model *m)
{
	char path[4096], perms[16];
	size_t out = 0;

	for (size_t i = 0; i < m->n_files; i++) {
		struct file_rule *f = &m->files[i];
		int rc = pathnorm_normalize_mask(f->path, f->perms, path, sizeof(path));
		char *canon;

		perms_union(perms, sizeof(perms), f->perms, "");
		canon = strdup(perms);
		if (!canon)
			return -ENOMEM;
		free(f->perms);
		f->perms = canon;

		if (rc == 0 && strcmp(path, f->path) != 0) {
			char *dup = strdup(path);
			if (!dup)
				return -ENOMEM;
			free(f->path);
			f->path = dup;
		}
	}
	behavior_model_normalize(m);
	for (size_t i = 0; i < m->n_files; i++) {
		struct file_rule *f = &m->files[i];
		struct file_rule *prev = out ? &m->files[out - 1] : NULL;

		if (prev && strcmp(prev->path, f->path) == 0 &&
		    strcmp(prev->old_path ? prev->old_path : "", f->old_path ? f->old_path : "") ==
			0) {
			char *dup;
			perms_union(perms, sizeof(perms), prev->perms, f->perms);
			dup = strdup(perms);
			if (!dup)
				return -ENOMEM;
			free(prev->perms);
			prev->perms = dup;
			/* vArmor AND-merges owner: one non-owner access drops it. */
			prev->owner = prev->owner && f->owner;
			free(f->path);
			free(f->perms);
			free(f->old_path);
			continue;
		}
		m->files[out++] = *f;
	}
	m->n_files = out;
	return 0;
}

int profile_build_run(struct behavior_model *m, struct profile_build *out)
{
	int rc;

	rc = normalize_file_paths(m);
	if (rc < 0)
		return rc;

	memset(out, 0, sizeof(*out));
	rc = profile_seccomp_generate(m, &out->seccomp);
	if (rc == -ENODATA) {
		/* Nothing beyond the always-allowed six was seen: like vArmor, no
		 * seccomp profile rather than one that would break the workload. */
		log_warn("%s/%s: no syscalls observed, no seccomp profile", m->namespace,
			 m->profile_name);
		out->seccomp = NULL;
		rc = 0;
	}
	if (rc == 0)
		rc = profile_apparmor_generate_ex(m, &out->apparmor, &out->skipped_rules);
	if (rc == 0 && out->skipped_rules) {
		char note[160];

		/* Said where users look: a condition on the model. */
		snprintf(note, sizeof(note),
			 "builder: %zu behaviors could not be written as AppArmor rules and were "
			 "left out (see the builder log)",
			 out->skipped_rules);
		log_warn("%s/%s: %s", m->namespace, m->profile_name, note);
		rc = strlist_add(&m->failed_nodes, note);
	}
	if (rc == 0)
		rc = apm_model_build(m, out->apparmor, out->seccomp, &out->model);
	if (rc < 0)
		profile_build_free(out);
	return rc;
}

void profile_build_free(struct profile_build *b)
{
	free(b->apparmor);
	free(b->seccomp);
	json_decref(b->model);
	memset(b, 0, sizeof(*b));
}
