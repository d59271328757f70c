#include "bpf_event.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int bpf_event_fill(const struct bpf_behavior *b, Armorsmith__V1__BehaviorEvent *ev,
		   struct bpf_event_holder *h, char *key, size_t keylen)
{
	int n;

	switch (b->kind) {
	case BPF_B_EXEC:
		if (b->path[0] != '/')
			return -EINVAL;
		armorsmith__v1__exec_behavior__init(&h->exec);
		h->exec.path = (char *)b->path;
		ev->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_EXEC;
		ev->exec = &h->exec;
		n = snprintf(key, keylen, "exec\t%s", b->path);
		break;
	case BPF_B_FILE:
		if (b->path[0] != '/' || !b->perms[0])
			return -EINVAL;
		armorsmith__v1__file_behavior__init(&h->file);
		h->file.path = (char *)b->path;
		h->file.permissions = (char *)b->perms;
		h->file.old_path = (char *)b->old_path;
		ev->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_FILE;
		ev->file = &h->file;
		n = snprintf(key, keylen, "file\t%s\t%s\t%s", b->path, b->perms, b->old_path);
		break;
	case BPF_B_NETWORK:
		armorsmith__v1__network_behavior__init(&h->network);
		h->network.family = (char *)b->family;
		h->network.sock_type = (char *)b->sock_type;
		h->network.protocol = (char *)b->protocol;
		h->network.operation = (char *)b->operation;
		/* The store makes an egress of any address with a port: only
		 * connect's is one. bind, listen and accept keep their port
		 * (and accept's clients collapse into one event per port). */
		h->network.address =
		    (char *)(strcmp(b->operation, "connect") == 0 ? b->address : "");
		h->network.port = b->port;
		ev->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_NETWORK;
		ev->network = &h->network;
		n = snprintf(key, keylen, "net\t%s\t%s\t%s\t%s\t%s\t%u", b->family, b->sock_type,
			     b->protocol, b->operation, h->network.address, b->port);
		break;
	case BPF_B_CAPABILITY:
		armorsmith__v1__capability_behavior__init(&h->capability);
		h->capability.name = (char *)b->capability;
		ev->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_CAPABILITY;
		ev->capability = &h->capability;
		n = snprintf(key, keylen, "cap\t%s", b->capability);
		break;
	case BPF_B_PTRACE:
		armorsmith__v1__ptrace_behavior__init(&h->ptrace);
		h->ptrace.peer = (char *)b->peer;
		h->ptrace.permissions = (char *)b->ptrace_perms;
		ev->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_PTRACE;
		ev->ptrace = &h->ptrace;
		n = snprintf(key, keylen, "ptrace\t%s\t%s", b->peer, b->ptrace_perms);
		break;
	case BPF_B_SIGNAL:
		armorsmith__v1__signal_behavior__init(&h->signal);
		h->signal.peer = (char *)b->peer;
		h->signal.signal = (char *)b->signal;
		h->signal.permissions = "send";
		ev->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_SIGNAL;
		ev->signal = &h->signal;
		n = snprintf(key, keylen, "signal\t%s\t%s", b->peer, b->signal);
		break;
	case BPF_B_MOUNT:
		armorsmith__v1__mount_behavior__init(&h->mount);
		h->mount.operation = (char *)b->mount_op;
		h->mount.path = (char *)b->path;
		h->mount.source = (char *)b->old_path;
		h->mount.fstype = (char *)b->fstype;
		h->mount.flags = (char *)b->flags;
		ev->behavior_case = ARMORSMITH__V1__BEHAVIOR_EVENT__BEHAVIOR_MOUNT;
		ev->mount = &h->mount;
		n = snprintf(key, keylen, "mount\t%s\t%s\t%s\t%s\t%s", b->mount_op, b->path,
			     b->old_path, b->fstype, b->flags);
		break;
	default:
		return -EINVAL;
	}
	/* A key cut short could merge two behaviors: refuse rather than guess. */
	return n > 0 && (size_t)n < keylen ? 0 : -ENAMETOOLONG;
}
