// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Owner of the cpu probe (bpf/cpu.bpf.c): run time, run-queue wait and
 * involuntary switches per VM, vCPU threads apart.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <linux/types.h>

#include "bpf_internal.h"
#include "cleanup.h"
#include "cpu.h"
#include "cpu.skel.h"
#include "log.h"

#define CPU_NR_U64 (sizeof(struct cpu_slot_counters) / sizeof(__u64))

DEFINE_TRIVIAL_CLEANUP_FUNC(struct cpu_bpf *, cpu_bpf__destroy);

static int cpu_open(const struct collect_bpf_shared *sh, char *note, size_t note_len, void **ret)
{
	static const char *const progs[] = { "cpu_sched_switch" };
	_cleanup_(cpu_bpf__destroyp) struct cpu_bpf *skel = NULL;
	int r;

	skel = cpu_bpf__open();
	if (!skel)
		return -errno;
	r = collect_bpf_object_prepare(skel->obj, sh, note, note_len);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(progs); i++)
		if (!collect_bpf_object_prog_enabled(skel->obj, progs[i])) {
			snprintf(note, note_len, "a scheduler tracepoint is missing (%s)",
				 progs[i]);
			return -EOPNOTSUPP;
		}
	r = cpu_bpf__load(skel);
	if (r < 0)
		return r;
	r = cpu_bpf__attach(skel);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(skel);
	return 0;
}

static void cpu_close(void *owner)
{
	cpu_bpf__destroy(owner);
}

static int cpu_clear_slot(void *owner, uint32_t slot)
{
	struct cpu_bpf *skel = owner;
	struct timespec ts;

	/* Threads born from now on count from birth (see cpu.bpf.c). */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	if (slot < TRACKED_MAX_VMS)
		skel->bss->slot_since_ns[slot] =
			(uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	return collect_bpf_percpu_clear(bpf_map__fd(skel->maps.cpu_counters), slot, CPU_NR_U64);
}

static int cpu_read_slot(void *owner, uint32_t slot, struct collect_bpf_vm *vm)
{
	struct cpu_bpf *skel = owner;
	struct cpu_slot_counters c;
	int r;

	r = collect_bpf_percpu_sum(bpf_map__fd(skel->maps.cpu_counters), slot, (uint64_t *)&c,
				   CPU_NR_U64);
	if (r < 0)
		return r;
	collect_bpf_vm_add(&vm->cpu_run_ns, c.run_ns);
	collect_bpf_vm_add(&vm->cpu_wait_ns, c.wait_ns);
	collect_bpf_vm_add(&vm->vcpu_run_ns, c.vcpu_run_ns);
	collect_bpf_vm_add(&vm->vcpu_wait_ns, c.vcpu_wait_ns);
	collect_bpf_vm_add(&vm->involuntary_switches, c.involuntary);
	return 0;
}

static void cpu_tracking_changed(void *owner, const uint64_t *tgid_filter,
				 const uint64_t *netdev_filter)
{
	struct cpu_bpf *skel = owner;

	memcpy((void *)skel->bss->tracked_tgid_filter, tgid_filter,
	       sizeof(skel->bss->tracked_tgid_filter));
	/* The probe's per-task caches compare against this. */
	__atomic_add_fetch(&skel->bss->tracked_gen, 1, __ATOMIC_RELEASE);
}

static uint64_t cpu_lost(void *owner)
{
	struct cpu_bpf *skel = owner;

	return collect_bpf_percpu_stats_total(bpf_map__fd(skel->maps.cpu_stats), CPU_NR_STATS);
}

static struct bpf_object *cpu_object(void *owner)
{
	return ((struct cpu_bpf *)owner)->obj;
}

static int cpu_attach(void *owner, bool on)
{
	if (!on) {
		cpu_bpf__detach(owner);
		return 0;
	}
	return cpu_bpf__attach(owner);
}

const struct collect_bpf_owner_ops collect_bpf_cpu_owner = {
	.name = "cpu",
	.open = cpu_open,
	.close = cpu_close,
	.clear_slot = cpu_clear_slot,
	.read_slot = cpu_read_slot,
	.tracking_changed = cpu_tracking_changed,
	.lost = cpu_lost,
	.object = cpu_object,
	.attach = cpu_attach,
};
