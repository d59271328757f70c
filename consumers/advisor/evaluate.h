/* Judging the built-in rules against the context (enforcers, features,
 * capabilities) and the behavior data, with vArmor's Policy Advisor's
 * semantics, and recording why each rule is kept or dropped. */
#ifndef ARMORSMITH_ADVISOR_EVALUATE_H
#define ARMORSMITH_ADVISOR_EVALUATE_H

#include <stdbool.h>

#include "behavior.h"
#include "behavior_data.h"
#include "catalogue.h"

struct advisor_context {
	struct strlist enforcers;	   /* lowercase, e.g. apparmor, bpf, seccomp */
	struct strlist features;	   /* -f */
	struct strlist capabilities;	   /* -c */
	const struct behavior_data *model; /* NULL without -m */
	/* Our improvement: also judge by data.dynamicResult.bpf. Without bpf
	 * data in the model the outcome is vArmor's either way. */
	bool use_bpf;
};

enum advisor_verdict { ADVISOR_KEPT, ADVISOR_DROPPED, ADVISOR_NOT_EVALUATED };

struct advisor_decision {
	enum advisor_category category;
	const struct advisor_rule *rule;
	enum advisor_verdict verdict;
	char *reason; /* one line, citing the input that decided */
};

struct advisor_result {
	char enforcer[32]; /* e.g. "AppArmorBPF"; empty when no rule is kept */
	bool privileged;
	struct strlist hardening_rules;
	struct strlist attack_protection_rules;
	struct strlist vul_mitigation_rules;
	struct strlist derived_features;    /* "FEATURE: evidence" lines, from bpf data */
	struct advisor_decision *decisions; /* every rule, catalogue order */
	size_t n_decisions;
};

/*
 * Splits a command-line list the way vArmor does: lowercased, split at
 * commas, and an empty argument is an empty list. 0 or -ENOMEM.
 */
int advisor_parse_list(const char *csv, struct strlist *out);

/* Evaluates every rule of cat. 0 or -ENOMEM. */
int advisor_evaluate(const struct advisor_catalogue *cat, const struct advisor_context *ctx,
		     struct advisor_result *res);

void advisor_result_free(struct advisor_result *res);

#endif
