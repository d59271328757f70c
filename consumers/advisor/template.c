/* Rendering the policy template and the explanations. */
#include "template.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static json_t *id_array(const struct strlist *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->len; i++)
		if (json_array_append_new(a, json_string(l->items[i]))) {
			json_decref(a);
			return NULL;
		}
	return a;
}

json_t *advisor_template_json(const struct advisor_result *res)
{
	json_t *policy, *ep, *apr, *apr0;

	/* json_pack steals the "o" references, also on failure. */
	apr0 = json_pack("{s:o,s:[]}", "rules", id_array(&res->attack_protection_rules), "targets");
	apr = apr0 ? json_pack("[o]", apr0) : NULL;
	ep = apr ? json_pack("{s:b,s:o,s:o,s:o}", "privileged", res->privileged, "hardeningRules",
			     id_array(&res->hardening_rules), "attackProtectionRules", apr,
			     "vulMitigationRules", id_array(&res->vul_mitigation_rules))
		 : NULL;
	policy = ep ? json_pack("{s:s,s:s,s:o}", "enforcer", res->enforcer, "mode",
				"EnhanceProtect", "enhanceProtect", ep)
		    : NULL;
	return policy;
}

/* A rule id as PyYAML's dumper writes it: plain when it cannot be read as
 * another type, else single-quoted. Catalogue ids are plain. */
static void yaml_scalar(FILE *out, const char *s)
{
	static const char *const special[] = {"y",    "n",     "yes",  "no", "on", "off",
					      "true", "false", "null", "~",  ""};
	bool plain = (s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z');

	for (const char *p = s; plain && *p; p++)
		plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_';
	for (size_t i = 0; plain && i < sizeof(special) / sizeof(special[0]); i++)
		plain = strcasecmp(s, special[i]) != 0;
	if (plain) {
		fputs(s, out);
		return;
	}
	fputc('\'', out);
	for (const char *p = s; *p; p++) {
		if (*p == '\'')
			fputc('\'', out);
		fputc(*p, out);
	}
	fputc('\'', out);
}

static void yaml_list(FILE *out, const char *indent, const char *key, const struct strlist *l)
{
	fprintf(out, "%s%s:%s\n", indent, key, l->len ? "" : " []");
	for (size_t i = 0; i < l->len; i++) {
		fprintf(out, "%s- ", indent);
		yaml_scalar(out, l->items[i]);
		fputc('\n', out);
	}
}

/* yaml.dump(policy, default_flow_style=False): keys sorted, block
 * sequences not indented under their key, empty lists as []. */
static void print_yaml(FILE *out, const struct advisor_result *res)
{
	fputs("enforcer: ", out);
	yaml_scalar(out, res->enforcer);
	fputs("\nenhanceProtect:\n  attackProtectionRules:\n", out);
	fputs("  - rules:", out);
	if (!res->attack_protection_rules.len)
		fputs(" []", out);
	fputc('\n', out);
	for (size_t i = 0; i < res->attack_protection_rules.len; i++) {
		fputs("    - ", out);
		yaml_scalar(out, res->attack_protection_rules.items[i]);
		fputc('\n', out);
	}
	fputs("    targets: []\n", out);
	yaml_list(out, "  ", "hardeningRules", &res->hardening_rules);
	fprintf(out, "  privileged: %s\n", res->privileged ? "true" : "false");
	yaml_list(out, "  ", "vulMitigationRules", &res->vul_mitigation_rules);
	fputs("mode: EnhanceProtect\n", out);
}

static const char tips[] =
    "\n"
    "Please take note of the following tips about the template:\n"
    "  * It doesn't utilize the `Restrict Specific Executable` feature provided by the AppArmor "
    "enforcer.\n"
    "  * It avoids applying any 'Disable Sensitive Operations' rules for compatibility when an "
    "ArmorProfileModel is not provided.\n"
    "  * It excludes some `Vulnerability Mitigation` rules by default.\n"
    "\n"
    "For additional information on built-in rules, please refer to the documentation: \n"
    "https://www.varmor.org/docs/main/guides/policies_and_rules/built_in_rules\n"
    "\n"
    "You may modify the template accordingly based on the specific requirements of your "
    "scenario and environment.\n";

int advisor_print_template(FILE *out, const struct advisor_result *res)
{
	json_t *policy = advisor_template_json(res);
	char *text = NULL;
	int ret = 0;

	if (!policy) {
		ret = -ENOMEM;
		goto cleanup;
	}
	text = json_dumps(policy, JSON_INDENT(2) | JSON_ENSURE_ASCII);
	if (!text) {
		ret = -ENOMEM;
		goto cleanup;
	}
	fputs(tips, out);
	fputs("\n------------------ Template (json) ------------------\n\n", out);
	fprintf(out, "%s\n", text);
	fputs("\n------------------ Template (yaml) ------------------\n\n", out);
	print_yaml(out, res);
	fputc('\n', out);
	if (fflush(out) || ferror(out))
		ret = -EIO;

cleanup:
	free(text);
	json_decref(policy);
	return ret;
}

static void print_list(FILE *out, const char *label, const struct strlist *l)
{
	fprintf(out, "  %-13s", label);
	if (!l->len)
		fputs(" (none)", out);
	for (size_t i = 0; i < l->len; i++)
		fprintf(out, "%s%s", i ? ", " : " ", l->items[i]);
	fputc('\n', out);
}

int advisor_print_explanations(FILE *out, const struct advisor_context *ctx,
			       const struct advisor_result *res)
{
	static const char *const verdicts[] = {[ADVISOR_KEPT] = "kept",
					       [ADVISOR_DROPPED] = "dropped",
					       [ADVISOR_NOT_EVALUATED] = "not evaluated"};
	const struct behavior_data *bd = ctx->model;

	fputs("------------------ Decisions ------------------\n", out);
	fputs("inputs:\n", out);
	print_list(out, "enforcers:", &ctx->enforcers);
	print_list(out, "features:", &ctx->features);
	print_list(out, "capabilities:", &ctx->capabilities);
	if (bd) {
		fprintf(out,
			"  model:        %s%s%s (apparmor data: %s, bpf data: %s%s, seccomp data: "
			"%s): %zu capabilities, %zu executions, %zu files, %zu syscalls, %zu "
			"bpf mounts\n",
			bd->namespace ? bd->namespace : "", bd->namespace ? "/" : "",
			bd->name ? bd->name : "(unnamed)", bd->has_apparmor ? "yes" : "no",
			bd->has_bpf ? "yes" : "no",
			bd->has_bpf && !ctx->use_bpf ? ", ignored (--no-bpf-data)" : "",
			bd->has_seccomp ? "yes" : "no", bd->capabilities.n, bd->executions.n,
			bd->n_files, bd->syscalls.n, bd->n_mounts);
	} else {
		fputs("  model:         none (-m not given)\n", out);
	}
	for (size_t i = 0; i < res->derived_features.len; i++)
		fprintf(out, "  derived feature %s\n", res->derived_features.items[i]);
	for (size_t i = 0; i < res->n_decisions; i++) {
		const struct advisor_decision *d = &res->decisions[i];

		fprintf(out, "--------------\n%s (%s): %s: %s\n", d->rule->id,
			advisor_category_name(d->category), verdicts[d->verdict], d->reason);
	}
	return fflush(out) || ferror(out) ? -EIO : 0;
}
