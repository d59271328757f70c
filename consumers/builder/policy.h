/* VarmorPolicy and VarmorClusterPolicy objects in BehaviorModeling mode:
 * what a modeling run needs from them, validated the way vArmor's webhook
 * validates, and what a change to one means for its run. Pure: no I/O. */
#ifndef ARMORSMITH_POLICY_H
#define ARMORSMITH_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define POLICY_KIND_NAMESPACED "VarmorPolicy"
#define POLICY_KIND_CLUSTER "VarmorClusterPolicy"

/* AppArmor profile names become object names: vArmor caps them at 63. */
#define POLICY_PROFILE_NAME_MAX 63

struct policy {
	char kind[24];	    /* POLICY_KIND_* */
	char namespace[64]; /* the policy's namespace; "" for cluster policies */
	char name[254];	    /* metadata.name */
	char uid[64];
	char mode[32];		  /* spec.policy.mode */
	char enforcer[32];	  /* spec.policy.enforcer */
	int64_t duration_min;	  /* spec.policy.modelingOptions.duration, minutes */
	char profile_name[128];	  /* varmor-NS-NAME / varmor-cluster-INSTALLNS-NAME, lowercased */
	char model_namespace[64]; /* where the ArmorProfileModel goes */
	char key[200];		  /* the policy key: MODEL_NAMESPACE/PROFILE_NAME */
	char status_phase[32];	  /* status.phase as found, "" when none */
	/* target */
	char target_kind[32];
	char target_name[254];
	char *selector_json; /* compact JSON of spec.target.selector, NULL when none */
	char **containers;
	size_t n_containers;
	char target_namespace[64]; /* the pods' namespace; "" = every namespace */
	bool update_existing;	   /* spec.updateExistingWorkloads */
};

/* Reads obj (kind VarmorPolicy or VarmorClusterPolicy) into p.
 * install_ns is where cluster policies' models go. Returns 0 when the
 * policy is in BehaviorModeling mode and valid, 1 when it is in another
 * mode (p->mode says which; p->key and the names are set, "" when they
 * would be too long), -EINVAL when invalid with
 * the reason in err (for the policy's status), -ENOMEM. */
int policy_from_json(json_t *obj, const char *install_ns, struct policy *p, char *err,
		     size_t errlen);
void policy_free(struct policy *p);

/* What the controller knows of a policy's latest run. */
struct policy_run {
	uint64_t generation; /* 0: never modeled */
	int64_t start_ns;
	int64_t deadline_ns;
	int64_t duration_s;
	char enforcer[32];
};

enum policy_action {
	POLICY_KEEP,	      /* nothing changed */
	POLICY_START,	      /* start generation run->generation + 1 */
	POLICY_MOVE_DEADLINE, /* same generation, deadline at *deadline_ns */
	POLICY_REFUSE,	      /* an invalid change while modeling: reason in err */
};

/* The run's fate after the policy p was seen at now_ns:
 * - never modeled: START;
 * - modeling (deadline ahead): a changed duration moves the deadline to
 *   start + duration (now when that has passed: the seed's "change it to 1
 *   to end the modeling prematurely"); a changed enforcer is refused, as
 *   vArmor refuses mode and enforcer changes while modeling;
 * - completed: a changed duration starts a new generation (the seed's
 *   "update the modeling duration ... to restart the modeling process"),
 *   anything else keeps the finished run. */
enum policy_action policy_decide(const struct policy *p, const struct policy_run *run,
				 int64_t now_ns, int64_t *deadline_ns, char *err, size_t errlen);

#endif
