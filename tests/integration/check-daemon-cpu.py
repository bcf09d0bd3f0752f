#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Checks the trace recorded by test-daemon-cpu.sh against what prescientd
must do; prints every figure and exits 1 on the first group that fails.

Phases of the default pattern: 1 idle, 2 ramp up, 3 hold, 4 drop, 5 idle.
"""
import csv
import json
import os
import statistics
import sys

trace, pattern, log, state_dir, status = sys.argv[1:6]
rows = list(csv.DictReader(open(trace)))
failures = []


def num(r, k):
    v = r.get(k, "")
    return float(v) if v not in ("", "None") else None


def alloc(r):
    q, p = num(r, "libvirt_quota_us"), num(r, "libvirt_period_us")
    if q is None or not p or q < 0:
        return None
    return q / p


def phase_rows(n, skip=0):
    """Rows of phase n, leaving out its first skip seconds."""
    sel = [r for r in rows if r["phase"] == str(n)]
    if not sel:
        return sel
    t0 = float(sel[0]["t"])
    return [r for r in sel if float(r["t"]) >= t0 + skip]


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def values(sel, f):
    return [v for v in (f(r) for r in sel) if v is not None]


print(f"{len(rows)} rows, pattern {pattern}")

# 1. The collected CPU follows the pattern.
idle = values(phase_rows(1, skip=20), lambda r: num(r, "used_cores"))
hold = values(phase_rows(3, skip=5), lambda r: num(r, "used_cores"))
idle_after = values(phase_rows(5, skip=20), lambda r: num(r, "used_cores"))
check(len(idle) >= 5 and len(hold) >= 5, f"enough samples: idle {len(idle)}, hold {len(hold)}")
if idle and hold and idle_after:
    mi, mh, ma = statistics.mean(idle), statistics.mean(hold), statistics.mean(idle_after)
    print(f"     collected CPU: idle {mi:.2f}, hold {mh:.2f}, idle after {ma:.2f} cores")
    check(mh >= 0.5, f"held load measured at {mh:.2f} >= 0.5 cores (guest burns 90 % of a vCPU)")
    check(mh >= 2.5 * max(mi, 0.05), "held load at least 2.5x the idle load")
    check(ma <= 0.5 * mh, "load measured low again after the drop")

# 2. The forecast's intervals cover the ramp. Replayed from the VM's JSON
#    taken at every poll: each forecast (its origin is known from its age)
#    is compared with what then happened, the mean CPU of the samples of the
#    step it forecast, exactly what the daemon forecasts. The ramp's first
#    10 s (five 2 s steps) are left out: a change of slope after a flat
#    series is not predictable from the series, and every forecaster needs a
#    few steps to see the trend.
polls = [json.loads(line) for line in open(trace + ".jsonl")]
samples = {}
forecasts = {}
ramp_t0 = ramp_t1 = None
for p in polls:
    vm = p["vm"]
    ss = [x for x in vm.get("samples") or [] if x.get("cpu_cores") is not None]
    for x in ss:
        samples[x["wall_usec"] / 1e6] = x["cpu_cores"]
    if p["phase"] == "2" and ramp_t0 is None:
        ramp_t0 = p["poll_wall"]
    if p["phase"] == "3" and ramp_t1 is None:
        ramp_t1 = p["poll_wall"]
    fc = (vm.get("forecast") or {}).get("cpu") or {}
    if not ss or not fc.get("valid") or fc.get("age_sec") is None:
        continue
    now = ss[-1]["wall_usec"] / 1e6 + ss[-1]["age_sec"]
    forecasts[round(now - fc["age_sec"], 1)] = fc
times = sorted(samples)


def step_mean(t0, t1):
    v = [samples[t] for t in times if t0 < t <= t1]
    return sum(v) / len(v) if v else None


def band(point, level):
    for iv in point.get("intervals", []):
        if abs(iv["level"] - level) < 1e-6:
            return iv["lo"], iv["hi"]
    return None, None


hits = {0.80: 0, 0.95: 0}
lead_hits = n_eval = 0
TOL = 0.02  # cores: the noise of a 1 s CFS reading under TCG
for origin, fc in sorted(forecasts.items()):
    if ramp_t0 is None or ramp_t1 is None or not (ramp_t0 + 10 <= origin < ramp_t1):
        continue
    step = fc["step_sec"]
    pts = fc["points"]
    actual = [step_mean(origin + h * step - step + 0.3, origin + h * step + 0.3)
              for h in (1, 2, 3)]
    if actual[0] is None or len(pts) < 3:
        continue
    n_eval += 1
    for level in hits:
        lo, hi = band(pts[0], level)
        hits[level] += lo - TOL <= actual[0] <= hi + TOL
    lead_hi = max(band(p_, 0.95)[1] for p_ in pts[:3])
    lead_hits += max(a for a in actual if a is not None) <= lead_hi + TOL
check(n_eval >= 6, f"{n_eval} forecasts made during the ramp, after its onset")
if n_eval:
    c95, c80, cl = hits[0.95] / n_eval, hits[0.80] / n_eval, lead_hits / n_eval
    print(f"     ramp coverage: 80 % interval {c80:.0%}, 95 % interval {c95:.0%}, "
          f"95 % bound over the lead time {cl:.0%} ({n_eval} forecasts)")
    check(c95 >= 0.8, f"the 95 % interval held the next step's CPU in {c95:.0%} of the ramp (>= 80 %)")
    # Reported, not asserted: three steps ahead on a ramp the errors are
    # correlated, and this figure swung between 67 % and 83 % over runs. What
    # the plan makes of it is asserted below: raised before the peak.

# 2b. While held, the daemon's CPU agrees with libvirt's own counter.
held = [p for p in polls if p["phase"] == "3" and p.get("libvirt_cpu_ns")]
if len(held) >= 2:
    p0, p1 = held[0], held[-1]
    lv = (p1["libvirt_cpu_ns"] - p0["libvirt_cpu_ns"]) / 1e9 / (p1["poll_wall"] - p0["poll_wall"])
    ours = step_mean(p0["poll_wall"], p1["poll_wall"])
    srcs = {s_ for x in p1["vm"].get("samples") or [] for s_ in x.get("sources") or []}
    print(f"     while held: {ours:.3f} cores from the daemon ({', '.join(sorted(srcs))}), "
          f"{lv:.3f} from libvirt's cpu.time")
    check(ours is not None and abs(ours - lv) <= 0.1 * lv,
          "the daemon's CPU agrees with libvirt's cpu.time within 10 %")
else:
    check(False, "libvirt's cpu.time read while held")

# 3. The allocation, read back from libvirt, was raised before the peak
#    and lowered after; the cgroup file agrees with libvirt.
def last_seconds(sel, sec):
    return [r for r in sel if sel and float(r["t"]) >= float(sel[-1]["t"]) - sec]


a_idle = values(last_seconds(phase_rows(1), 10), alloc)
a_ramp = values(phase_rows(2), alloc)
a_hold = values(phase_rows(3), alloc)
a_end = values(last_seconds(phase_rows(5), 10), alloc)
check(bool(a_idle and a_ramp and a_hold and a_end), "allocation read back from libvirt in every phase")
if a_idle and a_ramp and a_hold and a_end:
    low, peak, top, end = statistics.median(a_idle), max(a_ramp), max(a_hold), min(a_end)
    print(f"     allocation (libvirt): idle {low:.2f}, max in ramp {peak:.2f}, "
          f"max in hold {top:.2f}, end {end:.2f} cores")
    check(low <= 0.6, f"idle allocation {low:.2f} is small (<= 0.6 cores)")
    # What the guest asked for while held: what it used plus the time its
    # vCPU waited to run (contention from the rest of the machine).
    demand = values(phase_rows(3, skip=5),
                    lambda r: (num(r, "used_cores") or 0) + (num(r, "steal_cores") or 0)
                    if num(r, "used_cores") is not None else None)
    need = statistics.median(demand) if demand else 0.9
    print(f"     demand while held (used + waiting): {need:.2f} cores")
    check(peak >= low + 0.2 and peak >= 0.7 * need,
          f"raised to {peak:.2f} cores before the ramp's peak (>= idle + 0.2 and >= 70 % of "
          f"the held demand {need:.2f})")
    check(end <= 0.6 * top, f"lowered to {end:.2f} after the load dropped (<= 60 % of {top:.2f})")
pairs = [(num(r, "libvirt_quota_us"), num(r, "cgroup_quota_us")) for r in rows]
pairs = [(lq, cq) for lq, cq in pairs if lq is not None and cq is not None]
same = sum(1 for lq, cq in pairs if lq == cq)
check(len(pairs) >= 30 and same >= 0.9 * len(pairs),
      f"cgroup cpu.cfs_quota_us equals libvirt's global_quota in {same}/{len(pairs)} samples")
raised = [r for r in pairs if r[1] > 0]
check(len(raised) > 0, "the cgroup file shows a finite quota set by prescient")

# 4. libvirtd restart: reconnected, the VM never lost, sampling went on.
started = next((i for i, r in enumerate(rows) if int(r["n_samples"] or 0) > 0), None)
check(started is not None, "the daemon saw the VM")
if started is not None:
    lost = [r["t"] for r in rows[started:] if int(r["n_samples"] or 0) == 0]
    check(not lost, f"the VM was listed at every second after it was first seen (missing at {lost[:5]})")
rec = [num(r, "reconnects") for r in rows if num(r, "reconnects") is not None]
check(bool(rec) and max(rec) >= 1, f"the daemon reconnected to libvirtd ({max(rec) if rec else 0} times)")

# 5. Clean stop with checkpoints.
check(status == "0", f"prescientd exited 0 on SIGTERM (got {status})")
ckpt = os.path.join(state_dir, "forecast")
files = os.listdir(ckpt) if os.path.isdir(ckpt) else []
check(any(f.endswith(".cpu.ckpt") for f in files), f"forecaster checkpoints written: {sorted(files)[:3]}")

sys.exit(1 if failures else 0)
