# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
#
# Isolated "hosts" for the integration tests, sourced by the test scripts.
#
# A host is a private libvirtd with everything it touches made private:
#   - a network namespace "pit-<pid>-<name>" (ip netns add) with lo up and a
#     bridge HOST_BRIDGE (10.77.0.1/24) for guest NICs;
#   - a mount namespace (held open by a "holder" sleep process) where
#     /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt and
#     /etc/libvirt are bind mounts of directories in the host's state dir,
#     /sys is a fresh sysfs of the host's netns, and every cgroup hierarchy is
#     mounted again so that the host's subtree is its root;
#   - a cgroup subtree "pit-<pid>-<name>" under the caller's cgroup in every
#     hierarchy, plus a cgroup namespace rooted there. libvirt then puts VMs
#     at <subtree>/machine/qemu-<id>-<name>.libvirt-qemu/ (v1 hierarchies);
#   - its own host_uuid, virtlogd and libvirtd with pid files in the state dir.
# Every process started through host_exec joins the host's cgroups, so
# host_destroy finds and kills all of them (QEMU included) through cgroup.procs,
# never by name. Nothing here touches a libvirtd of the machine's root
# namespaces: inside a host /run/libvirt always carries our marker file.
#
# Usage (see README.md):
#   source "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/host.sh"
#   host_require            # exit 77 with a reason unless root + tools
#   host_install_trap       # host_destroy_all on EXIT/INT/TERM
#   host_create a           # namespaces, cgroups, config, daemons started
#   host_exec a virsh -c qemu:///system list
#   host_libvirtd_restart a
#   host_destroy a          # idempotent

HOST_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
HOST_BRIDGE=${HOST_BRIDGE:-prbr0}
HOST_BRIDGE_ADDR=${HOST_BRIDGE_ADDR:-10.77.0.1/24}
HOST_URI=qemu:///system
# Directories libvirt writes to, made private per host.
HOST_PRIVATE_DIRS=(/run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt)

# Base directory of all hosts of this test process.
: "${PRESCIENT_IT_DIR:=}"

host_log() {
	echo "host: $*" >&2
}

host_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# Exits 77 with the reason when this machine cannot run a host.
host_require() {
	local t
	[[ $(id -u) -eq 0 ]] || host_skip "needs root (namespaces, cgroups, libvirtd)"
	for t in ip nsenter unshare libvirtd virtlogd virsh qemu-system-x86_64 qemu-img \
		 timeout mountpoint cpio gzip; do
		command -v "$t" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin command -v "$t" >/dev/null 2>&1 ||
			host_skip "missing $t (apt-get install libvirt-daemon-system qemu-system-x86 qemu-utils iproute2 cpio)"
	done
	PATH=$PATH:/usr/sbin:/sbin
	qemu-system-x86_64 -accel help 2>/dev/null | grep -qx tcg ||
		host_skip "qemu-system-x86_64 has no TCG accelerator"
	[[ -d /sys/fs/cgroup ]] || host_skip "no /sys/fs/cgroup"
	ip netns list >/dev/null 2>&1 || host_skip "ip netns does not work here"
	if ! unshare -m -C --propagation private true 2>/dev/null; then
		host_skip "cannot create mount/cgroup namespaces"
	fi
}

# Signal traps run with the redirections of the interrupted command (often
# >/dev/null), so the cleanup writes to a copy of the test's stderr.
host_install_trap() {
	exec {HOST_STDERR_FD}>&2
	trap 'host_destroy_all 2>&"$HOST_STDERR_FD"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
}

# Must run in the test's shell, not in a $(...) subshell.
_host_base_init() {
	if [[ -z $PRESCIENT_IT_DIR ]]; then
		PRESCIENT_IT_DIR=$(mktemp -d "${TMPDIR:-/tmp}/prescient-it.$$.XXXXXX")
		chmod 755 "$PRESCIENT_IT_DIR"
	fi
}

# The state directory of host NAME (same path inside and outside the host).
host_dir() {
	echo "${PRESCIENT_IT_DIR:?no host created yet}/hosts/$1"
}

host_netns() {
	cat "$(host_dir "$1")/netns"
}

_host_holder_pid() {
	cat "$(host_dir "$1")/holder.pid" 2>/dev/null
}

# Lists "mountpoint<TAB>fstype<TAB>super-options" of the cgroup hierarchies
# of the calling (root) mount namespace.
_host_cgroup_mounts() {
	awk '{
		for (i = 7; $i != "-"; i++) ;
		fstype = $(i + 1); opts = $(i + 3)
		if ((fstype == "cgroup" || fstype == "cgroup2") && $5 ~ "^/sys/fs/cgroup")
			printf "%s\t%s\t%s\n", $5, fstype, opts
	}' /proc/self/mountinfo
}

# The caller's cgroup path in the hierarchy mounted with these options.
_host_cgroup_current() {
	local fstype=$1 opts=$2 line ctrls o
	if [[ $fstype == cgroup2 ]]; then
		sed -n 's/^0:://p' /proc/self/cgroup
		return
	fi
	while IFS= read -r line; do
		[[ $line == 0::* ]] && continue
		ctrls=${line#*:}
		ctrls=${ctrls%%:*}
		IFS=, read -ra cl <<<"$ctrls"
		for o in "${cl[@]}"; do
			if [[ ,$opts, == *,$o,* ]]; then
				echo "${line#*:*:}"
				return
			fi
		done
	done </proc/self/cgroup
	echo /
}

# Absolute paths (root namespace) of host NAME's cgroup subtrees, one a line.
host_cgroups() {
	cut -f1 "$(host_dir "$1")/cgroups"
}

# Absolute path (root namespace) of host NAME's subtree in one hierarchy,
# e.g. host_cgroup a cpu.
host_cgroup() {
	awk -F'\t' -v c="/sys/fs/cgroup/$2" 'index($1, c "/") == 1 { print $1; exit }' \
		"$(host_dir "$1")/cgroups"
}

_host_cgroups_create() {
	local name=$1 dir leaf mp fstype opts cur cg
	dir=$(host_dir "$name")
	leaf=pit-$$-$name
	: >"$dir/cgroups"
	: >"$dir/mounts"
	while IFS=$'\t' read -r mp fstype opts; do
		cur=$(_host_cgroup_current "$fstype" "$opts")
		cg=$mp${cur%/}/$leaf
		mkdir "$cg" || return 1
		if [[ -e $cg/cpuset.cpus ]]; then
			# v1 cpuset: a new group has no CPUs or memory nodes until set.
			cat "$(dirname "$cg")/cpuset.cpus" >"$cg/cpuset.cpus"
			cat "$(dirname "$cg")/cpuset.mems" >"$cg/cpuset.mems"
		fi
		printf '%s\t%s\n' "$cg" "$mp" >>"$dir/cgroups"
		printf '%s\t%s\t%s\n' "$mp" "$fstype" "$opts" >>"$dir/mounts"
	done < <(_host_cgroup_mounts)
	[[ -s $dir/cgroups ]] || { host_log "no cgroup hierarchies found"; return 1; }
}

# Moves the calling shell ($BASHPID) into host NAME's cgroups.
_host_cgroups_enter() {
	local cg
	while IFS=$'\t' read -r cg _; do
		echo "$BASHPID" >"$cg/cgroup.procs"
	done <"$(host_dir "$1")/cgroups"
}

# Pids of every process in host NAME's cgroup subtrees.
host_pids() {
	local cg
	while IFS=$'\t' read -r cg _; do
		[[ -d $cg ]] && find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null
	done <"$(host_dir "$1")/cgroups" | sort -un
}

_host_config_write() {
	local name=$1 dir etc uuid
	dir=$(host_dir "$name")
	etc=$dir/etc/libvirt
	mkdir -p "$etc"
	# Start from the distribution's files so drivers find what they expect,
	# but without autostarted networks (no dnsmasq) or hooks.
	cp -a /etc/libvirt/. "$etc/"
	rm -rf "$etc/qemu/networks/autostart" "$etc/hooks" "$etc/qemu/autostart"
	mkdir -p "$etc/hooks" "$etc/qemu/networks"
	find "$etc/qemu" -maxdepth 1 -name '*.xml' -delete
	uuid=$(cat /proc/sys/kernel/random/uuid)
	echo "$uuid" >"$dir/host_uuid"
	cat >"$etc/libvirtd.conf" <<-EOF
		# prescient integration host "$name" (generated by host.sh)
		host_uuid = "$uuid"
		listen_tls = 0
		listen_tcp = 0
		unix_sock_group = "root"
		unix_sock_rw_perms = "0770"
		auth_unix_ro = "none"
		auth_unix_rw = "none"
		log_outputs = "2:file:/var/log/libvirt/libvirtd.log"
		log_filters = "3:rpc 3:util.json 3:object 3:event 3:util.netlink"
	EOF
	# QEMU runs as root: the guest's files live in the test's temp dir.
	cat >"$etc/qemu.conf" <<-EOF
		# prescient integration host "$name" (generated by host.sh)
		user = "root"
		group = "root"
		dynamic_ownership = 0
		security_driver = "none"
		remember_owner = 0
	EOF
	cat >"$etc/virtlogd.conf" <<-EOF
		log_outputs = "3:file:/var/log/libvirt/virtlogd.log"
	EOF
}

# Body of the holder, run inside the new mount and cgroup namespaces: make the
# private directories and cgroup mounts, then sleep to keep them alive.
_host_holder_main() {
	local dir=$1 d src mp fstype opts
	set -e
	mount --make-rprivate /
	for d in "${HOST_PRIVATE_DIRS[@]}"; do
		src=$dir/${d#/}
		mkdir -p "$src" "$d"
		mount --bind "$src" "$d"
	done
	# A sysfs of this netns (bridge ports live under /sys/class/net), then
	# the cgroup hierarchies again: fresh mounts inside a cgroup namespace
	# are rooted at the host's subtree.
	mount -t sysfs sysfs /sys
	mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup
	while IFS=$'\t' read -r mp fstype opts; do
		mkdir -p "$mp"
		if [[ $fstype == cgroup2 ]]; then
			mount -t cgroup2 cgroup2 "$mp"
		else
			mount -t cgroup -o "${opts#rw,}" cgroup "$mp"
		fi
	done <"$dir/mounts"
	# Other file systems under /sys (bpf, debugfs, tracefs) as new instances.
	while IFS=$'\t' read -r mp fstype; do
		mount -t "$fstype" "$fstype" "$mp" 2>/dev/null || true
	done <"$dir/sysmounts"
	echo "$dir" >/run/libvirt/.prescient-host
	echo ready >"$dir/holder.ready"
	exec sleep infinity
}

_host_sysmounts_list() {
	awk '{
		for (i = 7; $i != "-"; i++) ;
		fstype = $(i + 1)
		if ($5 ~ "^/sys/" && $5 !~ "^/sys/fs/cgroup" &&
		    (fstype == "bpf" || fstype == "debugfs" || fstype == "tracefs" ||
		     fstype == "securityfs" || fstype == "configfs" || fstype == "fusectl"))
			printf "%s\t%s\n", $5, fstype
	}' /proc/self/mountinfo
}

# Waits until COMMAND... succeeds, at most SECONDS; returns 1 on timeout.
host_wait_for() {
	local timeout_sec=$1 deadline
	shift
	deadline=$((SECONDS + timeout_sec))
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

host_create() {
	local name=$1 dir netns holder d
	[[ $name =~ ^[a-z0-9][a-z0-9-]{0,15}$ ]] || { host_log "bad host name '$name'"; return 1; }
	_host_base_init
	dir=$(host_dir "$name")
	[[ -e $dir ]] && { host_log "host $name exists"; return 1; }
	host_cleanup_stale
	mkdir -p "$dir"
	for d in "${HOST_PRIVATE_DIRS[@]}"; do
		mkdir -p "$dir/${d#/}"
		# The mount points must exist in the root namespace (empty dirs).
		[[ -d $d ]] || mkdir -p "$d"
	done
	mkdir -p "$dir/var/lib/libvirt/qemu" "$dir/var/cache/libvirt/qemu" "$dir/var/log/libvirt/qemu" "$dir/guests"

	netns=pit-$$-$name
	echo "$netns" >"$dir/netns"
	ip netns add "$netns" || return 1
	nsenter --net="/run/netns/$netns" ip link set lo up &&
		nsenter --net="/run/netns/$netns" ip link add "$HOST_BRIDGE" type bridge &&
		nsenter --net="/run/netns/$netns" ip addr add "$HOST_BRIDGE_ADDR" dev "$HOST_BRIDGE" &&
		nsenter --net="/run/netns/$netns" ip link set "$HOST_BRIDGE" up || return 1

	_host_cgroups_create "$name" || return 1
	# Optional weight of the whole host against the rest of the machine
	# (v1 cpu.shares, default 1024): measurements on a shared, busy machine
	# are steadier when the host is not one task among many.
	if [[ -n ${HOST_CPU_SHARES:-} ]]; then
		echo "$HOST_CPU_SHARES" >"$(host_cgroup "$name" cpu)/cpu.shares" || return 1
	fi
	_host_sysmounts_list >"$dir/sysmounts"
	_host_config_write "$name" || return 1

	# The holder joins the host's cgroups first, so that unshare -C roots
	# the cgroup namespace at the host's subtree.
	(
		_host_cgroups_enter "$name"
		exec nsenter --net="/run/netns/$netns" unshare -m -C --propagation private \
			bash -c "$(declare -p HOST_PRIVATE_DIRS); $(declare -f _host_holder_main); _host_holder_main \"\$1\"" \
			_ "$dir"
	) </dev/null >"$dir/holder.log" 2>&1 &
	holder=$!
	disown "$holder"
	echo "$holder" >"$dir/holder.pid"
	# Timeouts are generous: a shared 2-core machine at load 15 is slow.
	if ! host_wait_for 30 test -e "$dir/holder.ready"; then
		host_log "host $name: namespace holder failed: $(cat "$dir/holder.log")"
		return 1
	fi
	host_log "created host $name (netns $netns, dir $dir, uuid $(cat "$dir/host_uuid"))"
	if [[ ${HOST_NO_DAEMONS:-0} != 1 ]]; then
		host_libvirtd_start "$name" || return 1
	fi
}

# Runs COMMAND... inside host NAME: its cgroups, cgroup, mount and network
# namespaces, in the caller's working directory.
host_exec() {
	local name=$1 dir holder netns
	shift
	dir=$(host_dir "$name")
	holder=$(_host_holder_pid "$name") || { host_log "no host $name"; return 1; }
	netns=$(host_netns "$name")
	(
		_host_cgroups_enter "$name"
		exec nsenter -t "$holder" -m -C --net="/run/netns/$netns" -- \
			bash -c '
				# Refuse to run against the machine'"'"'s own libvirt.
				[[ $(cat /run/libvirt/.prescient-host 2>/dev/null) == "$1" ]] || {
					echo "host_exec: not inside host $1" >&2; exit 125; }
				cd "$2" 2>/dev/null || cd /
				shift 2
				exec "$@"' _ "$dir" "$PWD" "$@"
	)
}

host_virsh() {
	local name=$1
	shift
	host_exec "$name" timeout 60 virsh -q -c "$HOST_URI" "$@"
}

_host_pid_alive() {
	[[ -n $1 ]] && kill -0 "$1" 2>/dev/null
}

# Stops the daemon whose pid file is FILE: SIGTERM, wait, then SIGKILL.
_host_daemon_stop() {
	local pidfile=$1 pid
	pid=$(cat "$pidfile" 2>/dev/null) || return 0
	if _host_pid_alive "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		if ! host_wait_for 15 eval "! kill -0 $pid"; then
			kill -KILL "$pid" 2>/dev/null || true
			host_wait_for 5 eval "! kill -0 $pid" || true
		fi
	fi
	rm -f "$pidfile"
}

host_libvirtd_start() {
	local name=$1 dir
	dir=$(host_dir "$name")
	if ! _host_pid_alive "$(cat "$dir/virtlogd.pid" 2>/dev/null)"; then
		host_exec "$name" virtlogd -d -p "$dir/virtlogd.pid" -f /etc/libvirt/virtlogd.conf || return 1
		host_wait_for 30 test -S "$dir/run/libvirt/virtlogd-sock" ||
			{ host_log "host $name: virtlogd did not start"; return 1; }
	fi
	if _host_pid_alive "$(cat "$dir/libvirtd.pid" 2>/dev/null)"; then
		host_log "host $name: libvirtd already running"
		return 0
	fi
	host_exec "$name" libvirtd -d -p "$dir/libvirtd.pid" -f /etc/libvirt/libvirtd.conf || return 1
	if ! host_wait_for 60 host_exec "$name" virsh -c "$HOST_URI" version; then
		host_log "host $name: libvirtd does not answer"
		host_diag "$name"
		return 1
	fi
}

host_libvirtd_stop() {
	_host_daemon_stop "$(host_dir "$1")/libvirtd.pid"
}

# Restarts libvirtd only; QEMU processes keep running and the new libvirtd
# reconnects to them from its status files in /run/libvirt/qemu.
host_libvirtd_restart() {
	host_libvirtd_stop "$1"
	host_libvirtd_start "$1"
}

host_libvirtd_pid() {
	cat "$(host_dir "$1")/libvirtd.pid" 2>/dev/null
}

# Prints what helps to understand a failure in host NAME.
host_diag() {
	local name=$1 dir f
	dir=$(host_dir "$name")
	[[ -d $dir ]] || return 0
	{
		echo "=== host $name diagnostics ($dir)"
		echo "--- processes"
		for f in $(host_pids "$name"); do
			echo "$f $(tr '\0' ' ' </proc/"$f"/cmdline 2>/dev/null | cut -c1-160)"
		done
		if _host_pid_alive "$(host_libvirtd_pid "$name")"; then
			echo "--- virsh list --all"
			host_exec "$name" timeout 20 virsh -c "$HOST_URI" list --all 2>&1
			for f in $(host_exec "$name" timeout 20 virsh -q -c "$HOST_URI" list --name 2>/dev/null); do
				echo "--- virsh dominfo $f"
				host_exec "$name" timeout 20 virsh -c "$HOST_URI" dominfo "$f" 2>&1
			done
		fi
		for f in "$dir"/guests/*/serial.log; do
			[[ -e $f ]] || continue
			echo "--- tail $f"
			tail -n 20 "$f"
		done
		for f in "$dir"/var/log/libvirt/qemu/*.log; do
			[[ -e $f ]] || continue
			echo "--- tail $f"
			tail -n 15 "$f"
		done
		echo "--- tail libvirtd.log"
		tail -n 30 "$dir/var/log/libvirt/libvirtd.log" 2>/dev/null
		echo "--- holder.log"
		cat "$dir/holder.log" 2>/dev/null
		echo "=== end of host $name diagnostics"
	} >&2
}

# Kills every process in the subtrees, repeatedly until they are empty.
_host_kill_all() {
	local name=$1 pids i
	for ((i = 0; i < 50; i++)); do
		pids=$(host_pids "$name")
		[[ -z $pids ]] && return 0
		# shellcheck disable=SC2086
		kill -KILL $pids 2>/dev/null || true
		sleep 0.1
	done
	host_log "host $name: processes left: $(host_pids "$name" | tr '\n' ' ')"
	return 1
}

host_destroy() {
	local name=$1 dir netns dom cg
	dir=$(host_dir "$name")
	[[ -d $dir ]] || return 0
	if _host_pid_alive "$(host_libvirtd_pid "$name")"; then
		for dom in $(host_exec "$name" timeout 20 virsh -q -c "$HOST_URI" list --name 2>/dev/null); do
			host_exec "$name" timeout 30 virsh -q -c "$HOST_URI" destroy "$dom" >/dev/null 2>&1 || true
		done
	fi
	host_libvirtd_stop "$name"
	_host_daemon_stop "$dir/virtlogd.pid"
	if [[ -s $dir/cgroups ]]; then
		_host_kill_all "$name" || true
		# Children first; libvirt's machine/ groups included.
		while IFS=$'\t' read -r cg _; do
			[[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
			[[ -d $cg ]] && host_log "host $name: cannot remove cgroup $cg"
		done <"$dir/cgroups"
	fi
	netns=$(cat "$dir/netns" 2>/dev/null) || true
	if [[ -n $netns && -e /run/netns/$netns ]]; then
		ip netns del "$netns" 2>/dev/null || host_log "host $name: cannot delete netns $netns"
	fi
	if [[ ${HOST_KEEP_DIR:-0} == 1 ]]; then
		host_log "host $name destroyed, state kept in $dir"
	else
		rm -rf "$dir"
		host_log "host $name destroyed"
	fi
}

host_destroy_all() {
	local d
	[[ -n $PRESCIENT_IT_DIR && -d $PRESCIENT_IT_DIR/hosts ]] || return 0
	for d in "$PRESCIENT_IT_DIR"/hosts/*; do
		[[ -d $d ]] && host_destroy "$(basename "$d")"
	done
	if [[ ${HOST_KEEP_DIR:-0} != 1 ]]; then
		rm -rf "$PRESCIENT_IT_DIR"
	fi
}

# Removes what a killed test (SIGKILL, meson timeout) left behind: netns and
# cgroups named pit-<pid>-* whose test process <pid> is gone.
host_cleanup_stale() {
	local ns pid cg pids i d
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		[[ $ns =~ ^pit-([0-9]+)- ]] || continue
		pid=${BASH_REMATCH[1]}
		_host_pid_alive "$pid" && continue
		ip netns del "$ns" 2>/dev/null && host_log "removed stale netns $ns"
	done
	while IFS= read -r cg; do
		[[ $(basename "$cg") =~ ^pit-([0-9]+)- ]] || continue
		pid=${BASH_REMATCH[1]}
		_host_pid_alive "$pid" && continue
		for ((i = 0; i < 20; i++)); do
			pids=$(find "$cg" -name cgroup.procs -exec cat {} + 2>/dev/null)
			[[ -z $pids ]] && break
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
			sleep 0.1
		done
		find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null &&
			host_log "removed stale cgroup $cg"
	done < <(find /sys/fs/cgroup -mindepth 2 -maxdepth 4 -type d -name 'pit-*' 2>/dev/null)
	for d in "${TMPDIR:-/tmp}"/prescient-it.*.*; do
		[[ -d $d && $(basename "$d") =~ ^prescient-it\.([0-9]+)\. ]] || continue
		_host_pid_alive "${BASH_REMATCH[1]}" && continue
		[[ ${HOST_KEEP_DIR:-0} == 1 ]] || rm -rf "$d"
	done
}
