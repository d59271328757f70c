#include "policy.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSEC_PER_MIN (60LL * 1000000000LL)

static const char *const target_kinds[] = {"Deployment", "StatefulSet", "DaemonSet", "Pod"};
static const char *const enforcers[] = {
    "AppArmor",	       "BPF",	     "Seccomp",		  "AppArmorBPF",
    "AppArmorSeccomp", "BPFSeccomp", "AppArmorBPFSeccomp"};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static const char *str_at(json_t *obj, const char *a, const char *b, const char *c)
{
	json_t *v = json_object_get(obj, a);

	if (b)
		v = json_object_get(v, b);
	if (c)
		v = json_object_get(v, c);
	return json_string_value(v);
}

/* Copies src into a fixed field; refuses what does not fit instead of
 * truncating a name into another valid name. */
static int copy_field(char *dst, size_t size, const char *src, const char *what, char *err,
		      size_t errlen)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= size) {
		snprintf(err, errlen, "%s is too long (%zu bytes)", what, n);
		return -EINVAL;
	}
	memcpy(dst, src ? src : "", n + 1);
	return 0;
}

static int policy_read_target(json_t *spec, struct policy *p, char *err, size_t errlen)
{
	json_t *target = json_object_get(spec, "target");
	json_t *selector = json_object_get(target, "selector");
	json_t *containers = json_object_get(target, "containers");
	const char *kind = json_string_value(json_object_get(target, "kind"));
	const char *name = json_string_value(json_object_get(target, "name"));
	size_t i;
	json_t *c;
	int rc;

	if (!kind || !in_list(kind, target_kinds, sizeof(target_kinds) / sizeof(*target_kinds))) {
		snprintf(err, errlen,
			 "spec.target.kind '%s' is not one of Deployment, StatefulSet, DaemonSet, "
			 "Pod",
			 kind ? kind : "");
		return -EINVAL;
	}
	if ((name && *name) == (json_is_object(selector) != 0)) {
		snprintf(err, errlen,
			 "spec.target needs exactly one of name and selector (they are mutually "
			 "exclusive)");
		return -EINVAL;
	}
	rc = copy_field(p->target_kind, sizeof(p->target_kind), kind, "spec.target.kind", err,
			errlen);
	if (!rc)
		rc = copy_field(p->target_name, sizeof(p->target_name), name, "spec.target.name",
				err, errlen);
	if (rc)
		return rc;
	if (json_is_object(selector)) {
		p->selector_json = json_dumps(selector, JSON_COMPACT | JSON_SORT_KEYS);
		if (!p->selector_json)
			return -ENOMEM;
	}
	if (containers && !json_is_array(containers)) {
		snprintf(err, errlen, "spec.target.containers must be a list of names");
		return -EINVAL;
	}
	p->containers = calloc(json_array_size(containers) + 1, sizeof(char *));
	if (!p->containers)
		return -ENOMEM;
	json_array_foreach(containers, i, c)
	{
		if (!json_is_string(c) || !*json_string_value(c)) {
			snprintf(err, errlen, "spec.target.containers[%zu] is not a name", i);
			return -EINVAL;
		}
		p->containers[p->n_containers] = strdup(json_string_value(c));
		if (!p->containers[p->n_containers++])
			return -ENOMEM;
	}
	return 0;
}

static void lowercase(char *s)
{
	for (; *s; s++)
		*s = (char)tolower((unsigned char)*s);
}

static int policy_names(struct policy *p, const char *install_ns, char *err, size_t errlen)
{
	int n;

	if (strcmp(p->kind, POLICY_KIND_CLUSTER) == 0) {
		n = snprintf(p->profile_name, sizeof(p->profile_name), "varmor-cluster-%s-%s",
			     install_ns, p->name);
		snprintf(p->model_namespace, sizeof(p->model_namespace), "%s", install_ns);
		p->target_namespace[0] = '\0';
	} else {
		n = snprintf(p->profile_name, sizeof(p->profile_name), "varmor-%s-%s", p->namespace,
			     p->name);
		snprintf(p->model_namespace, sizeof(p->model_namespace), "%s", p->namespace);
		snprintf(p->target_namespace, sizeof(p->target_namespace), "%s", p->namespace);
	}
	if (n < 0 || (size_t)n > POLICY_PROFILE_NAME_MAX) {
		snprintf(err, errlen,
			 "the profile name for this policy would be %d characters (at most %d): "
			 "use a shorter name",
			 n, POLICY_PROFILE_NAME_MAX);
		return -EINVAL;
	}
	lowercase(p->profile_name);
	snprintf(p->key, sizeof(p->key), "%s/%s", p->model_namespace, p->profile_name);
	return 0;
}

int policy_from_json(json_t *obj, const char *install_ns, struct policy *p, char *err,
		     size_t errlen)
{
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	json_t *spec = json_object_get(obj, "spec");
	json_t *duration;
	int rc;

	memset(p, 0, sizeof(*p));
	err[0] = '\0';
	if (!kind || (strcmp(kind, POLICY_KIND_NAMESPACED) && strcmp(kind, POLICY_KIND_CLUSTER))) {
		snprintf(err, errlen, "object of kind '%s' is not a vArmor policy",
			 kind ? kind : "");
		return -EINVAL;
	}
	rc = copy_field(p->kind, sizeof(p->kind), kind, "kind", err, errlen);
	if (!rc)
		rc = copy_field(p->name, sizeof(p->name), str_at(obj, "metadata", "name", NULL),
				"metadata.name", err, errlen);
	if (!rc)
		rc = copy_field(p->namespace, sizeof(p->namespace),
				strcmp(kind, POLICY_KIND_CLUSTER) == 0
				    ? ""
				    : str_at(obj, "metadata", "namespace", NULL),
				"metadata.namespace", err, errlen);
	if (!rc)
		rc = copy_field(p->uid, sizeof(p->uid), str_at(obj, "metadata", "uid", NULL),
				"metadata.uid", err, errlen);
	if (!rc)
		rc = copy_field(p->mode, sizeof(p->mode), str_at(spec, "policy", "mode", NULL),
				"spec.policy.mode", err, errlen);
	if (!rc)
		rc = copy_field(p->enforcer, sizeof(p->enforcer),
				str_at(spec, "policy", "enforcer", NULL), "spec.policy.enforcer",
				err, errlen);
	if (!rc)
		rc = copy_field(p->status_phase, sizeof(p->status_phase),
				str_at(obj, "status", "phase", NULL), "status.phase", err, errlen);
	if (rc)
		goto fail;
	if (!p->name[0] || (strcmp(kind, POLICY_KIND_NAMESPACED) == 0 && !p->namespace[0])) {
		snprintf(err, errlen, "policy without metadata.name or metadata.namespace");
		rc = -EINVAL;
		goto fail;
	}
	if (strcmp(p->mode, "BehaviorModeling") != 0) {
		/* The key still names the policy's run, if it has one. */
		char ignored[160];
		if (policy_names(p, install_ns, ignored, sizeof(ignored)) < 0)
			p->key[0] = '\0';
		return 1;
	}
	if (!in_list(p->enforcer, enforcers, sizeof(enforcers) / sizeof(*enforcers))) {
		snprintf(err, errlen, "spec.policy.enforcer '%s' is not a vArmor enforcer",
			 p->enforcer);
		rc = -EINVAL;
		goto fail;
	}
	duration = json_object_get(
	    json_object_get(json_object_get(spec, "policy"), "modelingOptions"), "duration");
	if (!json_is_integer(duration) || json_integer_value(duration) <= 0 ||
	    json_integer_value(duration) > 525600) {
		snprintf(err, errlen,
			 "spec.policy.modelingOptions.duration must be a number of minutes "
			 "between 1 and 525600");
		rc = -EINVAL;
		goto fail;
	}
	p->duration_min = json_integer_value(duration);
	p->update_existing = json_is_true(json_object_get(spec, "updateExistingWorkloads"));
	rc = policy_read_target(spec, p, err, errlen);
	if (!rc)
		rc = policy_names(p, install_ns, err, errlen);
	if (rc)
		goto fail;
	return 0;
fail:
	policy_free(p);
	return rc;
}

void policy_free(struct policy *p)
{
	free(p->selector_json);
	for (size_t i = 0; i < p->n_containers; i++)
		free(p->containers[i]);
	free(p->containers);
	p->selector_json = NULL;
	p->containers = NULL;
	p->n_containers = 0;
}

enum policy_action policy_decide(const struct policy *p, const struct policy_run *run,
				 int64_t now_ns, int64_t *deadline_ns, char *err, size_t errlen)
{
	int64_t duration_s = p->duration_min * 60;

	err[0] = '\0';
	if (!run->generation)
		return POLICY_START;
	if (run->deadline_ns > now_ns) {
		int64_t want;

		if (strcmp(run->enforcer, p->enforcer) != 0) {
			snprintf(err, errlen,
				 "the enforcer cannot change while modeling (%s, now %s): wait "
				 "for the modeling to complete",
				 run->enforcer, p->enforcer);
			return POLICY_REFUSE;
		}
		if (duration_s == run->duration_s)
			return POLICY_KEEP;
		want = run->start_ns + p->duration_min * NSEC_PER_MIN;
		*deadline_ns = want > now_ns ? want : now_ns;
		return POLICY_MOVE_DEADLINE;
	}
	return duration_s != run->duration_s ? POLICY_START : POLICY_KEEP;
}
