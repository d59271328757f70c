#include "capability.h"

#include <string.h>

static const char *const capability_names[] = {
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
};

#define N_CAPS (sizeof(capability_names) / sizeof(capability_names[0]))

const char *capability_name(unsigned nr)
{
	return nr < N_CAPS ? capability_names[nr] : NULL;
}

bool capability_known(const char *name)
{
	for (size_t i = 0; name && i < N_CAPS; i++)
		if (strcmp(capability_names[i], name) == 0)
			return true;
	return false;
}
