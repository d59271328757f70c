/* The modeling target of `armorsmith model`: a command started in a cgroup of
 * its own and an audit session of its own, under the modeling seccomp filter
 * (SCMP_ACT_LOG by default, the six always-allowed syscalls allowed), exactly
 * as a container runtime starts a BehaviorModeling pod. */
#ifndef ARMORSMITH_TARGET_H
#define ARMORSMITH_TARGET_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct target {
	pid_t pid;
	uint32_t audit_session; /* 0 when the kernel would not give one */
	char cgroup_rel[512];	/* path below the cgroup2 root, "" without cgroup */
	char cgroup_abs[1600];
	uint64_t cgroup_id;
	int go_fd;	 /* written once to let the child exec */
	int exec_err_fd; /* the child's execvp errno, or EOF on success */
	bool started;
	bool log_filter; /* install the SCMP_ACT_LOG modeling filter */
};

/* Forks the child, which joins a new cgroup and audit session and waits.
 * log_filter: install the SCMP_ACT_LOG modeling filter before exec (the
 * seccomp-audit source); BPF capture needs no filter. */
int target_prepare(struct target *t, const char *name, char *const argv[], bool log_filter,
		   char *err, size_t errlen);
/* Lets the child install the filter and exec; fails if exec failed. */
int target_start(struct target *t, char *err, size_t errlen);
/* Waits until the command exits or deadline_ns passes (0: no deadline).
 * Returns 1 when it exited (status set), 0 at the deadline. */
int target_wait(struct target *t, int64_t deadline_ns, int *status);
/* SIGTERM to every process of the target, SIGKILL after grace_ns. */
void target_terminate(struct target *t, int64_t grace_ns);
void target_cleanup(struct target *t);

#endif
