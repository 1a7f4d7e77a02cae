"""Retention on SQLite and PostgreSQL: history built with real audits of a DuckDB warehouse (daily
audits, a backfill, reruns that supersede, marks, failing rows with samples), then pruned; a fresh
audit's verdicts (value, band, status, message) are the same before and after. `quinto store prune`
and its exit codes; a scheduler applies `retention.keep` once a day, and two schedulers do not both
prune the same day."""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from quinto.app import audit, backfill
from quinto.scheduler import Scheduler
from quinto.scheduler.log import EventLog
from quinto.spec import load_project, load_suite
from quinto.store import Store
from quinto.store.common import utcnow
from quinto.store.retention import prune
from tests.test_bad_input import run_quinto
from tests.warehouse import load_tables

START = dt.date(2026, 8, 3)  # a Monday
DAYS = [(START + dt.timedelta(days=i)).isoformat() for i in range(42)]
CHECKS = """
table: dw.events
partition: ds
checks:
  - row_count:
      anomaly: {window: 10, sigma: 3, min_history: 5}
  - sum(id):
      anomaly: {window: 4, sigma: 3, same_weekday: true, min_history: 3}
  - row_count change vs previous partition between -50% and +100%
  - invalid_count(kind) = 0: {valid_values: [a, b]}
"""
TABLES = ("runs", "outcomes", "metric_values", "statements", "partition_status", "partition_marks")


def count_for(i: int) -> int:
    weekly = (1.0, 1.1, 1.2, 1.1, 1.0, 0.6, 0.5)[i % 7]  # a weekly pattern, for same_weekday
    return int((100 + (i * 7) % 11) * weekly)


def load(tmp_path: Path, counts: dict[str, int], bad_kind: set[str] = frozenset()) -> str:  # type: ignore[assignment]
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    rows = [[i, "z" if day in bad_kind and i < 3 else "ab"[i % 2], day] for day, n in counts.items() for i in range(n)]
    load_tables(url, {"dw.events": {"columns": {"id": "INTEGER", "kind": "VARCHAR", "ds": "VARCHAR"}, "rows": rows}})
    return url


def project_at(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str, settings: str = "") -> Any:
    monkeypatch.setenv("RET_WAREHOUSE", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    monkeypatch.setenv("RET_STORE", store_url)
    (tmp_path / "checks").mkdir(exist_ok=True)
    (tmp_path / "checks" / "events.yaml").write_text(CHECKS, encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections: {warehouse: '${RET_WAREHOUSE}'}\nstore: '${RET_STORE}'\nchecks: [checks]\n" + settings,
        encoding="utf-8",
    )
    return load_project(tmp_path / "quinto.yaml")


def history(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str, settings: str = "") -> Any:
    """90 % of DAYS audited as a team would: a backfill, then daily audits, a broken load repaired
    and audited again, a duplicated load marked bad, a drift marked good, failing rows sampled."""
    counts = {d: count_for(i) for i, d in enumerate(DAYS)}
    counts[DAYS[30]] = 15  # broken, repaired below
    load(tmp_path, counts, bad_kind={DAYS[33], DAYS[34]})
    project = project_at(tmp_path, monkeypatch, store_url, settings)
    suite = load_suite(project)
    backfill("dw.events", DAYS[0], DAYS[19], project=project, suite=suite, chunk=7)
    for day in DAYS[20:41]:
        audit("dw.events", day, project=project, suite=suite)
    audit("dw.events", DAYS[25], project=project, suite=suite)  # a rerun with the same data
    counts[DAYS[30]] = count_for(30)
    load(tmp_path, counts, bad_kind={DAYS[33], DAYS[34]})
    audit("dw.events", DAYS[30], project=project, suite=suite)  # repaired: supersedes the FAIL
    backfill("dw.events", DAYS[10], DAYS[14], project=project, suite=suite)  # re-computed history
    store = Store(store_url)
    store.marks.set("dw.events", DAYS[12], "bad", "duplicated load")
    store.marks.set("dw.events", DAYS[36], "good", "new normal")
    store.close()
    return project, suite


def verdicts(result: Any) -> dict[tuple[str, str], tuple[Any, ...]]:
    return {
        (o.partition, o.check): (str(o.status), o.value, o.judged, o.band_low, o.band_high, o.message)
        for o in result.outcomes
    }


def sizes(store_url: str) -> dict[str, int]:
    engine = sa.create_engine(store_url, poolclass=sa.NullPool)
    with engine.connect() as conn:
        out = {t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()) for t in TABLES}
        out["samples"] = int(
            conn.execute(sa.text("SELECT count(*) FROM outcomes WHERE samples IS NOT NULL")).scalar_one()
        )
        out["current"] = int(conn.execute(sa.text("SELECT count(*) FROM outcomes WHERE current")).scalar_one())
    engine.dispose()
    return out


def current_outcomes(store_url: str) -> list[tuple[Any, ...]]:
    store = Store(store_url)
    try:
        return sorted(
            (o.partition_value, o.check_key, str(o.status), o.value, o.band_low, o.band_high, o.message, o.run_id)
            for o in store.results.current("dw.events")
        )
    finally:
        store.close()


def test_prune_keeps_every_verdict(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
    project, suite = history(tmp_path, monkeypatch, store_url)
    before = verdicts(audit("dw.events", DAYS[41], project=project, suite=suite))
    assert {v[0] for v in before.values()} <= {"PASS", "WARN"}
    judged = [v for (p, c), v in before.items() if "anomaly" in c]
    assert judged and all(v[3] is not None and v[4] is not None for v in judged)  # a band from history
    kept = current_outcomes(store_url)
    rows = sizes(store_url)
    assert rows["samples"] > 0  # the invalid kinds' failing rows

    later = utcnow() + dt.timedelta(days=500)  # everything audited above is now past the horizon
    dry = prune(Store.open(store_url).engine, dt.timedelta(days=400), dry_run=True, now=later)
    assert sizes(store_url) == rows  # a dry run changes nothing
    report = prune(Store.open(store_url).engine, dt.timedelta(days=400), now=later)
    assert report.as_dict() | {"dry_run": True} == dry.as_dict()  # and counted what would go
    assert report.runs > 0 and report.outcomes > 0 and report.metric_values > 0
    assert report.statements == rows["statements"] and report.samples == rows["samples"]
    after_rows = sizes(store_url)
    assert after_rows["runs"] == rows["runs"] - report.runs
    assert after_rows["statements"] == 0 and after_rows["samples"] == 0
    assert after_rows["current"] == rows["current"] and after_rows["outcomes"] == rows["current"]
    assert after_rows["partition_status"] == rows["partition_status"]
    assert after_rows["partition_marks"] == rows["partition_marks"]  # marks are never pruned
    # every partition's current outcome stays as it was, samples aside
    assert [k[:6] for k in current_outcomes(store_url)] == [k[:6] for k in kept]
    # pruning twice removes nothing more
    again = prune(Store.open(store_url).engine, dt.timedelta(days=400), now=later)
    assert again.rows == 0

    after = verdicts(audit("dw.events", DAYS[41], project=project, suite=suite))
    assert after == before


def test_prune_within_the_horizon_keeps_it_all(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    history(tmp_path, monkeypatch, store_url)
    rows = sizes(store_url)
    report = prune(Store.open(store_url).engine, dt.timedelta(days=1))  # all of it audited just now
    assert report.rows == 0 and report.samples == 0
    assert sizes(store_url) == rows


def test_store_prune_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store_url = f"sqlite:///{tmp_path / 'store.db'}"
    history(tmp_path, monkeypatch, store_url)
    env = {"RET_WAREHOUSE": f"duckdb:///{tmp_path / 'warehouse.duckdb'}", "RET_STORE": store_url}
    rows = sizes(store_url)
    dry = run_quinto(["store", "prune", "--keep", "52w", "--dry-run", "--json"], tmp_path, env)
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["dry_run"] is True and json.loads(dry.stdout)["runs"] == 0
    done = run_quinto(["store", "prune", "--keep", "400d"], tmp_path, env)
    assert done.returncode == 0 and done.stdout.startswith("removed (older than "), done.stdout + done.stderr
    assert sizes(store_url) == rows  # nothing is older than 400 days
    for keep, says in (("2h", "shorter than a day"), ("1y", "not a duration"), ("0d", "shorter than a day")):
        bad = run_quinto(["store", "prune", "--keep", keep], tmp_path, env)
        assert bad.returncode == 2 and says in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    missing = run_quinto(["store", "prune"], tmp_path, env)
    assert missing.returncode == 2 and "--keep" in missing.stderr
    down = run_quinto(
        ["store", "prune", "--keep", "30d"],
        tmp_path,
        {**env, "RET_STORE": "postgresql+psycopg://q:q@127.0.0.1:9/q?connect_timeout=2"},
    )
    assert down.returncode == 3 and down.stderr.startswith("Error: ") and "Traceback" not in down.stderr


class Fixed:
    """A clock the test moves."""

    def __init__(self, now: dt.datetime) -> None:
        self.at = now

    def now(self) -> dt.datetime:
        return self.at


def test_schedulers_prune_once_a_day(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store_url: str) -> None:
    project, suite = history(tmp_path, monkeypatch, store_url, settings="retention: {keep: 30d}\n")
    before = verdicts(audit("dw.events", DAYS[41], project=project, suite=suite))
    rows = sizes(store_url)
    clock = Fixed(utcnow() + dt.timedelta(days=40))
    logs = [io.StringIO(), io.StringIO()]
    schedulers = [
        Scheduler(project, Store(store_url), clock=clock, log=EventLog(log), name=f"s{i}")  # type: ignore[arg-type]
        for i, log in enumerate(logs)
    ]

    def pruned(i: int) -> list[dict[str, Any]]:
        events = [json.loads(line) for line in logs[i].getvalue().splitlines()]
        return [e for e in events if e["event"] == "retention_pruned"]

    schedulers[0].retention()
    schedulers[1].retention()  # the same day: the first one did it
    assert len(pruned(0)) == 1 and pruned(1) == []
    first = pruned(0)[0]
    assert first["runs"] > 0 and first["statements"] == rows["statements"]
    assert sizes(store_url)["runs"] == rows["runs"] - first["runs"]
    schedulers[0].retention()  # and not twice a day either
    assert len(pruned(0)) == 1
    clock.at += dt.timedelta(days=1)
    schedulers[1].retention()  # the next day, whichever scheduler comes first
    schedulers[0].retention()
    assert len(pruned(1)) == 1 and len(pruned(0)) == 1
    assert pruned(1)[0]["runs"] == 0
    for s in schedulers:
        s.store.close()
    after = verdicts(audit("dw.events", DAYS[41], project=project, suite=suite))
    assert after == before


def test_retention_setting_is_validated(tmp_path: Path) -> None:
    (tmp_path / "quinto.yaml").write_text("retention: {keep: 12h, kepp: 1}\n", encoding="utf-8")
    proc = run_quinto(["validate"], tmp_path)
    assert proc.returncode == 2
    assert "quinto.yaml:1:19: `retention.keep:` is at least 86400 seconds (1d)" in proc.stderr
    assert "unknown key 'kepp' in `retention:` (did you mean 'keep'?)" in proc.stderr


def test_store_growth_bench_smoke(tmp_path: Path) -> None:
    """bench/store_growth.py end to end on a tiny warehouse (its numbers are not judged here)."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, str(root / "bench" / "store_growth.py"), "--tables", "1", "--days", "4"]
        + ["--stores", "sqlite", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    (result,) = json.loads(proc.stdout)
    assert result["runs"] == 4 and result["prune_report"]["statements"] == result["full"]["rows"]["statements"]
    assert result["pruned"]["rows"]["statements"] == 0
    assert result["per_1000_tables"]["no_retention_mb_per_year"] >= result["per_1000_tables"]["pruned_mb_per_year"]
