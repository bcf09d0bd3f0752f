// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * cpu: on-CPU run time and run-queue wait of every thread of a tracked QEMU
 * process, summed per VM, with vCPU threads apart, and involuntary switches
 * (switched out while still runnable). Wait time of a vCPU is the host-side
 * steal: the contention signal.
 *
 * The scheduler already keeps both figures per task (se.sum_exec_runtime,
 * and sched_info.run_delay with CONFIG_SCHED_INFO, which every distribution
 * kernel has): this probe only adds each tracked thread's progress since it
 * last left a CPU into its VM's counters, so it needs no clock reads and no
 * wakeup events. The same figures back /proc/<tid>/schedstat and libvirt's
 * vcpu delay, which they therefore match.
 *
 * Events: sched_switch (tp_btf), outgoing task only. Cost: for an untracked
 * task a load and a bit test (the tgid pre-filter); for a tracked one a
 * task-storage get (its cached slot; the tracking maps are read only after a
 * VM list change), two loads and per-CPU adds.
 * Maps: tracked_tgids and tracked_vcpus are shared with the other probes
 * (read only when a cache is stale), as is the pre-filter's content (.bss,
 * written by userspace); cpu_tasks (task local storage, freed with the
 * task), cpu_counters and cpu_stats are this probe's own.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "cpu.h"
#include "tracked.bpf.h"

#define TASK_RUNNING_STATE 0x0000

char LICENSE[] SEC("license") = "GPL";

/* Count only vCPU threads (false: every thread of the QEMU process). */
const volatile bool vcpus_only = false;

TRACKED_TGIDS_MAP;
TRACKED_VCPUS_MAP;
TRACKED_TGID_FILTER

/*
 * Per-task cache in task local storage: whether the task is tracked, its
 * slot, and the scheduler's figures when it last left a CPU. Valid while
 * gen matches tracked_gen + 1 (zeroed storage never does); userspace bumps
 * tracked_gen after each change of the tracking maps.
 */
#define TASK_TRACKED 0x1
#define TASK_VCPU    0x2
#define TASK_PRIMED  0x4 /* run_ns and delay_ns hold a baseline */

struct task_cache {
	__u64 gen;
	__u32 slot;
	__u32 flags;
	__u64 run_ns;	/* se.sum_exec_runtime */
	__u64 delay_ns; /* sched_info.run_delay */
};

/*
 * CLOCK_MONOTONIC ns when each slot was handed to its VM, set by userspace:
 * a thread born after it counts from birth, older ones from their first
 * switch seen.
 */
__u64 slot_since_ns[TRACKED_MAX_VMS];

/* Bumped by userspace whenever tracked_tgids or tracked_vcpus change. */
volatile __u64 tracked_gen;

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_cache);
} cpu_tasks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACKED_MAX_VMS);
	__type(key, __u32);
	__type(value, struct cpu_slot_counters);
} cpu_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CPU_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} cpu_stats SEC(".maps");

/* Kernels before 5.14 named the field "state". */
struct task_struct___pre514 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline unsigned int task_state(struct task_struct *t)
{
	if (bpf_core_field_exists(t->__state))
		return t->__state; /* BTF-typed pointer: a plain load */
	return BPF_CORE_READ((struct task_struct___pre514 *)t, state);
}

/* Kernels without CONFIG_SCHED_INFO have no run_delay: wait reads as 0. */
static __always_inline __u64 task_run_delay(struct task_struct *t)
{
	if (bpf_core_field_exists(t->sched_info))
		return t->sched_info.run_delay;
	return 0;
}

/* The task's cache, refreshed from the tracking maps when stale; NULL if untracked. */
static __always_inline struct task_cache *task_get(struct task_struct *t)
{
	__u64 gen = tracked_gen + 1;
	struct task_cache *tc;

	if (!tgid_maybe_tracked(t->tgid))
		return NULL;
	tc = bpf_task_storage_get(&cpu_tasks, t, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!tc) {
		STAT_INC(cpu_stats, CPU_STAT_NO_STORAGE);
		return NULL;
	}
	if (tc->gen != gen) {
		__u32 tgid = t->tgid, tid = t->pid;
		__u32 *slot = bpf_map_lookup_elem(&tracked_tgids, &tgid);
		__u32 flags = 0, new_slot = 0;

		if (slot && *slot < TRACKED_MAX_VMS) {
			flags = TASK_TRACKED;
			new_slot = *slot;
			if (bpf_map_lookup_elem(&tracked_vcpus, &tid))
				flags |= TASK_VCPU;
			if (vcpus_only && !(flags & TASK_VCPU))
				flags = 0;
		} else if (slot) {
			STAT_INC(cpu_stats, CPU_STAT_BAD_SLOT);
		}
		/* Same VM, same role: keep the baseline; anything else starts over. */
		if ((tc->flags & ~TASK_PRIMED) == flags && tc->slot == new_slot)
			flags |= tc->flags & TASK_PRIMED;
		tc->flags = flags;
		tc->slot = new_slot;
		tc->gen = gen;
	}
	if (!(tc->flags & TASK_TRACKED))
		return NULL;
	/* Keeps clang from turning the choice into pointer arithmetic the verifier refuses. */
	asm volatile("" : "+r"(tc));
	return tc;
}

SEC("tp_btf/sched_switch")
int BPF_PROG(cpu_sched_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	struct cpu_slot_counters *c;
	struct task_cache *tc;
	__u64 run_ns, delay_ns;
	__u32 slot;

	tc = task_get(prev);
	if (!tc)
		return 0;
	run_ns = prev->se.sum_exec_runtime;
	delay_ns = task_run_delay(prev);
	slot = tc->slot;
	c = bpf_map_lookup_elem(&cpu_counters, &slot);
	if (!(tc->flags & TASK_PRIMED) && slot < TRACKED_MAX_VMS) {
		if (prev->start_time >= slot_since_ns[slot]) {
			tc->run_ns = 0;
			tc->delay_ns = 0;
		} else {
			tc->run_ns = run_ns;
			tc->delay_ns = delay_ns;
		}
		tc->flags |= TASK_PRIMED;
	}
	if (c) {
		__u64 run_d = run_ns > tc->run_ns ? run_ns - tc->run_ns : 0;
		__u64 delay_d = delay_ns > tc->delay_ns ? delay_ns - tc->delay_ns : 0;

		c->run_ns += run_d;
		c->wait_ns += delay_d;
		if (tc->flags & TASK_VCPU) {
			c->vcpu_run_ns += run_d;
			c->vcpu_wait_ns += delay_d;
		}
	}
	tc->run_ns = run_ns;
	tc->delay_ns = delay_ns;
	if (c && (preempt || task_state(prev) == TASK_RUNNING_STATE))
		c->involuntary++;
	return 0;
}
