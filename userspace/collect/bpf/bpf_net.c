// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Owner of the net probe (bpf/net.bpf.c): bytes, packets and drops on each
 * VM's taps, in the guest's view. The facade fills tracked_netdevs.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/types.h>

#include "bpf_internal.h"
#include "cleanup.h"
#include "log.h"
#include "net.h"
#include "net.skel.h"

#define NET_NR_U64 (sizeof(struct net_slot_counters) / sizeof(__u64))

DEFINE_TRIVIAL_CLEANUP_FUNC(struct net_bpf *, net_bpf__destroy);

static int net_open(const struct collect_bpf_shared *sh, char *note, size_t note_len, void **ret)
{
	_cleanup_(net_bpf__destroyp) struct net_bpf *skel = NULL;
	int r;

	skel = net_bpf__open();
	if (!skel)
		return -errno;
	r = collect_bpf_object_prepare(skel->obj, sh, note, note_len);
	if (r < 0)
		return r;
	if (!collect_bpf_object_prog_enabled(skel->obj, "net_dev_xmit") ||
	    !collect_bpf_object_prog_enabled(skel->obj, "net_receive_skb")) {
		snprintf(note, note_len, "net_dev_xmit or netif_receive_skb is missing");
		return -EOPNOTSUPP;
	}
	r = net_bpf__load(skel);
	if (r < 0)
		return r;
	r = net_bpf__attach(skel);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(skel);
	return 0;
}

static void net_close(void *owner)
{
	net_bpf__destroy(owner);
}

static int net_clear_slot(void *owner, uint32_t slot)
{
	struct net_bpf *skel = owner;

	return collect_bpf_percpu_clear(bpf_map__fd(skel->maps.net_counters), slot, NET_NR_U64);
}

static int net_read_slot(void *owner, uint32_t slot, struct collect_bpf_vm *vm)
{
	struct net_bpf *skel = owner;
	struct net_slot_counters c;
	int r;

	r = collect_bpf_percpu_sum(bpf_map__fd(skel->maps.net_counters), slot, (uint64_t *)&c,
				   NET_NR_U64);
	if (r < 0)
		return r;
	collect_bpf_vm_add(&vm->net_rx_bytes, c.rx_bytes);
	collect_bpf_vm_add(&vm->net_rx_pkts, c.rx_pkts);
	collect_bpf_vm_add(&vm->net_tx_bytes, c.tx_bytes);
	collect_bpf_vm_add(&vm->net_tx_pkts, c.tx_pkts);
	collect_bpf_vm_add(&vm->net_drops, c.drops);
	return 0;
}

static void net_tracking_changed(void *owner, const uint64_t *tgid_filter,
				 const uint64_t *netdev_filter)
{
	struct net_bpf *skel = owner;

	memcpy((void *)skel->bss->tracked_netdev_filter, netdev_filter,
	       sizeof(skel->bss->tracked_netdev_filter));
}

static uint64_t net_lost(void *owner)
{
	struct net_bpf *skel = owner;

	return collect_bpf_percpu_stats_total(bpf_map__fd(skel->maps.net_stats), NET_NR_STATS);
}

static struct bpf_object *net_object(void *owner)
{
	return ((struct net_bpf *)owner)->obj;
}

static int net_attach(void *owner, bool on)
{
	if (!on) {
		net_bpf__detach(owner);
		return 0;
	}
	return net_bpf__attach(owner);
}

const struct collect_bpf_owner_ops collect_bpf_net_owner = {
	.name = "net",
	.open = net_open,
	.close = net_close,
	.clear_slot = net_clear_slot,
	.read_slot = net_read_slot,
	.tracking_changed = net_tracking_changed,
	.lost = net_lost,
	.object = net_object,
	.attach = net_attach,
};
