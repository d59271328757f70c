/* Rule evaluation with the semantics of vArmor's Policy Advisor (tools/
 * policy-advisor at bytedance/vArmor 6b0c028, September 2025). Each check
 * below mirrors one of its steps, in its order, and leaves a sentence saying
 * which input decided. */
#include "evaluate.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int advisor_parse_list(const char *csv, struct strlist *out)
{
	char *copy, *p, *comma;
	int ret = 0;

	if (!csv || !*csv)
		return 0;
	copy = strdup(csv);
	if (!copy)
		return -ENOMEM;
	for (p = copy; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	/* Like Python's str.split(","): empty items between commas stay. */
	for (p = copy; !ret; p = comma + 1) {
		comma = strchr(p, ',');
		if (comma)
			*comma = '\0';
		ret = strlist_add(out, p);
		if (!comma)
			break;
	}
	free(copy);
	return ret;
}

/*
 * vArmor's has_common_item(list_one, list_two): true when an item of
 * list_one is "*" or is in list_two. The wildcard counts only in the first
 * list, which is why the argument order below follows vArmor call by call.
 * Returns the deciding item of list_one, or NULL.
 */
static const char *common_item(const struct strlist *one, const struct strlist *two)
{
	for (size_t i = 0; i < one->len; i++)
		if (strcmp(one->items[i], "*") == 0 || strlist_contains(two, one->items[i]))
			return one->items[i];
	return NULL;
}

/* The same against behavior items, which carry their citation. */
static const char *common_bd_item(const struct strlist *one, const struct bd_items *two,
				  bool use_bpf, const struct bd_item **hit)
{
	*hit = NULL;
	for (size_t i = 0; i < one->len; i++) {
		if (strcmp(one->items[i], "*") == 0)
			return one->items[i];
		for (size_t k = 0; k < two->n; k++) {
			if (two->v[k].source == BD_BPF && !use_bpf)
				continue;
			if (strcmp(one->items[i], two->v[k].value) == 0) {
				*hit = &two->v[k];
				return one->items[i];
			}
		}
	}
	return NULL;
}

static char *join(const struct strlist *l)
{
	size_t len = 3;
	char *s;

	for (size_t i = 0; i < l->len; i++)
		len += strlen(l->items[i]) + 2;
	s = malloc(len);
	if (!s)
		return NULL;
	strcpy(s, "[");
	for (size_t i = 0; i < l->len; i++) {
		if (i)
			strcat(s, ", ");
		strcat(s, l->items[i]);
	}
	strcat(s, "]");
	return s;
}

struct eval {
	const struct advisor_context *ctx;
	struct strlist features; /* -f plus what bpf data implies */
	struct strlist derived;	 /* feature names derived from bpf data */
	struct advisor_result *res;
};

/* Where a feature came from, for the explanation. */
static const char *feature_origin(const struct eval *ev, const char *feature)
{
	if (strlist_contains(&ev->ctx->features, feature))
		return "given with -f";
	if (strlist_contains(&ev->derived, feature))
		return "derived from bpf.mounts, see above";
	return "wildcard";
}

__attribute__((format(printf, 2, 3))) static char *fmt(char **out, const char *f, ...)
{
	va_list ap;

	va_start(ap, f);
	if (vasprintf(out, f, ap) < 0)
		*out = NULL;
	va_end(ap);
	return *out;
}

/* Python's os.path.basename. */
static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Python's os.path.splitext(basename)[1]: from the last dot, unless
 * everything before that dot is dots (".bashrc" has no extension). */
static const char *extension(const char *base)
{
	const char *dot = strrchr(base, '.');

	if (!dot)
		return NULL;
	for (const char *p = base; p < dot; p++)
		if (*p != '.')
			return dot;
	return NULL;
}

static const struct bd_item *execution_conflict(const struct eval *ev, const struct advisor_rule *r,
						const char **item)
{
	const struct bd_items *ex = &ev->ctx->model->executions;

	for (size_t i = 0; i < r->conflict_executions.len; i++) {
		const char *want = r->conflict_executions.items[i];

		if (strcmp(want, "*") == 0) {
			*item = want;
			return NULL;
		}
		for (size_t k = 0; k < ex->n; k++) {
			const char *base = base_name(ex->v[k].value), *ext = extension(base);

			if (ex->v[k].source == BD_BPF && !ev->ctx->use_bpf)
				continue;
			/* By name, or by extension for entries such as ".sh"
			 * (later vArmor catalogues have them; the contract's
			 * has none, so its selection is unchanged). */
			if (strcmp(want, base) == 0 || (ext && strcmp(want, ext) == 0)) {
				*item = want;
				return &ex->v[k];
			}
		}
	}
	*item = NULL;
	return NULL;
}

/* BPF data names permissions as words where AppArmor data uses letters. */
static const char *perm_letter(const char *p)
{
	static const char *const words[][2] = {
	    {"read", "r"}, {"write", "w"}, {"append", "a"}, {"exec", "x"}, {"execute", "x"}};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcmp(p, words[i][0]) == 0)
			return words[i][1];
	return p;
}

static const char *perm_common(const struct strlist *want, const struct bd_file *f)
{
	for (size_t i = 0; i < want->len; i++) {
		if (strcmp(want->items[i], "*") == 0)
			return want->items[i];
		for (size_t k = 0; k < f->n_permissions; k++) {
			const char *have = f->permissions[k];

			if (strcmp(want->items[i], have) == 0 ||
			    (f->source == BD_BPF && strcmp(want->items[i], perm_letter(have)) == 0))
				return want->items[i];
		}
	}
	return NULL;
}

static const struct bd_file *file_conflict(const struct eval *ev, const struct advisor_rule *r,
					   const struct advisor_file_conflict **which,
					   const char **perm)
{
	const struct behavior_data *bd = ev->ctx->model;

	/* vArmor's loop order: each observed file against each pattern. */
	for (size_t i = 0; i < bd->n_files; i++) {
		const struct bd_file *f = &bd->files[i];
		const char *path = f->old_path ? f->old_path : f->path;

		if (f->source == BD_BPF && !ev->ctx->use_bpf)
			continue;
		for (size_t k = 0; k < r->n_conflict_files; k++) {
			const struct advisor_file_conflict *fc = &r->conflict_files[k];

			if (regexec(&fc->re, path, 0, NULL, 0) != 0)
				continue;
			*perm = perm_common(&fc->permissions, f);
			if (*perm) {
				*which = fc;
				return f;
			}
		}
	}
	return NULL;
}

/* Dropped by the context: enforcers, then conflicting features and
 * capabilities, then "applicable". *kept_by says what made an opt-in rule
 * applicable. Returns 1 (dropped, *why set), 0, or -ENOMEM. */
static int judge_context(struct eval *ev, const struct advisor_rule *r, char **why, char **kept_by)
{
	const struct advisor_context *ctx = ev->ctx;
	const char *hit;
	char *a = NULL, *b = NULL;
	int ret = 1;

	if (!common_item(&ctx->enforcers, &r->enforcers)) {
		a = join(&r->enforcers);
		b = join(&ctx->enforcers);
		if (!a || !b || !fmt(why, "it needs one of the enforcers %s; given %s", a, b))
			ret = -ENOMEM;
		goto cleanup;
	}
	hit = common_item(&r->conflict_features, &ev->features);
	if (hit) {
		if (!fmt(why, "it conflicts with the feature %s (%s)", hit,
			 feature_origin(ev, hit)))
			ret = -ENOMEM;
		goto cleanup;
	}
	hit = common_item(&r->conflict_capabilities, &ctx->capabilities);
	if (hit && strcmp(hit, "*") == 0) {
		if (!fmt(why, "it conflicts with any capability (\"*\")"))
			ret = -ENOMEM;
		goto cleanup;
	}
	if (hit) {
		if (!fmt(why, "it conflicts with the capability %s (given with -c)", hit))
			ret = -ENOMEM;
		goto cleanup;
	}
	ret = 0;
	if (!r->has_applicable)
		goto cleanup;
	hit = common_item(&r->applicable_features, &ev->features);
	if (hit) {
		if (!fmt(kept_by, "applicable through the feature %s (%s)", hit,
			 feature_origin(ev, hit)))
			ret = -ENOMEM;
		goto cleanup;
	}
	hit = common_item(&r->applicable_capabilities, &ctx->capabilities);
	if (hit) {
		if (!fmt(kept_by, "applicable through the capability %s (given with -c)", hit))
			ret = -ENOMEM;
		goto cleanup;
	}
	ret = 1;
	a = join(&r->applicable_features);
	b = join(&r->applicable_capabilities);
	if (!a || !b)
		ret = -ENOMEM;
	else if (!r->applicable_features.len && !r->applicable_capabilities.len)
		fmt(why, "its \"applicable\" is empty, so vArmor never applies it");
	else
		fmt(why,
		    "not applicable: it applies only with one of the features %s or "
		    "capabilities %s, and none is given",
		    a, b);
	if (ret == 1 && !*why)
		ret = -ENOMEM;

cleanup:
	free(a);
	free(b);
	return ret;
}

static int cite_item(char **why, const char *kind, const char *list, const char *hit,
		     const struct bd_item *it)
{
	if (!it)
		return fmt(why, "it conflicts with any observed %s (\"*\")", kind) ? 1 : -ENOMEM;
	return fmt(why, "the workload used the %s %s (data.dynamicResult.%s.%s[%zu])", kind, hit,
		   bd_source_name(it->source), list, it->index)
		   ? 1
		   : -ENOMEM;
}

/* Dropped by the behavior data. vArmor 6b0c028 stops at the first conflict
 * kind a rule lists; checking every kind (as vArmor does since 33d0d99) is
 * the same on the contract catalogue, where no rule lists two. Without a
 * model the lists are empty, as in vArmor, so only a "*" can match. */
static int judge_behavior(struct eval *ev, const struct advisor_rule *r, char **why)
{
	static const struct behavior_data empty;
	const struct behavior_data *bd = ev->ctx->model ? ev->ctx->model : &empty;
	const struct bd_item *it;
	const char *hit;

	if (r->conflict_capabilities.len) {
		hit = common_bd_item(&r->conflict_capabilities, &bd->capabilities, ev->ctx->use_bpf,
				     &it);
		if (hit)
			return cite_item(why, "capability", "capabilities", hit, it);
	}
	if (r->conflict_syscalls.len) {
		hit = common_bd_item(&r->conflict_syscalls, &bd->syscalls, true, &it);
		if (hit)
			return cite_item(why, "syscall", "syscalls", hit, it);
	}
	if (r->conflict_executions.len && ev->ctx->model) {
		it = execution_conflict(ev, r, &hit);
		if (hit && !it)
			return cite_item(why, "execution", "executions", hit, it);
		if (hit)
			return fmt(why,
				   "the workload executed %s, which matches \"%s\" "
				   "(data.dynamicResult.%s.executions[%zu])",
				   it->value, hit, bd_source_name(it->source), it->index)
				   ? 1
				   : -ENOMEM;
	}
	if (r->n_conflict_files && ev->ctx->model) {
		const struct advisor_file_conflict *fc = NULL;
		const struct bd_file *f = file_conflict(ev, r, &fc, &hit);

		if (f)
			return fmt(why,
				   "the workload accessed %s%s%s%s with permission %s, matching "
				   "/%s/ (data.dynamicResult.%s.files[%zu])",
				   f->old_path ? f->old_path : f->path,
				   f->old_path ? " (oldPath of " : "", f->old_path ? f->path : "",
				   f->old_path ? ")" : "", hit, fc->path_regex,
				   bd_source_name(f->source), f->index)
				   ? 1
				   : -ENOMEM;
	}
	return 0;
}

/* Why a kept rule survived the behavior checks, listing what was looked at. */
static int kept_reason(struct eval *ev, const struct advisor_rule *r, const char *kept_by,
		       char **why)
{
	const struct behavior_data *bd = ev->ctx->model;
	char *kinds = NULL, *old;
	int ret = 0;

	if (!fmt(&kinds, "%s", kept_by ? kept_by : "no context conflict"))
		return -ENOMEM;
#define APPEND(...)                                                                                \
	do {                                                                                       \
		char *more_ = NULL;                                                                \
		old = kinds;                                                                       \
		if (!fmt(&more_, __VA_ARGS__) || !fmt(&kinds, "%s; %s", old, more_))               \
			ret = -ENOMEM;                                                             \
		if (ret)                                                                           \
			kinds = old;                                                               \
		else                                                                               \
			free(old);                                                                 \
		free(more_);                                                                       \
	} while (0)
	if (!bd && (r->conflict_capabilities.len || r->conflict_syscalls.len ||
		    r->conflict_executions.len || r->n_conflict_files))
		APPEND("no behavior model to check its conflicts against");
	if (bd && r->conflict_capabilities.len)
		APPEND("none of its conflicting capabilities was used (%zu observed)",
		       bd->capabilities.n);
	if (bd && r->conflict_syscalls.len)
		APPEND("none of its conflicting syscalls was used (%zu observed)", bd->syscalls.n);
	if (bd && r->conflict_executions.len)
		APPEND("none of its conflicting programs was executed (%zu executions observed)",
		       bd->executions.n);
	if (bd && r->n_conflict_files)
		APPEND("no observed file access matches its paths and permissions (%zu files "
		       "observed)",
		       bd->n_files);
#undef APPEND
	if (ret) {
		free(kinds);
		return ret;
	}
	*why = kinds;
	return 0;
}

static int add_decision(struct eval *ev, enum advisor_category c, const struct advisor_rule *r,
			enum advisor_verdict v, char *reason)
{
	struct advisor_result *res = ev->res;
	struct advisor_decision *d;

	d = realloc(res->decisions, (res->n_decisions + 1) * sizeof(*d));
	if (!d) {
		free(reason);
		return -ENOMEM;
	}
	res->decisions = d;
	d[res->n_decisions++] =
	    (struct advisor_decision){.category = c, .rule = r, .verdict = v, .reason = reason};
	return 0;
}

/* vArmor's set_enforcer(): every given enforcer that the template can use,
 * in vArmor's order, once any rule is kept. */
static void set_enforcer(struct eval *ev)
{
	static const char *const names[][2] = {
	    {"apparmor", "AppArmor"}, {"bpf", "BPF"}, {"seccomp", "Seccomp"}};
	char *e = ev->res->enforcer;

	for (size_t i = 0; i < 3; i++)
		if (strlist_contains(&ev->ctx->enforcers, names[i][0]) && !strstr(e, names[i][1]))
			strcat(e, names[i][1]);
}

static struct strlist *target_list(struct advisor_result *res, enum advisor_category c)
{
	switch (c) {
	case ADVISOR_INFORMATION_LEAK:
	case ADVISOR_SENSITIVE_OPERATIONS:
		return &res->attack_protection_rules;
	case ADVISOR_VULNERABILITY_MITIGATION:
		return &res->vul_mitigation_rules;
	default:
		return &res->hardening_rules;
	}
}

/* One rule through both filters. Returns 1 kept, 0 dropped, -ENOMEM. */
static int judge(struct eval *ev, enum advisor_category c, const struct advisor_rule *r)
{
	char *why = NULL, *kept_by = NULL;
	int ret;

	ret = judge_context(ev, r, &why, &kept_by);
	if (ret == 0)
		ret = judge_behavior(ev, r, &why);
	if (ret == 1) {
		ret = add_decision(ev, c, r, ADVISOR_DROPPED, why);
		why = NULL;
		goto cleanup;
	}
	if (ret < 0)
		goto cleanup;
	ret = kept_reason(ev, r, kept_by, &why);
	if (!ret)
		ret = add_decision(ev, c, r, ADVISOR_KEPT, why);
	why = NULL;
	if (!ret)
		ret = strlist_add(target_list(ev->res, c), r->id);
	if (!ret) {
		set_enforcer(ev);
		ret = 1;
	}

cleanup:
	free(why);
	free(kept_by);
	return ret;
}

static int skip_rules(struct eval *ev, const struct advisor_catalogue *cat, enum advisor_category c,
		      size_t from, const char *why)
{
	int ret = 0;

	for (size_t i = from; !ret && i < cat->n_rules[c]; i++) {
		char *reason = strdup(why);

		ret = reason ? add_decision(ev, c, &cat->rules[c][i], ADVISOR_NOT_EVALUATED, reason)
			     : -ENOMEM;
	}
	return ret;
}

/* What bpf data says the workload did that vArmor only learns from -f. */
static int derive_features(struct eval *ev)
{
	const struct behavior_data *bd = ev->ctx->model;
	int ret = 0;

	if (!bd || !ev->ctx->use_bpf)
		return 0;
	for (size_t i = 0; !ret && i < bd->n_mounts; i++) {
		const struct bd_mount *m = &bd->mounts[i];
		const char *feature = m->umount ? "umount-sth" : "mount-sth";
		char *line = NULL;

		if (strlist_contains(&ev->features, feature))
			continue;
		ret = strlist_add(&ev->features, feature);
		if (!ret)
			ret = strlist_add(&ev->derived, feature);
		if (!ret &&
		    !fmt(&line, "%s: the workload %s %s%s%s (data.dynamicResult.bpf.mounts[%zu])",
			 feature, m->umount ? "unmounted" : "mounted", m->path,
			 m->type ? " type " : "", m->type ? m->type : "", m->index))
			ret = -ENOMEM;
		if (!ret)
			ret = strlist_add(&ev->res->derived_features, line);
		free(line);
	}
	return ret;
}

int advisor_evaluate(const struct advisor_catalogue *cat, const struct advisor_context *ctx,
		     struct advisor_result *res)
{
	static const char *const no_caps[] = {"privileged-container", "dind"};
	struct eval ev = {.ctx = ctx, .res = res};
	const char *gate = NULL;
	char *why = NULL;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	for (size_t i = 0; !ret && i < ctx->features.len; i++)
		ret = strlist_add(&ev.features, ctx->features.items[i]);
	if (!ret)
		ret = derive_features(&ev);
	if (ret)
		goto cleanup;
	res->privileged = strlist_contains(&ctx->features, "privileged-container");

	for (size_t i = 0; ret >= 0 && i < cat->n_rules[ADVISOR_ESCAPE_PATTERN]; i++)
		ret = judge(&ev, ADVISOR_ESCAPE_PATTERN, &cat->rules[ADVISOR_ESCAPE_PATTERN][i]);
	if (ret < 0)
		goto cleanup;
	ret = 0;

	/* A privileged or docker-in-docker container keeps its capabilities:
	 * vArmor proposes no capability rule at all then. */
	for (size_t i = 0; i < 2 && !gate; i++)
		if (strlist_contains(&ev.features, no_caps[i]))
			gate = no_caps[i];
	if (gate) {
		if (!fmt(&why, "vArmor disables no capability when the feature %s is given", gate))
			ret = -ENOMEM;
		if (!ret)
			ret = skip_rules(&ev, cat, ADVISOR_CAPABILITY_SET, 0, why);
		if (!ret)
			ret = skip_rules(&ev, cat, ADVISOR_CAPABILITY, 0, why);
	} else {
		const struct advisor_rule *set_rule = NULL;

		/* The first capability set that fits wins; the rest, and every
		 * single-capability rule, are covered by it. */
		for (size_t i = 0; ret >= 0 && i < cat->n_rules[ADVISOR_CAPABILITY_SET]; i++) {
			ret = judge(&ev, ADVISOR_CAPABILITY_SET,
				    &cat->rules[ADVISOR_CAPABILITY_SET][i]);
			if (ret == 1) {
				set_rule = &cat->rules[ADVISOR_CAPABILITY_SET][i];
				if (!fmt(&why,
					 "the capability set %s is already kept; vArmor keeps "
					 "at most one and then no single-capability rule",
					 set_rule->id))
					ret = -ENOMEM;
				if (ret >= 0)
					ret = skip_rules(&ev, cat, ADVISOR_CAPABILITY_SET, i + 1,
							 why);
				break;
			}
		}
		if (ret >= 0 && set_rule)
			ret = skip_rules(&ev, cat, ADVISOR_CAPABILITY, 0, why);
		for (size_t i = 0; ret >= 0 && !set_rule && i < cat->n_rules[ADVISOR_CAPABILITY];
		     i++)
			ret = judge(&ev, ADVISOR_CAPABILITY, &cat->rules[ADVISOR_CAPABILITY][i]);
	}
	if (ret < 0)
		goto cleanup;

	for (size_t i = 0; ret >= 0 && i < cat->n_rules[ADVISOR_BLOCKING_EXPLOIT_VECTORS]; i++)
		ret = judge(&ev, ADVISOR_BLOCKING_EXPLOIT_VECTORS,
			    &cat->rules[ADVISOR_BLOCKING_EXPLOIT_VECTORS][i]);
	for (size_t i = 0; ret >= 0 && i < cat->n_rules[ADVISOR_INFORMATION_LEAK]; i++)
		ret =
		    judge(&ev, ADVISOR_INFORMATION_LEAK, &cat->rules[ADVISOR_INFORMATION_LEAK][i]);
	/* vArmor applies sensitive-operation rules only with a model: without
	 * behavior data they would break whatever the workload needs. */
	if (ret >= 0 && !ctx->model)
		ret = skip_rules(
		    &ev, cat, ADVISOR_SENSITIVE_OPERATIONS, 0,
		    "no behavior model given (-m): vArmor applies no sensitive-operation "
		    "rule without one");
	for (size_t i = 0; ret >= 0 && ctx->model && i < cat->n_rules[ADVISOR_SENSITIVE_OPERATIONS];
	     i++)
		ret = judge(&ev, ADVISOR_SENSITIVE_OPERATIONS,
			    &cat->rules[ADVISOR_SENSITIVE_OPERATIONS][i]);
	for (size_t i = 0; ret >= 0 && i < cat->n_rules[ADVISOR_VULNERABILITY_MITIGATION]; i++)
		ret = judge(&ev, ADVISOR_VULNERABILITY_MITIGATION,
			    &cat->rules[ADVISOR_VULNERABILITY_MITIGATION][i]);
	if (ret > 0)
		ret = 0;

cleanup:
	free(why);
	strlist_free(&ev.features);
	strlist_free(&ev.derived);
	if (ret)
		advisor_result_free(res);
	return ret;
}

void advisor_result_free(struct advisor_result *res)
{
	strlist_free(&res->hardening_rules);
	strlist_free(&res->attack_protection_rules);
	strlist_free(&res->vul_mitigation_rules);
	strlist_free(&res->derived_features);
	for (size_t i = 0; i < res->n_decisions; i++)
		free(res->decisions[i].reason);
	free(res->decisions);
	memset(res, 0, sizeof(*res));
}
