// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Hugepage pools grown ahead of need (manager_hugepages.c): the target table
 * (pages leases hold -> nr_hugepages to ask for); then the manager function
 * on a fake sysfs and cgroup tree in a temporary directory: a pool grown to
 * what leases hold, recorded in the state file, left alone (no write) when
 * nothing changes, given back when the lease ends but only the pages it
 * added and only free ones, never in dry-run or with hugepages_manage = no,
 * nothing given back after a damaged record; hugetlb.2MB.max of a VM's
 * cgroup set to its lease's hold and lifted after, a VM without a cgroup v2
 * directory or without the hugetlb controller skipped. Last, as root, this
 * host's real /sys: 4 pages of 2048 kB more through the manager, back after
 * release; the original pool is restored whatever happens; and a cgroup of
 * the unified hierarchy given a VM lease's 4 pages as hugetlb.2MB.max.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "enforce.h"
#include "host_pool.h"
#include "manager.h"
#include "tap.h"
#include "util.h"

#define UUID_VM1 "11111111-2222-3333-4444-555555555555"
#define UUID_VM2 "11111111-2222-3333-4444-666666666666"
#define UUID_VM3 "11111111-2222-3333-4444-777777777777"
#define HP_DIR	 "sys/devices/system/node/node0/hugepages/hugepages-2048kB"

static char tmp[256];

static void test_target_table(void)
{
	static const struct {
		uint64_t need, nr, free, added, want;
		const char *what;
	} t[] = {
		{ 0, 0, 0, 0, 0, "nothing held, nothing made" },
		{ 4, 0, 0, 0, 4, "grow to what leases hold" },
		{ 14, 10, 10, 0, 14, "grow by the difference" },
		{ 4, 10, 10, 0, 10, "the administrator's pages cover it" },
		{ 4, 4, 4, 4, 4, "exactly covered" },
		{ 0, 4, 4, 4, 0, "lease ended: give back what we added" },
		{ 0, 14, 14, 4, 10, "only what we added" },
		{ 0, 14, 2, 4, 12, "only pages free now" },
		{ 0, 14, 0, 4, 14, "none free: keep" },
		{ 6, 14, 14, 8, 6, "down to what leases still hold" },
		{ 10, 14, 14, 8, 10, "not below need" },
		{ 20, 14, 0, 8, 20, "need above nr grows even with none free" },
		{ 0, 3, 3, 8, 0, "a record above nr gives back at most nr" },
		{ UINT64_MAX, 0, 0, 0, UINT64_MAX, "no overflow" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
		uint64_t got =
			host_pool_hugepages_target(t[i].need, t[i].nr, t[i].free, t[i].added);

		if (got != t[i].want)
			printf("# %s: need %" PRIu64 " nr %" PRIu64 " free %" PRIu64
			       " added %" PRIu64 "\n",
			       t[i].what, t[i].need, t[i].nr, t[i].free, t[i].added);
		check_int_eq(got, t[i].want);
	}
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *path)
{
	nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static char *at(const char *rel)
{
	static char buf[4][PATH_MAX];
	static int k;

	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", tmp, rel);
	return buf[k];
}

static void put(const char *rel, const char *text)
{
	char dir[PATH_MAX], *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", at(rel));
	slash = strrchr(dir, '/');
	*slash = '\0';
	util_mkdir_p(dir, 0755);
	f = fopen(at(rel), "w");
	if (!f) {
		check(f != NULL);
		return;
	}
	fputs(text, f);
	fclose(f);
}

static void put_u64(const char *rel, uint64_t v)
{
	char text[32];

	snprintf(text, sizeof(text), "%" PRIu64 "\n", v);
	put(rel, text);
}

static uint64_t get_u64(const char *rel)
{
	_cleanup_free_ char *text = NULL;
	uint64_t v = UINT64_MAX;

	if (util_file_read(at(rel), 4096, &text, NULL) < 0)
		return UINT64_MAX;
	util_parse_u64(text, &v);
	return v;
}

static char *get_text(const char *rel)
{
	char *text = NULL;

	if (util_file_read(at(rel), 65536, &text, NULL) < 0)
		return NULL;
	return text;
}

/* The fake pool of node0: nr pages, free of them free. */
static void pool_put(uint64_t nr, uint64_t nfree)
{
	put_u64(HP_DIR "/nr_hugepages", nr);
	put_u64(HP_DIR "/free_hugepages", nfree);
	put_u64(HP_DIR "/surplus_hugepages", 0);
}

/* An old time on nr_hugepages and the state file, to see whether they are written. */
static void stamp_old(void)
{
	struct timespec ts[2] = { { .tv_sec = 1000000 }, { .tv_sec = 1000000 } };

	utimensat(AT_FDCWD, at(HP_DIR "/nr_hugepages"), ts, 0);
	utimensat(AT_FDCWD, at("state/hugepages.state"), ts, 0);
}

static bool written(const char *rel)
{
	struct stat st;

	return stat(at(rel), &st) == 0 && st.st_mtim.tv_sec != 1000000;
}

struct fixture {
	struct manager *m;
	uint64_t lease_id;
};

static struct manager_vm *vm_new(const char *uuid, const char *name, const char *cgroup_v2)
{
	struct manager_vm *v = calloc(1, sizeof(*v));

	if (!v)
		abort();
	util_strlcpy(v->id.uuid, uuid, sizeof(v->id.uuid));
	util_strlcpy(v->id.name, name, sizeof(v->id.name));
	util_strlcpy(v->id.cgroup_v2, cgroup_v2, sizeof(v->id.cgroup_v2));
	return v;
}

static int manager_fake_new(const struct pool *pool, struct manager **ret)
{
	struct manager *m = calloc(1, sizeof(*m));
	struct ledger_params lp;
	int r;

	if (!m)
		return -ENOMEM;
	config_init_defaults(&m->cfg);
	snprintf(m->cfg.state_dir, sizeof(m->cfg.state_dir), "%s", at("state"));
	snprintf(m->cfg.cgroup_root, sizeof(m->cfg.cgroup_root), "%s", at("cgroup"));
	m->ledger_pool = *pool;
	ledger_params_default(&lp);
	r = ledger_new(&m->ledger_pool, &lp, &m->ledger);
	if (r < 0) {
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

static void manager_fake_free(struct manager *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_vms; i++)
		free(m->vms[i]);
	free(m->vms);
	ledger_free(m->ledger);
	free(m);
}

/* A lease of pages 2 MiB pages on dimension dim for holder. */
static int reserve(struct manager *m, uint32_t dim, const char *holder, enum lease_holder_kind kind,
		   double pages, uint64_t *ret_id)
{
	uint64_t now = util_realtime_usec();
	struct lease_request req = {
		.holder_kind = kind,
		.start_usec = now,
		.generation = ledger_generation(m->ledger),
		.admit = {
			.cls = POOL_CLASS_GUARANTEED,
			.n_items = 1,
			.items = { { .dim = dim, .demand = { .mean = pages, .upper = pages } } },
		},
	};

	util_strlcpy(req.holder, holder, sizeof(req.holder));
	return ledger_offer(m->ledger, &req, now, NULL, ret_id);
}

static void test_fake(void)
{
	struct manager *m = NULL;
	struct pool pool;
	_cleanup_free_ char *state = NULL;
	uint64_t id, id2;
	uint32_t dim;

	/* node0's 2 MiB pool: empty, room for 100 more */
	pool_put(0, 0);
	pool_init(&pool);
	check_int_eq(pool_hugepages_dim_set(&pool, 0, 2048, "0", "0", &dim), 0);
	pool.dims[dim].total = 100;
	check_int_eq(manager_fake_new(&pool, &m), 0);
	if (!m)
		return;

	/* no lease: nothing written, not even the state file */
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 0);
	check(access(at("state/hugepages.state"), F_OK) < 0);

	/* an incoming migration's offer of 4 pages: the pool grows by 4, recorded */
	check_int_eq(reserve(m, dim, "mig-1", LEASE_HOLDER_MIGRATION, 4, &id), 0);
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 4);
	state = get_text("state/hugepages.state");
	check(state && strstr(state, "dim hugepages-2048kB:node0 4 0\n"));
	/* the next pool reading counts those 4 pages' memory back as free */
	{
		struct host_pool_options opt = { 0 };

		manager_hugepages_pool_options(m, &opt);
		check_int_eq(opt.n_hugepages_added, 1);
		check_str_eq(opt.hugepages_added[0].dim, "hugepages-2048kB:node0");
		check_int_eq(opt.hugepages_added[0].pages, 4);
	}

	/* nothing changed: nothing written */
	put_u64(HP_DIR "/free_hugepages", 4);
	stamp_old();
	manager_hugepages_sync_root(m, at("sys"));
	check(!written(HP_DIR "/nr_hugepages"));
	check(!written("state/hugepages.state"));

	/* dry-run: the release is logged, nothing is given back nor recorded */
	check_int_eq(ledger_release(m->ledger, id, util_realtime_usec()), 0);
	m->cfg.dry_run = true;
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 4);
	check(!written(HP_DIR "/nr_hugepages"));
	check(!written("state/hugepages.state"));
	/* hugepages_manage = no: nothing either */
	m->cfg.dry_run = false;
	m->cfg.hugepages_manage = false;
	manager_hugepages_sync_root(m, at("sys"));
	check(!written(HP_DIR "/nr_hugepages"));
	m->cfg.hugepages_manage = true;

	/* the lease ended: the 4 added pages go back */
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 0);
	free(state);
	state = get_text("state/hugepages.state");
	check(state && !strstr(state, "dim "));

	/* 10 pages of the administrator's: a lease of 14 adds 4, and only those go back */
	pool_put(10, 10);
	check_int_eq(reserve(m, dim, "mig-2", LEASE_HOLDER_MIGRATION, 14, &id), 0);
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 14);
	check_int_eq(ledger_release(m->ledger, id, util_realtime_usec()), 0);
	put_u64(HP_DIR "/free_hugepages", 2); /* 12 in use: only 2 may go back */
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 12);
	free(state);
	state = get_text("state/hugepages.state");
	check(state && strstr(state, "dim hugepages-2048kB:node0 2 0\n"));
	put_u64(HP_DIR "/free_hugepages", 12);
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 10);

	/* a damaged record: pools still grow, but nothing is given back */
	check_int_eq(reserve(m, dim, "mig-3", LEASE_HOLDER_MIGRATION, 12, &id), 0);
	put("state/hugepages.state", "garbage\n");
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 12);
	free(state);
	state = get_text("state/hugepages.state");
	check(state && strstr(state, "dim hugepages-2048kB:node0 2 0\n"));
	put("state/hugepages.state", "prescient-hugepages 1\n");
	check_int_eq(ledger_release(m->ledger, id, util_realtime_usec()), 0);
	put_u64(HP_DIR "/free_hugepages", 12);
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64(HP_DIR "/nr_hugepages"), 12);

	/*
	 * hugetlb limits: vm1 on cgroup v2 with hugetlb enabled gets its
	 * lease's 6 pages as hugetlb.2MB.max; vm2 has no cgroup v2 directory,
	 * vm3's cgroup has no hugetlb controller: both skipped, recorded once.
	 */
	put("cgroup/unified/cgroup.controllers", "cpu memory hugetlb\n");
	put("cgroup/unified/machine.slice/vm1.scope/cgroup.controllers", "memory hugetlb\n");
	put("cgroup/unified/machine.slice/vm1.scope/hugetlb.2MB.max", "max\n");
	put("cgroup/unified/machine.slice/vm3.scope/cgroup.controllers", "memory\n");
	m->vms = calloc(3, sizeof(*m->vms));
	if (!m->vms)
		abort();
	m->vms[0] = vm_new(UUID_VM1, "vm1", "/machine.slice/vm1.scope");
	m->vms[1] = vm_new(UUID_VM2, "vm2", "");
	m->vms[2] = vm_new(UUID_VM3, "vm3", "/machine.slice/vm3.scope");
	m->n_vms = 3;
	check_int_eq(reserve(m, dim, UUID_VM1, LEASE_HOLDER_VM, 6, &id), 0);
	check_int_eq(reserve(m, dim, UUID_VM2, LEASE_HOLDER_VM, 1, &id2), 0);
	check_int_eq(reserve(m, dim, UUID_VM3, LEASE_HOLDER_VM, 1, &id2), 0);
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64("cgroup/unified/machine.slice/vm1.scope/hugetlb.2MB.max"),
		     6ULL * 2048 * 1024);
	free(state);
	state = get_text("state/hugepages.state");
	check(state && strstr(state, "limit " UUID_VM1 " 2048 12582912\n") &&
	      strstr(state, "skip " UUID_VM2 " 2048\n") &&
	      strstr(state, "skip " UUID_VM3 " 2048\n"));
	check(access(at("cgroup/unified/machine.slice/vm3.scope/hugetlb.2MB.max"), F_OK) < 0);
	/* in force already: not written again */
	{
		struct timespec ts[2] = { { .tv_sec = 1000000 }, { .tv_sec = 1000000 } };

		utimensat(AT_FDCWD, at("cgroup/unified/machine.slice/vm1.scope/hugetlb.2MB.max"),
			  ts, 0);
		stamp_old();
		manager_hugepages_sync_root(m, at("sys"));
		check(!written("cgroup/unified/machine.slice/vm1.scope/hugetlb.2MB.max"));
		check(!written("state/hugepages.state"));
	}
	/* vm1 restarted between two steps: a new cgroup without the limit gets it again */
	put("cgroup/unified/machine.slice/vm1.scope/hugetlb.2MB.max", "max\n");
	manager_hugepages_sync_root(m, at("sys"));
	check_int_eq(get_u64("cgroup/unified/machine.slice/vm1.scope/hugetlb.2MB.max"),
		     6ULL * 2048 * 1024);
	/* vm1's lease ends: its limit is lifted */
	check_int_eq(ledger_release_holder(m->ledger, UUID_VM1, util_realtime_usec()), 1);
	manager_hugepages_sync_root(m, at("sys"));
	free(state);
	state = get_text("cgroup/unified/machine.slice/vm1.scope/hugetlb.2MB.max");
	check(state && !strcmp(state, "max"));
	free(state);
	state = get_text("state/hugepages.state");
	check(state && !strstr(state, "limit "));
	/* vm3 leaves the host: its record goes */
	m->n_vms = 2;
	manager_hugepages_sync_root(m, at("sys"));
	free(state);
	state = get_text("state/hugepages.state");
	check(state && !strstr(state, UUID_VM3) && strstr(state, UUID_VM2));

	m->n_vms = 3;
	manager_fake_free(m);
}

/* nr_hugepages of node0's 2 MiB pool on this host, restored at exit. */
static uint64_t real_orig = UINT64_MAX;

static void real_restore(void)
{
	uint64_t got;

	if (real_orig != UINT64_MAX)
		enforce_hugepages_set("/sys", 0, 2048, real_orig, &got);
}

static void test_real(void)
{
	struct host_pool_roots roots = { "/sys", "/proc", "/sys/fs/cgroup" };
	struct host_pool_options opt = { .hugepages_grow_share = HOST_POOL_HUGEPAGES_GROW_SHARE };
	struct enforce_hugepages before, now;
	struct manager *m = NULL;
	struct host_pool hp;
	uint64_t id;
	int i;

	if (geteuid() != 0)
		test_skip("not root: cannot change this host's hugepage pools");
	if (enforce_hugepages_read("/sys", 0, 2048, &before) < 0)
		test_skip("no 2048 kB hugepages on node0");
	real_orig = before.nr;
	atexit(real_restore);
	host_pool_read_config(&roots, &opt, &hp);
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node0");
	check(i >= 0);
	if (i < 0)
		return;
	printf("# real node0 2 MiB pool: nr %" PRIu64 ", growable %" PRIu64 ", total %.0f\n",
	       hp.hugepages_nr[i], hp.hugepages_growable[i], hp.pool.dims[i].total);
	if (hp.hugepages_growable[i] < 4)
		test_skip("node0 has too little free memory to make 4 pages");
	check_int_eq(hp.hugepages_nr[i], before.nr);
	check(hp.pool.dims[i].total == (double)(before.nr + hp.hugepages_growable[i]));
	check_int_eq(manager_fake_new(&hp.pool, &m), 0);
	if (!m)
		return;
	/* what the pool holds now plus 4: the daemon must make 4 more */
	check_int_eq(reserve(m, (uint32_t)i, "mig-real", LEASE_HOLDER_MIGRATION,
			     (double)before.nr + 4, &id),
		     0);
	manager_hugepages_sync_root(m, "/sys");
	check_int_eq(enforce_hugepages_read("/sys", 0, 2048, &now), 0);
	if (now.nr < before.nr + 4) {
		manager_fake_free(m);
		real_restore();
		test_skip("the kernel made fewer than 4 pages (fragmented memory)");
	}
	check_int_eq(now.nr, before.nr + 4);
	check_int_eq(ledger_release(m->ledger, id, util_realtime_usec()), 0);
	manager_hugepages_sync_root(m, "/sys");
	check_int_eq(enforce_hugepages_read("/sys", 0, 2048, &now), 0);
	check_int_eq(now.nr, before.nr);
	printf("# real: grew %" PRIu64 " -> %" PRIu64 " and back\n", before.nr, before.nr + 4);
	manager_fake_free(m);
}

static void tmp_remove(void)
{
	if (tmp[0])
		rm_rf(tmp);
}

static int tmp_new(void)
{
	tmp_remove();
	snprintf(tmp, sizeof(tmp), "/tmp/prescient-test-hugepages-XXXXXX");
	if (!mkdtemp(tmp)) {
		tmp[0] = '\0';
		return -errno;
	}
	return 0;
}

#define UNIFIED "/sys/fs/cgroup/unified"
static char real_cg[128];
static bool real_hugetlb_enabled_by_us;

static void real_cgroup_restore(void)
{
	if (real_cg[0])
		rmdir(real_cg);
	if (real_hugetlb_enabled_by_us)
		util_file_write_string(UNIFIED "/cgroup.subtree_control", "-hugetlb");
}

static bool word_in_file(const char *path, const char *word)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;

	if (util_file_read(path, 4096, &text, NULL) < 0)
		return false;
	for (char *t = strtok_r(text, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
		if (!strcmp(t, word))
			return true;
	return false;
}

/*
 * The hugetlb limit on the real kernel: a cgroup of our own in the unified
 * hierarchy stands for a VM whose lease holds 4 pages of 2 MiB. The hugetlb
 * controller is enabled at the root for the test if it was not, and
 * disabled again after.
 */
static void test_real_limit(void)
{
	struct host_pool_roots roots = { "/sys", "/proc", "/sys/fs/cgroup" };
	struct host_pool_options opt = { .hugepages_grow_share = HOST_POOL_HUGEPAGES_GROW_SHARE };
	char file[256];
	struct manager *m = NULL;
	struct host_pool hp;
	_cleanup_free_ char *text = NULL;
	uint64_t id;
	int i;

	if (!word_in_file(UNIFIED "/cgroup.controllers", "hugetlb")) {
		printf("# no hugetlb controller in " UNIFIED ": real limit not tested\n");
		return;
	}
	atexit(real_cgroup_restore);
	if (!word_in_file(UNIFIED "/cgroup.subtree_control", "hugetlb")) {
		if (util_file_write_string(UNIFIED "/cgroup.subtree_control", "+hugetlb") < 0) {
			printf("# cannot enable hugetlb in " UNIFIED ": real limit not tested\n");
			return;
		}
		real_hugetlb_enabled_by_us = true;
	}
	snprintf(real_cg, sizeof(real_cg), UNIFIED "/prescient-test-hugepages-%d", (int)getpid());
	if (mkdir(real_cg, 0755) < 0) {
		real_cg[0] = '\0';
		printf("# cannot create a cgroup: real limit not tested\n");
		return;
	}
	host_pool_read_config(&roots, &opt, &hp);
	i = pool_dim_find(&hp.pool, "hugepages-2048kB:node0");
	check_int_eq(manager_fake_new(&hp.pool, &m), 0);
	if (!m || i < 0)
		return;
	snprintf(m->cfg.cgroup_root, sizeof(m->cfg.cgroup_root), "/sys/fs/cgroup");
	m->vms = calloc(1, sizeof(*m->vms));
	if (!m->vms)
		abort();
	m->vms[0] = vm_new(UUID_VM1, "vm-real", real_cg + strlen(UNIFIED));
	m->n_vms = 1;
	check_int_eq(reserve(m, (uint32_t)i, UUID_VM1, LEASE_HOLDER_VM, 4, &id), 0);
	manager_hugepages_sync_root(m, "/sys");
	snprintf(file, sizeof(file), "%s/hugetlb.2MB.max", real_cg);
	check_int_eq(util_file_read(file, 64, &text, NULL), 0);
	check(text && !strcmp(text, "8388608\n"));
	free(text);
	text = NULL;
	check_int_eq(ledger_release(m->ledger, id, util_realtime_usec()), 0);
	manager_hugepages_sync_root(m, "/sys");
	check_int_eq(util_file_read(file, 64, &text, NULL), 0);
	check(text && !strcmp(text, "max\n"));
	if (!test_failures)
		printf("# real: hugetlb.2MB.max of %s set to 8 MiB and lifted\n", real_cg);
	manager_fake_free(m);
}

int main(void)
{
	/* Registered first, so it runs after real_restore(). */
	atexit(tmp_remove);
	if (tmp_new() < 0) {
		perror("mkdtemp");
		return 1;
	}
	test_target_table();
	test_fake();
	if (test_failures)
		return test_result(); /* a skip below must not hide these */
	/* a fresh temporary state directory for the real kernel */
	if (tmp_new() < 0) {
		perror("mkdtemp");
		return 1;
	}
	test_real();
	if (test_failures)
		return test_result();
	test_real_limit();
	return test_result();
}
