/* Loader and decoder for the BPF capture programs (bpf/capture.bpf.c). */
#include "bpf_capture.h"
#include "capability.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#ifdef ARMORSMITH_HAVE_BPF

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/types.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "capture.h"
#include "capture.skel.h"

_Static_assert(offsetof(struct cap_event, kind) == CAP_EVENT_HASHED_OFFSET, "hashed offset");
_Static_assert(offsetof(struct cap_event, data) - CAP_EVENT_HASHED_OFFSET ==
		   CAP_EVENT_HASHED_WORDS * 8,
	       "hashed words");

/* Descendant cgroups deeper than this are not looked for at add_run. */
#define CGROUP_SCAN_DEPTH 16

/* A run known to the kernel side: its id and, by position, its slot in
 * the run_syscalls array. */
struct run_slot {
	uint32_t run_id;
	bool used;
};

struct bpf_capture {
	struct capture *skel;
	struct ring_buffer *rb;
	int stats_fd;
	bool attached;
	int nruns;
	struct run_slot runs[CAP_MAX_RUNS];
	int mntns_keys; /* entries of run_mntns, mirrored to the programs */
	uint64_t own_mnt_ns;
	bpf_behavior_cb cb;
	void *cb_ctx;
	int delivered;
	uint64_t dropped_paths;
	bool cap_tracepoint; /* capabilities come from capability:cap_capable */
	struct bpf_behavior b;
};

/* Whether this kernel has the capability:cap_capable tracepoint (6.14+):
 * its BTF then names the tracepoint's type. ARMORSMITH_BPF_CAPABILITIES=
 * syscalls forces the inference table instead, so that path is tested on
 * kernels that have the tracepoint too. */
static bool kernel_has_tracepoint(const char *btf_name)
{
	struct btf *vmlinux = btf__load_vmlinux_btf();
	bool has;

	if (!vmlinux)
		return false;
	has = btf__find_by_name_kind(vmlinux, btf_name, BTF_KIND_TYPEDEF) > 0;
	btf__free(vmlinux);
	return has;
}

static bool cap_tracepoint_available(void)
{
	const char *force = getenv("ARMORSMITH_BPF_CAPABILITIES");

	if (force && strcmp(force, "syscalls") == 0)
		return false;
	return kernel_has_tracepoint("btf_trace_cap_capable");
}

/* libbpf reports why a load failed only through its print callback; the
 * last warning is kept to name the cause in bpf_capture_open's error. */
static _Thread_local char libbpf_last[256];

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[sizeof(libbpf_last)];
	size_t n;

	if (getenv("ARMORSMITH_BPF_DEBUG"))
		return vfprintf(stderr, fmt, ap);
	if (level != LIBBPF_WARN)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' '))
		line[--n] = 0;
	if (n > 0)
		memcpy(libbpf_last, line, n + 1);
	return 0;
}

static void copy_str(char *dst, size_t dstlen, const char *src)
{
	snprintf(dst, dstlen, "%s", src ? src : "");
}

/* String i of the event, or NULL when absent or malformed. */
static const char *ev_str(const struct cap_event *ev, size_t size, int i)
{
	size_t off = ev->str_off[i], len = ev->str_len[i];
	size_t avail = size - offsetof(struct cap_event, data);

	if (len == 0 || off + len > ev->data_len || off + len > avail)
		return NULL;
	if (ev->data[off + len - 1] != 0)
		return NULL;
	return &ev->data[off];
}

static bool str_unusable(const struct cap_event *ev, int i)
{
	return ev->flags & (CAP_F_TRUNCATED(i) | CAP_F_DETACHED(i) | CAP_F_FAULT(i));
}

/* Joins base and rel (rel alone when absolute) and removes ".", ".." and
 * repeated slashes lexically. */
static int path_join_norm(char *out, size_t outlen, const char *base, const char *rel, bool dir)
{
	char tmp[2 * CAP_PATH_MAX + 2];
	size_t starts[CAP_PATH_MAX / 2];
	size_t depth = 0, o = 0;
	const char *p;
	int n;

	if (rel[0] == '/' || !base)
		n = snprintf(tmp, sizeof(tmp), "%s", rel);
	else
		n = snprintf(tmp, sizeof(tmp), "%s/%s", base, rel);
	if (n < 0 || (size_t)n >= sizeof(tmp) || tmp[0] != '/')
		return -EINVAL;
	p = tmp;
	while (*p) {
		const char *s;
		size_t len;

		while (*p == '/')
			p++;
		s = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - s);
		if (len == 0 || (len == 1 && s[0] == '.'))
			continue;
		if (len == 2 && s[0] == '.' && s[1] == '.') {
			if (depth > 0)
				o = starts[--depth];
			continue;
		}
		if (o + 1 + len + 1 > outlen || depth >= sizeof(starts) / sizeof(starts[0]))
			return -ENAMETOOLONG;
		starts[depth++] = o;
		out[o++] = '/';
		memcpy(out + o, s, len);
		o += len;
	}
	if (o == 0 || dir) {
		if (o + 2 > outlen)
			return -ENAMETOOLONG;
		out[o++] = '/';
	}
	out[o] = 0;
	return 0;
}

static void perms_letters(char out[8], uint32_t p)
{
	static const struct {
		uint32_t bit;
		char c;
	} order[] = {{CAP_P_MMAP, 'm'},	  {CAP_P_READ, 'r'}, {CAP_P_WRITE, 'w'},
		     {CAP_P_APPEND, 'a'}, {CAP_P_LINK, 'l'}, {CAP_P_LOCK, 'k'}};
	size_t n = 0;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (p & order[i].bit)
			out[n++] = order[i].c;
	out[n] = 0;
}

static const char *const family_names[] = {
    "unspec",  "unix",	  "inet",    "ax25",   "ipx",	     "appletalk", "netrom",   "bridge",
    "atmpvc",  "x25",	  "inet6",   "rose",   "decnet",     "netbeui",	  "security", "key",
    "netlink", "packet",  "ash",     "econet", "atmsvc",     "rds",	  "sna",      "irda",
    "pppox",   "wanpipe", "llc",     "ib",     "mpls",	     "can",	  "tipc",     "bluetooth",
    "iucv",    "rxrpc",	  "isdn",    "phonet", "ieee802154", "caif",	  "alg",      "nfc",
    "vsock",   "kcm",	  "qipcrtr", "smc",    "xdp",	     "mctp",
};

static void name_or_number(char *dst, size_t dstlen, const char *const *names, size_t n, uint64_t v)
{
	if (v < n && names[v])
		copy_str(dst, dstlen, names[v]);
	else
		snprintf(dst, dstlen, "%llu", (unsigned long long)v);
}

static void sock_type_name(char *dst, size_t dstlen, uint64_t t)
{
	static const char *const names[] = {NULL,   "stream", "dgram", "raw", "rdm",   "seqpacket",
					    "dccp", NULL,     NULL,    NULL,  "packet"};

	name_or_number(dst, dstlen, names, sizeof(names) / sizeof(names[0]), t);
}

/* Protocol 0 asks for the family's default: the kernel picks tcp for
 * stream and udp for dgram inet sockets. */
static void protocol_name(char *dst, size_t dstlen, uint64_t family, uint64_t type, uint64_t proto)
{
	bool inet = family == 2 || family == 10;

	if (inet && proto == 0 && type == 1)
		proto = 6;
	else if (inet && proto == 0 && type == 2)
		proto = 17;
	switch (proto) {
	case 0:
		dst[0] = 0;
		return;
	case 1:
		copy_str(dst, dstlen, inet ? "icmp" : "1");
		return;
	case 6:
		copy_str(dst, dstlen, inet ? "tcp" : "6");
		return;
	case 17:
		copy_str(dst, dstlen, inet ? "udp" : "17");
		return;
	case 58:
		copy_str(dst, dstlen, inet ? "icmpv6" : "58");
		return;
	case 132:
		copy_str(dst, dstlen, inet ? "sctp" : "132");
		return;
	case 136:
		copy_str(dst, dstlen, inet ? "udplite" : "136");
		return;
	case 255:
		copy_str(dst, dstlen, inet ? "raw" : "255");
		return;
	}
	snprintf(dst, dstlen, "%llu", (unsigned long long)proto);
}

static void signal_name(char *dst, size_t dstlen, uint64_t sig)
{
	static const char *const names[] = {
	    "exists", "hup",  "int",	"quit", "ill",	 "trap", "abrt", "bus",
	    "fpe",    "kill", "usr1",	"segv", "usr2",	 "pipe", "alrm", "term",
	    "stkflt", "chld", "cont",	"stop", "stp",	 "ttin", "ttou", "urg",
	    "xcpu",   "xfsz", "vtalrm", "prof", "winch", "io",	 "pwr",	 "sys",
	};

	if (sig < sizeof(names) / sizeof(names[0]))
		copy_str(dst, dstlen, names[sig]);
	else if (sig <= 64)
		snprintf(dst, dstlen, "rtmin+%llu", (unsigned long long)(sig - 32));
	else
		snprintf(dst, dstlen, "%u", (unsigned)(sig & 0xffffffffu));
}

static void flag_add(char *dst, size_t dstlen, const char *name)
{
	size_t n = strlen(dst);

	snprintf(dst + n, dstlen - n, "%s%s", n ? "," : "", name);
}

static void mount_flag_names(char *dst, size_t dstlen, uint64_t f)
{
	static const struct {
		uint64_t bit;
		const char *name, *rec_name;
	} names[] = {
	    {1, "ro", NULL},
	    {2, "nosuid", NULL},
	    {4, "nodev", NULL},
	    {8, "noexec", NULL},
	    {16, "sync", NULL},
	    {32, "remount", NULL},
	    {64, "mand", NULL},
	    {128, "dirsync", NULL},
	    {256, "nosymfollow", NULL},
	    {1024, "noatime", NULL},
	    {2048, "nodiratime", NULL},
	    {4096, "bind", "rbind"},
	    {8192, "move", NULL},
	    {32768, "silent", NULL},
	    {1 << 16, "acl", NULL},
	    {1 << 17, "unbindable", "runbindable"},
	    {1 << 18, "private", "rprivate"},
	    {1 << 19, "slave", "rslave"},
	    {1 << 20, "shared", "rshared"},
	    {1 << 21, "relatime", NULL},
	    {1 << 23, "iversion", NULL},
	    {1 << 24, "strictatime", NULL},
	    {1 << 25, "lazytime", NULL},
	};
	bool rec = f & 16384;

	dst[0] = 0;
	if (!(f & 1))
		flag_add(dst, dstlen, "rw");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & names[i].bit)
			flag_add(dst, dstlen,
				 rec && names[i].rec_name ? names[i].rec_name : names[i].name);
}

static void umount_flag_names(char *dst, size_t dstlen, uint64_t f)
{
	dst[0] = 0;
	if (f & 1)
		flag_add(dst, dstlen, "force");
	if (f & 2)
		flag_add(dst, dstlen, "detach");
	if (f & 4)
		flag_add(dst, dstlen, "expire");
	if (f & 8)
		flag_add(dst, dstlen, "nofollow");
}

static void proc_comm(char *dst, size_t dstlen, uint64_t pid)
{
	char p[64];
	FILE *f;

	dst[0] = 0;
	snprintf(p, sizeof(p), "/proc/%llu/comm", (unsigned long long)pid);
	f = fopen(p, "re");
	if (!f)
		return;
	if (fgets(dst, (int)dstlen, f))
		dst[strcspn(dst, "\n")] = 0;
	fclose(f);
}

static void deliver(struct bpf_capture *c)
{
	c->cb(&c->b, c->cb_ctx);
	c->delivered++;
}

/* Resolves string pair (base i, path i+1) into dst. */
static int at_path(struct bpf_capture *c, const struct cap_event *ev, size_t size, int i, char *dst,
		   size_t dstlen, bool dir)
{
	const char *base = ev_str(ev, size, i), *rel = ev_str(ev, size, i + 1);

	if (!rel || str_unusable(ev, i + 1) || (base && str_unusable(ev, i)) ||
	    path_join_norm(dst, dstlen, base, rel, dir)) {
		c->dropped_paths++;
		return -1;
	}
	return 0;
}

static void decode_file(struct bpf_capture *c, const struct cap_event *ev, size_t size)
{
	struct bpf_behavior *b = &c->b;
	bool dir = false;

	b->kind = BPF_B_FILE;
	switch (ev->op) {
	case CAP_OP_OPEN:
	case CAP_OP_MMAP_EXEC:
	case CAP_OP_FCHMOD:
	case CAP_OP_FCHOWN:
	case CAP_OP_FTRUNCATE:
		if (at_path(c, ev, size, 0, b->path, sizeof(b->path), ev->flags & CAP_F_DIR(1)))
			return;
		perms_letters(b->perms, ev->perms);
		deliver(c);
		return;
	case CAP_OP_RENAME:
		/* AppArmor asks rename_src for read+write+delete, rename_dest
		 * for write+create */
		if (at_path(c, ev, size, 0, b->old_path, sizeof(b->old_path), false) ||
		    at_path(c, ev, size, 2, b->path, sizeof(b->path), false))
			return;
		copy_str(b->perms, sizeof(b->perms), "rw");
		{
			char dst[sizeof(b->path)];

			memcpy(dst, b->path, sizeof(dst));
			memcpy(b->path, b->old_path, sizeof(b->path));
			b->old_path[0] = 0;
			deliver(c);
			memcpy(b->old_path, b->path, sizeof(b->old_path));
			memcpy(b->path, dst, sizeof(b->path));
		}
		copy_str(b->perms, sizeof(b->perms), "w");
		deliver(c);
		return;
	case CAP_OP_LINK:
		if (at_path(c, ev, size, 0, b->old_path, sizeof(b->old_path), false) ||
		    at_path(c, ev, size, 2, b->path, sizeof(b->path), false))
			return;
		copy_str(b->perms, sizeof(b->perms), "l");
		deliver(c);
		return;
	case CAP_OP_MKDIR:
	case CAP_OP_RMDIR:
		dir = true;
		break;
	}
	if (at_path(c, ev, size, 0, b->path, sizeof(b->path), dir))
		return;
	copy_str(b->perms, sizeof(b->perms), "w");
	deliver(c);
}

static void decode_network(struct bpf_capture *c, const struct cap_event *ev)
{
	static const char *const ops[] = {
	    [CAP_OP_SOCKET] = "socket", [CAP_OP_CONNECT] = "connect", [CAP_OP_BIND] = "bind",
	    [CAP_OP_LISTEN] = "listen", [CAP_OP_ACCEPT] = "accept",
	};
	struct bpf_behavior *b = &c->b;

	b->kind = BPF_B_NETWORK;
	if (ev->op < CAP_OP_SOCKET || ev->op > CAP_OP_ACCEPT)
		return;
	copy_str(b->operation, sizeof(b->operation), ops[ev->op]);
	name_or_number(b->family, sizeof(b->family), family_names,
		       sizeof(family_names) / sizeof(family_names[0]), ev->num[0]);
	sock_type_name(b->sock_type, sizeof(b->sock_type), ev->num[1]);
	protocol_name(b->protocol, sizeof(b->protocol), ev->num[0], ev->num[1], ev->num[2]);
	if (ev->op != CAP_OP_SOCKET && (ev->num[0] == 2 || ev->num[0] == 10)) {
		inet_ntop(ev->num[0] == 2 ? AF_INET : AF_INET6, ev->addr, b->address,
			  sizeof(b->address));
		b->port = (uint32_t)ev->num[3];
	}
	deliver(c);
}

static void decode_mount(struct bpf_capture *c, const struct cap_event *ev, size_t size)
{
	struct bpf_behavior *b = &c->b;
	const char *cwd = ev_str(ev, size, 0), *src = ev_str(ev, size, 2);
	const char *fstype = ev_str(ev, size, 3);
	bool src_is_path;

	if (str_unusable(ev, 0))
		cwd = NULL;
	b->kind = BPF_B_MOUNT;
	if (at_path(c, ev, size, 0, b->path, sizeof(b->path), false))
		return;
	switch (ev->op) {
	case CAP_OP_MOUNT:
		copy_str(b->mount_op, sizeof(b->mount_op), "mount");
		mount_flag_names(b->flags, sizeof(b->flags), ev->num[0]);
		/* 4096 MS_BIND, 8192 MS_MOVE: the source is a path then */
		src_is_path = src && (src[0] == '/' || (ev->num[0] & (4096 | 8192)));
		if (src_is_path && !str_unusable(ev, 2)) {
			if (path_join_norm(b->old_path, sizeof(b->old_path), cwd, src, false))
				b->old_path[0] = 0;
		} else {
			copy_str(b->old_path, sizeof(b->old_path), src);
		}
		copy_str(b->fstype, sizeof(b->fstype), fstype);
		break;
	case CAP_OP_UMOUNT:
		copy_str(b->mount_op, sizeof(b->mount_op), "umount");
		umount_flag_names(b->flags, sizeof(b->flags), ev->num[0]);
		break;
	case CAP_OP_PIVOT_ROOT:
		copy_str(b->mount_op, sizeof(b->mount_op), "pivot_root");
		if (src && !str_unusable(ev, 2) &&
		    path_join_norm(b->old_path, sizeof(b->old_path), cwd, src, false))
			b->old_path[0] = 0;
		break;
	default:
		return;
	}
	deliver(c);
}

static int on_event(void *ctx, void *data, size_t size)
{
	struct bpf_capture *c = ctx;
	const struct cap_event *ev = data;
	struct bpf_behavior *b = &c->b;

	if (size < offsetof(struct cap_event, data) ||
	    ev->data_len > size - offsetof(struct cap_event, data))
		return 0;
	memset(b, 0, sizeof(*b));
	b->run_id = ev->run_id;
	b->pid = ev->pid;
	b->cgroup_id = ev->cgroup_id;
	b->mnt_ns = ev->mnt_ns;
	memcpy(b->comm, ev->comm, sizeof(b->comm));
	b->comm[sizeof(b->comm) - 1] = 0;

	switch (ev->kind) {
	case CAP_K_EXEC:
		b->kind = BPF_B_EXEC;
		if (at_path(c, ev, size, 0, b->path, sizeof(b->path), false))
			return 0;
		deliver(c);
		break;
	case CAP_K_FILE:
		decode_file(c, ev, size);
		break;
	case CAP_K_NETWORK:
		decode_network(c, ev);
		break;
	case CAP_K_CAPABILITY:
		b->kind = BPF_B_CAPABILITY;
		if (capability_name((unsigned)ev->num[0]))
			copy_str(b->capability, sizeof(b->capability),
				 capability_name((unsigned)ev->num[0]));
		else
			snprintf(b->capability, sizeof(b->capability), "%llu",
				 (unsigned long long)ev->num[0]);
		deliver(c);
		break;
	case CAP_K_SIGNAL:
		b->kind = BPF_B_SIGNAL;
		signal_name(b->signal, sizeof(b->signal), ev->num[0]);
		memcpy(b->peer, ev->peer, sizeof(ev->peer));
		b->peer[sizeof(ev->peer) - 1] = 0;
		deliver(c);
		break;
	case CAP_K_PTRACE:
		b->kind = BPF_B_PTRACE;
		/* 0 is PTRACE_TRACEME: the caller asks to be traced by its parent */
		copy_str(b->ptrace_perms, sizeof(b->ptrace_perms),
			 ev->num[0] == 0 ? "tracedby" : "trace");
		if (ev->num[0] != 0)
			proc_comm(b->peer, sizeof(b->peer), ev->num[1]);
		deliver(c);
		break;
	case CAP_K_MOUNT:
		decode_mount(c, ev, size);
		break;
	}
	return 0;
}

int bpf_capture_open(struct bpf_capture **out, char *err, size_t errlen)
{
	struct bpf_capture *c;
	const char *step;
	int ret;

	*out = NULL;
	libbpf_set_print(libbpf_print);
	libbpf_last[0] = 0;
	c = calloc(1, sizeof(*c));
	if (!c) {
		snprintf(err, errlen, "allocating bpf capture: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	c->stats_fd = -1;
	step = "opening bpf object";
	c->skel = capture__open();
	if (!c->skel) {
		ret = -errno;
		goto cleanup;
	}
	c->cap_tracepoint = cap_tracepoint_available();
	{
		struct stat st;

		if (stat("/proc/self/ns/mnt", &st) == 0)
			c->own_mnt_ns = st.st_ino;
	}
	if (!c->cap_tracepoint)
		bpf_program__set_autoload(c->skel->progs.cap_capable, false);
	/* sched:sched_prepare_exec (6.10+) only tells the ABI of an execve
	 * that switches to an i386 binary; without it that call is taken as
	 * the i386 execve it returns as. */
	if (kernel_has_tracepoint("btf_trace_sched_prepare_exec"))
		c->skel->rodata->prepare_exec_attached = true;
	else
		bpf_program__set_autoload(c->skel->progs.cap_prepare_exec, false);
	step = "loading bpf programs";
	ret = capture__load(c->skel);
	if (ret)
		goto cleanup;
	/* Attached once to fail here rather than at the first run, then
	 * detached: with no run, no task pays for the programs. */
	step = "attaching bpf programs";
	ret = capture__attach(c->skel);
	if (ret)
		goto cleanup;
	capture__detach(c->skel);
	step = "creating ring buffer";
	c->rb = ring_buffer__new(bpf_map__fd(c->skel->maps.events), on_event, c, NULL);
	if (!c->rb) {
		ret = -errno;
		goto cleanup;
	}
	*out = c;
	return 0;

cleanup:
	if (ret >= 0)
		ret = -EINVAL;
	snprintf(err, errlen, "%s: %s%s%s", step, strerror(-ret), libbpf_last[0] ? " (" : "",
		 libbpf_last[0] ? libbpf_last : "");
	if (libbpf_last[0] && strlen(err) + 2 <= errlen)
		strcat(err, ")");
	bpf_capture_close(c);
	return ret;
}

struct cgroup_scan {
	int map_fd;
	struct cap_runref ref;
	uint64_t cgroup_id;
	int found;
};

static int cgroup_add(int map_fd, uint64_t id, const struct cap_runref *ref)
{
	return bpf_map_update_elem(map_fd, &id, ref, BPF_ANY) ? -errno : 0;
}

/* After any change of run_cgroups: every CPU's memo of it is stale. */
static void run_gen_bump(struct bpf_capture *c)
{
	__atomic_fetch_add(&c->skel->bss->run_gen, 1, __ATOMIC_SEQ_CST);
}

static void mntns_keys_set(struct bpf_capture *c, int n)
{
	c->mntns_keys = n > 0 ? n : 0;
	__atomic_store_n(&c->skel->bss->mntns_keys, (uint32_t)c->mntns_keys, __ATOMIC_SEQ_CST);
}

static int run_find(const struct bpf_capture *c, uint32_t run_id)
{
	for (int i = 0; i < CAP_MAX_RUNS; i++)
		if (c->runs[i].used && c->runs[i].run_id == run_id)
			return i;
	return -1;
}

/* Walks a cgroup2 directory tree; once the run's cgroup is found (a
 * cgroup's id is its kernfs inode number), adds every cgroup below it. */
static int cgroup_scan_dir(struct cgroup_scan *s, int dfd, int depth, bool inside)
{
	DIR *d;
	struct dirent *de;
	int ret = 0;

	if (depth > CGROUP_SCAN_DEPTH) {
		close(dfd);
		return 0;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct stat st;
		int sub;

		if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW))
			continue;
		if (inside) {
			ret = cgroup_add(s->map_fd, st.st_ino, &s->ref);
			if (ret)
				break;
		}
		sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0)
			continue;
		ret = cgroup_scan_dir(s, sub, depth + 1, inside || st.st_ino == s->cgroup_id);
		if (ret)
			break;
		if (st.st_ino == s->cgroup_id)
			s->found = 1;
		if (!inside && s->found)
			break; /* the run's subtree is done */
	}
	closedir(d);
	return ret;
}

static int cgroup2_mount(char *out, size_t outlen)
{
	char line[4096];
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int ret = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		char mnt[2048], fstype[64];
		const char *sep = strstr(line, " - ");

		if (!sep || sscanf(sep, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %2047s", mnt) != 1)
			continue;
		/* mountinfo escapes spaces as \040; cgroup mounts have none */
		copy_str(out, outlen, mnt);
		ret = 0;
		break;
	}
	fclose(f);
	return ret;
}

/* The run's slot, taken (with a cleared syscall bitmap) if it is new. */
static int run_slot_get(struct bpf_capture *c, uint32_t run_id)
{
	struct cap_syscalls zero = {0};
	uint32_t slot;
	int i = run_find(c, run_id);

	if (i >= 0)
		return i;
	for (i = 0; i < CAP_MAX_RUNS && c->runs[i].used; i++)
		;
	if (i == CAP_MAX_RUNS)
		return -ENOSPC;
	slot = (uint32_t)i;
	if (bpf_map_update_elem(bpf_map__fd(c->skel->maps.run_syscalls), &slot, &zero, BPF_ANY))
		return -errno;
	c->runs[i].run_id = run_id;
	c->runs[i].used = true;
	c->nruns++;
	return i;
}

/* The run's slot, with the programs attached; undone if that fails. */
static int run_attach(struct bpf_capture *c, uint32_t run_id)
{
	int ret, slot;

	if (!c->attached) {
		ret = capture__attach(c->skel);
		if (ret) {
			capture__detach(c->skel);
			return ret < 0 ? ret : -EINVAL;
		}
		c->attached = true;
	}
	slot = run_slot_get(c, run_id);
	if (slot < 0 && c->nruns == 0) {
		capture__detach(c->skel);
		c->attached = false;
	}
	return slot;
}

int bpf_capture_add_run(struct bpf_capture *c, uint32_t run_id, uint64_t cgroup_id)
{
	struct cgroup_scan s = {.cgroup_id = cgroup_id};
	char root[2048];
	struct stat st;
	int fd, ret, slot;

	slot = run_attach(c, run_id);
	if (slot < 0)
		return slot;
	s.ref.run_id = run_id;
	s.ref.slot = (uint32_t)slot;
	s.ref.root = cgroup_id;
	s.map_fd = bpf_map__fd(c->skel->maps.run_cgroups);
	ret = cgroup_add(s.map_fd, cgroup_id, &s.ref);
	if (ret)
		goto out;
	/* Cgroups that already exist below the run's one have missed their
	 * cgroup_mkdir: add them now. */
	if (cgroup2_mount(root, sizeof(root)))
		goto out;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	if (fstat(fd, &st)) {
		close(fd);
		goto out;
	}
	ret = cgroup_scan_dir(&s, fd, 0, st.st_ino == cgroup_id);
out:
	run_gen_bump(c);
	return ret;
}

int bpf_capture_add_run_mntns(struct bpf_capture *c, uint32_t run_id, uint64_t mnt_ns_inum)
{
	int fd = bpf_map__fd(c->skel->maps.run_mntns);
	struct cap_runref ref = {.run_id = run_id}, old;
	bool exists;
	int slot;

	if (mnt_ns_inum == 0 || mnt_ns_inum == c->own_mnt_ns)
		return -EINVAL;
	exists = bpf_map_lookup_elem(fd, &mnt_ns_inum, &old) == 0;
	if (exists && old.run_id != run_id)
		return -EEXIST;
	slot = run_attach(c, run_id);
	if (slot < 0)
		return slot;
	ref.slot = (uint32_t)slot;
	if (bpf_map_update_elem(fd, &mnt_ns_inum, &ref, BPF_ANY))
		return errno == E2BIG ? -ENOSPC : -errno;
	if (!exists)
		mntns_keys_set(c, c->mntns_keys + 1);
	run_gen_bump(c);
	return 0;
}

/* Deletes every key of map_fd for which match(key, value, arg) holds;
 * returns how many or negative errno. */
static int map_delete_matching(int map_fd, size_t key_size, size_t value_size,
			       bool (*match)(const void *key, const void *value, uint64_t arg),
			       uint64_t arg)
{
	unsigned char *keys = NULL, *key, *value;
	size_t n = 0, cap = 0;
	int ret = 0, deleted = 0;

	key = calloc(2, key_size);
	value = calloc(1, value_size);
	if (!key || !value) {
		ret = -ENOMEM;
		goto cleanup;
	}
	/* Collect first: deleting while iterating restarts the walk. */
	if (bpf_map_get_next_key(map_fd, NULL, key))
		goto cleanup;
	do {
		if (bpf_map_lookup_elem(map_fd, key, value) == 0 && match(key, value, arg)) {
			if (n == cap) {
				size_t ncap = cap ? 2 * cap : 64;
				unsigned char *k = realloc(keys, ncap * key_size);

				if (!k) {
					ret = -ENOMEM;
					goto cleanup;
				}
				keys = k;
				cap = ncap;
			}
			memcpy(keys + n * key_size, key, key_size);
			n++;
		}
		memcpy(key + key_size, key, key_size);
	} while (bpf_map_get_next_key(map_fd, key + key_size, key) == 0);
	for (size_t i = 0; i < n; i++)
		deleted += bpf_map_delete_elem(map_fd, keys + i * key_size) == 0;

cleanup:
	free(keys);
	free(key);
	free(value);
	return ret ? ret : deleted;
}

static bool cgroup_of_run(const void *key, const void *value, uint64_t run)
{
	(void)key;
	return ((const struct cap_runref *)value)->run_id == run;
}

static bool cgroup_below(const void *key, const void *value, uint64_t root)
{
	(void)key;
	return ((const struct cap_runref *)value)->root == root;
}

static bool dedup_of_run(const void *key, const void *value, uint64_t run)
{
	(void)value;
	return ((const struct cap_dedup_key *)key)->run_id == run;
}

static bool mntns_of_run(const void *key, const void *value, uint64_t run)
{
	(void)key;
	return ((const struct cap_runref *)value)->run_id == run;
}

static bool seen_file_of_run(const void *key, const void *value, uint64_t run)
{
	(void)value;
	return ((const struct cap_fkey *)key)->run_id == run;
}

int bpf_capture_remove_run(struct bpf_capture *c, uint32_t run_id)
{
	int ret, slot = run_find(c, run_id);

	ret = map_delete_matching(bpf_map__fd(c->skel->maps.run_cgroups), sizeof(uint64_t),
				  sizeof(struct cap_runref), cgroup_of_run, run_id);
	if (ret < 0)
		return ret;
	ret = map_delete_matching(bpf_map__fd(c->skel->maps.run_mntns), sizeof(uint64_t),
				  sizeof(struct cap_runref), mntns_of_run, run_id);
	if (ret < 0)
		return ret;
	mntns_keys_set(c, c->mntns_keys - ret);
	run_gen_bump(c);
	if (slot >= 0) {
		c->runs[slot].used = false;
		c->nruns--;
	}
	if (c->nruns == 0 && c->attached) {
		capture__detach(c->skel);
		c->attached = false;
	}
	ret = map_delete_matching(bpf_map__fd(c->skel->maps.seen_files), sizeof(struct cap_fkey),
				  sizeof(uint8_t), seen_file_of_run, run_id);
	if (ret < 0)
		return ret;
	ret = map_delete_matching(bpf_map__fd(c->skel->maps.dedup), sizeof(struct cap_dedup_key),
				  sizeof(uint8_t), dedup_of_run, run_id);
	return ret < 0 ? ret : 0;
}

int bpf_capture_remove_cgroup(struct bpf_capture *c, uint64_t cgroup_id)
{
	int ret = map_delete_matching(bpf_map__fd(c->skel->maps.run_cgroups), sizeof(uint64_t),
				      sizeof(struct cap_runref), cgroup_below, cgroup_id);

	if (ret < 0)
		return ret;
	run_gen_bump(c);
	return ret ? 0 : -ENOENT;
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The programs wake a reader only when the ring fills up (event_emit()),
 * so epoll alone would sleep through most behaviors: the ring is read
 * directly, and waiting is done in slices of CAP_POLL_SLICE_MS with a
 * read after each. */
int bpf_capture_poll(struct bpf_capture *c, int timeout_ms, bpf_behavior_cb cb, void *ctx)
{
	int64_t deadline = timeout_ms > 0 ? monotonic_ms() + timeout_ms : 0;
	int ret;

	c->cb = cb;
	c->cb_ctx = ctx;
	c->delivered = 0;
	for (;;) {
		int64_t left = timeout_ms < 0 ? CAP_POLL_SLICE_MS : deadline - monotonic_ms();

		ret = ring_buffer__consume(c->rb);
		if (ret < 0)
			return ret;
		if (c->delivered || timeout_ms == 0 || left <= 0)
			return (int)c->delivered;
		ret = ring_buffer__poll(c->rb,
					(int)(left < CAP_POLL_SLICE_MS ? left : CAP_POLL_SLICE_MS));
		if (ret < 0 && ret != -EINTR)
			return ret;
	}
}

int bpf_capture_syscalls(struct bpf_capture *c, uint32_t run_id, uint32_t arch,
			 void (*cb)(int nr, void *ctx), void *ctx)
{
	struct cap_syscalls sc;
	const __u64 *words;
	int i = run_find(c, run_id);
	uint32_t slot;

	if (arch == AUDIT_ARCH_X86_64)
		words = sc.native;
	else if (arch == AUDIT_ARCH_I386)
		words = sc.compat;
	else
		return -EINVAL;
	if (i < 0)
		return -ENOENT;
	slot = (uint32_t)i;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.run_syscalls), &slot, &sc))
		return -errno;
	for (int w = 0; w < CAP_SYSCALL_WORDS; w++)
		for (int bit = 0; bit < 64; bit++)
			if (words[w] & (1ULL << bit))
				cb(w * 64 + bit, ctx);
	return 0;
}

int bpf_capture_stats(struct bpf_capture *c, struct bpf_capture_stats *out)
{
	int ncpus = libbpf_num_possible_cpus();
	struct cap_counters *per;
	uint32_t zero = 0;
	int ret = 0;

	if (ncpus <= 0)
		return ncpus ? ncpus : -EINVAL;
	per = calloc((size_t)ncpus, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(c->skel->maps.counters), &zero, per)) {
		ret = -errno;
		goto cleanup;
	}
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < ncpus; i++) {
		out->events += per[i].events;
		out->dedup_hits += per[i].dedup_hits + per[i].seen_file_hits;
		out->ringbuf_drops += per[i].ringbuf_drops;
		out->seen_file_hits += per[i].seen_file_hits;
	}
	out->dropped_paths = c->dropped_paths;

cleanup:
	free(per);
	return ret;
}

int bpf_capture_enable_prog_stats(struct bpf_capture *c)
{
	if (c->stats_fd >= 0)
		return 0;
	c->stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	return c->stats_fd < 0 ? -errno : 0;
}

int bpf_capture_prog_stats(struct bpf_capture *c,
			   void (*cb)(const char *prog, uint64_t runs, uint64_t run_ns, void *ctx),
			   void *ctx)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, c->skel->obj)
	{
		struct bpf_prog_info info = {0};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len))
			return -errno;
		cb(bpf_program__name(prog), info.run_cnt, info.run_time_ns, ctx);
	}
	return 0;
}

void bpf_capture_close(struct bpf_capture *c)
{
	if (!c)
		return;
	if (c->stats_fd >= 0)
		close(c->stats_fd);
	ring_buffer__free(c->rb);
	capture__destroy(c->skel);
	free(c);
}

bool bpf_capture_has_capabilities(const struct bpf_capture *c)
{
	return c->cap_tracepoint;
}

#else /* !ARMORSMITH_HAVE_BPF */

bool bpf_capture_has_capabilities(const struct bpf_capture *c)
{
	(void)c;
	return false;
}

int bpf_capture_open(struct bpf_capture **out, char *err, size_t errlen)
{
	*out = NULL;
	snprintf(err, errlen, "bpf capture: built without bpf support (ARMORSMITH_BPF=OFF)");
	return -EOPNOTSUPP;
}

int bpf_capture_add_run(struct bpf_capture *c, uint32_t run_id, uint64_t cgroup_id)
{
	(void)c, (void)run_id, (void)cgroup_id;
	return -EOPNOTSUPP;
}

int bpf_capture_remove_run(struct bpf_capture *c, uint32_t run_id)
{
	(void)c, (void)run_id;
	return -EOPNOTSUPP;
}

int bpf_capture_remove_cgroup(struct bpf_capture *c, uint64_t cgroup_id)
{
	(void)c, (void)cgroup_id;
	return -EOPNOTSUPP;
}

int bpf_capture_add_run_mntns(struct bpf_capture *c, uint32_t run_id, uint64_t mnt_ns_inum)
{
	(void)c, (void)run_id, (void)mnt_ns_inum;
	return -EOPNOTSUPP;
}

int bpf_capture_poll(struct bpf_capture *c, int timeout_ms, bpf_behavior_cb cb, void *ctx)
{
	(void)c, (void)timeout_ms, (void)cb, (void)ctx;
	return -EOPNOTSUPP;
}

int bpf_capture_syscalls(struct bpf_capture *c, uint32_t run_id, uint32_t arch,
			 void (*cb)(int nr, void *ctx), void *ctx)
{
	(void)c, (void)run_id, (void)arch, (void)cb, (void)ctx;
	return -EOPNOTSUPP;
}

int bpf_capture_stats(struct bpf_capture *c, struct bpf_capture_stats *out)
{
	(void)c;
	memset(out, 0, sizeof(*out));
	return -EOPNOTSUPP;
}

int bpf_capture_enable_prog_stats(struct bpf_capture *c)
{
	(void)c;
	return -EOPNOTSUPP;
}

int bpf_capture_prog_stats(struct bpf_capture *c,
			   void (*cb)(const char *prog, uint64_t runs, uint64_t run_ns, void *ctx),
			   void *ctx)
{
	(void)c, (void)cb, (void)ctx;
	return -EOPNOTSUPP;
}

void bpf_capture_close(struct bpf_capture *c)
{
	(void)c;
}

#endif
