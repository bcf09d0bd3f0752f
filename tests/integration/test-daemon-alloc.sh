#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The allocation engine end to end on one host: a private libvirtd, two TCG
# guests and prescientd. Asserts:
#   - every VM gets a lease (holder = its UUID, state active, its class);
#   - the guaranteed VM with pin = yes is pinned to the cores its lease
#     reserved: read back from libvirt (vcpupin, emulatorpin) and from the
#     vCPU thread's affinity in the kernel;
#   - memory protection equals what the lease holds (this host's memory
#     controller is cgroup v1: libvirt's soft limit, read back from libvirt
#     and from memory.soft_limit_in_bytes);
#   - reservations through the API: a stale generation is refused with code
#     "stale", a request beyond the pool is refused with its explanation, a
#     fitting one is offered, confirmed and released (twice: idempotent),
#     an unconfirmed offer expires after its TTL;
#   - `prescientctl reservations explain VM` explains the VM's grant;
#   - restart: the ledger comes back from its checkpoint (same lease ids), a
#     VM destroyed while the daemon was down loses its lease; a damaged
#     checkpoint is set aside as .corrupt and the leases are rebuilt;
#   - dry-run (reload): a change of class is decided and logged, not applied.
set -euo pipefail
: "${PRESCIENT_SOURCE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/host.sh"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/guest.sh"
. "$PRESCIENT_SOURCE_ROOT/tests/integration/lib/prescient.sh"

host_require
guest_require
command -v python3 >/dev/null || host_skip "python3 is needed to read the JSON"
prescient_find_build || exit 1
host_install_trap

fails=0
ok() { echo "ok   $*"; }
fail() {
	echo "FAIL $*"
	fails=$((fails + 1))
}
# jq-like access with python: json_get 'expr over d' < json
json_get() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
print(eval(sys.argv[1]))' "$1"
}

export HOST_CPU_SHARES=${HOST_CPU_SHARES:-4096}
host_create a
GUEST_MEMORY_MIB=128 guest_start a pinned idle:600
GUEST_MEMORY_MIB=96 guest_start a shared idle:600
guest_wait_ready a pinned 120
guest_wait_ready a shared 120

CONFIG='[alloc]
lead_time = 3
lease_ttl = 4s

[pool]
host_reserved_cores = 0
host_reserved_memory = 256M

[vm pinned]
class = guaranteed
pin = yes

[vm shared]
class = burstable'
prescient_start a "$CONFIG"
pdir=$(prescient_dir a)
uuid_pinned=$(host_virsh a domuuid pinned | tr -d '[:space:]')
uuid_shared=$(host_virsh a domuuid shared | tr -d '[:space:]')

leases_json() { prescient_ctl a --json reservations; }
lease_field() { # UUID EXPR: EXPR over l, the holder's live lease ({} when none)
	leases_json | python3 -c 'import json, sys
d = json.load(sys.stdin)
l = next((l for l in d["leases"] if l["holder"] == sys.argv[1] and l["state"] in ("offered", "confirmed", "active")), {})
print(eval(sys.argv[2]))' "$1" "$2"
}
both_active() {
	[[ $(lease_field "$uuid_pinned" "l.get('state')") == active &&
		$(lease_field "$uuid_shared" "l.get('state')") == active ]]
}

# --- leases for every VM
if host_wait_for 60 both_active; then
	ok "both VMs hold an active lease"
else
	fail "leases: $(leases_json)"
fi
[[ $(lease_field "$uuid_pinned" "l.get('class')") == guaranteed ]] && ok "pinned VM's lease is guaranteed" ||
	fail "pinned VM's class: $(lease_field "$uuid_pinned" "l.get('class')")"
[[ $(lease_field "$uuid_shared" "l.get('class')") == burstable ]] && ok "shared VM's lease is burstable" ||
	fail "shared VM's class"
lease_pinned=$(lease_field "$uuid_pinned" "l.get('id')" || true)
lease_shared=$(lease_field "$uuid_shared" "l.get('id')" || true)
cores=$(lease_field "$uuid_pinned" "l.get('pinned')" || true)
echo "pinned VM: lease $lease_pinned, cores '$cores'; shared VM: lease $lease_shared"

# --- pinning, read back from libvirt and the kernel
pin_matches() {
	local vp ep pid tid aff
	vp=$(host_virsh a vcpupin pinned --live 2>/dev/null | awk '$1 == "0" { print $2 }')
	ep=$(host_virsh a emulatorpin pinned --live 2>/dev/null | awk 'NF { v = $NF } END { print v }')
	pid=$(guest_qemu_pid a pinned)
	tid=$(grep -l '^CPU 0/' /proc/"$pid"/task/*/comm 2>/dev/null | head -n1 | awk -F/ '{ print $5 }')
	aff=$(awk '/^Cpus_allowed_list:/ { print $2 }' "/proc/$pid/task/$tid/status" 2>/dev/null)
	echo "vcpupin '$vp' emulatorpin '$ep' vCPU thread $tid affinity '$aff'"
	[[ -n $cores && $vp == "$cores" && $ep == "$cores" && $aff == "$cores" ]]
}
if [[ -n $cores && $cores != None ]] && host_wait_for 30 pin_matches >/dev/null; then
	ok "pinned: $(pin_matches)"
else
	fail "pinning not in force: $(pin_matches || true)"
fi

# --- pinned cores are not overcommitted: the other VM is kept off them, the pinned VM is not capped
# cpuset_eq A B / cpuset_minus A B: Linux cpu lists compared or subtracted.
cpuset_py() {
	python3 -c '
import sys
def parse(s):
    out = set()
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-"); out |= set(range(int(a), int(b) + 1))
        elif part:
            out.add(int(part))
    return out
a, b = parse(sys.argv[2]), parse(sys.argv[3])
if sys.argv[1] == "eq":
    sys.exit(0 if a == b else 1)
print(",".join(str(c) for c in sorted(a - b)))' "$@"
}
others=$(cpuset_py minus "$(cat /sys/devices/system/cpu/online)" "$cores")
isolated() {
	local vp
	vp=$(host_virsh a vcpupin shared --live 2>/dev/null | awk '$1 == "0" { print $2 }')
	[[ -n $others && -n $vp ]] && cpuset_py eq "$vp" "$others"
}
if host_wait_for 30 isolated; then
	ok "the unpinned VM runs on cores $others, off the pinned core $cores"
else
	fail "unpinned VM's vCPU affinity: $(host_virsh a vcpupin shared --live 2>&1 | tr '\n' ' ') (want $others)"
fi
uncapped() {
	local q
	q=$(host_virsh a schedinfo pinned --live 2>/dev/null | awk '$1 == "global_quota" { print $3 }')
	[[ $q == -1 || ${#q} -ge 13 ]]
}
host_wait_for 20 uncapped && ok "the pinned VM has no CPU quota (its cores are its own)" ||
	fail "pinned VM capped: $(host_virsh a schedinfo pinned --live | grep global_quota)"

# --- memory protection: held bytes == libvirt soft limit == cgroup v1 file
mem_held() { lease_field "$1" "next((i['held'] for i in l.get('items', []) if i['dim'] == 'mem'), None)" 2>/dev/null || true; }
soft_kib() { host_virsh a memtune "$1" 2>/dev/null | awk '$1 == "soft_limit" { print $3 }'; }
protect_ok() {
	local held soft
	held=$(mem_held "$uuid_pinned")
	soft=$(soft_kib pinned)
	[[ -n $held && $held != None && -n $soft ]] || return 1
	python3 -c "import sys; h=float('$held'); s=int('$soft')*1024; sys.exit(0 if abs(h - s) <= max(16<<20, 0.05*h) else 1)"
}
if host_wait_for 30 protect_ok; then
	ok "memory protection of the guaranteed VM: soft_limit $(soft_kib pinned) KiB for $(mem_held "$uuid_pinned") B held"
else
	fail "memory protection: held $(mem_held "$uuid_pinned") soft_limit $(soft_kib pinned) KiB"
fi
memcg=$(guest_cgroup a pinned memory 2>/dev/null || true)
if [[ -n $memcg && -r $memcg/memory.soft_limit_in_bytes ]]; then
	cg=$(cat "$memcg/memory.soft_limit_in_bytes")
	[[ $cg == $(($(soft_kib pinned) * 1024)) ]] && ok "cgroup memory.soft_limit_in_bytes = $cg" ||
		fail "cgroup soft limit $cg != libvirt's $(soft_kib pinned) KiB"
else
	echo "skip memory.soft_limit_in_bytes: no v1 memory cgroup for the guest on this host"
fi

# --- explain
explain=$(prescient_ctl a reservations explain shared 2>&1 || true)
if grep -q "^Decided again now.*: admit" <<<"$explain" && grep -q "^  cpu .* admit" <<<"$explain"; then
	ok "reservations explain shared: $(head -n1 <<<"$explain")"
else
	fail "explain:"
	echo "$explain"
fi

# --- the VM's view shows its lease and what is in force
vmout=$(prescient_ctl a vm pinned 2>&1 || true)
if grep -q "guaranteed, pinned to cores $cores" <<<"$vmout" && grep -q "^  mem .*in force: .* via libvirt soft_limit" <<<"$vmout"; then
	ok "prescientctl vm shows the lease: $(grep -m1 '^  lease:' <<<"$vmout")"
else
	fail "prescientctl vm pinned:"
	sed -n '/^Lease/,/^$/p' <<<"$vmout"
fi

# --- reservations through the API
gen=$(leases_json | json_get "d['generation']")
stale=$(prescient_ctl a --json reserve --holder mig-stale --migration --cpu 0.1 --generation $((gen - 1)) 2>&1 || true)
grep -q '"stale"' <<<"$stale" && ok "stale generation refused (code stale)" || fail "stale: $stale"
big=$(prescient_ctl a --json reserve --holder mig-big --migration --class guaranteed --cpu 64 2>&1 || true)
grep -q '"refused"' <<<"$big" && ok "a request beyond the pool is refused with its reason" || fail "big: $big"
small=$(prescient_ctl a --json reserve --holder mig-small --migration --cpu 0.1 --memory 16M 2>/dev/null || true)
id=$(json_get "d['id']" <<<"$small" 2>/dev/null || true)
if [[ -n $id && $id != None ]]; then
	ok "a fitting migration reservation is offered (lease $id)"
	prescient_ctl a confirm "$id" >/dev/null && ok "confirmed" || fail "confirm $id"
	prescient_ctl a release "$id" >/dev/null && prescient_ctl a release "$id" >/dev/null &&
		ok "released twice (idempotent)" || fail "release $id twice"
else
	fail "small: $small"
fi
exp=$(prescient_ctl a --json reserve --holder mig-ttl --migration --cpu 0.1 2>/dev/null || true)
eid=$(json_get "d['id']" <<<"$exp" 2>/dev/null || true)
expired() { [[ $(leases_json | json_get "next((l['state'] for l in d['leases'] if l['id'] == $eid), '')") == expired ]]; }
if [[ -n $eid && $eid != None ]] && host_wait_for 20 expired; then
	ok "an unconfirmed offer expired after its TTL"
else
	fail "offer $eid did not expire: $(leases_json)"
fi

# --- restart: checkpoint restored, a VM gone meanwhile loses its lease
prescient_stop a || fail "prescientd exit status $?"
[[ -s $pdir/state/leases.ckpt ]] && ok "lease checkpoint written" || fail "no $pdir/state/leases.ckpt"
host_virsh a destroy shared >/dev/null
prescient_start a "$CONFIG"
restored() { [[ $(lease_field "$uuid_pinned" "l.get('id')") == "$lease_pinned" ]]; }
if host_wait_for 30 restored; then
	ok "after a restart the pinned VM keeps lease $lease_pinned"
else
	fail "pinned VM's lease after restart: $(lease_field "$uuid_pinned" "l.get('id')") (was $lease_pinned)"
fi
shared_released() {
	[[ $(leases_json | json_get "next((l['state'] for l in d['leases'] if l['id'] == $lease_shared), 'forgotten')") =~ ^(released|forgotten)$ ]]
}
host_wait_for 30 shared_released && ok "the VM destroyed while the daemon was down lost its lease" ||
	fail "lease $lease_shared of the destroyed VM: $(leases_json)"

# --- a damaged checkpoint is set aside, the leases rebuilt
prescient_stop a || fail "prescientd exit status $?"
head -c 100 /dev/urandom >"$pdir/state/leases.ckpt"
prescient_start a "$CONFIG"
rebuilt() { [[ $(lease_field "$uuid_pinned" "l.get('state')") == active ]]; }
if host_wait_for 30 rebuilt && [[ -e $pdir/state/leases.ckpt.corrupt ]] &&
	grep -q "damaged" "$(prescient_log a)"; then
	ok "damaged checkpoint kept as .corrupt, lease rebuilt"
else
	fail "damaged checkpoint: $(ls "$pdir/state"); $(lease_field "$uuid_pinned" "l.get('state')")"
fi

# --- dry-run: a change of class is decided and logged, not applied
soft_before=$(soft_kib pinned)
printf '[daemon]\ndry_run = yes\n[vm pinned]\npin = no\nclass = best-effort\n' >"$pdir/prescient.conf.d/70-dry.conf"
kill -HUP "$(prescient_pid a)"
would() { grep -q "dry-run: would protect" "$(prescient_log a)"; }
if host_wait_for 20 would && [[ $(soft_kib pinned) == "$soft_before" ]]; then
	ok "dry-run logged the new protection and left soft_limit at $soft_before KiB"
else
	fail "dry-run: soft_limit $(soft_kib pinned) (was $soft_before); $(grep -c 'dry-run' "$(prescient_log a)") dry-run lines"
fi

status=0
prescient_stop a || status=$?
[[ $status == 0 ]] && ok "SIGTERM: exit 0" || fail "exit status $status"
if ((fails)); then
	echo "--- daemon log"
	tail -n 60 "$(prescient_log a)"
	exit 1
fi
