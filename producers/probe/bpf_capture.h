/* Behavior capture with BPF tracepoint programs (bpf/capture.bpf.c).
 *
 * - Attribution: by cgroup v2 id. bpf_capture_add_run() maps a cgroup and
 *   its existing descendants to a run; cgroups created below it later are
 *   added by the kernel at cgroup_mkdir, before their first task runs.
 *   Tasks in no run's cgroup contribute nothing, except through the second
 *   key: bpf_capture_add_run_mntns() maps a mount namespace to a run, and
 *   a task whose cgroup is in no run but whose mount namespace is mapped
 *   belongs to that run (a container whose cgroup was not found, a runtime
 *   that execs into another cgroup). The cgroup always decides first: a
 *   task in one run's cgroup and another run's mount namespace belongs to
 *   the cgroup's run. Only while some mount namespace is mapped do tasks
 *   outside every run's cgroup pay for the second lookup (a per-CPU memo
 *   of the last namespace, then a hash lookup: ~4 ns per syscall here).
 * - Cost: the programs are attached only while at least one run exists;
 *   then every syscall of every task pays the raw syscall tracepoints and a
 *   per-CPU check of its cgroup (see bench/bpf/README.md for figures).
 * - Deduplication is in the kernel, per run: each distinct behavior reaches
 *   the callback once (again only if the kernel's LRU table forgot it, or a
 *   ring-buffer overflow made the kernel drop it: then it is reported on its
 *   next occurrence, never lost for good). For files known by their struct
 *   file (opens, mmaps, execs, f*chmod/own, ftruncate) a first check by a
 *   64-bit fingerprint of the dentry/mount chain skips the path walk for
 *   repeats; any rename or mount move on the chain changes the fingerprint,
 *   so a file reached by a new path is walked and reported again.
 * - Files opened (open, openat, openat2, creat) and mapped executable
 *   (mmap PROT_EXEC, and mprotect/pkey_mprotect adding PROT_EXEC to a
 *   file-backed mapping: the file of each mapping in the range, up to 4
 *   mappings, found by bpf_find_vma, which gives up when another thread
 *   holds the mmap lock for writing at that moment; an overlayfs file by
 *   its overlay path, not its real file's) are resolved in the kernel
 *   from the struct file: the path the kernel resolved, relative to the
 *   task's mount namespace root. Path-based calls (unlink, rmdir, rename, mkdir,
 *   link, symlink, chmod, chown, truncate, mknod) are resolved from the
 *   dirfd or cwd plus the path as given, normalised lexically here ("."
 *   and ".." removed without following symlinks). Paths longer than
 *   PATH_MAX or deeper than the kernel walk allows, and files outside the
 *   task's mount namespace, are dropped rather than guessed. Directories
 *   end in "/".
 * - Permissions are AppArmor's letters for what was requested: open r
 *   (read), w (write, truncate, O_CREAT), a (append instead of w); mmap
 *   or mprotect PROT_EXEC m (one behavior for both); rename source rw and
 *   destination w; unlink, rmdir, mkdir, symlink, chmod, chown, truncate,
 *   mknod w; link l on the new name.
 * - Capabilities come from the capability:cap_capable tracepoint: checks a
 *   task makes with its own credentials that succeeded. The tracepoint
 *   cannot tell CAP_OPT_NOAUDIT checks apart; sys_admin checks made while
 *   in a memory-accounting syscall (mmap, brk, fork, execve, ...) are the
 *   frequent ones and are ignored.
 * - Signals: only those a task sends (kill, tkill, tgkill, sigqueue);
 *   the peer is the target's comm. Ptrace: the request and, as peer, the
 *   target's comm read from /proc (host pid namespace; empty if gone).
 * - Network: socket (family, type, protocol); connect and bind (the
 *   address given), listen (the bound address and port), accept (taken
 *   at accept/accept4's return from the new socket: the peer's address
 *   and the local port it came in on; not the peer's port, which is
 *   ephemeral, so one behavior per client address and local port). In
 *   the model (bpf_event.c) only connect's address and port are an
 *   egress, as vArmor's bpf.network.egresses; bind, listen and accept
 *   publish their socket and port without an address, so they add to
 *   bpf.network.sockets and never an egress (the store keys network rows
 *   by address and port, and the builder makes an egress of any row with
 *   both). Inbound peers stay in the probe (struct bpf_behavior).
 * - Compat (i386) syscalls only feed the syscall bitmap. */
#ifndef ARMORSMITH_BPF_CAPTURE_H
#define ARMORSMITH_BPF_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bpf_behavior_kind {
	BPF_B_EXEC,
	BPF_B_FILE,
	BPF_B_NETWORK,
	BPF_B_CAPABILITY,
	BPF_B_PTRACE,
	BPF_B_SIGNAL,
	BPF_B_MOUNT,
};

struct bpf_behavior {
	enum bpf_behavior_kind kind;
	uint32_t run_id;
	uint32_t pid;
	uint64_t cgroup_id;
	uint64_t mnt_ns;
	char comm[16];
	char path[4096];     /* exec, file: absolute resolved path; mount: mount point */
	char old_path[4096]; /* file rename/link source; mount: source */
	char perms[8];	     /* file: AppArmor letters, in the order "mrwalk" */
	/* network: operation is socket, connect, bind, listen or accept;
	 * family, sock_type and protocol are AppArmor's names ("inet",
	 * "stream", "tcp"); for inet/inet6 address and port: the peer's
	 * (connect), the local ones (bind, listen), the peer's address and
	 * the local port (accept) */
	char family[16], sock_type[16], protocol[16], operation[16], address[64];
	uint32_t port;
	char capability[32];   /* capability name, e.g. "net_bind_service" */
	char peer[64];	       /* ptrace, signal: the target's comm */
	char signal[16];       /* AppArmor's signal name, e.g. "term", "rtmin+2" */
	char ptrace_perms[16]; /* "trace" or "tracedby" (PTRACE_TRACEME) */
	char fstype[32];
	char flags[128];   /* mount flags, AppArmor's names, comma-separated */
	char mount_op[16]; /* mount, umount, pivot_root */
};

typedef void (*bpf_behavior_cb)(const struct bpf_behavior *b, void *ctx);

struct bpf_capture;

/* Loads and attaches the programs. Fails (negative errno, reason in err)
 * when BPF is unavailable or the build has no BPF support. */
int bpf_capture_open(struct bpf_capture **out, char *err, size_t errlen);

/* Starts capturing for this cgroup v2 id and its descendants. Called again
 * with the same run_id and another cgroup (one per container of a pod),
 * adds that cgroup to the same run: one syscall bitmap, one dedup scope.
 * At most 1024 runs at a time (-ENOSPC). */
int bpf_capture_add_run(struct bpf_capture *c, uint32_t run_id, uint64_t cgroup_id);

/* Attributes tasks in this mount namespace (the inode number of
 * /proc/PID/ns/mnt) to the run when their cgroup is in no run; the run
 * may have cgroups too, or none. The namespace stays mapped until
 * bpf_capture_remove_run() (a namespace's number can be reused once it is
 * gone: remove the run by then). -EINVAL for 0 or the caller's own mount
 * namespace (usually the host's: it would take in every task of the
 * node), -EEXIST when another run has it, -ENOSPC beyond 4096 namespaces. */
int bpf_capture_add_run_mntns(struct bpf_capture *c, uint32_t run_id, uint64_t mnt_ns_inum);

/* Stops capturing for a cgroup given to bpf_capture_add_run() and the
 * descendants attributed through it (e.g. a pod that went away mid-run);
 * the run and its other cgroups stay. -ENOENT if none was captured. */
int bpf_capture_remove_cgroup(struct bpf_capture *c, uint64_t cgroup_id);

/* Stops capturing for the run and forgets its cgroups, mount namespaces,
 * syscall bitmap and dedup entries: drain bpf_capture_syscalls() before. */
int bpf_capture_remove_run(struct bpf_capture *c, uint32_t run_id);

/* Waits up to timeout_ms (0: no wait, -1: forever) and calls cb for each
 * behavior received. A waiting call looks at the ring every 50 ms (the
 * programs do not wake readers for each behavior), so it returns at most
 * that long after the first behavior arrived. Returns the number of
 * behaviors or negative errno. */
int bpf_capture_poll(struct bpf_capture *c, int timeout_ms, bpf_behavior_cb cb, void *ctx);

/* Every syscall number the run made for this arch (AUDIT_ARCH_X86_64 or
 * AUDIT_ARCH_I386), for the caller to name with libseccomp. */
int bpf_capture_syscalls(struct bpf_capture *c, uint32_t run_id, uint32_t arch,
			 void (*cb)(int nr, void *ctx), void *ctx);

struct bpf_capture_stats {
	uint64_t events;	 /* behaviors the kernel sent */
	uint64_t dedup_hits;	 /* occurrences suppressed as already seen */
	uint64_t seen_file_hits; /* of dedup_hits: found before any path walk */
	uint64_t ringbuf_drops;	 /* first occurrences the ring buffer had no room for */
	uint64_t dropped_paths;	 /* received but dropped here: truncated or unreachable */
};

int bpf_capture_stats(struct bpf_capture *c, struct bpf_capture_stats *out);

/* Makes the kernel time every program run (BPF_ENABLE_STATS; it costs two
 * clock reads per run) until bpf_capture_close(). */
int bpf_capture_enable_prog_stats(struct bpf_capture *c);

/* Calls cb with each program's name, run count and total run time in ns
 * (zero unless program stats were enabled). */
int bpf_capture_prog_stats(struct bpf_capture *c,
			   void (*cb)(const char *prog, uint64_t runs, uint64_t run_ns, void *ctx),
			   void *ctx);

/* Whether capabilities come from the capability:cap_capable tracepoint.
 * Without it (kernels before 6.14, or ARMORSMITH_BPF_CAPABILITIES=syscalls)
 * no capability events arrive; the probe infers them with cap_infer.h. */
bool bpf_capture_has_capabilities(const struct bpf_capture *c);

void bpf_capture_close(struct bpf_capture *c);

#endif
