#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Installs what prescient needs on Debian 12 and builds it into ./build.
# Sourced by demo.sh and run.sh; safe to run again (apt and meson are
# idempotent). Needs root for apt.
set -euo pipefail

PRESCIENT_PACKAGES=(
	# build (libc6-dev for the guest's static load generator)
	meson ninja-build pkg-config gcc libc6-dev clang clang-format bpftool
	# libraries: libvirt API, BPF, RCU snapshots, netlink, JSON, INI config,
	# journald/sd_notify, domain XML parsing
	libvirt-dev libbpf-dev liburcu-dev libnl-3-dev libnl-route-3-dev
	libjson-c-dev libinih-dev libsystemd-dev libxml2-dev
	# the real parts the tests run: libvirtd, QEMU under TCG, a 6.1 cloud
	# kernel and busybox for guests and cgroup-v2 test VMs, netlink tools,
	# a benchmark load
	libvirt-daemon-system qemu-system-x86 qemu-utils linux-image-cloud-amd64
	busybox-static cpio gzip iproute2 iperf3 linux-perf libclang-rt-14-dev
	# the integration tests' trace checks
	python3
)

prescient_install_deps() {
	local missing=()
	local p

	for p in "${PRESCIENT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$p")
	done
	if [ "${#missing[@]}" -eq 0 ]; then
		return 0
	fi
	echo "setup: installing ${missing[*]}"
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: these packages are missing and installing them needs root: ${missing[*]}" >&2
		return 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# Postinst scripts of libvirt try to start services; without systemd
	# as PID 1 they fail harmlessly, so the install goes on.
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# prescient_build DIR [meson options...]
prescient_build() {
	local dir=$1
	shift
	if [ -d "$dir" ]; then
		meson setup --reconfigure "$dir" "$@" >/dev/null
	else
		meson setup "$dir" "$@" >/dev/null
	fi
	ninja -C "$dir"
}

PRESCIENT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
