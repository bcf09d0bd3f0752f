/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Minimal assertions for unit tests: a failed check prints where and why and
 * the test exits 1 at the end; test_skip() exits 77 with a reason.
 */
#ifndef PRESCIENT_TESTS_TAP_H
#define PRESCIENT_TESTS_TAP_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int test_failures;

#define check(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define check_int_eq(a, b)                                                                         \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
				__LINE__, #a, _a, #b, _b);                                         \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define check_double_near(a, b, tol)                                                               \
	do {                                                                                       \
		double _a = (a), _b = (b);                                                         \
		if (!(fabs(_a - _b) <= (tol))) {                                                   \
			fprintf(stderr, "%s:%d: %s == %.9g, expected %.9g +- %g\n", __FILE__,      \
				__LINE__, #a, _a, _b, (double)(tol));                              \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

#define check_str_eq(a, b)                                                                         \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b)) {                                                \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");             \
			test_failures++;                                                           \
		}                                                                                  \
	} while (0)

static inline void test_skip(const char *why)
{
	fprintf(stderr, "SKIP: %s\n", why);
	exit(77);
}

static inline int test_result(void)
{
	if (test_failures)
		fprintf(stderr, "%d check(s) failed\n", test_failures);
	return test_failures ? 1 : 0;
}

#endif
