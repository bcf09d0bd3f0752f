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
 */
#ifndef PRESCIENT_TESTS_FAKE_STATE_H
#define PRESCIENT_TESTS_FAKE_STATE_H

#include <stdint.h>

#include "state.h"

#define FAKE_UUID_WEB1 "11111111-2222-3333-4444-555555555555"
#define FAKE_UUID_DB2  "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"

/* now_usec: CLOCK_MONOTONIC at which the samples are "fresh". NULL on ENOMEM. */
struct state_snapshot *fake_snapshot_new(uint64_t now_usec);

/* A state with the fake snapshot published; the caller must be a registered thread. */
int fake_state_new(struct state **ret);

#endif
