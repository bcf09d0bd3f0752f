// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The collector: once a tick, reads every VM's counters from each source,
 * turns them into rates against the previous tick and picks, per field, the
 * best source that has a value.
 *
 * Precedence (first finite value wins, per field, every tick):
 *   cpu_cores        BPF cpu_run_ns > cgroup v2 cpu.stat usage_usec
 *                    > cgroup v1 cpuacct.usage > libvirt cpu.time
 *   cpu_steal_cores  BPF vcpu_wait_ns > /proc/<pid>/task/<tid>/schedstat
 *                    run-queue wait of the vCPU threads (works without
 *                    libvirt) > libvirt vcpu delay
 *   mem_bytes        cgroup v2 memory.stat anon + file_mapped > cgroup v1
 *                    memory.stat (total_)rss + (total_)mapped_file > libvirt
 *                    balloon.rss. All three are the memory the VM's processes
 *                    have resident and mapped (guest RAM it touched, QEMU's
 *                    own heap, mapped shmem/memfd), so they agree with each
 *                    other; memory.current / usage_in_bytes are NOT used since
 *                    they add unmapped page cache and kernel memory.
 *                    Hugepage-backed guest RAM is in none of them (hugetlb).
 *   disk_*           BPF > cgroup v2 io.stat > v1 blkio.throttle.*_recursive
 *                    > libvirt block stats
 *   net_*            BPF > netlink tap statistics (host rx = guest tx) >
 *                    libvirt interface stats (already guest view)
 *   *_pressure_some  cgroup v2 PSI "some avg10" only
 *   *_stall_share    cgroup v2 PSI "some total" delta over the tick, only;
 *                    clamped to 1 (the tick's timestamp is taken once and the
 *                    files read a varying moment later, so a fully stalled
 *                    tick may show a little more stall than it lasted)
 *
 * Each source keeps its own previous counters, so falling back from one to
 * another never mixes counters of different origins in one delta; a counter
 * that went backwards (VM restarted, device removed) yields NAN for that tick
 * and becomes the new baseline.
 *
 * A VM's cgroup in a hierarchy is read only when it is its own: not empty,
 * not the root, no "." components, and not shared with another listed VM (on
 * hybrid hosts, nested "hosts" leave every VM in one unified group). Per
 * field, a v2 file that is missing (the controller lives on v1, as on hybrid
 * hosts) falls back to v1. Disk fields switch source together, so bytes and
 * operations always describe the same I/O. Rates need two ticks: the first
 * tick of a VM (or of a source for it) gives NAN rates, gauges at once.
 *
 * Cost: one open/read per cgroup file (about 6 per VM on v2 and 1 per vCPU
 * for steal unless BPF measures it), one netlink dump per tick for all VMs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "collect.h"
#include "collect_bpf.h"
#include "collect_netlink.h"
#include "collect_parse.h"
#include "log.h"
#include "util.h"

/* Cumulative counters, one slot per (source, quantity). */
enum ctr {
	CTR_V2_CPU_USEC,
	CTR_V1_CPU_NS,
	CTR_V2_RD_BYTES,
	CTR_V2_WR_BYTES,
	CTR_V2_RD_IOS,
	CTR_V2_WR_IOS,
	CTR_V2_PSI_CPU_USEC, /* PSI "some" total: stalled time, a counter */
	CTR_V2_PSI_MEM_USEC,
	CTR_V2_PSI_IO_USEC,
	CTR_V1_RD_BYTES,
	CTR_V1_WR_BYTES,
	CTR_V1_RD_IOS,
	CTR_V1_WR_IOS,
	CTR_PROC_WAIT_NS,
	CTR_NL_GUEST_RX_BYTES,
	CTR_NL_GUEST_TX_BYTES,
	CTR_LV_CPU_NS,
	CTR_LV_DELAY_NS,
	CTR_LV_RD_BYTES,
	CTR_LV_WR_BYTES,
	CTR_LV_RD_REQS,
	CTR_LV_WR_REQS,
	CTR_LV_NET_RX_BYTES,
	CTR_LV_NET_TX_BYTES,
	CTR_BPF_CPU_NS,
	CTR_BPF_VCPU_WAIT_NS,
	CTR_BPF_RD_BYTES,
	CTR_BPF_WR_BYTES,
	CTR_BPF_RD_OPS,
	CTR_BPF_WR_OPS,
	CTR_BPF_NET_RX_BYTES,
	CTR_BPF_NET_TX_BYTES,
	CTR_BPF_PREEMPTS,
	CTR_BPF_KVM_EXITS,
	CTR_BPF_FAULTS,
	CTR_BPF_RECLAIM_NS,
	NR_CTRS,
};
_Static_assert(NR_CTRS <= 64, "struct reading's have is a 64-bit mask of enum ctr");

/* What failed for a VM, so each failure is logged once per VM. */
enum fail {
	FAIL_V2_CPU,
	FAIL_V2_MEM,
	FAIL_V2_IO,
	FAIL_V2_PSI,
	FAIL_V1_CPU,
	FAIL_V1_MEM,
	FAIL_V1_IO,
	FAIL_PROC_CGROUP,
	FAIL_SCHEDSTAT,
	FAIL_TAP,
	FAIL_BPF,
	NR_FAILS,
};

struct reading {
	uint64_t v[NR_CTRS];
	uint64_t have; /* bit per enum ctr */
	double mem_v2, mem_v1, mem_lv;
	double psi_cpu, psi_mem, psi_io;
	bool sched_info_off; /* schedstat shows no wait accounting: distrust zero delays */
};

struct vm_state {
	char uuid[HV_UUID_LEN + 1];
	int32_t qemu_pid;
	uint64_t ident_hash; /* pid and cgroup paths the paths were resolved from */
	uint32_t shared;     /* bit per enum collect_hier: another listed VM has the same group */
	char path[COLLECT_NR_HIERS][HV_CGROUP_MAX]; /* below each mount point; "" = none */
	uint64_t prev_t_usec;
	uint64_t prev[NR_CTRS];
	uint64_t prev_have;
	uint64_t tid_hash; /* vCPU threads the schedstat sum covers */
	uint64_t tap_hash; /* ifindexes the netlink sum covers */
	bool bpf_taps_ok;  /* every tap existed when BPF was told about the VM */
	uint32_t logged;   /* bit per enum fail */
};

struct collect {
	char *cgroup_root;
	char *proc_root;
	bool cgroup_root_given;
	struct collect_mount mounts[COLLECT_NR_HIERS];
	bool mounts_found;
	struct collect_nl *nl;
	struct collect_bpf *bpf;
	bool bpf_wanted;
	bool bpf_stale; /* the probes were not told the current VM set */
	struct vm_state *states;
	size_t n_states;
	uint64_t set_hash; /* identity of the VM list the BPF side and sharing were computed for */
	uint32_t active;
	char buf[COLLECT_PARSE_MAX_BYTES + 1];
};

static const uint64_t FNV_OFFSET = 0xcbf29ce484222325ULL;

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Reads a small kernel file into c->buf; -EFBIG when it does not fit. */
static int read_file(struct collect *c, const char *path, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	size_t len = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	for (;;) {
		size_t want = sizeof(c->buf) - 1 - len;
		ssize_t n;

		if (want == 0)
			return -EFBIG;
		n = read(fd, c->buf + len, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len += (size_t)n;
		/*
		 * cgroup and proc files are generated whole into one read when the
		 * buffer can hold them (seq_file), and regular files read short only
		 * at their end: a short read is the end, which saves a syscall per
		 * file (a quarter of the collector's).
		 */
		if ((size_t)n < want)
			break;
	}
	c->buf[len] = '\0';
	*ret_len = len;
	return 0;
}

/* Builds mount point + path + "/" + file; -ENAMETOOLONG rather than a truncated path. */
static int hier_file(const struct collect *c, const struct vm_state *st, enum collect_hier h,
		     const char *file, char *out, size_t size)
{
	int n;

	if (!c->mounts[h].mount_point[0] || !st->path[h][0] || st->shared & (1u << h))
		return -ENOENT;
	n = snprintf(out, size, "%s%s/%s", c->mounts[h].mount_point, st->path[h], file);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}

static void note_fail(struct vm_state *st, const struct hv_vm *vm, enum fail what, int r,
		      const char *path)
{
	if (st->logged & (1u << what))
		return;
	st->logged |= 1u << what;
	log_debug_errno(r, "collect: VM %.*s: cannot read '%s', ignoring: %m", HV_NAME_MAX,
			vm->name, path);
}

static int read_hier_file(struct collect *c, struct vm_state *st, const struct hv_vm *vm,
			  enum collect_hier h, const char *file, enum fail what, size_t *ret_len)
{
	char path[PATH_MAX];
	int r;

	r = hier_file(c, st, h, file, path, sizeof(path));
	if (r == -ENOENT)
		return r; /* no such hierarchy or group: nothing to log per tick */
	if (r >= 0)
		r = read_file(c, path, ret_len);
	if (r < 0)
		note_fail(st, vm, what, r, r == -ENAMETOOLONG ? file : path);
	return r;
}

static void set_ctr(struct reading *rd, enum ctr i, uint64_t v)
{
	rd->v[i] = v;
	rd->have |= 1ULL << i;
}

static void note_parse_fail(struct vm_state *st, const struct hv_vm *vm, enum fail what, int r,
			    const char *file)
{
	note_fail(st, vm, what, r == 0 ? -ENODATA : r, file);
}

static void read_cgroup_v2(struct collect *c, struct vm_state *st, const struct hv_vm *vm,
			   struct reading *rd)
{
	static const char *const cpu_keys[] = { "usage_usec" };
	static const char *const mem_keys[] = { "anon", "file_mapped" };
	static const struct {
		const char *file;
		size_t offset;
		enum ctr total;
	} psi[] = {
		{ "cpu.pressure", offsetof(struct reading, psi_cpu), CTR_V2_PSI_CPU_USEC },
		{ "memory.pressure", offsetof(struct reading, psi_mem), CTR_V2_PSI_MEM_USEC },
		{ "io.pressure", offsetof(struct reading, psi_io), CTR_V2_PSI_IO_USEC },
	};
	struct collect_io_counters io;
	uint64_t vals[2];
	uint32_t found;
	size_t len;
	int r;

	if (!st->path[COLLECT_HIER_V2][0] || st->shared & (1u << COLLECT_HIER_V2))
		return;
	if (read_hier_file(c, st, vm, COLLECT_HIER_V2, "cpu.stat", FAIL_V2_CPU, &len) >= 0) {
		r = collect_parse_keyed(c->buf, len, cpu_keys, 1, vals, &found);
		if (r >= 0 && found == 1) {
			set_ctr(rd, CTR_V2_CPU_USEC, vals[0]);
			c->active |= 1u << COLLECT_SRC_CGROUP_V2;
		} else
			note_parse_fail(st, vm, FAIL_V2_CPU, r, "cpu.stat");
	}
	/* memory.stat and io.stat are absent when those controllers live on v1. */
	if (read_hier_file(c, st, vm, COLLECT_HIER_V2, "memory.stat", FAIL_V2_MEM, &len) >= 0) {
		r = collect_parse_keyed(c->buf, len, mem_keys, 2, vals, &found);
		if (r >= 0 && found == 3 && vals[0] <= UINT64_MAX - vals[1])
			rd->mem_v2 = (double)(vals[0] + vals[1]);
		else
			note_parse_fail(st, vm, FAIL_V2_MEM, r, "memory.stat");
	}
	if (read_hier_file(c, st, vm, COLLECT_HIER_V2, "io.stat", FAIL_V2_IO, &len) >= 0) {
		r = collect_parse_io_stat(c->buf, len, &io);
		if (r >= 0) {
			set_ctr(rd, CTR_V2_RD_BYTES, io.rd_bytes);
			set_ctr(rd, CTR_V2_WR_BYTES, io.wr_bytes);
			set_ctr(rd, CTR_V2_RD_IOS, io.rd_ios);
			set_ctr(rd, CTR_V2_WR_IOS, io.wr_ios);
		} else
			note_parse_fail(st, vm, FAIL_V2_IO, r, "io.stat");
	}
	for (size_t i = 0; i < ARRAY_SIZE(psi); i++) {
		uint64_t total_usec;
		double v;

		if (read_hier_file(c, st, vm, COLLECT_HIER_V2, psi[i].file, FAIL_V2_PSI, &len) < 0)
			continue;
		r = collect_parse_psi_some(c->buf, len, &v, &total_usec);
		if (r >= 0) {
			*(double *)((char *)rd + psi[i].offset) = v;
			set_ctr(rd, psi[i].total, total_usec);
		} else
			note_parse_fail(st, vm, FAIL_V2_PSI, r, psi[i].file);
	}
	if (!isnan(rd->mem_v2) || rd->have & (1ULL << CTR_V2_RD_BYTES))
		c->active |= 1u << COLLECT_SRC_CGROUP_V2;
}

static void read_cgroup_v1(struct collect *c, struct vm_state *st, const struct hv_vm *vm,
			   struct reading *rd)
{
	static const char *const mem_keys[] = { "total_rss", "total_mapped_file", "rss",
						"mapped_file" };
	uint64_t vals[4], v, rd_v, wr_v;
	uint32_t found;
	size_t len;
	bool ok = false;
	int r;

	if (!(rd->have & (1ULL << CTR_V2_CPU_USEC)) &&
	    read_hier_file(c, st, vm, COLLECT_HIER_CPUACCT, "cpuacct.usage", FAIL_V1_CPU, &len) >=
		    0) {
		r = collect_parse_u64_file(c->buf, len, &v);
		if (r >= 0) {
			set_ctr(rd, CTR_V1_CPU_NS, v);
			ok = true;
		} else
			note_parse_fail(st, vm, FAIL_V1_CPU, r, "cpuacct.usage");
	}
	if (isnan(rd->mem_v2) &&
	    read_hier_file(c, st, vm, COLLECT_HIER_MEMORY, "memory.stat", FAIL_V1_MEM, &len) >= 0) {
		r = collect_parse_keyed(c->buf, len, mem_keys, 4, vals, &found);
		/* The total_ forms include child groups; older layouts only have the local ones. */
		if (r >= 0 && (found & 3) == 3 && vals[0] <= UINT64_MAX - vals[1]) {
			rd->mem_v1 = (double)(vals[0] + vals[1]);
			ok = true;
		} else if (r >= 0 && (found & 12) == 12 && vals[2] <= UINT64_MAX - vals[3]) {
			rd->mem_v1 = (double)(vals[2] + vals[3]);
			ok = true;
		} else
			note_parse_fail(st, vm, FAIL_V1_MEM, r, "memory.stat");
	}
	if (!(rd->have & (1ULL << CTR_V2_RD_BYTES))) {
		bool bytes_ok = false;

		if (read_hier_file(c, st, vm, COLLECT_HIER_BLKIO,
				   "blkio.throttle.io_service_bytes_recursive", FAIL_V1_IO,
				   &len) >= 0) {
			r = collect_parse_blkio(c->buf, len, &rd_v, &wr_v);
			if (r >= 0) {
				set_ctr(rd, CTR_V1_RD_BYTES, rd_v);
				set_ctr(rd, CTR_V1_WR_BYTES, wr_v);
				ok = bytes_ok = true;
			} else
				note_parse_fail(st, vm, FAIL_V1_IO, r,
						"blkio.throttle.io_service_bytes");
		}
		if (bytes_ok &&
		    read_hier_file(c, st, vm, COLLECT_HIER_BLKIO,
				   "blkio.throttle.io_serviced_recursive", FAIL_V1_IO, &len) >= 0) {
			r = collect_parse_blkio(c->buf, len, &rd_v, &wr_v);
			if (r >= 0) {
				set_ctr(rd, CTR_V1_RD_IOS, rd_v);
				set_ctr(rd, CTR_V1_WR_IOS, wr_v);
			} else
				note_parse_fail(st, vm, FAIL_V1_IO, r,
						"blkio.throttle.io_serviced");
		}
	}
	if (ok)
		c->active |= 1u << COLLECT_SRC_CGROUP_V1;
}

/* Sum of the vCPU threads' run-queue wait; works without libvirt. */
static void read_schedstat(struct collect *c, struct vm_state *st, const struct hv_vm *vm,
			   struct reading *rd)
{
	uint64_t sum = 0, run_sum = 0, h = FNV_OFFSET;
	uint32_t n = vm->nr_vcpu_tids < HV_MAX_VCPUS ? vm->nr_vcpu_tids : HV_MAX_VCPUS;
	unsigned used = 0;

	if (vm->qemu_pid <= 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		char path[PATH_MAX];
		uint64_t run, wait;
		size_t len;
		int r;

		if (vm->vcpu_tids[i] <= 0)
			continue;
		r = snprintf(path, sizeof(path), "%s/%d/task/%d/schedstat", c->proc_root,
			     (int)vm->qemu_pid, (int)vm->vcpu_tids[i]);
		if (r < 0 || (size_t)r >= sizeof(path))
			return;
		r = read_file(c, path, &len);
		if (r >= 0)
			r = collect_parse_schedstat(c->buf, len, &run, &wait);
		if (r < 0) {
			/* A partial sum would look like a counter reset later: all or nothing. */
			note_fail(st, vm, FAIL_SCHEDSTAT, r, path);
			return;
		}
		if (sum > UINT64_MAX - wait || run_sum > UINT64_MAX - run)
			return;
		sum += wait;
		run_sum += run;
		h = fnv1a(h, &vm->vcpu_tids[i], sizeof(vm->vcpu_tids[i]));
		used++;
	}
	if (!used)
		return;
	/*
	 * Threads that ran for seconds without a nanosecond of run-queue wait
	 * mean the kernel does not account it (sched_info off: no schedstats or
	 * delay accounting). libvirt's vcpu delay comes from the same numbers.
	 */
	if (sum == 0 && run_sum > NSEC_PER_SEC) {
		note_fail(st, vm, FAIL_SCHEDSTAT, -ENODATA,
			  "schedstat (run-queue wait not accounted)");
		rd->sched_info_off = true;
		return;
	}
	/* Another set of threads (hotplug, restart) is another counter. */
	if (h != st->tid_hash) {
		st->prev_have &= ~(1ULL << CTR_PROC_WAIT_NS);
		st->tid_hash = h;
	}
	set_ctr(rd, CTR_PROC_WAIT_NS, sum);
	c->active |= 1u << COLLECT_SRC_PROCFS;
}

static void read_netlink(struct collect *c, struct vm_state *st, const struct hv_vm *vm,
			 struct reading *rd)
{
	uint64_t guest_rx = 0, guest_tx = 0, h = FNV_OFFSET;
	uint32_t n = vm->nr_taps < HV_MAX_NICS ? vm->nr_taps : HV_MAX_NICS;

	if (!n)
		return;
	for (uint32_t i = 0; i < n; i++) {
		const struct collect_nl_link *l;
		char name[HV_IFNAME_MAX + 1];
		int r;

		memcpy(name, vm->taps[i], HV_IFNAME_MAX);
		name[HV_IFNAME_MAX] = '\0';
		r = collect_nl_lookup(c->nl, name, &l);
		if (r < 0) {
			note_fail(st, vm, FAIL_TAP, r, name);
			return;
		}
		/* The host receives what the guest sends. */
		guest_rx += l->tx_bytes;
		guest_tx += l->rx_bytes;
		h = fnv1a(h, &l->ifindex, sizeof(l->ifindex));
	}
	if (h != st->tap_hash) {
		st->prev_have &= ~(1ULL << CTR_NL_GUEST_RX_BYTES | 1ULL << CTR_NL_GUEST_TX_BYTES);
		st->tap_hash = h;
	}
	set_ctr(rd, CTR_NL_GUEST_RX_BYTES, guest_rx);
	set_ctr(rd, CTR_NL_GUEST_TX_BYTES, guest_tx);
}

static void read_libvirt(struct collect *c, const struct hv_vm_stats *s, struct reading *rd)
{
	static const struct {
		size_t offset;
		enum ctr ctr;
	} map[] = {
		{ offsetof(struct hv_vm_stats, cpu_time_ns), CTR_LV_CPU_NS },
		{ offsetof(struct hv_vm_stats, vcpu_delay_ns), CTR_LV_DELAY_NS },
		{ offsetof(struct hv_vm_stats, block_rd_bytes), CTR_LV_RD_BYTES },
		{ offsetof(struct hv_vm_stats, block_wr_bytes), CTR_LV_WR_BYTES },
		{ offsetof(struct hv_vm_stats, block_rd_reqs), CTR_LV_RD_REQS },
		{ offsetof(struct hv_vm_stats, block_wr_reqs), CTR_LV_WR_REQS },
		{ offsetof(struct hv_vm_stats, net_rx_bytes), CTR_LV_NET_RX_BYTES },
		{ offsetof(struct hv_vm_stats, net_tx_bytes), CTR_LV_NET_TX_BYTES },
	};
	bool any = false;

	if (!s)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		uint64_t v = *(const uint64_t *)((const char *)s + map[i].offset);

		if (v != HV_STAT_ABSENT) {
			set_ctr(rd, map[i].ctr, v);
			any = true;
		}
	}
	if (s->balloon_rss_kib != HV_STAT_ABSENT && s->balloon_rss_kib <= UINT64_MAX / 1024) {
		rd->mem_lv = (double)s->balloon_rss_kib * 1024.0;
		any = true;
	}
	if (any)
		c->active |= 1u << COLLECT_SRC_LIBVIRT;
}

static void read_bpf(struct collect *c, struct vm_state *st, const struct hv_vm *vm, size_t index,
		     struct reading *rd)
{
	static const struct {
		size_t offset;
		enum ctr ctr;
	} map[] = {
		{ offsetof(struct collect_bpf_vm, cpu_run_ns), CTR_BPF_CPU_NS },
		{ offsetof(struct collect_bpf_vm, vcpu_wait_ns), CTR_BPF_VCPU_WAIT_NS },
		{ offsetof(struct collect_bpf_vm, disk_rd_bytes), CTR_BPF_RD_BYTES },
		{ offsetof(struct collect_bpf_vm, disk_wr_bytes), CTR_BPF_WR_BYTES },
		{ offsetof(struct collect_bpf_vm, disk_rd_ops), CTR_BPF_RD_OPS },
		{ offsetof(struct collect_bpf_vm, disk_wr_ops), CTR_BPF_WR_OPS },
		{ offsetof(struct collect_bpf_vm, net_rx_bytes), CTR_BPF_NET_RX_BYTES },
		{ offsetof(struct collect_bpf_vm, net_tx_bytes), CTR_BPF_NET_TX_BYTES },
		{ offsetof(struct collect_bpf_vm, involuntary_switches), CTR_BPF_PREEMPTS },
		{ offsetof(struct collect_bpf_vm, kvm_exits), CTR_BPF_KVM_EXITS },
		{ offsetof(struct collect_bpf_vm, page_faults), CTR_BPF_FAULTS },
		{ offsetof(struct collect_bpf_vm, reclaim_stall_ns), CTR_BPF_RECLAIM_NS },
	};
	struct collect_bpf_vm b;
	int r;

	r = collect_bpf_read_vm(c->bpf, index, &b);
	if (r < 0) {
		if (!(st->logged & (1u << FAIL_BPF)))
			log_debug_errno(r, "collect: VM %.*s: no BPF counters, ignoring: %m",
					HV_NAME_MAX, vm->name);
		st->logged |= 1u << FAIL_BPF;
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(map); i++) {
		uint64_t v = *(const uint64_t *)((const char *)&b + map[i].offset);

		if (v == UINT64_MAX)
			continue;
		/* Zero traffic from taps BPF never saw would hide netlink's real numbers. */
		if ((map[i].ctr == CTR_BPF_NET_RX_BYTES || map[i].ctr == CTR_BPF_NET_TX_BYTES) &&
		    !st->bpf_taps_ok)
			continue;
		set_ctr(rd, map[i].ctr, v);
	}
	c->active |= 1u << COLLECT_SRC_BPF;
}

/* A cgroup path from the plugin or /proc, made relative to the hierarchy's mount. */
static void set_path(const struct collect *c, struct vm_state *st, enum collect_hier h,
		     const char *path)
{
	const char *root = c->mounts[h].root;
	size_t n = strlen(root);

	st->path[h][0] = '\0';
	if (!path || path[0] != '/' || util_streq(path, "/") || strstr(path, "/.") ||
	    strstr(path, "//"))
		return; /* the root is every VM's; dot components are not a VM's group */
	if (n > 1 && strncmp(path, root, n) == 0 && (path[n] == '/' || path[n] == '\0'))
		path += n;
	if (!*path || util_streq(path, "/"))
		return;
	util_strlcpy(st->path[h], path, sizeof(st->path[h]));
	/* A trailing '/' would give "//file": normalise. */
	n = strlen(st->path[h]);
	while (n > 1 && st->path[h][n - 1] == '/')
		st->path[h][--n] = '\0';
}

static uint64_t vm_ident_hash(const struct hv_vm *vm)
{
	uint64_t h = fnv1a(FNV_OFFSET, &vm->qemu_pid, sizeof(vm->qemu_pid));

	h = fnv1a(h, vm->cgroup_v2, strnlen(vm->cgroup_v2, HV_CGROUP_MAX));
	h = fnv1a(h, "", 1);
	h = fnv1a(h, vm->cgroup_cpu, strnlen(vm->cgroup_cpu, HV_CGROUP_MAX));
	h = fnv1a(h, "", 1);
	return fnv1a(h, vm->cgroup_memory, strnlen(vm->cgroup_memory, HV_CGROUP_MAX));
}

static void copy_vm_path(char dst[HV_CGROUP_MAX], const char src[HV_CGROUP_MAX])
{
	memcpy(dst, src, HV_CGROUP_MAX);
	dst[HV_CGROUP_MAX - 1] = '\0';
}

/*
 * Where the VM's groups are. The plugin gives the v2, cpu and memory paths
 * ("" = none, and then none is guessed: a wrong group gives wrong numbers);
 * blkio comes from /proc/<qemu_pid>/cgroup, or is the cpu path.
 */
static void resolve_paths(struct collect *c, struct vm_state *st, const struct hv_vm *vm)
{
	struct collect_proc_cgroup pc = { 0 };
	char v2[HV_CGROUP_MAX], cpu[HV_CGROUP_MAX], mem[HV_CGROUP_MAX];
	bool have_pc = false;

	copy_vm_path(v2, vm->cgroup_v2);
	copy_vm_path(cpu, vm->cgroup_cpu);
	copy_vm_path(mem, vm->cgroup_memory);
	if (vm->qemu_pid > 0 && c->mounts[COLLECT_HIER_BLKIO].mount_point[0]) {
		char path[PATH_MAX];
		size_t len;
		int r;

		r = snprintf(path, sizeof(path), "%s/%d/cgroup", c->proc_root, (int)vm->qemu_pid);
		if (r > 0 && (size_t)r < sizeof(path)) {
			r = read_file(c, path, &len);
			if (r >= 0)
				r = collect_parse_proc_cgroup(c->buf, len, &pc);
			if (r >= 0)
				have_pc = true;
			else
				note_fail(st, vm, FAIL_PROC_CGROUP, r, path);
		}
	}
	set_path(c, st, COLLECT_HIER_V2, v2);
	/* cpu and cpuacct are co-mounted, or libvirt uses the same path in both. */
	set_path(c, st, COLLECT_HIER_CPUACCT, cpu);
	set_path(c, st, COLLECT_HIER_MEMORY, mem);
	/* libvirt puts a VM at the same path in every v1 hierarchy. */
	set_path(c, st, COLLECT_HIER_BLKIO,
		 have_pc && pc.path[COLLECT_HIER_BLKIO][0] ? pc.path[COLLECT_HIER_BLKIO] : cpu);
	st->ident_hash = vm_ident_hash(vm);
}

static int str_ptr_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * A group that two listed VMs share is neither's own (nested test hosts leave
 * every VM in one unified group; a plugin may report a parent): its counters
 * would be attributed twice, so such a hierarchy is not read for them.
 */
static int compute_shared(struct vm_state *states, size_t n)
{
	_cleanup_free_ const char **paths = NULL;

	for (size_t i = 0; i < n; i++)
		states[i].shared = 0;
	if (n < 2)
		return 0;
	paths = malloc(n * sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	for (int h = 0; h < COLLECT_NR_HIERS; h++) {
		for (size_t i = 0; i < n; i++)
			paths[i] = states[i].path[h];
		qsort(paths, n, sizeof(*paths), str_ptr_cmp);
		for (size_t i = 0; i < n; i++) {
			const char *p = states[i].path[h];
			const char **hit;

			if (!p[0])
				continue;
			hit = bsearch(&p, paths, n, sizeof(*paths), str_ptr_cmp);
			/* bsearch lands somewhere in a run of equal paths: look next to it. */
			if (hit && ((hit > paths && !strcmp(hit[-1], p)) ||
				    (hit + 1 < paths + n && !strcmp(hit[1], p))))
				states[i].shared |= 1u << h;
		}
	}
	return 0;
}

static double rate(const struct vm_state *st, const struct reading *rd, enum ctr i, double dt_sec)
{
	uint64_t bit = 1ULL << i;

	if (!(rd->have & bit) || !(st->prev_have & bit) || !(dt_sec > 0))
		return NAN;
	if (rd->v[i] < st->prev[i])
		return NAN; /* counter reset: restarted VM, re-created device */
	return (double)(rd->v[i] - st->prev[i]) / dt_sec;
}

/* Stalled microseconds per second as a share of the interval, at most 1. */
static double stall_share(double usec_per_sec)
{
	double v = usec_per_sec / 1e6;

	return v > 1.0 ? 1.0 : v;
}

static void choose(double *field, uint32_t *sources, double v, enum collect_source src)
{
	if (isnan(*field) && !isnan(v)) {
		*field = v;
		*sources |= 1u << src;
	}
}

/* All four disk rates from one source, or nothing from it. */
static void choose_disk(struct collect_sample *s, const double *rd_bps, const double *wr_bps,
			const double *rd_iops, const double *wr_iops, enum collect_source src)
{
	if (!isnan(s->disk_rd_bps) || isnan(*rd_bps) || isnan(*wr_bps) || isnan(*rd_iops) ||
	    isnan(*wr_iops))
		return;
	s->disk_rd_bps = *rd_bps;
	s->disk_wr_bps = *wr_bps;
	s->disk_rd_iops = *rd_iops;
	s->disk_wr_iops = *wr_iops;
	s->sources |= 1u << src;
}

static void build_sample(const struct vm_state *st, const struct reading *rd, double dt_sec,
			 struct collect_sample *s)
{
	double r[NR_CTRS];
	uint32_t *src = &s->sources;

	for (int i = 0; i < NR_CTRS; i++)
		r[i] = rate(st, rd, (enum ctr)i, dt_sec);

	choose(&s->cpu_cores, src, r[CTR_BPF_CPU_NS] / 1e9, COLLECT_SRC_BPF);
	choose(&s->cpu_cores, src, r[CTR_V2_CPU_USEC] / 1e6, COLLECT_SRC_CGROUP_V2);
	choose(&s->cpu_cores, src, r[CTR_V1_CPU_NS] / 1e9, COLLECT_SRC_CGROUP_V1);
	choose(&s->cpu_cores, src, r[CTR_LV_CPU_NS] / 1e9, COLLECT_SRC_LIBVIRT);

	choose(&s->cpu_steal_cores, src, r[CTR_BPF_VCPU_WAIT_NS] / 1e9, COLLECT_SRC_BPF);
	choose(&s->cpu_steal_cores, src, r[CTR_PROC_WAIT_NS] / 1e9, COLLECT_SRC_PROCFS);
	if (!rd->sched_info_off)
		choose(&s->cpu_steal_cores, src, r[CTR_LV_DELAY_NS] / 1e9, COLLECT_SRC_LIBVIRT);

	choose(&s->mem_bytes, src, rd->mem_v2, COLLECT_SRC_CGROUP_V2);
	choose(&s->mem_bytes, src, rd->mem_v1, COLLECT_SRC_CGROUP_V1);
	choose(&s->mem_bytes, src, rd->mem_lv, COLLECT_SRC_LIBVIRT);

	/*
	 * Disk fields switch source together so that bytes and operations
	 * describe the same I/O: a source gives all four or none. libvirt comes
	 * last and per field (it measures the guest's block devices, not the
	 * host's I/O, so any of its fields beats no value).
	 */
	choose_disk(s, &r[CTR_BPF_RD_BYTES], &r[CTR_BPF_WR_BYTES], &r[CTR_BPF_RD_OPS],
		    &r[CTR_BPF_WR_OPS], COLLECT_SRC_BPF);
	choose_disk(s, &r[CTR_V2_RD_BYTES], &r[CTR_V2_WR_BYTES], &r[CTR_V2_RD_IOS],
		    &r[CTR_V2_WR_IOS], COLLECT_SRC_CGROUP_V2);
	choose_disk(s, &r[CTR_V1_RD_BYTES], &r[CTR_V1_WR_BYTES], &r[CTR_V1_RD_IOS],
		    &r[CTR_V1_WR_IOS], COLLECT_SRC_CGROUP_V1);
	if (isnan(s->disk_rd_bps)) {
		choose(&s->disk_rd_bps, src, r[CTR_LV_RD_BYTES], COLLECT_SRC_LIBVIRT);
		choose(&s->disk_wr_bps, src, r[CTR_LV_WR_BYTES], COLLECT_SRC_LIBVIRT);
		choose(&s->disk_rd_iops, src, r[CTR_LV_RD_REQS], COLLECT_SRC_LIBVIRT);
		choose(&s->disk_wr_iops, src, r[CTR_LV_WR_REQS], COLLECT_SRC_LIBVIRT);
	}

	choose(&s->net_rx_bps, src, r[CTR_BPF_NET_RX_BYTES], COLLECT_SRC_BPF);
	choose(&s->net_tx_bps, src, r[CTR_BPF_NET_TX_BYTES], COLLECT_SRC_BPF);
	choose(&s->net_rx_bps, src, r[CTR_NL_GUEST_RX_BYTES], COLLECT_SRC_NETLINK);
	choose(&s->net_tx_bps, src, r[CTR_NL_GUEST_TX_BYTES], COLLECT_SRC_NETLINK);
	choose(&s->net_rx_bps, src, r[CTR_LV_NET_RX_BYTES], COLLECT_SRC_LIBVIRT);
	choose(&s->net_tx_bps, src, r[CTR_LV_NET_TX_BYTES], COLLECT_SRC_LIBVIRT);

	choose(&s->cpu_pressure_some, src, rd->psi_cpu, COLLECT_SRC_CGROUP_V2);
	choose(&s->mem_pressure_some, src, rd->psi_mem, COLLECT_SRC_CGROUP_V2);
	choose(&s->io_pressure_some, src, rd->psi_io, COLLECT_SRC_CGROUP_V2);
	choose(&s->cpu_stall_share, src, stall_share(r[CTR_V2_PSI_CPU_USEC]),
	       COLLECT_SRC_CGROUP_V2);
	choose(&s->mem_stall_share, src, stall_share(r[CTR_V2_PSI_MEM_USEC]),
	       COLLECT_SRC_CGROUP_V2);
	choose(&s->io_stall_share, src, stall_share(r[CTR_V2_PSI_IO_USEC]), COLLECT_SRC_CGROUP_V2);

	choose(&s->cpu_preempt_ps, src, r[CTR_BPF_PREEMPTS], COLLECT_SRC_BPF);
	choose(&s->kvm_exits_ps, src, r[CTR_BPF_KVM_EXITS], COLLECT_SRC_BPF);
	choose(&s->mem_faults_ps, src, r[CTR_BPF_FAULTS], COLLECT_SRC_BPF);
	choose(&s->mem_reclaim_stall, src, r[CTR_BPF_RECLAIM_NS] / 1e9, COLLECT_SRC_BPF);
}

static void sample_init(struct collect_sample *s, const struct hv_vm *vm, uint64_t now_usec)
{
	memset(s, 0, sizeof(*s));
	memcpy(s->uuid, vm->uuid, HV_UUID_LEN);
	s->uuid[HV_UUID_LEN] = '\0';
	s->t_usec = now_usec;
	s->wall_usec = util_realtime_usec();
	s->cpu_cores = s->cpu_steal_cores = s->mem_bytes = NAN;
	s->disk_rd_bps = s->disk_wr_bps = s->disk_rd_iops = s->disk_wr_iops = NAN;
	s->net_rx_bps = s->net_tx_bps = NAN;
	s->cpu_pressure_some = s->mem_pressure_some = s->io_pressure_some = NAN;
	s->cpu_stall_share = s->mem_stall_share = s->io_stall_share = NAN;
	s->cpu_preempt_ps = s->kvm_exits_ps = s->mem_faults_ps = s->mem_reclaim_stall = NAN;
}

static bool uuid_eq(const char *a, const char *b)
{
	return strncmp(a, b, HV_UUID_LEN + 1) == 0;
}

static const struct hv_vm_stats *find_stats(const struct hv_vm *vm, size_t index,
					    const struct hv_vm_stats *stats, size_t n_stats)
{
	if (!stats)
		return NULL;
	if (index < n_stats && uuid_eq(stats[index].uuid, vm->uuid))
		return &stats[index];
	for (size_t i = 0; i < n_stats; i++)
		if (uuid_eq(stats[i].uuid, vm->uuid))
			return &stats[i];
	return NULL;
}

static const struct vm_state *find_state(const struct collect *c, const struct hv_vm *vm,
					 size_t index)
{
	if (index < c->n_states && uuid_eq(c->states[index].uuid, vm->uuid))
		return &c->states[index];
	for (size_t i = 0; i < c->n_states; i++)
		if (uuid_eq(c->states[i].uuid, vm->uuid))
			return &c->states[i];
	return NULL;
}

/*
 * Whether all of the VM's taps exist now, and a hash of their ifindexes: a
 * tap that appears, vanishes or is re-created changes the VM list's identity
 * so that the BPF side is told again.
 */
static bool taps_resolve(const struct collect *c, const struct hv_vm *vm, bool nl_ok,
			 uint64_t *ret_hash)
{
	uint32_t n = vm->nr_taps < HV_MAX_NICS ? vm->nr_taps : HV_MAX_NICS;
	uint64_t h = FNV_OFFSET;
	bool all = true;

	for (uint32_t i = 0; i < n; i++) {
		const struct collect_nl_link *l;
		char name[HV_IFNAME_MAX + 1];
		int32_t ifindex = 0;

		memcpy(name, vm->taps[i], HV_IFNAME_MAX);
		name[HV_IFNAME_MAX] = '\0';
		if (nl_ok && collect_nl_lookup(c->nl, name, &l) >= 0)
			ifindex = l->ifindex;
		else if (!nl_ok)
			ifindex = (int32_t)if_nametoindex(name);
		if (ifindex <= 0)
			all = false;
		h = fnv1a(h, &ifindex, sizeof(ifindex));
	}
	*ret_hash = h;
	return all;
}

/* Identity of the whole VM list: when it changes, BPF is told and sharing recomputed. */
static uint64_t vm_set_hash(const struct collect *c, const struct hv_vm *vms, size_t n, bool nl_ok)
{
	uint64_t h = fnv1a(FNV_OFFSET, &n, sizeof(n));

	for (size_t i = 0; i < n; i++) {
		uint32_t nt =
			vms[i].nr_vcpu_tids < HV_MAX_VCPUS ? vms[i].nr_vcpu_tids : HV_MAX_VCPUS;

		uint64_t ident;

		h = fnv1a(h, vms[i].uuid, HV_UUID_LEN);
		h = fnv1a(h, vms[i].vcpu_tids, nt * sizeof(vms[i].vcpu_tids[0]));
		h = fnv1a(h, vms[i].taps, sizeof(vms[i].taps));
		h = fnv1a(h, &vms[i].nr_taps, sizeof(vms[i].nr_taps));
		ident = vm_ident_hash(&vms[i]); /* pid and cgroup paths */
		h = fnv1a(h, &ident, sizeof(ident));
		if (c->bpf) {
			uint64_t taps;

			(void)taps_resolve(c, &vms[i], nl_ok, &taps);
			h = fnv1a(h, &taps, sizeof(taps));
		}
	}
	return h;
}

static bool file_exists(const char *dir, const char *sub, const char *file)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s%s%s/%s", dir, sub[0] ? "/" : "", sub, file);

	return n > 0 && (size_t)n < sizeof(path) && access(path, F_OK) == 0;
}

static void probe_mount(struct collect *c, enum collect_hier h, const char *const *subdirs,
			size_t n, const char *marker)
{
	for (size_t i = 0; i < n; i++) {
		struct collect_mount *m = &c->mounts[h];
		int r;

		if (!file_exists(c->cgroup_root, subdirs[i], marker))
			continue;
		r = snprintf(m->mount_point, sizeof(m->mount_point), "%s%s%s", c->cgroup_root,
			     subdirs[i][0] ? "/" : "", subdirs[i]);
		if (r < 0 || (size_t)r >= sizeof(m->mount_point)) {
			m->mount_point[0] = '\0';
			continue;
		}
		strcpy(m->root, "/");
		return;
	}
}

/*
 * Finds each hierarchy: from <proc_root>/self/mountinfo (mounts under
 * cgroup_root when one was configured), else by probing cgroup_root for the
 * usual layouts, which is also how tests point the collector at fixture trees.
 */
static void collect_mounts_discover(struct collect *c)
{
	static const char *const v2_dirs[] = { "", "unified" };
	static const char *const cpuacct_dirs[] = { "cpuacct", "cpu,cpuacct", "cpuacct,cpu" };
	static const char *const memory_dirs[] = { "memory" };
	static const char *const blkio_dirs[] = { "blkio" };
	_cleanup_free_ char *buf = NULL;
	char path[PATH_MAX];
	size_t len;
	int r;

	memset(c->mounts, 0, sizeof(c->mounts));
	r = snprintf(path, sizeof(path), "%s/self/mountinfo", c->proc_root);
	if (r > 0 && (size_t)r < sizeof(path)) {
		r = util_file_read(path, 4 * 1024 * 1024, &buf, &len);
		if (r >= 0)
			r = collect_parse_mountinfo(
				buf, len, c->cgroup_root_given ? c->cgroup_root : NULL, c->mounts);
		if (r < 0) {
			log_debug_errno(r, "collect: cannot use '%s', probing '%s': %m", path,
					c->cgroup_root);
			memset(c->mounts, 0, sizeof(c->mounts));
		}
	}
	for (int h = 0; h < COLLECT_NR_HIERS; h++)
		if (c->mounts[h].mount_point[0])
			c->mounts_found = true;
	if (c->mounts_found)
		goto out;
	probe_mount(c, COLLECT_HIER_V2, v2_dirs, ARRAY_SIZE(v2_dirs), "cgroup.controllers");
	probe_mount(c, COLLECT_HIER_CPUACCT, cpuacct_dirs, ARRAY_SIZE(cpuacct_dirs),
		    "cpuacct.usage");
	probe_mount(c, COLLECT_HIER_MEMORY, memory_dirs, ARRAY_SIZE(memory_dirs),
		    "memory.usage_in_bytes");
	probe_mount(c, COLLECT_HIER_BLKIO, blkio_dirs, ARRAY_SIZE(blkio_dirs),
		    "blkio.throttle.io_service_bytes_recursive");
	for (int h = 0; h < COLLECT_NR_HIERS; h++)
		if (c->mounts[h].mount_point[0])
			c->mounts_found = true;
out:
	for (int h = 0; h < COLLECT_NR_HIERS; h++)
		log_debug("collect: hierarchy %d at '%s' (root '%s')", h, c->mounts[h].mount_point,
			  c->mounts[h].root);
}

void collect_free(struct collect *c)
{
	if (!c)
		return;
	collect_nl_close(c->nl);
	if (c->bpf)
		collect_bpf_close(c->bpf);
	free(c->states);
	free(c->cgroup_root);
	free(c->proc_root);
	free(c);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct collect *, collect_free);

static char *dup_path(const char *s, const char *def)
{
	char *d = strdup(s && *s ? s : def);
	size_t n;

	if (!d)
		return NULL;
	/* "/x/" and "/x" name the same tree; keep "/" itself. */
	n = strlen(d);
	while (n > 1 && d[n - 1] == '/')
		d[--n] = '\0';
	return d;
}

int collect_new(const struct collect_config *cfg, struct collect **ret)
{
	_cleanup_(collect_freep) struct collect *c = NULL;
	int r;

	if (!ret)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->cgroup_root = dup_path(cfg ? cfg->cgroup_root : NULL, "/sys/fs/cgroup");
	c->proc_root = dup_path(cfg ? cfg->proc_root : NULL, "/proc");
	if (!c->cgroup_root || !c->proc_root)
		return -ENOMEM;
	c->cgroup_root_given = cfg && cfg->cgroup_root && *cfg->cgroup_root;
	collect_mounts_discover(c);

	if (cfg && cfg->use_netlink) {
		r = collect_nl_open(&c->nl);
		if (r == -ENOMEM)
			return r;
		if (r < 0)
			log_debug_errno(r, "collect: no netlink link statistics, ignoring: %m");
	}
	if (cfg && cfg->use_bpf) {
		c->bpf_wanted = true;
		r = collect_bpf_open(&c->bpf);
		if (r == -ENOMEM)
			return r;
		if (r < 0) {
			/* -EOPNOTSUPP: not built or not loadable here; poll only. */
			log_debug_errno(r, "collect: BPF probes unavailable, polling only: %m");
			c->bpf = NULL;
		}
	}
	*ret = TAKE_PTR(c);
	return 0;
}

int collect_sample(struct collect *c, const struct hv_vm *vms, size_t n_vms,
		   const struct hv_vm_stats *stats, size_t n_stats, uint64_t now_usec,
		   struct collect_sample *ret_samples)
{
	_cleanup_free_ struct vm_state *states = NULL;
	bool nl_ok = false, any_taps = false;
	uint64_t set_hash;
	int r;

	if (!c || (n_vms && (!vms || !ret_samples)))
		return -EINVAL;
	if (!c->mounts_found)
		collect_mounts_discover(c);
	c->active = 0;
	if (n_vms) {
		states = calloc(n_vms, sizeof(*states));
		if (!states)
			return -ENOMEM;
	}
	for (size_t i = 0; i < n_vms; i++) {
		const struct vm_state *old = find_state(c, &vms[i], i);
		struct vm_state *st = &states[i];

		if (old && old->qemu_pid == vms[i].qemu_pid &&
		    old->ident_hash == vm_ident_hash(&vms[i])) {
			*st = *old;
		} else {
			/* New VM, or restarted/moved: forget its counters. */
			memcpy(st->uuid, vms[i].uuid, HV_UUID_LEN);
			st->qemu_pid = vms[i].qemu_pid;
			resolve_paths(c, st, &vms[i]);
		}
		if (vms[i].nr_taps)
			any_taps = true;
	}

	if (c->nl && any_taps) {
		r = collect_nl_refresh(c->nl);
		if (r < 0)
			log_debug_errno(r, "collect: cannot dump links, ignoring: %m");
		else {
			nl_ok = true;
			c->active |= 1u << COLLECT_SRC_NETLINK;
		}
	}

	set_hash = vm_set_hash(c, vms, n_vms, nl_ok);
	if (set_hash != c->set_hash || n_vms != c->n_states) {
		r = compute_shared(states, n_vms);
		if (r < 0)
			return r;
		if (c->bpf) {
			uint64_t unused;

			r = collect_bpf_set_vms(c->bpf, vms, n_vms);
			if (r < 0)
				log_debug_errno(
					r, "collect: cannot give the VMs to BPF, ignoring: %m");
			/* Its slots still describe the old set: read none, retry next tick. */
			c->bpf_stale = r < 0;
			/* BPF counts a tap's traffic only if the tap existed when it was told. */
			for (size_t i = 0; i < n_vms; i++)
				states[i].bpf_taps_ok =
					r >= 0 && taps_resolve(c, &vms[i], nl_ok, &unused);
		}
		if (!c->bpf_stale)
			c->set_hash = set_hash;
	} else {
		for (size_t i = 0; i < n_vms; i++) {
			states[i].shared = c->states[i].shared;
			states[i].bpf_taps_ok = c->states[i].bpf_taps_ok;
		}
	}

	for (size_t i = 0; i < n_vms; i++) {
		struct vm_state *st = &states[i];
		struct collect_sample *s = &ret_samples[i];
		struct reading rd = { .have = 0 };
		double dt_sec = NAN;

		rd.mem_v2 = rd.mem_v1 = rd.mem_lv = NAN;
		rd.psi_cpu = rd.psi_mem = rd.psi_io = NAN;
		if (c->bpf && !c->bpf_stale)
			read_bpf(c, st, &vms[i], i, &rd);
		read_cgroup_v2(c, st, &vms[i], &rd);
		read_cgroup_v1(c, st, &vms[i], &rd);
		/* One file per vCPU: skip them while BPF measures the same wait. */
		if (!(rd.have & (1ULL << CTR_BPF_VCPU_WAIT_NS)))
			read_schedstat(c, st, &vms[i], &rd);
		if (nl_ok)
			read_netlink(c, st, &vms[i], &rd);
		read_libvirt(c, find_stats(&vms[i], i, stats, n_stats), &rd);

		if (st->prev_t_usec && now_usec > st->prev_t_usec)
			dt_sec = (double)(now_usec - st->prev_t_usec) / (double)USEC_PER_SEC;
		sample_init(s, &vms[i], now_usec);
		build_sample(st, &rd, dt_sec, s);

		memcpy(st->prev, rd.v, sizeof(st->prev));
		st->prev_have = rd.have;
		st->prev_t_usec = now_usec;
	}

	free(c->states);
	c->states = TAKE_PTR(states);
	c->n_states = n_vms;
	return 0;
}

uint32_t collect_sources_active(const struct collect *c)
{
	return c ? c->active : 0;
}

const char *collect_bpf_describe(const struct collect *c)
{
	if (!c || !c->bpf_wanted)
		return "BPF probes not used (disabled in the configuration)";
	/* With b == NULL the BPF side says why the last open failed. */
	return collect_bpf_status(c->bpf);
}
