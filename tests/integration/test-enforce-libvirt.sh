#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# enforce_pin_apply, enforce_mem_tune_apply, enforce_block_apply,
# enforce_blkio_weight_apply and enforce_net_apply through the real libvirt plugin, against a private
# libvirtd (lib/host.sh) and a 2-vCPU TCG guest. Each value is read back
# three ways: through the plugin, through virsh (vcpupin, emulatorpin,
# memtune, blkdeviotune, blkiotune, domiftune) and from where libvirt put it:
#   - pinning: the v1 cpuset.cpus of the VM's vcpuN and emulator groups and
#     the threads' own affinity (Cpus_allowed_list);
#   - memory: the VM group's memory.soft_limit_in_bytes / limit_in_bytes;
#   - block: libvirt's <iotune> is QEMU's throttle (query-block "bps"), not
#     a cgroup: blkio.throttle.*_bps_device of the VM group stay empty;
#   - block I/O weight: libvirt's <blkiotune><weight> in the VM group's
#     blkio.bfq.weight (v1 with BFQ, as this host has) or blkio.weight
#     (CFQ kernels); a share honoured only on devices using BFQ;
#   - network: libvirt's tc on the tap (htb class = guest's inbound, police
#     on the ingress qdisc = guest's outbound); the floor (guarantee) is
#     refused on this bridge interface, which the apply reports as 1.
# Also: dry-run and refused arguments change nothing, and applying the same
# values again succeeds.
# Usage: test-enforce-libvirt.sh PATH-TO-enforce-libvirt-tool
set -u

TOOL=${1:?usage: test-enforce-libvirt.sh enforce-libvirt-tool}
: "${PRESCIENT_SOURCE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
# shellcheck source=/dev/null
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/host.sh"
# shellcheck source=/dev/null
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/guest.sh"

host_require
guest_require
command -v tc >/dev/null || host_skip "tc (iproute2) is needed to read libvirt's shaping"
(($(nproc) >= 2)) || host_skip "pinning two vCPUs to two cores needs 2 CPUs"
host_install_trap

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
pass() {
	echo "ok   $*"
}
# check_grep PATTERN TEXT WHAT: passes when TEXT has PATTERN
check_grep() {
	if grep -q "$1" <<<"$2"; then pass "$3"; else fail "$3 (not in: $2)"; fi
}
# expect WHAT GOT WANT
expect() {
	if [[ $2 == "$3" ]]; then
		pass "$1 = $3"
	else
		fail "$1 = '$2', expected '$3'"
	fi
}

# Runs the tool inside the host; prints its stdout, returns its status.
tool() {
	host_exec a "$TOOL" vm1 "$@"
}
# The "result N" line of a tool run.
tool_result() {
	tool "$@" | awk '$1 == "result" { print $2 }'
}
tool_dry_result() {
	host_exec a "$TOOL" --dry-run vm1 "$@" | awk '$1 == "result" { print $2 }'
}
show_field() {
	awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }' "$show"
}

export HOST_CPU_SHARES=${HOST_CPU_SHARES:-4096}
export GUEST_VCPUS=2
host_create a || { echo "cannot create the host" >&2; exit 1; }
guest_start a vm1 "idle:3600" || { host_diag a; exit 1; }
guest_wait_ready a vm1 180 || { host_diag a; exit 1; }

pid=$(guest_qemu_pid a vm1)
cg_cpuset=$(guest_cgroup a vm1 cpuset)
cg_mem=$(guest_cgroup a vm1 memory)
cg_blkio=$(guest_cgroup a vm1 blkio)
tap=$(host_virsh a domiflist vm1 | awk 'NF >= 5 { print $1; exit }')
effective=$(cat "$(dirname "$cg_cpuset")/cpuset.effective_cpus")
echo "qemu $pid, cpuset $cg_cpuset, memory $cg_mem, blkio $cg_blkio, tap $tap, machine cpus $effective"
[[ -n $pid && -d $cg_cpuset/vcpu1 && -d $cg_mem && -n $tap ]] || {
	fail "cannot find the guest's QEMU, cgroups or tap"
	host_diag a
	exit 1
}
show=$(host_dir a)/show.txt

# Affinity of the thread whose comm is "CPU N/TCG".
vcpu_affinity() {
	local t
	for t in /proc/"$pid"/task/*; do
		if [[ $(cat "$t/comm" 2>/dev/null) == "CPU $1/"* ]]; then
			awk '$1 == "Cpus_allowed_list:" { print $2 }' "$t/status"
			return
		fi
	done
}

# ---- pinning -------------------------------------------------------------------------------
before0=$(cat "$cg_cpuset/vcpu0/cpuset.cpus")
expect "dry-run pin result" "$(tool_dry_result pin 1 "$effective" 2>/dev/null)" 0
expect "vcpu0 cpuset.cpus after dry-run" "$(cat "$cg_cpuset/vcpu0/cpuset.cpus")" "$before0"
expect "pin outside machine's cpus" "$(tool_result pin 0-1 0 2>/dev/null)" -22
expect "vcpu0 cpuset.cpus after refusal" "$(cat "$cg_cpuset/vcpu0/cpuset.cpus")" "$before0"

expect "pin 0-1 result" "$(tool_result pin 0-1 "$effective")" 0
vp=$(host_virsh a vcpupin vm1 --live)
expect "virsh vcpupin vCPU 0" "$(awk '$1 == "0" { print $2 }' <<<"$vp")" 0
expect "virsh vcpupin vCPU 1" "$(awk '$1 == "1" { print $2 }' <<<"$vp")" 1
ep=$(host_virsh a emulatorpin vm1 --live)
# "virsh -q" prints the bare list, without "*:"
expect "virsh emulatorpin" "$(awk 'NF { v = $NF } END { print v }' <<<"$ep")" 0-1
expect "vcpu0/cpuset.cpus" "$(cat "$cg_cpuset/vcpu0/cpuset.cpus")" 0
expect "vcpu1/cpuset.cpus" "$(cat "$cg_cpuset/vcpu1/cpuset.cpus")" 1
expect "emulator/cpuset.cpus" "$(cat "$cg_cpuset/emulator/cpuset.cpus")" 0-1
expect "CPU 0 thread affinity" "$(vcpu_affinity 0)" 0
expect "CPU 1 thread affinity" "$(vcpu_affinity 1)" 1
tool show vda "$tap" >"$show"
expect "plugin get_pinning vcpu0" "$(show_field vcpu0)" 0
expect "plugin get_pinning vcpu1" "$(show_field vcpu1)" 1
expect "plugin get_pinning emulator" "$(show_field emulator)" "0 1"
expect "pin 0-1 again" "$(tool_result pin 0-1 "$effective")" 0

# ---- memory --------------------------------------------------------------------------------
soft=$((64 << 20)) hard=$((512 << 20))
expect "dry-run mem result" "$(tool_dry_result mem $soft $hard 2>/dev/null)" 0
expect "memory.soft_limit_in_bytes after dry-run" \
	"$(cat "$cg_mem/memory.soft_limit_in_bytes")" 9223372036854771712
expect "mem soft above hard" "$(tool_result mem $hard $soft 2>/dev/null)" -22
expect "mem result" "$(tool_result mem $soft $hard)" 0
mt=$(host_virsh a memtune vm1 --live)
expect "virsh memtune soft_limit" "$(awk '$1 == "soft_limit" { print $3 }' <<<"$mt")" 65536
expect "virsh memtune hard_limit" "$(awk '$1 == "hard_limit" { print $3 }' <<<"$mt")" 524288
expect "memory.soft_limit_in_bytes" "$(cat "$cg_mem/memory.soft_limit_in_bytes")" $soft
expect "memory.limit_in_bytes" "$(cat "$cg_mem/memory.limit_in_bytes")" $hard
tool show >"$show"
expect "plugin soft_limit_kib" "$(show_field soft_limit_kib)" 65536
expect "plugin hard_limit_kib" "$(show_field hard_limit_kib)" 524288
expect "mem again" "$(tool_result mem $soft $hard)" 0
expect "mem unlimited result" "$(tool_result mem max max)" 0
expect "virsh memtune hard_limit unlimited" \
	"$(host_virsh a memtune vm1 --live | awk '$1 == "hard_limit" { print $3 }')" unlimited
expect "memory.limit_in_bytes unlimited" "$(cat "$cg_mem/memory.limit_in_bytes")" \
	9223372036854771712

# ---- block I/O -----------------------------------------------------------------------------
bps=$((1 << 20))
expect "block result" "$(tool_result block vda $bps)" 0
expect "virsh blkdeviotune total_bytes_sec" \
	"$(host_virsh a blkdeviotune vm1 vda --live | awk '$1 == "total_bytes_sec:" { print $2 }')" $bps
qb=$(host_virsh a qemu-monitor-command vm1 '{"execute":"query-block"}')
if grep -q "\"bps\": *${bps}[,}]" <<<"$qb"; then
	pass "QEMU query-block bps = $bps"
else
	fail "QEMU query-block has no \"bps\": $bps: $qb"
fi
expect "blkio.throttle.read_bps_device (iotune is not a cgroup knob)" \
	"$(cat "$cg_blkio/blkio.throttle.read_bps_device")" ""
expect "blkio.throttle.write_bps_device" "$(cat "$cg_blkio/blkio.throttle.write_bps_device")" ""
tool show vda "$tap" >"$show"
expect "plugin total_bytes_sec" "$(show_field total_bytes_sec)" $bps
expect "block again" "$(tool_result block vda $bps)" 0
expect "block unlimited" "$(tool_result block vda 0)" 0
expect "virsh blkdeviotune after unlimited" \
	"$(host_virsh a blkdeviotune vm1 vda --live | awk '$1 == "total_bytes_sec:" { print $2 }')" 0

# ---- block I/O weight ----------------------------------------------------------------------
# libvirt writes blkio.bfq.weight where the kernel has BFQ's group
# scheduling, blkio.weight where it has CFQ's (gone since 5.0), and refuses
# the weight where neither exists.
weight_file=""
for f in blkio.bfq.weight blkio.weight; do
	if [[ -e $cg_blkio/$f ]]; then
		weight_file=$cg_blkio/$f
		break
	fi
done
virsh_weight() {
	host_virsh a blkiotune vm1 --live | awk '$1 == "weight" { print $3 }'
}
weight0=$(virsh_weight)
echo "blkio weight before: $weight0 (virsh), file ${weight_file:-none}"
if [[ -z $weight_file ]]; then
	# no weight file: libvirt must refuse, and the apply says so (< 0)
	echo "SKIP cgroup weight checks: the VM group $cg_blkio has neither blkio.bfq.weight" \
		"nor blkio.weight (kernel without CONFIG_BFQ_GROUP_IOSCHED)"
	wr=$(tool_result weight 700 2>/dev/null)
	expect "weight refused without a weight file" "$((wr < 0))" 1
else
	file_before=$(cat "$weight_file")
	expect "dry-run weight result" "$(tool_dry_result weight 700 2>/dev/null)" 0
	expect "$(basename "$weight_file") after dry-run" "$(cat "$weight_file")" "$file_before"
	expect "weight 99 refused" "$(tool_result weight 99 2>/dev/null)" -22
	expect "weight 1001 refused" "$(tool_result weight 1001 2>/dev/null)" -22
	expect "$(basename "$weight_file") after refusals" "$(cat "$weight_file")" "$file_before"
	expect "weight 700 result" "$(tool_result weight 700)" 0
	expect "virsh blkiotune weight" "$(virsh_weight)" 700
	expect "$(basename "$weight_file")" "$(cat "$weight_file")" 700
	tool show >"$show"
	expect "plugin get_blkio_weight" "$(show_field get_blkio_weight)" 0
	expect "plugin blkio_weight" "$(show_field blkio_weight)" 700
	again=$(host_exec a "$TOOL" vm1 weight 700 2>&1)
	expect "weight 700 again" "$(awk '$1 == "result" { print $2 }' <<<"$again")" 0
	# read back equal: no set, so the apply says nothing
	if grep -q "block I/O weight 700" <<<"$again"; then
		fail "weight 700 set again although libvirt already had it: $again"
	else
		pass "weight 700 again: read, not set"
	fi
	expect "weight 100 (libvirt's least)" "$(tool_result weight 100)" 0
	expect "$(basename "$weight_file") at 100" "$(cat "$weight_file")" 100
	expect "virsh blkiotune weight at 100" "$(virsh_weight)" 100
	if ((weight0 >= 100 && weight0 <= 1000)); then
		expect "weight put back to $weight0" "$(tool_result weight "$weight0")" 0
		expect "$(basename "$weight_file") put back" "$(cat "$weight_file")" "$file_before"
	fi
fi

# ---- network -------------------------------------------------------------------------------
# 8 Mbit/s = libvirt's 1000 kB/s (tc "kbps" = 1000 bytes/s) both ways; a
# 1 Mbit/s guarantee this bridge interface cannot take (floor needs a
# libvirt network), so the apply says 1: limited, not guaranteed.
# libvirt shapes the guest's inbound with htb + an sfq leaf and its outbound
# with a police action: a kernel without sch_sfq or act_police makes
# libvirt's tc fail, which the apply must report (< 0), and nothing here can
# be shaped: those checks are skipped then, with the reason.
kconfig() {
	{ zcat /proc/config.gz 2>/dev/null || cat "/boot/config-$(uname -r)" 2>/dev/null; } |
		grep -E "^CONFIG_$1=(y|m)$"
}
dry=$(tool_dry_result net "$tap" 1000000 8000000 2>/dev/null)
expect "dry-run net result" "$dry" 0
expect "virsh domiftune after dry-run" \
	"$(host_virsh a domiftune vm1 "$tap" --live | awk '$1 == "inbound.average:" { print $2 }')" 0
net_out=$(host_exec a "$TOOL" vm1 net "$tap" 1000000 8000000 2>&1)
net_r=$(awk '$1 == "result" { print $2 }' <<<"$net_out")
if [[ $net_r != 0 && $net_r != 1 ]] && grep -q "qdisc kind is unknown\|police" <<<"$net_out" &&
	! { kconfig NET_SCH_SFQ && kconfig NET_ACT_POLICE; } >/dev/null; then
	expect "net result fails when libvirt's tc fails" "$((net_r < 0))" 1
	echo "SKIP network shaping checks: this kernel lacks sch_sfq/act_police" \
		"(CONFIG_NET_SCH_SFQ, CONFIG_NET_ACT_POLICE), which libvirt's <bandwidth> needs:"
	grep -m1 "tc " <<<"$net_out"
else
	expect "net result (limit applied, floor refused)" "$net_r" 1
	it=$(host_virsh a domiftune vm1 "$tap" --live)
	expect "virsh domiftune inbound.average" "$(awk '$1 == "inbound.average:" { print $2 }' <<<"$it")" 1000
	expect "virsh domiftune outbound.average" "$(awk '$1 == "outbound.average:" { print $2 }' <<<"$it")" 1000
	expect "virsh domiftune inbound.floor" "$(awk '$1 == "inbound.floor:" { print $2 }' <<<"$it")" 0
	qd=$(host_exec a tc qdisc show dev "$tap")
	cl=$(host_exec a tc class show dev "$tap")
	fl=$(host_exec a tc filter show dev "$tap" parent ffff:)
	echo "tc qdisc: $qd"
	echo "tc class: $cl"
	echo "tc filter: $fl"
	check_grep "qdisc htb 1: root" "$qd" "htb root qdisc on $tap"
	check_grep "qdisc ingress ffff:" "$qd" "ingress qdisc on $tap"
	check_grep "rate 8Mbit" "$cl" "htb class rate 8Mbit (guest inbound)"
	check_grep "rate 8Mbit" "$fl" "ingress police rate 8Mbit (guest outbound)"
	tool show vda "$tap" >"$show"
	expect "plugin in_average" "$(show_field in_average)" 1000
	expect "plugin out_average" "$(show_field out_average)" 1000
	expect "net again, no guarantee" "$(tool_result net "$tap" 0 8000000)" 0
	expect "net off" "$(tool_result net "$tap" 0 0)" 0
	expect "virsh domiftune inbound.average off" \
		"$(host_virsh a domiftune vm1 "$tap" --live | awk '$1 == "inbound.average:" { print $2 }')" 0
	if host_exec a tc qdisc show dev "$tap" | grep -q htb; then
		fail "htb qdisc left on $tap"
	else
		pass "no htb qdisc on $tap once the limit is off"
	fi
fi
# Reading works whatever the kernel: the plugin and virsh agree.
tool show vda "$tap" >"$show"
expect "plugin get_net_tune" "$(show_field get_net_tune)" 0
expect "plugin in_average = virsh inbound.average" "$(show_field in_average)" \
	"$(host_virsh a domiftune vm1 "$tap" --live | awk '$1 == "inbound.average:" { print $2 }')"

if ((failures)); then
	host_diag a
	echo "$failures check(s) failed" >&2
	exit 1
fi
echo "all checks passed"
