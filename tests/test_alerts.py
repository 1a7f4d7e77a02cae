"""Alerts end to end, against real servers on 127.0.0.1: an aiosmtpd SMTP server and an HTTP server
standing in for Slack's incoming webhooks. Audits run on a DuckDB warehouse; the store is SQLite or
PostgreSQL. Time is passed to the sender explicitly, so backoff is asserted without waiting."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import signal
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from quinto import audit
from quinto.alerts.sender import CRASH_EXIT, CRASH_HOOK, send_pending
from quinto.failpoints import CRASH_AT
from quinto.spec import Project, load_project
from quinto.store import Store
from tests.test_bad_input import run_quinto
from tests.warehouse import load_tables

DAY = "2026-11-01"
OWNERS = ["plays-data@example.com", "oncall@example.com"]
CHECKS = f"""
table: dw.plays
partition: ds
owners: [{OWNERS[0]}]
notify: [slack:#dq-plays, email:owners, email:{OWNERS[1]}]
checks:
  - row_count > 0
  - missing_count(account_id) < 1
  - avg(duration_s) between 10 and 100: {{notify: false}}
"""
GOOD = [[1, 10, 50, DAY], [2, 11, 60, DAY]]
BAD = [[1, None, 500, DAY], [2, 11, 600, DAY]]  # a missing account_id (alerts) and a bad average (notify: false)


# -- real servers -----------------------------------------------------------------------------------
#: the check the alert tests break and repair
CHECK = "missing_count(account_id) < 1"

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.refuse: set[str] = set()  # recipients answered with 550

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:  # noqa: N802
        if address in self.refuse:
            return "550 no such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), msg))
        return "250 OK"


class SMTPServer:
    def __init__(self, port: int, password: str | None = None) -> None:
        self.inbox = Inbox()
        self.port = port
        self.password = password  # with a password, AUTH is required (user "quinto")
        self.logins: list[tuple[str, bool]] = []
        self.controller: Controller | None = None

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"quinto",
            (self.password or "").encode(),
        )
        self.logins.append((data.login.decode(), ok))
        return AuthResult(success=ok, handled=False)  # the server answers 235 or 535

    def start(self) -> None:
        auth: dict[str, Any] = {}
        if self.password is not None:
            auth = {"authenticator": self.authenticate, "auth_require_tls": False, "auth_required": True}
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, **auth)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer(free_port())
    server.start()
    yield server
    server.stop()


class Hook(BaseHTTPRequestHandler):
    server: SlackServer

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status, headers = self.server.answers.pop(0) if self.server.answers else (200, {})
        self.server.received.append((self.path, status, body))
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"service_unavailable")

    def log_message(self, *args: Any) -> None:
        pass


class SlackServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Hook)
        self.received: list[tuple[str, int, dict[str, Any]]] = []
        self.answers: list[tuple[int, dict[str, str]]] = []  # what the next POSTs get; then 200

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/services/T1/B1/secret"

    def delivered(self) -> list[dict[str, Any]]:
        return [body for _, status, body in self.received if status == 200]


@pytest.fixture
def slack() -> Iterator[SlackServer]:
    server = SlackServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


# -- the project ------------------------------------------------------------------------------------
def make_project(
    tmp_path: Path,
    store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    smtp_port: int,
    slack_url: str,
    alerts: str = "",
    checks: str = CHECKS,
    smtp_login: str = "",
) -> Project:
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'wh.duckdb'}")
    monkeypatch.setenv("STORE_URL", store_url)
    monkeypatch.setenv("SLACK_DQ_PLAYS_WEBHOOK", slack_url)
    (tmp_path / "checks").mkdir(exist_ok=True)
    (tmp_path / "checks" / "plays.yaml").write_text(checks, encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections:\n  warehouse: ${WAREHOUSE_URL}\nstore: ${STORE_URL}\nchecks: [checks/]\n"
        "base_url: https://quinto.example.com\n"
        f"smtp:\n  host: 127.0.0.1\n  port: {smtp_port}\n  starttls: false\n  from: quinto@example.com\n{smtp_login}"
        'slack:\n  "#dq-plays": ${SLACK_DQ_PLAYS_WEBHOOK}\n' + alerts,
        encoding="utf-8",
    )
    return load_project(tmp_path / "quinto.yaml")


def audit_with(project: Project, tmp_path: Path, rows: list[list[Any]], day: str = DAY) -> int:
    load_tables(
        f"duckdb:///{tmp_path / 'wh.duckdb'}",
        {
            "dw.plays": {
                "columns": {"play_id": "INTEGER", "account_id": "INTEGER", "duration_s": "INTEGER", "ds": "VARCHAR"},
                "rows": rows,
            }
        },
    )
    return audit("dw.plays", [f"ds={day}"], project=project).exit_code


def now_plus(seconds: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds)


def open_project_store(project: Project) -> Store:
    from quinto.workspace import open_store

    return open_store(project)


# -- tests --------------------------------------------------------------------------------------------
def test_email_and_slack_once_per_state_change(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: SMTPServer, slack: SlackServer
) -> None:
    project = make_project(tmp_path, store_url, monkeypatch, smtp.port, slack.url)
    store = open_project_store(project)
    assert audit_with(project, tmp_path, GOOD) == 0
    assert send_pending(store, project.settings).sent == []  # passing from the start: nothing to say

    assert audit_with(project, tmp_path, BAD) == 1
    report = send_pending(store, project.settings)
    assert len(report.sent) == 2 and report.exit_code == 0
    ((rcpts, msg),) = smtp.inbox.messages
    assert sorted(rcpts) == sorted(OWNERS)
    # the first line says what broke, in words
    assert msg["Subject"] == "[Quinto] dw.plays ds=2026-11-01: missing_count(account_id) < 1 FAIL: 1 row, expected < 1"
    assert msg["From"] == "quinto@example.com"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    link = "https://quinto.example.com/tables/dw.plays/partitions/2026-11-01"
    assert link in text and f'href="{link}"' in html
    assert "FAIL        missing_count(account_id) < 1: 1 row, expected < 1 (1 is not < 1)" in text
    assert 'style="' in html and "<style" not in html  # styled inline, as mail clients need
    assert "missing_count(account_id) &lt; 1" in html and "missing_count(account_id) < 1" not in html  # escaped
    assert "avg(duration_s)" not in text  # notify: false
    assert "Owners: plays-data@example.com" in text

    (body,) = slack.delivered()
    assert slack.received[0][0] == "/services/T1/B1/secret"
    blocks = body["blocks"]
    headline = "dw.plays ds=2026-11-01: missing_count(account_id) < 1 FAIL: 1 row, expected < 1"
    assert body["text"] == headline
    assert blocks[0] == {"type": "header", "text": {"type": "plain_text", "text": headline}}
    section = blocks[1]["text"]
    assert section["type"] == "mrkdwn"
    (incident,) = [i for i in store.incidents.find() if i.check_key == "missing_count(account_id) < 1"]
    page = f"https://quinto.example.com/incidents/{incident.id}"
    assert section["text"].splitlines() == [
        f"*dw.plays* <{link}|ds=2026-11-01>",
        "*FAIL* `missing_count(account_id) &lt; 1`: 1 row, expected &lt; 1 (1 is not &lt; 1)"
        f" <{page}|incident {incident.id}>",
    ]
    assert f"incident {incident.id}: {page}" in text and f'href="{page}"' in html
    assert blocks[2] == {"type": "context", "elements": [{"type": "mrkdwn", "text": "Owners: plays-data@example.com"}]}

    # still failing: no new alert
    assert audit_with(project, tmp_path, BAD) == 1
    assert send_pending(store, project.settings).sent == []
    assert len(smtp.inbox.messages) == 1 and len(slack.delivered()) == 1

    # repaired: one recovery notice per target
    assert audit_with(project, tmp_path, GOOD) == 0
    assert len(send_pending(store, project.settings).sent) == 2
    assert len(smtp.inbox.messages) == 2 and len(slack.delivered()) == 2
    recovery = smtp.inbox.messages[1][1]
    said = "missing_count(account_id) < 1 RECOVERED: 0 rows, expected < 1"
    assert recovery["Subject"] == f"[Quinto] dw.plays ds=2026-11-01: {said}"
    plain = recovery.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "RECOVERED   missing_count(account_id) < 1: 0 rows, expected < 1" in plain
    # threaded with the FAILING mail of its incident
    thread = f"<quinto-incident-{incident.id}@example.com>"
    assert msg["In-Reply-To"] == msg["References"] == recovery["In-Reply-To"] == recovery["References"] == thread
    assert send_pending(store, project.settings).sent == []
    assert {r.status for r in store.outbox.rows()} == {"sent"}
    store.close()


def test_smtp_down_then_up_delivers_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer) -> None:
    port = free_port()  # nothing listens yet
    checks = CHECKS.replace("slack:#dq-plays, ", "")
    project = make_project(tmp_path, f"sqlite:///{tmp_path / 's.db'}", monkeypatch, port, slack.url, checks=checks)
    store = open_project_store(project)
    assert audit_with(project, tmp_path, BAD) == 1  # the audit's verdict is about data, not delivery
    assert audit_with(project, tmp_path, [[1, None, 50, "2026-11-02"]], "2026-11-02") == 1
    t0 = now_plus(0)
    report = send_pending(store, project.settings, now=t0)
    assert report.sent == [] and report.exit_code == 3 and len(report.failed) == 1 and report.deferred == 1
    assert report.error() == (
        f"2 alert(s) not delivered, kept in the outbox and retried with backoff: cannot reach SMTP 127.0.0.1:{port}: "
        "Connection refused"
    )
    rows = sorted(store.outbox.rows(), key=lambda r: r.id)
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1), ("pending", 0)]  # the 2nd waited
    assert {r.next_attempt_at.replace(tzinfo=dt.UTC) for r in rows} == {t0 + dt.timedelta(seconds=30)}
    assert send_pending(store, project.settings, now=t0 + dt.timedelta(seconds=10)).sent == []  # not due yet

    server = SMTPServer(port)
    server.start()
    try:
        report = send_pending(store, project.settings, now=t0 + dt.timedelta(seconds=31))
        assert len(report.sent) == 2 and report.exit_code == 0
        assert send_pending(store, project.settings, now=t0 + dt.timedelta(hours=2)).sent == []
        assert sorted(m["Subject"] for _, m in server.inbox.messages) == [
            "[Quinto] dw.plays ds=2026-11-01: missing_count(account_id) < 1 FAIL: 1 row, expected < 1",
            "[Quinto] dw.plays ds=2026-11-02: missing_count(account_id) < 1 FAIL: 1 row, expected < 1",
        ]
    finally:
        server.stop()
    store.close()


def test_slack_500_and_429_retry_after_then_delivered_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    checks = CHECKS.replace(", email:owners, email:oncall@example.com", "")
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    project = make_project(tmp_path, store_url, monkeypatch, free_port(), slack.url, checks=checks)
    store = open_project_store(project)
    audit_with(project, tmp_path, BAD)
    slack.answers = [(500, {}), (429, {"Retry-After": "120"})]
    t0 = now_plus(0)
    first = send_pending(store, project.settings, now=t0)
    assert first.exit_code == 3 and "answered 500" in (first.error() or "")
    assert "secret" not in (first.error() or "")  # the webhook path is a secret: never printed
    second = send_pending(store, project.settings, now=t0 + dt.timedelta(seconds=30))
    assert second.exit_code == 3 and "answered 429" in (second.error() or "")
    (row,) = store.outbox.rows()
    assert row.next_attempt_at.replace(tzinfo=dt.UTC) == t0 + dt.timedelta(seconds=30 + 120)  # Retry-After
    assert send_pending(store, project.settings, now=t0 + dt.timedelta(seconds=100)).sent == []
    third = send_pending(store, project.settings, now=t0 + dt.timedelta(seconds=150))
    assert len(third.sent) == 1 and third.exit_code == 0
    assert send_pending(store, project.settings, now=t0 + dt.timedelta(hours=1)).sent == []
    assert [status for _, status, _ in slack.received] == [500, 429, 200]
    assert len(slack.delivered()) == 1
    store.close()


def test_a_crash_between_send_and_mark_gives_at_most_one_duplicate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: SMTPServer, slack: SlackServer
) -> None:
    project = make_project(tmp_path, f"sqlite:///{tmp_path / 's.db'}", monkeypatch, smtp.port, slack.url)
    audit_with(project, tmp_path, BAD)
    env = {
        "WAREHOUSE_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "STORE_URL": f"sqlite:///{tmp_path / 's.db'}",
        "SLACK_DQ_PLAYS_WEBHOOK": slack.url,
    }
    crashed = run_quinto(["alerts", "send"], tmp_path, {**env, CRASH_HOOK: "1"})
    assert crashed.returncode == CRASH_EXIT, crashed.stderr
    assert len(slack.delivered()) + len(smtp.inbox.messages) == 1  # one message left, then the process died
    rerun = run_quinto(["alerts", "send"], tmp_path, env)
    assert rerun.returncode == 0, rerun.stderr
    assert "sent again" in rerun.stderr and "sent 2 alert(s)" in rerun.stdout
    again = run_quinto(["alerts", "send"], tmp_path, env)
    assert again.returncode == 0 and "sent 0 alert(s)" in again.stdout
    # no loss: both targets got the alert; the one sent before the crash arrived twice, the other once
    counts = sorted([len(slack.delivered()), len(smtp.inbox.messages)])
    assert counts == [1, 2]
    if len(smtp.inbox.messages) == 2:  # a resent email keeps its Message-ID, so mail clients fold it
        assert smtp.inbox.messages[0][1]["Message-ID"] == smtp.inbox.messages[1][1]["Message-ID"]
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    assert {r.status for r in store.outbox.rows()} == {"sent"}
    store.close()


@pytest.mark.parametrize("step", ["alert_claimed", "alert_sent", "alert_marked"])
def test_kill_at_every_step_of_sending_loses_no_alert(
    step: str, store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    """`kill -9` at each step of a send, then a recovery pass: every alert is delivered, and only a
    kill between delivery and marking sends one twice (the documented duplicate)."""
    checks = CHECKS.replace(", email:owners, email:oncall@example.com", "")
    project = make_project(tmp_path, store_url, monkeypatch, free_port(), slack.url, checks=checks)
    audit_with(project, tmp_path, BAD)
    env = {
        "WAREHOUSE_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "STORE_URL": store_url,
        "SLACK_DQ_PLAYS_WEBHOOK": slack.url,
        CRASH_AT: step,
    }
    crashed = run_quinto(["alerts", "send"], tmp_path, env)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    before = len(slack.delivered())
    assert before == (0 if step == "alert_claimed" else 1)
    env.pop(CRASH_AT)
    rerun = run_quinto(["alerts", "send"], tmp_path, env)
    assert rerun.returncode == 0, rerun.stderr
    assert len(slack.delivered()) == (2 if step == "alert_sent" else 1)
    store = Store(store_url)
    assert {r.status for r in store.outbox.rows()} == {"sent"}
    store.close()


def test_concurrent_senders_deliver_each_row_once(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    checks = CHECKS.replace(", email:owners, email:oncall@example.com", "")
    project = make_project(tmp_path, store_url, monkeypatch, free_port(), slack.url, checks=checks)
    for i in range(6):  # six partitions, each failing then recovering: twelve outbox rows
        audit_with(project, tmp_path, [[1, None, 50, f"2026-11-0{i + 1}"]], f"2026-11-0{i + 1}")
        audit_with(project, tmp_path, [[1, 5, 50, f"2026-11-0{i + 1}"]], f"2026-11-0{i + 1}")
    stores = [open_project_store(project) for _ in range(3)]
    reports = []
    threads = [
        threading.Thread(target=lambda s=s, i=i: reports.append(send_pending(s, project.settings, sender=f"t{i}")))
        for i, s in enumerate(stores)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(len(r.sent) for r in reports) == 12
    assert len(slack.delivered()) == 12
    assert sorted(b["text"] for b in slack.delivered()) == sorted(
        [f"dw.plays ds=2026-11-0{i + 1}: {CHECK} FAIL: 1 row, expected < 1" for i in range(6)]
        + [f"dw.plays ds=2026-11-0{i + 1}: {CHECK} RECOVERED: 0 rows, expected < 1" for i in range(6)]
    )
    assert stores[0].outbox.claim(stores[0].outbox.rows()[0].id, "late", now_plus(0)) is False  # sent rows stay sent
    for s in stores:
        s.close()


def test_snooze_suppresses_alerts_until_it_ends(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    checks = CHECKS.replace(", email:owners, email:oncall@example.com", "")
    project = make_project(tmp_path, store_url, monkeypatch, free_port(), slack.url, checks=checks)
    store = open_project_store(project)
    until = now_plus(7200)
    sid = store.snoozes.add("dw.plays", until, reason="backfill in progress", by="ana")
    (active,) = store.snoozes.active("dw.plays")
    assert active.id == sid and active.check is None and active.reason == "backfill in progress"
    assert active.until == until and active.created_by == "ana"
    assert store.snoozes.active("dw.other") == [] and store.snoozes.active(now=now_plus(7300)) == []
    assert audit_with(project, tmp_path, BAD) == 1
    assert store.outbox.rows() == []  # snoozed: nothing queued

    assert store.snoozes.end("dw.plays") == 1 and store.snoozes.active() == []
    audit_with(project, tmp_path, BAD)  # still failing and never announced: announced now
    assert [r.kind for r in store.outbox.rows()] == ["alert"]

    # a check's snooze silences that check only: its recovery is not announced, another check's failure is
    store.snoozes.add("dw.plays", now_plus(3600), check="missing_count(account_id) < 1")
    assert len(store.snoozes.active("dw.plays")) == 1
    audit_with(project, tmp_path, GOOD)  # recovers, snoozed
    assert len(store.outbox.rows()) == 1
    audit_with(project, tmp_path, [])  # an empty partition: row_count fails
    newest = json.loads(store.outbox.rows()[0].payload)
    assert [(c["check"], c["kind"]) for c in newest["changes"]] == [("row_count > 0", "failing")]
    assert len(send_pending(store, project.settings).sent) == 2 and len(slack.delivered()) == 2
    store.close()


def test_digest_groups_a_days_changes_per_recipient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: SMTPServer, slack: SlackServer
) -> None:
    checks = CHECKS.replace("slack:#dq-plays, ", "")
    digest = "alerts:\n  digest: [dw.plays]\n"
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    project = make_project(tmp_path, store_url, monkeypatch, smtp.port, slack.url, digest, checks)
    store = open_project_store(project)
    audit_with(project, tmp_path, [[1, None, 50, "2026-11-01"]], "2026-11-01")
    audit_with(project, tmp_path, [[1, None, 50, "2026-11-02"]], "2026-11-02")
    audit_with(project, tmp_path, [[1, 5, 50, "2026-11-01"]], "2026-11-01")
    items = store.outbox.rows()
    assert {(r.kind, r.status) for r in items} == {("digest_item", "held")}
    assert sorted({r.target for r in items}) == sorted(OWNERS) and len(items) == 6
    today = dt.datetime.now(dt.UTC)
    assert send_pending(store, project.settings, now=today).sent == []  # the day is not over
    tomorrow = dt.datetime.combine(today.date() + dt.timedelta(days=1), dt.time(0, 5), dt.UTC)
    report = send_pending(store, project.settings, now=tomorrow)
    assert report.digests == 2 and len(report.sent) == 2
    assert sorted(r[0][0] for r in smtp.inbox.messages) == sorted(OWNERS)  # one email per owner
    for _, msg in smtp.inbox.messages:
        assert msg["Subject"] == f"[Quinto] digest {today.date()}: 3 state change(s) in dw.plays"
        text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert text.count("FAIL        missing_count") == 2 and text.count("RECOVERED   missing_count") == 1
    assert send_pending(store, project.settings, now=tomorrow + dt.timedelta(hours=1)).sent == []
    assert len(smtp.inbox.messages) == 2
    store.close()


def test_cli_send_reports_undelivered_alerts_with_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = make_project(
        tmp_path, f"sqlite:///{tmp_path / 's.db'}", monkeypatch, free_port(), "http://127.0.0.1:1/hook"
    )
    audit_with(project, tmp_path, BAD)
    env = {"WAREHOUSE_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}", "STORE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    proc = run_quinto(["alerts", "send"], tmp_path, {**env, "SLACK_DQ_PLAYS_WEBHOOK": "http://127.0.0.1:1/hook"})
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1
    assert errors[0].startswith("Error: 2 alert(s) not delivered, kept in the outbox and retried with backoff:")
    listed = run_quinto(["alerts", "list", "--status", "pending"], tmp_path, env)
    assert listed.returncode == 0 and listed.stdout.count("pending") == 2
    assert "last error: cannot reach" in listed.stdout
    ids = [line.split()[0] for line in listed.stdout.splitlines()]
    cancelled = run_quinto(["alerts", "cancel", *ids, "999"], tmp_path, env)
    assert cancelled.returncode == 0 and cancelled.stdout.strip() == "2 alert(s) cancelled; 1 were not pending"
    done = run_quinto(["alerts", "send"], tmp_path, env)
    assert done.returncode == 0 and done.stdout.strip() == "sent 0 alert(s)"


def test_cli_snooze_list_and_unsnooze(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_project(tmp_path, f"sqlite:///{tmp_path / 's.db'}", monkeypatch, free_port(), "http://127.0.0.1:1/hook")
    env = {"WAREHOUSE_URL": "duckdb:///:memory:", "STORE_URL": f"sqlite:///{tmp_path / 's.db'}"}
    proc = run_quinto(["snooze", "dw.plays", "--for", "2h", "--reason", "upstream outage"], tmp_path, env)
    assert proc.returncode == 0 and "dw.plays snoozed until" in proc.stdout, proc.stderr
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=200)).strftime("%Y-%m-%d")
    proc = run_quinto(["snooze", "dw.plays", "--check", "row_count > 0", "--until", f"{later}T09:00"], tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    listed = run_quinto(["snooze", "--list"], tmp_path, env).stdout.splitlines()
    assert len(listed) == 2 and listed[0].endswith(": upstream outage") and f"{later} 09:00 UTC" in listed[1]
    bad = run_quinto(["snooze", "dw.plays", "--check", "row_count>0", "--for", "2h"], tmp_path, env)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "Error: table dw.plays has no check 'row_count>0' (did you mean 'row_count > 0'?)"
    done = run_quinto(["unsnooze", "dw.plays"], tmp_path, env)
    assert done.returncode == 0 and "1 snooze(s) ended" in done.stdout
    assert len(run_quinto(["snooze", "--list"], tmp_path, env).stdout.splitlines()) == 1


def test_validate_notes_targets_that_are_not_configured(tmp_path: Path) -> None:
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "plays.yaml").write_text(CHECKS, encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections:\n  warehouse: 'duckdb:///:memory:'\nchecks: [checks/]\n", encoding="utf-8"
    )
    proc = run_quinto(["validate", "--no-connect"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip() == (
        "note: alerts of dw.plays are not delivered to slack:#dq-plays, email (no `smtp.host`): "
        "not configured in quinto.yaml"
    )


def test_a_refused_recipient_does_not_resend_to_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: SMTPServer, slack: SlackServer
) -> None:
    checks = CHECKS.replace("slack:#dq-plays, ", "")
    project = make_project(tmp_path, f"sqlite:///{tmp_path / 's.db'}", monkeypatch, smtp.port, slack.url, checks=checks)
    store = open_project_store(project)
    smtp.inbox.refuse = {OWNERS[1]}
    audit_with(project, tmp_path, BAD)
    report = send_pending(store, project.settings)
    assert len(report.sent) == 1 and report.notes == [
        f"alert {report.sent[0]}: SMTP refused {OWNERS[1]}; delivered to the other recipients"
    ]
    assert [rcpts for rcpts, _ in smtp.inbox.messages] == [[OWNERS[0]]]
    assert send_pending(store, project.settings).sent == []
    store.close()


def test_default_targets_and_opting_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from quinto.alerts.policy import policy_for
    from quinto.spec import load_suite

    default = "alerts:\n  notify: [email:owners]\n  reminder: 1d\n"
    without = CHECKS.replace("notify: [slack:#dq-plays, email:owners, email:oncall@example.com]\n", "")
    project = make_project(tmp_path, "sqlite://", monkeypatch, 2525, "http://127.0.0.1:1/hook", default, without)
    policy = policy_for(project, load_suite(project).table("dw.plays"))
    assert policy is not None
    assert policy["targets"] == [{"channel": "email", "target": OWNERS[0]}] and policy["reminder_s"] == 86400
    assert policy["levels"] == {
        "row_count > 0": "fail",
        "missing_count(account_id) < 1": "fail",
        "avg(duration_s) between 10 and 100": None,
    }
    opted_out = without.replace("checks:", "notify: []\nchecks:")
    project = make_project(tmp_path, "sqlite://", monkeypatch, 2525, "http://127.0.0.1:1/hook", default, opted_out)
    assert policy_for(project, load_suite(project).table("dw.plays")) is None


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # plain SMTP on 127.0.0.1
def test_smtp_login_with_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slack: SlackServer
) -> None:
    server = SMTPServer(free_port(), password="s3cret pass")
    server.start()
    try:
        login = "  user: quinto\n  password: ${SMTP_PASSWORD}\n"
        checks = CHECKS.replace("slack:#dq-plays, ", "")
        store_url = f"sqlite:///{tmp_path / 's.db'}"
        project = make_project(
            tmp_path, store_url, monkeypatch, server.port, slack.url, checks=checks, smtp_login=login
        )
        store = open_project_store(project)
        audit_with(project, tmp_path, BAD)
        monkeypatch.setenv("SMTP_PASSWORD", "wrong")
        t0 = now_plus(0)
        refused = send_pending(store, project.settings, now=t0)
        assert refused.error() is not None and "refused the login of 'quinto'" in refused.error()  # type: ignore[operator]
        assert "wrong" not in (refused.error() or "")
        monkeypatch.setenv("SMTP_PASSWORD", "s3cret pass")
        assert len(send_pending(store, project.settings, now=t0 + dt.timedelta(minutes=1)).sent) == 1
        assert [ok for _, ok in server.logins].count(True) == 1 and server.logins[-1] == ("quinto", True)
        assert len(server.inbox.messages) == 1
        store.close()
    finally:
        server.stop()


def test_snooze_times_and_targets_are_checked() -> None:
    from quinto.alerts.commands import snooze_end
    from quinto.errors import UsageError

    t0 = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
    assert snooze_end(None, "1d12h", t0) == t0 + dt.timedelta(hours=36)
    assert snooze_end("2026-11-30T09:00", None, t0) == dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)
    assert snooze_end("2026-11-30T09:00+01:00", None, t0) == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)
    for until, length, message in [
        (None, "2 hours", "for: '2 hours' is not a duration like 90s, 30m, 26h or 2d"),
        ("2001-01-01", None, "a snooze ends in the future"),
        ("tomorrow", None, "until: an ISO time like 2026-11-30T09:00Z, not 'tomorrow'"),
        (None, None, "say how long: until an ISO time, or for a duration like 2h or 3d"),
        ("2026-12-01", "2h", "say how long: until an ISO time, or for a duration like 2h or 3d"),
        (None, "999999999d", "a snooze lasts at most a year"),
        (None, "400d", "a snooze lasts at most a year; to silence a table for good, drop its notify:"),
    ]:
        with pytest.raises(UsageError) as exc:
            snooze_end(until, length, t0)
        assert exc.value.message == message


def test_an_acknowledged_incident_sends_no_reminder_but_its_recovery(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: SMTPServer, slack: SlackServer
) -> None:
    import sqlalchemy as sa

    project = make_project(tmp_path, store_url, monkeypatch, smtp.port, slack.url, alerts="alerts:\n  reminder: 1h\n")
    store = open_project_store(project)

    def a_day_later() -> None:  # the last announcement, as it would stand a day later
        with store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alert_states SET announced_at = :at"), {"at": now_plus(-86400)})

    def subjects() -> list[str]:
        return [m["Subject"] for _, m in smtp.inbox.messages]

    assert audit_with(project, tmp_path, BAD) == 1
    send_pending(store, project.settings)
    assert subjects() == [f"[Quinto] dw.plays ds=2026-11-01: {CHECK} FAIL: 1 row, expected < 1"]
    (incident,) = [i for i in store.incidents.find() if i.check_key == "missing_count(account_id) < 1"]
    # not acknowledged: still failing a day later, a reminder
    a_day_later()
    audit_with(project, tmp_path, BAD)
    send_pending(store, project.settings)
    assert subjects()[1:] == [f"[Quinto] dw.plays ds=2026-11-01: {CHECK} STILL FAIL: 1 row, expected < 1"]
    # acknowledged: no reminder, and no alert for the next partition that joins the incident
    store.incidents.acknowledge(incident.id, "alice", "reloading the source")
    a_day_later()
    audit_with(project, tmp_path, BAD)
    audit_with(project, tmp_path, [[1, None, 50, "2026-11-02"]], day="2026-11-02")
    assert send_pending(store, project.settings).sent == []
    assert len(smtp.inbox.messages) == 2 and len(slack.delivered()) == 2
    joined = store.incidents.get(incident.id)
    assert joined is not None and (joined.failing, joined.last_partition) == (2, "2026-11-02")
    # the recovery is announced, with the incident's link
    assert audit_with(project, tmp_path, GOOD) == 0
    assert len(send_pending(store, project.settings).sent) == 2
    assert subjects()[2:] == [f"[Quinto] dw.plays ds=2026-11-01: {CHECK} RECOVERED: 0 rows, expected < 1"]
    text = smtp.inbox.messages[2][1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"incident {incident.id}: https://quinto.example.com/incidents/{incident.id}" in text
    section = slack.delivered()[2]["blocks"][1]["text"]["text"]
    assert f"<https://quinto.example.com/incidents/{incident.id}|incident {incident.id}>" in section
    store.close()


VIEWS = """
table: dw.views
partition: ds
owners: [plays-data@example.com]
notify: [slack:#dq-plays, email:owners]
checks:
  - invalid_count(country) = 0: {valid_values: [US, CA]}
  - duplicate_count(account_id, device) = 0
  - row_count > 0
"""


def test_alerts_name_the_offending_values_and_the_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp: SMTPServer, slack: SlackServer
) -> None:
    """An invalid-value or duplicate failure names its most frequent offending values, counted in
    the failing rows fetched as samples (no other statement), in every message; a message about
    several checks names them in its first line."""
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    project = make_project(tmp_path, store_url, monkeypatch, smtp.port, slack.url, checks=VIEWS)
    store = open_project_store(project)
    rows = [
        [1, "XX", 42, "tv"],
        [2, "XX", 42, "tv"],
        [3, "XX", 42, "tv"],
        [4, "<b>&", 7, "web"],
        [5, "ZZ", 7, "web"],
        [6, "ZZ", 8, "tv"],
        [7, "US", 9, "tv"],
        [8, None, 10, "tv"],
    ]
    load_tables(
        f"duckdb:///{tmp_path / 'wh.duckdb'}",
        {
            "dw.views": {
                "columns": {
                    "view_id": "INTEGER",
                    "country": "VARCHAR",
                    "account_id": "INTEGER",
                    "device": "VARCHAR",
                    "ds": "VARCHAR",
                },
                "rows": [[*r, DAY] for r in rows],
            }
        },
    )
    result = audit("dw.views", [f"ds={DAY}"], project=project)
    assert result.exit_code == 1
    top = {o.check: o.top_values for o in result.outcomes}
    assert top["invalid_count(country) = 0"] == {
        "columns": ["country"],
        "rows_sampled": 6,
        "values": [{"value": "XX", "rows": 3}, {"value": "ZZ", "rows": 2}, {"value": "<b>&", "rows": 1}],
    }
    assert top["duplicate_count(account_id, device) = 0"] == {
        "columns": ["account_id", "device"],
        "rows_sampled": 5,
        "values": [{"value": [42, "tv"], "rows": 3}, {"value": [7, "web"], "rows": 2}],
    }
    assert top["row_count > 0"] is None
    assert [s["purpose"] for s in result.run.statements].count("samples") == 1  # the samples, fetched once

    assert len(send_pending(store, project.settings).sent) == 2
    ((_, msg),) = smtp.inbox.messages
    names = "invalid_count(country) = 0, duplicate_count(account_id, device) = 0"
    assert msg["Subject"] == f"[Quinto] dw.views ds={DAY}: 2 failing ({names})"
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    country = "top values of country in 6 sampled failing rows: 'XX' (3), 'ZZ' (2), '<b>&' (1)"
    keys = "top values of (account_id, device) in 5 sampled failing rows: (42, 'tv') (3), (7, 'web') (2)"
    assert {f"{' ' * 14}{country}", f"{' ' * 14}{keys}"} <= set(text.splitlines())
    assert "&#x27;&lt;b&gt;&amp;&#x27; (1)" in html and "<b>&" not in html  # escaped
    assert "(42, &#x27;tv&#x27;) (3)" in html

    (body,) = slack.delivered()
    assert body["blocks"][0]["text"]["text"] == f"dw.views ds={DAY}: 2 failing ({names})"
    lines = body["blocks"][1]["text"]["text"].splitlines()
    escaped = "'XX' (3), 'ZZ' (2), '&lt;b&gt;&amp;' (1)"
    assert f"\u2003\u2003top values of country in 6 sampled failing rows: {escaped}" in lines
    assert f"\u2003\u2003{keys}" in lines
    payload = json.loads(store.outbox.rows()[0].payload)
    assert [c["top_values"] for c in payload["changes"]] == [
        top["invalid_count(country) = 0"],
        top["duplicate_count(account_id, device) = 0"],
    ]
    store.close()
