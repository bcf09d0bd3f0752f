// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hugepage pools grown ahead of need, and the VMs' hugetlb limits.
 *
 * The host pool counts, on each hugepage dimension, the pages the kernel
 * holds plus the pages its node could still make (host_pool.h), so admission
 * may grant pages that do not exist yet. Once a forecast step, after booking,
 * this file makes them: per dimension, the pages live leases hold (offered,
 * confirmed or active: an incoming migration's offer must find its pages)
 * are compared with nr_hugepages, the node's pool is raised to cover them and
 * what the kernel delivered is read back. When leases end, only the pages
 * this daemon added are given back, and only those free now: pages an
 * administrator reserved at boot or by hand are never touched. How many it
 * added per dimension survives restarts in <state_dir>/hugepages.state,
 * written atomically, and so do the hugetlb limits it set (so that a limit is
 * lifted again when the lease no longer holds pages of that size).
 *
 * hugetlb limits: a VM whose lease holds hugepages gets hugetlb.<size>.max of
 * its cgroup v2 directory set to what the lease holds of that size (summed
 * over nodes). cgroupfs is written directly because nobody else manages
 * hugetlb.* (architecture.md). Only where the VM has a cgroup v2 directory
 * and the hugetlb controller is enabled there; otherwise the VM is skipped and
 * the reason logged once. Sizes its lease holds nothing of are left alone:
 * VMs' leases do not always book their hugepage backing, and a limit of 0
 * would kill a VM at its next fault.
 *
 * [alloc] hugepages_manage = no: nothing here runs. Dry-run: every change is
 * logged, none is made, nothing is recorded. Nothing is written when nothing
 * changes.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "enforce.h"
#include "log.h"
#include "manager.h"
#include "util.h"

#define HP_STATE_NAME  "hugepages.state"
#define HP_STATE_MAGIC "prescient-hugepages 1"
#define HP_STATE_MAX   (256 * 1024)
#define HP_SYS_ROOT    "/sys"
/* A lease's hold is a double; a hair above a whole page is rounding, not one more page. */
#define HP_PAGE_EPS 1e-6

/* What the daemon did to one dimension's pool. */
struct hp_dim_rec {
	char dim[POOL_NAME_MAX];
	uint64_t added;	       /* pages it added and has not given back */
	uint64_t short_warned; /* the shortfall last warned about, 0 when none */
};

/* A hugetlb limit set on a VM's cgroup, or the skip already logged. */
struct hp_limit_rec {
	char uuid[HV_UUID_LEN + 1];
	uint64_t page_kb;
	uint64_t bytes; /* the limit in force; unused when skipped */
	bool skipped;
};

struct hp_state {
	uint32_t n_dims;
	struct hp_dim_rec dims[POOL_MAX_DIMS];
	size_t n_limits, cap_limits;
	struct hp_limit_rec *limits;
	bool changed;
};

static void hp_state_done(struct hp_state *s)
{
	free(s->limits);
	s->limits = NULL;
	s->n_limits = s->cap_limits = 0;
}

static int state_path(const struct manager *m, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/" HP_STATE_NAME, m->cfg.state_dir);

	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static struct hp_dim_rec *dim_rec(struct hp_state *s, const char *dim, bool create)
{
	for (uint32_t i = 0; i < s->n_dims; i++)
		if (!strcmp(s->dims[i].dim, dim))
			return &s->dims[i];
	if (!create || s->n_dims >= POOL_MAX_DIMS)
		return NULL;
	s->dims[s->n_dims] = (struct hp_dim_rec){ 0 };
	util_strlcpy(s->dims[s->n_dims].dim, dim, sizeof(s->dims[0].dim));
	return &s->dims[s->n_dims++];
}

static struct hp_limit_rec *limit_rec(struct hp_state *s, const char *uuid, uint64_t page_kb)
{
	for (size_t i = 0; i < s->n_limits; i++)
		if (s->limits[i].page_kb == page_kb && !strcmp(s->limits[i].uuid, uuid))
			return &s->limits[i];
	return NULL;
}

static int limit_rec_add(struct hp_state *s, const struct hp_limit_rec *rec)
{
	if (s->n_limits == s->cap_limits) {
		size_t cap = s->cap_limits ? 2 * s->cap_limits : 16;
		struct hp_limit_rec *l = reallocarray(s->limits, cap, sizeof(*l));

		if (!l)
			return -ENOMEM;
		s->limits = l;
		s->cap_limits = cap;
	}
	s->limits[s->n_limits++] = *rec;
	return 0;
}

static void limit_rec_remove(struct hp_state *s, struct hp_limit_rec *rec)
{
	size_t i = (size_t)(rec - s->limits);

	memmove(&s->limits[i], &s->limits[i + 1], (s->n_limits - i - 1) * sizeof(*rec));
	s->n_limits--;
}

/* Splits line on blanks into at most max fields (modifies it); the field count. */
static size_t split(char *line, char **f, size_t max)
{
	char *save = NULL;
	size_t n = 0;

	for (char *t = strtok_r(line, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
		if (n == max)
			return max + 1;
		f[n++] = t;
	}
	return n;
}

/*
 * The state file: a magic line, then "dim NAME ADDED SHORT", "limit UUID
 * PAGE_KB BYTES" and "skip UUID PAGE_KB" lines. Our own file, but read
 * strictly: -EBADMSG on anything else.
 */
static int state_parse(char *text, struct hp_state *ret)
{
	struct hp_state s = { 0 };
	bool magic = false;
	char *save = NULL;
	int r = 0;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct hp_limit_rec lr = { 0 };
		struct hp_dim_rec *dr;
		uint64_t a, b;
		char *f[4];
		size_t n;

		if (!magic) {
			if (strcmp(line, HP_STATE_MAGIC))
				goto bad;
			magic = true;
			continue;
		}
		n = split(line, f, ARRAY_SIZE(f));
		if (n == 4 && !strcmp(f[0], "dim")) {
			if (strncmp(f[1], "hugepages-", 10) || strlen(f[1]) >= POOL_NAME_MAX ||
			    util_parse_u64(f[2], &a) < 0 || util_parse_u64(f[3], &b) < 0 ||
			    dim_rec(&s, f[1], false))
				goto bad;
			dr = dim_rec(&s, f[1], true);
			if (!dr)
				goto bad;
			dr->added = a;
			dr->short_warned = b;
		} else if ((n == 4 && !strcmp(f[0], "limit")) ||
			   (n == 3 && !strcmp(f[0], "skip"))) {
			if (!util_uuid_valid(f[1]) || util_parse_u64(f[2], &a) < 0 || a == 0 ||
			    (n == 4 && util_parse_u64(f[3], &b) < 0) || limit_rec(&s, f[1], a))
				goto bad;
			util_strlcpy(lr.uuid, f[1], sizeof(lr.uuid));
			lr.page_kb = a;
			lr.skipped = n == 3;
			lr.bytes = n == 4 ? b : 0;
			r = limit_rec_add(&s, &lr);
			if (r < 0)
				goto fail;
		} else {
			goto bad;
		}
	}
	if (!magic)
		goto bad;
	*ret = s;
	return 0;
bad:
	r = -EBADMSG;
fail:
	hp_state_done(&s);
	return r;
}

static int state_load(const struct manager *m, struct hp_state *ret)
{
	_cleanup_free_ char *text = NULL;
	char path[PATH_MAX];
	int r;

	r = state_path(m, path, sizeof(path));
	if (r < 0)
		return r;
	r = util_file_read(path, HP_STATE_MAX, &text, NULL);
	if (r == -ENOENT) {
		*ret = (struct hp_state){ 0 };
		return 0;
	}
	if (r < 0)
		return r;
	return state_parse(text, ret);
}

static int state_save(const struct manager *m, const struct hp_state *s)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char path[PATH_MAX];
	size_t len = 0;
	int r;

	r = state_path(m, path, sizeof(path));
	if (r < 0)
		return r;
	f = open_memstream(&buf, &len);
	if (!f)
		return -errno;
	fputs(HP_STATE_MAGIC "\n", f);
	for (uint32_t i = 0; i < s->n_dims; i++)
		if (s->dims[i].added || s->dims[i].short_warned)
			fprintf(f, "dim %s %" PRIu64 " %" PRIu64 "\n", s->dims[i].dim,
				s->dims[i].added, s->dims[i].short_warned);
	for (size_t i = 0; i < s->n_limits; i++) {
		const struct hp_limit_rec *l = &s->limits[i];

		if (l->skipped)
			fprintf(f, "skip %s %" PRIu64 "\n", l->uuid, l->page_kb);
		else
			fprintf(f, "limit %s %" PRIu64 " %" PRIu64 "\n", l->uuid, l->page_kb,
				l->bytes);
	}
	if (fflush(f) != 0 || ferror(f))
		return -ENOMEM;
	r = util_mkdir_p(m->cfg.state_dir, 0750);
	if (r < 0)
		return r;
	return util_file_write_atomic(path, buf, len);
}

/* The ledger's pool and leases at one generation, so item indices match the pool. */
static int ledger_snapshot(struct ledger *l, struct pool *ret_pool, struct lease **ret_leases,
			   size_t *ret_n)
{
	for (int tries = 0; tries < 3; tries++) {
		uint64_t g_pool, g_leases;
		struct lease *leases = NULL;
		size_t n = 0;
		int r;

		r = ledger_pool_get(l, ret_pool, &g_pool);
		if (r < 0)
			return r;
		r = ledger_leases_get(l, &leases, &n, &g_leases);
		if (r < 0)
			return r;
		if (g_pool == g_leases) {
			*ret_leases = leases;
			*ret_n = n;
			return 0;
		}
		free(leases);
	}
	return -ESTALE;
}

static bool lease_live(const struct lease *l)
{
	return l->state == LEASE_OFFERED || l->state == LEASE_CONFIRMED || l->state == LEASE_ACTIVE;
}

/* Whole pages a lease holds on each dimension of pool, added to need[]. */
static void lease_pages_add(const struct pool *pool, const struct lease *l, double *need)
{
	for (uint32_t i = 0; i < l->admit.n_items && i < ADMIT_MAX_ITEMS; i++) {
		const struct admit_item *it = &l->admit.items[i];
		double held;

		if (it->dim >= pool->n_dims || pool->dims[it->dim].kind != POOL_KIND_HUGEPAGES)
			continue;
		held = admit_item_held(&pool->dims[it->dim], l->admit.cls, &it->demand);
		if (isfinite(held) && held > 0)
			need[it->dim] += ceil(held - HP_PAGE_EPS);
	}
}

static void dim_sync(const struct manager *m, const char *sys_root, const struct pool_dim *d,
		     uint64_t need, struct hp_state *s)
{
	struct hp_dim_rec *rec = dim_rec(s, d->name, true);
	struct enforce_hugepages now;
	uint64_t target, got = 0, shortfall;
	char file[PATH_MAX];
	int r;

	snprintf(file, sizeof(file),
		 "%s/devices/system/node/node%u/hugepages/hugepages-%" PRIu64 "kB/nr_hugepages",
		 sys_root, d->node, d->page_kb);
	r = enforce_hugepages_read(sys_root, d->node, d->page_kb, &now);
	if (r < 0 || !rec) {
		if (need > 0 && r < 0)
			log_warning_errno(r,
					  "hugepages: cannot read %s: %m; leases hold %" PRIu64
					  " pages there, retrying next step",
					  file, need);
		return;
	}
	/* Someone shrank the pool below what we added: those pages are gone, not ours to give. */
	if (rec->added > now.nr) {
		rec->added = now.nr;
		s->changed = true;
	}
	if (need <= now.nr && rec->short_warned) {
		log_info("hugepages: %s now holds %" PRIu64
			 " pages, enough for its leases (%" PRIu64 ")",
			 d->name, now.nr, need);
		rec->short_warned = 0;
		s->changed = true;
	}
	target = host_pool_hugepages_target(need, now.nr, now.free, rec->added);
	if (target == now.nr)
		return;
	if (m->cfg.dry_run) {
		log_info("hugepages: dry-run: would %s %s from %" PRIu64 " to %" PRIu64
			 " pages (leases hold %" PRIu64 ")",
			 target > now.nr ? "grow" : "shrink", d->name, now.nr, target, need);
		return;
	}
	r = enforce_hugepages_set(sys_root, d->node, d->page_kb, target, &got);
	if (r < 0) {
		log_warning_errno(
			r, "hugepages: cannot write %" PRIu64 " to %s: %m; retrying next step",
			target, file);
		return;
	}
	if (got != now.nr) {
		if (got > now.nr)
			rec->added += got - now.nr;
		else
			rec->added -= now.nr - got < rec->added ? now.nr - got : rec->added;
		s->changed = true;
		log_info("hugepages: %s %" PRIu64 " -> %" PRIu64 " pages (asked %" PRIu64
			 ", leases hold %" PRIu64 ", %" PRIu64 " added by prescient)",
			 d->name, now.nr, got, target, need, rec->added);
	}
	if (target <= now.nr || got >= target)
		return;
	shortfall = target - got;
	if (shortfall == rec->short_warned)
		return;
	rec->short_warned = shortfall;
	s->changed = true;
	log_warning("hugepages: the kernel made only %" PRIu64 " of the %" PRIu64
		    " pages asked on %s: node %u has too little free memory, or too fragmented, "
		    "for %" PRIu64 " kB pages; leases hold %" PRIu64
		    " there. Compact it with 'echo 1 > "
		    "/proc/sys/vm/compact_memory' (prescient retries every step), or reserve "
		    "the pages at boot (hugepagesz=/hugepages= on the kernel command line)",
		    got > now.nr ? got - now.nr : 0, target - now.nr, d->name, d->node, d->page_kb,
		    need);
}

/*
 * The cgroup v2 mount under cgroup_root: the root itself on a unified host,
 * its "unified" directory on a hybrid one (systemd's layout); -ENOENT when
 * there is none.
 */
static int v2_root(const char *cgroup_root, char *buf, size_t size)
{
	char probe[PATH_MAX];

	snprintf(probe, sizeof(probe), "%s/cgroup.controllers", cgroup_root);
	if (access(probe, F_OK) == 0)
		return util_strlcpy(buf, cgroup_root, size);
	snprintf(probe, sizeof(probe), "%s/unified/cgroup.controllers", cgroup_root);
	if (access(probe, F_OK) == 0) {
		int n = snprintf(buf, size, "%s/unified", cgroup_root);

		return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
	}
	return -ENOENT;
}

/* 1 when hugetlb is in the cgroup's cgroup.controllers (its parent enabled it), else 0. */
static int hugetlb_enabled(const char *root, const char *path)
{
	_cleanup_free_ char *text = NULL;
	char file[PATH_MAX], *save = NULL;
	int n, r;

	while (*path == '/')
		path++;
	n = snprintf(file, sizeof(file), "%s/%s%scgroup.controllers", root, path, *path ? "/" : "");
	if (n < 0 || (size_t)n >= sizeof(file))
		return -ENAMETOOLONG;
	r = util_file_read(file, 4096, &text, NULL);
	if (r < 0)
		return r;
	for (char *t = strtok_r(text, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		if (!strcmp(t, "hugetlb"))
			return 1;
	return 0;
}

static void limit_skip(struct hp_state *s, const struct manager_vm *v, uint64_t page_kb,
		       uint64_t bytes, const char *why)
{
	struct hp_limit_rec *rec = limit_rec(s, v->id.uuid, page_kb);
	struct hp_limit_rec nr = { .page_kb = page_kb, .skipped = true };

	if (rec && rec->skipped)
		return;
	log_info("hugepages: %s's lease holds %" PRIu64 " MiB of %" PRIu64
		 " kB pages, no hugetlb limit set: %s",
		 v->id.name, bytes >> 20, page_kb, why);
	if (rec) {
		rec->skipped = true;
	} else {
		util_strlcpy(nr.uuid, v->id.uuid, sizeof(nr.uuid));
		limit_rec_add(s, &nr);
	}
	s->changed = true;
}

/* Sets (or lifts, bytes UINT64_MAX) hugetlb.<size>.max of the VM's cgroup; 0 or -errno. */
static int limit_write(const char *root, const struct manager_vm *v, uint64_t page_kb,
		       uint64_t bytes)
{
	_cleanup_(enforce_cgroup_freep) struct enforce_cgroup *cg = NULL;
	int r;

	r = enforce_cgroup_open(root, v->id.cgroup_v2, &cg);
	if (r < 0)
		return log_warning_errno(r, "hugepages: cannot open %s's cgroup %s%s: %m",
					 v->id.name, root, v->id.cgroup_v2);
	r = enforce_cgroup_hugetlb_max_set(cg, page_kb, bytes);
	if (r < 0)
		return log_warning_errno(r, "hugepages: cannot set %s of %s: %m%s%s%s",
					 cg->err_file, v->id.name, cg->err_detail[0] ? " (" : "",
					 cg->err_detail, cg->err_detail[0] ? ")" : "");
	return 0;
}

/* The limit in force in hugetlb.<size>.max of the VM's cgroup (UINT64_MAX: max); -errno. */
static int limit_read(const char *root, const struct manager_vm *v, uint64_t page_kb,
		      uint64_t *ret_bytes)
{
	_cleanup_free_ char *text = NULL;
	const char *path = v->id.cgroup_v2;
	char size[16], file[PATH_MAX];
	int n, r;

	r = enforce_hugetlb_size_name(page_kb, size, sizeof(size));
	if (r < 0)
		return r;
	while (*path == '/')
		path++;
	n = snprintf(file, sizeof(file), "%s/%s/hugetlb.%s.max", root, path, size);
	if (n < 0 || (size_t)n >= sizeof(file))
		return -ENAMETOOLONG;
	r = util_file_read(file, 64, &text, NULL);
	if (r < 0)
		return r;
	return enforce_limit_parse(text, ret_bytes);
}

static void vm_limit_sync(const struct manager *m, const char *root, int root_r,
			  const struct manager_vm *v, uint64_t page_kb, uint64_t bytes,
			  struct hp_state *s)
{
	struct hp_limit_rec *rec = limit_rec(s, v->id.uuid, page_kb);
	struct hp_limit_rec add = { .page_kb = page_kb, .bytes = bytes };
	uint64_t now;
	int r;

	if (bytes == 0) {
		/* Nothing held of this size: lift the limit we set, if any. */
		if (!rec)
			return;
		if (!rec->skipped) {
			if (m->cfg.dry_run) {
				log_info("hugepages: dry-run: would lift %s's hugetlb limit of "
					 "%" PRIu64 " kB pages",
					 v->id.name, page_kb);
				return;
			}
			if (limit_write(root, v, page_kb, UINT64_MAX) < 0)
				return;
			log_info("hugepages: %s's lease holds no %" PRIu64
				 " kB pages any more, its hugetlb limit lifted",
				 v->id.name, page_kb);
		}
		limit_rec_remove(s, rec);
		s->changed = true;
		return;
	}
	if (!v->id.cgroup_v2[0]) {
		limit_skip(s, v, page_kb, bytes,
			   "the VM has no cgroup v2 directory of its own (hugetlb is limited only "
			   "on cgroup v2)");
		return;
	}
	if (root_r < 0) {
		limit_skip(s, v, page_kb, bytes, "no cgroup v2 mount under [collect] cgroup_root");
		return;
	}
	r = hugetlb_enabled(root, v->id.cgroup_v2);
	if (r == 0) {
		limit_skip(s, v, page_kb, bytes,
			   "the hugetlb controller is not enabled for its cgroup (add hugetlb to "
			   "its parents' cgroup.subtree_control)");
		return;
	}
	if (r < 0) {
		log_debug_errno(r, "hugepages: cannot read %s's cgroup.controllers: %m",
				v->id.name);
		return;
	}
	/*
	 * The file, not the record, says what is in force: a VM restarted
	 * between two steps has a new cgroup without the limit.
	 */
	if (limit_read(root, v, page_kb, &now) == 0 && now == bytes) {
		if (rec && !rec->skipped && rec->bytes == bytes)
			return;
		if (rec) {
			rec->skipped = false;
			rec->bytes = bytes;
		} else {
			util_strlcpy(add.uuid, v->id.uuid, sizeof(add.uuid));
			limit_rec_add(s, &add);
		}
		s->changed = true;
		return;
	}
	if (m->cfg.dry_run) {
		log_info("hugepages: dry-run: would limit %s to %" PRIu64 " MiB of %" PRIu64
			 " kB pages",
			 v->id.name, bytes >> 20, page_kb);
		return;
	}
	if (limit_write(root, v, page_kb, bytes) < 0)
		return;
	log_info("hugepages: %s's hugetlb limit of %" PRIu64 " kB pages set to %" PRIu64
		 " MiB, what its lease holds",
		 v->id.name, page_kb, bytes >> 20);
	if (rec) {
		*rec = add;
		util_strlcpy(rec->uuid, v->id.uuid, sizeof(rec->uuid));
	} else {
		util_strlcpy(add.uuid, v->id.uuid, sizeof(add.uuid));
		limit_rec_add(s, &add);
	}
	s->changed = true;
}

static const struct manager_vm *vm_find(const struct manager *m, const char *uuid)
{
	for (size_t i = 0; i < m->n_vms; i++)
		if (!strcmp(m->vms[i]->id.uuid, uuid))
			return m->vms[i];
	return NULL;
}

/* The page sizes of pool's hugepage dimensions, each once; how many. */
static size_t page_sizes(const struct pool *pool, uint64_t *sizes, size_t max)
{
	size_t n = 0;

	for (uint32_t d = 0; d < pool->n_dims; d++) {
		size_t k;

		if (pool->dims[d].kind != POOL_KIND_HUGEPAGES)
			continue;
		for (k = 0; k < n && sizes[k] != pool->dims[d].page_kb; k++)
			;
		if (k == n && n < max)
			sizes[n++] = pool->dims[d].page_kb;
	}
	return n;
}

static void limits_sync(const struct manager *m, const struct pool *pool,
			const struct lease *leases, size_t n_leases, struct hp_state *s)
{
	uint64_t sizes[POOL_MAX_DIMS];
	size_t n_sizes = page_sizes(pool, sizes, ARRAY_SIZE(sizes));
	char root[PATH_MAX] = "";
	int root_r = v2_root(m->cfg.cgroup_root, root, sizeof(root));

	/* VMs gone from the host take their limits with their cgroups. */
	for (size_t i = 0; i < s->n_limits;) {
		if (!vm_find(m, s->limits[i].uuid)) {
			limit_rec_remove(s, &s->limits[i]);
			s->changed = true;
			continue;
		}
		i++;
	}
	for (size_t i = 0; i < m->n_vms; i++) {
		const struct manager_vm *v = m->vms[i];
		double pages[POOL_MAX_DIMS] = { 0 };

		for (size_t k = 0; k < n_leases; k++)
			if (lease_live(&leases[k]) && leases[k].holder_kind == LEASE_HOLDER_VM &&
			    !strcmp(leases[k].holder, v->id.uuid))
				lease_pages_add(pool, &leases[k], pages);
		for (size_t k = 0; k < n_sizes; k++) {
			uint64_t bytes = 0;

			for (uint32_t d = 0; d < pool->n_dims; d++)
				if (pool->dims[d].kind == POOL_KIND_HUGEPAGES &&
				    pool->dims[d].page_kb == sizes[k])
					bytes += (uint64_t)pages[d] * sizes[k] * 1024;
			vm_limit_sync(m, root, root_r, v, sizes[k], bytes, s);
		}
	}
}

void manager_hugepages_sync_root(struct manager *m, const char *sys_root)
{
	_cleanup_free_ struct lease *leases = NULL;
	_cleanup_free_ struct pool *pool = NULL;
	struct hp_state s = { 0 };
	double need[POOL_MAX_DIMS] = { 0 };
	size_t n_leases = 0;
	int r;

	if (!m->ledger || !m->cfg.hugepages_manage)
		return;
	pool = malloc(sizeof(*pool));
	if (!pool)
		return;
	r = ledger_snapshot(m->ledger, pool, &leases, &n_leases);
	if (r < 0) {
		log_warning_errno(r, "hugepages: cannot read the ledger: %m; retrying next step");
		return;
	}
	r = state_load(m, &s);
	if (r < 0) {
		/*
		 * Without the record every page counts as someone else's: pools
		 * still grow, nothing is given back until the record is rewritten.
		 */
		log_warning_errno(r,
				  "hugepages: cannot read %s/" HP_STATE_NAME ": %m; pages "
				  "prescient added earlier will not be given back",
				  m->cfg.state_dir);
		s = (struct hp_state){ .changed = r == -EBADMSG };
	}
	for (size_t k = 0; k < n_leases; k++)
		if (lease_live(&leases[k]))
			lease_pages_add(pool, &leases[k], need);
	for (uint32_t d = 0; d < pool->n_dims; d++)
		if (pool->dims[d].kind == POOL_KIND_HUGEPAGES)
			dim_sync(m, sys_root, &pool->dims[d], (uint64_t)need[d], &s);
	limits_sync(m, pool, leases, n_leases, &s);
	if (s.changed && !m->cfg.dry_run) {
		r = state_save(m, &s);
		if (r < 0)
			log_warning_errno(r,
					  "hugepages: cannot write %s/" HP_STATE_NAME
					  ": %m; pages added now may not be given back",
					  m->cfg.state_dir);
	}
	hp_state_done(&s);
}

void manager_hugepages_sync(struct manager *m)
{
	manager_hugepages_sync_root(m, HP_SYS_ROOT);
}

void manager_hugepages_pool_options(struct manager *m, struct host_pool_options *opt)
{
	struct hp_state s = { 0 };

	opt->n_hugepages_added = 0;
	if (!m->cfg.hugepages_manage || state_load(m, &s) < 0)
		return; /* sync says why, once a step */
	for (uint32_t i = 0; i < s.n_dims && opt->n_hugepages_added < POOL_MAX_DIMS; i++) {
		struct host_pool_hugepages_added *a = &opt->hugepages_added[opt->n_hugepages_added];

		if (!s.dims[i].added)
			continue;
		util_strlcpy(a->dim, s.dims[i].dim, sizeof(a->dim));
		a->pages = s.dims[i].added;
		opt->n_hugepages_added++;
	}
	hp_state_done(&s);
}
