"""The trend charts' axes and tooltips (web/charts.py): round ticks in the check's unit, x labels
that never overlap, outliers that do not flatten the rest."""

from __future__ import annotations

import re

import pytest
from quinto.web.charts import (
    CHAR_W,
    TrendPoint,
    nice_axis,
    robust_range,
    tick_labels,
    tooltip,
    trend_svg,
    x_ticks,
)


@pytest.mark.parametrize(
    ("low", "high", "unit", "ticks", "labels"),
    [
        (5545, 18566, "count", [5000, 10000, 15000, 20000], ["5,000", "10,000", "15,000", "20,000"]),
        (0, 63, "count", [0, 20, 40, 60, 80], ["0", "20", "40", "60", "80"]),
        (0, 0, "count", [0, 1], ["0", "1"]),  # a flat zero line stays at zero
        (0, 2, "count", [0, 1, 2], ["0", "1", "2"]),  # counts step by whole numbers
        (0.0, 2.145, "percent", [0, 1, 2, 3], ["0 %", "1 %", "2 %", "3 %"]),
        (-48.9, 50, "percent", [-50, -25, 0, 25, 50], ["\u221250 %", "\u221225 %", "0 %", "25 %", "50 %"]),
        (
            3,
            172803,
            "seconds",
            [0, 43200, 86400, 129600, 172800, 216000],
            ["0 s", "12 h", "24 h", "36 h", "2 d", "2.5 d"],
        ),
        (3, 20, "seconds", [0, 5, 10, 15, 20], ["0 s", "5 s", "10 s", "15 s", "20 s"]),
        (3.6e6, 3.8e6, "value", [3.6e6, 3.65e6, 3.7e6, 3.75e6, 3.8e6], ["3.6 M", "3.65 M", "3.7 M", "3.75 M", "3.8 M"]),
        (
            15000,
            15020,
            "count",
            [15000, 15005, 15010, 15015, 15020],
            ["15,000", "15,005", "15,010", "15,015", "15,020"],
        ),
        (1540.2, 1577.9, "value", [1540, 1550, 1560, 1570, 1580], ["1,540", "1,550", "1,560", "1,570", "1,580"]),
    ],
)
def test_nice_axis(low: float, high: float, unit: str, ticks: list[float], labels: list[str]) -> None:
    axis = nice_axis(low, high, unit)
    assert axis.ticks == ticks
    assert axis.low <= low and axis.high >= high
    if low >= 0:
        assert axis.low >= 0  # never below zero unless the data is
    assert tick_labels(axis.ticks, unit) == labels


def test_tick_labels_take_the_digits_they_need() -> None:
    assert tick_labels([1_234_000, 1_234_500, 1_235_000]) == ["1.234 M", "1.2345 M", "1.235 M"]


def test_one_outlier_does_not_flatten_the_rest() -> None:
    values = [1000.0 + (i % 7) * 10 for i in range(60)] + [250000.0]
    assert robust_range(values, [0.0, 5000.0]) == (1000.0, 1060.0)  # far bounds left out too
    # a failure only somewhat outside, near the band: everything is shown
    changes = [float(v) for v in range(-25, 29, 2)] + [-48.9]
    assert robust_range(changes, [-30.0, 50.0]) == (-48.9, 50.0)
    # all zeros but one spike: nothing to zoom into, the spike is shown
    assert robust_range([0.0] * 29 + [60.0], [0.0]) == (0.0, 60.0)
    # few points: all of them
    assert robust_range([1.0, 2.0, 1000.0], []) == (1.0, 1000.0)


def test_clipped_points_sit_on_the_edge_with_their_value_in_the_tooltip() -> None:
    points = [TrendPoint(f"2026-10-{d:02d}", 5.0 + d % 3, None, 93600.0, "PASS") for d in range(1, 30)]
    points.append(TrendPoint("2026-10-30", 172803.0, None, 93600.0, "FAIL"))
    svg = str(trend_svg(points, "freshness", "seconds"))
    clipped = re.findall(r'<polygon class="pt clipped fail"[^>]*><title>([^<]+)</title>', svg)
    assert clipped == ["2026-10-30: 2 d · expected \u2264 26 h · FAIL"]
    assert "1 off the scale" in svg
    assert re.findall(r'text-anchor="end">([^<]+)</text>', svg)[:2] == ["5 s", "6 s"]


@pytest.mark.parametrize("n", [7, 30, 90, 365, 1000])
def test_x_labels_never_overlap(n: int) -> None:
    import datetime as dt

    start = dt.date(2024, 1, 1)
    labels = [(start + dt.timedelta(days=i)).isoformat() for i in range(n)]
    width = 876.0
    picked = x_ticks(labels, width)
    assert len(picked) >= min(n, 4)  # several dated ticks
    xs = [width * i / (n - 1) for i in picked]
    assert all(b - a >= 10 * CHAR_W for a, b in zip(xs, xs[1:], strict=False))
    if n <= 90:
        assert picked[-1] == n - 1  # the newest is always named


def test_tooltips_say_partition_value_range_status_and_mark() -> None:
    p = TrendPoint("2026-11-21", 6243.0, 12436.12, 17786.9, "FAIL", "bad")
    assert (
        tooltip(p, "count", "rows") == "2026-11-21: 6,243 rows · expected 12,400\u201317,800 rows · FAIL · marked bad"
    )
    change = TrendPoint("2026-11-21", -48.878, -30.0, 50.0, "FAIL", None, 6243.0)
    assert tooltip(change, "percent", "", ("count", "rows")) == (
        "2026-11-21: change \u221248.9 % (6,243 rows) · expected \u221230 % to 50 % · FAIL"
    )
    assert tooltip(TrendPoint("*", 3.0, None, None, "PASS"), "value", "") == "*: 3 · no expected range · PASS"


def test_learning_and_marks_are_drawn() -> None:
    points = [TrendPoint(f"2026-10-{d:02d}", 100.0 + d, None, None, "LEARNING") for d in range(1, 15)]
    points += [
        TrendPoint(f"2026-10-{d:02d}", 100.0 + d, 90.0, 130.0, "PASS", "good" if d == 20 else None)
        for d in range(15, 31)
    ]
    svg = str(trend_svg(points, "row_count anomaly", "count", "rows"))
    assert svg.count('<rect class="learning"') == 1 and ">learning</text>" in svg
    assert svg.count('<circle class="mark good"') == 1
    assert svg.count("<title>") == 30
