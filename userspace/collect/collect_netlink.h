/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Link statistics of the host's interfaces over rtnetlink (libnl-route).
 * One dump per tick for all VMs (collect_nl_refresh), then cheap lookups by
 * interface name. Counters are the host's view of the device: for a tap,
 * rx is what the guest sent and tx what it received.
 */
#ifndef PRESCIENT_COLLECT_NETLINK_H
#define PRESCIENT_COLLECT_NETLINK_H

#include <stdint.h>

struct collect_nl;

struct collect_nl_link {
	char name[16];
	int32_t ifindex;
	uint64_t rx_bytes;
	uint64_t tx_bytes;
	uint64_t rx_packets;
	uint64_t tx_packets;
};

/* Opens a route socket in the calling thread's network namespace. */
int collect_nl_open(struct collect_nl **ret);
void collect_nl_close(struct collect_nl *nl);
/* Dumps every link once; lookups then see this snapshot. */
int collect_nl_refresh(struct collect_nl *nl);
/* -ENOENT when the snapshot has no link of that name. */
int collect_nl_lookup(const struct collect_nl *nl, const char *name,
		      const struct collect_nl_link **ret);

#endif
