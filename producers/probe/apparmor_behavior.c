#include "apparmor_behavior.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const file_ops[] = {
    "open",  "file_perm", "file_lock", "file_mmap", "file_receive", "file_inherit", "mknod",
    "mkdir", "rmdir",	  "unlink",    "link",	    "rename_src",   "rename_dest",  "chmod",
    "chown", "truncate",  "symlink",   "getattr",   "setattr",	    "exec_mmap",    "inode_create",
};

static const char *const net_ops[] = {
    "create",  "post_create", "bind",	     "connect",	   "listen",	 "accept",	  "sendmsg",
    "recvmsg", "getsockname", "getpeername", "getsockopt", "setsockopt", "sock_shutdown",
};

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

bool apparmor_profile_matches(const char *record_profile, const char *profile)
{
	size_t n = strlen(profile);

	if (!record_profile || strncmp(record_profile, profile, n) != 0)
		return false;
	return record_profile[n] == '\0' || strncmp(record_profile + n, "//null-", 7) == 0;
}

/* AppArmor file letters as profile permissions: create and delete need w;
 * exec is granted by the EXEC section; anything else unknown is dropped. */
static void file_perms(const char *mask, char *out, size_t len)
{
	static const char order[] = "mrwalk";
	size_t n = 0;
	bool w = mask && (strchr(mask, 'w') || strchr(mask, 'c') || strchr(mask, 'd'));

	for (const char *c = order; *c && n + 1 < len; c++) {
		if (*c == 'w' ? w : (mask && strchr(mask, *c) != NULL))
			out[n++] = *c;
	}
	out[n] = '\0';
}

int apparmor_behavior_fill(const struct apparmor_event *ev, const char *profile,
			   Armorsmith__V1__BehaviorEvent *e, struct bpf_event_holder *h,
			   struct apparmor_scratch *s, char *key, size_t keylen)
{
	const char *op = ev->operation;
	int n;

	if (ev->apparmor != APPARMOR_ALLOWED || !op ||
	    !apparmor_profile_matches(ev->profile, profile))
		return -ENOENT;
	if (strcmp(op, "exec") == 0 && ev->name && ev->name[0] == '/') {
		armorsmith__v1__exec_behavior__init(&h->exec);
		h->exec.path = (char *)ev->name;
		e->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_EXEC;
		e->exec = &h->exec;
		n = snprintf(key, keylen, "exec\t%s", ev->name);
	} else if (in_list(op, file_ops, sizeof(file_ops) / sizeof(*file_ops)) && ev->name &&
		   ev->name[0] == '/') {
		bool owner = (ev->has & APPARMOR_HAS_FSUID) && (ev->has & APPARMOR_HAS_OUID) &&
			     ev->fsuid == ev->ouid;

		file_perms(ev->requested_mask, s->perms, sizeof(s->perms));
		if (!s->perms[0])
			return -ENOTSUP; /* only x, which EXEC grants */
		armorsmith__v1__file_behavior__init(&h->file);
		h->file.path = (char *)ev->name;
		h->file.permissions = s->perms;
		h->file.owner = owner;
		h->file.old_path = (char *)(strcmp(op, "link") == 0 && ev->name2 ? ev->name2 : "");
		e->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE;
		e->file = &h->file;
		n = snprintf(key, keylen, "file\t%s\t%s\t%d\t%s", ev->name, s->perms, owner,
			     h->file.old_path);
	} else if (strcmp(op, "capable") == 0 && ev->capname) {
		armorsmith__v1__capability_behavior__init(&h->capability);
		h->capability.name = (char *)ev->capname;
		e->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_CAPABILITY;
		e->capability = &h->capability;
		n = snprintf(key, keylen, "cap\t%s", ev->capname);
	} else if (in_list(op, net_ops, sizeof(net_ops) / sizeof(*net_ops)) && ev->family) {
		armorsmith__v1__network_behavior__init(&h->network);
		h->network.family = (char *)ev->family;
		h->network.sock_type = (char *)(ev->sock_type ? ev->sock_type : "");
		h->network.protocol = (char *)ev->protocol;
		h->network.operation = (char *)op;
		e->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_NETWORK;
		e->network = &h->network;
		n = snprintf(key, keylen, "net\t%s\t%s\t%s", ev->family, h->network.sock_type,
			     ev->protocol);
	} else if (strcmp(op, "ptrace") == 0) {
		armorsmith__v1__ptrace_behavior__init(&h->ptrace);
		h->ptrace.peer = (char *)(ev->peer ? ev->peer : "");
		h->ptrace.permissions = (char *)(ev->requested_mask ? ev->requested_mask : "");
		e->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_PTRACE;
		e->ptrace = &h->ptrace;
		n = snprintf(key, keylen, "ptrace\t%s\t%s", h->ptrace.peer, h->ptrace.permissions);
	} else if (strcmp(op, "signal") == 0) {
		armorsmith__v1__signal_behavior__init(&h->signal);
		h->signal.peer = (char *)(ev->peer ? ev->peer : "");
		h->signal.signal = (char *)(ev->signal ? ev->signal : "");
		h->signal.permissions = (char *)(ev->requested_mask ? ev->requested_mask : "");
		e->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SIGNAL;
		e->signal = &h->signal;
		n = snprintf(key, keylen, "signal\t%s\t%s\t%s", h->signal.peer, h->signal.signal,
			     h->signal.permissions);
	} else if (strcmp(op, "mount") == 0 || strcmp(op, "umount") == 0 ||
		   strcmp(op, "pivotroot") == 0) {
		armorsmith__v1__mount_behavior__init(&h->mount);
		h->mount.operation = (char *)(strcmp(op, "pivotroot") == 0 ? "pivot_root" : op);
		h->mount.path = (char *)(ev->name ? ev->name : "");
		h->mount.source = (char *)(ev->src_name ? ev->src_name : "");
		h->mount.fstype = (char *)(ev->fstype ? ev->fstype : "");
		/* The kernel writes "rw, nosuid": the profile wants "rw,nosuid". */
		{
			size_t k = 0;
			for (const char *c = ev->flags ? ev->flags : "";
			     *c && k + 1 < sizeof(s->flags); c++)
				if (*c != ' ')
					s->flags[k++] = *c;
			s->flags[k] = '\0';
		}
		h->mount.flags = s->flags;
		e->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_MOUNT;
		e->mount = &h->mount;
		n = snprintf(key, keylen, "mount\t%s\t%s\t%s\t%s\t%s", h->mount.operation,
			     h->mount.path, h->mount.source, h->mount.fstype, s->flags);
	} else {
		return -ENOTSUP;
	}
	return n > 0 && (size_t)n < keylen ? 0 : -ENAMETOOLONG;
}
