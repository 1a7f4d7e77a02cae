"""Trust under awkward conditions: failed reruns, odd partition spellings, broken spool files,
passwords with URL characters, relative store paths, severity on anomaly checks."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from quinto.audit import audit
from quinto.evaluate import Status
from quinto.spec import interpolate, load_project, load_suite
from quinto.spec.checkfile import parse_check_file
from quinto.store import Store
from tests.test_bad_input import run_quinto
from tests.test_store import T0, make_run
from tests.warehouse import load_tables, project_with


def test_an_error_rerun_keeps_the_partitions_history(store_url: str) -> None:
    store = Store(store_url)
    store.save_run(make_run("2026-11-01", Status.PASS, 10))
    failed = make_run("2026-11-01", Status.ERROR, 0, T0 + dt.timedelta(hours=1))
    failed.metric_values.clear()  # the warehouse was down: nothing computed
    store.save_run(failed)
    assert [(p.partition, p.value) for p in store.results.history("dw.t", ["fp1"], before="2026-11-02")["fp1"]] == [
        ("2026-11-01", 10.0)
    ]
    assert [r.status for r in store.results.current("dw.t", "2026-11-01")] == ["ERROR"]


def test_unreadable_spool_file_is_set_aside_and_the_rest_replayed(tmp_path: Path, sqlite_store_url: str) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    (spool / "run-20261101T000000000000-aaaa.json").write_text('{"truncated', encoding="utf-8")
    (spool / "run-20261102T000000000000-bbbb.json").write_text(
        make_run("2026-11-02", Status.PASS, 3).to_json(), encoding="utf-8"
    )
    store = Store(sqlite_store_url)
    assert len(store.replay_spool(spool)) == 1
    assert not list(spool.glob("run-*.json"))
    assert [p.name for p in (spool / "unreadable").iterdir()] == ["run-20261101T000000000000-aaaa.json"]


def test_grouped_timestamp_partitions_spelled_as_days(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    rows = [[1, "2026-01-01T00:00:00"], [2, "2026-01-01T00:00:00"], [3, "2026-01-02T00:00:00"]]
    load_tables(url, {"dw.t": {"columns": {"id": "INTEGER", "ts_part": "TIMESTAMP"}, "rows": rows}})
    project = project_with(
        tmp_path,
        url,
        "table: dw.t\npartition: ts_part\npartition_type: timestamp\nchecks:\n  - row_count > 0\n",
        monkeypatch,
    )
    result = audit("dw.t", ["2026-01-01", "2026-01-02"], project=project, suite=load_suite(project))
    assert {o.partition: o.value for o in result.outcomes} == {"2026-01-01": 2, "2026-01-02": 1}


def test_anomaly_options(tmp_path: Path) -> None:
    f = tmp_path / "t.yaml"
    f.write_text(
        "table: dw.t\npartition: ds\nchecks:\n"
        "  - row_count: {anomaly: {window: 5, calibrate: true}}\n"
        "  - sum(x): {anomaly: {window: 3, same_weekday: true}, severity: warn}\n",
        encoding="utf-8",
    )
    first, second = parse_check_file(f).checks
    assert first.anomaly is not None and first.anomaly.calibrate and first.anomaly.min_history is None
    assert second.anomaly is not None and second.anomaly.min_history is None and second.severity == "warn"


def test_severity_warn_applies_to_anomalies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    days = [(dt.date(2026, 10, 1) + dt.timedelta(days=i)).isoformat() for i in range(9)]
    rows = [[i, d] for n, d in enumerate(days) for i in range(100 + n % 3 if n < 8 else 400)]
    load_tables(url, {"dw.t": {"columns": {"id": "INTEGER", "ds": "VARCHAR"}, "rows": rows}})
    project = project_with(
        tmp_path,
        url,
        "table: dw.t\npartition: ds\nchecks:\n  - row_count: {anomaly: {window: 7}, severity: warn}\n",
        monkeypatch,
    )
    result = audit("dw.t", days, project=project, suite=load_suite(project))
    last = result.outcomes[-1]
    assert last.partition == days[-1] and str(last.status) == "WARN" and "above expected" in last.message
    assert result.exit_code == 0


def test_password_with_url_characters_stays_a_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PGPASSWORD", "ab@cd/ef")
    monkeypatch.setenv("PGHOST", "db.internal")
    url = interpolate("postgresql://u:${PGPASSWORD}@${PGHOST}/db")
    assert url == "postgresql://u:ab%40cd%2Fef@db.internal/db"
    from sqlalchemy.engine import make_url

    assert make_url(url).password == "ab@cd/ef" and make_url(url).host == "db.internal"
    monkeypatch.setenv("WAREHOUSE_URL", "duckdb:///a@b.duckdb")
    assert interpolate("${WAREHOUSE_URL}") == "duckdb:///a@b.duckdb"


def test_relative_sqlite_store_is_relative_to_the_project(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    (project / "checks").mkdir(parents=True)
    load_tables(
        f"duckdb:///{project / 'wh.duckdb'}",
        {"dw.t": {"columns": {"id": "INTEGER", "ds": "VARCHAR"}, "rows": [[1, "2026-11-01"]]}},
    )
    (project / "checks" / "t.yaml").write_text(
        "table: dw.t\npartition: ds\nchecks:\n  - row_count > 0\n", encoding="utf-8"
    )
    (project / "quinto.yaml").write_text(
        f"connections: {{warehouse: 'duckdb:///{project / 'wh.duckdb'}'}}\nstore: sqlite:///results/quinto.db\n"
        "checks: [checks]\n",
        encoding="utf-8",
    )
    elsewhere = tmp_path / "cron"
    elsewhere.mkdir()
    proc = run_quinto(["audit", "dw.t", "-p", "ds=2026-11-01", "-c", str(project / "quinto.yaml")], elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert (project / "results" / "quinto.db").exists() and not (elsewhere / "results").exists()
    rows = sqlite3.connect(project / "results" / "quinto.db").execute("select count(*) from runs").fetchone()
    assert rows == (1,)


def test_web_partitions_with_slashes_and_store_errors(sqlite_store_url: str, tmp_path: Path) -> None:
    from quinto.web import create_app

    store = Store(sqlite_store_url)
    store.save_run(make_run("2026/11/01", Status.PASS, 1))
    client = create_app({"QUINTO_STORE": sqlite_store_url}).test_client()
    assert client.get("/tables/dw.t/partitions/2026/11/01").status_code == 200
    assert "2026/11/01" in client.get("/tables/dw.t").get_data(as_text=True)
    broken = create_app({"QUINTO_CONFIG": str(tmp_path / "missing.yaml")}).test_client()
    page = broken.get("/")
    assert page.status_code == 503 and "no such project file" in page.get_data(as_text=True)


def test_integer_partitions_are_judged_in_numeric_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    rows = [[i, batch] for batch, n in ((8, 10), (9, 10), (10, 30)) for i in range(n)]
    load_tables(url, {"dw.t": {"columns": {"id": "INTEGER", "batch": "INTEGER"}, "rows": rows}})
    monkeypatch.setenv("INT_URL", url)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "t.yaml").write_text(
        "table: dw.t\npartition: batch\npartition_type: integer\nchecks:\n"
        "  - row_count change vs previous partition between -50% and +50%\n",
        encoding="utf-8",
    )
    (tmp_path / "quinto.yaml").write_text(
        f"connections: {{warehouse: '${{INT_URL}}'}}\nstore: sqlite:///{tmp_path / 's.db'}\nchecks: [checks]\n",
        encoding="utf-8",
    )
    project = load_project(tmp_path / "quinto.yaml")
    result = audit("dw.t", ["10", "8", "9"], project=project, suite=load_suite(project))
    assert [o.partition for o in result.outcomes] == ["8", "9", "10"]
    assert [str(o.status) for o in result.outcomes] == ["LEARNING", "PASS", "FAIL"]
    assert "vs 10 on 9" in result.outcomes[2].message
