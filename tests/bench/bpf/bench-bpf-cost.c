// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Cost per event of each BPF program, from the kernel's own accounting
 * (kernel.bpf_stats_enabled=1: run_time_ns / run_cnt per program), free of
 * scheduler noise. A child drives every probe twice: untracked (the cost
 * every other task and device on the host pays), then tracked as a VM (the
 * full path; other tasks' events still mix in). Prints
 * "BENCH bpf_event_cost_ns.<program>[.tracked] <ns> ns". Needs root.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>

#include "bpf-test.h"
#include "cleanup.h"

#define PING_PONGS 200000

static int ping[2], pong[2];

static void *ponger(void *arg)
{
	char c;

	for (int i = 0; i < PING_PONGS; i++)
		if (read(ping[0], &c, 1) != 1 || write(pong[1], &c, 1) != 1)
			break;
	return NULL;
}

/* Context switches, wakeups, page faults, disk writes and frames on the veth. */
static void workload(void *arg)
{
	static unsigned char frame[600] = { 0x02, 0, 0, 0, 0,	 0x0b, 0x02,
					    0,	  0, 0, 0, 0x0a, 0x88, 0xb5 };
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	char path[] = "/var/tmp/prescient-bpf-bench.XXXXXX", c = 'x';
	pthread_t t;
	void *buf;
	char *mem;
	int fd;

	if (pipe(ping) < 0 || pipe(pong) < 0)
		_exit(3);
	pthread_create(&t, NULL, ponger, NULL);
	for (int i = 0; i < PING_PONGS; i++)
		if (write(ping[1], &c, 1) != 1 || read(pong[0], &c, 1) != 1)
			break;
	pthread_join(t, NULL);

	mem = mmap(NULL, 32 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem != MAP_FAILED) {
		madvise(mem, 32 << 20, MADV_NOHUGEPAGE);
		for (size_t off = 0; off < (32 << 20); off += 4096)
			mem[off] = 1;
	}

	fd = mkstemp(path);
	if (fd >= 0 && posix_memalign(&buf, 4096, 65536) == 0) {
		close(fd);
		fd = open(path, O_WRONLY | O_DIRECT | O_SYNC);
		for (int i = 0; fd >= 0 && i < 64; i++)
			if (write(fd, buf, 65536) < 0)
				break;
		if (fd >= 0)
			close(fd);
		unlink(path);
	}

	to.sll_ifindex = (int)if_nametoindex("pa");
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	for (int i = 0; fd >= 0 && to.sll_ifindex && i < 20000; i++)
		sendto(fd, frame, sizeof(frame), 0, (struct sockaddr *)&to, sizeof(to));
}

struct prog_stat {
	char name[64];
	int fd;
	uint64_t run_ns, run_cnt;
};

static void prog_stat_read(struct prog_stat *p)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	if (bpf_obj_get_info_by_fd(p->fd, &info, &len) == 0) {
		p->run_ns = info.run_time_ns;
		p->run_cnt = info.run_cnt;
	}
}

int main(void)
{
	struct prog_stat before[32], after[32];
	struct bpf_test_child c;
	struct collect_bpf *b;
	size_t n = 0;
	struct hv_vm hv;
	FILE *f;
	int old_stats = 0;

	bpf_test_require_kernel();
	f = fopen("/proc/sys/kernel/bpf_stats_enabled", "r+e");
	if (!f)
		test_skip("no kernel.bpf_stats_enabled");
	if (fscanf(f, "%d", &old_stats) != 1)
		old_stats = 0;
	rewind(f);
	fputs("1\n", f);
	fflush(f);
	/* A veth pair in a namespace of our own for the network probe. */
	if (unshare(CLONE_NEWNET) == 0)
		(void)!system(
			"ip link add pa address 02:00:00:00:00:0a type veth peer name pb "
			"address 02:00:00:00:00:0b && ip link set pa up && ip link set pb up");

	b = bpf_test_open();
	for (size_t i = 0; i < collect_bpf_nr_objects(b); i++) {
		struct bpf_program *prog;
		struct bpf_object *obj;
		const char *name;

		if (collect_bpf_object_get(b, i, &name, &obj) < 0)
			continue;
		bpf_object__for_each_program(prog, obj)
		{
			if (!bpf_program__autoload(prog) || n >= ARRAY_SIZE(before))
				continue;
			snprintf(before[n].name, sizeof(before[n].name), "%s",
				 bpf_program__name(prog));
			before[n].fd = bpf_program__fd(prog);
			n++;
		}
	}

	/* First untracked (what every other task on the host pays), then as a VM. */
	for (int tracked = 0; tracked < 2; tracked++) {
		c = bpf_test_child_fork(workload, NULL);
		bpf_test_vm(&hv, "bench", c.pid, c.pid);
		snprintf(hv.taps[0], HV_IFNAME_MAX, "pa");
		hv.nr_taps = 1;
		check_int_eq(collect_bpf_set_vms(b, &hv, tracked), 0);
		for (size_t i = 0; i < n; i++)
			prog_stat_read(&before[i]);
		bpf_test_child_go(&c);
		bpf_test_child_wait(&c);
		for (size_t i = 0; i < n; i++) {
			after[i] = before[i];
			prog_stat_read(&after[i]);
			uint64_t cnt = after[i].run_cnt - before[i].run_cnt;
			uint64_t ns = after[i].run_ns - before[i].run_ns;

			if (cnt == 0) {
				fprintf(stderr, "%s: no events\n", before[i].name);
				continue;
			}
			fprintf(stderr, "%s%s: %llu events\n", before[i].name,
				tracked ? " (tracked)" : "", (unsigned long long)cnt);
			printf("BENCH bpf_event_cost_ns.%s%s %.1f ns\n", before[i].name,
			       tracked ? ".tracked" : "", (double)ns / cnt);
		}
	}

	collect_bpf_close(b);
	rewind(f);
	fprintf(f, "%d\n", old_stats);
	fclose(f);
	return test_result();
}
