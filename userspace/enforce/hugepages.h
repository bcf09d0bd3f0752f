/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Hugepage pools per NUMA node and page size, through
 * <sysfs>/devices/system/node/node<N>/hugepages/hugepages-<kB>kB/. The kernel
 * may deliver fewer pages than asked (fragmentation) and per-node files never
 * fall back to other nodes, so every change is read back and the number
 * obtained is what the caller gets (platform-notes §0.12, §5.5).
 */
#ifndef PRESCIENT_ENFORCE_HUGEPAGES_H
#define PRESCIENT_ENFORCE_HUGEPAGES_H

#include <stdint.h>

#define ENFORCE_SYSFS_ROOT "/sys"

struct enforce_hugepages {
	uint64_t nr;	  /* nr_hugepages: the pool */
	uint64_t free;	  /* free_hugepages */
	uint64_t surplus; /* surplus_hugepages */
};

/* Reads one node's pool of one size; -ENOENT when the node or size does not exist. */
int enforce_hugepages_read(const char *sysfs_root, unsigned node, uint64_t page_kb,
			   struct enforce_hugepages *ret);

/*
 * Asks for want pages in the node's pool and reads back what the kernel made
 * of it. Returns 0 when the pool holds exactly want, 1 when it holds a
 * different number (fewer when growing, more when in-use pages could not be
 * freed), -errno when the write failed. ret_nr: the pool size now, set on 0 and 1.
 */
int enforce_hugepages_set(const char *sysfs_root, unsigned node, uint64_t page_kb, uint64_t want,
			  uint64_t *ret_nr);

#endif
