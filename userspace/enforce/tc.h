/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Network bandwidth reservations as HTB classes, through libnl-route, for the
 * devices where libvirt's <bandwidth> cannot express the reservation (an IFB
 * device carrying redirected VM traffic, a bridge uplink, a tap without
 * <bandwidth>). Egress only: a root qdisc shapes what the device sends,
 * which on a tap is what the guest receives (platform-notes §5.7).
 *
 * The hierarchy we own, and that libvirt never creates (it uses "1:"):
 *   qdisc  5072: root htb, default ENFORCE_TC_MINOR_...        ("Pr")
 *   class  5072:1      the link: rate = ceil = link capacity
 *   class  5072:<m>    one per reservation, m in 0x10..0xfffe,
 *                      rate = guarantee, ceil = limit, parent 5072:1
 *   filter 5072: prio <m> u32   Ethernet address -> class 5072:<m>
 * A root qdisc with another handle is someone else's: we refuse (-EBUSY)
 * rather than replace it, and we only ever delete a root whose handle is ours.
 */
#ifndef PRESCIENT_ENFORCE_TC_H
#define PRESCIENT_ENFORCE_TC_H

#include <stdint.h>

#define ENFORCE_TC_MAJOR      0x5072U
#define ENFORCE_TC_LINK_MINOR 0x1U
#define ENFORCE_TC_MINOR_MIN  0x10U
#define ENFORCE_TC_MINOR_MAX  0xfffeU

struct nl_sock;

/* A connected NETLINK_ROUTE socket in the caller's network namespace. */
int enforce_tc_socket_open(struct nl_sock **ret);
void enforce_tc_socket_close(struct nl_sock *sk);

/*
 * Creates or updates our root HTB qdisc and the link class on ifname.
 * default_minor: the class that gets unclassified traffic (0: none, the
 * traffic then bypasses shaping). -EBUSY when a foreign root qdisc exists.
 * Re-running it with the same default keeps every class; a different default
 * rebuilds the hierarchy (HTB cannot change it in place) and the caller
 * re-applies its classes.
 */
int enforce_tc_setup(struct nl_sock *sk, const char *ifname, uint64_t link_bits_per_sec,
		     uint32_t default_minor);

/* Creates or replaces class 5072:minor; rate <= ceil <= the link class's rate. */
int enforce_tc_class_set(struct nl_sock *sk, const char *ifname, uint32_t minor,
			 uint64_t rate_bits_per_sec, uint64_t ceil_bits_per_sec);

/* Reads back a class's rate and ceil as the kernel holds them; -ENOENT when absent. */
int enforce_tc_class_get(struct nl_sock *sk, const char *ifname, uint32_t minor,
			 uint64_t *ret_rate_bits_per_sec, uint64_t *ret_ceil_bits_per_sec);

/*
 * Which Ethernet address picks a reservation's traffic: the destination on a
 * device that sends toward the VMs (a tap, a bridge port), the source on an
 * IFB that carries what the VMs send.
 */
enum enforce_tc_match {
	ENFORCE_TC_MATCH_DST_MAC,
	ENFORCE_TC_MATCH_SRC_MAC,
	ENFORCE_TC_NR_MATCHES,
};

/*
 * Sends frames with that address to class 5072:minor: a u32 filter at
 * priority minor, replaced when it exists (frames fall to the default class
 * for the instant between removal and addition).
 */
int enforce_tc_filter_set(struct nl_sock *sk, const char *ifname, uint32_t minor,
			  enum enforce_tc_match match, const uint8_t mac[6]);
/*
 * Sends frames with any of these addresses to class 5072:minor: one u32
 * filter per address, all at priority minor, replacing what was there
 * (n_macs 0 leaves none). A VM with several NICs has one class and all its
 * addresses in it.
 */
int enforce_tc_filter_set_macs(struct nl_sock *sk, const char *ifname, uint32_t minor,
			       enum enforce_tc_match match, const uint8_t (*macs)[6],
			       size_t n_macs);
/* Removes the class's filters; 0 when they are already gone. */
int enforce_tc_filter_remove(struct nl_sock *sk, const char *ifname, uint32_t minor);

/*
 * The minors (ENFORCE_TC_MINOR_MIN..MAX) of the classes of ours on ifname,
 * to adopt or sweep what an earlier run left; none when there is no
 * hierarchy. The caller frees *ret_minors.
 */
int enforce_tc_class_list(struct nl_sock *sk, const char *ifname, uint32_t **ret_minors,
			  size_t *ret_n);

/* Removes class 5072:minor and its filter; 0 when they are already gone. */
int enforce_tc_class_remove(struct nl_sock *sk, const char *ifname, uint32_t minor);

/* Removes our root qdisc (and every class under it); 0 when it is not there. */
int enforce_tc_teardown(struct nl_sock *sk, const char *ifname);

#endif
