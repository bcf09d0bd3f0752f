#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Our collector against libvirt's bulk statistics polling on the same
# running VMs: a private host (tests/integration/lib/host.sh) with
# BENCH_VMS (8) idle TCG guests of 64 MiB, then bench-collect-vs-libvirt
# inside the host alternates them for BENCH_ROUNDS (30) rounds of blocks of
# about BENCH_BLOCK_MSEC (300) ms. Prints its BENCH lines.
# Usage: bench-collect-vs-libvirt.sh PATH-TO-bench-collect-vs-libvirt
set -euo pipefail

BIN=${1:?usage: bench-collect-vs-libvirt.sh bench-collect-vs-libvirt}
: "${PRESCIENT_SOURCE_ROOT:=$(cd "$(dirname "$0")/../../.." && pwd)}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/host.sh"
source "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/guest.sh"
source "$here/bench-lib.sh"

host_require
guest_require
[[ -x $BIN ]] || host_skip "no $BIN (build first)"
host_install_trap

VMS=${BENCH_VMS:-8}
# The host's weight against the rest of the shared machine: boots and
# measurements are steadier (see tests/integration/README.md).
export HOST_CPU_SHARES=${HOST_CPU_SHARES:-4096}
host_create a
bench_guests_start a "$VMS" 4
bench_guests_check a "$VMS"
# Let the last boots settle (guest kernels finish their init work).
sleep 5
host_exec a "$BIN" "$(host_libvirtd_pid a)" "${BENCH_ROUNDS:-30}" "${BENCH_BLOCK_MSEC:-300}"
echo "BENCH machine_loadavg_1min $(cut -d' ' -f1 /proc/loadavg) tasks"
