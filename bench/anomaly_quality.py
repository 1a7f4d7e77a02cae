"""Benchmark: how well each anomaly rule finds injected anomalies, and how often it cries wolf.

Generates N synthetic daily series (flat, trending, weekly seasonality, trend + seasonality; noise
~5%), injects spikes and drops (±25-60%) and, in a quarter of the series, a level shift, then judges
every day after a warm-up with Quinto's own `judge_anomaly`, exactly as audits do: a day that FAILs
does not join later baselines (nobody marks it good here).

Reported per rule: recall on spikes/drops, recall on the first day of a level shift, and the
false-positive rate on normal days (days after a level shift are not counted: a shift stays
anomalous until a person marks the new level good, which is the point of `quinto mark`).

    python bench/anomaly_quality.py [--series 120] [--days 120] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
from dataclasses import dataclass, field

from quinto.errors import Location
from quinto.evaluate import Status, judge_anomaly
from quinto.spec.model import Anomaly, Check

RULES = {
    "mean 28d, 3σ": Anomaly(window=28, sigma=3, min_history=7),
    "mean 28d, 3σ calibrated": Anomaly(window=28, sigma=3, min_history=7, calibrate=True),
    "robust 28d, 3 MAD": Anomaly(window=28, sigma=3, min_history=7, method="robust"),
    "same weekday 8w, 3σ": Anomaly(window=8, sigma=3, same_weekday=True, min_history=4),
    "same weekday 8w, 3σ calibrated": Anomaly(window=8, sigma=3, same_weekday=True, min_history=4, calibrate=True),
    "same weekday 12w, 3σ calibrated": Anomaly(window=12, sigma=3, same_weekday=True, min_history=4, calibrate=True),
    "same weekday 8w, robust": Anomaly(window=8, sigma=3, same_weekday=True, min_history=4, method="robust"),
}
KINDS = ("flat", "trend", "weekly", "trend+weekly")
START = dt.date(2026, 1, 5)  # a Monday
WARMUP = 56


@dataclass
class Series:
    kind: str
    values: list[float]
    spikes: set[int] = field(default_factory=set)
    shift_at: int | None = None


def generate(rng: random.Random, kind: str, days: int, with_shift: bool) -> Series:
    base = rng.uniform(1e3, 1e6)
    values = []
    for t in range(days):
        level = base * (1 + (0.004 * t if "trend" in kind else 0))
        if "weekly" in kind and (START + dt.timedelta(days=t)).weekday() >= 5:
            level *= 1.4
        values.append(level * (1 + rng.gauss(0, 0.05)))
    s = Series(kind, values)
    if with_shift:
        s.shift_at = rng.randrange(WARMUP + 20, days - 10)
        factor = rng.choice([0.6, 1.4])
        for t in range(s.shift_at, days):
            s.values[t] *= factor
    candidates = [t for t in range(WARMUP, days) if s.shift_at is None or t < s.shift_at - 1]
    for t in rng.sample(candidates, 3):
        s.values[t] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.25, 0.6)
        s.spikes.add(t)
    return s


def evaluate(series: list[Series], spec: Anomaly) -> dict[str, float]:
    check = Check(key="row_count anomaly", type="row_count", columns=(), location=Location("bench", 1, 1), anomaly=spec)
    tp = fn = fp = tn = shift_found = shifts = 0
    for s in series:
        good: list[tuple[str, float]] = []
        for t, value in enumerate(s.values):
            day = (START + dt.timedelta(days=t)).isoformat()
            failed = judge_anomaly(check, value, good, day).status == Status.FAIL
            if not failed:
                good.append((day, value))
            if t < WARMUP:
                continue
            if s.shift_at is not None and t == s.shift_at:
                shifts += 1
                shift_found += failed
            elif s.shift_at is not None and t > s.shift_at:
                continue
            elif t in s.spikes:
                tp += failed
                fn += not failed
            else:
                fp += failed
                tn += not failed
    return {
        "spike_recall": round(tp / (tp + fn), 3) if tp + fn else float("nan"),
        "shift_recall": round(shift_found / shifts, 3) if shifts else float("nan"),
        "false_positive_rate": round(fp / (fp + tn), 4),
        "anomalies": tp + fn,
        "normal_days": fp + tn,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=int, default=120)
    ap.add_argument("--days", type=int, default=120)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    series = [
        generate(rng, KINDS[i % len(KINDS)], args.days, with_shift=(i // len(KINDS)) % 4 == 3)
        for i in range(args.series)
    ]
    results = {}
    for name, spec in RULES.items():
        results[name] = {"all": evaluate(series, spec)}
        for kind in KINDS:
            results[name][kind] = evaluate([s for s in series if s.kind == kind], spec)
    if args.json:
        print(json.dumps(results))
        return
    print(f"{len(series)} series x {args.days} days (seed {args.seed}); warm-up {WARMUP} days")
    print(f"{'rule':<32} {'series':<13} {'spike recall':>12} {'shift recall':>12} {'FPR':>8}")
    for name, per in results.items():
        for kind, r in per.items():
            print(
                f"{name:<32} {kind:<13} {r['spike_recall']:>12} {r['shift_recall']:>12} {r['false_positive_rate']:>8}"
            )


if __name__ == "__main__":
    main()
