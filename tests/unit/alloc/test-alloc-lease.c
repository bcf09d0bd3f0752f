// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The ledger's lease lifecycle (offer, confirm, activate, release, expiry),
 * generations, idempotent release, pool updates, and the checkpoint: round
 * trip, and truncated, corrupt and newer-version files refused and put aside.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc-test-util.h"
#include "tap.h"

#define SEC 1000000ULL

static struct ledger *new_ledger(void)
{
	struct ledger_params lp;
	struct ledger *l = NULL;
	struct pool p;

	test_pool(&p);
	ledger_params_default(&lp);
	lp.offer_ttl_usec = 30 * SEC;
	lp.retain_usec = 600 * SEC;
	check_int_eq(ledger_new(&p, &lp, &l), 0);
	return l;
}

static void test_lifecycle(void)
{
	struct ledger *l = new_ledger();
	struct lease_request r = test_request("vm-a", POOL_CLASS_GUARANTEED, T_MEM, 60, 0);
	struct admit_explanation e;
	struct ledger_usage u;
	struct lease ls;
	uint64_t id, id2, g;

	g = ledger_generation(l);
	r.generation = g;
	check_int_eq(ledger_offer(l, &r, 1000 * SEC, &e, &id), 0);
	check_int_eq(e.verdict, ADMIT_ACCEPT);
	check(ledger_generation(l) > g);
	check_int_eq(ledger_lease_get(l, id, &ls), 0);
	check_int_eq(ls.state, LEASE_OFFERED);
	check_str_eq(ls.holder, "vm-a");

	/* The same generation again is stale: the ledger changed since. */
	check_int_eq(ledger_offer(l, &r, 1000 * SEC, NULL, &id2), -ESTALE);
	/* Re-read, retry: refused now, 60 + 60 > 100, with the reason. */
	r.generation = ledger_generation(l);
	check_int_eq(ledger_offer(l, &r, 1001 * SEC, &e, &id2), -ENOSPC);
	check_int_eq(e.verdict, ADMIT_REFUSE);
	check(strstr(e.reason, "exceed capacity") != NULL);

	check_int_eq(ledger_activate(l, id, 1002 * SEC), -EPERM); /* confirm first */
	check_int_eq(ledger_confirm(l, id, 1002 * SEC), 0);
	check_int_eq(ledger_confirm(l, id, 1002 * SEC), 0); /* twice is harmless */
	check_int_eq(ledger_activate(l, id, 1003 * SEC), 0);
	check_int_eq(ledger_confirm(l, id, 1003 * SEC), 0);
	check_int_eq(ledger_lease_get(l, id, &ls), 0);
	check_int_eq(ls.state, LEASE_ACTIVE);
	/* Confirmed leases do not expire on the TTL. */
	check_int_eq(ledger_expire(l, 5000 * SEC), 0);

	check_int_eq(ledger_usage_get(l, &u), 0);
	check_int_eq(u.n_live, 1);
	check_double_near(u.dims[T_MEM].held, 60, 1e-9);
	check_double_near(u.dims[T_MEM].free, 40, 1e-9);

	g = ledger_generation(l);
	check_int_eq(ledger_release(l, id, 5001 * SEC), 0);
	check(ledger_generation(l) > g);
	g = ledger_generation(l);
	check_int_eq(ledger_release(l, id, 5002 * SEC), 0); /* idempotent, no change */
	check_int_eq(ledger_generation(l), g);
	check_int_eq(ledger_release(l, 999, 5002 * SEC), -ENOENT);
	check_int_eq(ledger_confirm(l, id, 5002 * SEC), -ENOENT);
	check_int_eq(ledger_usage_get(l, &u), 0);
	check_int_eq(u.n_live, 0);
	check_double_near(u.dims[T_MEM].held, 0, 0);

	/* The room is back. */
	r.generation = ledger_generation(l);
	check_int_eq(ledger_offer(l, &r, 5003 * SEC, NULL, &id2), 0);
	check(id2 > id);
	ledger_free(l);
}

static void test_expiry(void)
{
	struct ledger *l = new_ledger();
	struct lease_request r = test_request("mig-1", POOL_CLASS_GUARANTEED, T_MEM, 80, 0);
	struct lease ls;
	uint64_t id, id2;

	r.holder_kind = LEASE_HOLDER_MIGRATION;
	r.generation = ledger_generation(l);
	check_int_eq(ledger_offer(l, &r, 100 * SEC, NULL, &id), 0);
	/* Full until the offer's TTL passes... */
	r.generation = ledger_generation(l);
	check_int_eq(ledger_offer(l, &r, 129 * SEC, NULL, &id2), -ENOSPC);
	/* ...then a new offer finds the room: the stale one expired. */
	check_int_eq(ledger_offer(l, &r, 130 * SEC, NULL, &id2), 0);
	check_int_eq(ledger_lease_get(l, id, &ls), 0);
	check_int_eq(ls.state, LEASE_EXPIRED);
	check_int_eq(ledger_confirm(l, id, 131 * SEC), -ETIME);
	check_int_eq(ledger_release(l, id, 131 * SEC), 0); /* releasing an expired one is fine */

	/* Confirming after the TTL, even without an expiry pass, is too late. */
	check_int_eq(ledger_confirm(l, id2, 160 * SEC), -ETIME);
	check_int_eq(ledger_expire(l, 160 * SEC), 0);

	/* A confirmed lease with an end expires at its end. */
	r.generation = ledger_generation(l);
	r.start_usec = 200 * SEC;
	r.end_usec = 300 * SEC;
	check_int_eq(ledger_offer(l, &r, 200 * SEC, NULL, &id), 0);
	check_int_eq(ledger_confirm(l, id, 201 * SEC), 0);
	check_int_eq(ledger_expire(l, 299 * SEC), 0);
	check_int_eq(ledger_expire(l, 300 * SEC), 1);
	check_int_eq(ledger_activate(l, id, 301 * SEC), -ETIME);

	/* Ended leases are forgotten after the retention time. */
	check_int_eq(ledger_expire(l, 2000 * SEC), 0);
	check_int_eq(ledger_lease_get(l, id, &ls), -ENOENT);

	/* Releasing by holder: every live lease of a migration at once, once. */
	r = test_request("mig-2", POOL_CLASS_BURSTABLE, T_NET, 100, ledger_generation(l));
	check_int_eq(ledger_offer(l, &r, 2001 * SEC, NULL, &id), 0);
	r = test_request("mig-2", POOL_CLASS_BURSTABLE, T_MEM, 10, ledger_generation(l));
	check_int_eq(ledger_offer(l, &r, 2001 * SEC, NULL, &id2), 0);
	check_int_eq(ledger_release_holder(l, "mig-2", 2002 * SEC), 2);
	check_int_eq(ledger_release_holder(l, "mig-2", 2003 * SEC), 0);

	/* Reconciling with the VMs libvirt shows: the gone VM's lease goes, a migration's stays. */
	{
		const char *present[] = { "vm-here" };
		uint64_t here, gone, mig;

		r = test_request("vm-here", POOL_CLASS_BURSTABLE, T_MEM, 5, ledger_generation(l));
		check_int_eq(ledger_offer(l, &r, 2004 * SEC, NULL, &here), 0);
		r = test_request("vm-gone", POOL_CLASS_BURSTABLE, T_MEM, 5, ledger_generation(l));
		check_int_eq(ledger_offer(l, &r, 2004 * SEC, NULL, &gone), 0);
		r = test_request("mig-3", POOL_CLASS_BURSTABLE, T_MEM, 5, ledger_generation(l));
		r.holder_kind = LEASE_HOLDER_MIGRATION;
		check_int_eq(ledger_offer(l, &r, 2004 * SEC, NULL, &mig), 0);
		check_int_eq(ledger_reconcile_vms(l, present, 1, 2005 * SEC), 1);
		check_int_eq(ledger_lease_get(l, gone, &ls), 0);
		check_int_eq(ls.state, LEASE_RELEASED);
		check_int_eq(ledger_lease_get(l, here, &ls), 0);
		check_int_eq(ls.state, LEASE_OFFERED);
		check_int_eq(ledger_lease_get(l, mig, &ls), 0);
		check_int_eq(ls.state, LEASE_OFFERED);
		check_int_eq(ledger_reconcile_vms(l, NULL, 1, 2005 * SEC), -EINVAL);
	}
	ledger_free(l);
}

static void test_amend_and_pool(void)
{
	struct ledger *l = new_ledger();
	struct lease_request r = test_request("vm-b", POOL_CLASS_GUARANTEED, T_MEM, 50, 0);
	struct admit_request bigger, smaller;
	struct ledger_usage u;
	struct pool p;
	uint64_t id, other;

	r.generation = ledger_generation(l);
	check_int_eq(ledger_offer(l, &r, 10 * SEC, NULL, &id), 0);
	r = test_request("vm-c", POOL_CLASS_GUARANTEED, T_MEM, 30, ledger_generation(l));
	check_int_eq(ledger_offer(l, &r, 10 * SEC, NULL, &other), 0);
	bigger = r.admit;
	bigger.items[0].demand = (struct risk_dist){ 75, 0, 75, 0 };
	smaller = bigger;
	smaller.items[0].demand = (struct risk_dist){ 20, 0, 20, 0 };
	check_int_eq(ledger_amend(l, id, &bigger, ledger_generation(l) - 1, 11 * SEC, NULL),
		     -ESTALE);
	check_int_eq(ledger_amend(l, id, &bigger, ledger_generation(l), 11 * SEC, NULL), -ENOSPC);
	check_int_eq(ledger_amend(l, id, &smaller, ledger_generation(l), 11 * SEC, NULL), 0);
	/* 20 + 30 held now: 75 fits for the other one. */
	check_int_eq(ledger_amend(l, other, &bigger, ledger_generation(l), 11 * SEC, NULL), 0);
	check_int_eq(ledger_usage_get(l, &u), 0);
	check_double_near(u.dims[T_MEM].held, 95, 1e-9);

	/* New readings in another order: the leases follow their dimensions by name. */
	pool_init(&p);
	pool_cpuset_parse("0-3", &p.machine_cpus);
	check_int_eq(pool_dim_add(&p,
				  &(struct pool_dim){ .kind = POOL_KIND_MEM,
						      .name = "mem",
						      .total = 120,
						      .risk_bound = 0.01 },
				  NULL),
		     0);
	pool_cpu_dim_sync(&p, 0, 0.05);
	check_int_eq(ledger_pool_update(l, &p), 0);
	check_int_eq(ledger_usage_get(l, &u), 0);
	check_int_eq(u.n_dims, 2);
	check_str_eq(u.dims[0].dim, "mem");
	check_double_near(u.dims[0].held, 95, 1e-9);
	check_double_near(u.dims[0].free, 25, 1e-9);
	ledger_free(l);
}

static char *tmpdir_path(const char *name)
{
	static char dir[256];
	char *path;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/alloc-lease-test.XXXXXX");
		if (!mkdtemp(dir))
			test_skip("cannot make a temporary directory");
	}
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	return path;
}

static void write_bytes(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	check(fd >= 0);
	check(write(fd, buf, len) == (ssize_t)len);
	close(fd);
}

static void *read_bytes(const char *path, size_t *len)
{
	struct stat st;
	void *buf;
	int fd = open(path, O_RDONLY);

	check(fd >= 0);
	fstat(fd, &st);
	buf = malloc((size_t)st.st_size + 1);
	check(read(fd, buf, (size_t)st.st_size) == st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

/* CRC-32 (IEEE) over all but the trailing 4 bytes, stored little-endian there. */
static void fix_crc(uint8_t *buf, size_t len)
{
	uint32_t crc = 0xffffffffu;

	for (size_t i = 0; i < len - 4; i++) {
		crc ^= buf[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
	}
	crc = ~crc;
	for (int k = 0; k < 4; k++)
		buf[len - 4 + k] = (uint8_t)(crc >> (8 * k));
}

/* Loads a bad file: refused, put aside, and the ledger keeps what it had. */
static void check_refused(const char *path, const void *buf, size_t len, uint64_t keep_id)
{
	struct ledger *l = new_ledger();
	char *aside;
	struct lease ls;
	uint64_t id;
	struct lease_request r = test_request("keep", POOL_CLASS_BURSTABLE, T_NET, 10, 1);

	check_int_eq(ledger_offer(l, &r, 1, NULL, &id), 0);
	check(asprintf(&aside, "%s.corrupt", path) > 0);
	unlink(aside);
	write_bytes(path, buf, len);
	check_int_eq(ledger_checkpoint_load(l, path, NULL), -EBADMSG);
	check(access(path, F_OK) < 0);
	check(access(aside, F_OK) == 0);
	check_int_eq(ledger_lease_get(l, id, &ls), 0);
	check_str_eq(ls.holder, "keep");
	check_int_eq(ledger_lease_get(l, keep_id, &ls), keep_id == id ? 0 : -ENOENT);
	free(aside);
	ledger_free(l);
}

static void test_checkpoint(void)
{
	struct ledger *l = new_ledger(), *back;
	char *path = tmpdir_path("ledger.ckpt");
	struct lease *a, *b;
	size_t na, nb, len, loaded;
	uint64_t ga, gb, id1, id2, id3;
	uint8_t *buf, *bad;
	struct lease_request r;
	struct ledger_checkpoint c;

	r = test_request("3b0a1f4e-3c62-4c4e-9d0b-6b7f2f2b8d11", POOL_CLASS_GUARANTEED, T_MEM, 30,
			 ledger_generation(l));
	check_int_eq(pool_cpuset_parse("2-3", &r.admit.pinned), 0);
	r.admit.n_items = 2;
	r.admit.items[1] = (struct admit_item){ T_CPU, { 2, 0.1, 2, 0.3 } };
	r.end_usec = 9000 * SEC;
	check_int_eq(ledger_offer(l, &r, 100 * SEC, NULL, &id1), 0);
	check_int_eq(ledger_confirm(l, id1, 101 * SEC), 0);
	r = test_request("mig-42", POOL_CLASS_BURSTABLE, T_NET, 300, ledger_generation(l));
	r.holder_kind = LEASE_HOLDER_MIGRATION;
	r.admit.items[0].demand = (struct risk_dist){ 300, 40, 380, -0.25 };
	check_int_eq(ledger_offer(l, &r, 102 * SEC, NULL, &id2), 0);
	r = test_request("gone", POOL_CLASS_BEST_EFFORT, T_MEM, 5, ledger_generation(l));
	check_int_eq(ledger_offer(l, &r, 103 * SEC, NULL, &id3), 0);
	check_int_eq(ledger_release(l, id3, 104 * SEC), 0);

	check_int_eq(ledger_checkpoint_save(l, path), 0);
	back = new_ledger();
	check_int_eq(ledger_checkpoint_load(back, path, &loaded), 0);
	check_int_eq(loaded, 3);
	check_int_eq(ledger_leases_get(l, &a, &na, &ga), 0);
	check_int_eq(ledger_leases_get(back, &b, &nb, &gb), 0);
	check_int_eq(na, nb);
	/* Generations never go back across a restart. */
	check(gb > ga);
	for (size_t i = 0; i < na && i < nb; i++) {
		check_int_eq(a[i].id, b[i].id);
		check_str_eq(a[i].holder, b[i].holder);
		check_int_eq(a[i].holder_kind, b[i].holder_kind);
		check_int_eq(a[i].state, b[i].state);
		check(a[i].start_usec == b[i].start_usec && a[i].end_usec == b[i].end_usec);
		check(a[i].offered_usec == b[i].offered_usec);
		check(memcmp(&a[i].admit, &b[i].admit, sizeof(a[i].admit)) == 0);
	}
	free(a);
	free(b);
	/* The restored holdings count: the pinned cores are taken. */
	r = test_request("x", POOL_CLASS_GUARANTEED, T_CPU, 1, ledger_generation(back));
	check_int_eq(pool_cpuset_parse("3", &r.admit.pinned), 0);
	check_int_eq(ledger_offer(back, &r, 105 * SEC, NULL, &id3), -ENOSPC);
	/* New ids do not collide with restored ones. */
	r = test_request("y", POOL_CLASS_BURSTABLE, T_MEM, 1, ledger_generation(back));
	check_int_eq(ledger_offer(back, &r, 105 * SEC, NULL, &id3), 0);
	check(id3 > id2);
	ledger_free(back);

	buf = read_bytes(path, &len);
	check_int_eq(ledger_checkpoint_parse(buf, len, &c), 0);
	check_int_eq(c.n_leases, 3);
	check_str_eq(c.leases[0].items[0].dim, "mem");
	check_str_eq(c.leases[0].items[1].dim, "cpu");
	ledger_checkpoint_done(&c);

	bad = malloc(len);
	/* Truncated. */
	check_refused(path, buf, len / 2, 0);
	check_refused(path, buf, 0, 0);
	/* One flipped bit anywhere. */
	for (size_t off = 0; off < len; off += len / 7 + 1) {
		memcpy(bad, buf, len);
		bad[off] ^= 0x10;
		check_int_eq(ledger_checkpoint_parse(bad, len, &c), -EBADMSG);
	}
	memcpy(bad, buf, len);
	bad[len / 2] ^= 1;
	check_refused(path, bad, len, 0);
	/* A newer version with a valid checksum: still refused, and put aside. */
	memcpy(bad, buf, len);
	bad[8] = 2;
	fix_crc(bad, len);
	check_int_eq(ledger_checkpoint_parse(bad, len, &c), -EBADMSG);
	check_refused(path, bad, len, 0);
	/* The same bytes as version 1 parse: the version alone was the cause. */
	bad[8] = 1;
	fix_crc(bad, len);
	check_int_eq(ledger_checkpoint_parse(bad, len, &c), 0);
	ledger_checkpoint_done(&c);
	free(bad);
	free(buf);

	/* No file: -ENOENT, nothing renamed. */
	unlink(path);
	back = new_ledger();
	check_int_eq(ledger_checkpoint_load(back, path, NULL), -ENOENT);
	ledger_free(back);
	ledger_free(l);
	free(path);
	path = tmpdir_path("ledger.ckpt.corrupt");
	unlink(path);
	*strrchr(path, '/') = '\0';
	check(rmdir(path) == 0);
	free(path);
}

int main(void)
{
	test_lifecycle();
	test_expiry();
	test_amend_and_pool();
	test_checkpoint();
	return test_result();
}
