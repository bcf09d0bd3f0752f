#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""One CSV row of test-daemon-cpu.sh's trace from prescientctl's JSON.

Arguments: phase, seconds, libvirt quota, libvirt period, cgroup quota,
cgroup period, `prescientctl --json vm` output, `prescientctl --json status`,
a file to which the VM's JSON is appended as one line (the samples and
forecasts the check replays), and libvirt's cpu.time of the VM (ns).
"""
import json
import sys
import time


def load(text):
    """prescientctl --json prints the daemon's data object itself."""
    try:
        obj = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    return obj.get("data", obj) if isinstance(obj, dict) else {}


phase, t, lq, lp, cq, cp, vm, st, jsonl, libvirt_cpu_ns = sys.argv[1:11]
vm, st = load(vm), load(st)
if vm:
    with open(jsonl, "a") as f:
        f.write(json.dumps({"phase": phase, "poll_wall": time.time(), "vm": vm,
                            "libvirt_cpu_ns": int(libvirt_cpu_ns) if libvirt_cpu_ns else None})
                + "\n")
samples = vm.get("samples") or []
used = samples[-1].get("cpu_cores") if samples else None
steal = samples[-1].get("cpu_steal_cores") if samples else None
res = vm.get("cpu_reservation") or {}
fc = (vm.get("forecast") or {}).get("cpu") or {}
pts = fc.get("points") or []
hi95 = None
if pts:
    for iv in pts[0].get("intervals", []):
        if abs(iv.get("level", 0) - 0.95) < 1e-6:
            hi95 = iv.get("hi")
rec = (st.get("libvirt") or {}).get("reconnects")
vals = [t, phase, used, res.get("cores"), res.get("demand_upper_cores"), hi95,
        lq, lp, cq, cp, len(samples), rec, steal]
print(",".join("" if v is None else str(v) for v in vals))
