// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Slot assignment for the BPF owners (see bpf_slots.h). Linear scans: a host
 * has at most a few hundred VMs and this runs once per VM list change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bpf_slots.h"

int collect_bpf_slots_init(struct collect_bpf_slots *s, uint32_t nr_slots)
{
	s->used = calloc(nr_slots, sizeof(*s->used));
	s->uuid = calloc(nr_slots, sizeof(*s->uuid));
	if (!s->used || !s->uuid) {
		collect_bpf_slots_done(s);
		return -ENOMEM;
	}
	s->nr_slots = nr_slots;
	return 0;
}

void collect_bpf_slots_done(struct collect_bpf_slots *s)
{
	free(s->used);
	free(s->uuid);
	s->used = NULL;
	s->uuid = NULL;
	s->nr_slots = 0;
}

static uint32_t slot_find(const struct collect_bpf_slots *s, const char *uuid)
{
	for (uint32_t i = 0; i < s->nr_slots; i++)
		if (s->used[i] && strcmp(s->uuid[i], uuid) == 0)
			return i;
	return COLLECT_BPF_SLOT_NONE;
}

int collect_bpf_slots_assign(struct collect_bpf_slots *s, const struct hv_vm *vms, size_t n,
			     uint32_t *ret_slots, uint32_t *ret_fresh, size_t *ret_nr_fresh)
{
	size_t nr_fresh = 0;
	int missing = 0;
	bool *keep;

	keep = calloc(s->nr_slots ? s->nr_slots : 1, sizeof(*keep));
	if (!keep)
		return -ENOMEM;

	/* Known VMs keep their slot; the rest of the old slots are released. */
	for (size_t i = 0; i < n; i++) {
		ret_slots[i] = slot_find(s, vms[i].uuid);
		if (ret_slots[i] != COLLECT_BPF_SLOT_NONE)
			keep[ret_slots[i]] = true;
	}
	for (uint32_t i = 0; i < s->nr_slots; i++)
		if (!keep[i])
			s->used[i] = false;

	/* New VMs take the lowest free slot; a duplicate UUID shares the first one's. */
	for (size_t i = 0; i < n; i++) {
		uint32_t slot;

		if (ret_slots[i] != COLLECT_BPF_SLOT_NONE)
			continue;
		slot = slot_find(s, vms[i].uuid);
		if (slot == COLLECT_BPF_SLOT_NONE) {
			for (uint32_t j = 0; j < s->nr_slots; j++)
				if (!s->used[j]) {
					slot = j;
					break;
				}
			if (slot == COLLECT_BPF_SLOT_NONE) {
				missing++;
				continue;
			}
			s->used[slot] = true;
			memcpy(s->uuid[slot], vms[i].uuid, sizeof(s->uuid[slot]));
			s->uuid[slot][HV_UUID_LEN] = '\0';
			ret_fresh[nr_fresh++] = slot;
		}
		ret_slots[i] = slot;
	}
	free(keep);
	*ret_nr_fresh = nr_fresh;
	return missing;
}
