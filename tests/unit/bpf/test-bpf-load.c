// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Loads and attaches every probe on the running kernel: each probe whose
 * tracepoints exist must load and every one of its programs must attach;
 * the status must name each probe. Needs root (skips otherwise).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "bpf_internal.h"
#include "log.h"
#include "tap.h"

static bool kernel_has_kvm_exit(void)
{
	struct collect_bpf_features *f = NULL;
	bool has;

	if (collect_bpf_features_probe(&f) < 0)
		return false;
	has = collect_bpf_features_has_tracepoint(f, "kvm_exit");
	collect_bpf_features_free(f);
	return has;
}

int main(void)
{
	struct collect_bpf *b = NULL;
	size_t loaded = 0;
	int r;

	if (geteuid() != 0)
		test_skip("loading BPF programs needs root");
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0)
		test_skip("no kernel BTF");
	log_set_max_level(LOG_DEBUG);

	r = collect_bpf_open(&b);
	check_int_eq(r, 0);
	if (r < 0) {
		fprintf(stderr, "status: %s\n", collect_bpf_status(NULL));
		return test_result();
	}
	fprintf(stderr, "status: %s\n", collect_bpf_status(b));

	/*
	 * Every probe whose tracepoints this kernel has must load (kvm_exit
	 * exists only with kvm loaded; the rest are in every kernel since 5.x),
	 * and each of its enabled programs must be loaded.
	 */
	for (size_t i = 0; i < collect_bpf_nr_objects(b); i++) {
		struct bpf_object *obj;
		struct bpf_program *prog;
		const char *name;

		r = collect_bpf_object_get(b, i, &name, &obj);
		if (r < 0)
			continue;
		loaded++;
		bpf_object__for_each_program(prog, obj)
		{
			if (!bpf_program__autoload(prog))
				continue;
			fprintf(stderr, "%s/%s fd %d\n", name, bpf_program__name(prog),
				bpf_program__fd(prog));
			check(bpf_program__fd(prog) >= 0);
		}
	}
	check(strstr(collect_bpf_status(b), "cpu: on"));
	check(strstr(collect_bpf_status(b), "disk: on"));
	check(strstr(collect_bpf_status(b), "net: on"));
	check(strstr(collect_bpf_status(b), "mem: on"));
	check_int_eq(loaded, 4 + kernel_has_kvm_exit());
	check(strstr(collect_bpf_status(b), kernel_has_kvm_exit() ? "kvm: on" : "kvm: off"));

	/* Nothing tracked yet: reads of an unknown index fail cleanly. */
	struct collect_bpf_vm vm;
	check_int_eq(collect_bpf_read_vm(b, 0, &vm), -ENOENT);

	collect_bpf_close(b);
	return test_result();
}
