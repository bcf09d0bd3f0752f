// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The collector's netlink path against the real kernel: in a network
 * namespace of its own (ip netns add; nothing leaves it) the test makes a
 * veth pair, treats one end as a VM's tap, sends a known number of raw
 * Ethernet frames in each direction (AF_PACKET, a local experimental
 * EtherType, IPv6 off so the kernel sends nothing of its own) and checks the
 * exact guest-view rates: the tap's rx is the guest's tx. Re-creating the
 * pair (new ifindex, counters from zero) must give NAN for one tick. Needs
 * root and iproute2; exits 77 otherwise.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collect.h"
#include "tap.h"
#include "util.h"

#define SEC	  1000000ULL
#define ETHERTYPE 0x88b5 /* IEEE local experimental */

static char ns_name[64];

static void ns_delete(void)
{
	char cmd[128];

	if (!ns_name[0])
		return;
	snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ns_name);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not delete netns %s\n", ns_name);
	ns_name[0] = '\0';
}

static void sh(const char *cmd)
{
	if (system(cmd) != 0) {
		fprintf(stderr, "command failed: %s\n", cmd);
		ns_delete();
		exit(1);
	}
}

static void make_pair(void)
{
	sh("ip link add pc-tap type veth peer name pc-peer && ip link set pc-tap up && "
	   "ip link set pc-peer up");
	usleep(200000); /* carrier */
}

/* Sends n frames of len bytes (Ethernet header included) out of ifname. */
static void send_frames(const char *ifname, int n, size_t len)
{
	struct sockaddr_ll sll = { 0 };
	unsigned char frame[1514] = { 0 };
	int fd;

	if (len > sizeof(frame) || len < ETH_HLEN)
		exit(1);
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETHERTYPE));
	if (fd < 0) {
		perror("AF_PACKET");
		ns_delete();
		exit(1);
	}
	memset(frame, 0xff, 6);				  /* broadcast destination */
	memcpy(frame + 6, "\x02\x00\x00\x00\x00\x01", 6); /* local source */
	frame[12] = ETHERTYPE >> 8;
	frame[13] = ETHERTYPE & 0xff;
	sll.sll_family = AF_PACKET;
	sll.sll_protocol = htons(ETHERTYPE);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_halen = 6;
	memset(sll.sll_addr, 0xff, 6);
	for (int i = 0; i < n; i++)
		if (sendto(fd, frame, len, 0, (struct sockaddr *)&sll, sizeof(sll)) !=
		    (ssize_t)len) {
			perror("sendto");
			close(fd);
			ns_delete();
			exit(1);
		}
	close(fd);
	usleep(100000); /* veth delivers through a backlog: let rx counters settle */
}

int main(void)
{
	struct collect_config cfg = { .use_netlink = true };
	struct collect_sample s[2];
	struct hv_vm_stats st[2];
	struct hv_vm vms[2];
	struct collect *c = NULL;
	char path[128];
	int fd;

	if (geteuid() != 0)
		test_skip("needs root for a network namespace");
	if (system("ip -V >/dev/null 2>&1") != 0)
		test_skip("needs iproute2 (ip)");

	snprintf(ns_name, sizeof(ns_name), "prescient-collect-%d", (int)getpid());
	snprintf(path, sizeof(path), "ip netns add %s", ns_name);
	if (system(path) != 0) {
		ns_name[0] = '\0';
		test_skip("cannot create a network namespace");
	}
	snprintf(path, sizeof(path), "/run/netns/%s", ns_name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET) < 0) {
		perror("setns");
		ns_delete();
		return 1;
	}
	close(fd);
	/* Now in the namespace: no IPv6 autoconfiguration chatter on new links. */
	util_file_write_string("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	util_file_write_string("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	make_pair();

	check_int_eq(collect_new(&cfg, &c), 0);
	if (!c) {
		ns_delete();
		return 1;
	}
	memset(vms, 0, sizeof(vms));
	snprintf(vms[0].uuid, sizeof(vms[0].uuid), "00000000-0000-0000-0000-0000000000a1");
	snprintf(vms[0].name, sizeof(vms[0].name), "veth-vm");
	vms[0].nr_taps = 1;
	snprintf(vms[0].taps[0], sizeof(vms[0].taps[0]), "pc-tap");
	snprintf(vms[1].uuid, sizeof(vms[1].uuid), "00000000-0000-0000-0000-0000000000a2");
	snprintf(vms[1].name, sizeof(vms[1].name), "ghost-vm");
	vms[1].nr_taps = 2;
	snprintf(vms[1].taps[0], sizeof(vms[1].taps[0]), "pc-tap");
	snprintf(vms[1].taps[1], sizeof(vms[1].taps[1]), "pc-missing");

	/* libvirt also counts both VMs' traffic: netlink must win where it has the taps. */
	for (int i = 0; i < 2; i++) {
		memset(&st[i], 0xff, sizeof(st[i]));
		memcpy(st[i].uuid, vms[i].uuid, sizeof(st[i].uuid));
		st[i].net_rx_bytes = st[i].net_tx_bytes = 1000;
	}
	check_int_eq(collect_sample(c, vms, 2, st, 2, 1 * SEC, s), 0);
	check(isnan(s[0].net_rx_bps));
	check(collect_sources_active(c) & (1u << COLLECT_SRC_NETLINK));

	/* Guest sends 100 x 1000 bytes (host rx on the tap), receives 50 x 500. */
	send_frames("pc-peer", 100, 1000);
	send_frames("pc-tap", 50, 500);
	for (int i = 0; i < 2; i++) {
		st[i].net_rx_bytes += 7000;
		st[i].net_tx_bytes += 9000;
	}
	check_int_eq(collect_sample(c, vms, 2, st, 2, 3 * SEC, s), 0);
	fprintf(stderr, "guest rx %.1f B/s, tx %.1f B/s, sources %#x\n", s[0].net_rx_bps,
		s[0].net_tx_bps, s[0].sources);
	check_double_near(s[0].net_rx_bps, 50 * 500 / 2.0, 0);
	check_double_near(s[0].net_tx_bps, 100 * 1000 / 2.0, 0);
	check_int_eq(s[0].sources, 1u << COLLECT_SRC_NETLINK);
	/* A VM with a tap that is not there gets no partial sum: libvirt's numbers. */
	check_double_near(s[1].net_rx_bps, 3500, 0);
	check_double_near(s[1].net_tx_bps, 4500, 0);
	check_int_eq(s[1].sources, 1u << COLLECT_SRC_LIBVIRT);

	/* The tap is re-created (VM restarted): new ifindex, counters from zero. */
	sh("ip link del pc-tap");
	make_pair();
	send_frames("pc-peer", 10, 100);
	check_int_eq(collect_sample(c, vms, 2, NULL, 0, 4 * SEC, s), 0);
	check(isnan(s[0].net_tx_bps));
	send_frames("pc-peer", 20, 100);
	check_int_eq(collect_sample(c, vms, 2, NULL, 0, 5 * SEC, s), 0);
	check_double_near(s[0].net_tx_bps, 20 * 100, 0);
	check_double_near(s[0].net_rx_bps, 0, 0);

	collect_free(c);
	ns_delete();
	return test_result();
}
