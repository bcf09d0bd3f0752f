#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# prescientd as a process, without root: it starts against libvirt's test
# driver (test:///default, no libvirtd needed), answers prescientctl, keeps
# running on a SIGHUP with a broken drop-in (the running configuration
# stays), applies a good one (dry-run shows in status), runs on when the
# hypervisor is missing (a clear warning, status says not connected) and
# stops cleanly on SIGTERM, removing its socket.
# Usage: test-daemon-run.sh PRESCIENTD PRESCIENTCTL
set -euo pipefail
D=$1 CTL=$2
dir=$(mktemp -d /tmp/prescient-daemon-run.XXXXXX)
pid=
cleanup() {
	if [[ -n $pid ]]; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	echo "--- daemon log" >&2
	cat "$dir/log" >&2 || true
	exit 1
}
wait_for() {
	local i
	for ((i = 0; i < 100; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
ctl() {
	"$CTL" --socket "$dir/run/prescient.sock" "$@"
}
ctl_matches() {
	ctl "${@:2}" 2>/dev/null | grep -q -- "$1"
}
write_config() {
	mkdir -p "$dir/prescient.conf.d"
	printf '[daemon]\nrun_dir = %s/run\nstate_dir = %s/state\n[libvirt]\nuri = %s\n[collect]\ninterval = 200ms\nbpf = no\n' \
		"$dir" "$dir" "$1" >"$dir/prescient.conf"
}
start() {
	"$D" --config "$dir/prescient.conf" --log-target=stderr >"$dir/log" 2>&1 &
	pid=$!
	wait_for test -S "$dir/run/prescient.sock" || fail "no API socket"
}

# 1. Against the test driver: connected, status in both forms.
write_config test:///default
start
wait_for ctl_matches '"connected":true' --json status || fail "not connected to test:///default"
ctl_matches "enforcing" status || fail "status does not say enforcing"

# 2. SIGHUP with a broken drop-in: refused, daemon alive, nothing changed.
printf '[cpu]\nheadroom = plenty\n' >"$dir/prescient.conf.d/50-test.conf"
kill -HUP "$pid"
wait_for grep -q "reload failed" "$dir/log" || fail "broken reload not reported"
grep -q "50-test.conf:2" "$dir/log" || fail "the error does not name file and line"
kill -0 "$pid" || fail "daemon died on a broken reload"
ctl_matches "enforcing" status || fail "a broken reload changed the mode"

# 3. SIGHUP with a good drop-in: applied.
printf '[daemon]\ndry_run = yes\n' >"$dir/prescient.conf.d/50-test.conf"
kill -HUP "$pid"
wait_for ctl_matches "dry-run" status || fail "dry_run = yes not applied on reload"

# 4. SIGTERM: exit 0, socket removed.
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[[ $status == 0 ]] || fail "exit status $status on SIGTERM"
[[ ! -e $dir/run/prescient.sock ]] || fail "socket left behind"

# 5. No hypervisor: keeps running, warns with advice, status says so.
rm -f "$dir/prescient.conf.d/50-test.conf"
write_config "qemu+unix:///system?socket=$dir/no-libvirtd.sock"
start
wait_for grep -q "is libvirtd running" "$dir/log" || fail "no warning about the missing libvirtd"
ctl_matches '"connected":false' --json status || fail "status does not say disconnected"
sleep 1
kill -0 "$pid" || fail "daemon died without libvirtd"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[[ $status == 0 ]] || fail "exit status $status on SIGTERM without libvirtd"
echo "ok: test driver, broken and good reloads, SIGTERM, missing libvirtd"
