// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Network bandwidth guarantees of the VMs' leases, on the contention point
 * the host owns: the egress of its uplink (m->pool.uplink), i.e. what the
 * VMs send out. libvirt's <bandwidth> can give a floor only on interfaces of
 * a libvirt <network> with bandwidth of its own, so the guarantee is an HTB
 * hierarchy of ours (enforce/tc.h), which libvirt never touches:
 *
 *   5072:1    the link: rate = ceil = the uplink's capacity in the pool
 *   5072:10   the rest (the host's own traffic, best-effort VMs, anything
 *             unclassified): rate = what the VMs leave, at least 1 %
 *   5072:<m>  one per VM: rate = what its lease reserves (guaranteed: held
 *             whole; burstable: its mean), ceil = the link, so nobody is
 *             capped, only guaranteed; u32 filters send every frame whose
 *             Ethernet source is one of the VM's MACs there.
 *
 * The reservation is the VM's receive + transmit (the lease does not split
 * them): on the uplink's egress it guarantees at least its transmit. What a
 * guest receives is shaped by nobody: the contention there is the physical
 * link's ingress, which HTB cannot order. A routed or NATed VM leaves the
 * host with the host's address, so its filter never matches and its traffic
 * shares the rest class.
 *
 * A VM's minor is a hash of its UUID into 0x11..0xfffe (probing on a
 * collision), so a restarted daemon finds the classes it left: it adopts
 * the hierarchy as it is, re-applies every VM's class and removes the
 * classes of VMs that went while it was down. At stop the classes stay.
 * A root qdisc on the uplink that is not ours is never replaced: the
 * reservations stay in the ledger, unenforced, and the reason is said once.
 * In dry-run every class change is logged and none is made. A failure is
 * logged, kept in the VM's state and retried next step.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "log.h"
#include "manager.h"
#include "tc.h"
#include "util.h"

#define NET_REST_MINOR	 ENFORCE_TC_MINOR_MIN
#define NET_VM_MINOR_MIN (ENFORCE_TC_MINOR_MIN + 1)
#define NET_VM_MINORS	 (ENFORCE_TC_MINOR_MAX - NET_VM_MINOR_MIN + 1)
/* HTB's least useful rate, 1 kB/s: an idle guaranteed VM still gets its class. */
#define NET_RATE_MIN_BITS 8000ULL
/* The rest class keeps at least this share of the link. */
#define NET_REST_SHARE 0.01
/* A class is rewritten only when its rate moves by more than this share... */
#define NET_CHANGE_RATIO 0.05
/* ...and by more than this many bits/s. */
#define NET_CHANGE_MIN_BITS 64000.0

/* A VM's class on the uplink, as this run knows it. */
struct net_class {
	char uuid[HV_UUID_LEN + 1];
	uint32_t minor;
	/* What the kernel holds for this minor is what rate_bits and macs say. */
	bool known;
	uint64_t rate_bits; /* 0: no class */
	uint32_t n_macs;
	uint8_t macs[HV_MAX_NICS][6];
	int error; /* the last failure said, 0 when none */
};

struct manager_net {
	struct nl_sock *sk;
	char uplink[CONFIG_IFNAME_MAX]; /* where the hierarchy is (or would be), "" none */
	uint64_t link_bits;
	bool ready; /* the hierarchy is in place (or, in dry-run, would be) */
	bool dry_run;
	int setup_error; /* the last setup failure said, 0 when none */
	uint64_t rest_bits;
	uint64_t step_usec; /* m->last_step_usec of the last preparation */
	char how[48];	    /* "htb on eth0", for the VMs' enforced_how */
	size_t n_classes, cap_classes;
	struct net_class *classes;
};

static uint32_t uuid_hash(const char *uuid)
{
	uint32_t h = 2166136261U; /* FNV-1a: stable across runs and builds */

	for (const char *p = uuid; *p; p++) {
		char c = *p;

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		h = (h ^ (uint8_t)c) * 16777619U;
	}
	return h;
}

static struct net_class *class_find(struct manager_net *net, const char *uuid)
{
	for (size_t i = 0; i < net->n_classes; i++)
		if (!strcasecmp(net->classes[i].uuid, uuid))
			return &net->classes[i];
	return NULL;
}

static bool minor_taken(const struct manager_net *net, uint32_t minor)
{
	for (size_t i = 0; i < net->n_classes; i++)
		if (net->classes[i].minor == minor)
			return true;
	return false;
}

/* The VM's entry, made with its minor on first use; NULL when out of memory or minors. */
static struct net_class *class_get(struct manager_net *net, const char *uuid)
{
	struct net_class *c = class_find(net, uuid);
	uint32_t minor;

	if (c)
		return c;
	if (net->n_classes >= NET_VM_MINORS)
		return NULL;
	if (net->n_classes == net->cap_classes) {
		size_t cap = net->cap_classes ? net->cap_classes * 2 : 16;
		struct net_class *n = realloc(net->classes, cap * sizeof(*n));

		if (!n)
			return NULL;
		net->classes = n;
		net->cap_classes = cap;
	}
	minor = NET_VM_MINOR_MIN + uuid_hash(uuid) % NET_VM_MINORS;
	while (minor_taken(net, minor))
		minor = minor == ENFORCE_TC_MINOR_MAX ? NET_VM_MINOR_MIN : minor + 1;
	c = &net->classes[net->n_classes++];
	*c = (struct net_class){ .minor = minor };
	util_strlcpy(c->uuid, uuid, sizeof(c->uuid));
	return c;
}

static void class_drop(struct manager_net *net, struct net_class *c)
{
	*c = net->classes[--net->n_classes];
}

static double mbit(uint64_t bits)
{
	return (double)bits / 1e6;
}

static const struct pool_dim *net_dim(const struct manager *m)
{
	for (uint32_t d = 0; d < m->ledger_pool.n_dims; d++)
		if (m->ledger_pool.dims[d].kind == POOL_KIND_NET &&
		    m->ledger_pool.dims[d].node == POOL_NODE_ANY)
			return &m->ledger_pool.dims[d];
	return NULL;
}

/* kbps of the pool into whole bytes per second, as HTB keeps them, in bits. */
static uint64_t kbps_to_bits(double kbps)
{
	double bits = kbps * 1000;

	if (!isfinite(bits) || bits <= 0)
		return 0;
	if (bits > 8e18)
		bits = 8e18;
	return (uint64_t)bits / 8 * 8;
}

/*
 * The rate the VM's lease guarantees on the uplink: a guaranteed VM's upper
 * bound (held whole), a burstable VM's mean (its share of the risk-pooled
 * reservation), nothing for best effort: it shares the rest class.
 */
static uint64_t vm_rate_bits(const struct manager_vm *v, const struct pool_dim *pd,
			     uint64_t link_bits)
{
	const struct manager_vm_alloc *a = &v->alloc;
	double kbps;
	uint64_t bits;

	if (a->cls == POOL_CLASS_BEST_EFFORT || (!a->in_lease[STATE_ALLOC_NET] && !a->refused))
		return 0;
	if (a->cls == POOL_CLASS_BURSTABLE && pd->risk_bound > 0)
		kbps = a->held[STATE_ALLOC_NET].mean;
	else
		kbps = admit_item_held(pd, a->cls, &a->held[STATE_ALLOC_NET]);
	bits = kbps_to_bits(kbps);
	if (bits < NET_RATE_MIN_BITS)
		bits = NET_RATE_MIN_BITS;
	return bits > link_bits ? link_bits : bits;
}

static bool rate_changed(uint64_t now, uint64_t want)
{
	double d = fabs((double)want - (double)now);

	if (!now || !want)
		return now != want;
	return d > fmax(NET_CHANGE_MIN_BITS, NET_CHANGE_RATIO * (double)now);
}

/* The VM's distinct, well-formed MACs ("" and duplicates skipped). */
static uint32_t vm_macs(const struct manager_vm *v, uint8_t out[HV_MAX_NICS][6])
{
	uint32_t n = 0;

	for (uint32_t i = 0; i < v->id.nr_taps && i < HV_MAX_NICS; i++) {
		unsigned b[6];
		bool dup = false;

		if (sscanf(v->id.macs[i], "%2x:%2x:%2x:%2x:%2x:%2x", &b[0], &b[1], &b[2], &b[3],
			   &b[4], &b[5]) != 6)
			continue;
		for (int k = 0; k < 6; k++)
			out[n][k] = (uint8_t)b[k];
		for (uint32_t k = 0; k < n && !dup; k++)
			dup = !memcmp(out[k], out[n], 6);
		if (!dup)
			n++;
	}
	return n;
}

/* Forgets what the kernel holds: everything is applied again once set up. */
static void net_forget(struct manager_net *net)
{
	net->ready = false;
	net->rest_bits = 0;
	for (size_t i = 0; i < net->n_classes; i++)
		net->classes[i].known = false;
}

static void net_teardown(struct manager_net *net, const char *why)
{
	int r = 0;

	if (net->ready && !net->dry_run && net->uplink[0] && net->sk)
		r = enforce_tc_teardown(net->sk, net->uplink);
	if (r < 0)
		log_warning_errno(r, "alloc: cannot remove the bandwidth classes from %s: %m",
				  net->uplink);
	else if (net->ready && net->uplink[0])
		log_info("alloc: %s: %sremoved the bandwidth guarantees from %s", why,
			 net->dry_run ? "dry-run: would have " : "", net->uplink);
	net_forget(net);
	net->uplink[0] = '\0';
}

/*
 * Classes of ours that no VM of this run owns: left by VMs that went while
 * the daemon was down. Every current VM gets its minor first, so a class
 * that is a live VM's is adopted, not removed.
 */
static void net_sweep(struct manager *m, struct manager_net *net)
{
	_cleanup_free_ uint32_t *minors = NULL;
	size_t n = 0;
	int r;

	for (size_t i = 0; i < m->n_vms; i++)
		class_get(net, m->vms[i]->id.uuid);
	r = enforce_tc_class_list(net->sk, net->uplink, &minors, &n);
	if (r < 0) {
		log_debug_errno(r, "alloc: cannot list the classes on %s: %m, ignoring",
				net->uplink);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (minors[i] == NET_REST_MINOR || minor_taken(net, minors[i]))
			continue;
		r = enforce_tc_class_remove(net->sk, net->uplink, minors[i]);
		if (r < 0)
			log_warning_errno(r, "alloc: cannot remove class %x:%x from %s: %m",
					  ENFORCE_TC_MAJOR, minors[i], net->uplink);
		else
			log_info("alloc: removed class %x:%x from %s: its VM is gone",
				 ENFORCE_TC_MAJOR, minors[i], net->uplink);
	}
}

/* The rest class gets what the VMs' guarantees leave, at least NET_REST_SHARE of the link. */
static void net_rest_update(struct manager_net *net)
{
	uint64_t sum = 0, floor_bits, want;
	int r;

	for (size_t i = 0; i < net->n_classes; i++)
		sum += net->classes[i].known ? net->classes[i].rate_bits : 0;
	floor_bits = (uint64_t)((double)net->link_bits * NET_REST_SHARE) / 8 * 8;
	if (floor_bits < NET_RATE_MIN_BITS)
		floor_bits = NET_RATE_MIN_BITS;
	want = sum + floor_bits < net->link_bits ? net->link_bits - sum : floor_bits;
	want = want > net->link_bits ? net->link_bits : want;
	if (net->rest_bits && !rate_changed(net->rest_bits, want))
		return;
	if (net->dry_run) {
		log_info("alloc: dry-run: would give the rest of %s's traffic %.1f Mbit/s",
			 net->uplink, mbit(want));
		net->rest_bits = want;
		return;
	}
	r = enforce_tc_class_set(net->sk, net->uplink, NET_REST_MINOR, want, net->link_bits);
	if (r < 0) {
		log_warning_errno(r, "alloc: cannot set the rest class of %s to %.1f Mbit/s: %m",
				  net->uplink, mbit(want));
		if (r == -ENODEV || r == -ENXIO)
			net->ready = false; /* the device or the hierarchy went: set up again */
		return;
	}
	log_info("alloc: the host and best-effort VMs are guaranteed %.1f Mbit/s on %s", mbit(want),
		 net->uplink);
	net->rest_bits = want;
}

/* Once a step: the hierarchy on the uplink, for the capacity the pool has now. */
static void net_prepare(struct manager *m, struct manager_net *net)
{
	const struct pool_dim *pd = net_dim(m);
	const char *uplink = m->pool.uplink;
	uint64_t link_bits = pd ? kbps_to_bits(pd->total) : 0;
	int r;

	if (net->dry_run != m->cfg.dry_run) {
		/*
		 * Entering dry-run changes nothing in the kernel; in either
		 * direction what was (or would have been) applied is no guide.
		 */
		net_forget(net);
		net->dry_run = m->cfg.dry_run;
	}
	if (!m->cfg.net_manage || !pd || !uplink[0] || link_bits < NET_RATE_MIN_BITS * 2) {
		if (net->ready)
			net_teardown(net, !m->cfg.net_manage ? "net_manage = no"
							     : "no uplink in the pool");
		return;
	}
	if (net->ready && !strcmp(net->uplink, uplink) && net->link_bits == link_bits) {
		uint64_t rate, ceil;

		/* Someone may have replaced or deleted the root since: one cheap dump. */
		r = net->dry_run ? 0
				 : enforce_tc_class_get(net->sk, uplink, ENFORCE_TC_LINK_MINOR,
							&rate, &ceil);
		if (r >= 0) {
			net_rest_update(net);
			return;
		}
		log_warning("alloc: the bandwidth classes on %s are gone (%s), setting them up "
			    "again",
			    uplink, strerror(-r));
	}
	if (net->ready && strcmp(net->uplink, uplink))
		net_teardown(net, "the uplink changed");
	util_strlcpy(net->uplink, uplink, sizeof(net->uplink));
	net->link_bits = link_bits;
	net->rest_bits = 0;
	snprintf(net->how, sizeof(net->how), "htb on %s", uplink);
	net_forget(net);
	if (net->dry_run) {
		log_info("alloc: dry-run: would shape %s's egress to %.1f Mbit/s with a class per "
			 "VM guaranteeing its reservation",
			 uplink, mbit(link_bits));
		net->ready = true;
		net_rest_update(net);
		return;
	}
	r = net->sk ? 0 : enforce_tc_socket_open(&net->sk);
	if (r >= 0)
		r = enforce_tc_setup(net->sk, uplink, link_bits, NET_REST_MINOR);
	if (r < 0) {
		if (r != net->setup_error && r == -EBUSY)
			log_warning(
				"alloc: %s has a root qdisc that is not prescient's ('tc qdisc "
				"show dev %s'): the VMs' bandwidth reservations are held in the "
				"ledger but not enforced; remove it ('tc qdisc del dev %s root') "
				"or set [alloc] net_manage = no",
				uplink, uplink, uplink);
		else if (r != net->setup_error)
			log_warning_errno(
				r,
				"alloc: cannot set up the bandwidth classes on %s: %m; the "
				"reservations are not enforced, retrying next step",
				uplink);
		net->setup_error = r;
		return;
	}
	if (net->setup_error)
		log_info("alloc: the bandwidth classes on %s can be set up again", uplink);
	net->setup_error = 0;
	net->ready = true;
	log_info("alloc: %s's egress shaped to its capacity %.1f Mbit/s: each VM's class "
		 "guarantees its reservation and may borrow up to the link",
		 uplink, mbit(link_bits));
	net_sweep(m, net);
	net_rest_update(net);
}

static struct manager_net *net_get(struct manager *m)
{
	if (!m->net)
		m->net = calloc(1, sizeof(*m->net));
	return m->net;
}

/*
 * Removes the VM's class (and filters); 0 when done or nothing to do. gone:
 * the VM went, so a class not known to this run is one an earlier run left.
 */
static int class_unset(struct manager_net *net, struct net_class *c, const char *name, bool gone)
{
	bool say = c->rate_bits || (gone && !c->known);
	int r;

	if (c->known && !c->rate_bits)
		return 0;
	if (net->dry_run) {
		if (say)
			log_info("alloc: dry-run: would remove %s's bandwidth class %x:%x on %s",
				 name, ENFORCE_TC_MAJOR, c->minor, net->uplink);
	} else {
		r = enforce_tc_class_remove(net->sk, net->uplink, c->minor);
		if (r < 0)
			return r;
		if (say)
			log_info("alloc: removed %s's bandwidth class %x:%x on %s", name,
				 ENFORCE_TC_MAJOR, c->minor, net->uplink);
	}
	c->known = true;
	c->rate_bits = 0;
	c->n_macs = 0;
	return 0;
}

static void vm_net_failed(struct manager_vm *v, struct net_class *c, int r, const char *what,
			  const char *uplink)
{
	v->alloc.enforce_error[STATE_ALLOC_NET] = r;
	if (r != c->error)
		log_warning_errno(r,
				  "alloc: cannot %s %s's bandwidth class on %s: %m; retrying "
				  "next step",
				  what, v->id.name, uplink);
	c->error = r;
}

void manager_net_enforce(struct manager *m, struct manager_vm *v)
{
	struct manager_vm_alloc *a = &v->alloc;
	uint8_t macs[HV_MAX_NICS][6];
	const struct pool_dim *pd;
	struct manager_net *net;
	struct net_class *c;
	uint64_t want;
	uint32_t n_macs;
	bool macs_same;
	int r;

	if (!m->ledger || !net_get(m))
		return;
	net = m->net;
	if (net->step_usec != m->last_step_usec) {
		net->step_usec = m->last_step_usec;
		net_prepare(m, net);
	}
	pd = net_dim(m);
	if (!net->ready || !pd) {
		a->enforce_error[STATE_ALLOC_NET] = m->cfg.net_manage ? net->setup_error : 0;
		/* Nothing of ours is in force there any more. */
		if (a->enforced_how[STATE_ALLOC_NET] == net->how) {
			a->enforced[STATE_ALLOC_NET] = NAN;
			a->enforced_how[STATE_ALLOC_NET] = NULL;
		}
		return;
	}
	c = class_get(net, v->id.uuid);
	if (!c)
		return;
	want = vm_rate_bits(v, pd, net->link_bits);
	n_macs = vm_macs(v, macs);
	if (want && !n_macs) {
		/* A class nothing reaches guarantees nothing: say so once. */
		if (c->error != -ENODATA)
			log_info("alloc: %s has no known MAC address: its bandwidth reservation on "
				 "%s is not enforced",
				 v->id.name, net->uplink);
		c->error = -ENODATA;
		a->enforce_error[STATE_ALLOC_NET] = -ENODATA;
		want = 0;
	}
	if (!want) {
		r = class_unset(net, c, v->id.name, false);
		if (r < 0) {
			vm_net_failed(v, c, r, "remove", net->uplink);
			return;
		}
		a->enforced[STATE_ALLOC_NET] = NAN;
		a->enforced_how[STATE_ALLOC_NET] = NULL;
		return;
	}
	macs_same = c->known && c->n_macs == n_macs && !memcmp(c->macs, macs, n_macs * 6);
	if (c->known && macs_same && !rate_changed(c->rate_bits, want))
		return;
	if (net->dry_run) {
		log_info("alloc: dry-run: would guarantee %s %.3f Mbit/s on %s (class %x:%x, ceil "
			 "%.1f Mbit/s, %u MAC%s)",
			 v->id.name, mbit(want), net->uplink, ENFORCE_TC_MAJOR, c->minor,
			 mbit(net->link_bits), n_macs, n_macs == 1 ? "" : "s");
		a->enforced_how[STATE_ALLOC_NET] = "dry-run";
	} else {
		r = enforce_tc_class_set(net->sk, net->uplink, c->minor, want, net->link_bits);
		if (r >= 0 && !macs_same)
			r = enforce_tc_filter_set_macs(net->sk, net->uplink, c->minor,
						       ENFORCE_TC_MATCH_SRC_MAC,
						       (const uint8_t(*)[6])macs, n_macs);
		if (r < 0) {
			/* The filters may be half set: set them again next time. */
			c->known = false;
			vm_net_failed(v, c, r, "set", net->uplink);
			if (r == -ENODEV || r == -ENXIO)
				net->ready = false;
			return;
		}
		log_info("alloc: %s's bandwidth guarantee on %s %.3f -> %.3f Mbit/s (class %x:%x, "
			 "ceil %.1f Mbit/s, %u MAC%s)",
			 v->id.name, net->uplink, c->known ? mbit(c->rate_bits) : 0.0, mbit(want),
			 ENFORCE_TC_MAJOR, c->minor, mbit(net->link_bits), n_macs,
			 n_macs == 1 ? "" : "s");
		a->enforced_how[STATE_ALLOC_NET] = net->how;
		a->enforced[STATE_ALLOC_NET] = (double)want / 1000;
	}
	c->known = true;
	c->rate_bits = want;
	c->n_macs = n_macs;
	memcpy(c->macs, macs, n_macs * 6);
	c->error = 0;
	a->enforce_error[STATE_ALLOC_NET] = 0;
}

void manager_net_vm_gone(struct manager *m, struct manager_vm *v)
{
	struct manager_net *net = m->net;
	struct net_class *c;
	int r;

	if (!net)
		return;
	c = class_find(net, v->id.uuid);
	if (!c)
		return;
	if (net->ready) {
		r = class_unset(net, c, v->id.name, true);
		if (r < 0)
			log_warning_errno(
				r,
				"alloc: cannot remove the bandwidth class %x:%x of %s from "
				"%s: %m; it goes when the daemon next starts",
				ENFORCE_TC_MAJOR, c->minor, v->id.name, net->uplink);
	}
	class_drop(net, c);
}

void manager_net_stop(struct manager *m)
{
	struct manager_net *net = m->net;

	if (!net)
		return;
	/* The classes stay: a restarted daemon adopts them (same minors). */
	enforce_tc_socket_close(net->sk);
	free(net->classes);
	free(net);
	m->net = NULL;
}
