// SPDX-License-Identifier: GPL-2.0-or-later
/* Strict parsers, atomic writes and bounded reads of userspace/lib/util.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cleanup.h"
#include "util.h"
#include "tap.h"

static void test_parsers(void)
{
	uint64_t u;
	int64_t i;
	double d;
	bool b;

	check_int_eq(util_parse_u64("42\n", &u), 0);
	check_int_eq(u, 42);
	check_int_eq(util_parse_u64("-1", &u), -EINVAL);
	check_int_eq(util_parse_u64("12abc", &u), -EINVAL);
	check_int_eq(util_parse_u64("", &u), -EINVAL);
	check_int_eq(util_parse_u64("99999999999999999999999", &u), -ERANGE);
	check_int_eq(util_parse_i64("-17", &i), 0);
	check_int_eq(i, -17);
	check_int_eq(util_parse_double("0.25", &d), 0);
	check_double_near(d, 0.25, 0);
	check_int_eq(util_parse_double("nan", &d), -EINVAL);
	check_int_eq(util_parse_double("1e999", &d), -ERANGE);
	check_int_eq(util_parse_bool("Yes", &b), 0);
	check(b);
	check_int_eq(util_parse_bool("off", &b), 0);
	check(!b);
	check_int_eq(util_parse_bool("maybe", &b), -EINVAL);

	check_int_eq(util_parse_duration_usec("500ms", &u), 0);
	check_int_eq(u, 500000);
	check_int_eq(util_parse_duration_usec("2m", &u), 0);
	check_int_eq(u, 120000000);
	check_int_eq(util_parse_duration_usec("1.5", &u), 0);
	check_int_eq(u, 1500000);
	check_int_eq(util_parse_duration_usec("3 parsecs", &u), -EINVAL);
	check_int_eq(util_parse_size_bytes("512M", &u), 0);
	check_int_eq(u, 512ULL << 20);
	check_int_eq(util_parse_size_bytes("4096", &u), 0);
	check_int_eq(u, 4096);
	check_int_eq(util_parse_size_bytes("-1G", &u), -EINVAL);
}

static void test_files(void)
{
	char dir[] = "/tmp/prescient-test-util.XXXXXX";
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;

	check(mkdtemp(dir) != NULL);
	check(asprintf(&path, "%s/a/b/c", dir) > 0);
	check_int_eq(util_mkdir_p(path, 0700), 0);
	free(path);
	check(asprintf(&path, "%s/file", dir) > 0);
	check_int_eq(util_file_write_atomic(path, "hello", 5), 0);
	check_int_eq(util_file_read(path, 1024, &buf, &len), 0);
	check_int_eq(len, 5);
	check_str_eq(buf, "hello");
	free(buf);
	buf = NULL;
	check_int_eq(util_file_read(path, 3, &buf, &len), -EFBIG);
	check(buf == NULL);
	check_int_eq(util_file_read("/nonexistent/x", 10, &buf, &len), -ENOENT);
	unlink(path);
	check(system("rm -rf /tmp/prescient-test-util.*") == 0);
}

int main(void)
{
	char small[4];

	test_parsers();
	test_files();
	check_int_eq(util_strlcpy(small, "abc", sizeof(small)), 0);
	check_int_eq(util_strlcpy(small, "abcd", sizeof(small)), -ENAMETOOLONG);
	check_str_eq(small, "abc");
	check(util_uuid_valid("c7a5fdbd-cdaf-9455-926A-d65c16db1809"));
	check(!util_uuid_valid("c7a5fdbd-cdaf-9455-926a-d65c16db180"));
	check(!util_uuid_valid("c7a5fdbd-cdaf-9455-926a-d65c16db1809x"));
	check(!util_uuid_valid("c7a5fdbdxcdaf-9455-926a-d65c16db1809"));
	check(!util_uuid_valid("g7a5fdbd-cdaf-9455-926a-d65c16db1809"));
	check(!util_uuid_valid(NULL));
	return test_result();
}
