/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Plain data of the cpu probe (cpu.bpf.c), shared with its userspace owner. */
#ifndef PRESCIENT_BPF_CPU_H
#define PRESCIENT_BPF_CPU_H

#include "tracked.h"

/* Per VM slot, per CPU; summed in userspace. */
struct cpu_slot_counters {
	__u64 run_ns;	   /* on-CPU time of all threads of the VM's QEMU */
	__u64 wait_ns;	   /* runnable but not running */
	__u64 vcpu_run_ns; /* the same for vCPU threads only */
	__u64 vcpu_wait_ns;
	__u64 involuntary; /* switched out while still runnable */
};

enum cpu_stat {
	CPU_STAT_NO_STORAGE, /* task storage unavailable (allocation or recursion) */
	CPU_STAT_BAD_SLOT,   /* slot out of range (userspace bug) */
	CPU_NR_STATS,
};

#endif
