/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Stable VM slots for the probes' per-VM counter arrays. A VM keeps its slot
 * (by UUID) across collect_bpf_set_vms() calls, so its cumulative counters
 * survive the caller reordering its list; a VM that leaves frees its slot,
 * and a slot handed to a new VM is reported as fresh so its counters are
 * zeroed first. Pure: no BPF, no I/O.
 */
#ifndef PRESCIENT_COLLECT_BPF_SLOTS_H
#define PRESCIENT_COLLECT_BPF_SLOTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv.h"

#define COLLECT_BPF_SLOT_NONE UINT32_MAX

struct collect_bpf_slots {
	uint32_t nr_slots;
	bool *used;
	char (*uuid)[HV_UUID_LEN + 1];
};

int collect_bpf_slots_init(struct collect_bpf_slots *s, uint32_t nr_slots);
void collect_bpf_slots_done(struct collect_bpf_slots *s);
/*
 * Gives each of the n VMs a slot in ret_slots[n] (COLLECT_BPF_SLOT_NONE when
 * all are taken) and lists in ret_fresh (room for n) the slots newly handed
 * out, whose counters must be cleared. Returns how many VMs got no slot.
 */
int collect_bpf_slots_assign(struct collect_bpf_slots *s, const struct hv_vm *vms, size_t n,
			     uint32_t *ret_slots, uint32_t *ret_fresh, size_t *ret_nr_fresh);

#endif
