// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * enforce_cpu_apply() against a recording stand-in for the plugin: this test
 * checks the conversion and the dry-run contract only; the real libvirt path
 * is covered by the integration test, which reads the quota back from
 * libvirt and from the VM's cgroup.
 */
#include <errno.h>
#include <string.h>

#include "enforce.h"
#include "tap.h"

static struct hv_cpu_tune last_tune;
static char last_uuid[HV_UUID_LEN + 1];
static int n_calls, next_result;

static int rec_set_cpu_tune(struct hv *hv, const char *uuid, const struct hv_cpu_tune *tune)
{
	n_calls++;
	last_tune = *tune;
	snprintf(last_uuid, sizeof(last_uuid), "%s", uuid);
	return next_result;
}

static const struct hv_ops rec_ops = { .name = "recorder", .set_cpu_tune = rec_set_cpu_tune };

int main(void)
{
	struct hv_vm vm = { .uuid = "c7a5fdbd-cdaf-9455-926a-d65c16db1809", .name = "g1" };
	struct hv_cpu_tune t = { .period_us = 100000, .quota_us = 150000 };

	check_int_eq(enforce_cores_to_quota_us(1.5, 100000), 150000);
	check_int_eq(enforce_cores_to_quota_us(0.001, 100000), 1000); /* libvirt's minimum */
	check_int_eq(enforce_cores_to_quota_us(0.25, 50000), 12500);
	check_double_near(enforce_tune_to_cores(&t), 1.5, 1e-12);
	t.quota_us = -1;
	check(isnan(enforce_tune_to_cores(&t)));

	check_int_eq(enforce_cpu_apply(&rec_ops, NULL, &vm, 0.5, 100000, true), 0);
	check_int_eq(n_calls, 0); /* dry-run touches nothing */

	check_int_eq(enforce_cpu_apply(&rec_ops, NULL, &vm, 0.5, 100000, false), 0);
	check_int_eq(n_calls, 1);
	check_int_eq(last_tune.quota_us, 50000);
	check_int_eq(last_tune.period_us, 100000);
	check_str_eq(last_uuid, vm.uuid);

	next_result = -ENOENT;
	check_int_eq(enforce_cpu_apply(&rec_ops, NULL, &vm, 0.7, 100000, false), -ENOENT);
	check_int_eq(enforce_cpu_apply(&rec_ops, NULL, &vm, -1, 100000, false), -EINVAL);
	check_int_eq(enforce_cpu_apply(&rec_ops, NULL, &vm, NAN, 100000, false), -EINVAL);
	check_int_eq(n_calls, 2);
	return test_result();
}
