// SPDX-License-Identifier: GPL-2.0-or-later
/* CPU allocation through the hypervisor plugin's scheduler parameters. */
#include <errno.h>
#include <math.h>

#include "enforce.h"
#include "log.h"

#define QUOTA_MIN_US 1000

int64_t enforce_cores_to_quota_us(double cores, uint64_t period_us)
{
	double q = cores * (double)period_us;

	if (!isfinite(q) || q < QUOTA_MIN_US)
		return QUOTA_MIN_US;
	return (int64_t)llround(q);
}

double enforce_tune_to_cores(const struct hv_cpu_tune *tune)
{
	if (tune->quota_us < 0 || tune->period_us == 0)
		return NAN;
	return (double)tune->quota_us / (double)tune->period_us;
}

int enforce_cpu_apply(const struct hv_ops *ops, struct hv *hv, const struct hv_vm *vm, double cores,
		      uint64_t period_us, bool dry_run)
{
	struct hv_cpu_tune tune = {
		.period_us = period_us,
		.quota_us = enforce_cores_to_quota_us(cores, period_us),
	};
	int r;

	if (!isfinite(cores) || cores <= 0 || period_us == 0)
		return -EINVAL;
	if (dry_run) {
		log_info("enforce: dry-run: would set %s CPU to %.2f cores (quota %lld us per %llu "
			 "us)",
			 vm->name, cores, (long long)tune.quota_us, (unsigned long long)period_us);
		return 0;
	}
	r = ops->set_cpu_tune(hv, vm->uuid, &tune);
	if (r < 0)
		return log_warning_errno(r, "enforce: cannot set %s CPU quota to %lld us: %m",
					 vm->name, (long long)tune.quota_us);
	log_info("enforce: %s CPU set to %.2f cores (quota %lld us per %llu us)", vm->name, cores,
		 (long long)tune.quota_us, (unsigned long long)period_us);
	return 0;
}
