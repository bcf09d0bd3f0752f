#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The libvirt plugin against a real libvirtd and a real TCG guest, in a
# private host from tests/integration/lib (never the machine's own libvirtd):
#   - list_vms finds the guest's QEMU pid (through libvirt's pid file and
#     through the /proc scan alone), its vCPU thread ids (checked against
#     /proc/<tid>/comm), its tap (present in the host's netns) and its cgroup
#     paths (as the host's processes see them);
#   - set_cpu_tune lands in the VM's cpu.cfs_quota_us, get_cpu_tune reads it
#     back, and an unlimited quota is written back as -1;
#   - get_stats: CPU time, vCPU delay, and net rx from the guest's point of
#     view (traffic sent to the guest shows up as rx);
#   - a libvirtd restart: DISCONNECTED, CONNECTED, and the guest still listed
#     with the same pid, and events flow on the new connection;
#   - a wedged libvirtd (SIGSTOP): keepalive closes the connection, calls
#     return -ENOTCONN, and it reconnects after SIGCONT.
# Usage: it-plugin-libvirt.sh PATH-TO-plugin-libvirt-dump
set -u

DUMP=${1:?usage: it-plugin-libvirt.sh plugin-libvirt-dump}
: "${PRESCIENT_SOURCE_ROOT:=$(cd "$(dirname "$0")/../../.." && pwd)}"
LIB=$PRESCIENT_SOURCE_ROOT/tests/integration/lib
[[ -r $LIB/host.sh && -r $LIB/guest.sh ]] || { echo "SKIP: no $LIB/host.sh" >&2; exit 77; }
# shellcheck source=/dev/null
source "$LIB/host.sh"
# shellcheck source=/dev/null
source "$LIB/guest.sh"

host_require
host_install_trap

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# Value of "vm <uuid> KEY ..." (fields after the key) from a dump file.
vm_field() {
	awk -v k="$2" '$1 == "vm" && $3 == k { $1 = $2 = $3 = ""; sub(/^ +/, ""); print; exit }' "$1"
}
stat_field() {
	awk -v k="$2" '$1 == "stat" && $3 == k { print $4; exit }' "$1"
}

# True when FILE shows "event connected" after "event disconnected".
reconnected() {
	sed -n '/^event disconnected/,$p' "$1" | grep -q "^event connected"
}

# Runs the dump tool inside the host into FILE; a failure (sanitizer reports
# included) fails the test.
dump_to() {
	local file=$1
	shift
	if ! host_exec pl "$DUMP" --uri "$HOST_URI" "$@" >"$file" 2>&1; then
		fail "plugin-libvirt-dump $* failed"
		cat "$file" >&2
		return 1
	fi
}

out=$(mktemp -d "${TMPDIR:-/tmp}/it-plugin-libvirt.XXXXXX")
trap 'host_destroy_all; rm -rf "$out"' EXIT

host_create pl || exit 1
GUEST_VCPUS=2 guest_start pl vm1 "idle:600" || exit 1
guest_wait_ready pl vm1 90 || exit 1

pid=$(guest_qemu_pid pl vm1)
dump_to "$out/d1"
cat "$out/d1" >&2

uuid=$(awk '$1 == "vm" && $3 == "name" && $4 == "vm1" { print $2 }' "$out/d1")
[[ -n $uuid ]] || fail "vm1 not listed"
[[ $(vm_field "$out/d1" pid) == "$pid" ]] || fail "pid $(vm_field "$out/d1" pid), QEMU is $pid"
[[ $(vm_field "$out/d1" vcpus) == 2/2 ]] || fail "vcpus $(vm_field "$out/d1" vcpus)"

# vCPU threads: every listed tid is QEMU's thread "CPU <n>/..."
n=0
while read -r _ _ _ idx tid; do
	comm=$(cat "/proc/$pid/task/$tid/comm" 2>/dev/null)
	[[ $comm == "CPU $idx/"* ]] || fail "vCPU $idx tid $tid is '$comm'"
	n=$((n + 1))
done < <(awk '$1 == "vm" && $3 == "vcpu_tid"' "$out/d1")
((n == 2)) || fail "$n vCPU tids, expected 2"

tap=$(vm_field "$out/d1" tap)
[[ -n $tap ]] && host_exec pl ip link show "$tap" >/dev/null 2>&1 || fail "tap '$tap' not in the host"
[[ $(vm_field "$out/d1" disk) == vda ]] || fail "disk $(vm_field "$out/d1" disk)"

want_cpu=$(guest_cgroup_inner pl vm1 cpu)
[[ "/sys/fs/cgroup/cpu$(vm_field "$out/d1" cgroup_cpu)" == "$want_cpu" ]] ||
	fail "cgroup_cpu $(vm_field "$out/d1" cgroup_cpu), expected $want_cpu"
want_mem=$(guest_cgroup_inner pl vm1 memory)
[[ "/sys/fs/cgroup/memory$(vm_field "$out/d1" cgroup_memory)" == "$want_mem" ]] ||
	fail "cgroup_memory $(vm_field "$out/d1" cgroup_memory), expected $want_mem"

for k in cpu_time_ns vcpu_delay_ns balloon_rss_kib block_rd_bytes net_rx_bytes; do
	v=$(stat_field "$out/d1" "$k")
	[[ $v =~ ^[0-9]+$ ]] || fail "stat $k is '$v'"
done

# the /proc scan alone, without libvirt's pid file
dump_to "$out/d2" --pid-dir ""
[[ $(vm_field "$out/d2" pid) == "$pid" ]] || fail "scan found pid $(vm_field "$out/d2" pid)"

# tuning lands in the cgroup file
cg=$(guest_cgroup pl vm1 cpu)
dump_to "$out/d3" --set "$uuid" 100000 50000 0
grep -q "^set_cpu_tune 0" "$out/d3" || fail "set_cpu_tune: $(grep set_cpu_tune "$out/d3")"
[[ $(cat "$cg/cpu.cfs_quota_us") == 50000 ]] || fail "cfs_quota_us $(cat "$cg/cpu.cfs_quota_us")"
[[ $(cat "$cg/cpu.cfs_period_us") == 100000 ]] || fail "cfs_period_us $(cat "$cg/cpu.cfs_period_us")"
[[ $(vm_field "$out/d3" tune) == "100000 50000 "* ]] || fail "tune read back: $(vm_field "$out/d3" tune)"
dump_to "$out/d4" --set "$uuid" 0 -1 0
[[ $(cat "$cg/cpu.cfs_quota_us") == -1 ]] || fail "unlimited: cfs_quota_us $(cat "$cg/cpu.cfs_quota_us")"
[[ $(vm_field "$out/d4" tune) == "100000 -1 "* ]] || fail "tune read back: $(vm_field "$out/d4" tune)"
echo "tuning: 50000/100000 then unlimited landed in $cg" >&2

# direction of net stats: ~300 KB sent to the guest (it answers with at most
# rate-limited ICMP errors) must appear as rx
rx0=$(stat_field "$out/d1" net_rx_bytes)
tx0=$(stat_field "$out/d1" net_tx_bytes)
host_exec pl bash -c 'for i in $(seq 200); do head -c 1400 /dev/zero >/dev/udp/10.77.0.2/9; done' 2>/dev/null
sleep 1
dump_to "$out/d5"
rx=$(($(stat_field "$out/d5" net_rx_bytes) - rx0))
tx=$(($(stat_field "$out/d5" net_tx_bytes) - tx0))
echo "net after 200 x 1400 B sent to the guest: rx +$rx B, tx +$tx B" >&2
((rx > 200000 && rx > 4 * tx)) || fail "net rx +$rx tx +$tx: not the guest's point of view"

# reconnect across a libvirtd restart
dump_to "$out/w" --watch 30 &
watcher=$!
sleep 3
host_libvirtd_restart pl || fail "libvirtd restart"
host_wait_for 20 grep -q "^event disconnected" "$out/w" || fail "no DISCONNECTED"
host_wait_for 20 reconnected "$out/w" ||
	fail "no CONNECTED after DISCONNECTED"
sleep 2
host_virsh pl suspend vm1 >/dev/null
host_virsh pl resume vm1 >/dev/null
host_wait_for 10 grep -q "^event changed $uuid vm1" "$out/w" || fail "no event on the new connection"
wait "$watcher" || fail "watching dump failed"
after=$(sed -n '/^event disconnected/,$p' "$out/w")
grep -q "^vm $uuid pid $pid$" <<<"$after" || fail "vm1 not listed with pid $pid after reconnect"
grep -q "^list_vms error -107" <<<"$after" || echo "note: no list attempt fell in the gap" >&2
grep -E "^event|^connected|error" "$out/w" | uniq -c >&2

# a wedged libvirtd (SIGSTOP): keepalive (1 s x 3 in the dump tool) closes
# the connection, the blocked call returns -ENOTCONN, later calls fail at
# once, and the connection comes back after SIGCONT
dump_to "$out/s" --watch 30 &
watcher=$!
sleep 3
lpid=$(host_libvirtd_pid pl)
kill -STOP "$lpid"
host_wait_for 20 grep -q "^event disconnected" "$out/s" || fail "wedged libvirtd: no DISCONNECTED"
kill -CONT "$lpid"
host_wait_for 20 reconnected "$out/s" ||
	fail "wedged libvirtd: no CONNECTED after SIGCONT"
wait "$watcher" || fail "watching dump failed"
grep -q "keepalive" "$out/s" || fail "wedged libvirtd: not detected by keepalive"
grep -E "^event|^connected|error" "$out/s" | uniq -c >&2

if ((failures)); then
	host_diag pl
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "ok" >&2
