// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Applies what a VM's lease holds, through the owner of each knob
 * (architecture.md "Who owns which knob"):
 *
 *   CPU cap      libvirt scheduler parameters (manager_vm_cpu_apply);
 *   pinning      libvirt vCPU and emulator pinning, to the cores the lease
 *                reserved, checked against machine.slice's effective CPUs;
 *   memory       protection of what the lease holds: on cgroup v2 memory.low
 *                of the VM's scope through systemd where it runs, of its
 *                cgroup directly where it does not, and machine.slice's
 *                memory.low raised to their sum (a child's protection is
 *                capped by its parent's); on cgroup v1, which has no
 *                protection, libvirt's soft limit (memory.soft_limit_in_bytes:
 *                reclaim goes to groups above theirs first);
 *   bandwidth    HTB classes on the uplink (manager_net.c, opt-in);
 *   disk         the VM's block I/O weight through libvirt (manager_disk.c);
 *   hugepages    pools grown ahead of the leases, hugetlb limits on cgroup v2
 *                (manager_hugepages.c).
 *
 * In dry-run every change is logged and none is made. A failure is logged
 * with what to do, kept in the VM's state, and retried next step.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cleanup.h"
#include "enforce.h"
#include "log.h"
#include "manager.h"
#include "util.h"

#define PROTECT_PAGE_BYTES   4096.0
#define PROTECT_CHANGE_RATIO 0.05
/* Below this a change of protection is not worth a write. */
#define PROTECT_CHANGE_MIN_BYTES (16.0 * 1024 * 1024)

/*
 * What the VM's lease protects, in pages: a guaranteed VM's upper bound (held
 * whole), a burstable VM's mean (its share of the risk-pooled reservation),
 * nothing for best effort.
 */
static double vm_protect_bytes(const struct manager *m, const struct manager_vm *v)
{
	const struct pool_dim *pd = manager_alloc_pool_dim(m, STATE_ALLOC_MEM);
	double b;

	if (!pd || !v->alloc.in_lease[STATE_ALLOC_MEM] || v->alloc.refused)
		b = v->alloc.enforced[STATE_ALLOC_MEM]; /* keep what is in force */
	else if (v->alloc.cls == POOL_CLASS_BURSTABLE && pd->risk_bound > 0)
		b = v->alloc.held[STATE_ALLOC_MEM].mean; /* what the risk budget sets aside */
	else
		b = admit_item_held(pd, v->alloc.cls, &v->alloc.held[STATE_ALLOC_MEM]);
	if (!isfinite(b) || b < 0)
		return NAN;
	return floor(b / PROTECT_PAGE_BYTES) * PROTECT_PAGE_BYTES;
}

static bool protect_changed(double now, double want)
{
	if (!isfinite(now))
		return true;
	return fabs(want - now) > fmax(PROTECT_CHANGE_MIN_BYTES, PROTECT_CHANGE_RATIO * now);
}

/*
 * The systemd unit and cgroup that hold a VM's whole memory on cgroup v2:
 * the scope (".../machine-qemu\x2d1\x2dvm.scope") under systemd, libvirt's
 * VM directory ("/machine/qemu-1-vm.libvirt-qemu") without it.
 */
static int vm_memory_target(const struct manager_vm *v, char *unit, size_t unit_size, char *path,
			    size_t path_size)
{
	const char *scope;
	size_t len;

	if (!v->id.cgroup_v2[0])
		return -ENOENT;
	if (util_strlcpy(path, v->id.cgroup_v2, path_size) < 0)
		return -ENAMETOOLONG;
	unit[0] = '\0';
	scope = strstr(path, ".scope");
	if (scope) {
		len = (size_t)(scope - path) + strlen(".scope");
		path[len] = '\0';
		return enforce_systemd_unit_from_cgroup(path, unit, unit_size);
	}
	len = strlen(path);
	if (len > 1 && path[len - 1] == '/')
		path[len - 1] = '\0';
	if (len > 8 && !strcmp(path + strlen(path) - 8, "/libvirt"))
		path[strlen(path) - 8] = '\0';
	return 0;
}

static int mem_protect_v2(const struct manager *m, const struct manager_vm *v, double bytes,
			  const char **ret_how)
{
	char unit[256], path[HV_CGROUP_MAX];
	struct enforce_memory_limits lim = { .mask = 1u << ENFORCE_MEMORY_LOW };
	struct enforce_memory_target t = { .unit = unit, .cgroup_root = m->cfg.cgroup_root };
	bool via_systemd = false;
	int r;

	r = vm_memory_target(v, unit, sizeof(unit), path, sizeof(path));
	if (r < 0)
		return r;
	t.cgroup_path = path;
	if (!unit[0])
		t.unit = NULL;
	lim.bytes[ENFORCE_MEMORY_LOW] = (uint64_t)bytes;
	r = enforce_memory_limits_apply(&t, &lim, &via_systemd);
	*ret_how = via_systemd ? "systemd MemoryLow" : "memory.low";
	return r;
}

static void vm_mem_enforce(struct manager *m, struct manager_vm *v)
{
	struct manager_vm_alloc *a = &v->alloc;
	double want = m->cfg.mem_manage ? vm_protect_bytes(m, v) : 0;
	const char *how = "";
	int r;

	if (!isfinite(want) || !protect_changed(a->enforced[STATE_ALLOC_MEM], want))
		return;
	if (!m->cfg.mem_manage && !isfinite(a->enforced[STATE_ALLOC_MEM]))
		return; /* never protected: nothing to undo */
	if (m->cfg.dry_run) {
		if (protect_changed(a->dry_enforced[STATE_ALLOC_MEM], want))
			log_info("alloc: dry-run: would protect %.0f MiB of %s's memory",
				 want / 1048576, v->id.name);
		a->dry_enforced[STATE_ALLOC_MEM] = want;
		a->enforced_how[STATE_ALLOC_MEM] = "dry-run";
		return;
	}
	a->dry_enforced[STATE_ALLOC_MEM] = NAN;
	if (v->id.cgroup_memory[0]) {
		/*
		 * cgroup v1: no protection file; libvirt's soft limit is the
		 * nearest (reclaim takes from groups above theirs first). Best
		 * effort gets one page: it is reclaimed first, not last. The
		 * operator's hard limit is left as it is.
		 */
		r = enforce_mem_tune_apply(m->hv_ops, m->hv, &v->id,
					   want > 0 ? (uint64_t)want : (uint64_t)PROTECT_PAGE_BYTES,
					   0, false);
		how = "libvirt soft_limit (v1)";
	} else {
		r = mem_protect_v2(m, v, want, &how);
	}
	a->enforce_error[STATE_ALLOC_MEM] = r < 0 ? r : 0;
	if (r < 0) {
		log_warning_errno(r,
				  "alloc: cannot protect %.0f MiB of %s's memory: %m; retrying "
				  "next step",
				  want / 1048576, v->id.name);
		return;
	}
	log_info("alloc: %s's memory protection %.0f -> %.0f MiB (%s)", v->id.name,
		 isfinite(a->enforced[STATE_ALLOC_MEM]) ? a->enforced[STATE_ALLOC_MEM] / 1048576
							: 0,
		 want / 1048576, how);
	a->enforced[STATE_ALLOC_MEM] = want;
	a->enforced_how[STATE_ALLOC_MEM] = how;
}

static void cpuset_to_enforce(const struct pool_cpuset *p, struct enforce_cpuset *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (uint32_t c = 0; c < POOL_MAX_CPUS; c++)
		if (pool_cpuset_test(p, c))
			enforce_cpuset_add(ret, c);
}

static void vm_pin_enforce(struct manager *m, struct manager_vm *v)
{
	struct manager_vm_alloc *a = &v->alloc;
	struct enforce_cpuset cores, effective;
	char list[128] = "";
	int r;

	if (!a->pin_want || !pool_cpuset_count(&a->pinned) || a->refused ||
	    !pool_cpuset_is_subset(&a->pinned, &a->booked_pinned) ||
	    (a->pin_applied && !a->pin_reapply))
		return;
	if (m->cfg.dry_run && a->pin_dry_logged)
		return;
	cpuset_to_enforce(&a->pinned, &cores);
	cpuset_to_enforce(&m->ledger_pool.machine_cpus, &effective);
	pool_cpuset_format(&a->pinned, list, sizeof(list));
	r = enforce_pin_apply(m->hv_ops, m->hv, &v->id, &cores, &effective, m->cfg.dry_run);
	a->pin_error = r < 0 ? r : 0;
	if (r < 0) {
		log_warning_errno(r, "alloc: cannot pin %s to cores %s: %m; retrying next step",
				  v->id.name, list);
		return;
	}
	a->pin_dry_logged = m->cfg.dry_run;
	if (m->cfg.dry_run)
		return;
	log_info("alloc: %s pinned to its reserved cores %s", v->id.name, list);
	a->pin_applied = true;
	a->pin_reapply = false;
	a->isolated = false;
}

static int vm_pin_all(struct manager *m, const struct manager_vm *v, const struct pool_cpuset *set)
{
	struct hv_cpumap map = { 0 };
	int r = 0;

	for (uint32_t c = 0; c < POOL_MAX_CPUS && c < HV_CPUMAP_WORDS * 64; c++)
		if (pool_cpuset_test(set, c))
			hv_cpumap_set(&map, c);
	if (!m->hv || !m->hv_ops->pin_vcpu || !m->hv_ops->pin_emulator)
		return -ENOTCONN;
	for (uint32_t i = 0; r >= 0 && i < v->id.nr_vcpus; i++)
		r = m->hv_ops->pin_vcpu(m->hv, v->id.uuid, i, &map);
	if (r >= 0)
		r = m->hv_ops->pin_emulator(m->hv, v->id.uuid, &map);
	return r;
}

/*
 * pin = no for a VM prescient pinned: its vCPUs and emulator float over
 * machine.slice's CPUs again, as libvirt starts an unpinned VM.
 */
static void vm_unpin(struct manager *m, struct manager_vm *v)
{
	struct manager_vm_alloc *a = &v->alloc;
	int r;

	if (a->pin_want || !a->pin_applied)
		return;
	if (m->cfg.dry_run) {
		log_info("alloc: dry-run: would unpin %s", v->id.name);
		return;
	}
	r = vm_pin_all(m, v, &m->ledger_pool.machine_cpus);
	if (r < 0) {
		log_warning_errno(r, "alloc: cannot unpin %s: %m; retrying next step", v->id.name);
		return;
	}
	log_info("alloc: %s unpinned (pin = no): it runs on machine.slice's CPUs", v->id.name);
	a->pin_applied = false;
	memset(&a->pinned, 0, sizeof(a->pinned));
}

void manager_vm_enforce(struct manager *m, struct manager_vm *v, uint64_t now_usec)
{
	manager_vm_cpu_apply(m, v, now_usec);
	if (!m->ledger)
		return;
	vm_mem_enforce(m, v);
	manager_net_enforce(m, v);
	manager_disk_enforce(m, v);
	vm_pin_enforce(m, v);
	vm_unpin(m, v);
}

/*
 * The parent of the VMs' memory cgroups: machine.slice under systemd, the
 * directory above libvirt's VM directories without it. Every VM's
 * protection is capped by this one's, so it gets their sum.
 */
void manager_machine_protect(struct manager *m)
{
	struct enforce_memory_limits lim = { .mask = 1u << ENFORCE_MEMORY_LOW };
	struct enforce_memory_target t = { .cgroup_root = m->cfg.cgroup_root };
	char unit[256], path[HV_CGROUP_MAX];
	const struct manager_vm *any = NULL;
	double sum = 0;
	bool via_systemd;
	char *slash;
	int r;

	if (!m->ledger || m->cfg.dry_run)
		return;
	if (!m->cfg.mem_manage && !isfinite(m->machine_protect_bytes))
		return; /* never set: nothing to undo */
	for (size_t i = 0; i < m->n_vms; i++) {
		const struct manager_vm *v = m->vms[i];

		if (v->id.cgroup_memory[0] || !v->id.cgroup_v2[0])
			continue; /* cgroup v1 or unknown: no parent protection to give */
		if (m->cfg.mem_manage && isfinite(v->alloc.enforced[STATE_ALLOC_MEM]))
			sum += v->alloc.enforced[STATE_ALLOC_MEM];
		any = v;
	}
	/* Raised at once (a child's protection counts only up to it), lowered with hysteresis. */
	if (!any || (isfinite(m->machine_protect_bytes) && sum <= m->machine_protect_bytes &&
		     !protect_changed(m->machine_protect_bytes, sum)))
		return;
	if (vm_memory_target(any, unit, sizeof(unit), path, sizeof(path)) < 0)
		return;
	slash = strrchr(path, '/');
	if (!slash || slash == path)
		return;
	*slash = '\0';
	t.cgroup_path = path;
	t.unit = strstr(path, ".slice") ? "machine.slice" : NULL;
	lim.bytes[ENFORCE_MEMORY_LOW] = (uint64_t)sum;
	r = enforce_memory_limits_apply(&t, &lim, &via_systemd);
	if (r < 0) {
		log_warning_errno(r,
				  "alloc: cannot raise the memory protection of %s to %.0f MiB: "
				  "%m; the VMs' own protection is capped by it",
				  path, sum / 1048576);
		return;
	}
	log_info("alloc: memory protection of %s set to %.0f MiB, the sum of its VMs'", path,
		 sum / 1048576);
	m->machine_protect_bytes = sum;
}

/* The cores leases pinned, as the ledger holds them. */
static int pinned_cores(struct manager *m, struct pool_cpuset *ret)
{
	_cleanup_free_ struct lease *leases = NULL;
	size_t n = 0;
	uint64_t g;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = ledger_leases_get(m->ledger, &leases, &n, &g);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++)
		if (leases[i].state <= LEASE_ACTIVE)
			pool_cpuset_or(ret, &leases[i].admit.pinned);
	return 0;
}

/*
 * Pinned cores are never overcommitted: every VM that is not pinned itself
 * runs on machine.slice's CPUs minus the cores pinned VMs reserved, set
 * again whenever that set changes. When no core is pinned any more, the
 * VMs prescient confined float over machine.slice's CPUs again.
 */
void manager_pin_isolate(struct manager *m)
{
	struct pool_cpuset pinned, allowed;
	char list[128] = "";

	if (!m->ledger || pinned_cores(m, &pinned) < 0)
		return;
	allowed = m->ledger_pool.machine_cpus;
	for (uint32_t w = 0; w < POOL_CPUSET_WORDS; w++)
		allowed.bits[w] &= ~pinned.bits[w];
	if (!pool_cpuset_count(&allowed))
		return; /* every core pinned: leave the others where they are, said by admission */
	pool_cpuset_format(&allowed, list, sizeof(list));
	for (size_t i = 0; i < m->n_vms; i++) {
		struct manager_vm *v = m->vms[i];
		struct manager_vm_alloc *a = &v->alloc;
		bool confine = pool_cpuset_count(&pinned) > 0;
		int r;

		if (a->pin_want || a->pin_applied || v->id.nr_vcpus == 0)
			continue;
		if (confine ? (a->isolated && !memcmp(&a->isolated_to, &allowed, sizeof(allowed)))
			    : !a->isolated)
			continue;
		if (m->cfg.dry_run) {
			if (!a->pin_dry_logged)
				log_info("alloc: dry-run: would keep %s on cores %s", v->id.name,
					 confine ? list : "of machine.slice");
			a->pin_dry_logged = true;
			continue;
		}
		r = vm_pin_all(m, v, confine ? &allowed : &m->ledger_pool.machine_cpus);
		if (r < 0) {
			log_warning_errno(r,
					  "alloc: cannot keep %s off the pinned cores: %m; "
					  "retrying next step",
					  v->id.name);
			continue;
		}
		a->isolated = confine;
		a->isolated_to = allowed;
		log_info("alloc: %s runs on cores %s%s", v->id.name,
			 confine ? list : "of machine.slice",
			 confine ? " (kept off the cores pinned VMs reserved)" : "");
	}
}
