#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# HTB reservations shape a real flow: two private network namespaces joined
# by a veth pair (198.18.0.0/29, nothing leaves them), iperf3 from A to B,
# our HTB hierarchy on A's end (its egress). Measured TCP goodput must be
# within [0.85, 1.02] x the class rate: HTB counts whole Ethernet frames, so
# TCP payload is about 1448/1514 = 95.6 % of the rate. Checks an unshaped
# baseline, 20 Mbit/s, an update to 10 Mbit/s, borrowing up to ceil
# (rate 5, ceil 40 Mbit/s), two reservations on one device told apart by
# destination MAC (u32 filters; B has a macvlan with its own MAC) shaping two
# concurrent flows, and removal. Needs root and iperf3 (77 otherwise).
set -euo pipefail

tool=${1:?usage: test-tc-shaping.sh PRESCIENT-ENFORCE-TC}
skip() { echo "SKIP: $*" >&2; exit 77; }
[[ $(id -u) == 0 ]] || skip "not root: cannot create network namespaces"
command -v iperf3 >/dev/null || skip "no iperf3 (apt-get install iperf3)"
command -v python3 >/dev/null || skip "no python3 to read iperf3's JSON"

tmp_ab=$(mktemp)
tmp_am=$(mktemp)
a=prescient-tc-a-$$
b=prescient-tc-b-$$
server=
cleanup() {
	[[ -n $server ]] && kill $server 2>/dev/null || true
	ip netns del "$a" 2>/dev/null || true
	ip netns del "$b" 2>/dev/null || true
	rm -f "$tmp_ab" "$tmp_am"
}
trap cleanup EXIT
ip netns add "$a" || skip "cannot create a network namespace"
ip netns add "$b"
ip -n "$a" link add veth-pa type veth peer name veth-pb netns "$b"
ip -n "$a" addr add 198.18.0.1/29 dev veth-pa
ip -n "$b" addr add 198.18.0.2/29 dev veth-pb
ip -n "$a" link set lo up
ip -n "$b" link set lo up
ip -n "$a" link set veth-pa up
ip -n "$b" link set veth-pb up

in_a() { nsenter --net=/run/netns/"$a" "$@"; }
ip -n "$b" link add mv1 link veth-pb type macvlan mode bridge
ip -n "$b" addr add 198.18.0.3/29 dev mv1
ip -n "$b" link set mv1 up
mac_b=$(ip -n "$b" link show veth-pb | awk '/link\/ether/ { print $2 }')
mac_mv=$(ip -n "$b" link show mv1 | awk '/link\/ether/ { print $2 }')
# Static neighbours: each address answers with its own MAC, no ARP flux.
ip -n "$a" neigh replace 198.18.0.2 lladdr "$mac_b" dev veth-pa nud permanent
ip -n "$a" neigh replace 198.18.0.3 lladdr "$mac_mv" dev veth-pa nud permanent

servers=()
nsenter --net=/run/netns/"$b" iperf3 -s -B 198.18.0.2 -p 5201 >/dev/null 2>&1 &
servers+=($!)
nsenter --net=/run/netns/"$b" iperf3 -s -B 198.18.0.3 -p 5202 >/dev/null 2>&1 &
servers+=($!)
server="${servers[*]}"
sleep 0.5

# Goodput in bit/s of one TCP flow for $1 seconds (receiver side), to $2:$3.
flow() {
	in_a iperf3 -c "${2:-198.18.0.2}" -p "${3:-5201}" -t "$1" -O 1 -J |
		python3 -c 'import json,sys; print(int(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]))'
}

failures=0
within() { # name measured expected low high
	local ok
	ok=$(python3 -c "print(int($4 * $3 <= $2 <= $5 * $3))")
	printf 'BENCH tc_%s_mbps %.2f Mbit/s (class %.1f, ratio %.3f)\n' "$1" \
		"$(python3 -c "print($2 / 1e6)")" "$(python3 -c "print($3 / 1e6)")" \
		"$(python3 -c "print($2 / $3)")"
	if [[ $ok != 1 ]]; then
		echo "FAIL: $1: $2 bit/s not within [$4, $5] x $3" >&2
		failures=$((failures + 1))
	fi
}

M=1000000
base=$(flow 3)
printf 'BENCH tc_unshaped_mbps %.1f Mbit/s\n' "$(python3 -c "print($base / 1e6)")"
[[ $base -gt $((100 * M)) ]] || { echo "FAIL: unshaped baseline only $base bit/s" >&2; failures=$((failures + 1)); }

in_a "$tool" setup veth-pa $((10000 * M)) 10
in_a "$tool" setup veth-pa $((10000 * M)) 10 # idempotent
in_a "$tool" class veth-pa 10 $((20 * M)) $((20 * M))
[[ $(in_a "$tool" get veth-pa 10) == "$((20 * M)) $((20 * M))" ]] || { echo "FAIL: read-back" >&2; failures=$((failures + 1)); }
tc -n "$a" class show dev veth-pa
within 20mbit "$(flow 5)" $((20 * M)) 0.85 1.02

in_a "$tool" class veth-pa 10 $((10 * M)) $((10 * M))
within 10mbit "$(flow 5)" $((10 * M)) 0.85 1.02

# Alone on the link, a class borrows up to its ceil.
in_a "$tool" class veth-pa 10 $((5 * M)) $((40 * M))
within borrow_to_40mbit_ceil "$(flow 5)" $((40 * M)) 0.85 1.02

# Two reservations on one device: a new default class rebuilds the hierarchy.
in_a "$tool" setup veth-pa $((10000 * M)) 12
in_a "$tool" class veth-pa 12 $((100 * M)) $((100 * M))
in_a "$tool" class veth-pa 10 $((10 * M)) $((10 * M))
in_a "$tool" class veth-pa 11 $((30 * M)) $((30 * M))
in_a "$tool" filter veth-pa 10 dst "$mac_b"
in_a "$tool" filter veth-pa 11 dst "$mac_mv"
in_a "$tool" filter veth-pa 11 dst "$mac_mv" # idempotent
tc -n "$a" filter show dev veth-pa
flow 5 198.18.0.2 5201 >"$tmp_ab" &
p1=$!
flow 5 198.18.0.3 5202 >"$tmp_am" &
p2=$!
wait $p1 $p2
within two_flows_10mbit_by_mac "$(cat "$tmp_ab")" $((10 * M)) 0.85 1.02
within two_flows_30mbit_by_mac "$(cat "$tmp_am")" $((30 * M)) 0.85 1.02

in_a "$tool" remove veth-pa 10
in_a "$tool" remove veth-pa 10 # idempotent
in_a "$tool" remove veth-pa 11
in_a "$tool" teardown veth-pa
in_a "$tool" teardown veth-pa # idempotent
after=$(flow 3)
printf 'BENCH tc_after_teardown_mbps %.1f Mbit/s\n' "$(python3 -c "print($after / 1e6)")"
[[ $after -gt $((100 * M)) ]] || { echo "FAIL: still shaped after teardown: $after bit/s" >&2; failures=$((failures + 1)); }
[[ $(tc -n "$a" qdisc show dev veth-pa) != *5072:* ]] || { echo "FAIL: our qdisc survived teardown" >&2; failures=$((failures + 1)); }

echo "tc shaping: $failures failure(s)"
[[ $failures == 0 ]]
