// SPDX-License-Identifier: GPL-2.0
/* Behavior capture from tracepoints only (no fentry, no BPF-LSM): see
 * producers/probe/bpf_capture.h for what user space gets out of it.
 *
 * Tasks of no run pay one cgroup-id check: for the syscall programs (run
 * on every syscall) against a per-CPU memo of the last cgroup seen, else a
 * hash lookup. Only while some run has a mount-namespace key do tasks
 * outside every run's cgroup pay a second check, of their mount namespace.
 * User space attaches the programs only while a run exists.
 * Files known by their struct file are looked up in seen_files by a
 * fingerprint of their dentry/mount chain before the path walk, which then
 * runs only for what the run has not done yet. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "capture.h"

char LICENSE[] SEC("license") = "GPL";

/* x86_64 syscall numbers; compat (i386) calls only feed the bitmap. */
#define NR_read 0
#define NR_rt_sigreturn 15
#define NR_exit 60
#define NR_exit_group 231
#define NR_open 2
#define NR_mmap 9
#define NR_truncate 76
#define NR_ftruncate 77
#define NR_rename 82
#define NR_mkdir 83
#define NR_rmdir 84
#define NR_creat 85
#define NR_link 86
#define NR_unlink 87
#define NR_symlink 88
#define NR_chmod 90
#define NR_fchmod 91
#define NR_chown 92
#define NR_fchown 93
#define NR_lchown 94
#define NR_ptrace 101
#define NR_mknod 133
#define NR_pivot_root 155
#define NR_mount 165
#define NR_umount2 166
#define NR_socket 41
#define NR_connect 42
#define NR_accept 43
#define NR_bind 49
#define NR_listen 50
#define NR_accept4 288
#define NR_pkey_mprotect 329
#define NR_openat 257
#define NR_mkdirat 258
#define NR_mknodat 259
#define NR_fchownat 260
#define NR_unlinkat 263
#define NR_renameat 264
#define NR_linkat 265
#define NR_symlinkat 266
#define NR_fchmodat 268
#define NR_renameat2 316
#define NR_openat2 437
#define NR_fchmodat2 452

/* i386 numbers of the calls the bitmap takes outside sys_exit */
#define NR32_exit 1
#define NR32_execve 11
#define NR32_sigreturn 119
#define NR32_rt_sigreturn 173
#define NR32_exit_group 252
#define NR32_execveat 358

/* Syscalls whose memory accounting makes the kernel ask cap_capable for
 * CAP_SYS_ADMIN with CAP_OPT_NOAUDIT (cap_vm_enough_memory); the tracepoint
 * does not carry the option, so checks made inside them are not taken as
 * exercised sys_admin. */
#define NR_mprotect 10
#define NR_brk 12
#define NR_mremap 25
#define NR_shmget 29
#define NR_clone 56
#define NR_fork 57
#define NR_vfork 58
#define NR_execve 59
#define NR_memfd_create 319
#define NR_execveat 322
#define NR_clone3 435

#define AT_FDCWD -100
#define AT_REMOVEDIR 0x200
#define O_ACCMODE 00000003
#define O_WRONLY 00000001
#define O_RDWR 00000002
#define O_CREAT 00000100
#define O_TRUNC 00001000
#define O_APPEND 00002000
#define O_PATH 010000000
/* include/linux/fs.h; unchanged since 4.19 */
#define FMODE_CREATED 0x100000
#define PROT_EXEC 0x4
#define MAP_ANONYMOUS 0x20
#define TS_COMPAT 0x0002
#define S_IFMT 00170000
#define S_IFDIR 0040000
#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define CAP_SYS_ADMIN 21
#define SI_USER 0
#define SI_QUEUE -1
#define SI_TKILL -6

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CAP_MAX_CGROUPS);
	__type(key, __u64);
	__type(value, struct cap_runref);
} run_cgroups SEC(".maps");

/* Indexed by the run's slot (cap_runref.slot). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CAP_MAX_RUNS);
	__type(key, __u32);
	__type(value, struct cap_syscalls);
} run_syscalls SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cap_runcache);
} runcache SEC(".maps");

/* The second key (bpf_capture_add_run_mntns): mount namespace inode
 * number to run, looked up only for tasks whose cgroup is in no run. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CAP_MAX_MNTNS);
	__type(key, __u64);
	__type(value, struct cap_runref);
} run_mntns SEC(".maps");

/* Bumped (by user space and cgroup_mkdir/rmdir) after every change of
 * run_cgroups or run_mntns: it invalidates every CPU's runcache. */
volatile __u64 run_gen;

/* Set by user space where sched_prepare_exec exists (6.10+). */
const volatile bool prepare_exec_attached;

/* How many keys run_mntns holds (set by user space): while 0, a task whose
 * cgroup is in no run costs nothing more. */
volatile __u32 mntns_keys;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CAP_SEEN_FILES);
	__type(key, struct cap_fkey);
	__type(value, __u8);
} seen_files SEC(".maps");

/* In front of seen_files for the task-context programs (which cannot
 * interrupt one another on a CPU): a repeat found here costs no hash. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CAP_SEEN_CACHE);
	__type(key, __u32);
	__type(value, struct cap_fcache);
} seen_cache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CAP_DEDUP_ENTRIES);
	__type(key, struct cap_dedup_key);
	__type(value, __u8);
} dedup SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CAP_RINGBUF_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CAP_SLOT_COUNT);
	__type(key, __u32);
	__type(value, struct cap_event);
} scratch SEC(".maps");

/* Components are written right to left from the end of the first half;
 * the second half is slack for the verifier. */
struct pathbuf {
	char b[2 * CAP_PATH_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CAP_SLOT_COUNT);
	__type(key, __u32);
	__type(value, struct pathbuf);
} pathbufs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cap_counters);
} counters SEC(".maps");

/* Read-only view of a kernel pointer (kernel 6.2+, inlined by the verifier):
 * loads through it are direct and fault-safe, unlike bpf_probe_read_kernel
 * calls. */
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym;
extern int LINUX_KERNEL_VERSION __kconfig;
#define kcast(p, type) ((type *)bpf_rdonly_cast((void *)(p), bpf_core_type_id_kernel(type)))

/* A kernel pointer's value as a number to hash: the verifier lets a
 * privileged program subtract two pointers, and nothing else. */
static __always_inline __u64 ptr_bits(const void *p)
{
	return (__u64)p - (__u64)bpf_rdonly_cast(0, bpf_core_type_id_kernel(struct dentry));
}

static __always_inline __u64 current_mnt_ns(void)
{
	struct task_struct *task = bpf_get_current_task_btf();

	/* nsproxy is NULL for an exiting task: the load then gives 0, which
	 * is no namespace's number */
	return task->nsproxy->mnt_ns->ns.inum;
}

/* The cgroup decides first; the mount namespace only for a task whose
 * cgroup is in no run, and only while any mount-namespace key exists. */
static __always_inline struct cap_runref *current_run(void)
{
	__u64 cg = bpf_get_current_cgroup_id(), ns;
	struct cap_runref *ref = bpf_map_lookup_elem(&run_cgroups, &cg);

	if (ref || !mntns_keys)
		return ref;
	ns = current_mnt_ns();
	return bpf_map_lookup_elem(&run_mntns, &ns);
}

/* syscall_run()'s second key, off its fast path. */
static __noinline struct cap_runref *syscall_run_mntns(struct cap_runcache *rc,
						       struct task_struct *task)
{
	__u64 ns = task->nsproxy->mnt_ns->ns.inum;
	struct cap_runref *ref;

	if (rc->mnt_ns != ns) {
		ref = bpf_map_lookup_elem(&run_mntns, &ns);
		rc->mnt_in_run = ref != NULL;
		if (ref)
			rc->mnt_ref = *ref;
		rc->mnt_ns = ns;
	}
	return rc->mnt_in_run ? &rc->mnt_ref : NULL;
}

/* current_run() for the syscall programs, through a per-CPU memo of the
 * last task seen on the CPU, known by its pt_regs (the top of its kernel
 * stack, which the syscall tracepoints are given): a repeat costs neither
 * bpf_get_current_task_btf(), a helper call this kernel does not inline,
 * nor a hash lookup. The memo holds while run_gen is unchanged, which
 * every change of the run maps, every task exit (a dead task's stack and
 * task_struct are reused) and every cgroup migration bump; the task's
 * css_set is compared too, so a migration counts from the first syscall
 * after it, before its tracepoint. Only programs that cannot interrupt one
 * another (task context) may share the memo. *taskp is current. */
static __always_inline struct cap_runref *syscall_run(const struct pt_regs *regs,
						      struct task_struct **taskp)
{
	__u64 gen = run_gen;
	struct task_struct *task;
	struct cap_runcache *rc;
	struct cap_runref *ref;
	__u32 zero = 0;
	__u64 cg;

	rc = bpf_map_lookup_elem(&runcache, &zero);
	if (!rc)
		return NULL;
	if (rc->regs == ptr_bits(regs) && rc->gen == gen) {
		task = kcast(rc->task, struct task_struct);
		if (ptr_bits(task->cgroups) == rc->cset)
			goto known;
	}
	task = bpf_get_current_task_btf();
	/* bpf_get_current_cgroup_id() without its call */
	cg = task->cgroups->dfl_cgrp->kn->id;
	ref = bpf_map_lookup_elem(&run_cgroups, &cg);
	rc->in_run = ref != NULL;
	if (ref)
		rc->ref = *ref;
	if (rc->gen != gen)
		rc->mnt_ns = 0;
	rc->regs = ptr_bits(regs);
	rc->task = ptr_bits(task);
	rc->cset = ptr_bits(task->cgroups);
	rc->gen = gen;
known:
	*taskp = task;
	if (rc->in_run)
		return &rc->ref;
	if (!mntns_keys)
		return NULL;
	return syscall_run_mntns(rc, task);
}

static __always_inline struct cap_event *event_begin(__u32 slot, __u32 run, __u32 kind, __u32 op)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cap_event *ev = bpf_map_lookup_elem(&scratch, &slot);

	if (!ev)
		return NULL;
	__builtin_memset(ev, 0, offsetof(struct cap_event, data));
	ev->cgroup_id = bpf_get_current_cgroup_id();
	ev->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	ev->run_id = run;
	ev->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(ev->comm, sizeof(ev->comm));
	ev->kind = kind;
	ev->op = op;
	ev->slot = slot;
	return ev;
}

struct hash_ctx {
	__u32 slot;
	__u64 h;
};

static __always_inline __u64 mix(__u64 h, __u64 w)
{
	h = (h ^ w) * 0x100000001b3ULL;
	return h ^ (h >> 29);
}

static long hash_word(__u32 i, void *arg)
{
	struct hash_ctx *hc = arg;
	struct cap_event *ev = bpf_map_lookup_elem(&scratch, &hc->slot);
	__u64 w;

	if (!ev)
		return 1;
	__builtin_memcpy(&w, &ev->data[(i * 8) & CAP_STR_MASK], 8);
	hc->h = mix(hc->h, w);
	return 0;
}

/* Waking the reader costs an irq_work per event (a self-IPI, which in a
 * VM is an exit: ~19 us per behavior on the VM of bench/bpf/README.md).
 * The reader consumes the ring on a timer instead (bpf_capture_poll());
 * a wakeup is forced only once the ring holds enough to wake a reader
 * blocked in epoll well before it fills. */
static __always_inline __u64 ringbuf_wakeup_flag(void)
{
	if (bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= CAP_RINGBUF_WAKE_BYTES)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* Reports the event unless this run already reported the same behavior.
 * A failed ring-buffer reservation forgets the key again, so the next
 * occurrence is reported: a first occurrence is never lost for good.
 * Returns 1 when the behavior reached, or had reached, the ring buffer. */
static __noinline int event_emit(struct cap_event *ev)
{
	struct hash_ctx hc = {.slot = ev->slot, .h = 0xcbf29ce484222325ULL};
	struct cap_dedup_key key = {};
	__u32 zero = 0, len = ev->data_len;
	struct cap_counters *cnt = bpf_map_lookup_elem(&counters, &zero);
	__u64 *w = (__u64 *)&ev->kind;
	__u8 one = 1;
	long err;

	if (!cnt || len > CAP_STR_AREA)
		return 0;
	/* Stale bytes of an earlier event must not reach the hash. */
	for (int i = 0; i < 8; i++)
		ev->data[(len + i) & CAP_STR_MASK] = 0;
	for (int i = 0; i < CAP_EVENT_HASHED_WORDS; i++)
		hc.h = mix(hc.h, w[i]);
	bpf_loop((len + 7) / 8, hash_word, &hc, 0);

	key.run_id = ev->run_id;
	key.kind = ev->kind;
	key.hash = hc.h;
	/* A plain lookup first: an LRU update takes a free node before it
	 * finds the key exists, which makes the common (seen) case dear. */
	if (bpf_map_lookup_elem(&dedup, &key)) {
		__sync_fetch_and_add(&cnt->dedup_hits, 1);
		return 1;
	}
	err = bpf_map_update_elem(&dedup, &key, &one, BPF_NOEXIST);
	if (err == -17 /* EEXIST */) {
		__sync_fetch_and_add(&cnt->dedup_hits, 1);
		return 1;
	}
	if (bpf_ringbuf_output(&events, ev, offsetof(struct cap_event, data) + len,
			       ringbuf_wakeup_flag())) {
		if (!err)
			bpf_map_delete_elem(&dedup, &key);
		__sync_fetch_and_add(&cnt->ringbuf_drops, 1);
		return 0;
	}
	__sync_fetch_and_add(&cnt->events, 1);
	return 1;
}

struct walk_ctx {
	struct dentry *dentry;
	struct dentry *mnt_root;
	struct mount *mnt;
	struct mnt_namespace *top_ns;
	__u32 slot;
	__u32 pos;
	__u32 status;
};

enum { WALK_RUNNING, WALK_DONE, WALK_DETACHED, WALK_TRUNCATED };

/* One step of d_path(): prepend a name, or cross to the parent mount. */
static long walk_step(__u32 i, void *arg)
{
	struct walk_ctx *w = arg;
	struct dentry *d = w->dentry;
	struct dentry *parent = BPF_CORE_READ(d, d_parent);
	struct mount *mnt = w->mnt;
	struct pathbuf *pb;
	struct qstr name;
	__u32 pos;

	if (d == w->mnt_root || d == parent) {
		struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

		if (d != w->mnt_root) {
			w->status = WALK_DETACHED;
			return 1;
		}
		if (up == mnt) {
			w->top_ns = BPF_CORE_READ(mnt, mnt_ns);
			w->status = WALK_DONE;
			return 1;
		}
		w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
		w->mnt = up;
		w->mnt_root = BPF_CORE_READ(up, mnt.mnt_root);
		return 0;
	}
	if (bpf_core_read(&name, sizeof(name), &d->d_name))
		goto truncated;
	pos = w->pos;
	if (name.len == 0 || name.len > 255 || pos < name.len + 1)
		goto truncated;
	pb = bpf_map_lookup_elem(&pathbufs, &w->slot);
	if (!pb)
		goto truncated;
	pos -= name.len;
	if (bpf_probe_read_kernel(&pb->b[pos & (CAP_PATH_MAX - 1)], name.len & 0xff, name.name))
		goto truncated;
	pos--;
	pb->b[pos & (CAP_PATH_MAX - 1)] = '/';
	w->pos = pos;
	w->dentry = parent;
	return 0;
truncated:
	w->status = WALK_TRUNCATED;
	return 1;
}

/* Appends the absolute path of (dentry, vfsmount) as string idx. */
static __noinline int put_path(struct cap_event *ev, int idx, struct dentry *dentry,
			       struct vfsmount *vfsmnt)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct walk_ctx w = {};
	struct pathbuf *pb;
	__u32 off = ev->data_len;
	long n;

	idx &= 3;
	w.slot = ev->slot;
	pb = bpf_map_lookup_elem(&pathbufs, &w.slot);
	if (!pb || !dentry || !vfsmnt || off >= CAP_STR_AREA)
		return -1;
	w.dentry = dentry;
	w.mnt = (struct mount *)((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt));
	w.mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
	w.pos = CAP_PATH_MAX - 1;
	pb->b[CAP_PATH_MAX - 1] = 0;
	bpf_loop(CAP_WALK_DEPTH, walk_step, &w, 0);
	if (w.status == WALK_RUNNING || w.status == WALK_TRUNCATED)
		ev->flags |= CAP_F_TRUNCATED(idx);
	else if (w.status == WALK_DETACHED || w.top_ns != BPF_CORE_READ(task, nsproxy, mnt_ns))
		ev->flags |= CAP_F_DETACHED(idx);
	if (w.pos == CAP_PATH_MAX - 1) {
		w.pos--;
		pb->b[w.pos] = '/';
	}
	if ((BPF_CORE_READ(dentry, d_inode, i_mode) & S_IFMT) == S_IFDIR)
		ev->flags |= CAP_F_DIR(idx);
	n = bpf_probe_read_kernel_str(&ev->data[off & CAP_STR_MASK], CAP_PATH_MAX,
				      &pb->b[w.pos & (CAP_PATH_MAX - 1)]);
	if (n <= 0)
		return -1;
	ev->str_off[idx] = off;
	ev->str_len[idx] = n;
	ev->data_len = off + n;
	return 0;
}

/* The task's open file for fd, as a read-only kernel pointer, or NULL. */
static __always_inline struct file *task_fd_file(struct task_struct *task, int fd)
{
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || fd >= fdt->max_fds)
		return NULL;
	/* A pointer to a pointer loads as a number: the slot is read as the
	 * first member of a struct that starts with a pointer, a direct load
	 * instead of a helper call. */
	fds = fdt->fd;
	f = (struct file *)kcast(&fds[fd], struct hlist_node)->next;
	if (!f)
		return NULL;
	return kcast(f, struct file);
}

static __always_inline struct file *fd_file(int fd)
{
	return task_fd_file(bpf_get_current_task_btf(), fd);
}

static __always_inline int put_file(struct cap_event *ev, int idx, struct file *f)
{
	if (!f)
		return -1;
	return put_path(ev, idx, BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt));
}

#define FP_INLINE_STEPS 8

struct fp_walk {
	struct dentry *dentry;
	struct dentry *mnt_root;
	struct mount *mnt;
	__u64 h;
	__u32 done;
};

/* One step of walk_step() without copying the name: folds in what decides
 * the path (the dentry, its name's hash and length, its rename sequence
 * count; the mounts crossed) so that any rename or mount move on the way
 * changes the fingerprint. Returns 1 at the end of the walk. */
static __always_inline long fp_step_one(struct fp_walk *w)
{
	struct dentry *d = kcast(w->dentry, struct dentry);
	struct dentry *parent = d->d_parent;

	if (d == w->mnt_root || d == parent) {
		struct mount *mnt = kcast(w->mnt, struct mount);
		struct mount *up = mnt->mnt_parent;

		if (d != w->mnt_root) {
			w->h = mix(w->h, 1); /* detached */
			w->done = 1;
			return 1;
		}
		if (up == mnt) {
			w->h = mix(w->h, ptr_bits(mnt->mnt_ns));
			w->done = 1;
			return 1;
		}
		parent = mnt->mnt_mountpoint;
		w->h = mix(w->h, ptr_bits(parent) ^ (ptr_bits(up) * 0x9e3779b97f4a7c15ULL));
		w->dentry = parent;
		w->mnt = up;
		w->mnt_root = up->mnt.mnt_root;
		return 0;
	}
	/* one dependent multiply per level: the three words are combined
	 * by independent ones first */
	w->h = mix(w->h, ptr_bits(d) ^ (d->d_name.hash_len * 0x9e3779b97f4a7c15ULL) ^
			     ((__u64)d->d_seq.seqcount.sequence * 0xc2b2ae3d27d4eb4fULL));
	w->dentry = parent;
	return 0;
}

static long fp_step(__u32 i, void *arg)
{
	return fp_step_one(arg);
}

/* Only file_event() counts these, and only from task context, where the
 * programs cannot interrupt one another: no atomic needed. */
static long count_seen_hit(void)
{
	__u32 zero = 0;
	struct cap_counters *cnt = bpf_map_lookup_elem(&counters, &zero);

	if (cnt)
		cnt->seen_file_hits++;
	return 0;
}

static __always_inline bool fkey_eq(const struct cap_fkey *a, const struct cap_fkey *b)
{
	return a->fp == b->fp && a->mnt_ns == b->mnt_ns && a->run_id == b->run_id &&
	       a->what == b->what;
}

/* A behavior on an open file (open, exec, mmap, fchmod, ...), given by
 * the file's struct path: checked against seen_files by fingerprint first;
 * the path walk and the content dedup run only on a miss, and the
 * fingerprint is remembered only once the behavior reached the ring
 * buffer. Task context only (CAP_SLOT_SYSCALL). */
/* file_event()'s kind and op in one argument (at most five) */
#define KIND_OP(kind, op) ((kind) << 8 | (op))

static __always_inline int file_event_inline(struct task_struct *task, __u32 run, __u32 kind_op,
					     __u32 perms, const struct path *path)
{
	__u32 kind = kind_op >> 8, op = kind_op & 0xff;
	struct path *p = kcast(path, struct path);
	struct dentry *dentry = p->dentry;
	struct vfsmount *vfsmnt = p->mnt;
	struct mount *mnt;
	__u64 gen = run_gen;
	struct cap_fcache *fc;
	struct fp_walk w = {};
	struct cap_fkey k = {};
	struct cap_event *ev;
	__u32 idx;
	__u8 one = 1;
	bool dir;

	if (!dentry || !vfsmnt)
		return 0;
	dir = (dentry->d_inode->i_mode & S_IFMT) == S_IFDIR;
	mnt = kcast((void *)vfsmnt - bpf_core_field_offset(struct mount, mnt), struct mount);
	w.dentry = dentry;
	w.mnt = mnt;
	w.mnt_root = vfsmnt->mnt_root;
	w.h = mix(0xcbf29ce484222325ULL, ptr_bits(dentry->d_inode));
	w.h = mix(w.h, ptr_bits(mnt));
	/* most paths are short: their steps inline, the rest in a loop */
#pragma clang loop unroll(full)
	for (int i = 0; i < FP_INLINE_STEPS; i++)
		if (fp_step_one(&w))
			goto walked;
	bpf_loop(CAP_WALK_DEPTH - FP_INLINE_STEPS, fp_step, &w, 0);
walked:
	k.run_id = run;
	k.what = kind << 24 | op << 16 | (__u32)dir << 8 | (perms & 0xff);
	k.mnt_ns = ptr_bits(task->nsproxy->mnt_ns);
	k.fp = mix(w.h, w.done);
	idx = k.fp & (CAP_SEEN_CACHE - 1);
	fc = bpf_map_lookup_elem(&seen_cache, &idx);
	if (!fc)
		return 0;
	if (fc->gen == gen && fkey_eq(&fc->key, &k))
		return count_seen_hit();
	if (bpf_map_lookup_elem(&seen_files, &k)) {
		fc->key = k;
		fc->gen = gen;
		return count_seen_hit();
	}

	ev = event_begin(CAP_SLOT_SYSCALL, run, kind, op);
	if (!ev)
		return 0;
	ev->perms = perms;
	if (put_path(ev, 1, dentry, vfsmnt))
		return 0;
	if (event_emit(ev)) {
		bpf_map_update_elem(&seen_files, &k, &one, BPF_ANY);
		fc->key = k;
		fc->gen = gen;
	}
	return 0;
}

/* file_event_inline() as one function for the colder callers: each call
 * and return costs more than the work here (return thunks) */
static __noinline int file_event(struct task_struct *task, __u32 run, __u32 kind_op, __u32 perms,
				 const struct path *path)
{
	return file_event_inline(task, run, kind_op, perms, path);
}

static __always_inline int put_cwd(struct cap_event *ev, int idx)
{
	struct task_struct *task = bpf_get_current_task_btf();

	return put_path(ev, idx, BPF_CORE_READ(task, fs, pwd.dentry),
			BPF_CORE_READ(task, fs, pwd.mnt));
}

/* Appends a user string as string idx; returns its first byte. */
static __noinline int put_user_str(struct cap_event *ev, int idx, const char *ustr)
{
	__u32 off = ev->data_len;
	long n;

	idx &= 3;
	if (off >= CAP_STR_AREA)
		return -1;
	n = bpf_probe_read_user_str(&ev->data[off & CAP_STR_MASK], CAP_PATH_MAX, ustr);
	if (n <= 0) {
		ev->data[off & CAP_STR_MASK] = 0;
		ev->flags |= CAP_F_FAULT(idx);
		n = 1;
	} else if (n == CAP_PATH_MAX) {
		ev->flags |= CAP_F_TRUNCATED(idx);
	}
	ev->str_off[idx] = off;
	ev->str_len[idx] = n;
	ev->data_len = off + n;
	return ev->data[off & CAP_STR_MASK];
}

/* A path argument relative to dfd (or cwd): the path as given in string
 * idx+1, and the directory it is relative to in string idx when it is not
 * absolute. User space joins and normalises them. */
static __always_inline int put_at_path(struct cap_event *ev, int idx, int dfd, const char *upath)
{
	int first = put_user_str(ev, idx + 1, upath);

	if (first == '/')
		return 0;
	if (first < 0)
		return -1;
	if (dfd == AT_FDCWD)
		return put_cwd(ev, idx);
	return put_file(ev, idx, fd_file(dfd));
}

static __always_inline void file_path_op(__u32 run, __u32 op, int dfd, const char *p)
{
	struct cap_event *ev = event_begin(CAP_SLOT_SYSCALL, run, CAP_K_FILE, op);

	if (!ev || put_at_path(ev, 0, dfd, p))
		return;
	event_emit(ev);
}

static __always_inline void file_path_op2(__u32 run, __u32 op, int dfd1, const char *p1, int dfd2,
					  const char *p2)
{
	struct cap_event *ev = event_begin(CAP_SLOT_SYSCALL, run, CAP_K_FILE, op);

	if (!ev || put_at_path(ev, 0, dfd1, p1) || put_at_path(ev, 2, dfd2, p2))
		return;
	event_emit(ev);
}

static __always_inline void file_fd_op(__u32 run, __u32 op, int fd, __u32 perms)
{
	struct file *f = fd_file(fd);

	if (f)
		file_event(bpf_get_current_task_btf(), run, KIND_OP(CAP_K_FILE, op), perms,
			   &f->f_path);
}

static __always_inline void net_sock_fill(struct cap_event *ev, int fd)
{
	struct file *f = fd_file(fd);
	struct socket *sock;
	struct sock *sk;

	if (!f)
		return;
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	ev->num[0] = BPF_CORE_READ(sk, __sk_common.skc_family);
	ev->num[1] = BPF_CORE_READ(sock, type);
	ev->num[2] = BPF_CORE_READ(sk, sk_protocol);
}

static __always_inline void net_addr_op(__u32 run, __u32 op, int fd, const void *uaddr)
{
	struct cap_event *ev = event_begin(CAP_SLOT_SYSCALL, run, CAP_K_NETWORK, op);
	__u16 family = 0, port = 0;

	if (!ev)
		return;
	net_sock_fill(ev, fd);
	if (bpf_probe_read_user(&family, sizeof(family), uaddr))
		return;
	if (family == AF_INET) {
		bpf_probe_read_user(&port, sizeof(port), uaddr + 2);
		bpf_probe_read_user(ev->addr, 4, uaddr + 4);
	} else if (family == AF_INET6) {
		bpf_probe_read_user(&port, sizeof(port), uaddr + 2);
		bpf_probe_read_user(ev->addr, 16, uaddr + 8);
	} else if (family == 0) {
		return; /* connect(AF_UNSPEC) dissolves an association */
	}
	ev->num[0] = family;
	ev->num[3] = __builtin_bswap16(port);
	event_emit(ev);
}

static __always_inline void net_listen(__u32 run, int fd)
{
	struct cap_event *ev = event_begin(CAP_SLOT_SYSCALL, run, CAP_K_NETWORK, CAP_OP_LISTEN);
	struct file *f = fd_file(fd);
	struct socket *sock;
	struct sock *sk;

	if (!ev || !f)
		return;
	net_sock_fill(ev, fd);
	sock = BPF_CORE_READ(f, private_data);
	sk = BPF_CORE_READ(sock, sk);
	ev->num[3] = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (ev->num[0] == AF_INET)
		BPF_CORE_READ_INTO(ev->addr, sk, __sk_common.skc_rcv_saddr);
	else if (ev->num[0] == AF_INET6)
		BPF_CORE_READ_INTO(ev->addr, sk, __sk_common.skc_v6_rcv_saddr);
	event_emit(ev);
}

/* At accept's exit, from the socket the kernel made: the peer's address
 * (not its port, which is ephemeral) and the local port it was reached on. */
static __noinline void net_accept(__u32 run, int fd)
{
	struct cap_event *ev = event_begin(CAP_SLOT_SYSCALL, run, CAP_K_NETWORK, CAP_OP_ACCEPT);
	struct file *f = fd_file(fd);
	struct socket *sock;
	struct sock *sk;

	if (!ev || !f)
		return;
	sock = kcast(f->private_data, struct socket);
	sk = kcast(sock->sk, struct sock);
	ev->num[0] = sk->__sk_common.skc_family;
	ev->num[1] = sock->type;
	ev->num[2] = sk->sk_protocol;
	ev->num[3] = sk->__sk_common.skc_num;
	if (ev->num[0] == AF_INET)
		__builtin_memcpy(ev->addr, &sk->__sk_common.skc_daddr, 4);
	else if (ev->num[0] == AF_INET6)
		__builtin_memcpy(ev->addr, &sk->__sk_common.skc_v6_daddr, 16);
	event_emit(ev);
}

/* include/linux/fs.h: the file is the struct file of a struct
 * backing_file (overlayfs maps its files' real files into a VMA), since
 * 6.8; the bit moved with the fanotify pre-content bits in 6.14
 * (bpf_capture_test's overlay case checks it on the kernel it runs on). */
static __always_inline __u32 fmode_backing(void)
{
	if (LINUX_KERNEL_VERSION >= KERNEL_VERSION(6, 14, 0))
		return 1u << 24;
	if (LINUX_KERNEL_VERSION >= KERNEL_VERSION(6, 8, 0))
		return 1u << 25;
	return 0;
}

struct vma_ctx {
	__u64 file; /* struct file * as a number (0: anonymous) */
	__u64 end;
};

static long vma_file(struct task_struct *task, struct vm_area_struct *vma, void *arg)
{
	struct vma_ctx *vc = arg;
	struct file *f = vma->vm_file;

	vc->file = f ? ptr_bits(f) : 0;
	vc->end = vma->vm_end;
	return 0;
}

/* The path the task knows a mapped file by: for a backing file, the
 * overlayfs path it was opened through, not the real file's (which lies
 * in a private mount outside the task's namespace: checked too, so that a
 * wrong guess of the bit can only miss an overlay file, never take another
 * file's memory for a path). */
static __always_inline const struct path *mapped_file_path(struct file *f)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u32 backing = fmode_backing();
	struct backing_file *bf;
	struct mount *mnt;

	if (!backing || !bpf_core_type_exists(struct backing_file) || !(f->f_mode & backing))
		return &f->f_path;
	mnt = kcast((void *)f->f_path.mnt - bpf_core_field_offset(struct mount, mnt), struct mount);
	if (mnt->mnt_ns != task->nsproxy->mnt_ns) {
		bf = kcast((void *)f - bpf_core_field_offset(struct backing_file, file),
			   struct backing_file);
		return &bf->user_path;
	}
	return &f->f_path;
}

/* mprotect(PROT_EXEC) that succeeded: AppArmor asks m of the file of every
 * file-backed mapping in the range (apparmor_file_mprotect). Up to
 * CAP_MPROTECT_VMAS mappings are looked at. The VMA is found under the mmap
 * lock; the file is read after bpf_find_vma() let the lock go, through
 * fault-safe loads, as fd_file() reads an fd table. */
static __noinline void mprotect_exec(__u32 run, __u64 start, __u64 len)
{
	struct task_struct *task = bpf_get_current_task_btf();
	__u64 end = start + len;
	struct vma_ctx vc;

	for (int i = 0; i < CAP_MPROTECT_VMAS; i++) {
		if (start >= end)
			break;
		vc.file = 0;
		vc.end = 0;
		if (bpf_find_vma(task, start, vma_file, &vc, 0) || vc.end <= start)
			break;
		if (vc.file)
			file_event(task, run, KIND_OP(CAP_K_FILE, CAP_OP_MMAP_EXEC), CAP_P_MMAP,
				   mapped_file_path(kcast(vc.file, struct file)));
		start = vc.end;
	}
}

static __always_inline void mount_op(__u32 run, __u32 op, const char *target, const char *src,
				     const char *fstype, __u64 flags)
{
	struct cap_event *ev = event_begin(CAP_SLOT_SYSCALL, run, CAP_K_MOUNT, op);

	if (!ev)
		return;
	ev->num[0] = flags;
	/* The cwd is always sent: the source of a bind mount or pivot_root's
	 * put_old may be relative even when the target is not. */
	put_cwd(ev, 0);
	put_user_str(ev, 1, target);
	if (src)
		put_user_str(ev, 2, src);
	if (fstype)
		put_user_str(ev, 3, fstype);
	event_emit(ev);
}

/* AppArmor's request for an open (aa_map_file_to_perms, plus path_mknod
 * and path_truncate): read/write from the access mode, append instead of
 * write, write for a truncation and for a file the open created (AppArmor's
 * c, which vArmor folds into w). w covers a, and AppArmor rejects the two
 * together in one rule, so a is only reported alone. */
static __always_inline __u32 open_perms(__u64 flags, __u32 f_mode)
{
	__u32 p;

	switch (flags & O_ACCMODE) {
	case O_WRONLY:
		p = CAP_P_WRITE;
		break;
	case O_RDWR:
		p = CAP_P_READ | CAP_P_WRITE;
		break;
	default:
		p = CAP_P_READ;
	}
	if ((flags & O_APPEND) && (p & CAP_P_WRITE))
		p = (p & ~CAP_P_WRITE) | CAP_P_APPEND;
	if ((flags & O_TRUNC) || (f_mode & FMODE_CREATED))
		p |= CAP_P_WRITE;
	if (p & CAP_P_WRITE)
		p &= ~CAP_P_APPEND;
	return p;
}

static __always_inline bool task_compat(struct task_struct *task)
{
	return task->thread_info.status & TS_COMPAT;
}

/* Every syscall number of a run, at exit only: one program dispatch per
 * syscall instead of two. The calls that never return or that overwrite
 * orig_ax are taken elsewhere: exit and exit_group at sched_process_exit,
 * execve by a task that changes its ABI at sched_prepare_exec, and
 * rt_sigreturn, which restores orig_ax = -1 from the signal frame, by that
 * -1. A syscall refused by a seccomp filter still reaches this tracepoint
 * (as it reaches strace): the workload asked for it. */
static __always_inline void syscall_mark(__u32 slot, bool compat, long id)
{
	struct cap_syscalls *sc = bpf_map_lookup_elem(&run_syscalls, &slot);
	__u64 *w, bit;

	if (!sc || id < 0 || id >= CAP_SYSCALL_BITS)
		return;
	w = compat ? &sc->compat[(id >> 6) & (CAP_SYSCALL_WORDS - 1)]
		   : &sc->native[(id >> 6) & (CAP_SYSCALL_WORDS - 1)];
	bit = 1ULL << (id & 63);
	/* Read first: the common case (bit already set) then stays a shared
	 * cache line instead of an atomic on every syscall. */
	if (!(*w & bit))
		__sync_fetch_and_or(w, bit);
}

static __always_inline void syscall_mark_sigreturn(__u32 slot, bool compat)
{
	if (!compat) {
		syscall_mark(slot, false, NR_rt_sigreturn);
		return;
	}
	/* the i386 frame does not say which of the two built it */
	syscall_mark(slot, true, NR32_rt_sigreturn);
	syscall_mark(slot, true, NR32_sigreturn);
}

/* Path arguments are read at exit from the same user memory and dirfds as
 * at entry, whatever the call returned (a refused unlink is still an
 * unlink the profile must decide on). Opens are taken from the struct file
 * the kernel opened: the path is exactly the one it resolved (dirfd, ..,
 * symlinks, mounts). The requested flags are still in the saved
 * registers. */
SEC("tp_btf/sys_exit")
int BPF_PROG(cap_sys_exit, struct pt_regs *regs, long ret)
{
	struct task_struct *task;
	struct cap_runref *ref = syscall_run(regs, &task);
	long id = regs->orig_ax;
	__u32 run, slot;
	struct file *f;
	__u64 flags;
	bool compat;

	if (!ref)
		return 0;
	run = ref->run_id;
	slot = ref->slot;
	compat = task_compat(task);
	if (id == -1) {
		syscall_mark_sigreturn(slot, compat);
		return 0;
	}
	if (compat) {
		/* after a 64-bit execve of an i386 binary orig_ax holds the
		 * i386 number: sched_prepare_exec took the call */
		if (ret == 0 && (id == NR32_execve || id == NR32_execveat) && prepare_exec_attached)
			return 0;
		syscall_mark(slot, true, id);
		return 0;
	}
	syscall_mark(slot, false, id);

	switch (id) {
	case NR_mmap:
		if ((regs->dx & PROT_EXEC) && !(regs->r10 & MAP_ANONYMOUS))
			file_fd_op(run, CAP_OP_MMAP_EXEC, regs->r8, CAP_P_MMAP);
		break;
	case NR_unlink:
		file_path_op(run, CAP_OP_UNLINK, AT_FDCWD, (const char *)regs->di);
		break;
	case NR_rmdir:
		file_path_op(run, CAP_OP_RMDIR, AT_FDCWD, (const char *)regs->di);
		break;
	case NR_unlinkat:
		file_path_op(run, (regs->dx & AT_REMOVEDIR) ? CAP_OP_RMDIR : CAP_OP_UNLINK,
			     regs->di, (const char *)regs->si);
		break;
	case NR_mkdir:
		file_path_op(run, CAP_OP_MKDIR, AT_FDCWD, (const char *)regs->di);
		break;
	case NR_mkdirat:
		file_path_op(run, CAP_OP_MKDIR, regs->di, (const char *)regs->si);
		break;
	case NR_mknod:
		file_path_op(run, CAP_OP_MKNOD, AT_FDCWD, (const char *)regs->di);
		break;
	case NR_mknodat:
		file_path_op(run, CAP_OP_MKNOD, regs->di, (const char *)regs->si);
		break;
	case NR_chmod:
		file_path_op(run, CAP_OP_CHMOD, AT_FDCWD, (const char *)regs->di);
		break;
	case NR_fchmodat:
	case NR_fchmodat2:
		file_path_op(run, CAP_OP_CHMOD, regs->di, (const char *)regs->si);
		break;
	case NR_chown:
	case NR_lchown:
		file_path_op(run, CAP_OP_CHOWN, AT_FDCWD, (const char *)regs->di);
		break;
	case NR_fchownat:
		file_path_op(run, CAP_OP_CHOWN, regs->di, (const char *)regs->si);
		break;
	case NR_truncate:
		file_path_op(run, CAP_OP_TRUNCATE, AT_FDCWD, (const char *)regs->di);
		break;
	case NR_fchmod:
		file_fd_op(run, CAP_OP_FCHMOD, regs->di, CAP_P_WRITE);
		break;
	case NR_fchown:
		file_fd_op(run, CAP_OP_FCHOWN, regs->di, CAP_P_WRITE);
		break;
	case NR_ftruncate:
		file_fd_op(run, CAP_OP_FTRUNCATE, regs->di, CAP_P_WRITE);
		break;
	case NR_rename:
		file_path_op2(run, CAP_OP_RENAME, AT_FDCWD, (const char *)regs->di, AT_FDCWD,
			      (const char *)regs->si);
		break;
	case NR_renameat:
	case NR_renameat2:
		file_path_op2(run, CAP_OP_RENAME, regs->di, (const char *)regs->si, regs->dx,
			      (const char *)regs->r10);
		break;
	case NR_link:
		file_path_op2(run, CAP_OP_LINK, AT_FDCWD, (const char *)regs->di, AT_FDCWD,
			      (const char *)regs->si);
		break;
	case NR_linkat:
		file_path_op2(run, CAP_OP_LINK, regs->di, (const char *)regs->si, regs->dx,
			      (const char *)regs->r10);
		break;
	case NR_symlink:
		/* The target is link content, not an access: only the new
		 * link's path counts. */
		file_path_op(run, CAP_OP_SYMLINK, AT_FDCWD, (const char *)regs->si);
		break;
	case NR_symlinkat:
		file_path_op(run, CAP_OP_SYMLINK, regs->si, (const char *)regs->dx);
		break;
	case NR_socket: {
		struct cap_event *ev =
		    event_begin(CAP_SLOT_SYSCALL, run, CAP_K_NETWORK, CAP_OP_SOCKET);

		if (!ev)
			break;
		ev->num[0] = regs->di;
		ev->num[1] = regs->si & 0xf; /* without SOCK_NONBLOCK/CLOEXEC */
		ev->num[2] = regs->dx;
		event_emit(ev);
		break;
	}
	case NR_connect:
		net_addr_op(run, CAP_OP_CONNECT, regs->di, (const void *)regs->si);
		break;
	case NR_bind:
		net_addr_op(run, CAP_OP_BIND, regs->di, (const void *)regs->si);
		break;
	case NR_listen:
		net_listen(run, regs->di);
		break;
	case NR_ptrace: {
		struct cap_event *ev =
		    event_begin(CAP_SLOT_SYSCALL, run, CAP_K_PTRACE, CAP_OP_NONE);

		if (!ev)
			break;
		ev->num[0] = regs->di;
		ev->num[1] = regs->si;
		event_emit(ev);
		break;
	}
	case NR_mount:
		mount_op(run, CAP_OP_MOUNT, (const char *)regs->si, (const char *)regs->di,
			 (const char *)regs->dx, regs->r10);
		break;
	case NR_umount2:
		mount_op(run, CAP_OP_UMOUNT, (const char *)regs->di, NULL, NULL, regs->si);
		break;
	case NR_pivot_root:
		mount_op(run, CAP_OP_PIVOT_ROOT, (const char *)regs->di, (const char *)regs->si,
			 NULL, 0);
		break;
	case NR_accept:
	case NR_accept4:
		if (ret >= 0)
			net_accept(run, ret);
		break;
	case NR_mprotect:
	case NR_pkey_mprotect:
		if (ret >= 0 && (regs->dx & PROT_EXEC))
			mprotect_exec(run, regs->di, regs->si);
		break;
	case NR_open:
	case NR_openat:
	case NR_openat2:
	case NR_creat:
		if (ret < 0)
			break;
		if (id == NR_open)
			flags = regs->si;
		else if (id == NR_openat)
			flags = regs->dx;
		else if (id == NR_creat)
			flags = O_CREAT | O_WRONLY | O_TRUNC;
		/* struct open_how starts with the u64 flags */
		else if (bpf_probe_read_user(&flags, sizeof(flags), (void *)regs->dx))
			break;
		if (flags & O_PATH)
			break;
		f = task_fd_file(task, ret);
		if (f)
			file_event_inline(task, run, KIND_OP(CAP_K_FILE, CAP_OP_OPEN),
					  open_perms(flags, f->f_mode), &f->f_path);
		break;
	}
	return 0;
}

/* exit and exit_group do not return: a task leaving through one of them
 * still has its number in orig_ax. A task killed by a signal has the
 * number of the call it was in (already taken at its exit) or -1. */
SEC("tp_btf/sched_process_exit")
int BPF_PROG(cap_task_exit, struct task_struct *task)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct task_struct *cur;
	struct cap_runref *ref = syscall_run(regs, &cur);
	bool compat;
	long id;

	if (ref) {
		id = BPF_CORE_READ(regs, orig_ax);
		compat = task_compat(task);
		if (compat ? (id == NR32_exit || id == NR32_exit_group)
			   : (id == NR_exit || id == NR_exit_group))
			syscall_mark(ref->slot, compat, id);
	}
	/* Every exit, after the task's last use of the memo: its stack
	 * (and so its pt_regs) may be another task's next. */
	__sync_fetch_and_add(&run_gen, 1);
	return 0;
}

/* A task moved to another cgroup: no memo may keep its old run (its
 * css_set is compared as well; this covers an old css_set's address
 * coming back). */
SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(cap_cgroup_attach, struct cgroup *dst, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	__sync_fetch_and_add(&run_gen, 1);
	return 0;
}

/* Before the new image replaces the ABI: an execve made by a 64-bit task
 * of an i386 binary is a 64-bit call, though it returns as an i386 one. */
SEC("tp_btf/sched_prepare_exec")
int BPF_PROG(cap_prepare_exec, struct task_struct *task, struct linux_binprm *bprm)
{
	struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);
	struct task_struct *cur;
	struct cap_runref *ref = syscall_run(regs, &cur);
	long id;

	if (!ref)
		return 0;
	id = BPF_CORE_READ(regs, orig_ax);
	syscall_mark(ref->slot, task_compat(task), id);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(cap_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	struct cap_runref *ref = current_run();
	struct file *f = bprm->file;

	if (!ref || !f)
		return 0;
	file_event(bpf_get_current_task_btf(), ref->run_id, KIND_OP(CAP_K_EXEC, CAP_OP_NONE), 0,
		   &f->f_path);
	return 0;
}

/* A child cgroup of a run's cgroup belongs to the run from its creation,
 * before any task in it can make a syscall and before user space could
 * learn about it. */
SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(cap_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	struct cgroup_subsys_state *pcss;
	struct cgroup *parent;
	struct cap_runref *run;
	__u64 id, pid;

	/* hierarchy 0 is the cgroup v2 one, whose ids the helpers return */
	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	pcss = BPF_CORE_READ(cgrp, self.parent);
	if (!pcss)
		return 0;
	parent = (struct cgroup *)((void *)pcss - bpf_core_field_offset(struct cgroup, self));
	pid = BPF_CORE_READ(parent, kn, id);
	run = bpf_map_lookup_elem(&run_cgroups, &pid);
	if (!run)
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	bpf_map_update_elem(&run_cgroups, &id, run, BPF_ANY);
	__sync_fetch_and_add(&run_gen, 1);
	return 0;
}

SEC("tp_btf/cgroup_rmdir")
int BPF_PROG(cap_cgroup_rmdir, struct cgroup *cgrp, const char *path)
{
	__u64 id;

	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != 0)
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	if (bpf_map_delete_elem(&run_cgroups, &id) == 0)
		__sync_fetch_and_add(&run_gen, 1);
	return 0;
}

static __always_inline bool vm_accounting_syscall(long nr)
{
	switch (nr) {
	case NR_mmap:
	case NR_mprotect:
	case NR_brk:
	case NR_mremap:
	case NR_shmget:
	case NR_clone:
	case NR_fork:
	case NR_vfork:
	case NR_execve:
	case NR_memfd_create:
	case NR_execveat:
	case NR_clone3:
		return true;
	}
	return false;
}

/* Only checks the task makes for itself (not with another cred, e.g. a
 * file opener's) and that succeeded: AppArmor sees a capability request
 * only after commoncap granted it. */
SEC("tp_btf/cap_capable")
int BPF_PROG(cap_capable, const struct cred *cred, struct user_namespace *target_ns,
	     const struct user_namespace *capable_ns, int cap, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct cap_runref *runp;
	struct cap_event *ev;

	if (ret != 0)
		return 0;
	runp = current_run();
	if (!runp || cred != BPF_CORE_READ(task, cred))
		return 0;
	if (cap == CAP_SYS_ADMIN) {
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(task);

		if (vm_accounting_syscall(BPF_CORE_READ(regs, orig_ax)))
			return 0;
	}
	ev = event_begin(CAP_SLOT_CAPABLE, runp->run_id, CAP_K_CAPABILITY, CAP_OP_NONE);
	if (!ev)
		return 0;
	ev->num[0] = cap;
	event_emit(ev);
	return 0;
}

/* Only signals a task sends (kill, tkill, tgkill, sigqueue), not the ones
 * the kernel generates in its context (SIGCHLD, SIGPIPE, faults). */
SEC("tp_btf/signal_generate")
int BPF_PROG(cap_signal, int sig, struct kernel_siginfo *info, struct task_struct *target,
	     int group, int result)
{
	struct cap_runref *runp;
	struct cap_event *ev;
	int code;

	/* SEND_SIG_NOINFO (0) and SEND_SIG_PRIV (1) are kernel senders */
	if ((unsigned long)info <= 1)
		return 0;
	code = BPF_CORE_READ(info, si_code);
	if (code != SI_USER && code != SI_QUEUE && code != SI_TKILL)
		return 0;
	runp = current_run();
	if (!runp)
		return 0;
	ev = event_begin(CAP_SLOT_SIGNAL, runp->run_id, CAP_K_SIGNAL, CAP_OP_NONE);
	if (!ev)
		return 0;
	ev->num[0] = sig;
	BPF_CORE_READ_STR_INTO(&ev->peer, target, comm);
	event_emit(ev);
	return 0;
}
