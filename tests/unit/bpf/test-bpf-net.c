// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The net probe against ground truth, in a fresh network namespace that
 * nothing outside the machine can reach: a veth pair pa <-> pb stands in for
 * two VMs' taps; a known number of frames of known size sent on pa are the
 * first VM's received bytes (host transmit = guest receive) and the second
 * VM's sent bytes (host receive on pb), and agree with the devices' own
 * counters (what libvirt reports). The frames carry an unhandled ethertype,
 * so the stack drops each on pb: the drop counter sees them. Needs root.
 */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_link.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "bpf-test.h"

#define FRAME_BYTES 1000
#define NR_FRAMES   2000
#define ETH_P_TEST  0x88b5 /* IEEE local experimental */

static int sh(const char *cmd)
{
	int r = system(cmd);

	if (r != 0)
		fprintf(stderr, "'%s' failed: %d\n", cmd, r);
	return r;
}

/* The device's own transmit counter, in this namespace (sysfs shows the old one). */
static uint64_t dev_tx_bytes(const char *dev)
{
	struct ifaddrs *ifa, *i;
	uint64_t v = 0;

	if (getifaddrs(&ifa) < 0)
		return 0;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_PACKET && i->ifa_data &&
		    strcmp(i->ifa_name, dev) == 0)
			v = ((struct rtnl_link_stats *)i->ifa_data)->tx_bytes;
	freeifaddrs(ifa);
	return v;
}

static int send_frames(void)
{
	struct sockaddr_ll to = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(ETH_P_TEST),
		.sll_ifindex = (int)if_nametoindex("pa"),
		.sll_halen = ETH_ALEN,
		.sll_addr = { 0x02, 0, 0, 0, 0, 0x0b },
	};
	unsigned char frame[FRAME_BYTES] = {
		0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, ETH_P_TEST >> 8, ETH_P_TEST & 0xff
	};
	int fd = socket(AF_PACKET, SOCK_RAW, 0);

	if (fd < 0)
		return -1;
	for (int i = 0; i < NR_FRAMES; i++)
		if (sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to)) !=
		    (ssize_t)sizeof(frame)) {
			perror("sendto");
			close(fd);
			return -1;
		}
	close(fd);
	return 0;
}

int main(void)
{
	const uint64_t bytes = (uint64_t)FRAME_BYTES * NR_FRAMES;
	struct collect_bpf_vm va, vb;
	struct collect_bpf *b;
	struct hv_vm hv[2];
	uint64_t pa_tx;

	bpf_test_require_kernel();
	if (unshare(CLONE_NEWNET) < 0)
		test_skip("cannot create a network namespace");
	/* No IPv6 autoconfiguration chatter on the pair. */
	if (sh("sysctl -qw net.ipv6.conf.default.disable_ipv6=1 net.ipv6.conf.all.disable_ipv6=1 "
	       ">/dev/null 2>&1 || true") ||
	    sh("ip link add pa address 02:00:00:00:00:0a type veth peer name pb address "
	       "02:00:00:00:00:0b") ||
	    sh("ip link set pa up && ip link set pb up"))
		test_skip("cannot set up a veth pair (iproute2?)");

	b = bpf_test_open();
	bpf_test_vm(&hv[0], "net-a", getpid(), 0);
	snprintf(hv[0].taps[0], HV_IFNAME_MAX, "pa");
	hv[0].nr_taps = 1;
	bpf_test_vm(&hv[1], "net-b", getppid(), 0);
	snprintf(hv[1].taps[0], HV_IFNAME_MAX, "pb");
	hv[1].nr_taps = 1;
	check_int_eq(collect_bpf_set_vms(b, hv, 2), 0);

	pa_tx = dev_tx_bytes("pa");
	check_int_eq(send_frames(), 0);
	usleep(200 * 1000); /* the receive side runs from the backlog softirq */
	pa_tx = dev_tx_bytes("pa") - pa_tx;

	check_int_eq(collect_bpf_read_vm(b, 0, &va), 0);
	check_int_eq(collect_bpf_read_vm(b, 1, &vb), 0);
	fprintf(stderr,
		"net: sent %llu bytes in %d frames; pa: rx %llu bytes %llu pkts (device tx %llu); "
		"pb: tx %llu bytes %llu pkts, drops %llu\n",
		(unsigned long long)bytes, NR_FRAMES, (unsigned long long)va.net_rx_bytes,
		(unsigned long long)va.net_rx_pkts, (unsigned long long)pa_tx,
		(unsigned long long)vb.net_tx_bytes, (unsigned long long)vb.net_tx_pkts,
		(unsigned long long)vb.net_drops);
	check_double_near((double)va.net_rx_bytes, (double)bytes, bytes * 0.01);
	check_double_near((double)va.net_rx_pkts, NR_FRAMES, NR_FRAMES * 0.01);
	check_double_near((double)va.net_rx_bytes, (double)pa_tx, pa_tx * 0.01);
	check_double_near((double)vb.net_tx_bytes, (double)bytes, bytes * 0.01);
	check_double_near((double)vb.net_tx_pkts, NR_FRAMES, NR_FRAMES * 0.01);
	check(vb.net_drops >= NR_FRAMES * 99 / 100);
	/* The other direction saw nothing of this. */
	check(va.net_tx_bytes < bytes / 100);
	check(vb.net_rx_bytes < bytes / 100);

	collect_bpf_close(b);
	return test_result();
}
