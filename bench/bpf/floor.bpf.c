// SPDX-License-Identifier: GPL-2.0
/* The floor under bpf/capture.bpf.c: an empty program on the one raw
 * syscall tracepoint the capture needs (sys_exit). What it costs (the
 * syscall slow path the enabled tracepoint forces on every task, plus one
 * program dispatch per syscall) no program body can save. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}
