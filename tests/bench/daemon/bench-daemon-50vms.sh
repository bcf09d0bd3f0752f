#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# prescientd's own cost with 50 VMs sampled every second: a private host
# (tests/integration/lib/host.sh) with BENCH_VMS (50) real, idle TCG guests
# of 80 MiB booted 5 at a time, then the daemon started by prescient_start
# with the production forecast step (60 s). After BENCH_WARMUP_SEC (20) it
# reads the daemon's utime + stime from /proc/<pid>/stat over
# BENCH_MEASURE_SEC (90, so a forecast step falls inside), and VmRSS from
# /proc/<pid>/status at the end:
#   BENCH daemon_cpu_pct_50vms <pct> %       (percent of one core)
#   BENCH daemon_rss_mib_50vms <MiB> MiB
# Also what the daemon makes libvirtd and QEMU spend (it polls libvirt's
# bulk statistics every tick): their CPU over the same window, and that
# minus their rate over BENCH_BASELINE_SEC (30) before the daemon started
# (..._induced). The BENCH lines say which VMs were used: real TCG guests.
set -euo pipefail

: "${PRESCIENT_SOURCE_ROOT:=$(cd "$(dirname "$0")/../../.." && pwd)}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/host.sh"
source "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/guest.sh"
source "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/prescient.sh"
source "$here/bench-lib.sh"

host_require
guest_require
prescient_find_build || host_skip "prescientd is not built"
host_install_trap

VMS=${BENCH_VMS:-50}
WARMUP_SEC=${BENCH_WARMUP_SEC:-20}
MEASURE_SEC=${BENCH_MEASURE_SEC:-90}
BASELINE_SEC=${BENCH_BASELINE_SEC:-30}
HZ=$(getconf CLK_TCK)
export HOST_CPU_SHARES=${HOST_CPU_SHARES:-4096}

# utime + stime of the processes given, in ticks (dead threads included).
cpu_ticks() {
	local pid sum=0 f
	for pid in "$@"; do
		f=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		f=${f##*) }
		# shellcheck disable=SC2086
		set -- $f
		sum=$((sum + ${12} + ${13}))
	done
	echo "$sum"
}

now_usec() {
	echo "${EPOCHREALTIME/./}"
}

# Percent of one core, one decimal: pct TICKS USEC
pct() {
	awk -v t="$1" -v us="$2" -v hz="$HZ" 'BEGIN { printf "%.1f", t / hz * 1e8 / us }'
}

status_field() {
	prescient_ctl a --json status 2>/dev/null | python3 -c \
		'import json, sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$1" 2>/dev/null || true
}

tracks_all_vms() {
	[[ $(status_field vm_count) == "$VMS" ]]
}

host_create a
t0=$SECONDS
bench_guests_start a "$VMS" 5
bench_guests_check a "$VMS"
echo "BENCH daemon_50vms_boot_wall_sec $((SECONDS - t0)) s"
qemu_pids=()
for ((i = 1; i <= VMS; i++)); do
	qemu_pids+=("$(guest_qemu_pid a "vm$i")")
done
lvd=$(host_libvirtd_pid a)
sleep 10

# libvirtd and QEMU on their own, before the daemon.
b0=$(cpu_ticks "$lvd" "${qemu_pids[@]}")
u0=$(now_usec)
sleep "$BASELINE_SEC"
b1=$(cpu_ticks "$lvd" "${qemu_pids[@]}")
u1=$(now_usec)
base_pct=$(pct $((b1 - b0)) $((u1 - u0)))

prescient_start a $'[forecast]\nstep = 60s'
pid=$(prescient_pid a)
host_wait_for 60 tracks_all_vms || {
	echo "prescientd does not track $VMS VMs (status: $(prescient_ctl a --json status 2>&1))" >&2
	tail -n 30 "$(prescient_log a)" >&2
	exit 1
}
sleep "$WARMUP_SEC"

d0=$(cpu_ticks "$pid")
o0=$(cpu_ticks "$lvd" "${qemu_pids[@]}")
u0=$(now_usec)
sleep "$MEASURE_SEC"
d1=$(cpu_ticks "$pid")
o1=$(cpu_ticks "$lvd" "${qemu_pids[@]}")
u1=$(now_usec)
rss_kib=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
hwm_kib=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$pid/status")

# The daemon must still be sampling all of them, or the figure means nothing.
prescient_ctl a --json status >&2 || true
tracks_all_vms || { echo "prescientd lost VMs during the run" >&2; exit 1; }
kill -0 "$pid" || { echo "prescientd died" >&2; exit 1; }

echo "BENCH daemon_cpu_pct_50vms $(pct $((d1 - d0)) $((u1 - u0))) %"
echo "BENCH daemon_rss_mib_50vms $(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
echo "BENCH daemon_rss_peak_mib_50vms $(awk -v k="$hwm_kib" 'BEGIN { printf "%.1f", k / 1024 }') MiB"
echo "BENCH daemon_50vms_libvirt_qemu_cpu_pct_baseline $base_pct %"
with_pct=$(pct $((o1 - o0)) $((u1 - u0)))
echo "BENCH daemon_50vms_libvirt_qemu_cpu_pct_with_daemon $with_pct %"
echo "BENCH daemon_50vms_libvirt_qemu_cpu_pct_induced $(awk -v a="$with_pct" -v b="$base_pct" 'BEGIN { printf "%.1f", a - b }') %"
echo "BENCH machine_loadavg_1min $(cut -d' ' -f1 /proc/loadavg) tasks"
prescient_stop a || echo "prescientd exited with status $? on SIGTERM" >&2
