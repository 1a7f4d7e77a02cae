"""Pure judgement functions on synthetic series."""

from __future__ import annotations

import datetime as dt

import pytest

from quinto.errors import Location
from quinto.evaluate import Status, anomaly_band, baseline, judge_anomaly, judge_change, judge_levels
from quinto.spec.grammar import parse_condition
from quinto.spec.model import Anomaly, Check

LOC = Location("t.yaml", 1, 1)


def check(**kw: object) -> Check:
    return Check(key="k", type="row_count", columns=(), location=LOC, **kw)  # type: ignore[arg-type]


def days(n: int, start: str = "2026-10-01") -> list[str]:
    d0 = dt.date.fromisoformat(start)
    return [(d0 + dt.timedelta(days=i)).isoformat() for i in range(n)]


def test_levels_ladder() -> None:
    c = check(warn=parse_condition("> 10"), fail=parse_condition("> 100"))
    assert judge_levels(c, 5).status == Status.PASS
    assert judge_levels(c, 50).status == Status.WARN
    assert judge_levels(c, 500).status == Status.FAIL
    assert judge_levels(check(condition=parse_condition("= 0"), severity="warn"), 3).status == Status.WARN


def test_change_relative_and_absolute() -> None:
    rel = check(condition=parse_condition("between -30% and +50%"), change=True)
    assert judge_change(rel, 130, 100, "d1").status == Status.PASS
    assert judge_change(rel, 60, 100, "d1").status == Status.FAIL
    assert judge_change(rel, 60, None, None).status == Status.WARN
    assert judge_change(rel, 60, 0, "d1").status == Status.WARN
    absolute = check(condition=parse_condition("< 5"), change=True)
    assert judge_change(absolute, 104, 100, "d1").status == Status.PASS
    assert judge_change(absolute, 106, 100, "d1").judged == 6


def test_flat_series_passes_and_spike_fails() -> None:
    spec = Anomaly(window=14, sigma=3, min_history=7)
    hist = [(d, 100.0 + (i % 3)) for i, d in enumerate(days(20))]
    target = days(21)[-1]
    assert judge_anomaly(check(anomaly=spec), 101, hist, target).status == Status.PASS
    assert judge_anomaly(check(anomaly=spec), 150, hist, target).status == Status.FAIL


def test_partition_under_test_is_never_in_its_baseline() -> None:
    hist = [(d, 10.0) for d in days(10)]
    assert len(baseline(hist, days(10)[5], Anomaly(window=28))) == 5


def test_weekly_seasonality_needs_same_weekday() -> None:
    series = [
        (d, (1000.0 if dt.date.fromisoformat(d).weekday() >= 5 else 500.0) + i % 5) for i, d in enumerate(days(56))
    ]
    saturday = next(d for d in days(63)[56:] if dt.date.fromisoformat(d).weekday() == 5)
    plain = check(anomaly=Anomaly(window=28, sigma=3))
    weekly = check(anomaly=Anomaly(window=8, sigma=3, same_weekday=True, min_history=4))
    assert judge_anomaly(weekly, 1002, series, saturday).status == Status.PASS
    # a Saturday at weekday volume is a drop; only the same-weekday baseline sees it
    assert judge_anomaly(weekly, 500, series, saturday).status == Status.FAIL
    assert judge_anomaly(plain, 500, series, saturday).status == Status.PASS


def test_insufficient_history_warns_not_passes() -> None:
    v = judge_anomaly(check(anomaly=Anomaly(min_history=7)), 5, [(d, 5.0) for d in days(3)], "2026-12-01")
    assert v.status == Status.WARN and "insufficient history" in v.message


def test_level_shift_and_missing_days() -> None:
    hist = [(d, 100.0 + i % 2) for i, d in enumerate(days(30)) if i % 4 != 0]  # missing days
    spec = Anomaly(window=14, sigma=3)
    assert judge_anomaly(check(anomaly=spec), 200, hist, "2026-11-15").status == Status.FAIL


def test_robust_band_ignores_an_outlier_in_history() -> None:
    values = [100.0, 101, 99, 100, 102, 98, 100, 5000]
    low, high = anomaly_band(values, Anomaly(method="robust", sigma=3))
    assert low < 100 < high and high < 200
    mean_low, mean_high = anomaly_band(values, Anomaly(sigma=3))
    assert mean_high > 5000


@pytest.mark.parametrize("value, status", [(0, Status.FAIL), (1, Status.PASS)])
def test_condition_fail(value: float, status: Status) -> None:
    assert judge_levels(check(condition=parse_condition("> 0")), value).status == status


def test_steady_trend_is_not_an_anomaly() -> None:
    hist = [(d, 100.0 + 2 * i) for i, d in enumerate(days(40))]
    target = days(41)[-1]
    assert judge_anomaly(check(anomaly=Anomaly(window=28, sigma=3)), 180, hist, target).status == Status.PASS
    assert judge_anomaly(check(anomaly=Anomaly(window=28, sigma=3)), 300, hist, target).status == Status.FAIL


def test_single_spike_in_history_widens_the_mean_band_but_not_the_robust_one() -> None:
    hist = [(d, 100.0 + i % 3) for i, d in enumerate(days(28))]
    hist[10] = (hist[10][0], 1000.0)
    target = days(29)[-1]
    assert judge_anomaly(check(anomaly=Anomaly(window=28, sigma=3)), 300, hist, target).status == Status.PASS
    robust = check(anomaly=Anomaly(window=28, sigma=3, method="robust"))
    assert judge_anomaly(robust, 300, hist, target).status == Status.FAIL


def test_calibrated_band_is_the_student_t_prediction_interval() -> None:
    from quinto.evaluate import widened_sigma

    # t quantile at Φ(3) with 7 degrees of freedom is 4.53; times sqrt(1 + 1/8)
    assert widened_sigma(3, 8) == pytest.approx(4.53 * (1 + 1 / 8) ** 0.5, abs=0.01)
    assert widened_sigma(3, 10_000) == pytest.approx(3.0, abs=0.01)
    values = [100.0, 102, 98, 101, 99, 100, 103, 97]
    plain = anomaly_band(values, Anomaly(sigma=3))
    wide = anomaly_band(values, Anomaly(sigma=3, calibrate=True))
    assert wide[0] < plain[0] and wide[1] > plain[1]
    assert plain == pytest.approx((94.0, 106.0))  # mean 100 ± 3 · sample stddev 2


def test_integer_partitions_sort_as_numbers() -> None:
    from quinto.evaluate import partition_order

    hist = [(str(i), float(i)) for i in range(1, 120)]
    spec = Anomaly(window=3, min_history=2)
    assert baseline(hist, "100", spec, partition_order("integer")) == [97.0, 98.0, 99.0]
    assert baseline(hist, "100", spec) == [1.0, 10.0]  # as text, "100" comes right after "10"
