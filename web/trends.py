"""The trend charts of a table's checks, from the store's rows: per partition (the current outcomes),
or for an unpartitioned table, whose every audit judges the same partition, per run. The number
charted is the one judged (for a change check the change, never the raw value), in the unit its
check type declares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from markupsafe import Markup
from quinto.web.charts import TrendPoint, tooltip, trend_svg

from quinto.checks import judged_unit, unit_of
from quinto.humanize import when
from quinto.store.records import CheckRef, OutcomeRecord


class Units(NamedTuple):
    unit: str  # of the number judged
    noun: str
    value: tuple[str, str] | None  # the metric's own (unit, noun) when the number judged is a change


def units(check_type: str, threshold: str) -> Units:
    change = threshold.startswith("change vs ")
    return Units(*judged_unit(check_type, threshold), unit_of(check_type) if change else None)


def judged(value: float | None, judged_value: float | None, change: bool) -> float | None:
    """What a chart plots: the number judged; without one, the value, except for a change (its
    first partition has no change: a raw value there would squash the line)."""
    if judged_value is not None:
        return judged_value
    return None if change else value


def chart(ref: CheckRef, points: Sequence[TrendPoint], tips: Sequence[str] | None = None) -> Markup:
    u = units(ref.check_type, ref.threshold)
    return trend_svg(points, ref.check_key, u.unit, u.noun, u.value, tips=tips)


def partition_charts(
    checks: Sequence[CheckRef],
    columns: Sequence[str],
    cells: Iterable[tuple[str, str, str, float | None, float | None, float | None, float | None]],
    marks: Mapping[str, str],
    labels: Mapping[str, str] | None = None,
) -> tuple[list[dict[str, Any]], dict[tuple[str, str], str]]:
    """One chart per check with a value, and every point's tooltip by (check, column) (the heatmap
    shows the same); `cells`: (partition, check, status, value, judged, low, high) as
    `Results.grid` reads them; `columns`: the partitions (or runs), oldest first; `labels`: a
    column's name on the x axis when it is not the column itself (a run's time)."""
    names = labels or {}
    change = {c.check_key: c.threshold.startswith("change vs ") for c in checks}
    series: dict[str, list[tuple[int, TrendPoint]]] = {}
    order = {p: i for i, p in enumerate(columns)}
    for partition, check, status, value, judged_value, low, high in cells:
        y = judged(value, judged_value, change.get(check, False))
        name = names.get(partition, partition)
        point = TrendPoint(name, y, low, high, status, marks.get(partition), value)
        series.setdefault(check, []).append((order[partition], point))
    out = []
    tips: dict[tuple[str, str], str] = {}
    for c in checks:
        found = sorted(series.get(c.check_key, []), key=lambda item: item[0])
        points = [pt for _, pt in found]
        u = units(c.check_type, c.threshold)
        texts = [tooltip(pt, u.unit, u.noun, u.value) for pt in points]
        tips.update(((c.check_key, columns[i]), t) for (i, _), t in zip(found, texts, strict=True))
        if any(pt.y is not None for pt in points):
            out.append({"check": c, "svg": chart(c, points, texts)})
    return out, tips


def run_label(t: dt.datetime | None) -> str:
    """A run's time on an x axis (UTC, said in the caption)."""
    return when(t).removesuffix(" UTC") if t else "?"


def run_points(rows: Sequence[OutcomeRecord], started: Mapping[int, dt.datetime]) -> list[TrendPoint]:
    """An unpartitioned table's outcomes of one check, one point per run, oldest first."""
    out = []
    for o in rows:
        change = o.threshold.startswith("change vs ")
        y = judged(o.value, o.judged, change)
        out.append(TrendPoint(run_label(started.get(o.run_id)), y, o.band_low, o.band_high, o.status, None, o.value))
    return out


def run_charts(
    checks: Sequence[CheckRef], rows: Sequence[OutcomeRecord], started: Mapping[int, dt.datetime]
) -> list[dict[str, Any]]:
    by_check: dict[str, list[OutcomeRecord]] = {}
    for o in rows:
        by_check.setdefault(o.check_key, []).append(o)
    out = []
    for c in checks:
        points = run_points(by_check.get(c.check_key, []), started)
        if any(pt.y is not None for pt in points):
            out.append({"check": c, "svg": chart(c, points)})
    return out
