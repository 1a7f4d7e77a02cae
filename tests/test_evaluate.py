"""Pure judgement functions on synthetic series: thresholds, changes and the baseline model."""

from __future__ import annotations

import datetime as dt
import math
import random

import pytest

from quinto.baseline import Point, t_multiplier, widened_sigma
from quinto.errors import Location
from quinto.evaluate import Status, human, judge_anomaly, judge_change, judge_levels, partition_order
from quinto.spec.grammar import ChangeBase, parse_condition
from quinto.spec.model import Anomaly, Check, MinChange

LOC = Location("t.yaml", 1, 1)
PREVIOUS = ChangeBase("previous")


def check(**kw: object) -> Check:
    return Check(key="k", type="row_count", columns=(), location=LOC, **kw)  # type: ignore[arg-type]


def days(n: int, start: str = "2026-06-01") -> list[str]:
    d0 = dt.date.fromisoformat(start)
    return [(d0 + dt.timedelta(days=i)).isoformat() for i in range(n)]


def series(n: int, level: float = 1000, growth: float = 0.0, weekend: float = 1.0, noise: float = 0.02, seed: int = 1):
    """Daily values with a trend (growth per day), a weekend factor and multiplicative noise."""
    rng = random.Random(seed)
    out = []
    for i, d in enumerate(days(n + 1)):
        day = dt.date.fromisoformat(d)
        v = level * (1 + growth) ** i * (weekend if day.weekday() >= 5 else 1.0) * (1 + rng.gauss(0, noise))
        out.append((d, v))
    return out


def pts(values: list[tuple[str, float]]) -> list[Point]:
    return [Point(p, v) for p, v in values]


def judge_all(c: Check, data: list[tuple[str, float]], start: int) -> list[Status]:
    """Judges each partition from `start` on against all before it, as daily audits do."""
    history: list[Point] = pts(data[:start])
    out = []
    for p, v in data[start:]:
        verdict = judge_anomaly(c, v, history, p, unit="count")
        out.append(verdict.status)
        history.append(Point(p, v, failed_by=frozenset({"k"}) if verdict.status == Status.FAIL else frozenset()))
    return out


def test_levels_ladder() -> None:
    c = check(warn=parse_condition("> 10"), fail=parse_condition("> 100"))
    assert judge_levels(c, 5).status == Status.PASS
    assert judge_levels(c, 50).status == Status.WARN
    assert judge_levels(c, 500).status == Status.FAIL
    assert judge_levels(check(condition=parse_condition("= 0"), severity="warn"), 3).status == Status.WARN


def test_change_relative_and_absolute() -> None:
    rel = check(condition=parse_condition("between -30% and +50%"), change=PREVIOUS)
    base = [Point("2026-11-01", 100.0)]
    assert judge_change(rel, 130, base, "2026-11-02").status == Status.PASS
    assert judge_change(rel, 60, base, "2026-11-02").status == Status.FAIL
    assert judge_change(rel, 60, [], "2026-11-02").status == Status.LEARNING
    assert judge_change(rel, 60, [Point("2026-11-01", 0.0)], "2026-11-02").status == Status.WARN
    absolute = check(condition=parse_condition("< 5"), change=PREVIOUS)
    assert judge_change(absolute, 104, base, "2026-11-02").status == Status.PASS
    assert judge_change(absolute, 106, base, "2026-11-02").judged == 6


def test_change_skips_a_failed_partition_and_says_so() -> None:
    rel = check(condition=parse_condition("between -30% and +50%"), change=PREVIOUS)
    # 2026-11-02 FAILed the metric's anomaly band: a defect, not a base
    hist = [Point("2026-11-01", 100.0), Point("2026-11-02", 10.0, failed_by=frozenset({"row_count anomaly"}))]
    v = judge_change(rel, 105, hist, "2026-11-03")
    assert v.status == Status.PASS
    assert "on 2026-11-01" in v.message and "skipped 2026-11-02" in v.message


def test_a_change_checks_own_fail_does_not_cascade() -> None:
    """Weekends x1.5: Saturday FAILs a day-to-day change, and Sunday, Monday... are still compared
    with the day before them, not with Friday for a week."""
    rel = check(condition=parse_condition("between -30% and +30%"), change=PREVIOUS)
    friday, saturday, sunday = Point("2026-11-06", 100.0), "2026-11-07", "2026-11-08"
    hist = [friday, Point(saturday, 150.0, failed_by=frozenset({"k"}))]
    assert judge_change(rel, 150, [friday], saturday).status == Status.FAIL
    assert judge_change(rel, 150, hist, sunday).status == Status.PASS
    monday = judge_change(rel, 100, [*hist, Point(sunday, 150.0)], "2026-11-09")
    assert monday.status == Status.FAIL and "on 2026-11-08" in monday.message  # -33 %: vs Sunday, once


def test_change_vs_same_weekday_last_week_fits_weekly_tables() -> None:
    data = series(21, weekend=1.5, noise=0.01)
    weekly = check(condition=parse_condition("between -30% and +50%"), change=ChangeBase("weekday", 7))
    previous = check(condition=parse_condition("between -30% and +50%"), change=PREVIOUS)
    hist = pts(data[:-1])
    # the weekend jump fails a day-to-day change but not a week-to-week one
    saturdays = [i for i, (p, _) in enumerate(data) if dt.date.fromisoformat(p).weekday() == 5 and i >= 7]
    i = saturdays[-1]
    p, v = data[i]
    sunday_after_friday = judge_change(previous, v * 1.5, pts(data[:i]), p)  # 1.5 x 1.5 vs a Friday
    assert sunday_after_friday.status == Status.FAIL
    same = judge_change(weekly, v, pts(data[:i]), p)
    assert same.status == Status.PASS and "same weekday last week" in same.message
    assert hist  # the helper data is long enough


def test_change_vs_n_ago_and_average() -> None:
    hist = [Point(d, float(v)) for d, v in zip(days(5), [100, 110, 90, 100, 300], strict=True)]
    ago = check(condition=parse_condition("between -10% and +10%"), change=ChangeBase("ago", 2))
    assert judge_change(ago, 100, hist, "2026-06-06").message.startswith("100 vs 100 on 2026-06-04")
    avg = check(condition=parse_condition("between -10% and +10%"), change=ChangeBase("average", 4))
    v = judge_change(avg, 150, hist, "2026-06-06")
    assert v.judged == pytest.approx(0.0) and v.status == Status.PASS  # mean of 110, 90, 100, 300
    assert judge_change(avg, 150, hist[:3], "2026-06-06").status == Status.LEARNING


def test_growing_table_does_not_fail_and_no_cascade() -> None:
    """0.4 % a day for 90 days: the trend is learnt, so ordinary days pass."""
    c = check(anomaly=Anomaly())
    statuses = judge_all(c, series(90, growth=0.004, noise=0.02, seed=3), 14)
    assert statuses.count(Status.FAIL) <= 1


def test_weekly_seasonal_table_does_not_fail() -> None:
    c = check(anomaly=Anomaly())
    statuses = judge_all(c, series(84, weekend=1.5, noise=0.02, seed=5), 14)
    assert statuses.count(Status.FAIL) <= 1


def test_drop_in_a_seasonal_growing_table_fails() -> None:
    data = series(60, growth=0.004, weekend=1.5, noise=0.02, seed=7)
    p, v = data[-1]
    verdict = judge_anomaly(check(anomaly=Anomaly()), v * 0.7, pts(data[:-1]), p, unit="count")
    assert verdict.status == Status.FAIL and "below expected" in verdict.message
    assert judge_anomaly(check(anomaly=Anomaly()), v, pts(data[:-1]), p, unit="count").status == Status.PASS


def test_warm_up_is_learning_then_judged_by_14_partitions() -> None:
    c = check(anomaly=Anomaly())
    data = series(20, weekend=1.5, noise=0.02)
    statuses = judge_all(c, data, 0)
    assert set(statuses[:14]) == {Status.LEARNING}
    assert all(s in (Status.PASS, Status.FAIL) for s in statuses[14:])
    v = judge_anomaly(c, 5, [], "2026-12-01", unit="count")
    assert v.status == Status.LEARNING and "0 of 14" in v.message


def test_an_unmarked_defect_teaches_nothing_but_a_drift_is_followed() -> None:
    data = series(40, noise=0.02, seed=11)
    history = pts(data[:30]) + [Point(days(31)[30], 300.0, failed_by=frozenset({"k"}))]  # a volume drop, FAILed
    p, v = data[31]
    assert judge_anomaly(check(anomaly=Anomaly()), v, history, p, unit="count").status == Status.PASS


def test_accepted_level_shift_stops_failing_at_once() -> None:
    data = series(50, noise=0.02, seed=13)
    shifted = data[:30] + [(p, v * 1.3) for p, v in data[30:]]
    c = check(anomaly=Anomaly())
    history = pts(shifted[:30])
    first = judge_anomaly(c, shifted[30][1], history, shifted[30][0], unit="count")
    assert first.status == Status.FAIL
    history.append(Point(shifted[30][0], shifted[30][1], good=True, failed_by=frozenset({"k"})))  # quinto mark ... good
    fails = 0
    for p, v in shifted[31:]:
        verdict = judge_anomaly(c, v, history, p, unit="count")
        fails += verdict.status == Status.FAIL
        history.append(Point(p, v, failed_by=frozenset({"k"}) if verdict.status == Status.FAIL else frozenset()))
    assert fails <= 3


def test_direction_and_min_change() -> None:
    data = series(30, noise=0.01)
    p, v = data[-1]
    hist = pts(data[:-1])
    spike = v * 1.5
    assert judge_anomaly(check(anomaly=Anomaly(direction="drop")), spike, hist, p).status == Status.PASS
    assert judge_anomaly(check(anomaly=Anomaly(direction="spike")), spike, hist, p).status == Status.FAIL
    assert judge_anomaly(check(anomaly=Anomaly(direction="spike")), v * 0.5, hist, p).status == Status.PASS
    small = v * 1.06  # outside a ±1 % noise band, but under a 10 % floor
    assert judge_anomaly(check(anomaly=Anomaly()), small, hist, p).status == Status.FAIL
    floor = Anomaly(min_change=(MinChange(10, True, "10%"),))
    verdict = judge_anomaly(check(anomaly=floor), small, hist, p)
    assert verdict.status == Status.PASS and "min_change 10%" in verdict.message
    absolute = Anomaly(min_change=(MinChange(1000, False, "1000"),))
    assert judge_anomaly(check(anomaly=absolute), v * 1.5, hist, p).status == Status.PASS


def test_month_day_seasonality_learns_the_first_of_the_month() -> None:
    rng = random.Random(2)
    data = []
    for d in days(100, "2026-03-01"):
        day = dt.date.fromisoformat(d)
        data.append((d, 1000 * (2.0 if day.day == 1 else 1.0) * (1 + rng.gauss(0, 0.02))))
    seasonal = check(anomaly=Anomaly(seasonality=("weekday", "month_day")))
    i = next(i for i, (p, _) in enumerate(data) if p == "2026-06-01")
    p, v = data[i]
    assert judge_anomaly(seasonal, v, pts(data[:i]), p).status == Status.PASS
    assert judge_anomaly(check(anomaly=Anomaly()), v, pts(data[:i]), p).status == Status.FAIL
    assert judge_anomaly(seasonal, 1000, pts(data[:i]), p).status == Status.FAIL  # the payday spike missing


def test_constant_zero_counts_allow_poisson_noise_but_not_a_burst() -> None:
    hist = [Point(d, 0.0) for d in days(20)]
    c = check(anomaly=Anomaly())
    assert judge_anomaly(c, 2, hist, "2026-06-21", unit="count").status == Status.PASS
    assert judge_anomaly(c, 120, hist, "2026-06-21", unit="count").status == Status.FAIL


def test_prediction_interval_multiplier() -> None:
    assert t_multiplier(3, 10_000) == pytest.approx(3.0, abs=0.01)
    assert t_multiplier(3, 6) == pytest.approx(4.90, abs=0.02)
    assert t_multiplier(3, 20) == pytest.approx(3.42, abs=0.02)
    assert widened_sigma(3, 8) == pytest.approx(4.53 * (1 + 1 / 8) ** 0.5, abs=0.02)


def test_integer_partitions_order_by_value() -> None:
    hist = [Point(str(i), 100.0 + (i % 2)) for i in range(1, 100)]
    v = judge_anomaly(check(anomaly=Anomaly()), 100, hist, "100", partition_order("integer"))
    assert v.status == Status.PASS and "28 partitions" in v.message
    assert v.status != Status.LEARNING


@pytest.mark.parametrize(
    "x,unit,text",
    [
        (3101, "", "3,101"),
        (250000, "", "250,000"),
        (-4.15018, "", "\u22124.15"),
        (65.6528, "%", "65.7 %"),
        (0.0123456, "", "0.0123"),
        (0, "", "0"),
        (math.inf, "", "\u221e"),
        (3712345.0, "", "3.71 M"),
        (93600, "s", "26 h"),
        (1.5, "", "1.5"),
    ],
)
def test_human_numbers(x: float, unit: str, text: str) -> None:
    assert human(x, unit) == text


def test_a_nan_or_infinite_value_in_history_teaches_nothing() -> None:
    """One NaN (an avg over a column holding NaN) or inf stored in history must not turn every later
    band into NaN, which failed each partition of the window ("expected nan to nan")."""
    data = series(28, weekend=1.5, noise=0.02)
    history = pts(data[:28])
    c = check(anomaly=Anomaly())
    for bad in (math.nan, math.inf, -math.inf):
        poisoned = [*history[:10], Point(history[10].partition, bad), *history[11:]]
        verdict = judge_anomaly(c, data[28][1], poisoned, data[28][0], unit="count")
        assert verdict.status == Status.PASS, verdict.message
        assert verdict.low is not None and math.isfinite(verdict.low), verdict.message
    ch = check(condition=parse_condition("between -20% and +20%"), change=PREVIOUS)
    base = [Point("2026-06-01", 100.0), Point("2026-06-02", math.inf)]
    verdict = judge_change(ch, 105.0, base, "2026-06-03")
    assert verdict.status == Status.PASS and "on 2026-06-01" in verdict.message, verdict.message


@pytest.mark.parametrize("base", [ChangeBase("weekday", 7), ChangeBase("average", 7), PREVIOUS])
def test_change_checks_accept_a_new_level_marked_good(base: ChangeBase) -> None:
    """+30 % from day 28, the owner marks day 28 good: no change check FAILs after it. Comparing the
    new level with the old one failed each weekday once and then, the FAILed ones being skipped,
    again every week (a Thursday compared with the last Thursday before the change, forever)."""
    c = check(condition=parse_condition("between -20% and +20%"), change=base)
    data = series(56, noise=0.01, seed=4)
    data = [(p, v * 1.3 if i >= 28 else v) for i, (p, v) in enumerate(data)]
    history = [*pts(data[:28]), Point(data[28][0], data[28][1], good=True, failed_by=frozenset({"k"}))]
    after = []
    for p, v in data[29:]:
        verdict = judge_change(c, v, history, p)
        after.append(verdict.status)
        history.append(Point(p, v, failed_by=frozenset({"k"}) if verdict.status == Status.FAIL else frozenset()))
    assert Status.FAIL not in after, after
    assert after.count(Status.LEARNING) <= 6 and after[-7:] == [Status.PASS] * 7
