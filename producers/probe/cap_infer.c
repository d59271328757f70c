#include "cap_infer.h"

#include <stddef.h>
#include <string.h>

static const struct {
	const char *syscall;
	const char *capability;
} cap_table[] = {
    {"setuid", "setuid"},
    {"setreuid", "setuid"},
    {"setresuid", "setuid"},
    {"setfsuid", "setuid"},
    {"setgid", "setgid"},
    {"setregid", "setgid"},
    {"setresgid", "setgid"},
    {"setfsgid", "setgid"},
    {"setgroups", "setgid"},
    {"chown", "chown"},
    {"fchown", "chown"},
    {"lchown", "chown"},
    {"fchownat", "chown"},
    {"mknod", "mknod"},
    {"mknodat", "mknod"},
    {"chroot", "sys_chroot"},
    {"mount", "sys_admin"},
    {"umount", "sys_admin"},
    {"umount2", "sys_admin"},
    {"pivot_root", "sys_admin"},
    {"setns", "sys_admin"},
    {"unshare", "sys_admin"},
    {"swapon", "sys_admin"},
    {"swapoff", "sys_admin"},
    {"sethostname", "sys_admin"},
    {"setdomainname", "sys_admin"},
    {"quotactl", "sys_admin"},
    {"fsopen", "sys_admin"},
    {"fsmount", "sys_admin"},
    {"move_mount", "sys_admin"},
    {"open_tree", "sys_admin"},
    {"fsconfig", "sys_admin"},
    {"reboot", "sys_boot"},
    {"kexec_load", "sys_boot"},
    {"kexec_file_load", "sys_boot"},
    {"init_module", "sys_module"},
    {"finit_module", "sys_module"},
    {"delete_module", "sys_module"},
    {"settimeofday", "sys_time"},
    {"clock_settime", "sys_time"},
    {"adjtimex", "sys_time"},
    {"clock_adjtime", "sys_time"},
    {"stime", "sys_time"},
    {"iopl", "sys_rawio"},
    {"ioperm", "sys_rawio"},
    {"acct", "sys_pacct"},
    {"syslog", "syslog"},
    {"bpf", "bpf"},
    {"perf_event_open", "perfmon"},
    {"ptrace", "sys_ptrace"},
    {"process_vm_writev", "sys_ptrace"},
};

const char *cap_infer_syscall(const char *syscall)
{
	if (!syscall)
		return NULL;
	for (size_t i = 0; i < sizeof(cap_table) / sizeof(*cap_table); i++)
		if (strcmp(cap_table[i].syscall, syscall) == 0)
			return cap_table[i].capability;
	return NULL;
}

const char *cap_infer_network(const char *family, const char *sock_type, const char *operation,
			      uint32_t port)
{
	if (!family || !sock_type || !operation)
		return NULL;
	if (strcmp(sock_type, "raw") == 0 || strcmp(family, "packet") == 0)
		return "net_raw";
	/* Port 0 asks the kernel for any free port: no privilege needed. */
	if ((strcmp(family, "inet") == 0 || strcmp(family, "inet6") == 0) &&
	    (strcmp(operation, "bind") == 0 || strcmp(operation, "listen") == 0) && port > 0 &&
	    port < 1024)
		return "net_bind_service";
	return NULL;
}
