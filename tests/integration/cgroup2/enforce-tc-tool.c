// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * A command-line face of the tc back end for test-tc-shaping.sh, run inside
 * the test's network namespace:
 *   prescient-enforce-tc setup IFNAME LINK_BITS_PER_SEC DEFAULT_MINOR
 *   prescient-enforce-tc class IFNAME MINOR RATE_BITS_PER_SEC CEIL_BITS_PER_SEC
 *   prescient-enforce-tc get IFNAME MINOR        (prints "rate ceil" in bit/s)
 *   prescient-enforce-tc filter IFNAME MINOR dst|src MAC
 *   prescient-enforce-tc unfilter IFNAME MINOR
 *   prescient-enforce-tc remove IFNAME MINOR
 *   prescient-enforce-tc teardown IFNAME
 * Minors are hexadecimal, as tc prints them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tc.h"
#include "util.h"

static int parse_minor(const char *s, uint32_t *ret)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 16);
	if (errno || *end || v > 0xffff)
		return -EINVAL;
	*ret = (uint32_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	struct nl_sock *sk = NULL;
	uint64_t a = 0, b = 0;
	uint32_t minor = 0;
	int r = -EINVAL;

	if (argc < 3) {
		fprintf(stderr, "usage: %s setup|class|get|remove|teardown IFNAME ...\n", argv[0]);
		return 2;
	}
	r = enforce_tc_socket_open(&sk);
	if (r < 0) {
		fprintf(stderr, "netlink: %s\n", strerror(-r));
		return 1;
	}
	if (strcmp(argv[1], "setup") == 0 && argc == 5) {
		if (util_parse_u64(argv[3], &a) == 0 && parse_minor(argv[4], &minor) == 0)
			r = enforce_tc_setup(sk, argv[2], a, minor);
	} else if (strcmp(argv[1], "class") == 0 && argc == 6) {
		if (parse_minor(argv[3], &minor) == 0 && util_parse_u64(argv[4], &a) == 0 &&
		    util_parse_u64(argv[5], &b) == 0)
			r = enforce_tc_class_set(sk, argv[2], minor, a, b);
	} else if (strcmp(argv[1], "get") == 0 && argc == 4) {
		if (parse_minor(argv[3], &minor) == 0)
			r = enforce_tc_class_get(sk, argv[2], minor, &a, &b);
		if (r == 0)
			printf("%" PRIu64 " %" PRIu64 "\n", a, b);
	} else if (strcmp(argv[1], "filter") == 0 && argc == 6) {
		uint8_t mac[6];
		bool dst = strcmp(argv[4], "dst") == 0;

		if (parse_minor(argv[3], &minor) == 0 && (dst || strcmp(argv[4], "src") == 0) &&
		    sscanf(argv[5], "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0], &mac[1], &mac[2],
			   &mac[3], &mac[4], &mac[5]) == 6)
			r = enforce_tc_filter_set(
				sk, argv[2], minor,
				dst ? ENFORCE_TC_MATCH_DST_MAC : ENFORCE_TC_MATCH_SRC_MAC, mac);
	} else if (strcmp(argv[1], "unfilter") == 0 && argc == 4) {
		if (parse_minor(argv[3], &minor) == 0)
			r = enforce_tc_filter_remove(sk, argv[2], minor);
	} else if (strcmp(argv[1], "remove") == 0 && argc == 4) {
		if (parse_minor(argv[3], &minor) == 0)
			r = enforce_tc_class_remove(sk, argv[2], minor);
	} else if (strcmp(argv[1], "teardown") == 0 && argc == 3) {
		r = enforce_tc_teardown(sk, argv[2]);
	}
	enforce_tc_socket_close(sk);
	if (r < 0) {
		fprintf(stderr, "%s %s: %s\n", argv[1], argv[2], strerror(-r));
		return 1;
	}
	return 0;
}
