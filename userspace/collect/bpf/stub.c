// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The BPF side of the collector when the project is built with -Dbpf=disabled:
 * every call reports -EOPNOTSUPP and the collector polls instead.
 */
#include <errno.h>

#include "collect_bpf.h"

int collect_bpf_open(struct collect_bpf **ret)
{
	return -EOPNOTSUPP;
}

void collect_bpf_close(struct collect_bpf *b)
{
}

const char *collect_bpf_status(const struct collect_bpf *b)
{
	return "BPF support not built (-Dbpf=disabled)";
}

int collect_bpf_set_vms(struct collect_bpf *b, const struct hv_vm *vms, size_t n)
{
	return -EOPNOTSUPP;
}

int collect_bpf_read_vm(struct collect_bpf *b, size_t index, struct collect_bpf_vm *ret)
{
	return -EOPNOTSUPP;
}
