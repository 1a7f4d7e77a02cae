"""A statement past `statement_timeout` is cancelled through the driver: its checks are ERROR with a
clear message, the run is stored, and the other checks keep their values."""

from __future__ import annotations

from pathlib import Path

import pytest

from quinto.app import audit
from quinto.spec import load_project, load_suite
from tests.warehouse import load_tables, project_with, reset

SLOW = {
    "duckdb": "select count(*) from (select sum(hash(i)) as s from range(20000000000) t(i)) x",
    "postgres": "select count(*) from (select pg_sleep(30)) s",
    "hive": "select count(*) from range(100000000000) where id * 7 % 13 = 5",
    "trino": "select count(*) from unnest(sequence(1, 10000)) a(x) cross join unnest(sequence(1, 10000)) b(y) "
    "cross join unnest(sequence(1, 10000)) c(z) where (a.x * b.y + c.z) % 13 = 5",
}
SLOW["presto"] = SLOW["trino"]
# MariaDB's Sequence engine: a table of 10^11 numbers, made up as it is read
SLOW["mysql"] = "select count(*) from seq_1_to_100000000000 where seq * 7 % 13 = 5"


@pytest.mark.parametrize("engine", ["duckdb", "postgres", "mysql", "hive", "trino", "presto"])
def test_slow_statement_is_cancelled(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    if engine == "duckdb":
        url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    else:
        url = request.getfixturevalue("pg_url" if engine == "postgres" else f"{engine}_url")
        if engine != "postgres":
            reset(url)
    load_tables(url, {"dw.t": {"columns": {"id": "INTEGER"}, "rows": [[1], [2]]}})
    project = project_with(
        tmp_path,
        url,
        f'table: dw.t\nchecks:\n  - row_count = 2\n  - slow = 1:\n      sql: "{SLOW[engine]}"\n',
        monkeypatch,
        settings="statement_timeout: 1\n",
    )
    result = audit("dw.t", None, project=project, suite=load_suite(project))
    by_check = {o.check: o for o in result.outcomes}
    assert str(by_check["row_count = 2"].status) == "PASS"
    slow = by_check["slow = 1"]
    assert str(slow.status) == "ERROR" and "cancelled after 1s (statement timeout)" in slow.message
    assert result.exit_code == 3 and result.run.id is not None


def test_a_failing_chunk_errors_only_its_culprit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The engine refuses the statement of one chunk (here: a division by zero in one partition):
    the check that divides is ERROR in that chunk's partitions with the engine's message (the
    check's fault, exit 2), every other value is computed, and the run is stored."""
    url = request.getfixturevalue("pg_url")
    rows = [[1, "2026-11-01"], [2, "2026-11-02"], [3, "2026-11-03"]]
    load_tables(url, {"dw.t": {"columns": {"x": "INTEGER", "ds": "VARCHAR"}, "rows": rows}})
    monkeypatch.setenv("CHUNK_URL", url)
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "t.yaml").write_text(
        'table: dw.t\npartition: ds\nchecks:\n  - row_count = 1\n  - inverse != 0: {metric: "sum(1 / (x - 2))"}\n',
        encoding="utf-8",
    )
    (tmp_path / "quinto.yaml").write_text(
        "connections: {warehouse: '${CHUNK_URL}'}\n"
        f"store: sqlite:///{tmp_path / 's.db'}\nchecks: [checks]\npartitions_per_scan: 1\n",
        encoding="utf-8",
    )
    project = load_project(tmp_path / "quinto.yaml")
    result = audit("dw.t", ["2026-11-01", "2026-11-02", "2026-11-03"], project=project, suite=load_suite(project))
    status = {(o.partition, o.check): str(o.status) for o in result.outcomes}
    assert status[("2026-11-01", "row_count = 1")] == "PASS"
    assert status[("2026-11-03", "inverse != 0")] == "PASS"
    assert status[("2026-11-02", "row_count = 1")] == "PASS"
    assert status[("2026-11-02", "inverse != 0")] == "ERROR"
    failed = next(o for o in result.outcomes if o.partition == "2026-11-02" and o.check == "inverse != 0")
    assert "division by zero" in failed.message and failed.fault == "check"
    assert result.exit_code == 2 and result.run.id is not None
