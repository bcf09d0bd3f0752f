/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The ledger's insides, shared by lease.c and lease_ckpt.c only. */
#ifndef PRESCIENT_PLAN_LEASE_INTERNAL_H
#define PRESCIENT_PLAN_LEASE_INTERNAL_H

#include <pthread.h>

#include "lease.h"

struct ledger {
	/* Covers everything below: decisions and bookings happen under it. */
	pthread_mutex_t lock;
	/* Serialises checkpoint writers, outside lock so admission never waits on fsync. */
	pthread_mutex_t ckpt_lock;
	struct ledger_params params;
	struct pool pool;
	uint64_t generation;
	uint64_t next_id;
	uint64_t changed_usec;
	struct admit_state state; /* what the live leases hold */
	struct lease *leases;
	size_t n_leases;
	size_t cap;
};

static inline bool lease_is_live(const struct lease *l)
{
	return l->state == LEASE_OFFERED || l->state == LEASE_CONFIRMED || l->state == LEASE_ACTIVE;
}

/* Rebuilds l->state from the live leases (after loads and pool changes). Lock held. */
void ledger_state_rebuild_locked(struct ledger *l);

#endif
