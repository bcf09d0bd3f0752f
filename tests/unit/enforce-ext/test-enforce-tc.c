// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * HTB hierarchy management on a real kernel, in a private network namespace
 * (no traffic): create, read back, update, idempotent re-apply and removal,
 * and refusal to touch a root qdisc that is not ours. Needs root (77
 * otherwise). That the classes shape a real flow is checked by
 * tests/integration/cgroup2/test-tc-shaping.sh.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/classifier.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/tc.h>

#include "tap.h"
#include "tc.h"

#define MBIT 1000000ULL

/* Filters under our root qdisc on ifname, as the kernel lists them. */
static int count_filters(struct nl_sock *sk, const char *ifname)
{
	struct nl_cache *cache = NULL;
	int n;

	if (rtnl_cls_alloc_cache(sk, (int)if_nametoindex(ifname), TC_HANDLE(ENFORCE_TC_MAJOR, 0),
				 &cache) < 0)
		return -1;
	n = nl_cache_nitems(cache);
	nl_cache_free(cache);
	return n;
}

int main(void)
{
	struct nl_sock *sk = NULL;
	uint64_t rate = 0, ceil = 0;
	int n_one = 0;

	if (geteuid() != 0)
		test_skip("not root: cannot create a network namespace");
	if (unshare(CLONE_NEWNET) < 0)
		test_skip("unshare(CLONE_NEWNET) failed");
	check_int_eq(enforce_tc_socket_open(&sk), 0);
	if (!sk)
		return test_result();
	check_int_eq(rtnl_link_veth_add(sk, "enf0", "enf1", getpid()), 0);

	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x10, 10 * MBIT, 20 * MBIT), -ENXIO);
	check_int_eq(enforce_tc_setup(sk, "nonexistent0", 1000 * MBIT, 0), -ENODEV);
	check_int_eq(enforce_tc_setup(sk, "enf0", 1000 * MBIT, 0x10), 0);
	/* Twice is the same as once. */
	check_int_eq(enforce_tc_setup(sk, "enf0", 1000 * MBIT, 0x10), 0);
	check_int_eq(enforce_tc_class_get(sk, "enf0", ENFORCE_TC_LINK_MINOR, &rate, &ceil), 0);
	check(rate == 1000 * MBIT && ceil == 1000 * MBIT);

	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x10, 20 * MBIT, 50 * MBIT), 0);
	check_int_eq(enforce_tc_class_get(sk, "enf0", 0x10, &rate, &ceil), 0);
	check(rate == 20 * MBIT && ceil == 50 * MBIT);
	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x10, 20 * MBIT, 50 * MBIT), 0);
	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x10, 5 * MBIT, 5 * MBIT), 0);
	check_int_eq(enforce_tc_class_get(sk, "enf0", 0x10, &rate, &ceil), 0);
	check(rate == 5 * MBIT && ceil == 5 * MBIT);
	/* Above 4 GB/s the rate needs the 64-bit attributes. */
	check_int_eq(enforce_tc_setup(sk, "enf0", 100000 * MBIT, 0x10), 0);
	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x11, 40000 * MBIT, 80000 * MBIT), 0);
	check_int_eq(enforce_tc_class_get(sk, "enf0", 0x11, &rate, &ceil), 0);
	check(rate == 40000 * MBIT && ceil == 80000 * MBIT);
	/* Still one class of ours after the root was updated in place. */
	check_int_eq(enforce_tc_class_get(sk, "enf0", 0x10, &rate, &ceil), 0);

	/* Filters: one per class at its own priority; set twice is set once. */
	{
		const uint8_t mac[6] = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee };

		check_int_eq(count_filters(sk, "enf0"), 0);
		check_int_eq(enforce_tc_filter_set(sk, "enf0", 0x10, ENFORCE_TC_MATCH_DST_MAC, mac),
			     0);
		check(count_filters(sk, "enf0") > 0);
		n_one = count_filters(sk, "enf0");
		check_int_eq(enforce_tc_filter_set(sk, "enf0", 0x10, ENFORCE_TC_MATCH_DST_MAC, mac),
			     0);
		check_int_eq(count_filters(sk, "enf0"), n_one);
		check_int_eq(enforce_tc_filter_set(sk, "enf0", 0x11, ENFORCE_TC_MATCH_SRC_MAC, mac),
			     0);
		check_int_eq(count_filters(sk, "enf0"), 2 * n_one);
		check_int_eq(enforce_tc_filter_set(sk, "enf0", 0x11, ENFORCE_TC_NR_MATCHES, mac),
			     -EINVAL);
		check_int_eq(enforce_tc_filter_remove(sk, "enf0", 0x11), 0);
		check_int_eq(enforce_tc_filter_remove(sk, "enf0", 0x11), 0);
		check_int_eq(count_filters(sk, "enf0"), n_one);
	}

	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x10, 30 * MBIT, 20 * MBIT), -EINVAL);
	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x5, 1 * MBIT, 2 * MBIT), -EINVAL);
	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x12, 1 * MBIT, 200000 * MBIT), -ERANGE);

	/* A new default class rebuilds the hierarchy: the old classes are gone. */
	check_int_eq(enforce_tc_setup(sk, "enf0", 100000 * MBIT, 0x12), 0);
	check_int_eq(enforce_tc_class_get(sk, "enf0", 0x10, &rate, &ceil), -ENOENT);
	check_int_eq(enforce_tc_class_set(sk, "enf0", 0x11, 40000 * MBIT, 80000 * MBIT), 0);

	{
		const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x11 };

		check_int_eq(count_filters(sk, "enf0"), 0); /* went with the old root */
		check_int_eq(enforce_tc_filter_set(sk, "enf0", 0x11, ENFORCE_TC_MATCH_DST_MAC, mac),
			     0);
	}
	/* A class with a filter: both go. */
	check_int_eq(enforce_tc_class_remove(sk, "enf0", 0x11), 0);
	check_int_eq(count_filters(sk, "enf0"), 0);
	check_int_eq(enforce_tc_class_get(sk, "enf0", 0x11, &rate, &ceil), -ENOENT);
	check_int_eq(enforce_tc_class_remove(sk, "enf0", 0x11), 0);
	check_int_eq(enforce_tc_teardown(sk, "enf0"), 0);
	check_int_eq(enforce_tc_class_get(sk, "enf0", 0x10, &rate, &ceil), -ENOENT);
	check_int_eq(enforce_tc_teardown(sk, "enf0"), 0);
	check_int_eq(enforce_tc_class_remove(sk, "enf0", 0x10), 0);

	/* Someone else's root (libvirt uses 1:): refused, and left in place. */
	{
		struct rtnl_qdisc *q = rtnl_qdisc_alloc();
		struct rtnl_link *l = NULL;

		check(rtnl_link_get_kernel(sk, 0, "enf1", &l) >= 0);
		rtnl_tc_set_link(TC_CAST(q), l);
		rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
		rtnl_tc_set_handle(TC_CAST(q), TC_HANDLE(1, 0));
		rtnl_tc_set_kind(TC_CAST(q), "htb");
		check_int_eq(rtnl_qdisc_add(sk, q, NLM_F_CREATE), 0);
		check_int_eq(enforce_tc_setup(sk, "enf1", 1000 * MBIT, 0), -EBUSY);
		check_int_eq(enforce_tc_teardown(sk, "enf1"), 0);
		/* libvirt's qdisc survived our teardown: deleting it still works. */
		check_int_eq(rtnl_qdisc_delete(sk, q), 0);
		rtnl_qdisc_put(q);
		rtnl_link_put(l);
	}
	enforce_tc_socket_close(sk);
	return test_result();
}
