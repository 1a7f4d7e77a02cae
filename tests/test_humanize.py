"""quinto.humanize: the exact strings people read in the UI, the command line and alerts."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from quinto.checks import judged_unit, unit_of
from quinto.humanize import duration, expected, literal, number, percent, quantity, signed_percent, when


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (3101, "3,101"),
        (250000, "250,000"),
        (15109.0, "15,109"),
        (-4.15018, "\u22124.15"),
        (65.6528, "65.7"),
        (0.0123456, "0.0123"),
        (0, "0"),
        (1.5, "1.5"),
        (2746.41, "2,750"),
        (3325.09, "3,330"),
        (3.71e6, "3.71 M"),
        (3712345, "3.71 M"),
        (999999.7, "1 M"),
        (2.5e9, "2.5 B"),
        (1.2e13, "12 T"),
        (1e-7, "1e-7"),
        (math.inf, "\u221e"),
        (None, "NULL"),
    ],
)
def test_numbers(x: float | None, text: str) -> None:
    assert number(x) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (3, "3 s"),
        (77, "1.28 min"),
        (1800, "30 min"),
        (108000, "30 h"),
        (93600, "26 h"),
        (183169, "2.12 d"),
        (-5, "\u22125 s"),
    ],
)
def test_durations(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_units_changes_ranges_and_times() -> None:
    assert quantity(3101, *unit_of("row_count")) == "3,101 rows"
    assert quantity(1, *unit_of("missing_count")) == "1 row"
    assert quantity(65.6528, *unit_of("missing_percent")) == "65.7 %"
    assert quantity(108000, *unit_of("freshness")) == "30 h"
    assert quantity(3.71e6, *unit_of("percentile")) == "3.71 M"
    assert quantity(2, *unit_of("schema")) == "2 violations"
    assert quantity(7.5, *unit_of("no_such_type")) == "7.5"
    assert percent(65.6528) == "65.7 %"
    assert signed_percent(-38.2631) == "\u221238.3 %" and signed_percent(12.04) == "+12 %"
    assert expected(2746.41, 3325.09, *unit_of("row_count")) == "2,750\u20133,330 rows"
    assert expected(None, 93600, *unit_of("freshness")) == "\u2264 26 h"
    assert expected(100, None, *unit_of("row_count")) == "\u2265 100 rows"
    assert expected(0, 0, *unit_of("duplicate_count")) == "0 rows"
    assert expected(None, None) == ""
    change = "change vs previous partition between -30% and +50%"
    assert judged_unit("row_count", change) == ("percent", "")
    assert expected(-30, 50, *judged_unit("row_count", change)) == "\u221230 % to 50 %"
    assert judged_unit("row_count", "change vs previous partition between -20 and 20") == ("count", "rows")
    assert when(dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)) == "2026-11-28 06:00 UTC"
    assert when(dt.datetime(2026, 11, 28, 7, 30, 5, tzinfo=dt.timezone(dt.timedelta(hours=1))), seconds=True) == (
        "2026-11-28 06:30:05 UTC"
    )
    assert when(None) == ""


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("XX", "'XX'"),
        ("it's", "'it''s'"),  # as SQL quotes it
        ("a\nb\tc", "'a\\nb\\tc'"),  # stays on its line
        ("é" * 61, "'" + "é" * 59 + "\u2026'"),
        (None, "NULL"),
        (42, "42"),
        (1234567, "1234567"),  # a value, exactly: not 1.23 M
        (1.5, "1.5"),
        (True, "true"),
        ((42, "tv"), "(42, 'tv')"),
        ([1, 2], "[1, 2]"),
    ],
)
def test_literals(value: object, text: str) -> None:
    assert literal(value) == text
