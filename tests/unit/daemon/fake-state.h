/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A hand-built state snapshot for the API, prescientctl and hook tests: two
 * VMs with known values, so responses and tables can be checked exactly.
 *
 *   web1  11111111-2222-3333-4444-555555555555  running, 4 vCPUs, 2 GiB,
 *         3 samples (last: 1.5 cores, 1 GiB, 2 MiB/s read, 512 KiB/s rx),
 *         CPU forecast (holt, 3 steps), CPU managed at 2.25 cores,
 *         model holt set for this VM, metric "tps" (last 1250, step values
 *         1000, null, 1200; holt forecast 1300, 1400)
 *   db-2  aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee  paused, 2 vCPUs, 1 GiB,
 *         no samples and no forecast (everything null), model auto,
 *         STATE_METRICS_MAX metrics m0..m7 without values (full)
 *   pool  8 CPUs online (0-7), machine.slice 2-7 from its cpuset (6 cores,
 *         2.25 reserved by web1), nodes 0 (0-3) and 1 (4-7), 16 GiB memory,
 *         12 GiB available, 3 GiB reserved (web1 2 GiB, db-2 1 GiB);
 *         hugepages 2 MiB: node0 512/500 free, node1 256/256; 1 GiB: node0
 *         2/1; read 5 s before now
 *   ledger (fake_ledger_new/fill, below) over the same CPUs and memory
 */
#ifndef PRESCIENT_TESTS_FAKE_STATE_H
#define PRESCIENT_TESTS_FAKE_STATE_H

#include <stdint.h>

#include "lease.h"
#include "state.h"

#define FAKE_UUID_WEB1 "11111111-2222-3333-4444-555555555555"
#define FAKE_UUID_DB2  "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

/* now_usec: CLOCK_MONOTONIC at which the samples are "fresh". NULL on ENOMEM. */
struct state_snapshot *fake_snapshot_new(uint64_t now_usec);

/* A state with the fake snapshot published; the caller must be a registered thread. */
int fake_state_new(struct state **ret);

/*
 * An empty reservation ledger (generation 1) over a pool like the fake
 * snapshot's:
 *   cpu                     6 cores (machine.slice 2-7 of 8), risk bound 0.05
 *   mem                     16 GiB, 2 GiB kept for the host, no overcommit
 *   net:eth0                1000000 kbit/s, risk bound 0.01
 *   hugepages-2048kB:node0  512 pages, no overcommit
 */
int fake_ledger_new(struct ledger **ret);

/*
 * Two leases at now_usec (realtime):
 *   1  web1's (kind vm, FAKE_UUID_WEB1), burstable, active, open-ended:
 *      cpu mean 1.5 sd 0.3 upper 2.1; mem 2 GiB (held whole: no overcommit)
 *   2  "mig-7" (kind migration), guaranteed, confirmed, ends in 2 hours:
 *      cpu 2 cores, pinned 6-7, mem 4 GiB
 * Returns the ledger's generation after them.
 */
int fake_ledger_fill(struct ledger *l, uint64_t now_usec, uint64_t *ret_generation);

#endif
