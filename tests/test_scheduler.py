"""The scheduler's logic with an injected clock (no sleeps): cron firings and the partitions they
name, sensors auditing each partition once, re-audits of the latest partition when checks change,
retries with backoff on ERROR and never on FAIL, check files reloaded with their last good version
kept, and the queue in the store (claims, dedup, completing a pre-allocated run)."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import duckdb
import pytest

from quinto.errors import UsageError
from quinto.evaluate import Status
from quinto.scheduler import FixedClock, Scheduler, submit
from quinto.scheduler.log import EventLog
from quinto.scheduler.triggers import fires_between, partition_for, to_audit
from quinto.spec.model import Schedule
from quinto.store import Store
from quinto.workspace import open_store
from tests.test_store import make_run
from tests.warehouse import load_tables, project_with

T0 = dt.datetime(2026, 11, 28, 4, 0, tzinfo=dt.UTC)  # 05:00 in Amsterdam
COLUMNS = {"id": "INTEGER", "amount": "INTEGER", "ds": "VARCHAR"}


def checks(extra: str = "", condition: str = "row_count > 0") -> str:
    return f"table: dw.sales\npartition: ds\n{extra}checks:\n  - {condition}\n  - min(amount) >= 0\n"


def warehouse(tmp_path: Path, days: list[str]) -> str:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    load_tables(url, {"dw.sales": {"columns": COLUMNS, "rows": [[i, 5, d] for i, d in enumerate(days)]}})
    return url


def add_partition(tmp_path: Path, day: str, amount: int = 5) -> None:
    """Write like an ETL job: a short-lived connection, so no reader is locked out for long."""
    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    try:
        con.execute("INSERT INTO dw.sales VALUES (100, ?, ?)", [amount, day])
    finally:
        con.close()


class Setup:
    def __init__(self, tmp_path: Path, monkeypatch: Any, check_text: str, days: list[str], settings: str = "") -> None:
        self.tmp_path = tmp_path
        url = warehouse(tmp_path, days)
        base = "sensor_interval: 60\nretry_backoff: 30\nretry_attempts: 3\nheartbeat_interval: 10\n"
        self.project = project_with(tmp_path, url, check_text, monkeypatch, base + settings)
        self.store = open_store(self.project)
        self.clock = FixedClock(T0)
        self.out = io.StringIO()
        self.scheduler = Scheduler(self.project, self.store, clock=self.clock, log=EventLog(self.out), name="s1")
        self.scheduler.load()

    def step(self) -> list[int]:
        return self.scheduler.step(inline=True)

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in map(json.loads, self.out.getvalue().splitlines()) if e["event"] == name]

    def completed(self) -> list[tuple[str, str]]:
        rows = self.store.runs.recent(1000)
        # a sensor audits a table's new partitions together: one run names them all
        done = [r for r in rows if r.status not in ("QUEUED", "RUNNING")]
        return sorted((p, r.status) for r in done for p in json.loads(r.partitions))

    def write_checks(self, text: str) -> None:
        path = self.tmp_path / "checks" / "t.yaml"
        path.write_text(text, encoding="utf-8")
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # a new mtime, however fast


# -- pure trigger logic ------------------------------------------------------------------------------
def test_cron_fires_in_its_time_zone_and_names_yesterday() -> None:
    schedule = Schedule("0 6 * * *", "Europe/Amsterdam")
    start, end = dt.datetime(2026, 3, 27, tzinfo=dt.UTC), dt.datetime(2026, 3, 30, 12, tzinfo=dt.UTC)
    fires, dropped = fires_between(schedule, "UTC", start, end)
    # 06:00 in Amsterdam is 05:00 UTC in winter and 04:00 UTC from 29 March (summer time)
    assert [f.hour for f in fires] == [5, 5, 4, 4] and dropped == 0
    named = [partition_for(schedule, "UTC", f) for f in fires]
    assert named == ["2026-03-26", "2026-03-27", "2026-03-28", "2026-03-29"]
    hourly = Schedule("15 * * * *", None, -1, "hour", "%Y-%m-%d %H")
    assert partition_for(hourly, "UTC", dt.datetime(2026, 1, 1, 0, 15, tzinfo=dt.UTC)) == "2025-12-31 23"
    compact = Schedule("0 6 * * *", "UTC", 0, "day", "%Y%m%d")
    assert partition_for(compact, "UTC", dt.datetime(2026, 1, 2, 6, tzinfo=dt.UTC)) == "20260102"


def test_sensor_chooses_new_partitions_and_the_latest_after_a_change() -> None:
    listed = ["2026-11-03", "2026-11-02", "2026-11-01"]
    audited: dict[str, set[str | None]] = {"2026-11-01": {"old"}, "2026-11-02": {"old"}}
    assert to_audit(listed, audited, "new", "latest") == ["2026-11-03"]  # the newest is new anyway
    audited["2026-11-03"] = {"old"}
    assert to_audit(listed, audited, "new", "latest") == ["2026-11-03"]
    assert to_audit(listed, audited, "new", "all") == listed[::-1]
    assert to_audit(listed, audited, "new", "none") == []
    audited["2026-11-03"] = {"new"}
    assert to_audit(listed, audited, "new", "latest") == []


# -- cron ---------------------------------------------------------------------------------------------
def test_cron_audits_the_partition_it_names_once_and_catches_up_after_downtime(
    tmp_path: Path, monkeypatch: Any
) -> None:
    sched = "schedule: {cron: '0 6 * * *', timezone: Europe/Amsterdam, partition: yesterday}\n"
    s = Setup(tmp_path, monkeypatch, checks(sched), ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"])
    assert s.step() == []  # first sight: counting starts now, nothing is due
    s.clock.advance(minutes=59)  # 05:59 Amsterdam
    assert s.step() == []
    s.clock.advance(minutes=2)  # 06:01 Amsterdam: fired at 06:00
    assert len(s.step()) == 1
    assert s.completed() == [("2026-11-27", "PASS")]
    assert s.step() == []  # nothing twice
    # down for two days: a restarted scheduler (state from the store only) audits both firings
    s.clock.advance(days=2, hours=1)
    again = Scheduler(s.project, s.store, clock=s.clock, log=EventLog(s.out), name="s2")
    again.load()
    assert len(again.step(inline=True)) == 2
    assert s.completed() == [("2026-11-27", "PASS"), ("2026-11-28", "PASS"), ("2026-11-29", "PASS")]
    done = s.events("audit_done")
    assert {e["partition"] for e in done} == {"2026-11-27", "2026-11-28", "2026-11-29"}
    assert all(e["outcome"] == "PASS" and e["table"] == "dw.sales" and "duration_s" in e for e in done)
    # changed checks: the partition of the latest firing only is audited again, once
    s.write_checks(checks(sched, "row_count >= 1"))
    again.reload()
    assert len(again.step(inline=True)) == 1 and again.step(inline=True) == []
    assert [p for p, _ in s.completed()] == ["2026-11-27", "2026-11-28", "2026-11-29", "2026-11-29"]


# -- sensors ------------------------------------------------------------------------------------------
def test_sensor_audits_each_partition_once_and_the_latest_again_when_checks_change(
    tmp_path: Path, monkeypatch: Any
) -> None:
    s = Setup(tmp_path, monkeypatch, checks("on: new_partition\n"), ["2026-11-01", "2026-11-02"])
    assert len(s.step()) == 1  # both partitions in one audit
    assert s.completed() == [("2026-11-01", "PASS"), ("2026-11-02", "PASS")]
    polls = len(s.events("sensor_poll"))
    assert s.step() == [] and len(s.events("sensor_poll")) == polls  # within the interval: no query
    add_partition(tmp_path, "2026-11-03", amount=-1)
    s.clock.advance(seconds=61)
    assert len(s.step()) == 1
    assert s.completed()[-1] == ("2026-11-03", "FAIL")
    s.clock.advance(seconds=61)
    assert s.step() == []  # a FAIL is an answer: never retried, never audited again
    # the checks change: only the latest partition is audited again
    s.write_checks(checks("on: new_partition\n", "row_count >= 1"))
    s.clock.advance(seconds=61)
    assert len(s.step()) == 1
    assert [p for p, _ in s.completed()].count("2026-11-03") == 2
    assert [p for p, _ in s.completed()].count("2026-11-01") == 1


def two_sensor_tables(tmp_path: Path, monkeypatch: Any, settings: str) -> Setup:
    s = Setup(tmp_path, monkeypatch, checks("on: new_partition\n"), ["2026-11-01"], settings)
    (tmp_path / "checks" / "u.yaml").write_text(
        checks("on: new_partition\n").replace("dw.sales", "dw.sales2"), encoding="utf-8"
    )
    load_tables(f"duckdb:///{tmp_path / 'wh.duckdb'}", {"dw.sales2": {"columns": COLUMNS, "rows": [[1, 5, "x"]]}})
    s.scheduler.reload()
    return s


def test_sensor_rate_limit_per_connection_takes_turns_and_is_logged_once(tmp_path: Path, monkeypatch: Any) -> None:
    s = two_sensor_tables(tmp_path, monkeypatch, "sensor_rate_limit: 1\nsensor_batch: 1\n")
    s.step()
    assert len(s.events("sensor_poll")) == 1 and len(s.events("sensor_rate_limited")) == 1
    s.clock.advance(seconds=10)
    s.step()  # no token yet: no listing, and nothing logged again
    assert len(s.events("sensor_poll")) == 1
    for _ in range(5):
        s.clock.advance(seconds=61)
        s.step()
    polled = [e["table"] for e in s.events("sensor_poll")]
    assert len(polled) == 6  # one statement a minute
    assert polled == ["dw.sales", "dw.sales2"] * 3  # least recently listed first: they take turns
    assert len(s.events("sensor_rate_limited")) == 1  # one episode, logged once
    assert s.store.sensor_listings() == {"dw.sales": 3, "dw.sales2": 3}
    assert ("x", "PASS") in s.completed() and ("2026-11-01", "PASS") in s.completed()


def test_sensor_lists_many_tables_in_one_statement(tmp_path: Path, monkeypatch: Any) -> None:
    s = two_sensor_tables(tmp_path, monkeypatch, "sensor_rate_limit: 1\n")
    s.step()
    assert [(e.get("tables"), e["listed"], e["new"]) for e in s.events("sensor_poll")] == [(2, 2, 2)]
    assert s.events("sensor_rate_limited") == []
    assert s.completed() == [("2026-11-01", "PASS"), ("x", "PASS")]


# -- retries ------------------------------------------------------------------------------------------
def test_error_is_retried_with_exponential_backoff_then_given_up(tmp_path: Path, monkeypatch: Any) -> None:
    s = Setup(tmp_path, monkeypatch, checks(), ["2026-11-01"])
    monkeypatch.setenv("QUINTO_TEST_WAREHOUSE", f"duckdb:///{tmp_path / 'absent' / 'wh.duckdb'}")
    run_id = submit(s.project, s.store, "dw.sales", "ds=2026-11-01")
    assert s.step() == [run_id]
    retry = s.events("retry")[-1]
    assert retry["attempt"] == 1 and retry["not_before"].startswith("2026-11-28T04:00:30")
    assert s.store.run_result(run_id)["status"] == "QUEUED"  # type: ignore[index]
    s.clock.advance(seconds=29)
    assert s.step() == []  # not before its time
    s.clock.advance(seconds=2)
    assert s.step() == [run_id]
    assert s.events("retry")[-1]["not_before"].startswith("2026-11-28T04:01:31")  # 60 s: doubled
    s.clock.advance(seconds=61)
    assert s.step() == [run_id]  # the third and last attempt
    run = s.store.run_result(run_id)
    assert run is not None and run["status"] == "ERROR" and run["exit_code"] == 3 and run["attempts"] == 3
    assert run["verdict"] == "do not publish" and {o["status"] for o in run["outcomes"]} == {"ERROR"}


def test_an_error_that_recovers_completes_the_same_run(tmp_path: Path, monkeypatch: Any) -> None:
    s = Setup(tmp_path, monkeypatch, checks(), ["2026-11-01"])
    good = os.environ["QUINTO_TEST_WAREHOUSE"]
    monkeypatch.setenv("QUINTO_TEST_WAREHOUSE", f"duckdb:///{tmp_path / 'absent' / 'wh.duckdb'}")
    run_id = submit(s.project, s.store, "dw.sales", {"ds": "2026-11-01"})
    s.step()
    monkeypatch.setenv("QUINTO_TEST_WAREHOUSE", good)
    s.clock.advance(seconds=31)
    s.step()
    run = s.store.run_result(run_id)
    assert run is not None and (run["status"], run["verdict"], run["attempts"]) == ("PASS", "publish", 2)
    assert len(s.store.runs.recent()) == 1  # one run, completed in place


# -- check files --------------------------------------------------------------------------------------
def test_a_file_that_stops_parsing_keeps_its_last_good_version(tmp_path: Path, monkeypatch: Any) -> None:
    s = Setup(tmp_path, monkeypatch, checks("on: new_partition\n"), ["2026-11-01"])
    s.step()
    s.write_checks(checks("on: new_partition\n", "rowcount > 0"))
    add_partition(tmp_path, "2026-11-02")
    s.clock.advance(seconds=61)
    assert len(s.step()) == 1  # audited with the last good checks
    (problem,) = s.store.scheduler_problems()
    assert problem.file.endswith("t.yaml") and "unknown check type 'rowcount'" in problem.message
    assert ":5:5:" in problem.message and s.events("check_file_problem")
    s.write_checks(checks("on: new_partition\n"))
    s.step()
    assert s.store.scheduler_problems() == []


# -- the queue ------------------------------------------------------------------------------------------
def test_submit_validates_and_deduplicates(tmp_path: Path, monkeypatch: Any) -> None:
    s = Setup(tmp_path, monkeypatch, checks(), ["2026-11-01"])
    first = submit(s.project, s.store, "dw.sales", "ds=2026-11-01")
    assert submit(s.project, s.store, "dw.sales", "2026-11-01") == first
    assert submit(s.project, s.store, "dw.sales", "ds=2026-11-01", force=True) == first  # still queued
    run = s.store.run_result(first)
    assert run is not None and (run["status"], run["verdict"], run["force"]) == ("QUEUED", None, True)
    for table, partition, message in [
        ("dw.sale", "ds=2026-11-01", "no checks declared for table 'dw.sale' (did you mean 'dw.sales'?)"),
        ("dw.sales", "day=2026-11-01", "table dw.sales is partitioned by 'ds', not 'day'"),
        ("dw.sales", "ds=x' or 1=1", "refusing partition value"),
        ("dw.sales", None, "say which partition of dw.sales to audit"),
        ("dw.sales", {"ds": "a", "x": "b"}, "a partition is one column and its value"),
    ]:
        with pytest.raises(UsageError, match=re.escape(message)):
            submit(s.project, s.store, table, partition)


def test_watch_starts_a_requested_audit_between_rounds_and_looks_only_at_new_requests(
    tmp_path: Path, monkeypatch: Any
) -> None:
    s = Setup(tmp_path, monkeypatch, checks(), ["2026-11-01"])
    assert s.store.newest_queued() == 0
    s.scheduler.watch()  # nothing asked for: nothing claimed
    assert s.scheduler.running == {}
    first = submit(s.project, s.store, "dw.sales", "ds=2026-11-01")
    assert s.store.newest_queued() == first
    s.scheduler.watch()  # no round ran: the watch claimed and started it
    assert list(s.scheduler.running) == [first]
    s.scheduler.running[first][1].result(timeout=120)
    done = s.store.run_result(first)
    assert done is not None and (done["status"], done["verdict"]) == ("PASS", "publish")
    assert s.store.newest_queued() == 0
    # a run queued earlier that the watch saw already is left to the rounds (a retry, a full queue)
    second = submit(s.project, s.store, "dw.sales", "ds=2026-11-01", force=True)
    s.scheduler.watched = second
    s.scheduler.watch()
    assert list(s.scheduler.running) == [first]
    s.scheduler.pool.shutdown(wait=True)


def test_save_run_completes_a_queued_row_and_supersedes(store_url: str) -> None:
    store = Store(store_url)
    old = store.save_run(make_run("2026-11-01", Status.FAIL, 0))
    run_id, created = store.enqueue("dw.t", "warehouse", "ds", "2026-11-01", fingerprint="f")
    assert created and store.enqueue("dw.t", "warehouse", "ds", "2026-11-01")[0] == run_id
    run = make_run("2026-11-01", Status.PASS, 3, dt.datetime.now(dt.UTC))
    run.id = run_id
    assert store.save_run(run) == run_id
    assert [r.id for r in store.runs.recent()] == [run_id, old]
    assert [r.run_id for r in store.results.current("dw.t", "2026-11-01")] == [run_id]
    done = store.run_result(run_id)
    assert done is not None and (done["status"], done["verdict"], done["exit_code"]) == ("PASS", "publish", 0)
    assert store.run_result(run_id + 100) is None
    # the same run saved again (a replayed spool file) is stored once: its key is stored with it
    assert store.save_run(run) == run_id and len(store.runs.recent()) == 2
    # a completed row is never overwritten: another run naming it is written as a new run
    other = make_run("2026-11-01", Status.PASS, 4, dt.datetime.now(dt.UTC))
    other.id = run_id
    assert store.save_run(other) != run_id


def test_claims_respect_the_connection_limit_and_reclaim_stale_runs(store_url: str) -> None:
    store = Store(store_url)
    now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    ids = [store.enqueue("dw.t", "wh", "ds", f"2026-11-0{i}", now=now)[0] for i in range(1, 4)]
    a = store.claim("a", {"wh": 5}, 2, now - dt.timedelta(seconds=30), now)
    assert [r["id"] for r in a] == ids[:2]
    assert store.claim("b", {"wh": 5}, 2, now - dt.timedelta(seconds=30), now) == []  # limit across schedulers
    later = now + dt.timedelta(seconds=60)  # a's heartbeats stopped: its runs are stale
    b = store.claim("b", {"wh": 5}, 2, later - dt.timedelta(seconds=30), later)
    assert [r["id"] for r in b] == ids[:2] and all(r["reclaimed_from"] == "a" and r["attempts"] == 2 for r in b)
    assert store.heartbeat("a", ids, later) == set()  # a learns it lost them
    assert store.heartbeat("b", ids, later) == set(ids[:2])


def test_a_scheduled_audit_queues_its_alerts(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("SLACK_DQ_WEBHOOK", "http://127.0.0.1:9/hook")
    settings = 'slack:\n  "#dq": ${SLACK_DQ_WEBHOOK}\n'
    s = Setup(tmp_path, monkeypatch, checks("on: new_partition\nnotify: [slack:#dq]\n"), ["2026-11-01"], settings)
    s.step()
    add_partition(tmp_path, "2026-11-02", amount=-1)
    s.clock.advance(seconds=61)
    s.step()
    assert s.completed()[-1] == ("2026-11-02", "FAIL")
    rows = s.store.outbox.rows(table="dw.sales")
    assert [(r.channel, r.target, r.status) for r in rows] == [("slack", "#dq", "pending")]


def test_cron_audits_a_whole_table_at_every_firing(tmp_path: Path, monkeypatch: Any) -> None:
    """A table without partitions changes under one name (`*`): no firing is skipped as audited."""
    text = "table: dw.sales\nschedule: {cron: '0 6 * * *', timezone: UTC}\nchecks:\n  - row_count > 0\n"
    s = Setup(tmp_path, monkeypatch, text, ["2026-11-27"])
    s.step()
    s.clock.advance(hours=3)
    assert len(s.step()) == 1
    s.clock.advance(days=1)
    assert len(s.step()) == 1
    assert s.events("skipped") == []


def test_a_whole_table_can_be_requested(tmp_path: Path, monkeypatch: Any) -> None:
    text = "table: dw.sales\nchecks:\n  - row_count > 0\n"
    s = Setup(tmp_path, monkeypatch, text, ["2026-11-27"])
    run_id = submit(s.project, s.store, "dw.sales", "*", trigger="web")
    assert s.store.run_result(run_id)["partitions"] == ["*"]  # type: ignore[index]
