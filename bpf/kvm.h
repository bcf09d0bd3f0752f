/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Plain data of the kvm probe (kvm.bpf.c), shared with its userspace owner. */
#ifndef PRESCIENT_BPF_KVM_H
#define PRESCIENT_BPF_KVM_H

#include "tracked.h"

/* (VM slot, exit reason) pairs counted at once. */
#define KVM_MAX_REASON_KEYS 8192
/* Reason recorded when the vendor module's layout is unknown to BTF. */
#define KVM_REASON_UNKNOWN 0xffffffffU

enum kvm_isa {
	KVM_ISA_UNKNOWN,
	KVM_ISA_VMX_INTEL, /* same values as the kernel's KVM_ISA_VMX/SVM */
	KVM_ISA_SVM_AMD,
	KVM_NR_ISAS,
};

struct kvm_reason_key {
	__u32 slot;
	__u32 isa;    /* enum kvm_isa */
	__u32 reason; /* VMX basic exit reason or SVM exit code */
	__u32 pad;
};

/* Per VM slot, per CPU. */
struct kvm_slot_counters {
	__u64 exits;
};

enum kvm_stat {
	KVM_STAT_REASONS_FULL,
	KVM_STAT_BAD_SLOT,
	KVM_NR_STATS,
};

#endif
