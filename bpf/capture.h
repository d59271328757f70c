/* What the BPF programs (capture.bpf.c) and their loader
 * (producers/probe/bpf_capture.c) share: map geometry and the raw event
 * layout on the ring buffer. Nothing outside those two files includes this.
 *
 * Builds both with vmlinux.h (BPF side, where the __u* types come from BTF)
 * and with <linux/types.h> (user side). */
#ifndef ARMORSMITH_BPF_CAPTURE_ABI_H
#define ARMORSMITH_BPF_CAPTURE_ABI_H

#define CAP_PATH_MAX 4096
/* Up to four strings per event, packed; the area is a power of two so the
 * verifier can bound a masked offset, plus one PATH_MAX of slack so a copy
 * of up to PATH_MAX bytes from any masked offset stays inside. */
#define CAP_STR_AREA 16384
#define CAP_STR_MASK (CAP_STR_AREA - 1)
#define CAP_DATA_SIZE (CAP_STR_AREA + CAP_PATH_MAX)
#define CAP_NSTR 4

/* Dentry + mount hops walked per path before it counts as truncated. */
#define CAP_WALK_DEPTH 256

#define CAP_SYSCALL_BITS 1024
#define CAP_SYSCALL_WORDS (CAP_SYSCALL_BITS / 64)

#define CAP_MAX_CGROUPS 16384
#define CAP_MAX_RUNS 1024
#define CAP_MAX_MNTNS 4096
/* File-backed mappings an mprotect(PROT_EXEC) range is looked through for. */
#define CAP_MPROTECT_VMAS 4
#define CAP_DEDUP_ENTRIES 65536
#define CAP_SEEN_FILES 65536
#define CAP_SEEN_CACHE 512 /* per CPU, direct-mapped, in front of seen_files */
#define CAP_RINGBUF_BYTES (8 * 1024 * 1024)
/* Unread bytes from which an event wakes the reader (see event_emit()) */
#define CAP_RINGBUF_WAKE_BYTES (CAP_RINGBUF_BYTES / 8)
/* The longest a reader waits between two looks at the ring (ms) */
#define CAP_POLL_SLICE_MS 50

/* Scratch slots: programs that can interrupt one another on a CPU (a signal
 * generated from an interrupt while sys_exit builds an event) must not
 * share a scratch buffer. */
enum cap_slot {
	CAP_SLOT_SYSCALL,
	CAP_SLOT_SIGNAL,
	CAP_SLOT_CAPABLE,
	CAP_SLOT_COUNT,
};

enum cap_kind {
	CAP_K_EXEC = 1,
	CAP_K_FILE,
	CAP_K_NETWORK,
	CAP_K_CAPABILITY,
	CAP_K_PTRACE,
	CAP_K_SIGNAL,
	CAP_K_MOUNT,
};

enum cap_op {
	CAP_OP_NONE,
	/* file, resolved from an opened struct file: string 1 is absolute */
	CAP_OP_OPEN,
	CAP_OP_MMAP_EXEC,
	CAP_OP_FCHMOD,
	CAP_OP_FCHOWN,
	CAP_OP_FTRUNCATE,
	/* file, path-based: string 0 is the base dir (absent for an absolute
	 * string 1), string 1 the path as given; for two-path calls strings 2
	 * and 3 are the second base and path */
	CAP_OP_UNLINK,
	CAP_OP_RMDIR,
	CAP_OP_RENAME,
	CAP_OP_MKDIR,
	CAP_OP_LINK,
	CAP_OP_SYMLINK,
	CAP_OP_CHMOD,
	CAP_OP_CHOWN,
	CAP_OP_TRUNCATE,
	CAP_OP_MKNOD,
	/* network: num = family, type, protocol, port; addr the peer's
	 * (connect, accept) or the local address (bind, listen); accept's
	 * port is the local one */
	CAP_OP_SOCKET,
	CAP_OP_CONNECT,
	CAP_OP_BIND,
	CAP_OP_LISTEN,
	CAP_OP_ACCEPT,
	/* mount: string 0 cwd, 1 target, 2 source (raw), 3 fstype; num[0] flags */
	CAP_OP_MOUNT,
	CAP_OP_UMOUNT,
	CAP_OP_PIVOT_ROOT,
};

/* AppArmor file permission bits as requested by the workload. */
#define CAP_P_READ 0x01
#define CAP_P_WRITE 0x02
#define CAP_P_APPEND 0x04
#define CAP_P_LINK 0x08
#define CAP_P_LOCK 0x10
#define CAP_P_MMAP 0x20

/* Per-string flags: bit i for string i. */
#define CAP_F_TRUNCATED(i) (1u << (i))
#define CAP_F_DETACHED(i) (1u << (4 + (i)))
#define CAP_F_DIR(i) (1u << (8 + (i)))
#define CAP_F_FAULT(i) (1u << (12 + (i)))

struct cap_event {
	__u64 cgroup_id;
	__u64 mnt_ns;
	__u32 run_id;
	__u32 pid;
	char comm[16];
	/* Everything from `kind` to the end of the used string area is the
	 * behavior's identity: it is what the dedup hash covers. */
	__u32 kind;
	__u32 op;
	__u32 perms;
	__u32 flags;
	__u64 num[4];
	__u8 addr[16];
	char peer[16];
	__u16 str_off[CAP_NSTR];
	__u16 str_len[CAP_NSTR]; /* including the NUL; 0 = absent */
	__u32 data_len;
	__u32 slot;
	char data[CAP_DATA_SIZE];
};

#define CAP_EVENT_HASHED_OFFSET 40 /* offsetof(struct cap_event, kind) */
#define CAP_EVENT_HASHED_WORDS 13  /* kind .. slot, in u64 words */

struct cap_syscalls {
	__u64 native[CAP_SYSCALL_WORDS];
	__u64 compat[CAP_SYSCALL_WORDS];
};

/* Value of run_cgroups: the run, its slot in run_syscalls (an array, so
 * the per-syscall bitmap update needs no hash lookup) and the cgroup that
 * bpf_capture_add_run() was given, which descendants inherit, so that
 * bpf_capture_remove_cgroup() finds them. */
struct cap_runref {
	__u32 run_id;
	__u32 slot;
	__u64 root;
};

/* Per-CPU memo of the last attribution for the syscall programs, valid
 * while run_gen (bumped on every change of run_cgroups or run_mntns) is
 * unchanged: the cgroup's, and for a cgroup of no run (only looked at while
 * mount-namespace keys exist) the last mount namespace's (0: none yet). */
struct cap_runcache {
	__u64 gen;
	__u64 regs; /* the task's pt_regs (top of its kernel stack) */
	__u64 task;
	__u64 cset; /* its css_set when the memo was made */
	struct cap_runref ref;
	__u32 in_run;
	__u32 mnt_in_run;
	__u64 mnt_ns;
	struct cap_runref mnt_ref;
};

/* Key of seen_files, the dedup check made before a path walk for files
 * known by their struct file (open, mmap, exec, f*chmod/own, ftruncate):
 * `fp` fingerprints the dentry/mount chain the walk would follow (each
 * dentry, its name hash and rename sequence count, each mount crossed, the
 * root's namespace), so a rename or mount change anywhere on the way gives
 * another key. `what` is kind << 24 | op << 16 | is_dir << 8 | perms. */
struct cap_fkey {
	__u32 run_id;
	__u32 what;
	__u64 mnt_ns;
	__u64 fp;
};

/* A slot of seen_cache: a key of seen_files, valid while run_gen is `gen`
 * (a removed run bumps it, so a reused run id finds nothing stale). */
struct cap_fcache {
	struct cap_fkey key;
	__u64 gen;
};

struct cap_dedup_key {
	__u32 run_id;
	__u32 kind;
	__u64 hash;
};

struct cap_counters {
	__u64 events;
	__u64 dedup_hits;
	__u64 ringbuf_drops;
	__u64 seen_file_hits; /* repeats found by seen_files, not in dedup_hits */
};

#endif
