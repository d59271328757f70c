/* Capabilities inferred from behavior, for kernels where neither the
 * capability:cap_capable tracepoint nor a BPF-LSM capable hook can be had.
 *
 * The table maps what a run did to the capability the kernel checks for it
 * (capabilities(7)). It is an over-approximation in one direction only: a
 * call that needs a capability only in some cases (setuid() to another
 * uid, chown() to another owner, mknod() of a device) counts as needing it,
 * because the tracepoint-less probe cannot see the arguments that decide;
 * a profile then allows a capability the workload may not have used, never
 * denies one it used. Everything the table cannot see (CAP_DAC_OVERRIDE on
 * a file the task does not own, CAP_KILL across users, CAP_FOWNER, ...) is
 * missing in this mode: the README says so, and the tracepoint is the
 * source wherever it exists.
 *
 *   syscalls                                              capability
 *   setuid setreuid setresuid setfsuid                    setuid
 *   setgid setregid setresgid setfsgid setgroups          setgid
 *   chown fchown lchown fchownat                          chown
 *   mknod mknodat                                         mknod
 *   chroot                                                sys_chroot
 *   mount umount umount2 pivot_root setns unshare swapon
 *   swapoff sethostname setdomainname quotactl
 *   fsopen fsmount move_mount open_tree fsconfig          sys_admin
 *   reboot kexec_load kexec_file_load                     sys_boot
 *   init_module finit_module delete_module                sys_module
 *   settimeofday clock_settime adjtimex clock_adjtime
 *   stime                                                 sys_time
 *   iopl ioperm                                           sys_rawio
 *   acct                                                  sys_pacct
 *   syslog                                                syslog
 *   bpf                                                   bpf
 *   perf_event_open                                       perfmon
 *   ptrace process_vm_writev                              sys_ptrace
 *
 *   network behavior                                      capability
 *   a raw or packet socket                                net_raw
 *   bind/listen on an inet/inet6 port below 1024          net_bind_service
 *   mount behavior (any mount, umount, pivot_root)        sys_admin
 */
#ifndef ARMORSMITH_CAP_INFER_H
#define ARMORSMITH_CAP_INFER_H

#include <stdint.h>

/* The capability (e.g. "setuid") a syscall name implies, or NULL. */
const char *cap_infer_syscall(const char *syscall);

/* The capability a network behavior implies, or NULL. operation is
 * socket/connect/bind/listen/accept; sock_type and family AppArmor's names. */
const char *cap_infer_network(const char *family, const char *sock_type, const char *operation,
			      uint32_t port);

#endif
