"""What an audit costs the warehouse, and its limits, on real engines: each statement's cost as the
engine reports it (stored, in `--json`, on the run page and in the API), the per-audit budget
`audit_timeout`, and an audit whose one statement runs out of the engine's memory retried in a
lighter form of its distinct counts before anything is an ERROR."""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from quinto.app import audit
from quinto.cli import main
from quinto.engines import connector_for
from quinto.evaluate import Status
from quinto.spec import load_suite
from quinto.store import Store
from tests.warehouse import project_with, run_to_end

DUPLICATES = """table: main.t
checks:
  - row_count > 0
  - duplicate_count(id) = 0
  - duplicate_count(u, d) = 0
"""


def sub(tmp_path: Path, name: str) -> Path:
    (tmp_path / name).mkdir()
    return tmp_path / name


def big_table(path: Path, rows: int) -> None:
    """`rows` rows of unique `id` and unique (`u`, `d`): two distinct counts of `rows` keys each."""
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE t AS SELECT range AS id, range // 7 AS u, 'x' || (range % 7) AS d FROM range({rows})")
    con.close()


def test_duckdb_out_of_memory_retries_in_a_lighter_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under a memory_limit the one statement's hashed distinct counts do not fit, COUNT(DISTINCT)
    does (DuckDB's DISTINCT_FALLBACK): the audit passes with the right counts, and its statements
    show the statement that ran out of memory and the one that replaced it."""
    big_table(tmp_path / "w.duckdb", 3_000_000)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}?memory_limit=60MB&threads=1"
    project = project_with(tmp_path, url, DUPLICATES, monkeypatch)
    result = audit("main.t", project=project, suite=load_suite(project))
    scans = [s for s in result.run.statements if s["purpose"] in ("scan", "distinct")]
    assert "Out of Memory" in (scans[0]["error"] or ""), scans[0]
    assert scans[-1]["error"] is None and "COUNT(DISTINCT" in scans[-1]["sql"].upper()
    assert [(o.check, o.status, o.value) for o in result.outcomes] == [
        ("row_count > 0", Status.PASS, 3_000_000),
        ("duplicate_count(id) = 0", Status.PASS, 0),
        ("duplicate_count(u, d) = 0", Status.PASS, 0),
    ]
    # with no memory limit the engine's own form runs once
    plain = project_with(sub(tmp_path, "plain"), f"duckdb:///{tmp_path / 'w.duckdb'}", DUPLICATES, monkeypatch)
    again = audit("main.t", project=plain, suite=load_suite(plain))
    assert [s["error"] for s in again.run.statements if s["purpose"] == "scan"] == [None]


def test_out_of_memory_everywhere_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When no form fits, every check is ERROR (exit 3) after each form was tried once."""
    big_table(tmp_path / "w.duckdb", 3_000_000)
    url = f"duckdb:///{tmp_path / 'w.duckdb'}?memory_limit=8MB&threads=1"
    project = project_with(tmp_path, url, DUPLICATES, monkeypatch)
    result = audit("main.t", project=project, suite=load_suite(project))
    assert result.exit_code == 3
    assert {o.status for o in result.outcomes} == {Status.ERROR}
    assert "Out of Memory" in result.outcomes[1].message
    failed = [s["sql"] for s in result.run.statements if s["purpose"] in ("scan", "distinct") and s["error"]]
    assert len(failed) == len(set(failed)) == 3  # grouped, count, separate: each once


def test_statement_cost_stored_shown_and_in_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB reports rows read, CPU time and peak memory of each SELECT: stored with the statement,
    in `quinto audit --json`, on the run page and in the API's run."""
    big_table(tmp_path / "w.duckdb", 50_000)
    project_with(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}", DUPLICATES, monkeypatch)
    out = CliRunner().invoke(main, ["audit", "main.t", "--config", str(tmp_path / "quinto.yaml"), "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    scan = next(s for s in doc["statements"] if s["purpose"] == "scan")
    assert scan["rows_scanned"] == 50_000 * 3  # the scan and its two hashed GROUP BYs each read the table
    assert scan["cpu_ms"] > 0 and scan["peak_memory_bytes"] > 0
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    stored = store.runs.statements(doc["run_id"])
    assert next(s for s in stored if s.purpose == "scan").rows_scanned == 150_000
    from web import create_app

    app = create_app({"QUINTO_CONFIG": str(tmp_path / "quinto.yaml")})
    client = app.test_client()
    page = client.get(f"/runs/{doc['run_id']}").get_data(as_text=True)
    assert "150,000 rows read" in page and "Cost in the warehouse" in page
    api = client.get(f"/api/runs/{doc['run_id']}").get_json()
    assert next(s for s in api["statements"] if s["purpose"] == "scan")["rows_scanned"] == 150_000


def test_statement_cost_none_reports_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big_table(tmp_path / "w.duckdb", 1000)
    project = project_with(
        tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}", DUPLICATES, monkeypatch, "statement_cost: none\n"
    )
    result = audit("main.t", project=project, suite=load_suite(project))
    assert all(s["rows_scanned"] is None and s["cpu_ms"] is None for s in result.run.statements)


SLOW = """table: main.t
checks:
  - row_count > 0
  - slow = 0:
      sql: SELECT count(*) FROM range(100000000000) a WHERE a.range < 0
  - also_slow = 0:
      sql: SELECT count(*) FROM range(100000000000) a WHERE a.range < 0
"""


def test_audit_timeout_cancels_and_skips_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A query that would run for hours: past `audit_timeout` it is cancelled, the next statement
    is not started, and both checks are ERROR saying so; the scan that ran in time keeps its value."""
    big_table(tmp_path / "w.duckdb", 1000)
    project = project_with(tmp_path, f"duckdb:///{tmp_path / 'w.duckdb'}", SLOW, monkeypatch, "audit_timeout: 5\n")
    result = audit("main.t", project=project, suite=load_suite(project))
    by = {o.check: o for o in result.outcomes}
    assert by["row_count > 0"].status == Status.PASS
    assert by["slow = 0"].status == Status.ERROR
    assert "audit_timeout of 5s exceeded: statement cancelled" in by["slow = 0"].message
    assert by["also_slow = 0"].status == Status.ERROR
    assert "audit_timeout of 5s exceeded: statement not started" in by["also_slow = 0"].message
    assert [s["purpose"] for s in result.run.statements].count("sql") == 1  # the second was never sent
    assert result.exit_code == 3


def test_audit_timeout_on_postgres(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same on PostgreSQL, with `pg_sleep` as the deterministic slow statement."""
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        run_to_end(conn, "CREATE TABLE t (id integer)")
        run_to_end(conn, "INSERT INTO t VALUES (1), (2)")
    engine.dispose()
    checks = """table: t
checks:
  - row_count > 0
  - slow = 0:
      sql: SELECT CASE WHEN pg_sleep(3600) IS NULL THEN 0 ELSE 0 END
  - after = 0:
      sql: SELECT count(*) FROM t WHERE id < 0
"""
    project = project_with(tmp_path, pg_url, checks, monkeypatch, "audit_timeout: 5\nstatement_timeout: 600\n")
    result = audit("t", project=project, suite=load_suite(project))
    by = {o.check: o for o in result.outcomes}
    assert by["row_count > 0"].status == Status.PASS
    assert by["slow = 0"].status == Status.ERROR and "statement cancelled" in by["slow = 0"].message
    assert by["after = 0"].status == Status.ERROR and "statement not started" in by["after = 0"].message


def test_postgres_explain_cost_only_when_asked(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(pg_url)
    with engine.begin() as conn:
        run_to_end(conn, "CREATE TABLE t AS SELECT g AS id, g % 10 AS u, 'x' AS d FROM generate_series(1, 5000) g")
    engine.dispose()
    checks = DUPLICATES.replace("main.t", "t")
    plain = project_with(tmp_path, pg_url, checks, monkeypatch)
    result = audit("t", project=plain, suite=load_suite(plain))
    assert all(s["rows_scanned"] is None for s in result.run.statements)  # PostgreSQL reports nothing by itself
    asked = project_with(sub(tmp_path, "asked"), pg_url, checks, monkeypatch, "statement_cost: explain\n")
    result = audit("t", project=asked, suite=load_suite(asked))
    scan = next(s for s in result.run.statements if s["purpose"] == "scan")
    assert scan["rows_scanned"] == 15_000 and scan["bytes_scanned"] > 0  # three reads of the table
    assert {o.status for o in result.outcomes} == {Status.PASS, Status.FAIL}


def test_trino_cost(trino_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trino: each statement's query stats are kept. (The retry in a lighter form after running out
    of memory is tested on DuckDB: Trino's memory for one COUNT(DISTINCT) statement under a session
    `query_max_memory` varied from run to run, above and below the limit.)"""
    schema = f"quinto_cost_{os.getpid()}"
    connector = connector_for(trino_url)
    with connector.engine().connect() as conn:
        run_to_end(conn, f"CREATE SCHEMA IF NOT EXISTS hive.{schema}")
        run_to_end(
            conn,
            f"CREATE TABLE hive.{schema}.t AS SELECT CAST(a.x AS bigint) * 10000 + b.y AS id, "
            "CAST(a.x AS bigint) * 10000 + b.y AS u, 'x' AS d "
            "FROM UNNEST(sequence(0, 49)) a(x) CROSS JOIN UNNEST(sequence(0, 9999)) b(y)",
        )
    connector.close()
    try:
        checks = DUPLICATES.replace("main.t", f"hive.{schema}.t")
        project = project_with(tmp_path, trino_url, checks, monkeypatch)
        result = audit(f"hive.{schema}.t", project=project, suite=load_suite(project))
        assert [o.value for o in result.outcomes] == [500_000, 0, 0]
        scan = next(s for s in result.run.statements if s["purpose"] == "scan")
        assert (
            scan["rows_scanned"] == 3 * 500_000 and scan["cpu_ms"] > 0
        )  # the scan and its two GROUP BYs and scan["peak_memory_bytes"] > 0
    finally:
        with connector.engine().connect() as conn:
            run_to_end(conn, f"DROP TABLE IF EXISTS hive.{schema}.t")
            run_to_end(conn, f"DROP SCHEMA IF EXISTS hive.{schema}")
        connector.close()
