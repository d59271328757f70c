/* The built-in rule catalogue of vArmor's Policy Advisor (the contract file
 * data/policy-advisor/built-in-rules.json), loaded and checked so that the
 * evaluator never meets a shape it does not understand. */
#ifndef ARMORSMITH_ADVISOR_CATALOGUE_H
#define ARMORSMITH_ADVISOR_CATALOGUE_H

#include <regex.h>
#include <stdbool.h>
#include <stddef.h>

#include "behavior.h"

/* In the order vArmor's Policy Advisor walks them. */
enum advisor_category {
	ADVISOR_ESCAPE_PATTERN,
	ADVISOR_CAPABILITY_SET,
	ADVISOR_CAPABILITY,
	ADVISOR_BLOCKING_EXPLOIT_VECTORS,
	ADVISOR_INFORMATION_LEAK,
	ADVISOR_SENSITIVE_OPERATIONS,
	ADVISOR_VULNERABILITY_MITIGATION,
	ADVISOR_CATEGORY_COUNT
};

struct advisor_file_conflict {
	char *path_regex; /* as written in the catalogue (Python re syntax) */
	regex_t re;	  /* compiled as POSIX ERE, see catalogue.c */
	struct strlist permissions;
};

struct advisor_rule {
	char *id;
	struct strlist enforcers;
	struct strlist conflict_features;
	struct strlist conflict_capabilities;
	struct strlist conflict_syscalls;
	struct strlist conflict_executions;
	struct advisor_file_conflict *conflict_files;
	size_t n_conflict_files;
	/* An "applicable" object, even an empty one, makes the rule opt-in. */
	bool has_applicable;
	struct strlist applicable_features;
	struct strlist applicable_capabilities;
};

struct advisor_catalogue {
	struct advisor_rule *rules[ADVISOR_CATEGORY_COUNT];
	size_t n_rules[ADVISOR_CATEGORY_COUNT];
};

/* The catalogue's key for a category, e.g. "escape_pattern". */
const char *advisor_category_name(enum advisor_category c);

/*
 * Loads and checks the catalogue at path. Every category must be present,
 * no other key may be; each rule needs an id and enforcers; conflicts and
 * applicable may only hold the kinds the evaluator understands, so that no
 * rule is silently judged on half its conditions. On failure a message
 * naming the file and the offending element is written to err.
 * Returns 0, -ENOENT/-EACCES (unreadable), -EINVAL (malformed), -ENOMEM.
 */
int advisor_catalogue_load(const char *path, struct advisor_catalogue *cat, char *err,
			   size_t errlen);

/* The default catalogue: $ARMORSMITH_ADVISOR_RULES, else the copy installed
 * beside the source tree (ARMORSMITH_DATA_DIR at build time). */
const char *advisor_catalogue_default_path(void);

void advisor_catalogue_free(struct advisor_catalogue *cat);

#endif
