"""Data-driven cases: each file in tests/cases/ is a check file + small data + expected outcomes.
Every case runs on every warehouse engine: DuckDB, SQLite, PostgreSQL, MariaDB, Hive (Spark Thrift
Server), Trino and Presto, and must give the same outcomes and the same values everywhere (floats within
1e-6 relative). A case that an engine cannot run says so (`engines:` and `engines_why:`).

SQLite names a schema by attaching a database file: on SQLite, each schema the case's tables use
(`dw` of `dw.orders`) is a file attached to every connection the test opens, the loader's and the
connector's alike (a SQLAlchemy `connect` event, removed after the test)."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from quinto.app import audit, mark
from quinto.compile import DISTINCT_FORMS
from quinto.engines import connector_for
from quinto.spec import load_project, load_suite
from tests.warehouse import load_tables, reset

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
ENGINES = ["duckdb", "sqlite", "postgres", "mysql", "hive", "trino", "presto"]


def load_case(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run_case(
    case: dict[str, Any], url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, list[dict[str, Any]]]:
    monkeypatch.setenv("QUINTO_CASE_URL", url)
    load_tables(url, case.get("tables") or {})
    (tmp_path / "checks").mkdir(exist_ok=True)
    (tmp_path / "checks" / "case.yaml").write_text(case["check_file"], encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections:\n  warehouse: ${QUINTO_CASE_URL}\n"
        f"store: sqlite:///{tmp_path / 'store.db'}\n"
        f"checks: [{tmp_path / 'checks'}]\n",
        encoding="utf-8",
    )
    project = load_project(tmp_path / "quinto.yaml")
    suite = load_suite(project)
    table = next(iter(suite.tables))
    now = case.get("now")
    now_dt = dt.datetime.fromisoformat(str(now).replace("Z", "+00:00")) if now else None
    spec = suite.tables[table]
    # `steps:` audits and marks in order (e.g. audit, mark a partition good, audit again); the
    # outcomes of every audit step are checked together. Without steps: one audit of `partitions`.
    steps = case.get("steps") or [{"audit": case.get("partitions") or []}]
    result = None
    outcomes = []
    for step in steps:
        if "mark" in step:
            mark(table, f"{spec.partition}={step['mark']}", step["as"], "case", config=tmp_path / "quinto.yaml")
            continue
        args = [f"{spec.partition}={p}" for p in step["audit"]]
        result = audit(table, args, project=project, suite=suite, now=now_dt)
        outcomes += result.outcomes
    assert result is not None
    if len(steps) > 1:
        result.run.outcomes = outcomes
    return result, case["expect"]


def attach_schemas(url: str, files: dict[str, Path]) -> Any:
    """Attach `files` (schema name → database file) to every new connection to the SQLite database
    `url`; returns the function that stops it."""

    def attach(dbapi_connection: Any, record: Any) -> None:
        if f"sqlite:///{_database_of(dbapi_connection)}" == url:
            for schema, path in files.items():
                dbapi_connection.execute(f"ATTACH DATABASE '{path}' AS \"{schema}\"")

    sa.event.listen(sa.engine.Engine, "connect", attach)
    return lambda: sa.event.remove(sa.engine.Engine, "connect", attach)


def _database_of(dbapi_connection: Any) -> str:
    """The file of a SQLite connection's main database ("" for any other connection)."""
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return ""
    rows = dbapi_connection.execute("PRAGMA database_list").fetchall()
    return next((str(r[2]) for r in rows if r[1] == "main"), "")


def check_expectations(result: Any, expect: list[dict[str, Any]], engine: str) -> None:
    by_key = {(o.partition, o.check): o for o in result.outcomes}
    for e in expect:
        # `per_engine: {trino: {value: 3}}`: what an engine documented as computing differently gives
        e = {**e, **(e.get("per_engine", {}).get(engine, {}))}
        part = str(e.get("partition", "*"))
        key = (part, e["check"])
        assert key in by_key, f"no outcome for {key}; have {sorted(by_key)}"
        o = by_key[key]
        assert str(o.status) == e["status"], f"[{engine}] {key}: {o.status} ({o.message}), expected {e['status']}"
        if "value" in e:
            want = e["value"]
            if want is None:
                assert o.value is None, f"[{engine}] {key}: value {o.value}, expected NULL"
            else:
                assert o.value is not None and math.isclose(o.value, float(want), rel_tol=1e-6, abs_tol=1e-9), (
                    f"[{engine}] {key}: value {o.value}, expected {want}"
                )
        if "message" in e:
            assert e["message"] in o.message, f"[{engine}] {key}: message {o.message!r}"
        if "samples" in e:
            assert len(o.samples or []) == e["samples"], f"[{engine}] {key}: {len(o.samples or [])} samples"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_case(
    path: Path, engine: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_engine_case(path, engine, tmp_path, request, monkeypatch)


#: the cases with exact distinct counts, of one partition, of several and of empty partitions
FORM_CASES = [
    "duplicate_count_single_column",
    "duplicate_multi_column",
    "duplicate_composite_key_boundaries",
    "duplicate_percent_grouped",
    "grouped_empty_partition_zeroes",
]


@pytest.mark.parametrize("form", DISTINCT_FORMS)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", FORM_CASES)
def test_distinct_form(
    name: str, engine: str, form: str, tmp_path: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every form of exact distinct counts (`Dialect.DISTINCT_FORM`: the engine's own, and those an
    audit falls back to when the engine runs out of memory) gives the case's values on every engine."""
    run_engine_case(Path(__file__).parent / "cases" / f"{name}.yaml", engine, tmp_path, request, monkeypatch, form)


def run_engine_case(
    path: Path,
    engine: str,
    tmp_path: Path,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    form: str | None = None,
) -> None:
    case = load_case(path)
    case = {**case, **case.get("per_engine", {}).get(engine, {})}  # e.g. per_engine: {trino: {exit_code: 1}}
    if engine not in case.get("engines", ENGINES):
        pytest.skip(f"{path.stem} does not run on {engine}: {case.get('engines_why', 'engine lacks a feature')}")
    if engine == "duckdb":
        url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    elif engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
        schemas = {name.split(".")[0] for name in case.get("tables") or {} if "." in name}
        request.addfinalizer(attach_schemas(url, {s: tmp_path / f"{s}.sqlite" for s in schemas}))
    else:
        url = request.getfixturevalue("pg_server_url" if engine == "postgres" else f"{engine}_url")
        reset(url)
    if form is not None:  # the engine's dialect writes its distinct counts in `form` for this test
        monkeypatch.setattr(type(connector_for(url).dialect), "DISTINCT_FORM", form)
    result, expect = run_case(case, url, tmp_path, monkeypatch)
    check_expectations(result, expect, engine)
    if form is not None:
        distinct = [s for s in result.run.statements if s["purpose"] == "distinct"]
        assert bool(distinct) == (form == "separate"), [s["sql"] for s in result.run.statements]
    if "scan_statements" in case:
        scans = [s for s in result.run.statements if s["purpose"] == "scan"]
        assert len(scans) == case["scan_statements"], [s["sql"] for s in scans]
    if "exit_code" in case:
        assert result.exit_code == case["exit_code"], [(o.check, o.status, o.message) for o in result.outcomes]
