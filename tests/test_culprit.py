"""One broken check never blinds the others; an absent partition is named; every problem of a
check file in one round. On real DuckDB, SQLite and PostgreSQL warehouses (Spark, Trino and Presto
run the same through tests/cases/ and tests/test_engines.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from quinto.audit import audit, validate
from quinto.engines import connector_for
from quinto.engines.base import _looks_like_infra
from quinto.errors import SpecError
from quinto.evaluate import Status
from quinto.results import Outcome, Run
from quinto.spec import load_suite
from quinto.store import Store
from tests.test_bad_input import run_quinto
from tests.test_store import T0
from tests.warehouse import load_tables, project_with

ROWS = [  # id, account_id, amount, country, ds
    [1, 10, 20.0, "US", "2026-11-23"],
    [2, 11, 25.0, "CA", "2026-11-23"],
    [3, None, 20.0, "US", "2026-11-24"],
    [4, None, 1500.0, "US", "2026-11-24"],
    [5, 12, 30.0, "BR", "2026-11-24"],
]
COLUMNS = {"id": "INTEGER", "account_id": "INTEGER", "amount": "DOUBLE", "country": "VARCHAR", "ds": "VARCHAR"}
CHECKS = """table: payments
partition: ds
checks:
  - row_count > 0
  - big_payments < 5: {metric: "count(case when amountt > 1000 then 1 end)"}
  - missing_count(account_id) = 0
  - avg(amount) between 1 and 5000
  - duplicate_count(id) = 0
"""


@pytest.fixture(params=["duckdb", "sqlite", "postgres"])
def warehouse(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url = str(request.getfixturevalue("pg_url"))
    else:
        url = f"{request.param}:///{tmp_path / 'wh.db'}"
    load_tables(url, {"payments": {"columns": COLUMNS, "rows": ROWS}})
    return url


def by_check(result):  # type: ignore[no-untyped-def]
    return {(o.partition, o.check): o for o in result.outcomes}


def test_a_misspelt_metric_is_the_only_error_and_the_rest_is_judged(
    warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_with(tmp_path, warehouse, CHECKS, monkeypatch)
    result = audit("payments", ["ds=2026-11-23", "ds=2026-11-24"], project=project, suite=load_suite(project))
    got = by_check(result)
    for part in ("2026-11-23", "2026-11-24"):
        broken = got[(part, "big_payments < 5")]
        assert broken.status == Status.ERROR and broken.fault == "check" and broken.value is None
        assert "amountt" in broken.message and "did you mean 'amount'?" in broken.message
        assert broken.source.endswith("t.yaml:5:5")  # the check's own line
    assert got[("2026-11-24", "missing_count(account_id) = 0")].status == Status.FAIL  # the NULL keys are seen
    assert got[("2026-11-24", "missing_count(account_id) = 0")].value == 2
    assert got[("2026-11-23", "avg(amount) between 1 and 5000")].value == pytest.approx(22.5)
    others = [o for o in result.outcomes if o.check != "big_payments < 5"]
    assert all(o.status != Status.ERROR and o.fault is None for o in others)
    assert result.exit_code == 1  # a FAIL wins: do not publish
    assert result.run.error is None
    # the culprit is stored with its fault, and no value of it enters the history
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    stored = {r.check_key: r.fault for r in store.results.of_run(result.run.id or 0)}
    assert stored["big_payments < 5"] == "check" and stored["row_count > 0"] is None
    with store.engine.connect() as conn:
        metrics = {r[0] for r in conn.execute(sa.text("SELECT metric_key FROM metric_values"))}
    assert "big_payments" not in metrics and "row_count" in metrics
    store.close()


def test_only_a_checks_fault_is_exit_2_and_the_probe_reads_nothing(
    warehouse: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = project_with(
        tmp_path, warehouse, CHECKS.replace("missing_count(account_id) = 0", "row_count < 9"), monkeypatch
    )
    result = audit("payments", "ds=2026-11-23", project=project, suite=load_suite(project))
    assert result.exit_code == 2, [(o.check, o.status, o.message) for o in result.outcomes]
    assert [o.check for o in result.outcomes if o.status == Status.ERROR] == ["big_payments < 5"]
    probes = [s for s in result.run.statements if s["purpose"] == "probe"]
    assert probes and all("1 = 0" in s["sql"] and s["rows"] <= 1 for s in probes)
    scans = [s for s in result.run.statements if s["purpose"] == "scan"]
    assert len(scans) == 2 and scans[0]["error"] and not scans[1]["error"]
    assert "amountt" not in scans[1]["sql"]


def test_json_shows_the_fault_and_the_text_the_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"duckdb:///{tmp_path / 'wh.db'}"
    load_tables(url, {"payments": {"columns": COLUMNS, "rows": ROWS}})
    project_with(tmp_path, url, CHECKS, monkeypatch)
    env = {"QUINTO_TEST_WAREHOUSE": url}
    proc = run_quinto(["audit", "payments", "-p", "ds=2026-11-23", "--json"], tmp_path, env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    doc = json.loads(proc.stdout)
    faults = {o["check"]: o["fault"] for o in doc["outcomes"]}
    assert faults["big_payments < 5"] == "check" and faults["row_count > 0"] is None
    proc = run_quinto(["audit", "payments", "-p", "ds=2026-11-24"], tmp_path, env)
    assert proc.returncode == 1
    (line,) = [x for x in proc.stdout.splitlines() if x.startswith("ERROR")]
    assert "big_payments < 5" in line and "checks/t.yaml:5:5" in line
    proc = run_quinto(["backfill", "payments", "--since", "2026-11-01"], tmp_path, env)
    assert proc.returncode == 2, proc.stdout + proc.stderr  # every partition stored, the broken check named
    assert "2026-11-23: big_payments < 5 (ERROR)" in proc.stdout


@pytest.mark.parametrize("engine", ["duckdb", "postgres"])
def test_a_runtime_error_is_found_by_halving_real_scans(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("pg_url")) if engine == "postgres" else f"duckdb:///{tmp_path / 'wh.db'}"
    load_tables(url, {"payments": {"columns": COLUMNS, "rows": ROWS}})
    checks = CHECKS.replace("count(case when amountt > 1000 then 1 end)", "sum(cast(country as integer))")
    project = project_with(tmp_path, url, checks, monkeypatch)
    result = audit("payments", "ds=2026-11-23", project=project, suite=load_suite(project))
    errors = [(o.check, o.fault) for o in result.outcomes if o.status == Status.ERROR]
    assert errors == [("big_payments < 5", "check")], [o.message for o in result.outcomes]
    assert "failed computing this check" in by_check(result)[("2026-11-23", "big_payments < 5")].message
    assert result.exit_code == 2
    # every aggregate compiles: no probe blames one; real scans found it
    assert len([s for s in result.run.statements if s["purpose"] == "scan" and not s["error"]]) >= 2


def test_the_warehouse_failing_is_its_fault_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = project_with(tmp_path, "postgresql+psycopg://q@127.0.0.1:1/none", CHECKS, monkeypatch)
    result = audit("payments", "ds=2026-11-23", project=project, suite=load_suite(project))
    assert result.exit_code == 3
    assert {o.fault for o in result.outcomes} == {"warehouse"}
    assert not [s for s in result.run.statements if s["purpose"] == "probe"]  # nothing is bisected


def test_exit_code_precedence() -> None:
    def run(*outcomes: tuple[Status, str | None]) -> Run:
        r = Run("t", "w", "ds", ["p"], T0)
        r.outcomes = [
            Outcome("t", "p", f"c{i}", "row_count", "row_count", "fp", s, None, "", "", "f:1:1", fault=f)
            for i, (s, f) in enumerate(outcomes)
        ]
        return r

    assert run((Status.PASS, None), (Status.WARN, None)).verdict_code == 0
    assert run((Status.ERROR, "check"), (Status.PASS, None)).verdict_code == 2
    assert run((Status.ERROR, "check"), (Status.ERROR, "warehouse")).verdict_code == 3
    assert run((Status.ERROR, None)).verdict_code == 3  # stored before faults were: the warehouse's
    assert run((Status.ERROR, "warehouse"), (Status.FAIL, None)).verdict_code == 1
    assert run((Status.ERROR, "check"), (Status.FAIL, None)).verdict_code == 1
    with_error = run((Status.ERROR, "check"))
    with_error.error = "history unavailable: store down"
    assert with_error.verdict_code == 3
    assert Run.from_json(run((Status.ERROR, "check")).to_json()).outcomes[0].fault == "check"


@pytest.mark.parametrize(
    "message,infra",
    [
        ('Binder Error: Referenced column "amountt" not found in FROM clause!', False),
        ("no such column: amountt", False),
        ('invalid input syntax for type integer: "US"', False),
        ("TYPE_MISMATCH: line 1:8: Cannot apply operator: varchar = date", False),
        ("Out of Memory Error: could not allocate block of size 256KB", True),
        ("EXCEEDED_LOCAL_MEMORY_LIMIT: Query exceeded per-node memory limit of 1GB", True),
        ("permission denied for table payments", True),
        ("cancelled after 5s (statement timeout)", True),
        ("canceling statement due to statement timeout", True),
        ('Referenced column "cancelled_att" not found in FROM clause! Candidate bindings: "cancelled_at"', False),
        ("column `permission_denied_count` cannot be resolved", False),
    ],
)
def test_which_messages_are_the_warehouses_fault(message: str, infra: bool) -> None:
    assert _looks_like_infra(message) is infra


@pytest.mark.parametrize("engine", ["duckdb", "sqlite", "postgres"])
def test_a_partition_the_table_does_not_have_is_not_found(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("pg_url")) if engine == "postgres" else f"{engine}:///{tmp_path / 'wh.db'}"
    load_tables(url, {"payments": {"columns": COLUMNS, "rows": ROWS}})
    checks = "table: payments\npartition: ds\nchecks:\n  - row_count >= 0\n  - avg(amount) > 0\n"
    project = project_with(tmp_path, url, checks, monkeypatch)
    suite = load_suite(project)
    result = audit("payments", ["ds=2026-13-05", "ds=2026-11-24"], project=project, suite=suite)
    got = by_check(result)
    absent = got[("2026-13-05", "row_count >= 0")]
    assert absent.status == Status.FAIL and absent.value is None
    assert "partition ds=2026-13-05 NOT FOUND in payments" in absent.message
    assert "newest present: 2026-11-24, 2026-11-23" in absent.message
    assert (
        got[("2026-11-24", "row_count >= 0")].value == 3 and got[("2026-11-24", "row_count >= 0")].status == Status.PASS
    )
    assert result.exit_code == 1
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    assert {r.partition_value for r in store.results.current("payments")} == {"2026-13-05", "2026-11-24"}
    with store.engine.connect() as conn:
        parts = {r[0] for r in conn.execute(sa.text("SELECT partition_value FROM metric_values"))}
    assert parts == {"2026-11-24"}  # never a baseline value for a partition that is not there
    store.close()


def test_a_table_may_allow_empty_partitions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    load_tables(url, {"payments": {"columns": COLUMNS, "rows": ROWS}})
    checks = "table: payments\npartition: ds\nempty_partitions: allowed\nchecks:\n  - row_count >= 0\n"
    project = project_with(tmp_path, url, checks, monkeypatch)
    result = audit("payments", "ds=2026-11-30", project=project, suite=load_suite(project))
    (o,) = result.outcomes
    assert o.status == Status.PASS and o.value == 0 and result.exit_code == 0
    assert not [s for s in result.run.statements if s["purpose"] == "partitions"]
    (tmp_path / "checks" / "t.yaml").write_text(checks.replace("allowed", "alowed"), encoding="utf-8")
    with pytest.raises(SpecError) as err:
        validate(config=tmp_path / "quinto.yaml", connect=False)
    assert "t.yaml:3:19: `empty_partitions:` is 'not_found' or 'allowed' (did you mean 'allowed'?)" in str(err.value)


def test_a_date_that_is_no_date_is_not_found_without_a_scan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"duckdb:///{tmp_path / 'wh.db'}"
    load_tables(url, {"visits": {"columns": {"id": "INTEGER", "ds": "DATE"}, "rows": [[1, "2026-11-30"]]}})
    checks = "table: visits\npartition: ds\npartition_type: date\nchecks:\n  - row_count > 0\n"
    project = project_with(tmp_path, url, checks, monkeypatch)
    result = audit("visits", "ds=2026-13-05", project=project, suite=load_suite(project))
    (o,) = result.outcomes
    assert o.status == Status.FAIL and "'2026-13-05' is not a valid date" in o.message
    assert "newest present: 2026-11-30" in o.message
    assert not [s for s in result.run.statements if s["purpose"] == "scan"]


ALL_WRONG = """table: {table}
partition: {partition}
owners: 5
connection: {connection}
notify: [email:owners]
checks:
  - row_cont > 0
  - missing_count(acount_id) = 0
  - avg(amount) betwen 1 and 2
  - big_payments < 5: {{metric: "count(case when amountt > 1000 then 1 end)"}}
  - avg(country) > 0
  - bad_sql = 0:
      sql: select count(*) from payments where dss = :partition
"""


@pytest.mark.parametrize("engine", ["duckdb", "sqlite", "postgres"])
def test_validate_reports_every_problem_in_one_round(
    engine: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("pg_url")) if engine == "postgres" else f"{engine}:///{tmp_path / 'wh.db'}"
    load_tables(url, {"payments": {"columns": COLUMNS, "rows": ROWS}})
    text = ALL_WRONG.format(table="paymnets", partition="dss", connection="warehous")
    project_with(tmp_path, url, text, monkeypatch)
    with pytest.raises(SpecError) as err:
        validate(config=tmp_path / "quinto.yaml", connect=True)
    lines = str(err.value).splitlines()
    expected = [
        "t.yaml:3:9: `owners:` must be a list of text",
        "t.yaml:4:13: unknown connection 'warehous' (did you mean 'warehouse'?)",
        "t.yaml:5:10: email:owners needs `owners:`",
        "t.yaml:7:5: unknown check type 'row_cont' (did you mean 'row_count'?)",
        "t.yaml:9:17: cannot read check 'avg(amount) betwen 1 and 2'",
    ]
    for want in expected:
        assert any(want in line for line in lines), (want, lines)
    # with the connection right, the warehouse's view: the table, with did-you-mean from its listing
    (tmp_path / "checks" / "t.yaml").write_text(
        ALL_WRONG.format(table="paymnets", partition="dss", connection="warehouse"), encoding="utf-8"
    )
    with pytest.raises(SpecError) as err:
        validate(config=tmp_path / "quinto.yaml", connect=True)
    assert "t.yaml:1:8: table 'paymnets' does not exist in connection 'warehouse' (did you mean 'payments'?)" in str(
        err.value
    )
    assert "t.yaml:7:5: unknown check type 'row_cont'" in str(err.value)  # and the file's own problems
    # with the table right: its partition column, columns, and every expression the engine refuses
    (tmp_path / "checks" / "t.yaml").write_text(
        ALL_WRONG.format(table="payments", partition="dss", connection="warehouse"), encoding="utf-8"
    )
    with pytest.raises(SpecError) as err:
        validate(config=tmp_path / "quinto.yaml", connect=True)
    text = str(err.value)
    assert "t.yaml:2:12: partition column 'dss' is not in payments (did you mean 'ds'?)" in text
    assert "t.yaml:8:19: column 'acount_id' is not in payments (did you mean 'account_id'?)" in text
    assert "t.yaml:10:32: column 'amountt' is not in payments (did you mean 'amount'?)" in text
    assert "t.yaml:13:12: `sql:` fails on" in text and "dss" in text
    if engine == "postgres":  # a type error found without reading data (SQLite and DuckDB average text)
        assert "t.yaml:11:5: postgres cannot compile 'avg(country) > 0'" in text
    proc = run_quinto(["validate", "--connect"], tmp_path, {"QUINTO_TEST_WAREHOUSE": url})
    assert proc.returncode == 2 and "t.yaml:10:32" in proc.stderr, proc.stderr


@pytest.mark.parametrize("engine", ["duckdb", "sqlite", "postgres"])
def test_table_listing(engine: str, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = str(request.getfixturevalue("pg_url")) if engine == "postgres" else f"{engine}:///{tmp_path / 'wh.db'}"
    load_tables(url, {"payments": {"columns": COLUMNS, "rows": ROWS}})
    connector = connector_for(url)
    assert "payments" in connector.tables()
    schema = {"duckdb": "main", "sqlite": "main", "postgres": "public"}[engine]
    assert schema in connector.schemas() and connector.tables(schema) == ["payments"]
    connector.close()


def test_migration_adds_the_fault_to_stored_outcomes(store_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    from quinto.store import MIGRATIONS
    from tests.test_store import make_run

    store = Store(store_url)
    store.save_run(make_run("2026-11-01", Status.ERROR, 0))
    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    assert "fault" not in {c["name"] for c in sa.inspect(store.engine).get_columns("outcomes")}
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    (row,) = Store(store_url).results.current("dw.t")
    assert row.status == "ERROR" and row.fault is None
    store.close()
