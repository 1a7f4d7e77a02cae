"""The check-file grammar: DESIGN.md's examples are accepted as written, every shipped check file
parses, and every check type and setting is documented in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from quinto.checks import CHECK_TYPES
from quinto.errors import SpecError
from quinto.settings import SETTINGS
from quinto.spec import load_project, load_suite, parse_check_file
from quinto.spec.grammar import GrammarError, parse_check_line, parse_condition

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_check_files_parse() -> None:
    files = sorted((ROOT / "checks").rglob("*.yaml"))
    assert files
    for f in files:
        spec = parse_check_file(f)
        assert spec.checks, f


def test_design_example_is_accepted_as_written() -> None:
    """checks/dw/fact_playback.yaml and quinto.yaml are DESIGN.md's examples, verbatim."""
    design = (
        (ROOT.parent / "shared" / "DESIGN.md").read_text(encoding="utf-8")
        if (ROOT.parent / "shared" / "DESIGN.md").exists()
        else None
    )
    if design is not None:
        blocks = re.findall(r"```yaml\n(.*?)```", design, re.S)
        assert blocks[0] == (ROOT / "checks" / "dw" / "fact_playback.yaml").read_text(encoding="utf-8")
        assert blocks[1] == (ROOT / "quinto.yaml").read_text(encoding="utf-8")
    project = load_project(ROOT / "quinto.yaml")
    suite = load_suite(project)
    spec = suite.tables["dw.fact_playback"]
    assert spec.connection == "warehouse" and spec.partition == "ds"
    assert [c.type for c in spec.checks] == [
        "row_count",
        "row_count",
        "row_count",
        "missing_count",
        "duplicate_count",
        "invalid_percent",
        "avg",
        "freshness",
        "metric",
        "sql",
    ]
    anomaly = spec.checks[1].anomaly
    assert anomaly is not None and (anomaly.window, anomaly.sigma, anomaly.same_weekday, anomaly.min_history) == (
        28,
        3.0,
        True,
        None,  # resolved per partition: 14 for daily partitions (two of each weekday)
    )
    assert spec.checks[2].change and spec.checks[2].condition is not None
    assert spec.checks[5].condition.values[0].number == pytest.approx(0.1)  # type: ignore[union-attr]
    assert spec.checks[7].condition.values[0].number == 26 * 3600  # type: ignore[union-attr]
    assert spec.checks[9].sql is not None and ":partition" in spec.checks[9].sql
    assert str(spec.checks[0].location).endswith("fact_playback.yaml:8:5")


@pytest.mark.parametrize(
    "text, op, values",
    [
        ("row_count > 0", ">", [0]),
        ("avg(x) between 60 and 7200", "between", [60, 7200]),
        ("avg(x) not between -1.5 and 2e3", "not between", [-1.5, 2000]),
        ("freshness(ts) <= 1d12h", "<=", [129600]),
        ("missing_percent(c) < 0.1%", "<", [0.1]),
        ("row_count change vs previous partition between -30% and +50%", "between", [-30, 50]),
        ("max(x) != 3", "!=", [3]),
        ("max(x) == 3", "=", [3]),
    ],
)
def test_check_lines(text: str, op: str, values: list[float]) -> None:
    line = parse_check_line(text)
    assert line.condition is not None and line.condition.op == op
    assert [v.number for v in line.condition.values] == values


def test_quoted_identifiers_and_reference() -> None:
    line = parse_check_line('duplicate_count("Play Id", `order`) = 0')
    assert [a.text for a in line.args or ()] == ["Play Id", "order"]
    ref = parse_check_line("reference(title_id) in dw.dim_title(title_id)")
    assert ref.reference is not None and ref.reference[0] == "dw.dim_title"


@pytest.mark.parametrize(
    "text",
    [
        "row_count >> 0",
        "avg(x) between 5 and 1",
        "row_count > 5 6",
        "avg(x",
        "row_count > abc",
        "x change vs last week < 5",
    ],
)
def test_bad_lines(text: str) -> None:
    with pytest.raises(GrammarError):
        parse_check_line(text)


def test_condition_semantics() -> None:
    c = parse_condition("when between 1 and 3")
    assert c.holds(1) and c.holds(3) and not c.holds(3.01)
    assert parse_condition("> 10").bounds() == (10, None)


def test_every_check_type_and_setting_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in CHECK_TYPES:
        assert f"`{name}`" in readme, f"check type {name} is not documented in README.md"
    for setting in SETTINGS:
        assert f"`{setting.name}`" in readme, f"setting {setting.name} is not documented in README.md"
        for key in setting.keys:
            name = f"{setting.name}.{key.name}"
            assert f"`{name}`" in readme, f"setting {name} is not documented in README.md"


@pytest.mark.parametrize(
    "text, vs, n",
    [
        ("row_count change vs previous partition between -30% and +50%", "previous", 1),
        ("row_count change vs same weekday last week between -30% and +50%", "weekday", 7),
        ("sum(x) change vs 7 partitions ago < 20%", "ago", 7),
        ("sum(x) change vs average of last 14 partitions between -10% and +10%", "average", 14),
        ("sum(x) change vs average of last 3 < 5", "average", 3),
    ],
)
def test_change_bases(text: str, vs: str, n: int) -> None:
    line = parse_check_line(text)
    assert line.change is not None and (line.change.vs, line.change.n) == (vs, n)


@pytest.mark.parametrize(
    "text, message",
    [
        ("row_count change vs last week < 5%", "expected one of 'vs previous partition'"),
        ("row_count change vs 0 partitions ago < 5%", "whole number"),
        ("row_count change vs average of last 1 < 5%", "at least 2"),
        ("row_count change vs 3 days ago < 5%", "expected 'partitions ago'"),
    ],
)
def test_bad_change_bases(text: str, message: str) -> None:
    with pytest.raises(GrammarError, match=re.escape(message)):
        parse_check_line(text)


@pytest.mark.parametrize(
    "options, message, col",
    [
        ("{direction: drops}", "`direction:` is 'drop', 'spike' or 'both' (did you mean 'drop'?)", 38),
        ("{seasonality: [weekdays]}", "unknown seasonality 'weekdays' (did you mean 'weekday'?)", 40),
        ("{min_change: 5 percent}", "`min_change:` is a percentage (5%)", 39),
        ("{min_change: [5%, 10%]}", "at most one percentage and one amount", 39),
        ("{sigma: 0}", "`sigma:` is a positive number", 34),
        ("{windows: 7}", "unknown anomaly option 'windows' (did you mean 'window'?)", 27),
        ("{same_weekday: yes please}", "`same_weekday:` is true or false", 41),
    ],
)
def test_bad_anomaly_options_are_located(tmp_path: Path, options: str, message: str, col: int) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(f"table: dw.t\npartition: ds\nchecks:\n  - row_count: {{anomaly: {options}}}\n", encoding="utf-8")
    with pytest.raises(SpecError) as exc:
        parse_check_file(f)
    text = str(exc.value)
    assert message in text, text
    assert f"t.yaml:4:{col}" in text, text


def test_anomaly_controls_are_parsed(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(
        "table: dw.t\npartition: ds\nchecks:\n"
        "  - row_count: {anomaly: {seasonality: [weekday, month_day], direction: drop, min_change: [5%, 100]}}\n"
        "  - freshness(ts): {anomaly: {min_change: 2h, seasonality: []}}\n",
        encoding="utf-8",
    )
    first, second = parse_check_file(f).checks
    assert first.anomaly is not None and first.anomaly.seasonality == ("weekday", "month_day")
    assert first.anomaly.direction == "drop"
    assert [(m.amount, m.relative) for m in first.anomaly.min_change] == [(5.0, True), (100.0, False)]
    assert second.anomaly is not None and second.anomaly.seasonality == ()
    assert [(m.amount, m.relative) for m in second.anomaly.min_change] == [(7200.0, False)]


def test_holidays_are_dates(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text("table: dw.t\npartition: ds\nholidays: [2026-12-25, '2027-01-01']\nchecks:\n  - row_count > 0\n")
    assert parse_check_file(f).holidays == ("2026-12-25", "2027-01-01")
    f.write_text("table: dw.t\npartition: ds\nholidays: [2026-12-25, christmas]\nchecks:\n  - row_count > 0\n")
    with pytest.raises(SpecError, match=r"t.yaml:3:24: holiday 'christmas' is not a date like 2026-12-25"):
        parse_check_file(f)
    f.write_text("table: dw.t\npartition: ds\nholidays: 2026-12-25\nchecks:\n  - row_count > 0\n")
    with pytest.raises(SpecError, match=r"t.yaml:3:11: `holidays:` is a list of dates"):
        parse_check_file(f)
