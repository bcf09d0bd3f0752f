# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Test guests inside a host from host.sh (source host.sh first): build the
# initramfs once per test run, generate the domain XML from
# guest/domain.xml.in, start the guest, and find its QEMU process and
# cgroups from the host side.
#
#   guest_build                          # once; GUEST_BUILD_DIR to reuse one
#   guest_start a vm1 "idle:10,hold:20:80,idle:10"   # define + start
#   guest_wait_ready a vm1               # "prescient-guest: ready" on serial
#   guest_qemu_pid a vm1
#   guest_cgroup a vm1 cpuacct           # root-namespace path of the VM group
#   guest_cgroup_inner a vm1 cpu         # same, as seen inside the host
#
# Knobs (environment): GUEST_MEMORY_MIB (96), GUEST_VCPUS (1),
# GUEST_DISK_MIB (16), GUEST_CMDLINE_EXTRA, GUEST_PERIOD_MS (20).

GUEST_SRC_DIR=$(cd "$HOST_LIB_DIR/../guest" && pwd)
: "${GUEST_BUILD_DIR:=}"

# Exits 77 with the reason when the guest cannot be built here.
guest_require() {
	ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 ||
		host_skip "no /boot/vmlinuz-*-cloud-amd64 (apt-get install linux-image-cloud-amd64)"
	command -v "${CC:-cc}" >/dev/null 2>&1 || host_skip "no C compiler for the guest's loadgen"
	echo 'int main(void) { return 0; }' | "${CC:-cc}" -static -x c -o /dev/null - 2>/dev/null ||
		host_skip "${CC:-cc} cannot link static binaries (libc6-dev)"
	# ldd fails on a static binary: capture its verdict, not its status.
	[[ -x /usr/bin/busybox && $(ldd /usr/bin/busybox 2>&1 || true) == *"not a dynamic"* ]] ||
		host_skip "no static busybox (apt-get install busybox-static)"
}

guest_build() {
	_host_base_init
	if [[ -z $GUEST_BUILD_DIR ]]; then
		GUEST_BUILD_DIR=$PRESCIENT_IT_DIR/guest-build
	fi
	[[ -s $GUEST_BUILD_DIR/initramfs.cpio.gz ]] && return 0
	"$GUEST_SRC_DIR/build-initramfs.sh" "$GUEST_BUILD_DIR" >&2
}

guest_dir() {
	echo "$(host_dir "$1")/guests/$2"
}

guest_serial_log() {
	echo "$(guest_dir "$1" "$2")/serial.log"
}

_guest_sed_escape() {
	printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'
}

# Prints the domain XML of guest VM (in host NAME's dir) for PATTERN.
guest_domain_xml() {
	local name=$1 vm=$2 pattern=$3 gdir cmdline cache kernel
	gdir=$(guest_dir "$name" "$vm")
	kernel=$(readlink -f "$GUEST_BUILD_DIR/vmlinuz")
	cmdline="console=ttyS0 quiet panic=-1 prescient.load=$pattern"
	cmdline+=" prescient.period_ms=${GUEST_PERIOD_MS:-20}"
	cmdline+=" prescient.ip=${GUEST_IP:-10.77.0.2/24} ${GUEST_CMDLINE_EXTRA:-}"
	# O_DIRECT (cache=none, disk I/O visible to the host's block layer)
	# does not work on tmpfs.
	cache=none
	[[ $(stat -f -c %T "$gdir") == tmpfs ]] && cache=writeback
	sed -e "s|@NAME@|$(_guest_sed_escape "$vm")|g" \
	    -e "s|@MEMORY_MIB@|${GUEST_MEMORY_MIB:-96}|g" \
	    -e "s|@VCPUS@|${GUEST_VCPUS:-1}|g" \
	    -e "s|@KERNEL@|$(_guest_sed_escape "$kernel")|g" \
	    -e "s|@INITRD@|$(_guest_sed_escape "$GUEST_BUILD_DIR/initramfs.cpio.gz")|g" \
	    -e "s|@CMDLINE@|$(_guest_sed_escape "$cmdline")|g" \
	    -e "s|@SERIAL_LOG@|$(_guest_sed_escape "$gdir/serial.log")|g" \
	    -e "s|@DISK@|$(_guest_sed_escape "$gdir/disk.img")|g" \
	    -e "s|@DISK_CACHE@|$cache|g" \
	    -e "s|@BRIDGE@|$(_guest_sed_escape "$HOST_BRIDGE")|g" \
	    -e "s|@EMULATOR@|$(command -v qemu-system-x86_64)|g" \
	    "$GUEST_SRC_DIR/domain.xml.in"
}

# Defines and starts guest VM in host NAME replaying PATTERN.
guest_start() {
	local name=$1 vm=$2 pattern=$3 gdir
	guest_build || return 1
	gdir=$(guest_dir "$name" "$vm")
	mkdir -p "$gdir"
	qemu-img create -q -f raw "$gdir/disk.img" "${GUEST_DISK_MIB:-16}M" || return 1
	: >"$gdir/serial.log"
	guest_domain_xml "$name" "$vm" "$pattern" >"$gdir/domain.xml"
	host_virsh "$name" define "$gdir/domain.xml" >/dev/null || return 1
	host_virsh "$name" start "$vm" >/dev/null || { host_diag "$name"; return 1; }
}

# Waits (default 120 s; boot takes 4-16 s here) for the guest's /init to
# report it is up.
guest_wait_ready() {
	local name=$1 vm=$2 timeout_sec=${3:-120}
	if ! host_wait_for "$timeout_sec" grep -q "prescient-guest: ready" "$(guest_serial_log "$name" "$vm")"; then
		host_log "guest $vm in host $name did not boot in ${timeout_sec}s"
		host_diag "$name"
		return 1
	fi
}

guest_qemu_pid() {
	local pid
	pid=$(cat "$(host_dir "$1")/run/libvirt/qemu/$2.pid" 2>/dev/null) || return 1
	[[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
}

# The VM's cgroup in CONTROLLER's hierarchy ("cpu", "cpuacct", "memory",
# "unified" for v2) relative to the hierarchy root as /proc/<qemu>/cgroup
# shows it from the calling namespace, without the trailing /emulator.
_guest_cgroup_rel() {
	local pid=$1 ctrl=$2 line path
	if [[ $ctrl == unified ]]; then
		path=$(sed -n 's/^0:://p' "/proc/$pid/cgroup")
	else
		while IFS= read -r line; do
			[[ ,$(cut -d: -f2 <<<"$line"), == *,$ctrl,* ]] || continue
			path=${line#*:*:}
		done <"/proc/$pid/cgroup"
	fi
	[[ -n ${path:-} ]] || return 1
	echo "${path%/emulator}"
}

# Root-namespace path of VM's cgroup directory in CONTROLLER's hierarchy,
# e.g. /sys/fs/cgroup/cpuacct/pit-123-a/machine/qemu-1-vm1.libvirt-qemu
guest_cgroup() {
	local pid rel
	pid=$(guest_qemu_pid "$1" "$2") || return 1
	rel=$(_guest_cgroup_rel "$pid" "$3") || return 1
	echo "/sys/fs/cgroup/$3$rel"
}

# The same directory as processes inside the host (the prescient daemon)
# see it: /sys/fs/cgroup/cpu/machine/qemu-1-vm1.libvirt-qemu
guest_cgroup_inner() {
	local pid
	pid=$(guest_qemu_pid "$1" "$2") || return 1
	host_exec "$1" bash -c 'p=$(sed -n "s/^[0-9]*:\([^:]*,\)\{0,1\}$2\(,[^:]*\)\{0,1\}:\(.*\)/\3/p" /proc/$1/cgroup | head -n1); echo "/sys/fs/cgroup/$2${p%/emulator}"' _ "$pid" "$3"
}

# Total CPU time of the VM (all QEMU threads) in ns, from cpuacct.usage.
guest_cpu_usage_ns() {
	local cg
	cg=$(guest_cgroup "$1" "$2" cpuacct) || return 1
	cat "$cg/cpuacct.usage"
}

# Index (1-based) of the phase the guest's loadgen announced last, 0 before
# the first one, "done" after the pattern ended.
guest_phase_current() {
	local line
	line=$(grep -a 'prescient-load: t=' "$(guest_serial_log "$1" "$2")" 2>/dev/null | tail -n1)
	case $line in
	"") echo 0 ;;
	*" done"*) echo done ;;
	*) line=${line#*phase=}; echo "${line%%/*}" ;;
	esac
}
