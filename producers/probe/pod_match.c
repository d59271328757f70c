#include "pod_match.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
	ENF_APPARMOR = 1 << 0,
	ENF_BPF = 1 << 1,
	ENF_SECCOMP = 1 << 2,
};

struct pod_match_target {
	char *kind;
	char *name;	   /* NULL: match by selector */
	json_t *selector;  /* owned; NULL when matching by name */
	char **containers; /* NULL when every container */
	size_t n_containers;
	char *namespace; /* NULL: every namespace */
	char *label_key; /* NULL: no check */
	char *label_value;
	int enforcers;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static bool empty(const char *s)
{
	return !s || !*s;
}

static int copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstlen)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

/* ---- label keys and values (apimachinery validation) ---- */

static bool alnum(char c)
{
	return isascii((unsigned char)c) && isalnum((unsigned char)c);
}

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], at most 63: a label value when
 * non-empty, and the name part of a qualified name. */
static bool valid_label_name(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

/* A DNS-1123 subdomain: lowercase alphanumeric labels joined by '.', each
 * label may contain '-' inside, at most 253 in all. */
static bool valid_dns_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.') {
			char c = s[i];
			if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') && c != '-')
				return false;
			continue;
		}
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return false;
		start = i + 1;
	}
	return true;
}

static bool valid_label_key(const char *key)
{
	const char *slash = strchr(key, '/');

	if (!slash)
		return valid_label_name(key, strlen(key));
	if (strchr(slash + 1, '/'))
		return false;
	return valid_dns_subdomain(key, (size_t)(slash - key)) &&
	       valid_label_name(slash + 1, strlen(slash + 1));
}

static bool valid_label_value(const char *v)
{
	size_t n = strlen(v);

	return n == 0 || valid_label_name(v, n);
}

/* ---- selectors ---- */

/* NULL when the labels object has no string value for key. */
static const char *label_get(const json_t *labels, const char *key)
{
	const json_t *v = json_is_object(labels) ? json_object_get(labels, key) : NULL;

	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool value_in(const json_t *values, const char *v)
{
	size_t i;
	const json_t *x;

	json_array_foreach(values, i, x)
	{
		if (strcmp(json_string_value(x), v) == 0)
			return true;
	}
	return false;
}

/* One matchExpressions entry: 1/0, or -EINVAL when malformed. */
static int expression_match(const json_t *e, size_t idx, const json_t *labels, char *err,
			    size_t errlen)
{
	const char *key, *op, *field, *have;
	const json_t *values, *x;
	size_t i, n_values;
	bool set_op;

	if (!json_is_object(e)) {
		set_err(err, errlen, "matchExpressions[%zu] is not an object", idx);
		return -EINVAL;
	}
	json_object_foreach((json_t *)e, field, x)
	{
		if (strcmp(field, "key") && strcmp(field, "operator") && strcmp(field, "values")) {
			set_err(err, errlen, "matchExpressions[%zu] has unknown field \"%s\"", idx,
				field);
			return -EINVAL;
		}
	}
	key = json_string_value(json_object_get(e, "key"));
	op = json_string_value(json_object_get(e, "operator"));
	values = json_object_get(e, "values");
	if (!key || !valid_label_key(key)) {
		set_err(err, errlen, "matchExpressions[%zu] key %s%s%s is not a valid label key",
			idx, key ? "\"" : "", key ? key : "(missing)", key ? "\"" : "");
		return -EINVAL;
	}
	if (!op) {
		set_err(err, errlen, "matchExpressions[%zu] (key \"%s\") has no operator", idx,
			key);
		return -EINVAL;
	}
	if (values && !json_is_null(values) && !json_is_array(values)) {
		set_err(err, errlen, "matchExpressions[%zu] (key \"%s\") values is not an array",
			idx, key);
		return -EINVAL;
	}
	n_values = json_is_array(values) ? json_array_size(values) : 0;
	json_array_foreach(values, i, x)
	{
		if (!json_is_string(x) || !valid_label_value(json_string_value(x))) {
			set_err(
			    err, errlen,
			    "matchExpressions[%zu] (key \"%s\") values[%zu] is not a valid label "
			    "value",
			    idx, key, i);
			return -EINVAL;
		}
	}
	if (!strcmp(op, "In") || !strcmp(op, "NotIn"))
		set_op = true;
	else if (!strcmp(op, "Exists") || !strcmp(op, "DoesNotExist"))
		set_op = false;
	else {
		set_err(err, errlen,
			"matchExpressions[%zu]: \"%s\" is not a valid label selector "
			"operator (In, NotIn, Exists, DoesNotExist)",
			idx, op);
		return -EINVAL;
	}
	if (set_op && n_values == 0) {
		set_err(err, errlen, "matchExpressions[%zu] (key \"%s\"): %s needs values", idx,
			key, op);
		return -EINVAL;
	}
	if (!set_op && n_values != 0) {
		set_err(err, errlen, "matchExpressions[%zu] (key \"%s\"): %s takes no values", idx,
			key, op);
		return -EINVAL;
	}
	have = label_get(labels, key);
	if (!strcmp(op, "In"))
		return have && value_in(values, have);
	if (!strcmp(op, "NotIn"))
		return !have || !value_in(values, have);
	if (!strcmp(op, "Exists"))
		return have != NULL;
	return have == NULL;
}

/* Validates the whole selector even after a requirement fails, so that a
 * malformed selector is reported whatever the labels are. */
int pod_match_selector(const json_t *selector, const json_t *labels, char *err, size_t errlen)
{
	const json_t *ml, *me, *x;
	const char *field;
	bool match = true;
	size_t i;

	if (!selector || json_is_null(selector))
		return 0;
	if (!json_is_object(selector)) {
		set_err(err, errlen, "label selector is not an object");
		return -EINVAL;
	}
	json_object_foreach((json_t *)selector, field, x)
	{
		if (strcmp(field, "matchLabels") && strcmp(field, "matchExpressions")) {
			set_err(err, errlen, "label selector has unknown field \"%s\"", field);
			return -EINVAL;
		}
	}
	ml = json_object_get(selector, "matchLabels");
	me = json_object_get(selector, "matchExpressions");
	if (ml && !json_is_null(ml)) {
		if (!json_is_object(ml)) {
			set_err(err, errlen, "matchLabels is not an object");
			return -EINVAL;
		}
		json_object_foreach((json_t *)ml, field, x)
		{
			const char *have;
			if (!valid_label_key(field)) {
				set_err(err, errlen,
					"matchLabels key \"%s\" is not a valid label key", field);
				return -EINVAL;
			}
			if (!json_is_string(x) || !valid_label_value(json_string_value(x))) {
				set_err(err, errlen,
					"matchLabels[\"%s\"] is not a valid label value (a string)",
					field);
				return -EINVAL;
			}
			have = label_get(labels, field);
			if (!have || strcmp(have, json_string_value(x)) != 0)
				match = false;
		}
	}
	if (me && !json_is_null(me)) {
		if (!json_is_array(me)) {
			set_err(err, errlen, "matchExpressions is not an array");
			return -EINVAL;
		}
		json_array_foreach(me, i, x)
		{
			int rc = expression_match(x, i, labels, err, errlen);
			if (rc < 0)
				return rc;
			if (!rc)
				match = false;
		}
	}
	return match;
}

/* ---- targets ---- */

static bool target_kind(const char *kind)
{
	return !strcmp(kind, "Deployment") || !strcmp(kind, "StatefulSet") ||
	       !strcmp(kind, "DaemonSet") || !strcmp(kind, "Pod");
}

/* vArmor's GetEnforcerType: case-insensitive parts of one string. */
static int parse_enforcer(const char *s, char *err, size_t errlen)
{
	char low[128];
	size_t n = strlen(s);
	int e = 0;

	if (n >= sizeof(low)) {
		set_err(err, errlen, "enforcer \"%.40s...\" is too long", s);
		return -EINVAL;
	}
	for (size_t i = 0; i <= n; i++)
		low[i] = (char)tolower((unsigned char)s[i]);
	if (strstr(low, "apparmor"))
		e |= ENF_APPARMOR;
	if (strstr(low, "bpf"))
		e |= ENF_BPF;
	if (strstr(low, "seccomp"))
		e |= ENF_SECCOMP;
	if (strstr(low, "networkproxy")) {
		set_err(err, errlen,
			"enforcer \"%s\": BehaviorModeling does not support NetworkProxy", s);
		return -EINVAL;
	}
	if (!e) {
		set_err(err, errlen, "enforcer \"%s\" has none of AppArmor, BPF, Seccomp", s);
		return -EINVAL;
	}
	return e;
}

void pod_match_target_free(struct pod_match_target *t)
{
	if (!t)
		return;
	free(t->kind);
	free(t->name);
	json_decref(t->selector);
	for (size_t i = 0; i < t->n_containers; i++)
		free(t->containers[i]);
	free(t->containers);
	free(t->namespace);
	free(t->label_key);
	free(t->label_value);
	free(t);
}

static char *dup_or_null(const char *s, int *rc)
{
	char *d;

	if (empty(s))
		return NULL;
	d = strdup(s);
	if (!d)
		*rc = -ENOMEM;
	return d;
}

int pod_match_target_new(const struct pod_match_spec *spec, struct pod_match_target **out,
			 char *err, size_t errlen)
{
	struct pod_match_target *t = calloc(1, sizeof(*t));
	const char *sel = spec->selector_json;
	bool has_selector;
	json_error_t jerr;
	int rc = 0;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	if (empty(spec->kind) || !target_kind(spec->kind)) {
		set_err(err, errlen,
			"target kind \"%s\" is not Deployment, StatefulSet, DaemonSet or Pod",
			spec->kind ? spec->kind : "");
		rc = -EINVAL;
		goto fail;
	}
	rc = parse_enforcer(spec->enforcer ? spec->enforcer : "", err, errlen);
	if (rc < 0)
		goto fail;
	t->enforcers = rc;
	rc = 0;
	has_selector = !empty(sel) && strcmp(sel, "null") != 0;
	if (has_selector == !empty(spec->name)) {
		set_err(err, errlen, "target %s: give either a name or a selector",
			has_selector ? "has both a name and a selector"
				     : "has no name and no selector");
		rc = -EINVAL;
		goto fail;
	}
	if (has_selector) {
		t->selector = json_loads(sel, JSON_DECODE_ANY, &jerr);
		if (!t->selector) {
			set_err(err, errlen, "target selector is not JSON: %s (at %d)", jerr.text,
				jerr.position);
			rc = -EINVAL;
			goto fail;
		}
		/* A JSON null decodes to nothing-matches; vArmor rejects it as absent. */
		if (json_is_null(t->selector)) {
			set_err(err, errlen, "target has no name and no selector");
			rc = -EINVAL;
			goto fail;
		}
		rc = pod_match_selector(t->selector, NULL, err, errlen);
		if (rc < 0)
			goto fail;
		rc = 0;
	}
	t->kind = dup_or_null(spec->kind, &rc);
	t->name = dup_or_null(spec->name, &rc);
	t->namespace = dup_or_null(spec->namespace, &rc);
	t->label_key = dup_or_null(spec->label_key, &rc);
	t->label_value =
	    dup_or_null(empty(spec->label_value) ? POD_MATCH_LABEL_VALUE : spec->label_value, &rc);
	if (rc < 0)
		goto fail;
	if (spec->n_containers) {
		t->containers = calloc(spec->n_containers, sizeof(*t->containers));
		if (!t->containers) {
			rc = -ENOMEM;
			goto fail;
		}
		for (size_t i = 0; i < spec->n_containers; i++) {
			t->containers[i] = strdup(spec->containers[i] ? spec->containers[i] : "");
			if (!t->containers[i]) {
				rc = -ENOMEM;
				goto fail;
			}
			t->n_containers = i + 1;
		}
	}
	*out = t;
	return 0;
fail:
	pod_match_target_free(t);
	return rc;
}

/* ---- owner chain ---- */

static const char *str_at(const json_t *obj, const char *a, const char *b)
{
	const json_t *x = json_object_get(obj, a);

	if (b)
		x = json_object_get(x, b);
	return json_string_value(x);
}

static const json_t *obj_labels(const json_t *obj)
{
	return json_object_get(json_object_get(obj, "metadata"), "labels");
}

/* The ownerReference with controller: true, or NULL. */
static const json_t *controller_ref(const json_t *obj)
{
	const json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences");
	const json_t *r;
	size_t i;

	json_array_foreach(refs, i, r)
	{
		if (json_is_true(json_object_get(r, "controller")))
			return r;
	}
	return NULL;
}

static bool in_apps(const char *api_version)
{
	return api_version && !strncmp(api_version, "apps/", 5);
}

/* Whether the chain goes on above an object of this kind through its
 * controller ref r: the kinds vArmor's webhook sees as workloads, reached
 * the way Kubernetes controllers own pods. */
static bool follows(const char *child_kind, const json_t *r)
{
	const char *kind = json_string_value(json_object_get(r, "kind"));

	if (!kind || !in_apps(json_string_value(json_object_get(r, "apiVersion"))))
		return false;
	if (!strcmp(child_kind, "Pod"))
		return !strcmp(kind, "ReplicaSet") || !strcmp(kind, "StatefulSet") ||
		       !strcmp(kind, "DaemonSet");
	if (!strcmp(child_kind, "ReplicaSet"))
		return !strcmp(kind, "Deployment");
	return false;
}

/* Whether fetching an object of kind can end at target kind tk. */
static bool leads_to(const char *kind, const char *tk)
{
	if (!strcmp(kind, "ReplicaSet"))
		return !strcmp(tk, "Deployment");
	return !strcmp(kind, tk);
}

static int ref_fill(struct pod_match_ref *ref, const json_t *r, const char *ns, char *err,
		    size_t errlen)
{
	const char *av = json_string_value(json_object_get(r, "apiVersion"));
	const char *kind = json_string_value(json_object_get(r, "kind"));
	const char *name = json_string_value(json_object_get(r, "name"));
	const char *uid = json_string_value(json_object_get(r, "uid"));

	memset(ref, 0, sizeof(*ref));
	if (!av || !kind || !name || copy_str(ref->api_version, sizeof(ref->api_version), av) ||
	    copy_str(ref->kind, sizeof(ref->kind), kind) ||
	    copy_str(ref->name, sizeof(ref->name), name) ||
	    copy_str(ref->uid, sizeof(ref->uid), uid ? uid : "") ||
	    copy_str(ref->namespace, sizeof(ref->namespace), ns)) {
		set_err(err, errlen, "malformed ownerReference in namespace %s", ns);
		return -EINVAL;
	}
	return 0;
}

static int ref_of_obj(struct pod_match_ref *ref, const json_t *obj, const char *av,
		      const char *kind, char *err, size_t errlen)
{
	const char *name = str_at(json_object_get(obj, "metadata"), "name", NULL);
	const char *ns = str_at(json_object_get(obj, "metadata"), "namespace", NULL);
	const char *uid = str_at(json_object_get(obj, "metadata"), "uid", NULL);

	memset(ref, 0, sizeof(*ref));
	if (!name || !ns || copy_str(ref->api_version, sizeof(ref->api_version), av) ||
	    copy_str(ref->kind, sizeof(ref->kind), kind) ||
	    copy_str(ref->name, sizeof(ref->name), name) ||
	    copy_str(ref->namespace, sizeof(ref->namespace), ns) ||
	    copy_str(ref->uid, sizeof(ref->uid), uid ? uid : "")) {
		set_err(err, errlen, "%s without a valid metadata.name and metadata.namespace",
			kind);
		return -EINVAL;
	}
	return 0;
}

/* A fetched owner must be the very object its child names. List items
 * carry no kind, so it is taken from the reference. */
static int owner_check(const json_t *owner, const struct pod_match_ref *want, char *err,
		       size_t errlen)
{
	const json_t *md = json_object_get(owner, "metadata");
	const char *kind = json_string_value(json_object_get(owner, "kind"));
	const char *name = str_at(md, "name", NULL);
	const char *ns = str_at(md, "namespace", NULL);
	const char *uid = str_at(md, "uid", NULL);

	if (!json_is_object(owner) || (kind && strcmp(kind, want->kind)) || !name ||
	    strcmp(name, want->name) || (ns && strcmp(ns, want->namespace))) {
		set_err(err, errlen, "owner passed in is not %s %s/%s", want->kind, want->namespace,
			want->name);
		return -EINVAL;
	}
	if (*want->uid && uid && strcmp(uid, want->uid)) {
		set_err(err, errlen, "%s %s/%s has uid %s, its child names uid %s (recreated)",
			want->kind, want->namespace, want->name, uid, want->uid);
		return -ESTALE;
	}
	return 0;
}

/* Walks the chain from the pod. tk (NULL = every kind) prunes fetches that
 * cannot reach that kind. Ends with *top the last object reached (the pod
 * or a fetched owner, *top_ref its reference) and returns 0 when the chain
 * ends there, 2 when it ends at an owner that is not followed (*top_ref is
 * that reference, *top NULL), 1 when it needs owners[n_owners] (*top_ref
 * names it, *top NULL). */
static int chain_walk(const json_t *pod, const json_t *const *owners, size_t n_owners,
		      const char *tk, struct pod_match_ref *top_ref, const json_t **top, char *err,
		      size_t errlen)
{
	const json_t *cur = pod;
	size_t i = 0;
	int rc;

	*top = NULL;
	rc = ref_of_obj(top_ref, pod, "v1", "Pod", err, errlen);
	if (rc < 0)
		return rc;
	for (;;) {
		const json_t *r = controller_ref(cur);
		struct pod_match_ref ref;
		char ns[64];

		*top = cur;
		if (!r)
			return 0;
		snprintf(ns, sizeof(ns), "%s", top_ref->namespace);
		if (!follows(top_ref->kind, r)) {
			/* Only a pod's foreign controller (a Job, a Node) names its
			 * workload; above a ReplicaSet the chain stops at it. */
			if (strcmp(top_ref->kind, "Pod"))
				return 0;
			rc = ref_fill(&ref, r, ns, err, errlen);
			if (rc < 0)
				return rc;
			*top_ref = ref;
			*top = NULL;
			return 2;
		}
		rc = ref_fill(&ref, r, ns, err, errlen);
		if (rc < 0)
			return rc;
		if (tk && !leads_to(ref.kind, tk)) {
			*top_ref = ref;
			*top = NULL;
			return 2;
		}
		if (i >= n_owners) {
			*top_ref = ref;
			*top = NULL;
			return 1;
		}
		rc = owner_check(owners[i], &ref, err, errlen);
		if (rc < 0)
			return rc;
		cur = owners[i++];
		*top_ref = ref;
	}
}

int pod_match_owner_next(const struct pod_match_target *t, const json_t *pod,
			 const json_t *const *owners, size_t n_owners, struct pod_match_ref *next,
			 char *err, size_t errlen)
{
	struct pod_match_ref ref;
	const json_t *top;
	int rc;

	rc = ref_of_obj(&ref, pod, "v1", "Pod", err, errlen);
	if (rc < 0)
		return rc;
	/* Nothing to fetch when the pod itself decides. */
	if (!strcmp(t->kind, "Pod") || (t->namespace && strcmp(t->namespace, ref.namespace)))
		return 0;
	rc = chain_walk(pod, owners, n_owners, t->kind, &ref, &top, err, errlen);
	if (rc < 0)
		return rc;
	if (rc == 1) {
		*next = ref;
		return 1;
	}
	return 0;
}

int pod_match_workload(const json_t *pod, const json_t *const *owners, size_t n_owners,
		       struct pod_match_ref *wl, const json_t **obj, char *err, size_t errlen)
{
	const json_t *top;
	int rc = chain_walk(pod, owners, n_owners, NULL, wl, &top, err, errlen);

	if (obj)
		*obj = top;
	if (rc < 0)
		return rc;
	return rc == 1 ? 1 : 0;
}

/* ---- containers ---- */

static bool is_hex64(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++)
		if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
			return false;
	return n == 64;
}

int pod_match_container_id(const char *status_id, char id[65], const char **runtime)
{
	static const struct {
		const char *prefix, *runtime;
	} rt[] = {{"containerd://", "containerd"}, {"docker://", "docker"}, {"cri-o://", "cri-o"}};

	for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++) {
		size_t n = strlen(rt[i].prefix);
		if (strncmp(status_id, rt[i].prefix, n) != 0)
			continue;
		if (!is_hex64(status_id + n))
			return -EINVAL;
		memcpy(id, status_id + n, 65);
		if (runtime)
			*runtime = rt[i].runtime;
		return 0;
	}
	return -EINVAL;
}

static bool annotation_unconfined(const json_t *annotations, const char *prefix,
				  const char *container)
{
	char key[256];
	const char *v;

	snprintf(key, sizeof(key), "%s/%s", prefix, container);
	v = label_get(annotations, key);
	return v && !strcmp(v, "unconfined");
}

static bool profile_unconfined(const json_t *sc, const char *field)
{
	const char *type = json_string_value(json_object_get(json_object_get(sc, field), "type"));

	return type && !strcmp(type, "Unconfined");
}

/* The enforcers of the run that are off for container c (see the header). */
static int enforcers_off(const json_t *pod, const json_t *c, const char *name)
{
	const json_t *ann = json_object_get(json_object_get(pod, "metadata"), "annotations");
	const json_t *pod_sc = json_object_get(json_object_get(pod, "spec"), "securityContext");
	const json_t *sc = json_object_get(c, "securityContext");
	int off = 0;

	if (annotation_unconfined(ann, "container.apparmor.security.beta.varmor.org", name) ||
	    annotation_unconfined(ann, "container.apparmor.security.beta.kubernetes.io", name) ||
	    profile_unconfined(sc, "appArmorProfile") ||
	    profile_unconfined(pod_sc, "appArmorProfile"))
		off |= ENF_APPARMOR;
	if (annotation_unconfined(ann, "container.seccomp.security.beta.varmor.org", name) ||
	    json_is_true(json_object_get(sc, "privileged")) ||
	    profile_unconfined(sc, "seccompProfile") ||
	    profile_unconfined(pod_sc, "seccompProfile"))
		off |= ENF_SECCOMP;
	if (annotation_unconfined(ann, "container.bpf.security.beta.varmor.org", name))
		off |= ENF_BPF;
	return off;
}

static bool target_lists(const struct pod_match_target *t, const char *name)
{
	if (!t->n_containers)
		return true;
	for (size_t i = 0; i < t->n_containers; i++)
		if (!strcmp(t->containers[i], name))
			return true;
	return false;
}

static const json_t *container_status(const json_t *pod, const char *name)
{
	const json_t *list = json_object_get(json_object_get(pod, "status"), "containerStatuses");
	const json_t *s;
	size_t i;

	json_array_foreach(list, i, s)
	{
		const char *n = json_string_value(json_object_get(s, "name"));
		if (n && !strcmp(n, name))
			return s;
	}
	return NULL;
}

static int add_containers(const struct pod_match_target *t, const json_t *pod,
			  const struct pod_match_ref *pod_ref, struct pod_match_result *res,
			  char *err, size_t errlen)
{
	const json_t *list = json_object_get(json_object_get(pod, "spec"), "containers");
	const json_t *c;
	size_t i;

	if (!json_is_array(list)) {
		set_err(err, errlen, "pod %s/%s has no spec.containers", pod_ref->namespace,
			pod_ref->name);
		return -EINVAL;
	}
	res->containers =
	    calloc(json_array_size(list) ? json_array_size(list) : 1, sizeof(*res->containers));
	if (!res->containers)
		return -ENOMEM;
	json_array_foreach(list, i, c)
	{
		const char *name = json_string_value(json_object_get(c, "name"));
		const json_t *st, *state;
		struct pod_match_container *out;
		const char *cid;

		if (!name) {
			set_err(err, errlen, "pod %s/%s: spec.containers[%zu] has no name",
				pod_ref->namespace, pod_ref->name, i);
			return -EINVAL;
		}
		if (!target_lists(t, name))
			continue;
		if ((t->enforcers & ~enforcers_off(pod, c, name)) == 0) {
			res->n_unconfined++;
			continue;
		}
		st = container_status(pod, name);
		state = json_object_get(st, "state");
		cid = json_string_value(json_object_get(st, "containerID"));
		if (json_object_get(state, "terminated")) {
			res->n_terminated++;
			continue;
		}
		if (!json_object_get(state, "running") || empty(cid)) {
			res->n_waiting++;
			continue;
		}
		out = &res->containers[res->n_containers];
		if (pod_match_container_id(cid, out->id, &out->runtime) < 0) {
			memset(out, 0, sizeof(*out));
			res->n_bad_id++;
			continue;
		}
		if (copy_str(out->name, sizeof(out->name), name)) {
			set_err(err, errlen, "pod %s/%s: container name \"%.80s\" is too long",
				pod_ref->namespace, pod_ref->name, name);
			return -EINVAL;
		}
		memcpy(out->namespace, pod_ref->namespace, sizeof(out->namespace));
		memcpy(out->pod_name, pod_ref->name, sizeof(out->pod_name));
		memcpy(out->pod_uid, pod_ref->uid, sizeof(out->pod_uid));
		res->n_containers++;
	}
	return 0;
}

/* ---- the decision ---- */

const char *pod_match_verdict_str(enum pod_match_verdict v)
{
	switch (v) {
	case POD_MATCH_YES:
		return "match";
	case POD_MATCH_NO_NAMESPACE:
		return "namespace differs";
	case POD_MATCH_NO_KIND:
		return "workload kind differs";
	case POD_MATCH_NO_NAME:
		return "workload name differs";
	case POD_MATCH_NO_SELECTOR:
		return "selector does not match the workload's labels";
	case POD_MATCH_NO_LABEL:
		return "workload lacks the match label";
	}
	return "unknown";
}

void pod_match_result_free(struct pod_match_result *res)
{
	if (!res)
		return;
	free(res->containers);
	memset(res, 0, sizeof(*res));
}

int pod_match_pod(const struct pod_match_target *t, const json_t *pod, const json_t *const *owners,
		  size_t n_owners, struct pod_match_result *res, char *err, size_t errlen)
{
	struct pod_match_ref pod_ref;
	const json_t *wl = pod, *labels;
	const char *have;
	int rc;

	memset(res, 0, sizeof(*res));
	rc = ref_of_obj(&pod_ref, pod, "v1", "Pod", err, errlen);
	if (rc < 0)
		return rc;
	if (!*pod_ref.uid) {
		set_err(err, errlen, "pod %s/%s has no metadata.uid", pod_ref.namespace,
			pod_ref.name);
		return -EINVAL;
	}
	res->workload = pod_ref;
	if (t->namespace && strcmp(t->namespace, pod_ref.namespace)) {
		res->verdict = POD_MATCH_NO_NAMESPACE;
		return 0;
	}
	if (strcmp(t->kind, "Pod")) {
		rc = chain_walk(pod, owners, n_owners, t->kind, &res->workload, &wl, err, errlen);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			set_err(err, errlen,
				"pod %s/%s: %s %s not passed in (call pod_match_owner_next first)",
				pod_ref.namespace, pod_ref.name, res->workload.kind,
				res->workload.name);
			return -EAGAIN;
		}
		if (rc == 2 || !wl || strcmp(res->workload.kind, t->kind) ||
		    !in_apps(res->workload.api_version)) {
			res->verdict = POD_MATCH_NO_KIND;
			return 0;
		}
	}
	labels = obj_labels(wl);
	if (t->name) {
		if (strcmp(t->name, res->workload.name)) {
			res->verdict = POD_MATCH_NO_NAME;
			return 0;
		}
	} else {
		rc = pod_match_selector(t->selector, labels, err, errlen);
		if (rc < 0)
			return rc;
		if (!rc) {
			res->verdict = POD_MATCH_NO_SELECTOR;
			return 0;
		}
	}
	if (t->label_key) {
		have = label_get(labels, t->label_key);
		if (!have || strcmp(have, t->label_value)) {
			res->verdict = POD_MATCH_NO_LABEL;
			return 0;
		}
	}
	res->verdict = POD_MATCH_YES;
	rc = add_containers(t, pod, &pod_ref, res, err, errlen);
	if (rc < 0)
		pod_match_result_free(res);
	return rc;
}
