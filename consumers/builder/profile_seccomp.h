/* Seccomp profile generator: turns the merged syscalls of a modeling run into
 * the deny-by-default OCI seccomp JSON of the seed's layout. */
#ifndef ARMORSMITH_PROFILE_SECCOMP_H
#define ARMORSMITH_PROFILE_SECCOMP_H

#include "behavior.h"

/*
 * Writes a compact JSON document (no spaces, no trailing newline) to
 * *out_json, which the caller frees with free():
 *
 *   {"defaultAction":"SCMP_ACT_ERRNO","syscalls":[
 *     {"names":["open","openat","openat2","close","read","write"],"action":"SCMP_ACT_ALLOW"},
 *     {"names":[observed, byte-order sorted, unique, the six excluded],"action":"SCMP_ACT_ALLOW"}]}
 *
 * Sorting (vArmor keeps arrival order) makes replays byte-identical.
 *
 * Nothing observed beyond the six: vArmor's GenerateProfileWithBehaviorModel
 * (internal/profile/seccomp/seccomp.go) returns no profile at all when its
 * syscall list is empty (its list never holds the six: they are allowed, not
 * logged, under the modeling filter). We follow it: -ENODATA, *out_json
 * stays NULL, and the caller leaves data.profile.seccompContent out. A
 * profile that allows only the six would kill any real workload.
 *
 * Returns 0, -EINVAL for a syscall name outside [a-z0-9_] (named in the log,
 * never emitted), -ENODATA as above, or -ENOMEM.
 */
int profile_seccomp_generate(const struct behavior_model *m, char **out_json);

#endif
