"""The results store on SQLite and PostgreSQL: keyed by (table, partition, check), reruns supersede,
history learns from good partitions only, and a dead store never loses a computed run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from quinto.evaluate import Status
from quinto.record import record, replay
from quinto.results import MetricValue, Outcome, Run
from quinto.store import Store
from quinto.store.schema import metadata

T0 = dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)


def make_run(partition: str, status: Status, value: float, started: dt.datetime = T0, table: str = "dw.t") -> Run:
    run = Run(
        table=table,
        connection="warehouse",
        partition_column="ds",
        partitions=[partition],
        started_at=started,
        finished_at=started + dt.timedelta(seconds=1),
    )
    run.outcomes.append(
        Outcome(
            table=table,
            partition=partition,
            check="row_count > 0",
            check_type="row_count",
            metric="row_count",
            fingerprint="fp1",
            status=status,
            value=value,
            message="m",
            threshold="> 0",
            source="c.yaml:3:5",
            judged=value,
        )
    )
    run.metric_values.append(MetricValue(table, partition, "row_count", "fp1", value))
    run.statements.append(
        {"purpose": "scan", "sql": "SELECT 1", "params": {"qp0": partition}, "duration_ms": 1.0, "rows": 1}
    )
    return run


def test_migrations_match_the_schema(store_url: str) -> None:
    store = Store(store_url)
    store.migrate()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    store.migrate()  # idempotent


def test_rerun_supersedes_and_history_keeps_the_old_run(store_url: str) -> None:
    store = Store(store_url)
    first = store.save_run(make_run("2026-11-01", Status.FAIL, 0))
    second = store.save_run(make_run("2026-11-01", Status.PASS, 10, T0 + dt.timedelta(hours=1)))
    current = store.results.current("dw.t", "2026-11-01")
    assert [(r.run_id, r.status) for r in current] == [(second, "PASS")]
    assert [r.status for r in store.results.of_run(first)] == ["FAIL"]  # the old run stays
    assert [r.id for r in store.runs.recent()] == [second, first]
    assert store.runs.statements(second)[0].sql == "SELECT 1"


def test_history_only_from_good_partitions_before_the_one_under_test(store_url: str) -> None:
    store = Store(store_url)
    store.save_run(make_run("2026-11-01", Status.PASS, 10))
    store.save_run(make_run("2026-11-02", Status.FAIL, 999))
    store.save_run(make_run("2026-11-03", Status.PASS, 12))
    store.save_run(make_run("2026-11-04", Status.PASS, 13))
    store.save_run(make_run("2026-11-01", Status.PASS, 11, T0 + dt.timedelta(hours=1)))  # a rerun
    hist = store.results.history("dw.t", ["fp1"], before="2026-11-04")
    # the FAILed partition is there, flagged, for the robust fit to weigh down; the rerun's value wins
    assert [(p.partition, p.value, p.failed("row_count > 0")) for p in hist["fp1"]] == [
        ("2026-11-01", 11.0, False),
        ("2026-11-02", 999.0, True),
        ("2026-11-03", 12.0, False),
    ]
    assert store.results.history("dw.other", ["fp1"], before="2026-11-04") == {"fp1": []}


def test_replayed_older_run_does_not_supersede_a_newer_one(store_url: str, tmp_path: Path) -> None:
    store = Store(store_url)
    store.save_run(make_run("2026-11-01", Status.PASS, 10, T0 + dt.timedelta(hours=2)))
    store.save_run(make_run("2026-11-01", Status.FAIL, 0, T0))  # spooled earlier, replayed later
    current = store.results.current("dw.t", "2026-11-01")
    assert [r.status for r in current] == ["PASS"]


def test_dead_store_spools_and_the_next_run_replays(tmp_path: Path, sqlite_store_url: str) -> None:
    dead = Store("postgresql+psycopg://nobody@127.0.0.1:1/none")
    run = make_run("2026-11-05", Status.PASS, 7)
    spool_dir = tmp_path / "spool"
    recorded = record(dead, run, spool_dir, attempts=2)
    assert recorded.error is not None and "results kept in" in recorded.error and recorded.run_id is None
    files = list(spool_dir.glob("run-*.json"))
    assert files == [recorded.spooled]
    live = Store(sqlite_store_url)
    ids = replay(live, spool_dir).ids
    assert len(ids) == 1 and not list(spool_dir.iterdir())
    row = live.results.current("dw.t", "2026-11-05")[0]
    assert (row.status, row.value) == ("PASS", 7.0)


def test_summary_counts_failing_partitions(store_url: str) -> None:
    store = Store(store_url)
    for i, status in enumerate([Status.PASS, Status.FAIL, Status.WARN, Status.FAIL]):
        store.save_run(make_run(f"2026-11-0{i + 1}", status, i))
    (summary,) = store.results.tables()
    assert summary.latest_partition == "2026-11-04"
    assert summary.status == "FAIL" and summary.failing_recent == 2


def test_indexes_exist(store_url: str) -> None:
    store = Store(store_url)
    store.migrate()
    names = {ix["name"] for ix in sa.inspect(store.engine).get_indexes("outcomes")}
    assert {"ix_outcomes_key", "ix_outcomes_run", "ix_outcomes_status"} <= names


def test_head_revision_constant_matches_the_migrations() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from quinto.store import HEAD_REVISION, MIGRATIONS

    cfg = Config()
    cfg.set_main_option("script_location", MIGRATIONS)
    assert ScriptDirectory.from_config(cfg).get_current_head() == HEAD_REVISION


def test_concurrent_saves_of_one_partition_leave_one_current_result(pg_url: str, monkeypatch: object) -> None:
    """An older audit still writing when a newer one of the same partition saves: the newer waits
    for the table's lock, then supersedes it; one current result, the newer, and its status."""
    import threading

    store = Store(pg_url)
    store.migrate()
    gate, entered = threading.Event(), threading.Event()
    original = Store._refresh_status

    def paused(self: Store, conn: sa.Connection, run: Run, *args: object) -> None:
        if run.started_at == T0:  # the older run stops inside its transaction
            entered.set()
            gate.wait(60)
        original(self, conn, run, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(Store, "_refresh_status", paused)  # type: ignore[attr-defined]
    older = make_run("2026-11-27", Status.PASS, 5.0, started=T0)
    newer = make_run("2026-11-27", Status.FAIL, 0.0, started=T0 + dt.timedelta(minutes=1))
    first = threading.Thread(target=store.save_run, args=(older,))
    first.start()
    assert entered.wait(60)
    second = threading.Thread(target=store.save_run, args=(newer,))
    second.start()
    waiting = sa.text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    with store.engine.connect() as conn:
        while not conn.execute(waiting).scalar_one() and second.is_alive():
            conn.rollback()
    gate.set()
    first.join()
    second.join()
    current = store.results.current("dw.t", "2026-11-27")
    assert [(r.run_id, r.status) for r in current] == [(newer.id, "FAIL")]
    assert [(p.status, p.run_id) for p in store.results.partitions("dw.t")] == [("FAIL", newer.id)]


def test_reads_are_frozen_records_with_enums_and_aware_times(store_url: str) -> None:
    import dataclasses

    from quinto.store.records import OutcomeRecord, RunRecord, RunStatus

    store = Store(store_url)
    run_id = store.save_run(make_run("2026-11-01", Status.FAIL, 0))
    (outcome,) = store.results.current("dw.t")
    assert isinstance(outcome, OutcomeRecord) and outcome.status is Status.FAIL
    assert outcome.created_at.tzinfo is not None and outcome.samples is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        outcome.status = Status.PASS  # type: ignore[misc]
    run = store.runs.get(run_id)
    assert isinstance(run, RunRecord) and run.status is RunStatus.FAIL and run.partition_list == ["2026-11-01"]
    assert run.duration_s == 1.0 and run.started_at == T0
    store.marks.set("dw.t", "2026-11-01", "good")
    assert store.marks.of("dw.t") == {"2026-11-01": "good"}
    with pytest.raises(ValueError, match="'good' or 'bad'"):
        store.marks.set("dw.t", "2026-11-01", "fine")


def test_an_open_store_migrates_once_not_per_call(store_url: str) -> None:
    store = Store.open(store_url)
    statements: list[str] = []
    sa.event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(str(args[2])))
    store.save_run(make_run("2026-11-01", Status.PASS, 1))
    store.results.current("dw.t"), store.results.tables(), store.runs.recent(), store.outbox.rows()
    store.snoozes.active(), store.marks.of("dw.t"), store.results.failing()
    assert statements and not [s for s in statements if "alembic_version" in s]


def test_save_hooks_write_in_the_runs_transaction(store_url: str) -> None:
    from quinto.store import Saving

    seen: list[Saving] = []

    def boom(saving: Saving) -> None:
        seen.append(saving)
        raise RuntimeError("the hook failed")

    failing = Store(store_url, on_save=[boom])
    with pytest.raises(RuntimeError):
        failing.save_run(make_run("2026-11-01", Status.FAIL, 0))
    (saving,) = seen
    assert saving.fresh == ["2026-11-01"] and saving.run.table == "dw.t"
    # rolled back with the hook: neither the run nor its outcomes nor its read models were written
    assert failing.runs.recent() == [] and failing.results.current() == [] and failing.results.tables() == []
    Store(store_url, on_save=[seen.append]).save_run(make_run("2026-11-01", Status.FAIL, 0))
    assert len(Store(store_url).runs.recent()) == 1 and len(seen) == 2


def test_the_store_knows_no_alert_policy() -> None:
    import ast

    import quinto.store

    for path in Path(quinto.store.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom | ast.Import):
                names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
                assert not [n for n in names if n.startswith("quinto.alerts")], f"{path.name} imports {names}"


def test_recent_history_reads_the_newest_partitions_in_partition_order(store_url: str) -> None:
    """The check page and the API's metric history ask for the newest N partitions: they get those,
    in partition order (integers: 9 before 10), whatever order they were audited in, and a rerun's
    value, never a superseded one; without N, every partition."""
    store = Store(store_url)
    for day in (10, 8, 12, 9, 11):  # audited out of order; 10 twice
        store.save_run(make_run(str(day), Status.PASS, float(day)))
    store.save_run(make_run("10", Status.FAIL, 100.0))
    history = store.results.check_history("dw.t", "row_count > 0", last=3)
    assert [(o.partition_value, o.value) for o in history] == [("10", 100.0), ("11", 11.0), ("12", 12.0)]
    points = store.results.metric_history("dw.t", "row_count", last=2)
    assert [(p.partition_value, p.value) for p in points] == [("11", 11.0), ("12", 12.0)]
    assert [p.partition_value for p in store.results.metric_history("dw.t", "row_count")] == [
        "8",
        "9",
        "10",
        "11",
        "12",
    ]
    assert len(store.results.check_history("dw.t", "row_count > 0", last=50)) == 5
    assert store.results.metric_history("dw.other", "row_count", last=5) == []
