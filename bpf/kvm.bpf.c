// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * kvm: VM exits per VM and per exit reason. Attached only where the kvm_exit
 * tracepoint exists; under TCG the tracepoint may exist but never fires,
 * which is fine. The tracepoint's arguments do not carry the reason, so it
 * is read from the vendor's vCPU structure (vcpu_vmx or vcpu_svm, whose
 * first member is the struct kvm_vcpu) through CO-RE; where the vendor
 * module's BTF is missing the reason is KVM_REASON_UNKNOWN and only the
 * total is meaningful.
 *
 * Events: kvm_exit (tp_btf). Cost: the tgid pre-filter per exit; tracked
 * VMs add a tracked_tgids lookup, a per-CPU add and a per-CPU hash update
 * (count_reasons = false drops the last).
 * Maps: tracked_tgids and the tgid pre-filter are shared; kvm_counters,
 * kvm_reasons (bounded, overflow counted) and kvm_stats are its own.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "kvm.h"
#include "tracked.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Count per-reason too (false: totals only, cheaper). */
const volatile bool count_reasons = true;

TRACKED_TGIDS_MAP;
TRACKED_TGID_FILTER

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TRACKED_MAX_VMS);
	__type(key, __u32);
	__type(value, struct kvm_slot_counters);
} kvm_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, KVM_MAX_REASON_KEYS);
	__type(key, struct kvm_reason_key);
	__type(value, __u64);
} kvm_reasons SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KVM_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} kvm_stats SEC(".maps");

/* Vendor layouts, resolved against kvm_intel / kvm_amd BTF when present. */
union vmx_exit_reason___x {
	__u32 full;
} __attribute__((preserve_access_index));

struct vcpu_vmx___x {
	union vmx_exit_reason___x exit_reason;
} __attribute__((preserve_access_index));

struct vmcb_control_area___x {
	__u32 exit_code;
} __attribute__((preserve_access_index));

struct vmcb___x {
	struct vmcb_control_area___x control;
} __attribute__((preserve_access_index));

struct vcpu_svm___x {
	struct vmcb___x *vmcb;
} __attribute__((preserve_access_index));

static __always_inline __u32 exit_reason(void *vcpu, __u32 isa)
{
	if (isa == KVM_ISA_VMX_INTEL && bpf_core_type_exists(struct vcpu_vmx___x))
		return BPF_CORE_READ((struct vcpu_vmx___x *)vcpu, exit_reason.full) & 0xffff;
	if (isa == KVM_ISA_SVM_AMD && bpf_core_type_exists(struct vcpu_svm___x))
		return BPF_CORE_READ((struct vcpu_svm___x *)vcpu, vmcb, control.exit_code);
	return KVM_REASON_UNKNOWN;
}

SEC("tp_btf/kvm_exit")
int BPF_PROG(kvm_exit, struct kvm_vcpu *vcpu, __u32 isa)
{
	__u32 tgid = bpf_get_current_pid_tgid() >> 32;
	struct kvm_reason_key key = {};
	struct kvm_slot_counters *c;
	__u64 one = 1, *n;
	__u32 *slot;

	if (!tgid_maybe_tracked(tgid))
		return 0;
	slot = bpf_map_lookup_elem(&tracked_tgids, &tgid);
	if (!slot)
		return 0;
	c = bpf_map_lookup_elem(&kvm_counters, slot);
	if (!c) {
		STAT_INC(kvm_stats, KVM_STAT_BAD_SLOT);
		return 0;
	}
	c->exits++;
	if (!count_reasons)
		return 0;
	key.slot = *slot;
	key.isa = isa < KVM_NR_ISAS ? isa : KVM_ISA_UNKNOWN;
	key.reason = exit_reason(vcpu, isa);
	n = bpf_map_lookup_elem(&kvm_reasons, &key);
	if (n)
		(*n)++;
	else if (bpf_map_update_elem(&kvm_reasons, &key, &one, BPF_NOEXIST) == -E2BIG)
		STAT_INC(kvm_stats, KVM_STAT_REASONS_FULL);
	return 0;
}
