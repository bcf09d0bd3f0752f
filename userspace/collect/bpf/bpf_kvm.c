// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Owner of the kvm probe (bpf/kvm.bpf.c): VM exits per VM, and per reason in
 * a per-CPU hash. Skipped cleanly where the kvm_exit tracepoint is absent.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

#include <bpf/bpf.h>
#include <linux/types.h>

#include "bpf_internal.h"
#include "cleanup.h"
#include "kvm.h"
#include "kvm.skel.h"
#include "log.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct kvm_bpf *, kvm_bpf__destroy);

static int kvm_open(const struct collect_bpf_shared *sh, char *note, size_t note_len, void **ret)
{
	_cleanup_(kvm_bpf__destroyp) struct kvm_bpf *skel = NULL;
	int r;

	skel = kvm_bpf__open();
	if (!skel)
		return -errno;
	r = collect_bpf_object_prepare(skel->obj, sh, note, note_len);
	if (r < 0)
		return r;
	if (r == 0) {
		snprintf(note, note_len, "no kvm_exit tracepoint, kvm not loaded");
		return -EOPNOTSUPP;
	}
	r = kvm_bpf__load(skel);
	if (r < 0)
		return r;
	r = kvm_bpf__attach(skel);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(skel);
	return 0;
}

static void kvm_close(void *owner)
{
	kvm_bpf__destroy(owner);
}

static int kvm_clear_slot(void *owner, uint32_t slot)
{
	struct kvm_bpf *skel = owner;
	int fd = bpf_map__fd(skel->maps.kvm_reasons);
	struct kvm_reason_key key, next;
	bool first = true;
	int r;

	r = collect_bpf_percpu_clear(bpf_map__fd(skel->maps.kvm_counters), slot,
				     sizeof(struct kvm_slot_counters) / sizeof(__u64));
	if (r < 0)
		return r;
	/* Deleting while walking may restart the walk; deleting is idempotent, so fine. */
	while (bpf_map_get_next_key(fd, first ? NULL : &key, &next) == 0) {
		first = false;
		key = next;
		if (next.slot == slot)
			bpf_map_delete_elem(fd, &next);
	}
	return 0;
}

static int kvm_read_slot(void *owner, uint32_t slot, struct collect_bpf_vm *vm)
{
	struct kvm_bpf *skel = owner;
	struct kvm_slot_counters c;
	int r;

	r = collect_bpf_percpu_sum(bpf_map__fd(skel->maps.kvm_counters), slot, (uint64_t *)&c,
				   sizeof(c) / sizeof(__u64));
	if (r < 0)
		return r;
	collect_bpf_vm_add(&vm->kvm_exits, c.exits);
	return 0;
}

static void kvm_tracking_changed(void *owner, const uint64_t *tgid_filter,
				 const uint64_t *netdev_filter)
{
	struct kvm_bpf *skel = owner;

	memcpy((void *)skel->bss->tracked_tgid_filter, tgid_filter,
	       sizeof(skel->bss->tracked_tgid_filter));
}

static uint64_t kvm_lost(void *owner)
{
	struct kvm_bpf *skel = owner;

	return collect_bpf_percpu_stats_total(bpf_map__fd(skel->maps.kvm_stats), KVM_NR_STATS);
}

static struct bpf_object *kvm_object(void *owner)
{
	return ((struct kvm_bpf *)owner)->obj;
}

static int kvm_attach(void *owner, bool on)
{
	if (!on) {
		kvm_bpf__detach(owner);
		return 0;
	}
	return kvm_bpf__attach(owner);
}

const struct collect_bpf_owner_ops collect_bpf_kvm_owner = {
	.name = "kvm",
	.open = kvm_open,
	.close = kvm_close,
	.clear_slot = kvm_clear_slot,
	.read_slot = kvm_read_slot,
	.tracking_changed = kvm_tracking_changed,
	.lost = kvm_lost,
	.object = kvm_object,
	.attach = kvm_attach,
};
