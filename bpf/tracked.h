/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Plain data shared by every probe and its userspace owner: which processes
 * (QEMU, by tgid) and threads (vCPUs, by tid) belong to which VM slot. A slot
 * is a stable small index the owner assigns per VM, so per-VM counters live
 * in per-CPU arrays indexed by slot. The includer provides __u32/__u64
 * (vmlinux.h in BPF, <linux/types.h> in userspace).
 */
#ifndef PRESCIENT_BPF_TRACKED_H
#define PRESCIENT_BPF_TRACKED_H

/* VM slots: per-VM counter arrays have this many entries. */
#define TRACKED_MAX_VMS 256
/* QEMU processes, one per VM; room for transients during restarts. */
#define TRACKED_MAX_TGIDS 1024
/* vCPU threads of all VMs. */
#define TRACKED_MAX_VCPUS 8192
/* Network devices (taps) of all VMs. */
#define TRACKED_MAX_NETDEVS 1024

/*
 * Pre-filters, bitmaps the probes test before any map lookup so that events
 * of untracked tasks and devices cost a load and a bit test: bit
 * (tgid % TRACKED_TGID_FILTER_BITS) is set for each tracked tgid, bit
 * (ifindex % TRACKED_NETDEV_FILTER_BITS) for each tracked device. A set bit
 * only means "maybe": the maps decide.
 */
#define TRACKED_TGID_FILTER_BITS   65536
#define TRACKED_NETDEV_FILTER_BITS 4096

/* A network device is named by its network namespace and its ifindex. */
struct tracked_netdev_key {
	__u32 netns_ino;
	__u32 ifindex;
};

#endif
