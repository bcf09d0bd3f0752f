#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The demo: a private libvirtd (in its own namespaces: the machine's own
# libvirtd, if any, is never touched) with three small TCG guests running a
# known CPU load, and prescientd watching them. Every few seconds it prints
# what the daemon sees (prescientctl vms) and every decision it takes (the
# daemon's "plan:" lines): the web guest's allocation is raised ahead of its
# ramp and lowered after it, the batch guest follows its bursts, the idle
# guest stays small. Takes about four minutes; DEMO_SECONDS shortens it.
# Run as root on Debian 12: bash tests/demo.sh
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$PRESCIENT_ROOT"

prescient_install_deps
echo "== building prescient"
prescient_build build >/dev/null

export PRESCIENT_SOURCE_ROOT=$PRESCIENT_ROOT PRESCIENT_BUILD_ROOT=$PRESCIENT_ROOT/build
. tests/integration/lib/host.sh
. tests/integration/lib/guest.sh
. tests/integration/lib/prescient.sh
host_require
host_install_trap
export HOST_CPU_SHARES=${HOST_CPU_SHARES:-4096}

DEMO_SECONDS=${DEMO_SECONDS:-220}
echo "== starting a private libvirtd and three TCG guests"
host_create demo
GUEST_IP=10.77.0.11/24 guest_start demo web "idle:45,ramp:40:80,hold:40:80,ramp:15:5,idle:80"
GUEST_IP=10.77.0.12/24 guest_start demo batch "idle:20,hold:25:40,idle:30,hold:40:60,idle:105"
GUEST_IP=10.77.0.13/24 guest_start demo quiet "idle:220"
for vm in web batch quiet; do
	guest_wait_ready demo "$vm" 120
done
echo "   web:   idles, ramps to 80 % of its vCPU over 40 s, holds, falls back"
echo "   batch: two bursts, 40 % then 60 %"
echo "   quiet: idle throughout"

echo "== starting prescientd (collect every 1 s, forecast step 2 s)"
echo "   quiet is guaranteed and pinned (a core of its own, its upper bound held whole);"
echo "   web and batch are burstable (their means held, within a 5 % risk budget)"
prescient_start demo '[vm quiet]
class = guaranteed
pin = yes'

log=$(prescient_log demo)
shown=0
t0=$SECONDS
while ((SECONDS - t0 < DEMO_SECONDS)); do
	sleep 10
	echo
	echo "---- t = $((SECONDS - t0)) s; web is in phase $(guest_phase_current demo web) of 5"
	prescient_ctl demo vms || true
	# The decisions taken since the last table.
	total=$(grep -cE '(plan|alloc|safety): ' "$log" || true)
	if ((total > shown)); then
		grep -E '(plan|alloc|safety): ' "$log" | tail -n $((total - shown)) | sed 's/^<[0-9]>prescientd: /   /'
		shown=$total
	fi
done

echo
echo "== the host's lease ledger"
prescient_ctl demo reservations || true
echo
echo "== why batch's lease was admitted"
prescient_ctl demo reservations explain batch || true

echo
echo "== what prescientd knows about web"
prescient_ctl demo vm web || true
echo
echo "== the daemon itself"
prescient_ctl demo status || true
prescient_stop demo || true
echo
echo "Decisions taken: $(grep -c 'plan: .* raise' "$log" || true) raises, $(grep -c 'plan: .* lower' "$log" || true) lowers."
echo "The private libvirtd and the guests are removed on exit."
