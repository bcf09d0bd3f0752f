// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * HTB reservations with libnl-route. Every operation is idempotent: set is
 * create-or-replace, remove and teardown accept what is already gone, so the
 * planner can re-apply its whole state after a restart without first
 * reading it. Rates cross the API in bits/s and libnl in bytes/s.
 */
#include <errno.h>
#include <net/if.h>
#include <stdbool.h>
#include <string.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <linux/if_ether.h>
#include <netlink/route/class.h>
#include <netlink/route/classifier.h>
#include <netlink/route/cls/u32.h>
#include <netlink/route/qdisc.h>
#include <netlink/route/qdisc/htb.h>
#include <netlink/route/tc.h>

#include "cleanup.h"
#include "log.h"
#include "netlink-errno.h"
#include "tc.h"

#define HTB_QUANTUM_MIN 1514U	/* one full Ethernet frame */
#define HTB_QUANTUM_MAX 200000U /* above this the kernel warns and clamps */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_qdisc *, rtnl_qdisc_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_class *, rtnl_class_put)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct nl_cache *, nl_cache_free)
DEFINE_TRIVIAL_CLEANUP_FUNC(struct rtnl_cls *, rtnl_cls_put)

int enforce_tc_socket_open(struct nl_sock **ret)
{
	struct nl_sock *sk = nl_socket_alloc();
	int r;

	if (!sk)
		return -ENOMEM;
	r = nl_connect(sk, NETLINK_ROUTE);
	if (r < 0) {
		nl_socket_free(sk);
		return netlink_errno_from_nle(r);
	}
	*ret = sk;
	return 0;
}

void enforce_tc_socket_close(struct nl_sock *sk)
{
	if (sk)
		nl_socket_free(sk);
}

static int tc_ifindex(const char *ifname, int *ret)
{
	unsigned idx;

	if (!ifname || !*ifname)
		return -EINVAL;
	idx = if_nametoindex(ifname);
	if (idx == 0)
		return -errno;
	*ret = (int)idx;
	return 0;
}

/*
 * The root qdisc's handle (0 for the kernel's default one), whether it is HTB
 * and its default class; -ENOENT when none shows.
 */
static int tc_root_get(struct nl_sock *sk, int ifindex, uint32_t *ret_handle, bool *ret_htb,
		       uint32_t *ret_defcls)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	_cleanup_(rtnl_qdisc_putp) struct rtnl_qdisc *q = NULL;
	const char *kind;
	int r;

	r = rtnl_qdisc_alloc_cache(sk, &cache);
	if (r < 0)
		return netlink_errno_from_nle(r);
	q = rtnl_qdisc_get_by_parent(cache, ifindex, TC_H_ROOT);
	if (!q)
		return -ENOENT;
	kind = rtnl_tc_get_kind(TC_CAST(q));
	*ret_handle = rtnl_tc_get_handle(TC_CAST(q));
	*ret_htb = kind && strcmp(kind, "htb") == 0;
	*ret_defcls = *ret_htb ? TC_H_MIN(rtnl_htb_get_defcls(q)) : 0;
	return 0;
}

static int tc_root_delete(struct nl_sock *sk, int ifindex, uint32_t handle)
{
	_cleanup_(rtnl_qdisc_putp) struct rtnl_qdisc *q = rtnl_qdisc_alloc();

	if (!q)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), handle);
	return netlink_errno_from_nle(rtnl_qdisc_delete(sk, q));
}

static uint32_t htb_quantum(uint64_t rate_bytes)
{
	uint64_t q = rate_bytes / 10;

	if (q < HTB_QUANTUM_MIN)
		return HTB_QUANTUM_MIN;
	if (q > HTB_QUANTUM_MAX)
		return HTB_QUANTUM_MAX;
	return (uint32_t)q;
}

/*
 * Burst as tc computes its default: one timer tick (1 ms) at the rate plus
 * one frame. Left to libnl, fast classes get a zero burst.
 */
static uint32_t htb_burst_bytes(uint64_t rate_bytes)
{
	uint64_t b = rate_bytes / 1000 + 1600;

	return b > UINT32_MAX ? UINT32_MAX : (uint32_t)b;
}

static int class_put(struct nl_sock *sk, int ifindex, uint32_t parent, uint32_t minor,
		     uint64_t rate_bits, uint64_t ceil_bits)
{
	_cleanup_(rtnl_class_putp) struct rtnl_class *c = rtnl_class_alloc();
	uint64_t rate = rate_bits / 8, ceil = ceil_bits / 8;
	int r;

	if (!c)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
	rtnl_tc_set_parent(TC_CAST(c), parent);
	rtnl_tc_set_handle(TC_CAST(c), TC_HANDLE(ENFORCE_TC_MAJOR, minor));
	r = rtnl_tc_set_kind(TC_CAST(c), "htb");
	if (r >= 0)
		r = rtnl_htb_set_rate64(c, rate);
	if (r >= 0)
		r = rtnl_htb_set_ceil64(c, ceil);
	if (r >= 0)
		r = rtnl_htb_set_rbuffer(c, htb_burst_bytes(rate));
	if (r >= 0)
		r = rtnl_htb_set_cbuffer(c, htb_burst_bytes(ceil));
	if (r >= 0)
		r = rtnl_htb_set_quantum(c, htb_quantum(rate));
	if (r >= 0)
		r = rtnl_class_add(sk, c, NLM_F_CREATE | NLM_F_REPLACE);
	return netlink_errno_from_nle(r);
}

int enforce_tc_setup(struct nl_sock *sk, const char *ifname, uint64_t link_bits_per_sec,
		     uint32_t default_minor)
{
	_cleanup_(rtnl_qdisc_putp) struct rtnl_qdisc *q = NULL;
	const uint32_t ours = TC_HANDLE(ENFORCE_TC_MAJOR, 0);
	uint32_t handle = 0, defcls = 0;
	bool htb = false;
	int ifindex = 0, r;

	if (link_bits_per_sec < 8 || (default_minor && (default_minor < ENFORCE_TC_MINOR_MIN ||
							default_minor > ENFORCE_TC_MINOR_MAX)))
		return -EINVAL;
	r = tc_ifindex(ifname, &ifindex);
	if (r < 0)
		return r;
	r = tc_root_get(sk, ifindex, &handle, &htb, &defcls);
	if (r < 0 && r != -ENOENT)
		return r;
	if (r == 0 && handle == ours && htb && defcls == default_minor)
		goto link_class; /* ours already: keep the classes */
	if (r == 0 && handle == ours) {
		/*
		 * HTB cannot change its default class in place ("change" is not
		 * supported): rebuild. The classes go with it; the caller
		 * re-applies its reservations, as after any restart.
		 */
		r = tc_root_delete(sk, ifindex, ours);
		if (r < 0 && r != -ENOENT)
			return r;
	} else if (r == 0 && handle != 0) {
		return log_debug_errno(-EBUSY,
				       "enforce: %s has a root qdisc %x: that is not ours, "
				       "leaving it",
				       ifname, handle >> 16);
	}
	q = rtnl_qdisc_alloc();
	if (!q)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(q), ifindex);
	rtnl_tc_set_parent(TC_CAST(q), TC_H_ROOT);
	rtnl_tc_set_handle(TC_CAST(q), ours);
	r = rtnl_tc_set_kind(TC_CAST(q), "htb");
	if (r >= 0)
		r = rtnl_htb_set_defcls(q, default_minor);
	/* CREATE|REPLACE swaps out the kernel's default root (handle 0). */
	if (r >= 0)
		r = rtnl_qdisc_add(sk, q, NLM_F_CREATE | NLM_F_REPLACE);
	if (r < 0)
		return log_debug_errno(netlink_errno_from_nle(r),
				       "enforce: %s: cannot add htb root: %s", ifname,
				       nl_geterror(r));
link_class:
	return class_put(sk, ifindex, ours, ENFORCE_TC_LINK_MINOR, link_bits_per_sec,
			 link_bits_per_sec);
}

int enforce_tc_class_get(struct nl_sock *sk, const char *ifname, uint32_t minor,
			 uint64_t *ret_rate_bits_per_sec, uint64_t *ret_ceil_bits_per_sec)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	_cleanup_(rtnl_class_putp) struct rtnl_class *c = NULL;
	uint64_t rate, ceil;
	int ifindex = 0, r;

	r = tc_ifindex(ifname, &ifindex);
	if (r < 0)
		return r;
	r = rtnl_class_alloc_cache(sk, ifindex, &cache);
	if (r < 0)
		return netlink_errno_from_nle(r);
	c = rtnl_class_get(cache, ifindex, TC_HANDLE(ENFORCE_TC_MAJOR, minor));
	if (!c)
		return -ENOENT;
	r = rtnl_htb_get_rate64(c, &rate);
	if (r >= 0)
		r = rtnl_htb_get_ceil64(c, &ceil);
	if (r < 0)
		return netlink_errno_from_nle(r);
	*ret_rate_bits_per_sec = rate * 8;
	*ret_ceil_bits_per_sec = ceil * 8;
	return 0;
}

int enforce_tc_class_set(struct nl_sock *sk, const char *ifname, uint32_t minor,
			 uint64_t rate_bits_per_sec, uint64_t ceil_bits_per_sec)
{
	uint64_t link_rate, link_ceil, rate, ceil;
	int ifindex = 0, r;

	if (minor < ENFORCE_TC_MINOR_MIN || minor > ENFORCE_TC_MINOR_MAX || rate_bits_per_sec < 8 ||
	    ceil_bits_per_sec < rate_bits_per_sec)
		return -EINVAL;
	r = enforce_tc_class_get(sk, ifname, ENFORCE_TC_LINK_MINOR, &link_rate, &link_ceil);
	if (r < 0)
		return r == -ENOENT ? -ENXIO : r; /* no hierarchy: setup first */
	if (ceil_bits_per_sec > link_rate)
		return -ERANGE;
	r = tc_ifindex(ifname, &ifindex);
	if (r < 0)
		return r;
	r = class_put(sk, ifindex, TC_HANDLE(ENFORCE_TC_MAJOR, ENFORCE_TC_LINK_MINOR), minor,
		      rate_bits_per_sec, ceil_bits_per_sec);
	if (r < 0)
		return log_debug_errno(r, "enforce: %s: cannot set class %x:%x: %m", ifname,
				       ENFORCE_TC_MAJOR, minor);
	/* Read back: what the kernel holds is what the ledger records. */
	r = enforce_tc_class_get(sk, ifname, minor, &rate, &ceil);
	if (r < 0)
		return r;
	if (rate != rate_bits_per_sec / 8 * 8 || ceil != ceil_bits_per_sec / 8 * 8)
		return log_debug_errno(-EIO, "enforce: %s: class %x:%x holds %llu/%llu bit/s",
				       ifname, ENFORCE_TC_MAJOR, minor, (unsigned long long)rate,
				       (unsigned long long)ceil);
	return 0;
}

/* A filter of ours on ifindex at priority minor, without keys yet. */
static struct rtnl_cls *filter_new(int ifindex, uint32_t minor)
{
	struct rtnl_cls *f = rtnl_cls_alloc();

	if (!f)
		return NULL;
	rtnl_tc_set_ifindex(TC_CAST(f), ifindex);
	rtnl_tc_set_parent(TC_CAST(f), TC_HANDLE(ENFORCE_TC_MAJOR, 0));
	rtnl_cls_set_prio(f, (uint16_t)minor);
	rtnl_cls_set_protocol(f, ETH_P_ALL);
	if (rtnl_tc_set_kind(TC_CAST(f), "u32") < 0) {
		rtnl_cls_put(f);
		return NULL;
	}
	return f;
}

/* Four bytes as they sit in the frame: u32 keys compare in network order. */
static uint32_t be_word(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t w[4] = { a, b, c, d };
	uint32_t v;

	memcpy(&v, w, sizeof(v));
	return v;
}

int enforce_tc_filter_remove(struct nl_sock *sk, const char *ifname, uint32_t minor)
{
	_cleanup_(rtnl_cls_putp) struct rtnl_cls *f = NULL;
	int ifindex = 0, r;

	if (minor < ENFORCE_TC_MINOR_MIN || minor > ENFORCE_TC_MINOR_MAX)
		return -EINVAL;
	r = tc_ifindex(ifname, &ifindex);
	if (r < 0)
		return r == -ENODEV ? 0 : r;
	f = filter_new(ifindex, minor);
	if (!f)
		return -ENOMEM;
	r = netlink_errno_from_nle(rtnl_cls_delete(sk, f, 0));
	/* No such filter, or no qdisc of ours at all: nothing to remove. */
	if (r == -ENOENT || r == -EINVAL)
		return 0;
	return r;
}

/* One u32 filter at priority minor: frames with mac go to class 5072:minor. */
static int filter_add(struct nl_sock *sk, const char *ifname, int ifindex, uint32_t minor,
		      enum enforce_tc_match match, const uint8_t mac[6])
{
	_cleanup_(rtnl_cls_putp) struct rtnl_cls *f = NULL;
	int r;

	f = filter_new(ifindex, minor);
	if (!f)
		return -ENOMEM;
	/*
	 * Offsets are from the network header: the Ethernet destination is at
	 * -14..-9, the source at -8..-3. Keys are read as aligned 32-bit words,
	 * as tc(8) packs them; the bytes outside the address are masked off.
	 */
	if (match == ENFORCE_TC_MATCH_DST_MAC) {
		r = rtnl_u32_add_key(f, be_word(0, 0, mac[0], mac[1]), be_word(0, 0, 0xff, 0xff),
				     -16, 0);
		if (r >= 0)
			r = rtnl_u32_add_key(f, be_word(mac[2], mac[3], mac[4], mac[5]),
					     0xffffffffU, -12, 0);
	} else {
		r = rtnl_u32_add_key(f, be_word(mac[0], mac[1], mac[2], mac[3]), 0xffffffffU, -8,
				     0);
		if (r >= 0)
			r = rtnl_u32_add_key(f, be_word(mac[4], mac[5], 0, 0),
					     be_word(0xff, 0xff, 0, 0), -4, 0);
	}
	if (r >= 0)
		r = rtnl_u32_set_classid(f, TC_HANDLE(ENFORCE_TC_MAJOR, minor));
	if (r >= 0)
		r = rtnl_u32_set_cls_terminal(f);
	if (r >= 0)
		r = rtnl_cls_add(sk, f, NLM_F_CREATE | NLM_F_EXCL);
	if (r < 0)
		return log_debug_errno(netlink_errno_from_nle(r),
				       "enforce: %s: cannot add filter for %x:%x: %s", ifname,
				       ENFORCE_TC_MAJOR, minor, nl_geterror(r));
	return 0;
}

int enforce_tc_filter_set_macs(struct nl_sock *sk, const char *ifname, uint32_t minor,
			       enum enforce_tc_match match, const uint8_t (*macs)[6], size_t n_macs)
{
	int ifindex = 0, r;

	if (minor < ENFORCE_TC_MINOR_MIN || minor > ENFORCE_TC_MINOR_MAX || (n_macs && !macs) ||
	    (unsigned)match >= ENFORCE_TC_NR_MATCHES)
		return -EINVAL;
	r = tc_ifindex(ifname, &ifindex);
	if (r < 0)
		return r;
	/* Deleting by priority alone takes every filter there: all of the class's addresses. */
	r = enforce_tc_filter_remove(sk, ifname, minor);
	if (r < 0)
		return r;
	/*
	 * u32 keeps several filters at one priority (same protocol) in one
	 * table, each with its own handle: one per address, all to the class.
	 */
	for (size_t i = 0; i < n_macs; i++) {
		r = filter_add(sk, ifname, ifindex, minor, match, macs[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

int enforce_tc_filter_set(struct nl_sock *sk, const char *ifname, uint32_t minor,
			  enum enforce_tc_match match, const uint8_t mac[6])
{
	if (!mac)
		return -EINVAL;
	return enforce_tc_filter_set_macs(sk, ifname, minor, match, (const uint8_t(*)[6])mac, 1);
}

int enforce_tc_class_list(struct nl_sock *sk, const char *ifname, uint32_t **ret_minors,
			  size_t *ret_n)
{
	_cleanup_(nl_cache_freep) struct nl_cache *cache = NULL;
	_cleanup_free_ uint32_t *minors = NULL;
	size_t n = 0, cap;
	int ifindex = 0, r;

	r = tc_ifindex(ifname, &ifindex);
	if (r < 0)
		return r;
	r = rtnl_class_alloc_cache(sk, ifindex, &cache);
	if (r < 0)
		return netlink_errno_from_nle(r);
	cap = (size_t)nl_cache_nitems(cache);
	minors = calloc(cap ? cap : 1, sizeof(*minors));
	if (!minors)
		return -ENOMEM;
	for (struct nl_object *o = nl_cache_get_first(cache); o && n < cap;
	     o = nl_cache_get_next(o)) {
		uint32_t h = rtnl_tc_get_handle(TC_CAST(o));

		if (TC_H_MAJ(h) == TC_HANDLE(ENFORCE_TC_MAJOR, 0) &&
		    TC_H_MIN(h) >= ENFORCE_TC_MINOR_MIN && TC_H_MIN(h) <= ENFORCE_TC_MINOR_MAX)
			minors[n++] = TC_H_MIN(h);
	}
	*ret_minors = TAKE_PTR(minors);
	*ret_n = n;
	return 0;
}

int enforce_tc_class_remove(struct nl_sock *sk, const char *ifname, uint32_t minor)
{
	_cleanup_(rtnl_class_putp) struct rtnl_class *c = NULL;
	int ifindex = 0, r;

	if (minor < ENFORCE_TC_MINOR_MIN || minor > ENFORCE_TC_MINOR_MAX)
		return -EINVAL;
	r = tc_ifindex(ifname, &ifindex);
	if (r < 0)
		return r == -ENODEV ? 0 : r;
	/* HTB refuses to delete a class that a filter still points to. */
	r = enforce_tc_filter_remove(sk, ifname, minor);
	if (r < 0)
		return r;
	c = rtnl_class_alloc();
	if (!c)
		return -ENOMEM;
	rtnl_tc_set_ifindex(TC_CAST(c), ifindex);
	rtnl_tc_set_handle(TC_CAST(c), TC_HANDLE(ENFORCE_TC_MAJOR, minor));
	rtnl_tc_set_parent(TC_CAST(c), TC_HANDLE(ENFORCE_TC_MAJOR, ENFORCE_TC_LINK_MINOR));
	r = netlink_errno_from_nle(rtnl_class_delete(sk, c));
	/* Gone already, or the whole hierarchy is gone: both mean removed. */
	if (r == -ENOENT || r == -EINVAL)
		return 0;
	return r;
}

int enforce_tc_teardown(struct nl_sock *sk, const char *ifname)
{
	uint32_t handle = 0, defcls = 0;
	bool htb = false;
	int ifindex = 0, r;

	r = tc_ifindex(ifname, &ifindex);
	if (r < 0)
		return r == -ENODEV ? 0 : r;
	r = tc_root_get(sk, ifindex, &handle, &htb, &defcls);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r;
	if (handle != TC_HANDLE(ENFORCE_TC_MAJOR, 0))
		return 0; /* not ours: nothing of ours to remove */
	r = tc_root_delete(sk, ifindex, handle);
	return r == -ENOENT ? 0 : r;
}
