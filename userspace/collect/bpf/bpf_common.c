// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * What the skeleton owners share: kernel feature probing (is there BTF, does
 * each tracepoint exist, in vmlinux or a module such as kvm), the steps
 * between opening and loading a skeleton, and per-CPU map arithmetic.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "bpf_internal.h"
#include "cleanup.h"
#include "log.h"

#define BTF_SYSFS "/sys/kernel/btf"

struct collect_bpf_features {
	struct btf *vmlinux;
	struct btf **modules;
	size_t nr_modules;
};

void collect_bpf_features_free(struct collect_bpf_features *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->nr_modules; i++)
		btf__free(f->modules[i]);
	free(f->modules);
	btf__free(f->vmlinux);
	free(f);
}

DEFINE_TRIVIAL_CLEANUP_FUNC(struct collect_bpf_features *, collect_bpf_features_free);
DEFINE_TRIVIAL_CLEANUP_FUNC(DIR *, closedir);

static int features_add_modules(struct collect_bpf_features *f)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;

	d = opendir(BTF_SYSFS);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		char path[512];
		struct btf **m, *btf;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "vmlinux") == 0)
			continue;
		snprintf(path, sizeof(path), BTF_SYSFS "/%s", de->d_name);
		btf = btf__parse_split(path, f->vmlinux);
		if (!btf) {
			log_debug_errno(-errno, "bpf: cannot read BTF of module %s, ignoring: %m",
					de->d_name);
			continue;
		}
		m = realloc(f->modules, (f->nr_modules + 1) * sizeof(*m));
		if (!m) {
			btf__free(btf);
			return -ENOMEM;
		}
		f->modules = m;
		f->modules[f->nr_modules++] = btf;
	}
	return 0;
}

int collect_bpf_features_probe(struct collect_bpf_features **ret)
{
	_cleanup_(collect_bpf_features_freep) struct collect_bpf_features *f = NULL;
	int r;

	if (access(BTF_SYSFS "/vmlinux", R_OK) < 0)
		return log_debug_errno(errno == ENOENT ? EOPNOTSUPP : errno,
				       "bpf: no kernel BTF at " BTF_SYSFS "/vmlinux: %m");
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->vmlinux = btf__parse(BTF_SYSFS "/vmlinux", NULL);
	if (!f->vmlinux)
		return log_debug_errno(-errno, "bpf: cannot parse kernel BTF: %m");
	r = features_add_modules(f);
	if (r < 0)
		log_debug_errno(r, "bpf: cannot list module BTF, ignoring: %m");
	*ret = TAKE_PTR(f);
	return 0;
}

bool collect_bpf_features_has_tracepoint(const struct collect_bpf_features *f, const char *tp)
{
	char name[128];

	/* tp_btf programs attach through this typedef; it exists iff the tracepoint does. */
	snprintf(name, sizeof(name), "btf_trace_%s", tp);
	if (btf__find_by_name_kind(f->vmlinux, name, BTF_KIND_TYPEDEF) >= 0)
		return true;
	for (size_t i = 0; i < f->nr_modules; i++)
		if (btf__find_by_name_kind(f->modules[i], name, BTF_KIND_TYPEDEF) >= 0)
			return true;
	return false;
}

static void note_append(char *note, size_t note_len, const char *what)
{
	size_t l = strlen(note);

	if (l < note_len)
		snprintf(note + l, note_len - l, "%s%s", l ? ", " : "without ", what);
}

int collect_bpf_object_prepare(struct bpf_object *obj, const struct collect_bpf_shared *sh,
			       char *note, size_t note_len)
{
	struct bpf_program *prog;
	struct bpf_map *map;
	int on = 0, r;

	bpf_object__for_each_map(map, obj)
	{
		const char *name = bpf_map__name(map);
		int fd = -1;

		if (strcmp(name, "tracked_tgids") == 0)
			fd = sh->tgids_fd;
		else if (strcmp(name, "tracked_vcpus") == 0)
			fd = sh->vcpus_fd;
		else if (strcmp(name, "tracked_netdevs") == 0)
			fd = sh->netdevs_fd;
		if (fd < 0)
			continue;
		r = bpf_map__reuse_fd(map, fd);
		if (r < 0)
			return log_debug_errno(r, "bpf: cannot share map %s: %m", name);
	}

	bpf_object__for_each_program(prog, obj)
	{
		const char *sec = bpf_program__section_name(prog);

		if (strncmp(sec, "tp_btf/", 7) == 0 &&
		    !collect_bpf_features_has_tracepoint(sh->features, sec + 7)) {
			bpf_program__set_autoload(prog, false);
			note_append(note, note_len, sec + 7);
			continue;
		}
		on++;
	}
	return on;
}

bool collect_bpf_object_prog_enabled(struct bpf_object *obj, const char *prog)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, prog);

	return p && bpf_program__autoload(p);
}

void collect_bpf_object_prog_disable(struct bpf_object *obj, const char *prog)
{
	struct bpf_program *p = bpf_object__find_program_by_name(obj, prog);

	if (p)
		bpf_program__set_autoload(p, false);
}

static int percpu_buffer(size_t n_u64, uint64_t **ret, int *ret_ncpus)
{
	int ncpus = libbpf_num_possible_cpus();
	uint64_t *buf;

	if (ncpus <= 0)
		return ncpus < 0 ? ncpus : -EINVAL;
	buf = calloc((size_t)ncpus * n_u64, sizeof(uint64_t));
	if (!buf)
		return -ENOMEM;
	*ret = buf;
	*ret_ncpus = ncpus;
	return 0;
}

int collect_bpf_percpu_sum(int map_fd, uint32_t key, uint64_t *ret_sum, size_t n_u64)
{
	_cleanup_free_ uint64_t *buf = NULL;
	int ncpus, r;

	r = percpu_buffer(n_u64, &buf, &ncpus);
	if (r < 0)
		return r;
	if (bpf_map_lookup_elem(map_fd, &key, buf) < 0)
		return -errno;
	for (size_t j = 0; j < n_u64; j++) {
		uint64_t s = 0;

		for (int c = 0; c < ncpus; c++)
			s += buf[(size_t)c * n_u64 + j];
		ret_sum[j] = s;
	}
	return 0;
}

int collect_bpf_percpu_clear(int map_fd, uint32_t key, size_t n_u64)
{
	_cleanup_free_ uint64_t *buf = NULL;
	int ncpus, r;

	r = percpu_buffer(n_u64, &buf, &ncpus);
	if (r < 0)
		return r;
	if (bpf_map_update_elem(map_fd, &key, buf, BPF_ANY) < 0)
		return -errno;
	return 0;
}

uint64_t collect_bpf_percpu_stats_total(int map_fd, uint32_t nr)
{
	uint64_t total = 0;

	for (uint32_t k = 0; k < nr; k++) {
		uint64_t v;

		if (collect_bpf_percpu_sum(map_fd, k, &v, 1) == 0)
			total += v;
	}
	return total;
}
