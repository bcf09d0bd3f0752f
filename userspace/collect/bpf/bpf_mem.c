// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Owner of the mem probe (bpf/mem.bpf.c): user page faults and reclaim
 * stalls per VM. The reclaim pairs are optional, and each needs both ends.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/types.h>

#include "bpf_internal.h"
#include "cleanup.h"
#include "log.h"
#include "mem.h"
#include "mem.skel.h"

#define MEM_NR_U64 (sizeof(struct mem_slot_counters) / sizeof(__u64))

DEFINE_TRIVIAL_CLEANUP_FUNC(struct mem_bpf *, mem_bpf__destroy);

static void pair_require(struct bpf_object *obj, const char *begin, const char *end)
{
	if (!collect_bpf_object_prog_enabled(obj, begin) ||
	    !collect_bpf_object_prog_enabled(obj, end)) {
		collect_bpf_object_prog_disable(obj, begin);
		collect_bpf_object_prog_disable(obj, end);
	}
}

static int mem_open(const struct collect_bpf_shared *sh, char *note, size_t note_len, void **ret)
{
	_cleanup_(mem_bpf__destroyp) struct mem_bpf *skel = NULL;
	int r;

	skel = mem_bpf__open();
	if (!skel)
		return -errno;
	r = collect_bpf_object_prepare(skel->obj, sh, note, note_len);
	if (r < 0)
		return r;
	pair_require(skel->obj, "mem_direct_reclaim_begin", "mem_direct_reclaim_end");
	pair_require(skel->obj, "mem_memcg_reclaim_begin", "mem_memcg_reclaim_end");
	if (!collect_bpf_object_prog_enabled(skel->obj, "mem_page_fault_user")) {
		snprintf(note, note_len, "tracepoint page_fault_user is missing");
		return -EOPNOTSUPP;
	}
	r = mem_bpf__load(skel);
	if (r < 0)
		return r;
	r = mem_bpf__attach(skel);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(skel);
	return 0;
}

static void mem_close(void *owner)
{
	mem_bpf__destroy(owner);
}

static int mem_clear_slot(void *owner, uint32_t slot)
{
	struct mem_bpf *skel = owner;

	return collect_bpf_percpu_clear(bpf_map__fd(skel->maps.mem_counters), slot, MEM_NR_U64);
}

static int mem_read_slot(void *owner, uint32_t slot, struct collect_bpf_vm *vm)
{
	struct mem_bpf *skel = owner;
	struct mem_slot_counters c;
	int r;

	r = collect_bpf_percpu_sum(bpf_map__fd(skel->maps.mem_counters), slot, (uint64_t *)&c,
				   MEM_NR_U64);
	if (r < 0)
		return r;
	collect_bpf_vm_add(&vm->page_faults, c.page_faults);
	collect_bpf_vm_add(&vm->reclaim_stall_ns, c.reclaim_stall_ns);
	return 0;
}

static void mem_tracking_changed(void *owner, const uint64_t *tgid_filter,
				 const uint64_t *netdev_filter)
{
	struct mem_bpf *skel = owner;

	memcpy((void *)skel->bss->tracked_tgid_filter, tgid_filter,
	       sizeof(skel->bss->tracked_tgid_filter));
}

static uint64_t mem_lost(void *owner)
{
	struct mem_bpf *skel = owner;

	return collect_bpf_percpu_stats_total(bpf_map__fd(skel->maps.mem_stats), MEM_NR_STATS);
}

static struct bpf_object *mem_object(void *owner)
{
	return ((struct mem_bpf *)owner)->obj;
}

static int mem_attach(void *owner, bool on)
{
	if (!on) {
		mem_bpf__detach(owner);
		return 0;
	}
	return mem_bpf__attach(owner);
}

const struct collect_bpf_owner_ops collect_bpf_mem_owner = {
	.name = "mem",
	.open = mem_open,
	.close = mem_close,
	.clear_slot = mem_clear_slot,
	.read_slot = mem_read_slot,
	.tracking_changed = mem_tracking_changed,
	.lost = mem_lost,
	.object = mem_object,
	.attach = mem_attach,
};
