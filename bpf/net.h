/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Plain data of the net probe (net.bpf.c), shared with its userspace owner. */
#ifndef PRESCIENT_BPF_NET_H
#define PRESCIENT_BPF_NET_H

#include "tracked.h"

/*
 * Per VM slot, per CPU, summed over the VM's taps; the guest's view, like
 * libvirt's interface statistics: what the host transmits on a tap the guest
 * receives.
 */
struct net_slot_counters {
	__u64 rx_bytes; /* host transmit on the tap: the guest receives */
	__u64 rx_pkts;
	__u64 tx_bytes; /* host receive from the tap: the guest sent */
	__u64 tx_pkts;
	__u64 drops; /* packets dropped on the tap, either direction */
};

enum net_stat {
	NET_STAT_BAD_SLOT,
	NET_NR_STATS,
};

#endif
