#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# prescientd as a process, without root: it starts against libvirt's test
# driver (test:///default, no libvirtd needed), answers prescientctl, keeps
# running on a SIGHUP with a broken drop-in (the running configuration
# stays), applies a good one (dry-run shows in status), runs on when the
# hypervisor is missing (a clear warning, status says not connected) and
# stops cleanly on SIGTERM, removing its socket. 'prescientctl pool' shows
# this host's resources and what the test VM holds. With a 1 s forecast step,
# application metric values pushed with prescientctl get a forecast once 12
# steps have values, with the model of the VM's [vm NAME] section; bad pushes
# are refused with the reason, and the metric's forecaster is checkpointed on
# SIGTERM and restored at the next start.
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
wait_for ctl_matches '"name":"test"' --json vms || fail "the test driver's VM is not listed"
ctl_matches '"model":"auto","model_overridden":false' --json vm test ||
	fail "the VM's model is not the global one without a [vm test] section"
# The host's pool: this host's online CPUs, and the test VM holding its memory.
ctl pool >"$dir/pool.txt" 2>&1 || fail "'prescientctl pool' failed: $(cat "$dir/pool.txt")"
grep -q "Host resource pool" "$dir/pool.txt" || fail "no pool table: $(cat "$dir/pool.txt")"
grep -q "^  cpu " "$dir/pool.txt" || fail "no cpu row in the pool table"
ctl_matches "\"online_count\":$(getconf _NPROCESSORS_ONLN)," --json pool ||
	fail "the pool's online CPUs are not this host's: $(ctl --json pool)"
wait_for ctl_matches '"reserved_by":\[[^]]*"name":"test"' --json pool ||
	fail "the test VM holds nothing in the pool: $(ctl --json pool)"

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

# 6. Application metrics, with a [vm test] model override and a fast step.
write_config test:///default
printf '[forecast]\nstep = 1s\n[vm test]\nmodel = naive\n' >"$dir/prescient.conf.d/60-vm.conf"
start
wait_for ctl_matches '"name":"test"' --json vms || fail "the test driver's VM is not listed"
ctl_matches '"model":"naive","model_overridden":true' --json vm test ||
	fail "[vm test] model = naive not shown"
out=$(ctl push nosuchvm tps 1 2>&1) && fail "push to an unknown VM accepted"
grep -q 'no VM named' <<<"$out" || fail "unknown VM: unclear error: $out"
status=0
ctl push test 'Bad Name' 1 >/dev/null 2>&1 || status=$?
[[ $status == 2 ]] || fail "bad metric name: exit $status, expected 2"
status=0
ctl push test tps nan >/dev/null 2>&1 || status=$?
[[ $status == 2 ]] || fail "NaN value: exit $status, expected 2"
metric_ready() {
	ctl --json vm test | grep -q '"tps":{[^}]*"forecast":{"unit":"value","valid":true,"model":"naive"'
}
ok=
for ((i = 0; i < 200; i++)); do # 40 s at most; 12 steps of 1 s are needed
	ctl push test tps $((100 + i % 7)) || fail "push refused"
	if ((i % 5 == 4)) && metric_ready; then
		ok=1
		break
	fi
	sleep 0.2
done
[[ -n $ok ]] || fail "no valid naive forecast of the pushed metric: $(ctl --json vm test)"
ctl vm test | grep -q "tps: last value" || fail "'prescientctl vm' does not show the metric"
ctl vm test | grep -q "Forecasts (model naive, set for this VM)" ||
	fail "'prescientctl vm' does not show the VM's model"
# At most 8 metrics per VM: the ninth is refused with the reason.
for n in m1 m2 m3 m4 m5 m6 m7; do
	ctl push test "$n" 1 || fail "push of metric $n refused"
done
wait_for ctl_matches '"metric_count":8' --json vms || fail "8 metrics not shown"
out=$(ctl push test m8 1 2>&1) && fail "a ninth metric accepted"
grep -q 'already has 8 metrics' <<<"$out" || fail "ninth metric: unclear error: $out"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[[ $status == 0 ]] || fail "exit status $status on SIGTERM with metrics"
ls "$dir"/state/forecast/*.metric.tps.ckpt >/dev/null 2>&1 || fail "metric not checkpointed"

# 7. Restart: the metric's forecaster comes back on its next value.
start
wait_for ctl_matches '"name":"test"' --json vms || fail "the test driver's VM is not listed"
ctl push test tps 100 || fail "push refused after restart"
wait_for grep -q "restored tps forecaster of test" "$dir/log" || fail "metric forecaster not restored"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[[ $status == 0 ]] || fail "exit status $status on SIGTERM after restore"

# 8. Another model for the VM: the naive checkpoint is not restored.
printf '[forecast]\nstep = 1s\n[vm test]\nmodel = holt\n' >"$dir/prescient.conf.d/60-vm.conf"
start
wait_for ctl_matches '"model":"holt","model_overridden":true' --json vm test ||
	fail "[vm test] model = holt not shown"
ctl push test tps 100 || fail "push refused after the model change"
wait_for grep -q "tps forecaster of test was checkpointed with model naive, holt is configured" \
	"$dir/log" || fail "a checkpoint of another model was restored"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[[ $status == 0 ]] || fail "exit status $status on SIGTERM after a model change"
echo "ok: test driver, broken and good reloads, SIGTERM, missing libvirtd, metrics, [vm] model"
