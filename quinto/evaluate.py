"""Judging values: thresholds, change vs the previous good partition, anomaly vs history.
Pure functions: values in, verdicts out; no I/O."""

from __future__ import annotations

import datetime as dt
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from quinto import humanize
from quinto.baseline import Learning, Model, Point, fit, parse_day
from quinto.spec.grammar import Condition
from quinto.spec.model import Anomaly, Check


class Status(StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"
    ERROR = "ERROR"
    LEARNING = "LEARNING"  # not enough history to judge yet: neither colours a table nor alerts

    @property
    def rank(self) -> int:
        return RANK[self.value]


RANK = {"LEARNING": -1, "PASS": 0, "WARN": 1, "FAIL": 2, "ERROR": 3}


@dataclass(frozen=True)
class Verdict:
    status: Status
    message: str
    judged: float | None = None  # the number compared (the value, or its change)
    low: float | None = None  # the band of passing values, when one exists
    high: float | None = None


def worst(statuses: Sequence[Status]) -> Status:
    return max(statuses, key=lambda s: s.rank, default=Status.PASS)


#: the short units of messages ("%", "s") as quinto.humanize's
_UNITS = {"%": humanize.PERCENT, "s": humanize.SECONDS}


def fmt(x: float | None, unit: str = "") -> str:
    """A judged number in a message, as people read it everywhere (`quinto.humanize`): 3,101 ·
    −4.15 · 65.7 % · 30 h · 3.71 M."""
    return humanize.quantity(x, _UNITS.get(unit, humanize.VALUE))


def format_duration(seconds: float) -> str:
    """45 s, 1.28 min, 30 h, 2.5 d (`quinto.humanize.duration`)."""
    return humanize.duration(seconds)


def threshold_text(check: Check) -> str:
    parts = []
    if check.condition is not None:
        parts.append((f"change vs {check.change.text} " if check.change else "") + check.condition.text)
    if check.warn is not None:
        parts.append(f"warn when {check.warn.text}")
    if check.fail is not None:
        parts.append(f"fail when {check.fail.text}")
    if check.anomaly is not None:
        a = check.anomaly
        seasonality = a.seasonality if a.seasonality is not None else ("weekday on daily partitions",)
        if a.same_weekday and "weekday" not in seasonality:
            seasonality = ("weekday", *seasonality)
        words = [
            f"anomaly: {a.sigma:g}σ prediction band from the last {a.window}"
            + (" weeks" if a.same_weekday else " partitions")
        ]
        words.append("seasonality " + (", ".join(seasonality) or "none"))
        if a.direction != "both":
            words.append(f"{a.direction}s only")
        if a.min_change:
            words.append("min change " + " and ".join(f.text for f in a.min_change))
        parts.append("; ".join(words))
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


def human(x: float | None, unit: str = "") -> str:
    """A number for people: 3 significant digits, thousands separators (3,101 · 2,750 · 4.15 ·
    0.0123), durations in s/min/h/d, percentages with %."""
    return fmt(x, unit)


def relative_change(value: float, base: float) -> float | None:
    return None if base == 0 else 100.0 * (value - base) / abs(base)


def signed_pct(pct: float | None) -> str:
    """+12.5 %, −38.3 %."""
    return humanize.signed_percent(pct)


def _defective(p: Point, changes: frozenset[str]) -> bool:
    """A check of the metric that judges the partition itself (a threshold or an anomaly band, not a
    change, which only says it differs from another) FAILed there, and nobody marked it good."""
    return not p.good and bool(p.failed_by - changes)


def _good(points: Sequence[Point], partition: str, order: Callable[[str], Any], changes: frozenset[str]) -> list[Point]:
    """Earlier partitions a change is measured against, oldest first: not marked bad (the store
    leaves those out) and not defective. A change check's own FAIL does not count: a weekend that
    FAILs `change vs previous partition` must not have the whole next week compared with Friday."""
    here = order(partition)
    return sorted(
        (p for p in points if order(p.partition) < here and not _defective(p, changes) and math.isfinite(p.value)),
        key=lambda p: order(p.partition),
    )


def change_base(
    check: Check,
    points: Sequence[Point],
    partition: str,
    order: Callable[[str], Any],
    changes: frozenset[str] = frozenset(),
) -> tuple[float, str] | str:
    """The value a change check compares with and a description of it, or why there is none yet.
    `changes`: the keys of the table's change checks (their FAILs do not make a partition bad)."""
    assert check.change is not None
    vs, n = check.change.vs, check.change.n
    changes = changes | {check.key}
    good = _good(points, partition, order, changes)
    skipped = [p.partition for p in points if _defective(p, changes) and order(p.partition) < order(partition)]
    # a partition marked good where a check of this metric FAILed accepted a new level: nothing
    # before it is compared with, or every partition of the new level would FAIL against the old one
    starts = [p.partition for p in good if p.starts_regime()]
    since = ""
    if starts:
        good = [p for p in good if order(p.partition) >= order(starts[-1])]
        skipped = [p for p in skipped if order(p) > order(starts[-1])]
        since = f" since the new level accepted on {starts[-1]}"
    if vs == "average":
        if len(good) < n:
            return f"learning: {len(good)} of {n} good partitions for the average{since}"
        last = good[-n:]
        mean = statistics.fmean(p.value for p in last)
        return mean, f"(average of {n} partitions {last[0].partition} to {last[-1].partition})"
    if vs == "weekday":
        day = parse_day(partition)
        if day is None:
            return f"`change vs same weekday last week` needs date partitions, not {partition!r}"
        same = [p for p in good if (d := parse_day(p.partition)) is not None and d.weekday() == day.weekday()]
        if not same:
            return f"learning: no earlier good {day.strftime('%A')}{since or ' yet'}"
        base = same[-1]
        week_ago = (day - dt.timedelta(days=7)).isoformat()
        note = (
            "same weekday last week"
            if parse_day(base.partition) == day - dt.timedelta(days=7)
            else (
                f"newest earlier good {day.strftime('%A')}; {week_ago} "
                + ("FAILed" if week_ago in skipped else "is missing")
            )
        )
        return base.value, f"on {base.partition} ({note})"
    if len(good) < n:
        return (
            f"learning: {len(good)} earlier good partition(s){since}, {n} needed"
            if n > 1
            else ("learning: no earlier good partition to compare with yet")
        )
    base = good[-n]
    newer_failed = [p for p in skipped if order(p) > order(base.partition)]
    note = "previous good partition" if vs == "previous" else f"{n} good partitions ago"
    if newer_failed:
        note += f"; skipped {', '.join(newer_failed[-3:])} (FAIL)"
    return base.value, f"on {base.partition} ({note})"


def judge_change(
    check: Check,
    value: float,
    points: Sequence[Point],
    partition: str,
    order: Callable[[str], Any] | None = None,
    changes: frozenset[str] = frozenset(),
) -> Verdict:
    assert check.condition is not None and check.change is not None
    base = change_base(check, points, partition, order or partition_order(), changes)
    if isinstance(base, str):  # nothing to compare with yet, or never (a misfit base)
        return Verdict(Status.LEARNING if base.startswith("learning") else Status.WARN, base)
    previous, described = base
    relative = "%" in check.condition.units
    if relative:
        change = relative_change(value, previous)
        if change is None:
            return Verdict(Status.WARN, f"{human(value)} vs 0 {described}: a relative change from 0 is undefined")
    else:
        change = value - previous
    v = judge_levels(check, change, "%" if relative else "")
    shown = signed_pct(change) if relative else ("+" if change >= 0 else "\u2212") + human(abs(change))
    msg = f"{human(value)} vs {human(previous)} {described}: {shown}"
    if v.status != Status.PASS:
        msg += f", not {check.condition.text}"
    return Verdict(v.status, msg, change, v.low, v.high)


def partition_order(partition_type: str = "string") -> Callable[[str], Any]:
    """How partitions sort: as numbers for `partition_type: integer` (9 before 10), else as text
    (ISO dates and times sort correctly as text)."""
    if partition_type != "integer":
        return lambda p: p
    return lambda p: (0, int(p), "") if p.lstrip("-").isdigit() else (1, 0, p)


def model_of(spec: Anomaly, partition: str, unit: str = "") -> Model:
    """The baseline model an `anomaly:` asks for, for a partition like `partition`."""
    daily = parse_day(partition) is not None
    seasonality = set(spec.seasonality if spec.seasonality is not None else (("weekday",) if daily else ()))
    if spec.same_weekday:
        seasonality.add("weekday")
    weekday = daily and "weekday" in seasonality
    span = spec.window * 7 if spec.same_weekday and daily else spec.window
    min_history = spec.min_history or min(14 if weekday else 7, span)  # never more than the window holds
    window = spec.window if spec.same_weekday else max(spec.window, min_history)
    return Model(
        window=window,
        sigma=spec.sigma,
        min_history=min_history,
        weekday=weekday,
        weekday_required=weekday and (spec.same_weekday or spec.seasonality is not None),
        month_day=daily and "month_day" in seasonality,
        same_weekday_window=spec.same_weekday,
        robust=spec.method != "mean",
        count=unit == "count",
    )


def judge_anomaly(
    check: Check,
    value: float,
    points: Sequence[Point],
    partition: str,
    order: Callable[[str], Any] | None = None,
    unit: str = "",
) -> Verdict:
    """Judges `value` against the band the metric's history predicts for `partition`."""
    spec = check.anomaly
    assert spec is not None
    key = order or partition_order()
    here = key(partition)
    earlier = sorted((p for p in points if key(p.partition) < here), key=lambda p: key(p.partition))
    model = model_of(spec, partition, unit)
    result = fit(earlier, partition, model)
    shown = "%" if unit == "percent" else ("s" if unit == "seconds" else "")
    if isinstance(result, Learning):
        return Verdict(Status.LEARNING, f"{result.reason}, not judged yet", value)
    low, high = result.low, result.high
    if all(p.value >= 0 for p in earlier) and low < 0:
        low = 0.0  # a metric that never was negative is not expected to be
    band = f"expected {human(low, shown)} to {human(high, shown)}"
    learnt = f"learnt from {result.n} partitions ({', '.join(result.terms)})"
    pct = relative_change(value, result.expected)
    if low <= value <= high:
        return Verdict(Status.PASS, f"{human(value, shown)}, {band}; {learnt}", value, low, high)
    side = "below" if value < low else "above"
    what = f"{human(value, shown)} {side} {band} ({signed_pct(pct)} vs {human(result.expected, shown)}); {learnt}"
    if (side == "below" and spec.direction == "spike") or (side == "above" and spec.direction == "drop"):
        return Verdict(Status.PASS, f"{what}; only a {spec.direction} is judged", value, low, high)
    for floor in spec.min_change:
        moved = abs(pct) if floor.relative and pct is not None else abs(value - result.expected)
        if not floor.relative or pct is not None:
            if moved < floor.amount:
                return Verdict(Status.PASS, f"{what}; the change is under min_change {floor.text}", value, low, high)
    status = Status.WARN if check.severity == "warn" else Status.FAIL
    return Verdict(status, what, value, low, high)
