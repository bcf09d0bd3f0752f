#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The evaluation command on a fixed subset of the shared traces (every 5th
# Azure and every 6th Bitbrains file in name order), asserting the accuracy
# and the calibration measured when the forecaster was tuned, with some
# margin (measured: Azure auto median MASE 0.638 / 0.654 at h = 1 / 12,
# Bitbrains 0.953 / 1.135; coverage 0.81-0.82 and 0.93-0.95), and that the
# automatic choice beats the naive forecast on mean MASE (no blow-ups).
# The data live next to the repository (../shared/data); skipped when absent.
set -eu

sim=$1
root=${PRESCIENT_SOURCE_ROOT:-.}
data=$root/../shared/data
if [ ! -d "$data/azure_v1_sample" ] || [ ! -d "$data/bitbrains_rnd" ]; then
	echo "SKIP: no evaluation data in $data" >&2
	exit 77
fi

fail=0
# check <summary> <model> <h> <column> <op> <limit>: column 5 = MASE mean,
# 6 = MASE median, 7 = cov80, 8 = cov95 of the first table (all series) of
# prescient-sim forecast --summary.
check() {
	v=$(printf '%s\n' "$1" | awk -v m="$2" -v h="$3" -v c="$4" '$1 == m && $2 == h { print $c; exit }')
	if [ -z "$v" ]; then
		echo "FAIL: no figure for $2 h=$3" >&2
		fail=1
		return
	fi
	if awk -v v="$v" -v op="$5" -v l="$6" 'BEGIN { exit !((op == "<=" && v <= l) || (op == ">=" && v >= l)) }'; then
		echo "ok: $2 h=$3 column $4 = $v $5 $6"
	else
		echo "FAIL: $2 h=$3 column $4 = $v, expected $5 $6" >&2
		fail=1
	fi
}

# not_worse <summary> <h>: auto's mean MASE <= naive's.
not_worse() {
	n=$(printf '%s\n' "$1" | awk -v h="$2" '$1 == "naive" && $2 == h { print $5; exit }')
	check "$1" auto "$2" 5 "<=" "$n"
}

azure=$(ls "$data"/azure_v1_sample/*.csv | awk "NR % 5 == 1")
# shellcheck disable=SC2086
sum=$("$sim" forecast --source azure --summary $azure)
printf '%s\n' "$sum"
check "$sum" auto 1 6 "<=" 0.70
check "$sum" auto 12 6 "<=" 0.72
not_worse "$sum" 1
not_worse "$sum" 12
for h in 1 12; do
	check "$sum" auto $h 7 ">=" 0.77
	check "$sum" auto $h 7 "<=" 0.86
	check "$sum" auto $h 8 ">=" 0.92
	check "$sum" auto $h 8 "<=" 0.98
done

bitbrains=$(ls "$data"/bitbrains_rnd/*.csv | awk "NR % 6 == 1")
# shellcheck disable=SC2086
sum=$("$sim" forecast --source bitbrains --summary $bitbrains)
printf '%s\n' "$sum"
check "$sum" auto 1 6 "<=" 1.00
check "$sum" auto 12 6 "<=" 1.20
not_worse "$sum" 1
not_worse "$sum" 12
for h in 1 12; do
	check "$sum" auto $h 7 ">=" 0.77
	check "$sum" auto $h 7 "<=" 0.86
	check "$sum" auto $h 8 ">=" 0.92
	check "$sum" auto $h 8 "<=" 0.98
done

# Every other source parses: a PlanetLab day evaluates on its second half.
pl=$(ls -d "$data"/planetlab/*/ 2>/dev/null | head -n 1)
if [ -n "$pl" ]; then
	out=$("$sim" forecast --source planetlab "$(ls "$pl"* | head -n 1)")
	case "$out" in
	'{"file"'*'"auto"'*) echo "ok: planetlab" ;;
	*) echo "FAIL: planetlab output: $out" >&2; fail=1 ;;
	esac
fi
exit $fail
