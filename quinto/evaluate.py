"""Judging values: thresholds, change vs the previous good partition, anomaly vs history.
Pure functions: values in, verdicts out; no I/O."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any

from quinto.spec.grammar import Condition
from quinto.spec.model import Anomaly, Check


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"

    @property
    def rank(self) -> int:
        return {"PASS": 0, "WARN": 1, "FAIL": 2, "ERROR": 3}[self.value]


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str
    judged: float | None = None  # the number compared (the value, or its change)
    low: float | None = None  # the band of passing values, when one exists
    high: float | None = None


def worst(statuses: Sequence[Status]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.PASS)


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "NULL"
    if unit == "s":
        return format_duration(x)
    text = (
        f"{x:.6g}"
        if isinstance(x, float) and not float(x).is_integer()
        else f"{int(x)}"
        if math.isfinite(x)
        else str(x)
    )
    return text + ("%" if unit == "%" else "")


def format_duration(seconds: float) -> str:
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s >= 86400 and s % 86400 == 0:
        return f"{sign}{s / 86400:g}d"
    if s >= 3600:
        return f"{sign}{s / 3600:.3g}h"
    if s >= 60:
        return f"{sign}{s / 60:.3g}m"
    return f"{sign}{s:.3g}s"


def threshold_text(check: Check) -> str:
    parts = []
    if check.condition is not None:
        parts.append(("change " if check.change else "") + check.condition.text)
    if check.warn is not None:
        parts.append(f"warn when {check.warn.text}")
    if check.fail is not None:
        parts.append(f"fail when {check.fail.text}")
    if check.anomaly is not None:
        a = check.anomaly
        center = "median ± {s}·MAD" if a.method == "robust" else "mean ± {s}σ"
        if a.calibrate:
            center += " (calibrated)"
        parts.append(
            f"{center.format(s=f'{a.sigma:g}')} of last {a.window}"
            + (" same-weekday" if a.same_weekday else "")
            + " good partitions"
        )
    return "; ".join(parts)


def judge_levels(check: Check, x: float, unit: str = "") -> Verdict:
    """Threshold judgement of an already-computed number."""
    status, reasons = Status.PASS, []
    low = high = None
    if check.condition is not None:
        low, high = check.condition.bounds()
        if not check.condition.holds(x):
            status = Status.WARN if check.severity == "warn" else Status.FAIL
            reasons.append(f"{fmt(x, unit)} is not {check.condition.text}")
    if check.warn is not None and check.warn.holds(x) and status.rank < Status.WARN.rank:
        status = Status.WARN
        reasons.append(f"{fmt(x, unit)} is {check.warn.text} (warn)")
    if check.fail is not None and check.fail.holds(x):
        status = Status.FAIL
        reasons.append(f"{fmt(x, unit)} is {check.fail.text} (fail)")
    if check.condition is None and check.fail is not None and check.fail.op not in ("between", "not between"):
        # a `fail: > 10` alone means values up to 10 pass
        low, high = _complement(check.fail)
    return Verdict(status, "; ".join(reasons) or f"{fmt(x, unit)} ok", x, low, high)


def _complement(cond: Condition) -> tuple[float | None, float | None]:
    v = cond.values[0].number
    if cond.op in (">", ">="):
        return None, v
    if cond.op in ("<", "<="):
        return v, None
    return None, None


def judge_change(check: Check, value: float, previous: float | None, previous_partition: str | None) -> Verdict:
    if previous is None:
        return Verdict(Status.WARN, "needs history: no earlier good partition to compare with")
    assert check.condition is not None
    relative = "%" in check.condition.units
    if relative:
        if previous == 0:
            return Verdict(
                Status.WARN, f"previous partition {previous_partition} has 0; a relative change is undefined"
            )
        change = 100.0 * (value - previous) / abs(previous)
    else:
        change = value - previous
    v = judge_levels(check, change, "%" if relative else "")
    msg = f"{fmt(value)} vs {fmt(previous)} on {previous_partition}: change {fmt(change, '%' if relative else '')}"
    if v.status != Status.PASS:
        msg += f", not {check.condition.text}"
    return Verdict(v.status, msg, change, v.low, v.high)


def partition_order(partition_type: str = "string") -> Callable[[str], Any]:
    """How partitions sort: as numbers for `partition_type: integer` (9 before 10), else as text
    (ISO dates and times sort correctly as text)."""
    if partition_type != "integer":
        return lambda p: p
    return lambda p: (0, int(p), "") if p.lstrip("-").isdigit() else (1, 0, p)


def baseline(
    history: Sequence[tuple[str, float]], partition: str, spec: Anomaly, order: Callable[[str], Any] | None = None
) -> list[float]:
    """The values the anomaly rule learns from: the last `window` entries of `history`
    (partition, value) strictly before `partition`, same weekday only when asked."""
    key = order or partition_order()
    here = key(partition)
    earlier = sorted(((p, v) for p, v in history if key(p) < here and v is not None), key=lambda pv: key(pv[0]))
    if spec.same_weekday:
        day = _weekday(partition)
        earlier = [(p, v) for p, v in earlier if day is not None and _weekday(p) == day]
    return [v for _, v in earlier[-spec.window :]]


def _weekday(partition: str) -> int | None:
    if len(partition) == 8 and partition.isdigit():  # a YYYYMMDD date integer
        partition = f"{partition[:4]}-{partition[4:6]}-{partition[6:]}"
    try:
        return dt.date.fromisoformat(partition[:10]).weekday()
    except ValueError:
        return None


@lru_cache(maxsize=1024)
def _t_cdf(x: float, df: int) -> float:
    """Student's t distribution function, by Simpson integration of its density from 0 to x."""
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    steps = 400
    h = x / steps
    total = 0.0
    for i in range(steps + 1):
        weight = 1 if i in (0, steps) else (4 if i % 2 else 2)
        t = i * h
        total += weight * math.exp(log_norm - (df + 1) / 2 * math.log1p(t * t / df))
    return 0.5 + total * h / 3


@lru_cache(maxsize=1024)
def widened_sigma(sigma: float, n: int) -> float:
    """The multiple of the baseline's spread that keeps the false-alarm rate of a `sigma` rule on
    normal data whatever the number n of baseline values: the Student-t prediction interval for
    one new value, t_{n-1}(Φ(sigma))·sqrt(1 + 1/n). With n=28 and sigma=3 it is 3.48; with n=8, 5.0."""
    if n < 2:
        return math.inf
    p = statistics.NormalDist().cdf(sigma)
    low, high = 0.0, max(50.0, sigma * 10)
    for _ in range(60):
        mid = (low + high) / 2
        if _t_cdf(mid, n - 1) < p:
            low = mid
        else:
            high = mid
    return high * math.sqrt(1 + 1 / n)


def anomaly_band(values: Sequence[float], spec: Anomaly) -> tuple[float, float]:
    """mean ± k·stddev (or median ± k·1.4826·MAD with `method: robust`) of the baseline, where k is
    `sigma`, or with `calibrate: true` sigma widened for the size of the baseline (`widened_sigma`)."""
    if spec.method == "robust":
        center = statistics.median(values)
        spread = 1.4826 * statistics.median(abs(v - center) for v in values)
    else:
        center = statistics.fmean(values)
        spread = statistics.stdev(values)
    k = widened_sigma(spec.sigma, len(values)) if spec.calibrate else spec.sigma
    return center - k * spread, center + k * spread


def judge_anomaly(
    check: Check,
    value: float,
    history: Sequence[tuple[str, float]],
    partition: str,
    order: Callable[[str], Any] | None = None,
) -> Verdict:
    spec = check.anomaly
    assert spec is not None
    values = baseline(history, partition, spec, order)
    if len(values) < spec.min_history:
        return Verdict(
            Status.WARN, f"insufficient history: {len(values)} good partition(s), {spec.min_history} needed", value
        )
    low, high = anomaly_band(values, spec)
    if low <= value <= high:
        return Verdict(
            Status.PASS,
            f"{fmt(value)} within [{fmt(low)}, {fmt(high)}] learnt from {len(values)} partitions",
            value,
            low,
            high,
        )
    return Verdict(
        Status.FAIL,
        f"{fmt(value)} outside [{fmt(low)}, {fmt(high)}] learnt from {len(values)} partitions",
        value,
        low,
        high,
    )
