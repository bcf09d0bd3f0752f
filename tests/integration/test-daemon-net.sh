#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Bandwidth guarantees on the uplink end to end: a private libvirtd, two TCG
# guests on the host's bridge and prescientd. The host's "uplink" is a veth
# (upl0) enslaved to the bridge, its peer left in the host's namespace: what
# the guests send to the outside leaves through upl0's egress, where the
# daemon's HTB hierarchy (root 5072:) sits. Asserts:
#   - a class per VM under 5072:1 with rate = what its lease reserves
#     (guaranteed: held whole; burstable: its mean; at least 8 kbit/s) as the
#     daemon reports it enforced, ceil = the uplink's capacity, and a u32
#     filter matching the guest's MAC as Ethernet source sending to it; the
#     rest class 5072:10 is the default;
#   - under ~10 Mbit/s of traffic into the guaranteed VM its reservation,
#     and its class's rate with it, grows;
#   - a hot-plugged second NIC's MAC is filtered into the same class;
#   - dry-run (reload): the would-be classes are logged, nothing changes;
#   - a daemon stop leaves the classes; a restart adopts them (same minor),
#     and removes the class of a VM destroyed while it was down;
#   - a root qdisc that is not ours: refused (-EBUSY) and said once with what
#     to do, the VM's net item shows the error, nothing of ours appears; once
#     it is gone the hierarchy comes back by itself, as it does when our own
#     root is deleted by hand;
#   - a VM destroyed while the daemon runs loses its class and filter.
set -euo pipefail
: "${PRESCIENT_SOURCE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/host.sh"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/guest.sh"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/prescient.sh"

host_require
guest_require
command -v python3 >/dev/null || host_skip "python3 is needed to read the JSON"
command -v tc >/dev/null || host_skip "no tc (apt-get install iproute2)"
prescient_find_build || exit 1
TC_TOOL=${PRESCIENT_BUILD_ROOT:-$PRESCIENT_SOURCE_ROOT/build}/tests/integration/cgroup2/prescient-enforce-tc
[[ -x $TC_TOOL ]] || { echo "no $TC_TOOL: build first" >&2; exit 1; }
host_install_trap

fails=0
ok() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	fails=$((fails + 1))
}

UPLINK=upl0
CAPACITY_BITS=100000000
export HOST_CPU_SHARES=${HOST_CPU_SHARES:-4096}
host_create a
netns=$(host_netns a)
in_ns() { ip netns exec "$netns" "$@"; }
in_ns ip link add "$UPLINK" type veth peer name "${UPLINK}p"
in_ns ip link set "$UPLINK" master "$HOST_BRIDGE"
in_ns ip link set "$UPLINK" up
in_ns ip link set "${UPLINK}p" up

GUEST_IP=10.77.0.2/24 guest_start a gold idle:600
GUEST_IP=10.77.0.3/24 guest_start a silver idle:600

CONFIG="[alloc]
net_manage = yes
lead_time = 3

[pool]
host_reserved_cores = 0
host_reserved_memory = 256M
uplink = $UPLINK
uplink_capacity = 100M

[vm gold]
class = guaranteed

[vm silver]
class = burstable"
prescient_start a "$CONFIG"
pdir=$(prescient_dir a)
log=$(prescient_log a)

mac_of() { host_virsh a domiflist "$1" 2>/dev/null | awk 'NF >= 5 { print tolower($5); exit }'; }
mac_gold=$(mac_of gold)
mac_silver=$(mac_of silver)
echo "gold $mac_gold, silver $mac_silver"

# The class id (5072:xx) of the filter matching MAC as source; "" when none.
# tc prints the u32 keys as "match VALUE/MASK at OFFSET" below the line with
# "[*]flowid CLASS" (* = terminal): the source MAC is at -8 (4 bytes) and -4
# (2 bytes, masked ffff0000).
class_of_mac() {
	local mac=${1//:/} want1 want2
	want1="${mac:0:8}/ffffffff at -8"
	want2="${mac:8:4}0000/ffff0000 at -4"
	in_ns tc filter show dev "$UPLINK" 2>/dev/null | awk -v w1="$want1" -v w2="$want2" '
		/flowid/ { for (i = 1; i <= NF; i++) if ($i ~ /^\*?flowid$/) cls = $(i + 1); k1 = k2 = 0 }
		index($0, w1) { k1 = 1 }
		index($0, w2) { k2 = 1 }
		k1 && k2 && cls != "" { print cls; exit }'
}
# "rate ceil" of class 5072:xx in bit/s as the kernel holds them (tc(8)
# prints them rounded), "" when absent.
class_rates() {
	in_ns "$TC_TOOL" get "$UPLINK" "${1#5072:}" 2>/dev/null || true
}
# The VM's net item from `prescientctl vm`: EXPR over i ({} when none).
net_item() {
	prescient_ctl a --json vm "$1" 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
v = d.get("vm", d)
i = (v.get("lease") or {}).get("items", {}).get("net", {})
print(eval(sys.argv[1]))' "$2"
}
# The rate the lease reserves for VM on the uplink, in bits/s.
lease_bits() {
	local vm=$1 cls=$2
	net_item "$vm" "max(8000, int(((i.get('held') or 0) if '$cls' == 'guaranteed' else (i.get('mean') or 0)) * 1000) // 8 * 8)"
}
# VM's class: rate = what the daemon says it enforced, within the hysteresis
# of what the lease reserves; ceil = the capacity; filter on its MAC.
class_ok() {
	local vm=$1 mac=$2 cls=$3 id rates rate ceil enforced want
	id=$(class_of_mac "$mac")
	[[ -n $id ]] || { echo "no filter for $mac"; return 1; }
	rates=$(class_rates "$id")
	read -r rate ceil <<<"$rates"
	enforced=$(net_item "$vm" "int(round((i.get('enforced') or 0) * 1000))")
	want=$(lease_bits "$vm" "$cls")
	echo "$vm: class $id rate $rate ceil $ceil; enforced $enforced lease $want bit/s"
	[[ -n $rate && $ceil == "$CAPACITY_BITS" && $rate == "$enforced" ]] || return 1
	python3 -c "import sys; r=$rate; w=$want; sys.exit(0 if abs(r - w) <= max(64000, 0.05 * r) else 1)"
}
root_is_ours() { in_ns tc qdisc show dev "$UPLINK" | grep -q "^qdisc htb 5072: root.* default 0x10"; }

# --- a class per VM, a filter per MAC
if host_wait_for 60 root_is_ours; then
	ok "HTB root 5072: on $UPLINK, rest class 5072:10 the default"
else
	fail "no root of ours: $(in_ns tc qdisc show dev "$UPLINK")"
fi
both_ok() { class_ok gold "$mac_gold" guaranteed && class_ok silver "$mac_silver" burstable; }
if host_wait_for 60 both_ok; then
	ok "$(class_ok gold "$mac_gold" guaranteed)"
	ok "$(class_ok silver "$mac_silver" burstable)"
else
	fail "classes: $(class_ok gold "$mac_gold" guaranteed); $(class_ok silver "$mac_silver" burstable)"
	in_ns tc class show dev "$UPLINK"
	in_ns tc filter show dev "$UPLINK"
fi
read -r rest_rate rest_ceil <<<"$(class_rates 5072:10)"
[[ -n $rest_rate && $rest_ceil == "$CAPACITY_BITS" ]] && ok "rest class: rate $rest_rate ceil $rest_ceil" ||
	fail "rest class 5072:10: '$rest_rate' '$rest_ceil'"
[[ $(net_item gold "i.get('how')") == "htb on $UPLINK" ]] && ok "gold's net item: how 'htb on $UPLINK'" ||
	fail "gold's net item: $(net_item gold i)"
id_gold=$(class_of_mac "$mac_gold")
id_silver=$(class_of_mac "$mac_silver")
[[ -n $id_gold && $id_gold != "$id_silver" ]] || fail "VMs' classes '$id_gold' '$id_silver'"

# --- the reservation grows with the VM's traffic, the class follows: about
# 10 Mbit/s from the host into gold's TCP sink (guest/build-initramfs.sh)
guest_wait_ready a gold 120 || fail "gold did not boot"
host_exec a timeout 60 bash -c 'while :; do
	while :; do head -c 125000 /dev/zero; sleep 0.1; done | nc -N 10.77.0.2 5001
	sleep 1
done' >/dev/null 2>&1 &
flow=$!
grown() { (($(net_item gold "int((i.get('enforced') or 0) * 1000)") > 2000000)) && class_ok gold "$mac_gold" guaranteed; }
if host_wait_for 50 grown; then
	ok "under traffic: $(class_ok gold "$mac_gold" guaranteed)"
else
	fail "under traffic: $(class_ok gold "$mac_gold" guaranteed); $(net_item gold i)"
fi
kill "$flow" 2>/dev/null || true
wait "$flow" 2>/dev/null || true

# --- a second NIC, hot-plugged: its MAC joins the VM's class
if host_virsh a attach-interface gold bridge "$HOST_BRIDGE" --model virtio --live >/dev/null 2>&1; then
	mac2=$(host_virsh a domiflist gold | awk 'NF >= 5 { m = tolower($5) } END { print m }')
	second() { [[ -n $mac2 && $mac2 != "$mac_gold" && $(class_of_mac "$mac2") == "$id_gold" && $(class_of_mac "$mac_gold") == "$id_gold" ]]; }
	if host_wait_for 30 second; then
		ok "second NIC $mac2: its filter sends to gold's class $id_gold too"
	else
		fail "second NIC $mac2: class '$(class_of_mac "$mac2")', first '$(class_of_mac "$mac_gold")'"
		in_ns tc filter show dev "$UPLINK"
	fi
else
	echo "skip second NIC: this QEMU/libvirt cannot hot-plug one"
fi

# --- dry-run: logged, not applied
classes_before=$(in_ns tc class show dev "$UPLINK" | sort)
printf '[daemon]\ndry_run = yes\n' >"$pdir/prescient.conf.d/70-dry.conf"
kill -HUP "$(prescient_pid a)"
would() { grep -q "dry-run: would guarantee gold" "$log"; }
if host_wait_for 20 would && [[ $(in_ns tc class show dev "$UPLINK" | sort) == "$classes_before" ]]; then
	ok "dry-run: '$(grep -m1 -o "dry-run: would guarantee gold.*" "$log")', classes unchanged"
else
	fail "dry-run: $(grep -c 'dry-run' "$log") dry-run lines"
fi
rm -f "$pdir/prescient.conf.d/70-dry.conf"
kill -HUP "$(prescient_pid a)"

# --- stop leaves the classes; restart adopts them and sweeps the gone VM's
status=0
prescient_stop a || status=$?
[[ $status == 0 ]] && ok "SIGTERM: exit 0" || fail "exit status $status"
[[ $(class_of_mac "$mac_gold") == "$id_gold" && -n $(class_rates "$id_gold") ]] &&
	ok "after stop, gold's class $id_gold stays" || fail "after stop: $(in_ns tc class show dev "$UPLINK")"
host_virsh a destroy silver >/dev/null
: >"$log"
prescient_start a "$CONFIG"
silver_swept() { [[ -z $(class_rates "$id_silver") && -z $(class_of_mac "$mac_silver") ]]; }
if host_wait_for 30 silver_swept && grep -q "removed class 5072:${id_silver#5072:} .*its VM is gone" "$log"; then
	ok "restart: class $id_silver of the VM destroyed while down removed"
else
	fail "restart: silver's class $id_silver: '$(class_rates "$id_silver")'; $(grep 'class' "$log" | head -5)"
fi
gold_adopted() { [[ $(class_of_mac "$mac_gold") == "$id_gold" ]] && class_ok gold "$mac_gold" guaranteed; }
host_wait_for 30 gold_adopted && ok "restart: gold keeps class $id_gold" ||
	fail "restart: gold: $(class_ok gold "$mac_gold" guaranteed)"

# --- a root qdisc that is not ours
prescient_stop a || true
in_ns tc qdisc replace dev "$UPLINK" root handle 1: htb
: >"$log"
prescient_start a "$CONFIG"
busy() { grep -q "$UPLINK has a root qdisc that is not prescient's" "$log" && [[ $(net_item gold "i.get('last_error')") == "Device or resource busy" ]]; }
if host_wait_for 30 busy && ! root_is_ours; then
	ok "foreign root: '$(grep -m1 -o "has a root qdisc.*" "$log" | cut -c1-100)...', gold's net item: $(net_item gold "i.get('last_error')")"
else
	fail "foreign root: $(in_ns tc qdisc show dev "$UPLINK"); $(net_item gold i)"
fi
sleep 5
n=$(grep -c "has a root qdisc that is not prescient's" "$log" || true)
[[ $n == 1 ]] && ok "said once" || fail "said $n times"
in_ns tc qdisc del dev "$UPLINK" root
if host_wait_for 30 root_is_ours && host_wait_for 30 class_ok gold "$mac_gold" guaranteed; then
	ok "foreign root gone: hierarchy and gold's class back ($(class_of_mac "$mac_gold"))"
else
	fail "after the foreign root went: $(in_ns tc class show dev "$UPLINK")"
fi

# --- our hierarchy deleted behind the daemon's back: noticed and rebuilt
in_ns tc qdisc del dev "$UPLINK" root
if host_wait_for 30 root_is_ours && host_wait_for 30 class_ok gold "$mac_gold" guaranteed &&
	grep -q "bandwidth classes on $UPLINK are gone" "$log"; then
	ok "hierarchy deleted by hand: rebuilt with gold's class ($(class_of_mac "$mac_gold"))"
else
	fail "after deleting our root: $(in_ns tc class show dev "$UPLINK")"
fi

# --- a VM destroyed while the daemon runs loses its class
id_gold=$(class_of_mac "$mac_gold")
host_virsh a destroy gold >/dev/null
gold_gone() { [[ -n $id_gold && -z $(class_rates "$id_gold") && -z $(class_of_mac "$mac_gold") ]]; }
if host_wait_for 30 gold_gone; then
	ok "destroyed VM: class $id_gold and its filter removed"
else
	fail "destroyed VM: $(in_ns tc class show dev "$UPLINK"); $(in_ns tc filter show dev "$UPLINK")"
fi

status=0
prescient_stop a || status=$?
[[ $status == 0 ]] || fail "exit status $status"
if ((fails)); then
	echo "--- daemon log"
	tail -n 60 "$log"
	exit 1
fi
