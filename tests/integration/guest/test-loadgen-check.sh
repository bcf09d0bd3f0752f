#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Unit test of the guest load generator's pattern parser, through
# "prescient-loadgen --check[-disk] PATTERN": levels resolved across phases,
# bad patterns refused. Argument: the loadgen binary.
set -euo pipefail
lg=${1:?usage: test-loadgen-check.sh LOADGEN}
fails=0

expect_ok() {
	local mode=$1 pattern=$2 want=$3 got
	got=$("$lg" "$mode" "$pattern" | sed 's/^prescient-[a-z]*: t=0.000 //' | tr '\n' ';')
	if [[ $got == "$want" ]]; then
		echo "ok - $mode '$pattern'"
	else
		echo "not ok - $mode '$pattern': got '$got', want '$want'"
		fails=$((fails + 1))
	fi
}

expect_bad() {
	local mode=$1 pattern=$2
	if "$lg" "$mode" "$pattern" >/dev/null 2>&1; then
		echo "not ok - $mode '$pattern' accepted"
		fails=$((fails + 1))
	else
		echo "ok - $mode '$pattern' refused"
	fi
}

expect_ok --check "idle:20,ramp:30:90,hold:20:90,ramp:20:0,idle:30" \
	"phase=1/5 idle 20s 0%->0%;phase=2/5 ramp 30s 0%->90%;phase=3/5 hold 20s 90%->90%;phase=4/5 ramp 20s 90%->0%;phase=5/5 idle 30s 0%->0%;"
# hold without a level keeps the previous one; ramp starts where the last phase ended.
expect_ok --check "hold:5:40,hold:5,ramp:5:100,ramp:5:10" \
	"phase=1/4 hold 5s 40%->40%;phase=2/4 hold 5s 40%->40%;phase=3/4 ramp 5s 40%->100%;phase=4/4 ramp 5s 100%->10%;"
expect_ok --check "hold:1:100" "phase=1/1 hold 1s 100%->100%;"
expect_ok --check-disk "idle:2,ramp:3:4096,hold:2" \
	"phase=1/3 idle 2s 0KiB/s->0KiB/s;phase=2/3 ramp 3s 0KiB/s->4096KiB/s;phase=3/3 hold 2s 4096KiB/s->4096KiB/s;"

for bad in "" "," "idle" "idle:" "idle:5:3" "hold:5:101" "ramp:5" "busy:5:10" "hold:-1:5" \
	"hold:5:5:5" "hold:5:1x" "idle:99999999999" "hold:1:50,,idle:1" "hold:86401:1"; do
	expect_bad --check "$bad"
done
expect_bad --check-disk "hold:1:1048577"
# 64 phases fit, 65 do not.
many=$(printf 'idle:1,%.0s' {1..64})
if [[ $("$lg" --check "${many%,}" | wc -l) -eq 64 ]]; then
	echo "ok - 64 phases"
else
	echo "not ok - 64 phases"
	fails=$((fails + 1))
fi
expect_bad --check "${many}idle:1"

[[ $fails -eq 0 ]] || { echo "$fails failure(s)"; exit 1; }
