"""History end to end on a real DuckDB warehouse and SQLite/PostgreSQL stores: baselines learn only
from good partitions, a repaired partition passes on rerun, marks steer baselines, a changed
definition starts a new history, and backfill is one grouped scan per chunk."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from quinto.app import audit, backfill
from quinto.baseline import Point
from quinto.spec import load_project, load_suite
from quinto.store import Store
from tests.warehouse import load_tables

DAYS = [(dt.date(2026, 10, 1) + dt.timedelta(days=i)).isoformat() for i in range(12)]
CHECKS = """
table: dw.events
partition: ds
checks:
  - row_count:
      anomaly: {window: 10, sigma: 3, min_history: 5}
  - row_count change vs previous partition between -50% and +100%
  - invalid_count(kind) = 0: {valid_values: [a, b]}
"""


def rows_for(day: str, n: int, bad_kind: bool = False) -> list[list[object]]:
    return [[i, "z" if bad_kind and i == 0 else "ab"[i % 2], day] for i in range(n)]


def build(
    tmp_path: Path, counts: dict[str, int], monkeypatch: pytest.MonkeyPatch, store_url: str, checks: str = CHECKS
) -> tuple[object, object, str]:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    rows: list[list[object]] = []
    for day, n in counts.items():
        rows += rows_for(day, n)
    load_tables(url, {"dw.events": {"columns": {"id": "INTEGER", "kind": "VARCHAR", "ds": "VARCHAR"}, "rows": rows}})
    monkeypatch.setenv("HIST_WAREHOUSE", url)
    monkeypatch.setenv("HIST_STORE", store_url)
    (tmp_path / "checks").mkdir(exist_ok=True)
    (tmp_path / "checks" / "events.yaml").write_text(checks, encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections: {warehouse: '${HIST_WAREHOUSE}'}\nstore: '${HIST_STORE}'\nchecks: [checks]\n", encoding="utf-8"
    )
    project = load_project(tmp_path / "quinto.yaml")
    return project, load_suite(project), url


def statuses(result: object, check: str) -> dict[str, str]:
    return {o.partition: str(o.status) for o in result.outcomes if o.check == check}  # type: ignore[attr-defined]


def values(points: list[Point]) -> list[tuple[str, float]]:
    return [(p.partition, p.value) for p in points]


def normal(i: int) -> int:
    return 100 + (i * 7) % 11


def test_repaired_partition_passes_on_rerun(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
    counts = {d: normal(i) for i, d in enumerate(DAYS)}
    counts[DAYS[10]] = 20  # a broken load
    project, suite, url = build(tmp_path, counts, monkeypatch, store_url)
    first = audit("dw.events", DAYS[:11], project=project, suite=suite)
    assert statuses(first, "row_count anomaly")[DAYS[10]] == "FAIL"
    assert statuses(first, "row_count anomaly")[DAYS[9]] == "PASS"
    # the ETL team repairs the partition and reruns the audit
    counts[DAYS[10]] = normal(10)
    build(tmp_path, counts, monkeypatch, store_url)
    rerun = audit("dw.events", DAYS[10], project=project, suite=suite)
    assert statuses(rerun, "row_count anomaly") == {DAYS[10]: "PASS"}
    assert statuses(rerun, "row_count change vs previous partition between -50% and +100%") == {DAYS[10]: "PASS"}
    anomaly = next(o for o in rerun.outcomes if o.check == "row_count anomaly")
    assert anomaly.band_low is not None and anomaly.band_low < normal(10) < anomaly.band_high  # type: ignore[operator]
    # the next day learns from the repaired value, not the broken one
    store = Store(store_url)
    hist = store.results.history("dw.events", {anomaly.fingerprint}, before=DAYS[11])[anomaly.fingerprint]
    assert (DAYS[10], float(normal(10))) in values(hist) and all(v != 20 for _, v in values(hist))


def test_a_failed_partition_teaches_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
    counts = {d: normal(i) for i, d in enumerate(DAYS)}
    counts[DAYS[5]] = 30  # a broken load: fails the change rule and the anomaly band
    project, suite, _ = build(tmp_path, counts, monkeypatch, store_url)
    result = audit("dw.events", DAYS, project=project, suite=suite)
    change = statuses(result, "row_count change vs previous partition between -50% and +100%")
    assert change[DAYS[0]] == "LEARNING"  # nothing to compare with yet: not judged, not WARN
    assert change[DAYS[5]] == "FAIL"
    assert change[DAYS[6]] == "PASS"  # compared with DAYS[4], not the failed DAYS[5]
    message = next(o.message for o in result.outcomes if o.partition == DAYS[6] and "change" in o.check)
    assert f"on {DAYS[4]}" in message and f"skipped {DAYS[5]}" in message
    anomaly = statuses(result, "row_count anomaly")
    assert [anomaly[d] for d in DAYS[:5]] == ["LEARNING"] * 5  # min_history: 5
    assert anomaly[DAYS[5]] == "FAIL"
    learnt = next(o for o in result.outcomes if o.check == "row_count anomaly" and o.partition == DAYS[6])
    assert learnt.status == "PASS" and "learnt from 5 partitions" in learnt.message  # DAYS[5] weighs nothing


def test_marks_steer_the_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
    counts = {d: normal(i) for i, d in enumerate(DAYS)}
    project, suite, _ = build(tmp_path, counts, monkeypatch, store_url)
    result = audit("dw.events", DAYS[:8], project=project, suite=suite)
    fp = next(o.fingerprint for o in result.outcomes if o.check == "row_count anomaly")
    store = Store(store_url)
    assert len(store.results.history("dw.events", {fp}, before=DAYS[8])[fp]) == 8
    store.marks.set("dw.events", DAYS[3], "bad", "duplicated load")
    assert DAYS[3] not in dict(values(store.results.history("dw.events", {fp}, before=DAYS[8])[fp]))
    store.marks.set("dw.events", DAYS[3], "good", "false alarm")
    assert DAYS[3] in dict(values(store.results.history("dw.events", {fp}, before=DAYS[8])[fp]))
    assert store.marks.of("dw.events") == {DAYS[3]: "good"}


def test_a_fail_of_another_check_leaves_the_baseline_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    counts = {d: normal(i) for i, d in enumerate(DAYS)}
    project, suite, url = build(tmp_path, counts, monkeypatch, store_url)
    load_tables(
        url,
        {
            "dw.events": {
                "columns": {"id": "INTEGER", "kind": "VARCHAR", "ds": "VARCHAR"},
                "rows": [r for i, d in enumerate(DAYS) for r in rows_for(d, normal(i), i == 2)],
            }
        },
    )
    result = audit("dw.events", DAYS[:4], project=project, suite=suite)
    assert statuses(result, "invalid_count(kind) = 0")[DAYS[2]] == "FAIL"
    fp = next(o.fingerprint for o in result.outcomes if o.check == "row_count anomaly")
    store = Store(store_url)
    point = next(p for p in store.results.history("dw.events", {fp}, before=DAYS[5])[fp] if p.partition == DAYS[2])
    assert point.failed_by == frozenset()  # row_count did not fail there
    store.marks.set("dw.events", DAYS[2], "good", "the 'z' kind is a new valid value")
    point = next(p for p in store.results.history("dw.events", {fp}, before=DAYS[5])[fp] if p.partition == DAYS[2])
    assert point.good and not point.starts_regime()


def test_changed_definition_starts_a_new_history(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    counts = {d: normal(i) for i, d in enumerate(DAYS)}
    project, suite, _ = build(tmp_path, counts, monkeypatch, store_url)
    audit("dw.events", DAYS[:8], project=project, suite=suite)
    changed = CHECKS.replace("valid_values: [a, b]", "valid_values: [a, b, c]").replace(
        "row_count change vs previous partition", "missing_count(kind) change vs previous partition"
    )
    (tmp_path / "checks" / "events.yaml").write_text(changed, encoding="utf-8")
    suite2 = load_suite(project)
    result = audit("dw.events", DAYS[8], project=project, suite=suite2)
    by_check = {o.check: o for o in result.outcomes}
    assert by_check["row_count anomaly"].status == "PASS"  # same definition: history kept
    change = by_check["missing_count(kind) change vs previous partition between -50% and +100%"]
    assert change.status == "LEARNING" and "no earlier good partition" in change.message  # a new history


def test_history_is_one_store_query_per_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store_url: str
) -> None:
    counts = {d: normal(i) for i, d in enumerate(DAYS)}
    project, suite, _ = build(tmp_path, counts, monkeypatch, sqlite_store_url)
    store = Store(sqlite_store_url)
    audit("dw.events", DAYS[:5], project=project, suite=suite, store=store)
    seen: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda c, cur, stmt, *a: seen.append(stmt))
    audit("dw.events", DAYS[5], project=project, suite=suite, store=store)
    assert sum(1 for s in seen if "FROM metric_values" in s and s.lstrip().upper().startswith("SELECT")) == 1


def test_backfill_one_grouped_scan_per_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store_url: str
) -> None:
    counts = {d: normal(i) for i, d in enumerate(DAYS)}
    project, suite, _ = build(tmp_path, counts, monkeypatch, sqlite_store_url)
    seen: list[tuple[int, int]] = []
    results = backfill(
        "dw.events",
        DAYS[1],
        DAYS[10],
        project=project,
        suite=suite,
        chunk=4,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert [r.run.partitions for r in results] == [DAYS[1:5], DAYS[5:9], DAYS[9:11]]
    assert seen == [(4, 10), (8, 10), (10, 10)]
    for r in results:
        assert [s["purpose"] for s in r.run.statements] == ["scan"]
        assert "GROUP BY" in r.run.statements[0]["sql"]
    anomaly = statuses(results[2], "row_count anomaly")
    assert anomaly == {DAYS[9]: "PASS", DAYS[10]: "PASS"}  # learnt from the earlier chunks' stored values


def _skipping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str, checks: str) -> tuple[object, object]:
    """dw.events with partitions 2026-10-01..03 of 1, 2 and 3 rows, 10-02's `kind` not a number, and
    a partition_format that refuses 10-02: a backfill skips it, though it lies between the others."""
    head = "table: dw.events\npartition: ds\npartition_format: '2026-10-0[13]'\nchecks:\n"
    project, suite, url = build(tmp_path, {}, monkeypatch, store_url, head + checks)
    rows = [[i, "x" if n == 2 else "1", f"2026-10-0{n}"] for n in (1, 2, 3) for i in range(n)]
    load_tables(url, {"dw.events": {"columns": {"id": "INTEGER", "kind": "VARCHAR", "ds": "VARCHAR"}, "rows": rows}})
    return project, suite


def counted(result: object) -> dict[str, object]:
    return {o.partition: o.value for o in result.outcomes}  # type: ignore[attr-defined]


def test_backfill_scans_a_chunk_as_a_range_without_counting_what_it_was_not_asked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store_url: str
) -> None:
    """A backfill's chunk is filtered as the range from its first partition to its last; the rows of
    a partition inside it that the backfill skipped are not counted in any partition's values."""
    project, suite = _skipping(tmp_path, monkeypatch, sqlite_store_url, "  - row_count > 0\n")
    warned: list[str] = []
    (result,) = backfill("dw.events", "2026-10-01", project=project, suite=suite, chunk=5, warn=warned.append)
    assert result.run.partitions == ["2026-10-01", "2026-10-03"] and "2026-10-02" in warned[0]
    (scan,) = result.run.statements
    assert ">=" in scan["sql"] and " IN " not in scan["sql"], scan["sql"]
    assert counted(result) == {"2026-10-01": 1, "2026-10-03": 3}


def test_a_range_broken_by_rows_it_was_not_asked_for_is_sent_again_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store_url: str
) -> None:
    """The skipped partition's text fails the check's cast: the range fails, the same chunk by value
    passes, and no check is blamed for data outside the audit."""
    checks = '  - kinds >= 0: {metric: "sum(CAST(kind AS INTEGER))"}\n'
    project, suite = _skipping(tmp_path, monkeypatch, sqlite_store_url, checks)
    (result,) = backfill("dw.events", "2026-10-01", project=project, suite=suite, chunk=5)
    assert [str(o.status) for o in result.outcomes] == ["PASS", "PASS"], [o.message for o in result.outcomes]
    assert counted(result) == {"2026-10-01": 1, "2026-10-03": 3}
    first, second = (s["sql"] for s in result.run.statements if s["purpose"] == "scan")
    assert ">=" in first and " IN " in second


def test_partitions_an_engine_may_order_otherwise_are_scanned_by_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store_url: str
) -> None:
    """In a case-blind (NOCASE) column 'b' sorts between 'A' and 'C', where Quinto has A < C < b: a
    range from the first to the last would miss C or hold b. Values of different shapes are filtered
    by value."""
    checks = "table: dw.events\npartition: ds\nchecks:\n  - row_count > 0\n"
    project, suite, url = build(tmp_path, {}, monkeypatch, sqlite_store_url, checks)
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("DROP TABLE dw.events")
    con.execute("CREATE TABLE dw.events (id INTEGER, ds VARCHAR COLLATE NOCASE)")
    rows = [[i, p] for p, n in (("A", 1), ("b", 2), ("C", 3)) for i in range(n)]
    con.executemany("INSERT INTO dw.events VALUES (?, ?)", rows)
    con.close()
    first, second = backfill("dw.events", "A", project=project, suite=suite, chunk=2)
    assert first.run.partitions == ["A", "C"] and second.run.partitions == ["b"]
    assert " IN " in first.run.statements[0]["sql"] and ">=" not in first.run.statements[0]["sql"]
    assert counted(first) == {"A": 1, "C": 3} and counted(second) == {"b": 2}
    (whole,) = backfill("dw.events", "A", project=project, suite=suite, chunk=3)
    assert counted(whole) == {"A": 1, "b": 2, "C": 3}


def test_backfill_chunks_integer_partitions_in_number_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_store_url: str
) -> None:
    """Chunks are runs of consecutive partitions: for integer partitions 9 comes before 10 (as text
    '10' < '9': chunks 1, 10, 11, 12, 2 and 3..7 would mix old and new partitions)."""
    checks = "table: dw.events\npartition: ds\npartition_type: integer\nchecks:\n  - row_count > 0\n"
    project, suite, url = build(tmp_path, {}, monkeypatch, sqlite_store_url, checks)
    rows = [[i, "a", b] for b in range(1, 13) for i in range(b)]
    load_tables(url, {"dw.events": {"columns": {"id": "INTEGER", "kind": "VARCHAR", "ds": "INTEGER"}, "rows": rows}})
    results = backfill("dw.events", "1", project=project, suite=suite, chunk=5)
    assert [r.run.partitions for r in results] == [["1", "2", "3", "4", "5"], ["6", "7", "8", "9", "10"], ["11", "12"]]
    assert [counted(r) for r in results][1] == {str(b): b for b in range(6, 11)}
    for r in results:  # each chunk one statement, a range from its smallest number to its largest
        (scan,) = r.run.statements
        assert ">=" in scan["sql"] and " IN " not in scan["sql"], scan["sql"]


def test_integer_partitions_learn_from_the_newest_past_the_history_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str
) -> None:
    """History is read newest first with a cap (400 per metric): for integer partitions newest means
    the largest number, not the largest text ("999" > "1099"), or batch 1100 compared with 999."""
    checks = """
table: dw.events
partition: ds
partition_type: integer
checks:
  - row_count change vs previous partition between -50% and +100%
"""
    project, suite, url = build(tmp_path, {}, monkeypatch, store_url, checks)
    rows = [[i, "a", b] for b in range(1, 1101) for i in range(2)]
    load_tables(url, {"dw.events": {"columns": {"id": "INTEGER", "kind": "VARCHAR", "ds": "INTEGER"}, "rows": rows}})
    backfill("dw.events", "1", "1099", project=project, suite=suite, chunk=1100)
    result = audit("dw.events", "1100", project=project, suite=suite)
    (outcome,) = result.outcomes
    assert "on 1099 (previous good partition)" in outcome.message, outcome.message
