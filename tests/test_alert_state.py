"""When a (table, partition, check) alerts: the pure state machine, then the same rules through
Store.save_run on SQLite and PostgreSQL, with runs at chosen times."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from quinto.alerts.channels.email import render_email
from quinto.alerts.channels.slack import render_slack
from quinto.alerts.record import record_alerts
from quinto.alerts.state import BAD, ERROR, OK, State, step
from quinto.evaluate import Status
from quinto.record import record, replay
from quinto.results import Run
from quinto.store import Store
from tests.test_store import make_run

ALERTS = (record_alerts,)  # what `quinto.workspace.open_store` gives the store

T0 = dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
SECOND = dt.timedelta(seconds=1)


def kinds(statuses: list[str], level: str = "fail", every: dt.timedelta = H, **kw: Any) -> list[str | None]:
    state: State | None = None
    out = []
    for i, status in enumerate(statuses):
        state, kind = step(state, status, level, T0 + i * every, **kw)
        out.append(kind)
    return out


def test_once_per_change_and_recovery() -> None:
    assert kinds(["PASS", "FAIL", "FAIL", "FAIL", "PASS", "PASS"]) == [None, "failing", None, None, "recovered", None]
    assert kinds(["FAIL"]) == ["failing"]  # a new partition that fails
    assert kinds(["WARN", "PASS"]) == [None, None]  # WARN does not alert by default
    assert kinds(["WARN", "FAIL", "WARN"], level="warn") == ["failing", None, None]  # notify: warn
    assert kinds(["WARN", "PASS"], level="warn") == ["failing", "recovered"]


def test_error_alerts_only_when_it_persists() -> None:
    assert kinds(["ERROR", "PASS"], error_after_s=2 * 3600) == [None, None]  # a blip is not news
    assert kinds(["ERROR", "ERROR", "ERROR", "ERROR"], error_after_s=2 * 3600) == [None, None, "error", None]
    assert kinds(["ERROR", "ERROR", "PASS"], error_after_s=3600) == [None, "error", "recovered"]
    # a failure interrupted by a short ERROR stays one failure
    assert kinds(["FAIL", "ERROR", "FAIL"], error_after_s=7200) == ["failing", None, None]
    assert kinds(["FAIL", "ERROR", "PASS"], error_after_s=7200) == ["failing", None, "recovered"]


def test_reminders_and_silence() -> None:
    assert kinds(["FAIL"] * 6, reminder_s=2 * 3600) == ["failing", None, "reminder", None, "reminder", None]
    assert kinds(["FAIL", "FAIL"], silent=True) == [None, None]
    # what was silenced is announced by the first run that is not
    state, kind = step(None, "FAIL", "fail", T0, silent=True)
    assert (state.state, state.announced, kind) == (BAD, OK, None)
    state, kind = step(state, "FAIL", "fail", T0 + H)
    assert (state.announced, kind) == (BAD, "failing")
    state, kind = step(state, "ERROR", "fail", T0 + 2 * H, error_after_s=0)
    assert (state.state, kind) == (ERROR, "error")


POLICY = {
    "targets": [{"channel": "slack", "target": "#dq"}],
    "owners": ["a@example.com"],
    "levels": {"row_count > 0": "fail"},
    "digest": False,
    "reminder_s": None,
    "error_after_s": 3600.0,
    "base_url": "http://ui",
    "silent": False,
}


def run_at(status: Status, at: dt.datetime, partition: str = "2026-11-01", **policy: Any) -> Run:
    run = make_run(partition, status, 0 if status == Status.FAIL else 5, started=at)
    run.alert_policy = {**POLICY, **policy}
    return run


def changes(store: Store) -> list[list[tuple[str, str]]]:
    """Per outbox row (oldest first): its (partition, kind) changes."""
    rows = sorted(store.outbox.rows(), key=lambda r: r.id)
    return [[(c["partition"], c["kind"]) for c in json.loads(r.payload)["changes"]] for r in rows]


def test_store_error_persistence_and_reminders(store_url: str) -> None:
    store = Store(store_url, on_save=ALERTS)
    store.save_run(run_at(Status.ERROR, T0))
    store.save_run(run_at(Status.ERROR, T0 + dt.timedelta(minutes=30)))
    assert changes(store) == []
    store.save_run(run_at(Status.ERROR, T0 + 2 * H))
    assert changes(store) == [[("2026-11-01", "error")]]
    store.save_run(run_at(Status.FAIL, T0 + 3 * H, reminder_s=3600.0))
    store.save_run(run_at(Status.FAIL, T0 + 4 * H, reminder_s=3600.0))
    store.save_run(run_at(Status.FAIL, T0 + 4.5 * H, reminder_s=3600.0))
    store.save_run(run_at(Status.PASS, T0 + 5 * H))
    assert changes(store) == [
        [("2026-11-01", "error")],
        [("2026-11-01", "failing")],
        [("2026-11-01", "reminder")],
        [("2026-11-01", "recovered")],
    ]
    (row,) = [r for r in store.outbox.rows() if json.loads(r.payload)["changes"][0]["kind"] == "reminder"]
    text = render_slack(json.loads(row.payload))["text"]
    assert text == "dw.t ds=2026-11-01: row_count > 0 STILL FAIL: 0 rows, expected > 0"


def test_first_run_with_alerts_compares_with_the_stored_outcome(store_url: str) -> None:
    store = Store(store_url, on_save=ALERTS)
    store.save_run(make_run("2026-11-01", Status.FAIL, 0, started=T0))  # stored before alerts were set up
    store.save_run(run_at(Status.FAIL, T0 + H))  # still failing: not news
    assert changes(store) == []
    store.save_run(run_at(Status.PASS, T0 + 2 * H))
    assert changes(store) == [[("2026-11-01", "recovered")]]


def test_one_message_per_table_and_run_and_backfills_are_silent(store_url: str) -> None:
    store = Store(store_url, on_save=ALERTS)
    run = run_at(Status.FAIL, T0, "2026-11-01")
    other = run_at(Status.FAIL, T0, "2026-11-02")
    run.partitions += other.partitions
    run.outcomes += other.outcomes
    store.save_run(run)
    assert changes(store) == [[("2026-11-01", "failing"), ("2026-11-02", "failing")]]
    payload = json.loads(store.outbox.rows()[0].payload)
    subject, text, html = render_email(payload)
    assert subject == "[Quinto] dw.t 2 partitions: 2 failing (row_count > 0)"  # a check failing twice: named once
    assert "http://ui/tables/dw.t/partitions/2026-11-02" in text and "<h3 " in html
    store.save_run(run_at(Status.FAIL, T0 + H, "2026-11-03", silent=True))  # a backfill
    assert len(store.outbox.rows()) == 1


def test_a_spooled_run_alerts_when_replayed(tmp_path: Path, sqlite_store_url: str) -> None:
    dead = Store("postgresql+psycopg://nobody@127.0.0.1:1/none", on_save=ALERTS)
    assert record(dead, run_at(Status.FAIL, T0), tmp_path / "spool", attempts=1).spooled is not None
    live = Store(sqlite_store_url, on_save=ALERTS)
    assert len(replay(live, tmp_path / "spool").ids) == 1
    assert changes(live) == [[("2026-11-01", "failing")]]


def test_claims_are_exclusive_and_dead_senders_are_reclaimed(sqlite_store_url: str) -> None:
    store = Store(sqlite_store_url, on_save=ALERTS)
    store.save_run(run_at(Status.FAIL, T0))
    (row,) = store.outbox.rows()
    assert store.outbox.claim(row.id, "host-a:1", T0) is True
    assert store.outbox.claim(row.id, "host-b:2", T0) is False
    assert store.outbox.reclaim(T0 + dt.timedelta(minutes=5), 600, lambda by: False) == 0  # alive, lease holds
    assert store.outbox.reclaim(T0 + dt.timedelta(minutes=11), 600, lambda by: False) == 1  # lease expired
    assert store.outbox.claim(row.id, "host-b:2", T0) is True
    assert store.outbox.mark_sent(row.id, "host-a:1", T0) is False  # not host-a's claim any more
    assert store.outbox.mark_sent(row.id, "host-b:2", T0) is True
    assert store.outbox.rows()[0].status == "sent"


def test_a_check_erring_on_each_new_partition_alerts_once_it_persists(store_url: str) -> None:
    store = Store(store_url, on_save=ALERTS)
    store.save_run(run_at(Status.PASS, T0 - 24 * H, "2026-10-31"))
    store.save_run(run_at(Status.ERROR, T0, "2026-11-01"))  # erring since T0, on a new partition
    assert changes(store) == []
    store.save_run(run_at(Status.ERROR, T0 + 24 * H, "2026-11-02"))  # the next day's partition errs too
    assert changes(store) == [[("2026-11-02", "error")]]
    store.save_run(run_at(Status.PASS, T0 + 48 * H, "2026-11-03"))
    store.save_run(run_at(Status.ERROR, T0 + 72 * H, "2026-11-04"))  # erring again, anew
    assert len(changes(store)) == 1


def test_learning_neither_recovers_nor_fails() -> None:
    """A check edited after it FAILed starts a new history and is LEARNING: no RECOVERED alert,
    and the failure stays what was last announced until the check is judged again."""
    now = dt.datetime(2026, 11, 27, tzinfo=dt.UTC)
    failing, kind = step(None, "FAIL", "fail", now)
    assert kind == "failing"
    learning, kind = step(failing, "LEARNING", "fail", now + dt.timedelta(hours=1))
    assert kind is None and learning == failing
    _, kind = step(learning, "PASS", "fail", now + dt.timedelta(hours=2))
    assert kind == "recovered"
    assert step(None, "LEARNING", "fail", now)[1] is None



@pytest.mark.parametrize("handled", [None, "acknowledged", "resolved"])
def test_a_recovery_carries_its_incident_and_what_it_follows(store_url: str, handled: str | None) -> None:
    """A RECOVERED change names the incident it ends, also one someone acknowledged or resolved
    (a resolved incident is final, so the tracking no longer names it), with since when the check
    failed and the partition the incident began at: what a Slack message, which cannot reply in a
    thread, links and says instead."""
    store = Store(store_url, on_save=ALERTS)
    store.save_run(run_at(Status.FAIL, T0, "2026-11-01"))
    store.save_run(run_at(Status.FAIL, T0 + H, "2026-11-02"))
    (incident,) = store.incidents.find()
    if handled == "acknowledged":
        store.incidents.acknowledge(incident.id, "alice")
    elif handled == "resolved":
        store.incidents.resolve(incident.id, "expected", "alice", "a holiday")
    store.save_run(run_at(Status.PASS, T0 + 2 * H, "2026-11-02"))
    payload = json.loads(max(store.outbox.rows(), key=lambda r: r.id).payload)
    (change,) = payload["changes"]
    assert (change["kind"], change["partition"], change["incident"]) == ("recovered", "2026-11-02", incident.id)
    assert change["incident_first_partition"] == "2026-11-01"
    # failing since the run that failed it was saved (it finished a second after it started)
    assert dt.datetime.fromisoformat(change["since"]) == T0 + H + SECOND
    section = render_slack(payload)["blocks"][1]["text"]["text"]
    assert section.splitlines()[1:] == [
        "*RECOVERED* `row_count &gt; 0`: 5 rows, expected &gt; 0 (m)",
        f"\u2003\u2003follows <http://ui/incidents/{incident.id}|incident {incident.id}>: "
        "was failing since 2026-11-28 07:00 UTC; the incident began at ds=2026-11-01",
    ]
    store.close()


def test_a_reminder_says_since_when_it_fails(store_url: str) -> None:
    store = Store(store_url, on_save=ALERTS)
    store.save_run(run_at(Status.FAIL, T0, reminder_s=3600.0))
    store.save_run(run_at(Status.FAIL, T0 + 2 * H, reminder_s=3600.0))
    payload = json.loads(max(store.outbox.rows(), key=lambda r: r.id).payload)
    (change,) = payload["changes"]
    assert change["kind"] == "reminder" and dt.datetime.fromisoformat(change["since"]) == T0 + SECOND
    (incident,) = store.incidents.find()
    assert render_slack(payload)["blocks"][1]["text"]["text"].splitlines()[-1] == (
        f"\u2003\u2003follows <http://ui/incidents/{incident.id}|incident {incident.id}>: "
        "failing since 2026-11-28 06:00 UTC; the incident began at ds=2026-11-01"
    )
    subject, text, _ = render_email(payload)
    assert "failing since 2026-11-28 06:00 UTC; the incident began at ds=2026-11-01" in text
    store.close()
