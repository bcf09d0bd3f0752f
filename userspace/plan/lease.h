/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * lease: the host's reservation ledger.
 *
 * A lease holds resources of the pool for a holder (a VM's UUID or an
 * incoming migration's id) from start to end:
 *
 *   offered --confirm--> confirmed --activate--> active --release--> released
 *      |                     |                      |
 *      +--- TTL passes ------+---- end passes ------+--------------> expired
 *
 * Granting is atomic against the pool and the overcommit policy (admit.h):
 * the ledger's mutex covers the decision and the booking, so two callers
 * racing for the last capacity cannot both win. Every change bumps the
 * ledger's generation; a request naming another generation than the current
 * one is refused with -ESTALE, so the caller re-reads and retries (as with
 * OpenStack Placement's generations). Unconfirmed leases expire after a TTL,
 * so a crashed peer or a failed migration never strands capacity. Release is
 * idempotent. Ended leases are kept for a while for explain and idempotency.
 *
 * Time is passed in by the caller (realtime microseconds): no clock is read.
 * The ledger survives restarts through an atomic, checksummed checkpoint.
 */
#ifndef PRESCIENT_PLAN_LEASE_H
#define PRESCIENT_PLAN_LEASE_H

#include <stddef.h>
#include <stdint.h>

#include "admit.h"
#include "pool.h"

#define LEASE_HOLDER_MAX 64
#define LEASE_MAX	 65536

enum lease_state {
	LEASE_OFFERED,
	LEASE_CONFIRMED,
	LEASE_ACTIVE,
	LEASE_RELEASED,
	LEASE_EXPIRED,
	LEASE_NR_STATES,
};

enum lease_holder_kind {
	LEASE_HOLDER_VM,
	LEASE_HOLDER_MIGRATION,
	LEASE_NR_HOLDER_KINDS,
};

struct lease_request {
	char holder[LEASE_HOLDER_MAX];
	enum lease_holder_kind holder_kind;
	uint64_t start_usec;
	uint64_t end_usec;   /* 0: open-ended */
	uint64_t generation; /* the ledger generation the caller read */
	struct admit_request admit;
};

struct lease {
	uint64_t id; /* > 0, never reused */
	char holder[LEASE_HOLDER_MAX];
	enum lease_holder_kind holder_kind;
	enum lease_state state;
	uint64_t start_usec;
	uint64_t end_usec;
	uint64_t offered_usec;
	uint64_t changed_usec;
	uint64_t generation; /* the ledger generation this lease's last change made */
	struct admit_request admit;
	struct admit_explanation explain; /* of the grant (not checkpointed) */
};

struct ledger_params {
	uint64_t offer_ttl_usec; /* offered leases expire after this */
	uint64_t retain_usec;	 /* ended leases are forgotten after this */
	uint32_t max_leases;	 /* live and remembered, at most LEASE_MAX */
};

struct ledger_dim_usage {
	char dim[POOL_NAME_MAX];
	enum pool_kind kind;
	double capacity; /* total - host_reserved */
	double held;	 /* held whole */
	double burst_mean;
	double burst_sd;
	double probability; /* P(held + burstable demand > capacity) */
	double bound;
	double free; /* capacity - held - burstable mean */
};

struct ledger_usage {
	uint64_t generation;
	uint32_t n_live; /* offered, confirmed or active */
	uint32_t n_pinned;
	char pinned[256]; /* cpuset list of pinned cores ("..." when too long) */
	uint32_t n_dims;
	struct ledger_dim_usage dims[POOL_MAX_DIMS];
};

struct ledger;

const char *lease_state_to_string(enum lease_state s);
const char *lease_holder_kind_to_string(enum lease_holder_kind k);
void ledger_params_default(struct ledger_params *p);

/* An empty ledger over a copy of pool; -EINVAL for a zero TTL or a bad max_leases. */
int ledger_new(const struct pool *pool, const struct ledger_params *p, struct ledger **ret);
void ledger_free(struct ledger *l);

uint64_t ledger_generation(struct ledger *l);
int ledger_pool_get(struct ledger *l, struct pool *ret_pool, uint64_t *ret_generation);
/*
 * New readings of the pool. Leases follow their dimensions by name; an item
 * whose dimension is gone is dropped. Bumps the generation.
 */
int ledger_pool_update(struct ledger *l, const struct pool *pool);

/*
 * Grants req as an offered lease. -ESTALE when req->generation is not the
 * current one, -EINVAL for an invalid request, -ENOSPC when admission
 * refuses it, -E2BIG when the ledger is full. explain (may be NULL) is filled
 * with the decision whenever admission ran, refused or not.
 */
int ledger_offer(struct ledger *l, const struct lease_request *req, uint64_t now_usec,
		 struct admit_explanation *explain, uint64_t *ret_id);
/*
 * Replaces the resources of a live lease (pre-allocation raises or gives
 * back), admitted against everything else. Same errors as ledger_offer, and
 * -ENOENT for an unknown or ended lease. Keeps the lease's state.
 */
int ledger_amend(struct ledger *l, uint64_t id, const struct admit_request *req,
		 uint64_t generation, uint64_t now_usec, struct admit_explanation *explain);
/* offered -> confirmed (0 if already confirmed or active); -ETIME if expired, -ENOENT. */
int ledger_confirm(struct ledger *l, uint64_t id, uint64_t now_usec);
/* confirmed -> active (0 if already active); -EPERM if only offered; -ETIME, -ENOENT. */
int ledger_activate(struct ledger *l, uint64_t id, uint64_t now_usec);
/* Live -> released; 0 if already released or expired; -ENOENT if unknown. */
int ledger_release(struct ledger *l, uint64_t id, uint64_t now_usec);
/* Releases every live lease of holder; returns how many (0 is not an error). */
int ledger_release_holder(struct ledger *l, const char *holder, uint64_t now_usec);
/*
 * After a restart: releases every live lease held by a VM that is not in
 * present (the VMs libvirt shows now); leases of incoming migrations are left
 * to their TTL or end. Returns how many were released.
 */
int ledger_reconcile_vms(struct ledger *l, const char *const *present, size_t n_present,
			 uint64_t now_usec);
/* Expires unconfirmed leases past their TTL and leases past their end; returns how many. */
int ledger_expire(struct ledger *l, uint64_t now_usec);

/* A copy of one lease; -ENOENT. */
int ledger_lease_get(struct ledger *l, uint64_t id, struct lease *ret);
/* A copy of every lease the ledger remembers (caller frees *ret_leases). */
int ledger_leases_get(struct ledger *l, struct lease **ret_leases, size_t *ret_n,
		      uint64_t *ret_generation);
/* Admission of req as it would be decided now, changing nothing. */
int ledger_explain(struct ledger *l, const struct lease_request *req, uint64_t now_usec,
		   struct admit_explanation *ret);
int ledger_usage_get(struct ledger *l, struct ledger_usage *ret);

/*
 * Checkpoint: versioned, checksummed, written to a temporary file, fsynced
 * and renamed over path (then the directory is fsynced).
 */
int ledger_checkpoint_save(struct ledger *l, const char *path);
/*
 * Replaces the ledger's leases with those of the checkpoint at path.
 * -ENOENT when there is none. A truncated, corrupt or newer-version file is
 * renamed to <path>.corrupt and -EBADMSG is returned: the caller goes on
 * with the ledger as it was (empty after ledger_new) and reconciles with what
 * libvirt and the kernel show. Items on dimensions the pool no longer has are
 * dropped. ret_n_loaded may be NULL.
 */
int ledger_checkpoint_load(struct ledger *l, const char *path, size_t *ret_n_loaded);

/* The checkpoint bytes of a parsed file, pool dimensions by name. */
struct ledger_checkpoint_item {
	char dim[POOL_NAME_MAX];
	struct risk_dist demand;
};

struct ledger_checkpoint_lease {
	struct lease lease; /* admit.items[].dim unset: see items */
	struct ledger_checkpoint_item items[ADMIT_MAX_ITEMS];
};

struct ledger_checkpoint {
	uint32_t version;
	uint64_t generation;
	uint64_t next_id;
	uint64_t changed_usec; /* the latest change the ledger had seen */
	size_t n_leases;
	struct ledger_checkpoint_lease *leases;
};

/* Pure parser of checkpoint bytes; -EBADMSG on anything but a valid file. */
int ledger_checkpoint_parse(const void *buf, size_t len, struct ledger_checkpoint *ret);
void ledger_checkpoint_done(struct ledger_checkpoint *c);

#endif
