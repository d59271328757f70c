// SPDX-License-Identifier: GPL-2.0
/* The floor under bpf/capture.bpf.c: empty programs on the same two raw
 * syscall tracepoints. What they cost (the syscall slow path the enabled
 * tracepoints force on every task, plus two program dispatches per
 * syscall) no program body can save. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sys_enter")
int BPF_PROG(floor_sys_enter, struct pt_regs *regs, long id)
{
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(floor_sys_exit, struct pt_regs *regs, long ret)
{
	return 0;
}
