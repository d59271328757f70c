/* Everything generated from one run's merged behavior: the two profiles and
 * the ArmorProfileModel. Shared by the builder and `armorsmith replay`, so a
 * replay regenerates with exactly the live code. */
#ifndef ARMORSMITH_PROFILE_BUILD_H
#define ARMORSMITH_PROFILE_BUILD_H

#include "behavior.h"

#include <jansson.h>

struct profile_build {
	char *apparmor;	      /* the AppArmor profile text */
	char *seccomp;	      /* the seccomp JSON, NULL when no syscall beyond the six was seen */
	json_t *model;	      /* the ArmorProfileModel object */
	size_t skipped_rules; /* behaviors no safe AppArmor rule could express */
};

/* Normalises m's file paths in place (see pathnorm.h), then generates. */
int profile_build_run(struct behavior_model *m, struct profile_build *out);
void profile_build_free(struct profile_build *b);

#endif
