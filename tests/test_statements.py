"""The cost promise: every aggregate check of a table-partition is ONE warehouse statement, counted
independently of Quinto's own bookkeeping with a SQLAlchemy cursor event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from quinto.app import audit
from quinto.engines import connector_for
from quinto.spec import load_project, load_suite
from tests.warehouse import load_tables

TWELVE = """
table: dw.orders
partition: ds
checks:
  - row_count > 0
  - missing_count(user_id) = 0
  - missing_percent(country) < 5%
  - missing_count(email) = 0
  - duplicate_count(id) = 0
  - invalid_count(country) = 0: {valid_values: [US, CA, BR]}
  - invalid_count(device) = 0: {valid_values: [tv, web, mobile]}
  - avg(amount) between 1 and 100
  - invalid_count(email) = 0: {valid_regex: '^[^@]+@[^@]+$'}
  - freshness(created_at) < 26h
  - min(amount) >= 0
  - duplicate_count(user_id, device) < 40
"""

DATA = {
    "dw.orders": {
        "columns": {
            "id": "INTEGER",
            "user_id": "INTEGER",
            "country": "VARCHAR",
            "device": "VARCHAR",
            "email": "VARCHAR",
            "amount": "DOUBLE",
            "created_at": "TIMESTAMP",
            "ds": "VARCHAR",
        },
        "rows": [
            [
                i,
                i % 7,
                ["US", "CA", "BR"][i % 3],
                ["tv", "web", "mobile"][i % 3],
                f"u{i}@x.org",
                5.0 + i,
                f"2026-11-01T{i % 24:02d}:00:00",
                "2026-11-01",
            ]
            for i in range(50)
        ]
        + [[100, 1, "US", "tv", "not-an-email", 3.0, "2026-11-02T01:00:00", "2026-11-02"]],
    }
}


def _project(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("STMT_WAREHOUSE", url)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "orders.yaml").write_text(TWELVE, encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections: {warehouse: '${STMT_WAREHOUSE}'}\n"
        f"store: sqlite:///{tmp_path / 'store.db'}\nchecks: [checks]\n",
        encoding="utf-8",
    )
    project = load_project(tmp_path / "quinto.yaml")
    return project, load_suite(project)


def _count_statements(url: str, run) -> tuple[list[str], object]:  # type: ignore[no-untyped-def]
    """The statements the driver was given: SQLAlchemy's cursor events, or for DuckDB (whose
    connector hands statements to the driver itself) the driver connection's own `execute`."""
    connector = connector_for(url)
    seen: list[str] = []
    if url.startswith("duckdb"):

        class Counted:
            def __init__(self, raw: Any) -> None:
                self.raw = raw

            def execute(self, sql: str, params: Any = None) -> Any:
                seen.append(sql)
                return self.raw.execute(sql, params)

            def __getattr__(self, name: str) -> Any:
                return getattr(self.raw, name)

        import duckdb

        connector._raw = Counted(duckdb.connect(url.removeprefix("duckdb:///"), read_only=True))  # type: ignore[attr-defined]
    else:
        sa.event.listen(
            connector.engine(), "before_cursor_execute", lambda conn, cursor, statement, *args: seen.append(statement)
        )
    result = run(connector)
    connector.close()
    return seen, result


@pytest.mark.parametrize("engine", ["duckdb", "postgres", "mysql"])
def test_twelve_checks_one_statement(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    server = "pg_url" if engine == "postgres" else "mysql_url"
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}" if engine == "duckdb" else request.getfixturevalue(server)
    load_tables(url, DATA)
    project, suite = _project(tmp_path, url, monkeypatch)
    assert len(suite.tables["dw.orders"].checks) == 12
    seen, result = _count_statements(
        url, lambda c: audit("dw.orders", "ds=2026-11-01", project=project, suite=suite, connector=c)
    )
    assert [str(o.status) for o in result.outcomes] == ["PASS"] * 12, [o.message for o in result.outcomes]
    assert len(seen) == 1, seen
    assert len(result.run.statements) == 1
    assert "ds" in seen[0] and "2026-11-01" not in seen[0]  # the partition is a bound parameter


@pytest.mark.parametrize("engine", ["duckdb", "postgres", "mysql"])
def test_backfill_is_one_grouped_statement(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    server = "pg_url" if engine == "postgres" else "mysql_url"
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}" if engine == "duckdb" else request.getfixturevalue(server)
    load_tables(url, DATA)
    project, suite = _project(tmp_path, url, monkeypatch)
    seen, result = _count_statements(
        url, lambda c: audit("dw.orders", ["ds=2026-11-01", "ds=2026-11-02"], project=project, suite=suite, connector=c)
    )
    scans = [s for s in seen if "quinto_partition" in s]
    assert len(scans) == 1
    statuses = {(o.partition, o.check): str(o.status) for o in result.outcomes}
    assert statuses[("2026-11-02", "invalid_count(email) = 0")] == "FAIL"
    assert statuses[("2026-11-01", "invalid_count(email) = 0")] == "PASS"
    # the only other statement fetches failing-row samples of the failed check
    assert len(seen) == 2 and "LIMIT" in seen[1].upper()


def test_postgresql_counts_distinct_keys_by_hashing_in_the_same_statement() -> None:
    from quinto.checks import Aggregate
    from quinto.compile import PartitionColumn, compile_scan
    from quinto.engines.duckdb import DuckDBDialect
    from quinto.engines.postgres import PostgresDialect

    aggs = [Aggregate("row_count", ()), Aggregate("distinct_rows", ("id",)), Aggregate("distinct_rows", ("a", "b"))]
    for parts in (["2026-11-01"], ["2026-11-01", "2026-11-02"]):
        pg = compile_scan(PostgresDialect(), "dw.t", PartitionColumn("ds"), parts, aggs)
        assert "DISTINCT" not in pg.sql and pg.sql.count("GROUP BY") == (2 if len(parts) == 1 else 5)
        assert list(pg.aliases) == ["m0", "m1", "m2"]
        duck = compile_scan(DuckDBDialect(), "dw.t", PartitionColumn("ds"), parts, aggs)
        assert "DISTINCT" not in duck.sql  # DuckDB's form is the grouped one too (bench/distinct_forms.py)
        counted = compile_scan(DuckDBDialect(), "dw.t", PartitionColumn("ds"), parts, aggs, "count")
        assert counted.sql.count("COUNT(DISTINCT") == 2
