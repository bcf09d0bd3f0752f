// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RCU snapshots: readers on other threads always see a complete snapshot
 * (its generation matches the marker written into its VMs), never a freed
 * one, while the writer publishes thousands of them; lookups by UUID or name.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "state.h"
#include "tap.h"

static atomic_int stop;
static atomic_long reads, torn;

static void *reader(void *arg)
{
	struct state *st = arg;

	state_thread_register();
	while (!atomic_load(&stop)) {
		const struct state_snapshot *s = state_read_begin(st);

		if (s) {
			for (size_t i = 0; i < s->n_vms; i++)
				if (s->vms[i].cpu.n_raises != s->generation)
					atomic_fetch_add(&torn, 1);
			atomic_fetch_add(&reads, 1);
		}
		state_read_end();
	}
	state_thread_unregister();
	return NULL;
}

static struct state_snapshot *make_snapshot(uint64_t gen, size_t n)
{
	struct state_snapshot *s = calloc(1, sizeof(*s));

	s->n_vms = n;
	s->vms = calloc(n, sizeof(*s->vms));
	for (size_t i = 0; i < n; i++) {
		snprintf(s->vms[i].id.name, sizeof(s->vms[i].id.name), "vm%zu", i);
		snprintf(s->vms[i].id.uuid, sizeof(s->vms[i].id.uuid),
			 "00000000-0000-0000-0000-%012u", (unsigned)i);
		s->vms[i].cpu.n_raises = gen; /* the generation state_publish will give it */
	}
	return s;
}

int main(void)
{
	pthread_t th[2];
	struct state *st;
	const struct state_snapshot *s;

	check_int_eq(state_new(&st), 0);
	s = state_read_begin(st);
	check(s == NULL);
	state_read_end();

	for (int i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, reader, st);
	for (uint64_t g = 1; g <= 2000; g++)
		state_publish(st, make_snapshot(g, 1 + g % 7));
	atomic_store(&stop, 1);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	check(atomic_load(&reads) > 0);
	check_int_eq(atomic_load(&torn), 0);

	state_thread_register();
	s = state_read_begin(st);
	check_int_eq(s->generation, 2000);
	check(state_snapshot_find_vm(s, "vm3") == &s->vms[3]);
	check(state_snapshot_find_vm(s, "00000000-0000-0000-0000-000000000002") == &s->vms[2]);
	check(state_snapshot_find_vm(s, "nope") == NULL);
	state_read_end();
	state_thread_unregister();

	check_str_eq(state_resource_to_string(STATE_RES_DISK_WR), "disk-write");
	state_free(st);
	return test_result();
}
