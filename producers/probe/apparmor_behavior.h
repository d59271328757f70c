/* vArmor's preprocessing of AppArmor complain-mode records (the probe side of
 * the apparmor-audit source): which records belong to a run's profile and
 * what behavior each one stands for. */
#ifndef ARMORSMITH_APPARMOR_BEHAVIOR_H
#define ARMORSMITH_APPARMOR_BEHAVIOR_H

#include "armorsmith/v1/armorsmith.pb-c.h"
#include "audit_apparmor.h"
#include "bpf_event.h"

#include <stdbool.h>
#include <stddef.h>

/* Storage an event's strings may point into besides the parsed record. */
struct apparmor_scratch {
	char perms[16];
	char flags[256];
};

/* Whether a record's profile is the run's profile or one of its //null-
 * children (what a profile in complain mode becomes across exec). */
bool apparmor_profile_matches(const char *record_profile, const char *profile);

/* Fills the behavior part of e from an ALLOWED record of profile, pointing
 * into ev, h and s, and writes the run's dedup key:
 *   exec                      -> exec (name)
 *   file operations           -> file: requested letters, c and d as w, x
 *                                dropped (EXEC grants it), owner when
 *                                ouid == fsuid, name2 of a link as oldPath
 *   capable                   -> capability (capname)
 *   socket operations         -> network (family, sock_type, protocol)
 *   ptrace, signal            -> ptrace / signal with the peer
 *   mount, umount, pivotroot  -> mount
 * Returns 0; -ENOENT when the record is not an ALLOWED record of profile;
 * -ENOTSUP for what the profile has no rule kind for (vArmor's unhandled). */
int apparmor_behavior_fill(const struct apparmor_event *ev, const char *profile,
			   Armorsmith__V1__BehaviorEvent *e, struct bpf_event_holder *h,
			   struct apparmor_scratch *s, char *key, size_t keylen);

#endif
