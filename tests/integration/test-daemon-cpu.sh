#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# prescientd end to end on one host: a private libvirtd, a TCG guest whose
# CPU load idles, ramps up, holds, drops and idles again, and the daemon
# watching it. Asserts, from a trace recorded once a second:
#   - the collected CPU follows the pattern (low when idle, high when held)
#     and agrees with libvirt's own counter (cpu.time) while held;
#   - the forecast's 95 % interval made one step earlier covers the ramp;
#   - the VM's CPU allocation, read back from libvirt (schedinfo) and from
#     the VM's cgroup file (cpu.cfs_quota_us), was raised before the end of
#     the ramp (the peak) and lowered after the load dropped;
#   - libvirtd restarted mid-test: the daemon reconnects, loses no VM and
#     keeps sampling;
#   - turning CPU management off for the VM by a reload removes the cap;
#   - SIGTERM stops the daemon cleanly and leaves forecaster checkpoints.
set -euo pipefail
: "${PRESCIENT_SOURCE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/host.sh"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/guest.sh"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/prescient.sh"

host_require
command -v python3 >/dev/null || host_skip "python3 is needed to check the trace"
prescient_find_build || exit 1
host_install_trap

# idle 50 s (forecasters fit, first allocation set low), ramp 40 s to 90 %
# of the vCPU, hold 30 s, drop, idle 120 s: after a drop the calibrated 95 %
# bound stays wide for a while (it was measured at 40-80 s with 2 s steps),
# then the hysteresis needs three low plans.
PATTERN=${PATTERN:-idle:50,ramp:40:90,hold:30:90,ramp:5:0,idle:120}
# The host's weight against whatever else runs on the machine, so the guest
# gets the CPU it asks for (see README.md on TCG guests under contention).
export HOST_CPU_SHARES=${HOST_CPU_SHARES:-4096}
host_create a
guest_start a vm1 "$PATTERN"
guest_wait_ready a vm1 90
prescient_start a "${PRESCIENT_TEST_CONFIG:-}"

trace=$(prescient_dir a)/trace.csv
echo "t,phase,used_cores,alloc_cores,upper_cores,hi95_h1,libvirt_quota_us,libvirt_period_us,cgroup_quota_us,cgroup_period_us,n_samples,reconnects,steal_cores" >"$trace"
cg=$(guest_cgroup a vm1 cpu)
restarted=0
t0=$SECONDS
while :; do
	phase=$(guest_phase_current a vm1)
	[[ $phase == done ]] && break
	((SECONDS - t0 < 500)) || { echo "the guest's pattern did not finish in 500 s" >&2; exit 1; }
	vm_json=$(prescient_ctl a --json vm vm1 2>/dev/null || echo '{}')
	st_json=$(prescient_ctl a --json status 2>/dev/null || echo '{}')
	sched=$(host_virsh a schedinfo vm1 --live 2>/dev/null || true)
	lq=$(awk '$1 == "global_quota" { print $3 }' <<<"$sched")
	lp=$(awk '$1 == "global_period" { print $3 }' <<<"$sched")
	lcpu=$(host_virsh a domstats vm1 --cpu-total 2>/dev/null | awk -F= '/cpu.time=/ { print $2 }')
	cq=$(cat "$cg/cpu.cfs_quota_us" 2>/dev/null || echo)
	cp=$(cat "$cg/cpu.cfs_period_us" 2>/dev/null || echo)
	python3 "$PRESCIENT_SOURCE_ROOT/tests/integration/trace-row.py" "$phase" "$((SECONDS - t0))" \
		"$lq" "$lp" "$cq" "$cp" "$vm_json" "$st_json" "$trace.jsonl" "${lcpu:-}" >>"$trace"
	# Restart libvirtd once, in the middle of the hold: VMs keep running.
	if [[ $restarted == 0 && $phase =~ ^[0-9]+$ && $phase -ge 3 ]]; then
		echo "restarting libvirtd in host a"
		host_libvirtd_restart a
		restarted=1
	fi
	sleep 1
done

# CPU management turned off by a reload: prescient's cap must go.
quota_unlimited() {
	local q
	q=$(host_virsh a schedinfo vm1 --live 2>/dev/null | awk '$1 == "global_quota" { print $3 }')
	[[ $q == -1 || ${#q} -ge 13 ]]
}
printf '[vm vm1]\ncpu_manage = no\n' >"$(prescient_dir a)/prescient.conf.d/60-off.conf"
kill -HUP "$(prescient_pid a)"
released=0
host_wait_for 20 quota_unlimited && released=1

status=0
prescient_stop a || status=$?
echo "prescientd exited with status $status"
tail -n 25 "$(prescient_log a)"
if ! python3 "$PRESCIENT_SOURCE_ROOT/tests/integration/check-daemon-cpu.py" "$trace" "$PATTERN" \
	"$(prescient_log a)" "$(prescient_dir a)/state" "$status"; then
	echo "--- trace"
	cat "$trace"
	exit 1
fi
if [[ $released != 1 ]]; then
	echo "FAIL cpu_manage = no on reload left the cap in place"
	exit 1
fi
echo "ok   cpu_manage = no on reload removed the cap (global_quota unlimited)"
