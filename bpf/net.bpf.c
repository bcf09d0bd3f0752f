// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * net: bytes and packets per VM in both directions, and drops, on the VM's
 * tap devices, counted in the guest's view (host transmit = guest receive).
 * Devices are named by (netns inode, ifindex), filled by userspace from the
 * taps' names, so equal ifindexes in other namespaces do not collide.
 *
 * Events: net_dev_xmit (host transmit), netif_receive_skb (host receive,
 * before any bridge or rx handler, so skb->dev is still the tap), kfree_skb
 * (drops only: consumed packets have their own tracepoint). Cost: an
 * ifindex pre-filter test per packet (~50 ns here); tracked devices add a
 * tracked_netdevs lookup and a per-CPU add.
 * Maps: tracked_netdevs and the ifindex pre-filter are shared; net_counters
 * and net_stats are this probe's own.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "net.h"
#include "tracked.bpf.h"

char LICENSE[] SEC("license") = "GPL";

TRACKED_NETDEVS_MAP;
TRACKED_NETDEV_FILTER

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACKED_MAX_VMS);
	__type(key, __u32);
	__type(value, struct net_slot_counters);
} net_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, NET_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} net_stats SEC(".maps");

static __always_inline struct net_slot_counters *dev_counters(struct net_device *dev)
{
	struct tracked_netdev_key key = {};
	__u32 *slot;

	if (!dev)
		return NULL;
	/* tp_btf pointers are BTF-typed: plain loads, no probe-read helper calls. */
	key.ifindex = dev->ifindex;
	if (!ifindex_maybe_tracked(key.ifindex))
		return NULL;
	key.netns_ino = dev->nd_net.net->ns.inum;
	slot = bpf_map_lookup_elem(&tracked_netdevs, &key);
	if (!slot)
		return NULL;
	if (*slot >= TRACKED_MAX_VMS) {
		STAT_INC(net_stats, NET_STAT_BAD_SLOT);
		return NULL;
	}
	return bpf_map_lookup_elem(&net_counters, slot);
}

SEC("tp_btf/net_dev_xmit")
int BPF_PROG(net_dev_xmit, struct sk_buff *skb, int rc, struct net_device *dev, unsigned int len)
{
	struct net_slot_counters *c;

	if (rc != 0) /* NETDEV_TX_OK; drops show up in kfree_skb */
		return 0;
	c = dev_counters(dev);
	if (!c)
		return 0;
	c->rx_bytes += len;
	c->rx_pkts++;
	return 0;
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(net_receive_skb, struct sk_buff *skb)
{
	struct net_slot_counters *c;
	unsigned char *head, *data;
	__u16 mac;
	__u64 hdr = 0;

	c = dev_counters(skb->dev);
	if (!c)
		return 0;
	/* The link header was pulled already; count the whole frame as the tap did. */
	head = skb->head;
	data = skb->data;
	mac = skb->mac_header;
	if (mac != (__u16)~0U && data > head + mac)
		hdr = data - (head + mac);
	if (hdr > 64)
		hdr = 0;
	c->tx_bytes += skb->len + hdr;
	c->tx_pkts++;
	return 0;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(net_kfree_skb, struct sk_buff *skb)
{
	struct net_slot_counters *c;

	c = dev_counters(skb->dev);
	if (c)
		c->drops++;
	return 0;
}
