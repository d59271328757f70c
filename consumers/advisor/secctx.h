/* The tightest container securityContext that a model's observed behavior
 * still allows, each field with its evidence, written as a strategic merge
 * patch of a Deployment's pod template (`kubectl patch --type strategic`). */
#ifndef ARMORSMITH_ADVISOR_SECCTX_H
#define ARMORSMITH_ADVISOR_SECCTX_H

#include <stdbool.h>
#include <stdio.h>

#include "behavior.h"
#include "behavior_data.h"

struct secctx_options {
	struct strlist containers; /* container names; empty: a placeholder */
	struct strlist volumes;	   /* mount paths that are volumes already */
	/* Where executed files are looked up to read their mode and file
	 * capabilities; NULL: not checked. "/" for a local `armorsmith model`. */
	const char *exec_root;
};

/* A field is proposed only with evidence for it; evidence lines are
 * sanitized (no control characters), ready to be YAML comments. */
struct secctx_proposal {
	bool have_lsm_data;		 /* capabilities, executions and files were captured */
	struct strlist add_capabilities; /* e.g. NET_BIND_SERVICE, sorted */
	struct strlist capabilities_evidence;
	bool propose_ape; /* allowPrivilegeEscalation is proposed */
	bool allow_privilege_escalation;
	struct strlist ape_evidence;
	bool propose_read_only;
	bool read_only_root_filesystem;
	struct strlist read_only_evidence;
	struct strlist temp_mounts; /* emptyDir mount paths the patch adds */
	bool propose_non_root;
	bool run_as_non_root;
	struct strlist non_root_evidence;
	char *seccomp_profile; /* localhostProfile, NULL: not proposed */
	struct strlist seccomp_evidence;
	struct strlist privileged_evidence;
};

/* Derives the proposal from bd. 0 or -ENOMEM. */
int secctx_propose(const struct behavior_data *bd, const struct secctx_options *o,
		   struct secctx_proposal *p);

/* Writes the patch (YAML with the evidence as comments). 0, -EIO. */
int secctx_print_patch(FILE *out, const struct behavior_data *bd, const struct secctx_options *o,
		       const struct secctx_proposal *p);

void secctx_proposal_free(struct secctx_proposal *p);

#endif
