#include "cap_infer.h"
#include "testing.h"

#include <stddef.h>
#include <string.h>

static void test_syscalls(void)
{
	CHECK_STR(cap_infer_syscall("setuid"), "setuid");
	CHECK_STR(cap_infer_syscall("setresgid"), "setgid");
	CHECK_STR(cap_infer_syscall("setgroups"), "setgid");
	CHECK_STR(cap_infer_syscall("fchownat"), "chown");
	CHECK_STR(cap_infer_syscall("unshare"), "sys_admin");
	CHECK_STR(cap_infer_syscall("mount"), "sys_admin");
	CHECK_STR(cap_infer_syscall("chroot"), "sys_chroot");
	CHECK_STR(cap_infer_syscall("finit_module"), "sys_module");
	CHECK_STR(cap_infer_syscall("clock_settime"), "sys_time");
	CHECK_STR(cap_infer_syscall("perf_event_open"), "perfmon");
	/* Ordinary calls need nothing. */
	CHECK(cap_infer_syscall("openat") == NULL);
	CHECK(cap_infer_syscall("getuid") == NULL);
	CHECK(cap_infer_syscall("chmod") == NULL);
	CHECK(cap_infer_syscall("") == NULL);
	CHECK(cap_infer_syscall(NULL) == NULL);
	/* Whole names only. */
	CHECK(cap_infer_syscall("setuid32x") == NULL);
	CHECK(cap_infer_syscall("mount_setattr") == NULL);
}

static void test_network(void)
{
	CHECK_STR(cap_infer_network("inet", "raw", "socket", 0), "net_raw");
	CHECK_STR(cap_infer_network("packet", "dgram", "socket", 0), "net_raw");
	CHECK_STR(cap_infer_network("inet", "stream", "bind", 80), "net_bind_service");
	CHECK_STR(cap_infer_network("inet6", "stream", "listen", 443), "net_bind_service");
	CHECK_STR(cap_infer_network("inet", "dgram", "bind", 1023), "net_bind_service");
	CHECK(cap_infer_network("inet", "stream", "bind", 1024) == NULL);
	CHECK(cap_infer_network("inet", "stream", "bind", 0) == NULL);
	/* Connecting to a low port is no privilege. */
	CHECK(cap_infer_network("inet", "stream", "connect", 80) == NULL);
	CHECK(cap_infer_network("unix", "stream", "bind", 80) == NULL);
	CHECK(cap_infer_network(NULL, "stream", "bind", 80) == NULL);
}

int main(void)
{
	test_syscalls();
	test_network();
	return TEST_SUMMARY();
}
