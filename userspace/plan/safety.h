/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * safety: the fast loop between plan ticks. Once a second it reads each
 * VM's pressure (PSI "some") and acts when a VM is starved despite its
 * reservation, or when the host itself runs short:
 *
 *   starved N ticks --> capped by its allocation? --no--> FLAG_MIGRATE (contended)
 *        |                     | yes
 *        |              best effort? --yes--> FLAG_MIGRATE (never raised here)
 *        |                     | no
 *        |        host short and burstable? --yes--> FLAG_MIGRATE (host short)
 *        |                     | no
 *        |        room in the risk budget? --no--> FLAG_MIGRATE (no room)
 *        |                     | yes
 *        |              RAISE by a step, at least to the estimated demand,
 *        |              capped by the VM's maximum and by the room
 *        +--> a "miss": the demand its cap hid, for the forecaster
 *
 * Starvation needs persist_ticks consecutive measured ticks at or above the
 * threshold, and lasts until the signal falls below threshold * clear_ratio
 * (hysteresis); each VM and resource then waits cooldown_usec before it acts
 * again, so one noisy reading never acts and nothing flaps. The loop only
 * raises: giving back is the plan's job, with its own hysteresis.
 *
 * A raise of delta is booked as the VM's lease item with its upper bound and
 * its mean both moved up by delta (a starved VM uses all it is given), so it
 * takes delta from the dimension's slack whatever the VM's class:
 * safety_raise_room() finds the largest such delta admit_check() accepts and
 * safety_request_raise() builds the request to pass to ledger_amend().
 * safety_tick() decides all VMs of one tick, guaranteed VMs first, booking
 * each raise before the next VM looks, so two VMs never both take the last
 * room.
 *
 * PSI avg10 is a 10 s average refreshed every 2 s: a full stall crosses 20 %
 * only after about 4 s, and it stays high for seconds after a raise, which
 * inflates the demand estimate while it decays. The stalled share of the
 * last tick (the delta of PSI's "total" counter over the tick) acts within a
 * second and matches the tick's use; when the caller has it, it speaks
 * instead of avg10.
 *
 * Pure: no I/O, no clock reads, no globals; time is passed in.
 */
#ifndef PRESCIENT_PLAN_SAFETY_H
#define PRESCIENT_PLAN_SAFETY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "admit.h"
#include "lease.h"
#include "pool.h"

#define SAFETY_REASON_MAX 256
#define SAFETY_DIM_NONE	  UINT32_MAX

/* The pressure signals, one per resource PSI reports. */
enum safety_res {
	SAFETY_RES_CPU,
	SAFETY_RES_MEM,
	SAFETY_RES_IO,
	SAFETY_NR_RES,
};

enum safety_action {
	SAFETY_NONE,
	SAFETY_RAISE,
	SAFETY_FLAG_MIGRATE,
	SAFETY_NR_ACTIONS,
};

/* Why a decision is what it is, for the migration planner and status. */
enum safety_why {
	SAFETY_WHY_OK,		/* not starved (or not measured) */
	SAFETY_WHY_PENDING,	/* starved, not yet for persist_ticks */
	SAFETY_WHY_COOLDOWN,	/* starved, acted less than cooldown_usec ago */
	SAFETY_WHY_RAISED,	/* raised within the risk budget */
	SAFETY_WHY_NO_ROOM,	/* the risk budget allows no raise */
	SAFETY_WHY_BEST_EFFORT, /* best effort is never raised by this loop */
	SAFETY_WHY_CONTENDED,	/* its cap does not bind (or is at its maximum): the host starves it
				 */
	SAFETY_WHY_HOST_SHORT,	/* the host is short on this resource: burstable not raised */
	SAFETY_NR_WHYS,
};

struct safety_params {
	/* VM starvation: PSI some (avg10, or the per-tick share) in percent. */
	double psi_threshold[SAFETY_NR_RES]; /* cpu 20, memory 10, io 30 */
	/* Host shortness: /proc/pressure/<res> some avg10 in percent. */
	double host_psi_threshold[SAFETY_NR_RES]; /* cpu 40, memory 10, io 40 */
	double clear_ratio;			  /* starved until below threshold * ratio (0.5) */
	uint32_t persist_ticks;	     /* ticks at or above the threshold before acting (2) */
	uint32_t host_persist_ticks; /* same for the host (2) */
	uint64_t cooldown_usec;	     /* per VM and resource, after an action (10 s) */
	uint64_t tick_usec;	     /* the loop's period, for the reasons' text (1 s) */
	double raise_step;	     /* raise to allocation * step at least (1.25) */
	double min_raise_ratio;	     /* a raise below ratio * allocation is no room (0.02) */
	double capped_ratio;	     /* used >= ratio * allocation: the cap binds (0.9) */
	double max_stall_share;	     /* stall share clamp in the demand estimate (0.9) */
};

/* One resource of one VM, from its latest sample and its lease. */
struct safety_signal {
	uint32_t dim;	  /* pool dimension of its lease item; SAFETY_DIM_NONE for none */
	double used;	  /* in the dimension's unit (cores, bytes, kbps); NAN unknown */
	double alloc;	  /* its allocation (the cap enforced, the lease item's upper); NAN none */
	double max;	  /* the most it can use: vCPUs, its memory size; INFINITY none */
	double psi_some;  /* PSI some avg10 of its cgroup, percent; NAN unmeasured */
	double psi_share; /* share of the last tick stalled (PSI total delta), 0..1; NAN none */
};

/* Carried from one tick to the next, per VM and resource; zero it for a new VM. */
struct safety_res_state {
	uint32_t starved_ticks;	      /* consecutive ticks starved (hysteresis applied) */
	uint64_t cooldown_until_usec; /* no action before this */
};

struct safety_vm_state {
	struct safety_res_state res[SAFETY_NR_RES];
};

/*
 * The demand a starved VM showed, censored by its cap or by the host, and an
 * estimate of what it wanted: feed estimate to the forecaster in place of
 * censored for this tick.
 */
struct safety_miss {
	bool valid;
	double censored;    /* what it used */
	double estimate;    /* safety_hidden_demand() */
	double stall_share; /* the share the estimate used, 0..1 */
};

struct safety_res_decision {
	enum safety_action action;
	enum safety_why why;
	uint32_t dim;	 /* as in the signal */
	double from;	 /* the allocation before */
	double to;	 /* the allocation after (from unless RAISE) */
	double room;	 /* largest admissible raise seen (NAN when not asked) */
	bool uncovered;	 /* raised, but to less than the estimated demand */
	double pressure; /* the PSI percent the decision used (NAN unmeasured) */
	struct safety_miss miss;
	char reason[SAFETY_REASON_MAX];
};

struct safety_host_input {
	double psi_some[SAFETY_NR_RES]; /* /proc/pressure/{cpu,memory,io} some avg10 %, NAN none */
};

struct safety_host_state {
	uint32_t short_ticks[SAFETY_NR_RES];
};

struct safety_host_decision {
	bool is_short[SAFETY_NR_RES];
	bool any_short;
	struct safety_host_state state; /* carry into the next tick */
	char reason[SAFETY_REASON_MAX];
};

/* One VM of a tick. */
struct safety_vm {
	enum pool_class cls;
	const struct admit_request *lease; /* its live lease's request; NULL: none */
	struct safety_signal sig[SAFETY_NR_RES];
	struct safety_vm_state state; /* from the previous tick */
};

struct safety_vm_decision {
	struct safety_res_decision res[SAFETY_NR_RES];
	struct safety_vm_state state; /* carry into the next tick */
	bool amend;		      /* at least one raise: pass amended to ledger_amend() */
	bool flag_migrate;	      /* at least one FLAG_MIGRATE */
	uint32_t rank;		      /* position in the order decided (0 = first) */
	struct admit_request amended;
};

struct safety_tick_stats {
	uint32_t n_action[SAFETY_NR_ACTIONS];
	uint32_t n_starved; /* VM resources starved this tick, acted on or not */
	uint32_t n_misses;
};

const char *safety_res_to_string(enum safety_res r);
const char *safety_action_to_string(enum safety_action a);
const char *safety_why_to_string(enum safety_why w);

void safety_params_default(struct safety_params *p);
/* -EINVAL on out-of-range or inconsistent parameters. */
int safety_params_validate(const struct safety_params *p);

/*
 * Estimated demand of a VM that used `used` while stalled stall_share of the
 * time: used / (1 - share), share clamped to max_share, bounded to
 * [used, max]. NAN when used or share is NAN.
 */
double safety_hidden_demand(double used, double stall_share, double max, double max_share);

/*
 * Largest delta by which the item of req on dim can be raised (upper and
 * mean both + delta) and still pass admit_check() against state, which
 * already holds req. 0 when nothing fits or the item's CPU is covered by
 * pinned cores; INFINITY for best effort (it holds nothing). -EINVAL for an
 * invalid request or dim, -ENOENT when req has no item on dim.
 */
int safety_raise_room(const struct pool *pool, const struct admit_state *state,
		      const struct admit_request *req, uint32_t dim, double *ret_room);

/* req with its item on dim raised by delta (upper and mean); -ENOENT, -EINVAL. */
int safety_request_raise(const struct admit_request *req, uint32_t dim, double delta,
			 struct admit_request *ret);

/* What the live leases of a ledger copy hold (ledger_leases_get()); -EINVAL. */
int safety_state_from_leases(const struct pool *pool, const struct lease *leases, size_t n,
			     struct admit_state *ret);

/* Host shortness with hysteresis; NAN never counts as short. -EINVAL for bad params. */
int safety_host_decide(const struct safety_params *p, const struct safety_host_input *in,
		       const struct safety_host_state *state, struct safety_host_decision *ret);

/*
 * One resource of one VM: room is the largest admissible raise above
 * sig->alloc (INFINITY for no limit, 0 for none). -EINVAL for bad params,
 * class or resource.
 */
int safety_res_decide(const struct safety_params *p, enum pool_class cls, enum safety_res r,
		      bool host_short, const struct safety_signal *sig,
		      const struct safety_res_state *state, double room, uint64_t now_usec,
		      struct safety_res_decision *ret, struct safety_res_state *ret_state);

/*
 * All VMs of one tick: the host first, then the VMs guaranteed first, then
 * burstable, then best effort, and within a class the most stalled first.
 * Each raise is booked on a copy of state (what the ledger holds, the VMs'
 * leases included) before the next VM's room is computed. ret_vms holds n
 * entries, in the order of vms; ret_stats may be NULL. -EINVAL for bad
 * params or a lease that does not validate, -ENOMEM.
 */
int safety_tick(const struct safety_params *p, const struct pool *pool,
		const struct admit_state *state, const struct safety_host_input *host,
		const struct safety_host_state *host_state, const struct safety_vm *vms, size_t n,
		uint64_t now_usec, struct safety_host_decision *ret_host,
		struct safety_vm_decision *ret_vms, struct safety_tick_stats *ret_stats);

#endif
