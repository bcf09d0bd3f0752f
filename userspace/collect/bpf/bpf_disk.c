// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Owner of the disk probe (bpf/disk.bpf.c): bytes, operations and latency
 * histogram per VM, reads and writes apart. Chooses the request-start events
 * the kernel has: block_io_start (6.5+) or block_rq_insert + block_rq_issue.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/types.h>

#include "bpf_internal.h"
#include "cleanup.h"
#include "disk.h"
#include "disk.skel.h"
#include "log.h"

#define DISK_NR_U64 (sizeof(struct disk_slot_counters) / sizeof(__u64))

DEFINE_TRIVIAL_CLEANUP_FUNC(struct disk_bpf *, disk_bpf__destroy);

static int disk_open(const struct collect_bpf_shared *sh, char *note, size_t note_len, void **ret)
{
	_cleanup_(disk_bpf__destroyp) struct disk_bpf *skel = NULL;
	struct bpf_object *obj;
	int r;

	skel = disk_bpf__open();
	if (!skel)
		return -errno;
	obj = skel->obj;
	r = collect_bpf_object_prepare(obj, sh, note, note_len);
	if (r < 0)
		return r;
	if (collect_bpf_object_prog_enabled(obj, "disk_io_start")) {
		/* One start event per request is enough; the older pair would only cost. */
		collect_bpf_object_prog_disable(obj, "disk_rq_insert");
		collect_bpf_object_prog_disable(obj, "disk_rq_issue");
		note[0] = '\0';
	} else if (!collect_bpf_object_prog_enabled(obj, "disk_rq_issue")) {
		snprintf(note, note_len, "no block request start tracepoint");
		return -EOPNOTSUPP;
	} else {
		snprintf(note, note_len, "via block_rq_insert/issue, no block_io_start");
	}
	if (!collect_bpf_object_prog_enabled(obj, "disk_rq_complete")) {
		snprintf(note, note_len, "tracepoint block_rq_complete is missing");
		return -EOPNOTSUPP;
	}
	r = disk_bpf__load(skel);
	if (r < 0)
		return r;
	r = disk_bpf__attach(skel);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(skel);
	return 0;
}

static void disk_close(void *owner)
{
	disk_bpf__destroy(owner);
}

static int disk_clear_slot(void *owner, uint32_t slot)
{
	struct disk_bpf *skel = owner;

	return collect_bpf_percpu_clear(bpf_map__fd(skel->maps.disk_counters), slot, DISK_NR_U64);
}

static int disk_sum(struct disk_bpf *skel, uint32_t slot, struct disk_slot_counters *ret)
{
	return collect_bpf_percpu_sum(bpf_map__fd(skel->maps.disk_counters), slot, (uint64_t *)ret,
				      DISK_NR_U64);
}

static int disk_read_slot(void *owner, uint32_t slot, struct collect_bpf_vm *vm)
{
	struct disk_slot_counters c;
	int r;

	r = disk_sum(owner, slot, &c);
	if (r < 0)
		return r;
	collect_bpf_vm_add(&vm->disk_rd_bytes, c.bytes[DISK_READ]);
	collect_bpf_vm_add(&vm->disk_wr_bytes, c.bytes[DISK_WRITE]);
	collect_bpf_vm_add(&vm->disk_rd_ops, c.ops[DISK_READ]);
	collect_bpf_vm_add(&vm->disk_wr_ops, c.ops[DISK_WRITE]);
	return 0;
}

int collect_bpf_disk_latency(void *owner, uint32_t slot, uint64_t *ret_buckets, size_t nr_buckets)
{
	struct disk_slot_counters c;
	int r;

	if (nr_buckets != DISK_NR_DIRS * DISK_LAT_BUCKETS)
		return -EINVAL;
	r = disk_sum(owner, slot, &c);
	if (r < 0)
		return r;
	memcpy(ret_buckets, c.lat_usec_log2, sizeof(c.lat_usec_log2));
	return 0;
}

static void disk_tracking_changed(void *owner, const uint64_t *tgid_filter,
				  const uint64_t *netdev_filter)
{
	struct disk_bpf *skel = owner;

	memcpy((void *)skel->bss->tracked_tgid_filter, tgid_filter,
	       sizeof(skel->bss->tracked_tgid_filter));
}

static uint64_t disk_lost(void *owner)
{
	struct disk_bpf *skel = owner;

	return collect_bpf_percpu_stats_total(bpf_map__fd(skel->maps.disk_stats), DISK_NR_STATS);
}

static struct bpf_object *disk_object(void *owner)
{
	return ((struct disk_bpf *)owner)->obj;
}

static int disk_attach(void *owner, bool on)
{
	if (!on) {
		disk_bpf__detach(owner);
		return 0;
	}
	return disk_bpf__attach(owner);
}

const struct collect_bpf_owner_ops collect_bpf_disk_owner = {
	.name = "disk",
	.open = disk_open,
	.close = disk_close,
	.clear_slot = disk_clear_slot,
	.read_slot = disk_read_slot,
	.tracking_changed = disk_tracking_changed,
	.lost = disk_lost,
	.object = disk_object,
	.attach = disk_attach,
};
