"""Alert channels as plugins: the generic webhook, Microsoft Teams and PagerDuty against real HTTP
servers on 127.0.0.1 (payloads, signatures, dedup keys, trigger/resolve pairs, retries after a 500,
secrets kept out of errors), their quinto.yaml sections and targets, and a channel added by an
installed distribution's `quinto.channels` entry point, run by the real `quinto` command."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from quinto.alerts.channels import CHANNELS
from quinto.alerts.channels.pagerduty import dedup_key
from quinto.alerts.sender import send_pending
from quinto.errors import SpecError
from quinto.spec import Project, load_project, load_suite
from tests.test_alerts import BAD, DAY, GOOD, audit_with, open_project_store
from tests.test_bad_input import run_quinto
from tests.warehouse import load_tables

ROOT = Path(__file__).resolve().parent.parent
SECRET = "whsec-5f2b9c"  # the webhook's signing key
ROUTING_KEY = "R0UT1NGKEY0123456789abcdef012345"
CHECKS = """
table: dw.plays
partition: ds
owners: [plays-data@example.com]
notify: [{targets}]
checks:
  - row_count > 0
  - missing_count(account_id) < 1
  - avg(duration_s) between 10 and 100: {{notify: false}}
"""
MISSING = "missing_count(account_id) < 1"


# -- a real HTTP server that records what it receives --------------------------------------------
class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        status, body = self.server.answers.pop(0) if self.server.answers else self.server.default
        self.server.received.append({"path": self.path, "headers": dict(self.headers), "raw": raw, "status": status})
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body.replace(b"{echo}", raw))  # an error page that echoes the request (and its key)

    def log_message(self, *args: Any) -> None:
        pass


class Receiver(ThreadingHTTPServer):
    def __init__(self, default: tuple[int, bytes]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.default = default
        self.received: list[dict[str, Any]] = []
        self.answers: list[tuple[int, bytes]] = []  # what the next POSTs get; then `default`

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def bodies(self, status: int | None = None) -> list[Any]:
        return [json.loads(r["raw"]) for r in self.received if status is None or r["status"] == status]


def serve(default: tuple[int, bytes]) -> Iterator[Receiver]:
    server = Receiver(default)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hooks() -> Iterator[Receiver]:
    yield from serve((200, b"ok"))


@pytest.fixture
def pagerduty() -> Iterator[Receiver]:
    yield from serve((202, b'{"status":"success","message":"Event processed"}'))


def make_project(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    targets: str,
    hooks: Receiver | None = None,
    pd: Receiver | None = None,
) -> Project:
    hook_url = hooks.url if hooks else "http://127.0.0.1:1{}".format
    monkeypatch.setenv("WAREHOUSE_URL", f"duckdb:///{tmp_path / 'wh.duckdb'}")
    monkeypatch.setenv("OPS_WEBHOOK_URL", hook_url("/hooks/ops-t0ken"))
    monkeypatch.setenv("OPS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("TEAMS_DQ_URL", hook_url("/workflows/teams?sig=t3amssig"))
    monkeypatch.setenv("PAGERDUTY_DQ_KEY", ROUTING_KEY)
    (tmp_path / "checks").mkdir(exist_ok=True)
    (tmp_path / "checks" / "plays.yaml").write_text(CHECKS.format(targets=targets), encoding="utf-8")
    pd_url = pd.url("/v2/enqueue") if pd else "https://events.pagerduty.com/v2/enqueue"
    (tmp_path / "quinto.yaml").write_text(
        "connections:\n  warehouse: ${WAREHOUSE_URL}\n"
        f"store: sqlite:///{tmp_path / 's.db'}\nchecks: [checks/]\nbase_url: https://quinto.example.com\n"
        "webhook:\n  ops:\n    url: ${OPS_WEBHOOK_URL}\n    secret: ${OPS_WEBHOOK_SECRET}\n"
        "teams:\n  dq:\n    url: ${TEAMS_DQ_URL}\n"
        f"pagerduty:\n  dq:\n    routing_key: ${{PAGERDUTY_DQ_KEY}}\n    url: {pd_url}\n",
        encoding="utf-8",
    )
    return load_project(tmp_path / "quinto.yaml")


def at(minutes: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)


# -- the generic webhook -------------------------------------------------------------------------
def test_webhook_posts_signed_json_and_retries_after_a_500(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hooks: Receiver
) -> None:
    project = make_project(tmp_path, monkeypatch, "webhook:ops", hooks)
    store = open_project_store(project)
    audit_with(project, tmp_path, BAD)
    hooks.answers = [(500, b"upstream broke at /hooks/ops-t0ken")]
    failed = send_pending(store, project.settings, now=at(0))
    assert failed.sent == [] and failed.error() is not None
    error = failed.error() or ""
    assert "webhook (127.0.0.1:" in error and "answered 500 for ops" in error
    assert "t0ken" not in error and SECRET not in error  # the URL's path and the key are secrets
    assert "t0ken" not in str(store.outbox.rows()[0].last_error)
    assert send_pending(store, project.settings, now=at(0.2)).sent == []  # backing off: not due yet
    report = send_pending(store, project.settings, now=at(1))
    assert len(report.sent) == 1 and [r["status"] for r in hooks.received] == [500, 200]
    assert send_pending(store, project.settings, now=at(2)).sent == []  # delivered once
    for request in hooks.received:
        headers, raw = request["headers"], request["raw"]
        assert request["path"] == "/hooks/ops-t0ken"
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        want = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(headers["X-Quinto-Signature"], want)
        body = json.loads(raw)
        assert headers["X-Quinto-Timestamp"] == str(body["timestamp"])
        assert headers["X-Quinto-Delivery"] == str(body["delivery"]) == str(report.sent[0])  # the same on a retry
    body = hooks.bodies(200)[0]
    assert body["type"] == "alert" and body["summary"] == f"dw.plays ds=2026-11-01: {MISSING} FAIL: 1 row, expected < 1"
    alert = body["alert"]
    assert alert["table"] == "dw.plays" and alert["owners"] == ["plays-data@example.com"]
    assert [(c["check"], c["kind"], c["status"], c["partition"]) for c in alert["changes"]] == [
        (MISSING, "failing", "FAIL", DAY)
    ]
    # a tampered body no longer matches its signature
    raw = hooks.received[-1]["raw"].replace(b"failing", b"passing")
    forged = "sha256=" + hmac.new(SECRET.encode(), raw, hashlib.sha256).hexdigest()
    assert forged != hooks.received[-1]["headers"]["X-Quinto-Signature"]
    store.close()


def test_webhook_without_a_secret_is_not_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hooks: Receiver
) -> None:
    project = make_project(tmp_path, monkeypatch, "webhook:ops", hooks)
    text = (tmp_path / "quinto.yaml").read_text(encoding="utf-8").replace("    secret: ${OPS_WEBHOOK_SECRET}\n", "")
    (tmp_path / "quinto.yaml").write_text(text, encoding="utf-8")
    project = load_project(tmp_path / "quinto.yaml")
    store = open_project_store(project)
    audit_with(project, tmp_path, BAD)
    assert len(send_pending(store, project.settings).sent) == 1
    assert "X-Quinto-Signature" not in hooks.received[0]["headers"]
    assert "X-Quinto-Timestamp" in hooks.received[0]["headers"]
    store.close()


# -- Microsoft Teams -------------------------------------------------------------------------------
def test_teams_gets_an_adaptive_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hooks: Receiver) -> None:
    project = make_project(tmp_path, monkeypatch, "teams:dq", hooks)
    store = open_project_store(project)
    audit_with(project, tmp_path, BAD)
    hooks.answers = [(502, b"")]
    assert "Teams (127.0.0.1:" in (send_pending(store, project.settings, now=at(0)).error() or "")
    assert len(send_pending(store, project.settings, now=at(1)).sent) == 1
    assert [r["status"] for r in hooks.received] == [502, 200]
    assert hooks.received[-1]["path"] == "/workflows/teams?sig=t3amssig"
    message = hooks.bodies(200)[0]
    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] == "1.4"
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["body"][0]["text"] == f"dw.plays ds=2026-11-01: {MISSING} FAIL: 1 row, expected < 1"
    (section,) = [b for b in card["body"] if b["type"] == "Container"]
    head, facts, actions = section["items"]
    assert head["text"] == f"**dw.plays** ds={DAY}"
    assert [f["title"] for f in facts["facts"]] == [f"FAIL {MISSING}"]
    assert facts["facts"][0]["value"].startswith("1 row, expected < 1")
    (action,) = actions["actions"]
    assert action == {
        "type": "Action.OpenUrl",
        "title": f"Open ds={DAY}",
        "url": f"https://quinto.example.com/tables/dw.plays/partitions/{DAY}",
    }
    assert card["body"][-1]["text"] == "Owners: plays-data@example.com"
    store.close()


# -- PagerDuty -------------------------------------------------------------------------------------
def test_pagerduty_triggers_on_failing_and_resolves_on_recovered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pagerduty: Receiver
) -> None:
    project = make_project(tmp_path, monkeypatch, "pagerduty:dq", pd=pagerduty)
    store = open_project_store(project)
    key = dedup_key("dw.plays", DAY, MISSING)
    assert key == f"quinto/dw.plays/{DAY}/{MISSING}"

    audit_with(project, tmp_path, BAD)  # FAIL: trigger, after a 500
    pagerduty.answers = [(500, b'{"status":"error"}')]
    failed = send_pending(store, project.settings, now=at(0))
    assert failed.sent == [] and "PagerDuty (127.0.0.1:" in (failed.error() or "")
    assert len(send_pending(store, project.settings, now=at(1)).sent) == 1
    audit_with(project, tmp_path, BAD)  # still failing: nothing new
    assert send_pending(store, project.settings, now=at(2)).sent == []
    audit_with(project, tmp_path, GOOD)  # PASS: resolve, the same key
    assert len(send_pending(store, project.settings, now=at(3)).sent) == 1

    assert [r["path"] for r in pagerduty.received] == ["/v2/enqueue"] * 3
    assert [r["status"] for r in pagerduty.received] == [500, 202, 202]
    first, trigger, resolve = pagerduty.bodies()
    assert first == trigger  # the retry repeats the same event
    assert resolve == {"routing_key": ROUTING_KEY, "event_action": "resolve", "dedup_key": key}
    assert trigger["routing_key"] == ROUTING_KEY and trigger["event_action"] == "trigger"
    assert trigger["dedup_key"] == key and trigger["client"] == "Quinto"
    payload = trigger["payload"]
    assert payload["summary"].startswith(f"FAIL dw.plays ds={DAY} {MISSING}: 1 row, expected < 1")
    assert (payload["source"], payload["severity"], payload["component"]) == ("dw.plays", "error", "dw.plays")
    assert payload["custom_details"]["check"] == MISSING and payload["custom_details"]["status"] == "FAIL"
    assert dt.datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
    assert trigger["links"] == [
        {"href": f"https://quinto.example.com/tables/dw.plays/partitions/{DAY}", "text": f"ds={DAY}"}
    ]
    store.close()


def test_a_resolve_never_overtakes_the_trigger_it_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pagerduty: Receiver
) -> None:
    project = make_project(tmp_path, monkeypatch, "pagerduty:dq", pd=pagerduty)
    store = open_project_store(project)
    audit_with(project, tmp_path, BAD)
    pagerduty.answers = [(503, b"")]
    t0 = at(0)
    assert send_pending(store, project.settings, now=t0).sent == []  # the trigger waits for its retry
    audit_with(project, tmp_path, GOOD)  # the resolve is due at once, but waits for the trigger
    waited = send_pending(store, project.settings, now=t0 + dt.timedelta(seconds=5))
    assert waited.sent == [] and waited.deferred == 1 and len(pagerduty.received) == 1
    done = send_pending(store, project.settings, now=t0 + dt.timedelta(minutes=1))
    assert len(done.sent) == 2
    assert [(b["event_action"], r["status"]) for b, r in zip(pagerduty.bodies(), pagerduty.received, strict=True)] == [
        ("trigger", 503),
        ("trigger", 202),
        ("resolve", 202),
    ]
    store.close()


def test_pagerduty_refusal_is_reported_without_the_routing_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pagerduty: Receiver
) -> None:
    project = make_project(tmp_path, monkeypatch, "pagerduty:dq", pd=pagerduty)
    store = open_project_store(project)
    audit_with(project, tmp_path, BAD)
    pagerduty.answers = [(400, b'{"status":"invalid event","errors":["bad"],"request":{echo}}')]
    report = send_pending(store, project.settings, now=at(0))
    error = report.error() or ""
    assert "PagerDuty (127.0.0.1:" in error and "answered 400 for dq" in error and "invalid event" in error
    assert ROUTING_KEY not in error and ROUTING_KEY[:12] not in json.dumps(store.outbox.rows(), default=str)
    assert ROUTING_KEY in pagerduty.received[0]["raw"].decode()  # it was sent, and echoed back
    store.close()


def test_dedup_keys_stay_within_pagerdutys_limit() -> None:
    long = dedup_key("dw.plays", DAY, "avg(" + "x" * 300 + ") > 0")
    assert len(long) <= 255 and long.startswith("quinto/dw.plays/")
    assert long == dedup_key("dw.plays", DAY, "avg(" + "x" * 300 + ") > 0")
    assert long != dedup_key("dw.plays", "2026-11-02", "avg(" + "x" * 300 + ") > 0")


def test_a_digest_table_still_pages_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hooks: Receiver, pagerduty: Receiver
) -> None:
    project = make_project(tmp_path, monkeypatch, "pagerduty:dq, webhook:ops", hooks, pagerduty)
    text = (tmp_path / "quinto.yaml").read_text(encoding="utf-8") + "alerts:\n  digest: [dw.plays]\n"
    (tmp_path / "quinto.yaml").write_text(text, encoding="utf-8")
    project = load_project(tmp_path / "quinto.yaml")
    store = open_project_store(project)
    audit_with(project, tmp_path, BAD)
    assert sorted((r.channel, r.kind, r.status) for r in store.outbox.rows()) == [
        ("pagerduty", "alert", "pending"),
        ("webhook", "digest_item", "held"),
    ]
    assert len(send_pending(store, project.settings).sent) == 1
    assert [b["event_action"] for b in pagerduty.bodies()] == ["trigger"] and hooks.received == []
    tomorrow = dt.datetime.combine(dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1), dt.time(0, 5), dt.UTC)
    report = send_pending(store, project.settings, now=tomorrow)
    assert report.digests == 1 and len(report.sent) == 1
    (digest,) = hooks.bodies()
    assert digest["type"] == "digest" and [i["table"] for i in digest["alert"]["items"]] == ["dw.plays"]
    store.close()


# -- declaring targets and endpoints -----------------------------------------------------------------
def problems(tmp_path: Path, quinto_yaml: str, targets: str = "email:owners") -> list[str]:
    (tmp_path / "checks").mkdir(exist_ok=True)
    (tmp_path / "checks" / "plays.yaml").write_text(CHECKS.format(targets=targets), encoding="utf-8")
    (tmp_path / "quinto.yaml").write_text(
        "connections:\n  warehouse: 'duckdb:///:memory:'\nchecks: [checks/]\n" + quinto_yaml, encoding="utf-8"
    )
    try:
        load_suite(load_project(tmp_path / "quinto.yaml"))
    except SpecError as exc:
        return [f"{p.location.line}:{p.location.col}: {p.message}" if p.location else p.message for p in exc.problems]
    return []


def test_sections_and_targets_are_checked_with_their_lines(tmp_path: Path) -> None:
    assert problems(tmp_path, "webhook:\n  ops:\n    url: https://example.com/hook\n") == [
        "6:10: `webhook.ops.url:` is a secret written in the file; read it from the environment, "
        "e.g. url: ${WEBHOOK_OPS_URL}"
    ]
    assert problems(tmp_path, "webhook:\n  ops:\n    secret: ${S}\n") == ["5:3: `webhook.ops:` needs `url`"]
    assert problems(tmp_path, "pagerduty:\n  dq:\n    routing_key: ${K}\n    urll: https://pd.example.com\n") == [
        "7:5: unknown key 'urll' in `pagerduty.dq:` (did you mean 'url'?)"
    ]
    assert problems(tmp_path, "teams:\n  dq-plays:\n    url: ${T}\n", "teams:dq-play") == [
        "5:10: unknown Microsoft Teams endpoint 'dq-play' (did you mean 'dq-plays'?); endpoints are declared under "
        "`teams:` in quinto.yaml"
    ]
    assert problems(tmp_path, "", "webhook:ops team") == [
        "5:10: 'ops team' is not a webhook name: letters, digits, '-', '_' or '.', as declared under "
        "`webhook:` in quinto.yaml"
    ]
    assert problems(tmp_path, "", "pagerduty") == [
        "5:10: notify target 'pagerduty' names no channel (did you mean 'slack:#pagerduty'?); use slack:#channel, "
        "email:owners, email:name@example.com, webhook:NAME, teams:NAME or pagerduty:NAME"
    ]
    assert problems(tmp_path, "", "pagerdty:dq") == [
        "5:10: unknown notify channel 'pagerdty' in 'pagerdty:dq' (did you mean 'pagerduty:dq'?); use "
        "slack:#channel, email:owners, email:name@example.com, webhook:NAME, teams:NAME or pagerduty:NAME"
    ]
    assert problems(tmp_path, "webhooks: {}\n") == ["4:1: unknown setting 'webhooks' (did you mean 'webhook'?)"]


def test_targets_without_endpoints_are_noted_not_queued(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from quinto.alerts.policy import policy_for, routing_notes

    assert problems(tmp_path, "", "webhook:ops, pagerduty:dq") == []
    project = load_project(tmp_path / "quinto.yaml")
    suite = load_suite(project)
    assert policy_for(project, suite.table("dw.plays")) is None
    assert routing_notes(project, suite.tables) == [
        "alerts of dw.plays are not delivered to webhook:ops, pagerduty:dq: not configured in quinto.yaml"
    ]


def test_every_built_in_channel_is_documented() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    built_in = [c for c in CHANNELS.values() if type(c).__module__.startswith("quinto.")]
    assert [c.name for c in built_in] == ["slack", "email", "webhook", "teams", "pagerduty"]
    for channel in built_in:
        assert f"`{channel.section_name}`" in readme, channel.name
        for form in channel.forms:
            assert f"`{form}`" in readme, form
        for key in channel.keys:
            name = f"{channel.section_name}.NAME.{key.name}" if channel.named else f"{channel.section_name}.{key.name}"
            assert f"`{name}`" in readme, f"{name} is not documented in README.md"


# -- a channel from another distribution ---------------------------------------------------------------
PLUGIN = '''
"""A channel that appends each message to a file: installed with an entry point, never imported by Quinto."""
import json
from pathlib import Path

from quinto.alerts.channels.base import Channel, Delivery
from quinto.alerts.render import headline
from quinto.settings import Setting


class Echo(Channel):
    name = "echo"
    title = "echo"
    forms = ("echo:NAME",)
    required = ("path",)
    keys = (Setting("path", None, str, "The file messages are appended to."),)

    def render(self, payload):
        return {"text": headline(payload)}

    def send(self, message, settings):
        path = Path(self.config(message.target, settings)["path"])
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"id": message.id, "target": message.target, **self.render(message.payload)}) + "\\n")
        return Delivery()
'''


def test_a_distribution_adds_a_channel_through_its_entry_point(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "quinto_echo").mkdir(parents=True)
    (site / "quinto_echo" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    info = site / "quinto_echo-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: quinto-echo\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[quinto.channels]\necho = quinto_echo:Echo\n", encoding="utf-8")
    (info / "RECORD").write_text("", encoding="utf-8")
    project = tmp_path / "project"
    (project / "checks").mkdir(parents=True)
    (project / "checks" / "plays.yaml").write_text(CHECKS.format(targets="echo:log"), encoding="utf-8")
    outbox = tmp_path / "echoed.jsonl"
    (project / "quinto.yaml").write_text(
        f"connections:\n  warehouse: duckdb:///{tmp_path / 'wh.duckdb'}\nstore: sqlite:///{tmp_path / 's.db'}\n"
        f"checks: [checks/]\necho:\n  log:\n    path: {outbox}\n",
        encoding="utf-8",
    )
    load_tables(
        f"duckdb:///{tmp_path / 'wh.duckdb'}",
        {
            "dw.plays": {
                "columns": {"play_id": "INTEGER", "account_id": "INTEGER", "duration_s": "INTEGER", "ds": "VARCHAR"},
                "rows": BAD,
            }
        },
    )
    env = {"PYTHONPATH": f"{site}:{ROOT}"}
    without = run_quinto(["validate", "--no-connect"], project)
    assert without.returncode == 2 and without.stderr == "Error: quinto.yaml:5:1: unknown setting 'echo'\n"
    checked = run_quinto(["validate", "--no-connect"], project, env)
    assert checked.returncode == 0, checked.stderr
    audited = run_quinto(["audit", "dw.plays", "--partition", f"ds={DAY}"], project, env)
    assert audited.returncode == 1 and "Traceback" not in audited.stderr, audited.stderr
    sent = run_quinto(["alerts", "send"], project, env)
    assert sent.returncode == 0 and sent.stdout.strip() == "sent 1 alert(s)", sent.stderr
    (line,) = outbox.read_text(encoding="utf-8").splitlines()
    said = json.loads(line)
    assert said["target"] == "log" and said["text"] == f"dw.plays ds={DAY}: {MISSING} FAIL: 1 row, expected < 1"
    (project / "checks" / "plays.yaml").write_text(CHECKS.format(targets="echo:lgo"), encoding="utf-8")
    typo = run_quinto(["validate", "--no-connect"], project, env)
    assert typo.returncode == 2
    assert "unknown echo endpoint 'lgo' (did you mean 'log'?)" in typo.stderr
