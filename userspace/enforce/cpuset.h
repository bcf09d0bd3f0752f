/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * CPU sets in the kernel's list format ("0-3,8,10-11"), as cpuset.cpus and
 * cpuset.cpus.effective show them, for the cgroupfs writer: a pin set is
 * checked against the parent's effective set before it is written, because
 * the kernel refuses CPUs outside it (-ERANGE, platform-notes §5.4).
 */
#ifndef PRESCIENT_ENFORCE_CPUSET_H
#define PRESCIENT_ENFORCE_CPUSET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENFORCE_CPUSET_MAX 2048 /* CPUs a set can name */

struct enforce_cpuset {
	uint64_t bits[ENFORCE_CPUSET_MAX / 64];
};

/*
 * Parses a list ("" or "\n" is the empty set; one trailing newline allowed).
 * Strict: no spaces, no stride syntax, ranges ascending within themselves.
 * -EINVAL on syntax, -ERANGE for a CPU >= ENFORCE_CPUSET_MAX.
 */
int enforce_cpuset_parse(const char *s, struct enforce_cpuset *ret);
/* Formats the compact list without a newline; -ENOBUFS when size is too small. */
int enforce_cpuset_format(const struct enforce_cpuset *set, char *buf, size_t size);

void enforce_cpuset_add(struct enforce_cpuset *set, unsigned cpu);
bool enforce_cpuset_has(const struct enforce_cpuset *set, unsigned cpu);
unsigned enforce_cpuset_count(const struct enforce_cpuset *set);
bool enforce_cpuset_equal(const struct enforce_cpuset *a, const struct enforce_cpuset *b);
bool enforce_cpuset_is_subset(const struct enforce_cpuset *sub, const struct enforce_cpuset *set);

#endif
