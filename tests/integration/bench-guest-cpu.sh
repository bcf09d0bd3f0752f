#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What a TCG test guest costs the host: boot time and CPU to boot, then CPU
# per second while the guest idles (HLT) and while it spins at 100 % of its
# vCPU, split into the vCPU thread (vcpu0/) and the rest of QEMU
# (emulator/). Prints BENCH lines; the figures go into README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib/host.sh"
source "$here/lib/guest.sh"

host_require
guest_require
host_install_trap

IDLE_SEC=${BENCH_IDLE_SEC:-15}
BUSY_SEC=${BENCH_BUSY_SEC:-15}

host_create a
guest_build
t0=${EPOCHREALTIME/./}
# Boot, then 5 s of settling, the idle window, the busy window.
guest_start a vm1 "idle:$((IDLE_SEC + 5)),hold:$((BUSY_SEC + 3)):100,idle:600"
guest_wait_ready a vm1 120
t1=${EPOCHREALTIME/./}
cg=$(guest_cgroup a vm1 cpuacct)
boot_cpu=$(cat "$cg/cpuacct.usage")
echo "BENCH tcg_guest_boot_wall $(((t1 - t0) / 1000)) ms"
echo "BENCH tcg_guest_boot_cpu $((boot_cpu / 1000000)) ms"

# Percent of one core over a window, total and per thread group.
window() {
	local label=$1 sec=$2 a b c d e f ta tb
	a=$(cat "$cg/cpuacct.usage"); c=$(cat "$cg/vcpu0/cpuacct.usage"); e=$(cat "$cg/emulator/cpuacct.usage")
	ta=${EPOCHREALTIME/./}
	sleep "$sec"
	b=$(cat "$cg/cpuacct.usage"); d=$(cat "$cg/vcpu0/cpuacct.usage"); f=$(cat "$cg/emulator/cpuacct.usage")
	tb=${EPOCHREALTIME/./}
	# ns / usec = tenths of a percent of one core.
	pct1() { printf '%d.%d' $(($1 / (tb - ta) / 10)) $(($1 / (tb - ta) % 10)); }
	echo "BENCH tcg_guest_${label}_cpu $(pct1 $((b - a))) pct"
	echo "BENCH tcg_guest_${label}_vcpu0 $(pct1 $((d - c))) pct"
	echo "BENCH tcg_guest_${label}_emulator $(pct1 $((f - e))) pct"
}
host_wait_for 60 grep -q "phase=1/3" "$(guest_serial_log a vm1)"
sleep 3
window idle "$IDLE_SEC"
host_wait_for 60 grep -q "phase=2/3" "$(guest_serial_log a vm1)"
sleep 2
window busy100 "$BUSY_SEC"
echo "BENCH machine_loadavg_1min $(cut -d' ' -f1 /proc/loadavg) tasks"
