// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What libvirt does not tell a client about a running QEMU: its pid, the
 * thread id of each vCPU and the cgroups it sits in. Read from a proc tree
 * whose root is a parameter, so tests point it at fixture trees.
 *
 * Finding the pid: libvirt's API has no call for it and the status XML under
 * /run/libvirt/qemu is the daemon's private state. The QEMU driver writes
 * <state dir>/<name>.pid, but the state dir differs between the system and
 * session daemons and namespaced hosts. So the pid file is only a fast path,
 * always checked against the process's command line, and the authority is
 * the command line itself: libvirt starts every QEMU with "-uuid <uuid>",
 * which is unique per host and survives renames.
 *
 * vCPU threads: libvirt starts QEMU with "-name ...,debug-threads=on", so
 * QEMU names each vCPU thread "CPU <n>/KVM" (or "/TCG"), which is the only
 * client-visible link between vCPU numbers and thread ids.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cleanup.h"
#include "hv-libvirt.h"
#include "log.h"
#include "util.h"

#define PROC_CMDLINE_MAX_BYTES (256u << 10)
#define PROC_CGROUP_MAX_BYTES  (64u << 10)
#define PROC_SMALL_MAX_BYTES   256u

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

#define _cleanup_closedir_ _cleanup_(closedirp)

struct span {
	const char *p;
	size_t len;
	bool set;
};

/* Removes a trailing "/emulator" component; false when there is none. */
static bool span_strip_emulator(struct span *s)
{
	static const char suffix[] = "/emulator";
	const size_t slen = sizeof(suffix) - 1;

	if (!s->set || s->len < slen || memcmp(s->p + s->len - slen, suffix, slen) != 0)
		return false;
	s->len -= slen;
	return true;
}

static bool controller_list_has(const char *list, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = list, *end = list + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t l = comma ? (size_t)(comma - p) : (size_t)(end - p);

		if (l == nlen && memcmp(p, name, nlen) == 0)
			return true;
		p += l + 1;
	}
	return false;
}

/* Copies path into dst when it is the VM's group, else "". */
static void cgroup_path_set(char *dst, struct span path, const struct span *vm)
{
	dst[0] = '\0';
	span_strip_emulator(&path);
	if (!path.set || !vm->set || path.len != vm->len || memcmp(path.p, vm->p, vm->len) != 0)
		return;
	/*
	 * "" is the hierarchy root, never a VM's own; the kernel writes absolute
	 * paths only; a NUL would cut the path
	 */
	if (path.len == 0 || path.p[0] != '/' || path.len >= HV_CGROUP_MAX ||
	    memchr(path.p, '\0', path.len))
		return;
	memcpy(dst, path.p, path.len);
	dst[path.len] = '\0';
}

/*
 * libvirt moves QEMU's main thread into <vm group>/emulator in the
 * controllers that have per-thread settings (cpu, cpuacct, cpuset on v1;
 * the unified hierarchy on v2) and leaves it in <vm group> in the others
 * (memory, blkio on v1). So the VM's group is found from an emulator path,
 * and a controller's path counts only when it is that group: the unified
 * root of a hybrid host, or a namespaced test host's shared subtree, is
 * not the VM's.
 */
int hv_proc_cgroup_parse(const char *buf, size_t len, struct hv_vm *ret)
{
	char v2[HV_CGROUP_MAX], cpu[HV_CGROUP_MAX], mem[HV_CGROUP_MAX];
	struct span s_v2 = { 0 }, s_cpu = { 0 }, s_mem = { 0 }, s_other = { 0 }, vm = { 0 };
	const char *p = buf, *end = buf + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *c1, *c2;

		/* hierarchy-id:controller-list:path; the path may contain ':' */
		c1 = memchr(p, ':', (size_t)(eol - p));
		c2 = c1 ? memchr(c1 + 1, ':', (size_t)(eol - c1 - 1)) : NULL;
		if (c2) {
			const char *ctl = c1 + 1;
			size_t ctl_len = (size_t)(c2 - ctl);
			struct span path = { c2 + 1, (size_t)(eol - c2 - 1), true };

			if (c1 - p == 1 && p[0] == '0' && ctl_len == 0) {
				if (!s_v2.set)
					s_v2 = path;
			} else {
				if (!s_cpu.set && controller_list_has(ctl, ctl_len, "cpu"))
					s_cpu = path;
				if (!s_mem.set && controller_list_has(ctl, ctl_len, "memory"))
					s_mem = path;
				if (!s_other.set && ctl_len > 0) {
					struct span t = path;

					if (span_strip_emulator(&t))
						s_other = t;
				}
			}
		}
		p = eol + 1;
	}

	/* the VM's group: from the cpu controller, else the unified hierarchy, else any */
	{
		const struct span *cand[] = { &s_cpu, &s_v2, &s_mem };

		for (size_t i = 0; i < ARRAY_SIZE(cand) && !vm.set; i++) {
			struct span t = *cand[i];

			if (span_strip_emulator(&t))
				vm = t;
		}
		if (!vm.set)
			vm = s_other;
	}

	cgroup_path_set(v2, s_v2, &vm);
	cgroup_path_set(cpu, s_cpu, &vm);
	cgroup_path_set(mem, s_mem, &vm);
	memcpy(ret->cgroup_v2, v2, sizeof(v2));
	memcpy(ret->cgroup_cpu, cpu, sizeof(cpu));
	memcpy(ret->cgroup_memory, mem, sizeof(mem));
	return 0;
}

bool hv_proc_cmdline_has_uuid(const char *buf, size_t len, const char *uuid)
{
	const char *p = buf, *end = buf + len;
	bool after_flag = false;
	size_t ulen = strlen(uuid);

	if (ulen == 0)
		return false;
	while (p < end) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		size_t l = nul ? (size_t)(nul - p) : (size_t)(end - p);

		if (after_flag && l == ulen && strncasecmp(p, uuid, ulen) == 0)
			return true;
		after_flag = l == 5 && memcmp(p, "-uuid", 5) == 0;
		p += l + 1;
	}
	return false;
}

int hv_proc_comm_vcpu(const char *comm, size_t len, int *ret_vcpu)
{
	static const char all[] = "ALL CPUs/";
	unsigned long n = 0;
	size_t i = 4;

	while (len > 0 && (comm[len - 1] == '\n' || comm[len - 1] == '\0'))
		len--;
	if (len >= sizeof(all) - 1 && memcmp(comm, all, sizeof(all) - 1) == 0) {
		*ret_vcpu = HV_PROC_ALL_VCPUS;
		return 0;
	}
	if (len < 6 || memcmp(comm, "CPU ", 4) != 0)
		return -ENOENT;
	if (!isdigit((unsigned char)comm[i]))
		return -ENOENT;
	for (; i < len && isdigit((unsigned char)comm[i]); i++) {
		n = n * 10 + (unsigned long)(comm[i] - '0');
		if (n >= HV_MAX_VCPUS * 16)
			return -ENOENT;
	}
	/* the accelerator name follows; a bare "CPU 3" is not QEMU's */
	if (i + 1 >= len || comm[i] != '/')
		return -ENOENT;
	*ret_vcpu = (int)n;
	return 0;
}

static bool pid_matches(const char *proc_root, int32_t pid, const char *uuid)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;

	if (asprintf(&path, "%s/%d/cmdline", proc_root, (int)pid) < 0)
		return false;
	if (util_file_read(path, PROC_CMDLINE_MAX_BYTES, &buf, &len) < 0)
		return false;
	return hv_proc_cmdline_has_uuid(buf, len, uuid);
}

static int32_t pid_from_file(const char *proc_root, const char *pid_dir, const struct hv_vm *vm)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	int64_t pid;

	if (!pid_dir || !pid_dir[0] || !vm->name[0] || strchr(vm->name, '/') ||
	    strcmp(vm->name, ".") == 0 || strcmp(vm->name, "..") == 0)
		return 0;
	if (asprintf(&path, "%s/%s.pid", pid_dir, vm->name) < 0)
		return 0;
	if (util_file_read(path, PROC_SMALL_MAX_BYTES, &buf, NULL) < 0)
		return 0;
	if (util_parse_i64(buf, &pid) < 0 || pid <= 0 || pid > INT32_MAX)
		return 0;
	/* a stale file may name a recycled pid: trust only the command line */
	if (!pid_matches(proc_root, (int32_t)pid, vm->uuid))
		return 0;
	return (int32_t)pid;
}

static bool is_pid_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int hv_proc_find_pids(const char *proc_root, const char *pid_dir, struct hv_vm *vms, size_t n)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	size_t missing = 0;

	for (size_t i = 0; i < n; i++) {
		if (vms[i].qemu_pid > 0)
			continue;
		vms[i].qemu_pid = pid_from_file(proc_root, pid_dir, &vms[i]);
		if (vms[i].qemu_pid <= 0)
			missing++;
	}
	if (missing == 0)
		return 0;

	d = opendir(proc_root);
	if (!d)
		return -errno;
	while (missing > 0 && (de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *buf = NULL;
		size_t len;
		long pid;

		if (!is_pid_name(de->d_name))
			continue;
		pid = strtol(de->d_name, NULL, 10);
		if (pid <= 0 || pid > INT32_MAX)
			continue;
		if (asprintf(&path, "%s/%s/cmdline", proc_root, de->d_name) < 0)
			return -ENOMEM;
		/* processes come and go while we scan: skip what vanished */
		if (util_file_read(path, PROC_CMDLINE_MAX_BYTES, &buf, &len) < 0 || len == 0)
			continue;
		for (size_t i = 0; i < n; i++) {
			if (vms[i].qemu_pid > 0 || !hv_proc_cmdline_has_uuid(buf, len, vms[i].uuid))
				continue;
			vms[i].qemu_pid = (int32_t)pid;
			missing--;
			break;
		}
	}
	return (int)missing;
}

int hv_proc_read_vcpu_tids(const char *proc_root, struct hv_vm *vm)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ char *task_dir = NULL;
	int32_t tids[HV_MAX_VCPUS] = { 0 };
	int32_t all_tid = 0;
	uint32_t nr = 0;
	struct dirent *de;

	if (vm->qemu_pid <= 0)
		return -ESRCH;
	if (asprintf(&task_dir, "%s/%d/task", proc_root, (int)vm->qemu_pid) < 0)
		return -ENOMEM;
	d = opendir(task_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *path = NULL, *comm = NULL;
		size_t len;
		long tid;
		int vcpu;

		if (!is_pid_name(de->d_name))
			continue;
		tid = strtol(de->d_name, NULL, 10);
		if (tid <= 0 || tid > INT32_MAX)
			continue;
		if (asprintf(&path, "%s/%s/comm", task_dir, de->d_name) < 0)
			return -ENOMEM;
		if (util_file_read(path, PROC_SMALL_MAX_BYTES, &comm, &len) < 0)
			continue;
		if (hv_proc_comm_vcpu(comm, len, &vcpu) < 0)
			continue;
		if (vcpu == HV_PROC_ALL_VCPUS) {
			all_tid = (int32_t)tid;
			continue;
		}
		if (vcpu >= HV_MAX_VCPUS)
			continue;
		tids[vcpu] = (int32_t)tid;
		if ((uint32_t)vcpu + 1 > nr)
			nr = (uint32_t)vcpu + 1;
	}

	/* single-threaded TCG runs every vCPU on one thread */
	if (nr == 0 && all_tid > 0) {
		nr = vm->nr_vcpus ? vm->nr_vcpus : 1;
		if (nr > HV_MAX_VCPUS)
			nr = HV_MAX_VCPUS;
		for (uint32_t i = 0; i < nr; i++)
			tids[i] = all_tid;
	}
	memcpy(vm->vcpu_tids, tids, sizeof(tids));
	vm->nr_vcpu_tids = nr;
	return 0;
}

int hv_proc_read_cgroups(const char *proc_root, struct hv_vm *vm)
{
	_cleanup_free_ char *path = NULL, *buf = NULL;
	size_t len;
	int r;

	if (vm->qemu_pid <= 0)
		return -ESRCH;
	if (asprintf(&path, "%s/%d/cgroup", proc_root, (int)vm->qemu_pid) < 0)
		return -ENOMEM;
	r = util_file_read(path, PROC_CGROUP_MAX_BYTES, &buf, &len);
	if (r < 0)
		return r;
	return hv_proc_cgroup_parse(buf, len, vm);
}
