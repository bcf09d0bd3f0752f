/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Internals of the libvirt backend of plugin/hv.h, exposed for the daemon's
 * logging and for tests: an open() that takes the proc root and the QEMU pid
 * file folder (so fixture trees can stand in for /proc), the pure parsers of
 * outside input (domain XML, /proc/<pid>/cgroup, cmdline, thread names), the
 * libvirt error conversion and a way to simulate a lost connection.
 */
#ifndef PRESCIENT_PLUGIN_HV_LIBVIRT_H
#define PRESCIENT_PLUGIN_HV_LIBVIRT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libvirt/libvirt.h>

#include "hv.h"

#define HV_LIBVIRT_PROC_ROOT "/proc"
/* Where libvirt's QEMU driver (system instance) writes <name>.pid. */
#define HV_LIBVIRT_PID_DIR "/run/libvirt/qemu"

/* Largest domain XML we accept from libvirt or from a test. */
#define HV_DOMXML_MAX_BYTES (4u << 20)

struct hv_libvirt_opts {
	const char *proc_root; /* NULL = HV_LIBVIRT_PROC_ROOT */
	const char *pid_dir;   /* NULL = HV_LIBVIRT_PID_DIR; "" = do not use pid files */
};

/*
 * hv_libvirt_ops.open with options. The first connection is made here and
 * its failure returned (-errno, message in hv_libvirt_last_error()); a
 * connection lost later is re-established in the background. Domain events
 * come from libvirt's event thread, CONNECTED and DISCONNECTED from the
 * backend's supervisor thread; both only call cb, and never after close().
 */
int hv_libvirt_open(const struct hv_config *cfg, const struct hv_libvirt_opts *opts, hv_event_cb cb,
		    void *userdata, struct hv **ret);

/*
 * The message of the last libvirt error this thread converted to an errno,
 * "" when none. Valid until the next call into the backend on this thread.
 */
const char *hv_libvirt_last_error(void);

/* Number of successful connections so far (1 after the first connect). */
uint64_t hv_libvirt_nr_connects(struct hv *hv);

/*
 * The URI for the next reconnection (NULL = libvirt's default); the current
 * connection stays until it is lost. For a configuration reload, and tests.
 */
int hv_libvirt_set_uri(struct hv *hv, const char *uri);

/*
 * Behaves as if libvirt reported the connection closed (as its close
 * callback does when libvirtd goes away): DISCONNECTED, then reconnect after
 * the configured delay, then CONNECTED. For tests.
 */
void hv_libvirt_simulate_loss(struct hv *hv);

/*
 * Converts libvirt's error (code, and errno for system errors) into -errno:
 * no domain -ENOENT, invalid operation or argument -EINVAL, unsupported
 * -EOPNOTSUPP, denied -EACCES, timeout -ETIMEDOUT, system error its errno,
 * anything else -EIO.
 */
int hv_libvirt_errno_from_code(int code, int sys_errno);

/*
 * Fills from a live domain XML: uuid, name, nr_vcpus, max_vcpus, memory_kib,
 * max_memory_kib, taps (interface target dev) with macs (the interface's
 * <mac address>, "" when absent or malformed) and disks (disk target dev of
 * disk and lun devices). Other fields of *ret are left as they were. No
 * network access, no entity expansion, no DTD loading. -EINVAL when the XML
 * is not a domain, -EFBIG above HV_DOMXML_MAX_BYTES.
 */
int hv_domxml_parse(const char *xml, size_t len, struct hv_vm *ret);

/*
 * Parses the text of /proc/<pid>/cgroup (len bytes, need not be
 * NUL-terminated) into ret's cgroup_v2, cgroup_cpu and cgroup_memory. The
 * VM's group is where QEMU's main thread sits with libvirt's trailing
 * "emulator" component removed; a hierarchy's path counts only when it is
 * that group (v1 memory keeps QEMU in the group itself). Everything else,
 * including the unified root of hybrid and namespaced hosts, gives "".
 */
int hv_proc_cgroup_parse(const char *buf, size_t len, struct hv_vm *ret);

/* True when a NUL-separated command line carries "-uuid <uuid>" (any case). */
bool hv_proc_cmdline_has_uuid(const char *buf, size_t len, const char *uuid);

/*
 * Recognises QEMU's thread names: "CPU <n>/KVM", "CPU <n>/TCG" (any
 * accelerator) give the vCPU number, "ALL CPUs/TCG" (single-threaded TCG)
 * gives HV_PROC_ALL_VCPUS; -ENOENT for any other thread.
 */
#define HV_PROC_ALL_VCPUS (-1)
int hv_proc_comm_vcpu(const char *comm, size_t len, int *ret_vcpu);

/*
 * Sets qemu_pid of each vms[i] that has none: first from
 * <pid_dir>/<name>.pid, checked against the process's command line, then by
 * one scan of <proc_root>/<pid>/cmdline for "-uuid <uuid>". A VM without a
 * visible process keeps qemu_pid 0. Returns the number of VMs still without.
 */
int hv_proc_find_pids(const char *proc_root, const char *pid_dir, struct hv_vm *vms, size_t n);

/* Reads the vCPU thread ids of vm->qemu_pid from <proc_root>/<pid>/task/ * /comm. */
int hv_proc_read_vcpu_tids(const char *proc_root, struct hv_vm *vm);

/* Reads <proc_root>/<pid>/cgroup into vm's cgroup paths. */
int hv_proc_read_cgroups(const char *proc_root, struct hv_vm *vm);

/*
 * Sums one domain's bulk statistics record (virConnectGetAllDomainStats) into
 * *ret, uuid excepted: vcpu.<n>.delay over vCPUs, net.<n>.* over interfaces,
 * block.<n>.* over disks. Fields with no parameter stay HV_STAT_ABSENT.
 */
void hv_stats_from_params(const virTypedParameter *params, int n, struct hv_vm_stats *ret);

#endif
