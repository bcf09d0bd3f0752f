#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# End-to-end check of the integration harness: an isolated host (lib/host.sh)
# runs a TCG guest whose load generator replays a CPU pattern; the host side
# samples the VM's cpuacct.usage every second and must see the pattern (low
# when idle, high when held high, in between when held in between, falling
# during a falling ramp). Then libvirtd restarts under the running guest, which
# must stay running, keep its QEMU process and stay tunable through
# virsh schedinfo (vcpu_quota lands in the vCPU cgroup's cpu.cfs_quota_us).
# Finally the host is destroyed and must leave nothing behind.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib/host.sh
source "$here/lib/host.sh"
# shellcheck source=lib/guest.sh
source "$here/lib/guest.sh"

host_require
guest_require
host_install_trap

# Phases: 1 idle, 2 hold 90 %, 3 ramp 90->10 %, 4 hold 45 %, 5 idle.
GUEST_IP=10.77.0.2/24
PATTERN=${TEST_PATTERN:-idle:15,hold:15:90,ramp:12:10,hold:12:45,idle:12}
# Tolerances in percent of one host core. Measured here (README.md): a guest
# in HLT costs 0-1 %, a guest held at 100 % gets 60-110 % of a core on a
# lightly loaded machine but only 25-30 % when a dozen other tasks compete
# for the two cores. So absolute bounds are loose and the sharp part of the
# test is the relation between phases: hold 45 % must come out at roughly
# half of hold 90 %, whatever share of the machine the guest gets.
IDLE_MAX=10
HOLD_HIGH_MIN=20
MID_TO_HIGH_MIN=25 # percent
MID_TO_HIGH_MAX=85
# The host's weight against the other tasks of the machine (cpu.shares).
export HOST_CPU_SHARES=${HOST_CPU_SHARES:-4096}

fail() {
	echo "FAIL: $*" >&2
	host_diag a
	exit 1
}

check() {
	local what=$1
	shift
	if "$@"; then
		echo "ok - $what"
	else
		fail "$what"
	fi
}

host_create a
guest_start a vm1 "$PATTERN"
guest_wait_ready a vm1 120 || fail "guest did not boot"
qemu_pid=$(guest_qemu_pid a vm1) || fail "no QEMU pid"
cg_acct=$(guest_cgroup a vm1 cpuacct) || fail "no cpuacct cgroup for QEMU $qemu_pid"
echo "# qemu pid $qemu_pid, cgroup $cg_acct"
check "VM cgroup is inside the host's subtree" \
	test "${cg_acct#"$(host_cgroup a cpuacct)"/machine/}" != "$cg_acct"
check "tap vnet0 exists in the host's netns" host_exec a ip link show vnet0
check "tap vnet0 does not exist in the root netns" eval '! ip link show vnet0 >/dev/null 2>&1'
check "guest answers ping on the host's bridge" \
	host_exec a busybox ping -q -c 2 -W 10 "${GUEST_IP%/*}"

# Sample once a second until the pattern is done. Samples: time (usec),
# usage (ns), phase announced by the guest at that moment.
pattern_sec=0
IFS=, read -ra phases <<<"$PATTERN"
for p in "${phases[@]}"; do
	IFS=: read -r _ sec _ <<<"$p"
	pattern_sec=$((pattern_sec + sec))
done
deadline=$((SECONDS + pattern_sec + 60))
t_us=() u_ns=() ph=()
next=${EPOCHREALTIME/./}
while :; do
	t_us+=("${EPOCHREALTIME/./}")
	u_ns+=("$(cat "$cg_acct/cpuacct.usage")")
	ph+=("$(guest_phase_current a vm1)")
	[[ ${ph[-1]} == done ]] && break
	((SECONDS < deadline)) || fail "pattern did not finish in time (phase ${ph[-1]})"
	next=$((next + 1000000))
	now=${EPOCHREALTIME/./}
	((next > now)) && sleep "$(printf '0.%06d' $((next - now)))"
done

# Per-second CPU in percent of one core, attributed to a phase when the
# phase was the same at both ends; the first second of a phase is dropped.
declare -A sum=() cnt=() first_seen=()
ramp_pcts=()
echo "# t_s phase cpu_pct"
for ((i = 1; i < ${#t_us[@]}; i++)); do
	pct=$(((u_ns[i] - u_ns[i - 1]) / 10 / (t_us[i] - t_us[i - 1]) ))
	echo "# $(((t_us[i] - t_us[0]) / 1000000)) ${ph[i]} $pct"
	[[ ${ph[i]} == "${ph[i - 1]}" && ${ph[i]} != done && ${ph[i]} != 0 ]] || continue
	if [[ -z ${first_seen[${ph[i]}]:-} ]]; then
		first_seen[${ph[i]}]=1
		continue
	fi
	sum[${ph[i]}]=$((${sum[${ph[i]}]:-0} + pct))
	cnt[${ph[i]}]=$((${cnt[${ph[i]}]:-0} + 1))
	[[ ${ph[i]} == 3 ]] && ramp_pcts+=("$pct")
done
mean() {
	[[ ${cnt[$1]:-0} -gt 0 ]] || fail "no samples in phase $1"
	echo $((sum[$1] / cnt[$1]))
}
idle1=$(mean 1) high=$(mean 2) mid=$(mean 4) idle2=$(mean 5)
n=${#ramp_pcts[@]}
((n >= 4)) || fail "only $n samples in the ramp"
ramp_a=0 ramp_b=0
for ((i = 0; i < n / 2; i++)); do
	ramp_a=$((ramp_a + ramp_pcts[i]))
	ramp_b=$((ramp_b + ramp_pcts[n - 1 - i]))
done
ramp_a=$((ramp_a / (n / 2))) ramp_b=$((ramp_b / (n / 2)))
echo "# means: idle=$idle1% hold90=$high% ramp90->10 first half=$ramp_a% second half=$ramp_b% hold45=$mid% idle=$idle2%"
echo "BENCH tcg_guest_idle_cpu $idle1 pct"
echo "BENCH tcg_guest_hold90_cpu $high pct"
echo "BENCH tcg_guest_hold45_cpu $mid pct"

check "idle phase stays low ($idle1% <= $IDLE_MAX%)" test "$idle1" -le "$IDLE_MAX"
check "hold 90% is high ($high% >= $HOLD_HIGH_MIN%)" test "$high" -ge "$HOLD_HIGH_MIN"
check "hold 90% is well above idle ($high% >= $idle1% + 15)" test "$high" -ge $((idle1 + 15))
check "hold 45% is $MID_TO_HIGH_MIN-$MID_TO_HIGH_MAX% of hold 90% ($mid% vs $high%)" \
	eval "((mid * 100 >= high * MID_TO_HIGH_MIN && mid * 100 <= high * MID_TO_HIGH_MAX))"
check "hold 45% is above idle ($mid% >= $idle1% + 5)" test "$mid" -ge $((idle1 + 5))
check "ramp 90->10% falls ($ramp_a% >= $ramp_b% + max(5, hold90/4))" \
	eval "((ramp_a >= ramp_b + (high / 4 > 5 ? high / 4 : 5)))"
check "final idle stays low ($idle2% <= $IDLE_MAX%)" test "$idle2" -le "$IDLE_MAX"

# libvirtd restart under a running guest.
old_libvirtd=$(host_libvirtd_pid a)
host_libvirtd_restart a || fail "libvirtd restart"
new_libvirtd=$(host_libvirtd_pid a)
check "libvirtd was restarted ($old_libvirtd -> $new_libvirtd)" test "$old_libvirtd" != "$new_libvirtd"
check "QEMU process $qemu_pid survived" test "$(guest_qemu_pid a vm1)" = "$qemu_pid"
check "virsh lists the guest as running" eval '[[ $(host_virsh a domstate vm1) == running ]]'
check "virsh list --name shows vm1" eval 'host_virsh a list --name | grep -qx vm1'
u1=$(cat "$cg_acct/cpuacct.usage")
host_wait_for 10 eval "(( \$(cat '$cg_acct/cpuacct.usage') > $u1 ))" || fail "guest stopped running"
echo "ok - guest still runs (cpuacct.usage grows)"

# Tuning after the reconnect lands where the daemon's tests will read it.
host_virsh a schedinfo --live vm1 vcpu_quota=20000 >/dev/null || fail "schedinfo vcpu_quota"
cg_cpu=$(guest_cgroup a vm1 cpu)
check "vcpu_quota=20000 in vcpu0/cpu.cfs_quota_us" \
	test "$(cat "$cg_cpu/vcpu0/cpu.cfs_quota_us")" = 20000
check "virsh schedinfo reads vcpu_quota back" \
	eval 'host_virsh a schedinfo vm1 | grep -Eq "^vcpu_quota +: 20000$"'
inner=$(guest_cgroup_inner a vm1 cpu)
check "inside the host the VM is at $inner" \
	eval '[[ $(host_exec a cat "$inner/vcpu0/cpu.cfs_quota_us") == 20000 ]]'

# Teardown must leave nothing behind.
netns=$(host_netns a)
cgs=$(host_cgroups a)
host_destroy a
check "QEMU is gone" eval '! kill -0 $qemu_pid 2>/dev/null'
check "netns $netns is gone" test ! -e "/run/netns/$netns"
for cg in $cgs; do
	check "cgroup $cg is gone" test ! -d "$cg"
done
echo "PASS"
