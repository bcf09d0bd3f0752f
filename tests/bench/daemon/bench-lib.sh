# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Shared by the daemon benchmarks: many tiny idle TCG guests in one host of
# tests/integration/lib/host.sh. Source host.sh and guest.sh first.
#
#   bench_guests_start a 50 5     # vm1..vm50, started 5 at a time
#   bench_guests_check a 50       # all 50 running
#
# A guest boot costs ~3.5 s of one core here and the machine has two, so the
# guests are started in batches and each batch must be up ("ready" on its
# serial console) before the next starts: the boots do not starve each other
# into timeouts. Knobs: GUEST_MEMORY_MIB (80 here: the cloud kernel does
# not boot in 64), BENCH_TB_CACHE_MIB (16), BENCH_BOOT_TIMEOUT_SEC (180).

# guest_start of lib/guest.sh with a small TCG translation cache: QEMU's
# default (1 GiB, filled lazily) makes an idle 80 MiB guest ~200 MiB
# resident, too much for 50 of them next to other work.
bench_guest_start() {
	local name=$1 vm=$2 pattern=$3 gdir
	guest_build || return 1
	gdir=$(guest_dir "$name" "$vm")
	mkdir -p "$gdir"
	qemu-img create -q -f raw "$gdir/disk.img" "${GUEST_DISK_MIB:-16}M" || return 1
	: >"$gdir/serial.log"
	guest_domain_xml "$name" "$vm" "$pattern" |
		sed "s|<acpi/>|<acpi/><tcg><tb-cache unit='MiB'>${BENCH_TB_CACHE_MIB:-16}</tb-cache></tcg>|" \
			>"$gdir/domain.xml"
	host_virsh "$name" define "$gdir/domain.xml" >/dev/null || return 1
	host_virsh "$name" start "$vm" >/dev/null || { host_diag "$name"; return 1; }
}

bench_guests_start() {
	local name=$1 n=$2 batch=${3:-5} i j t0
	t0=$SECONDS
	export GUEST_MEMORY_MIB=${GUEST_MEMORY_MIB:-80}
	# Nothing is written to the disk: keep 50 of them small.
	export GUEST_DISK_MIB=${GUEST_DISK_MIB:-4}
	guest_build || return 1
	for ((i = 1; i <= n; i += batch)); do
		for ((j = i; j < i + batch && j <= n; j++)); do
			# Distinct addresses on the host's bridge, though no traffic flows.
			GUEST_IP=10.77.$((j / 250)).$((j % 250 + 2))/16 \
				bench_guest_start "$name" "vm$j" "idle:86400" || return 1
		done
		for ((j = i; j < i + batch && j <= n; j++)); do
			guest_wait_ready "$name" "vm$j" "${BENCH_BOOT_TIMEOUT_SEC:-180}" || return 1
		done
		echo "bench: $((j - 1))/$n guests up after $((SECONDS - t0)) s" >&2
	done
}

# Fails unless libvirt lists exactly n running domains.
bench_guests_check() {
	local name=$1 n=$2 running
	running=$(host_virsh "$name" list --state-running --name | grep -c .)
	[[ $running -eq $n ]] || { echo "bench: $running guests running, expected $n" >&2; return 1; }
}
