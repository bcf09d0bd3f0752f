// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * VM slot assignment: stable by UUID across reordering, freed when a VM
 * leaves, reused (and reported fresh) by a newcomer, shared by duplicate
 * UUIDs, and bounded (VMs beyond the last slot get none and are counted).
 */
#include <string.h>

#include "bpf_slots.h"
#include "tap.h"

static struct hv_vm vms[8];

static void vm_set(int i, const char *uuid)
{
	memset(&vms[i], 0, sizeof(vms[i]));
	strncpy(vms[i].uuid, uuid, HV_UUID_LEN);
}

int main(void)
{
	struct collect_bpf_slots s;
	uint32_t slots[8], fresh[8];
	size_t nf;

	check_int_eq(collect_bpf_slots_init(&s, 3), 0);

	vm_set(0, "a");
	vm_set(1, "b");
	check_int_eq(collect_bpf_slots_assign(&s, vms, 2, slots, fresh, &nf), 0);
	check_int_eq(slots[0], 0);
	check_int_eq(slots[1], 1);
	check_int_eq(nf, 2);

	/* Reordered: same slots, nothing fresh. */
	vm_set(0, "b");
	vm_set(1, "a");
	check_int_eq(collect_bpf_slots_assign(&s, vms, 2, slots, fresh, &nf), 0);
	check_int_eq(slots[0], 1);
	check_int_eq(slots[1], 0);
	check_int_eq(nf, 0);

	/* a leaves, c arrives: c takes a's slot, fresh. */
	vm_set(0, "c");
	vm_set(1, "b");
	check_int_eq(collect_bpf_slots_assign(&s, vms, 2, slots, fresh, &nf), 0);
	check_int_eq(slots[0], 0);
	check_int_eq(slots[1], 1);
	check_int_eq(nf, 1);
	check_int_eq(fresh[0], 0);

	/* Duplicate UUID shares one slot; fourth distinct VM overflows 3 slots. */
	vm_set(0, "c");
	vm_set(1, "b");
	vm_set(2, "d");
	vm_set(3, "d");
	vm_set(4, "e");
	check_int_eq(collect_bpf_slots_assign(&s, vms, 5, slots, fresh, &nf), 1);
	check_int_eq(slots[2], 2);
	check_int_eq(slots[3], 2);
	check_int_eq(slots[4], COLLECT_BPF_SLOT_NONE);
	check_int_eq(nf, 1);

	/* Empty list frees everything. */
	check_int_eq(collect_bpf_slots_assign(&s, vms, 0, slots, fresh, &nf), 0);
	vm_set(0, "e");
	check_int_eq(collect_bpf_slots_assign(&s, vms, 1, slots, fresh, &nf), 0);
	check_int_eq(slots[0], 0);
	check_int_eq(nf, 1);

	collect_bpf_slots_done(&s);
	collect_bpf_slots_done(&s); /* idempotent */
	return test_result();
}
