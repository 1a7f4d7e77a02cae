"""Web, secrets and session hardening, on real components: the Flask app (test client and `quinto
serve`), real HTTP servers on 127.0.0.1 for `--via` redirects and webhooks, the real `quinto` command,
and real PostgreSQL, MariaDB and SQLite for read-only `sql:` checks."""

from __future__ import annotations

import io
import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from quinto.web import MAX_BODY, create_app

from quinto.alerts.sender import send_pending
from quinto.engines import connector_for
from quinto.errors import SpecError, WarehouseError
from quinto.redact import redact
from quinto.spec import load_project
from quinto.store import Store
from tests.test_alerts import BAD, audit_with, make_project, open_project_store
from tests.test_bad_input import run_quinto
from tests.test_web import TOKEN, text
from tests.webdata import build_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("websec") / "demo")


@pytest.fixture
def client(demo: Path) -> FlaskClient:
    return create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN}).test_client()


def bearer(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class CountingBody(io.RawIOBase):
    """A request body of `size` bytes that counts how much of it the server reads."""

    def __init__(self, size: int) -> None:
        self.size, self.pos, self.read_bytes = size, 0, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset + (self.size if whence == 2 else self.pos if whence == 1 else 0)
        return self.pos

    def readinto(self, buffer: Any) -> int:
        n = max(0, min(len(buffer), self.size - self.pos))
        buffer[:n] = b" " * n
        self.pos += n
        self.read_bytes += n
        return n


# -- 5: request size, and the token before the body ----------------------------------------------
def test_a_write_without_the_token_is_refused_before_its_body_is_read(client: FlaskClient) -> None:
    body = CountingBody(300 * 1024 * 1024)
    resp = client.post(
        "/api/snoozes",
        input_stream=body,
        headers={"Content-Type": "application/json", "Content-Length": str(body.size)},
    )
    assert resp.status_code == 401 and "Bearer" in resp.get_json()["error"]
    assert body.read_bytes == 0


def test_a_body_over_the_limit_is_413_with_a_json_error(client: FlaskClient) -> None:
    big = json.dumps({"table": "dw.fact_playback", "for": "1h", "reason": "x" * MAX_BODY})
    resp = client.post("/api/snoozes", data=big, headers=bearer(), content_type="application/json")
    assert resp.status_code == 413 and resp.is_json and resp.get_json()["error"]
    body = CountingBody(50 * 1024 * 1024)
    resp = client.post(
        "/api/audits",
        input_stream=body,
        headers={**bearer(), "Content-Type": "application/json", "Content-Length": str(body.size)},
    )
    assert resp.status_code == 413 and body.read_bytes == 0


# -- 13: hostile JSON is a 400, never a 500 ------------------------------------------------------
HOSTILE = {
    "deep arrays": b"[" * 100_000,
    "deep objects": b'{"a":' * 50_000,
    "deep but closed": b"[" * 2000 + b"]" * 2000,
    "not json": b"{'table': 1}",
}


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("path", ["/api/snoozes", "/api/audits", "/api/partitions/dw.fact_playback/2026-11-27/mark"])
def test_hostile_json_bodies_are_400(client: FlaskClient, name: str, path: str) -> None:
    resp = client.post(path, data=HOSTILE[name], headers=bearer(), content_type="application/json")
    assert resp.status_code == 400, (name, text(resp)[:300])
    assert resp.get_json()["error"]


@pytest.mark.parametrize("field", ["reason", "by"])
def test_a_lone_surrogate_in_mark_or_snooze_is_400(client: FlaskClient, field: str) -> None:
    mark = '{"mark": "good", "FIELD": "\\udfff"}'.replace("FIELD", field)
    resp = client.post(
        "/api/partitions/dw.fact_playback/2026-11-27/mark", data=mark, headers=bearer(), content_type="application/json"
    )
    assert resp.status_code == 400 and "surrogate" in resp.get_json()["error"]
    snooze = '{"table": "dw.fact_playback", "for": "1h", "FIELD": "ok \\udfff"}'.replace("FIELD", field)
    resp = client.post("/api/snoozes", data=snooze, headers=bearer(), content_type="application/json")
    assert resp.status_code == 400 and "surrogate" in resp.get_json()["error"]
    # a proper pair is text like any other
    pair = '{"table": "dw.fact_playback", "for": "1h", "FIELD": "\\ud83d\\ude00"}'.replace("FIELD", field)
    assert client.post("/api/snoozes", data=pair, headers=bearer(), content_type="application/json").status_code == 201


# -- 6: throttling ---------------------------------------------------------------------------------
def signin(client: FlaskClient, token: str) -> Any:
    page = text(client.get("/signin"))
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client.post("/signin", data={"csrf_token": csrf, "token": token})


def test_sign_in_is_throttled_per_client(demo: Path) -> None:
    app = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN, "QUINTO_THROTTLE_FAILURES": 5})
    attacker = app.test_client()
    for _ in range(5):
        assert signin(attacker, "guess").status_code == 401
    blocked = signin(attacker, "guess")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert signin(attacker, TOKEN).status_code == 429  # even the right token waits
    # API tokens from the same client wait too; another client is not affected
    assert attacker.post("/api/audits", json={"table": "x"}, headers=bearer("guess")).status_code == 429
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "127.0.0.2"
    assert signin(other, TOKEN).status_code == 302


def test_wrong_api_tokens_are_throttled(demo: Path) -> None:
    app = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN})
    client = app.test_client()
    codes = [
        client.delete("/api/snoozes?table=dw.fact_playback", headers=bearer(f"g{i}")).status_code for i in range(60)
    ]
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}
    resp = client.get("/api/snoozes", headers=bearer("g"))
    assert resp.status_code == 429 and resp.is_json and "Retry-After" in resp.headers


# -- 20: a new token signs everyone out ------------------------------------------------------------
def test_a_token_rotation_ends_every_session(demo: Path) -> None:
    shared = {"QUINTO_CONFIG": str(demo), "SECRET_KEY": "shared-between-workers"}
    old = create_app({**shared, "QUINTO_API_TOKEN": "old-token"}).test_client()
    assert signin(old, "old-token").status_code == 302
    cookie = old.get_cookie("session")
    assert cookie is not None and "old-token" not in cookie.value
    rotated = create_app({**shared, "QUINTO_API_TOKEN": "new-token"}).test_client()
    rotated.set_cookie("session", cookie.value)
    assert "sign out" not in text(rotated.get("/")) and "sign in to mark" in text(rotated.get("/"))
    page = text(rotated.get("/signin"))  # the old session's CSRF token is still good; the sign-in is not
    csrf = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    resp = rotated.post(
        "/tables/dw.fact_playback/partitions/2026-11-27/mark", data={"csrf_token": csrf, "mark": "good"}
    )
    assert resp.status_code == 401
    # the same token on another worker with the shared key keeps the session
    same = create_app({**shared, "QUINTO_API_TOKEN": "old-token"}).test_client()
    same.set_cookie("session", cookie.value)
    assert "sign out" in text(same.get("/"))


# -- 21: HTTPS behind a proxy ----------------------------------------------------------------------
def test_secure_cookie_and_hsts_behind_a_trusted_https_proxy(demo: Path) -> None:
    proxied = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN, "QUINTO_TRUST_PROXY": 1})
    resp = proxied.test_client().get("/signin", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in resp.headers["Set-Cookie"] and resp.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = proxied.test_client().get("/signin")
    assert "Secure" not in plain.headers["Set-Cookie"] and "Strict-Transport-Security" not in plain.headers
    # without trust_proxy, a client's X-Forwarded-Proto changes nothing
    direct = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": TOKEN}).test_client()
    resp = direct.get("/signin", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in resp.headers["Set-Cookie"] and "Strict-Transport-Security" not in resp.headers


# -- 19: --via never follows a redirect with the token --------------------------------------------
class Recorder(BaseHTTPRequestHandler):
    server: Site

    def _any(self) -> None:
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization")))
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        if self.server.location:
            self.send_response(self.server.status)
            self.send_header("Location", self.server.location)
            self.end_headers()
            return
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"run_id": 1, "status": "QUEUED"}')

    do_GET = do_POST = _any  # noqa: N815 - http.server's names

    def log_message(self, *args: Any) -> None:
        pass


class Site(ThreadingHTTPServer):
    def __init__(self, location: str | None = None, status: int = 307) -> None:
        super().__init__(("127.0.0.1", 0), Recorder)
        self.location, self.status = location, status
        self.seen: list[tuple[str, str, str | None]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def site(location: str | None = None, status: int = 307) -> Iterator[Site]:
    server = Site(location, status)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_via_reports_a_redirect_and_sends_no_token_elsewhere(tmp_path: Path, status: int) -> None:
    other = next(site())
    try:
        redirector = next(site(f"{other.url}/api/audits?token=leaked-in-location", status))
        try:
            proc = run_quinto(
                ["audit", "dw.sales", "-p", "ds=2026-11-01", "--via", redirector.url],
                tmp_path,
                {"QUINTO_API_TOKEN": "via-s3cret-token"},
            )
        finally:
            redirector.shutdown()
    finally:
        other.shutdown()
    assert other.seen == []  # nothing reached the other host: no token, no GET
    assert [(m, p) for m, p, _ in redirector.seen] == [("POST", "/api/audits")]
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert f"answered {status}, redirecting to {other.url}/api/audits" in proc.stderr, proc.stderr
    assert "leaked-in-location" not in proc.stderr and "via-s3cret-token" not in proc.stderr


# -- 17: secrets are never printed -----------------------------------------------------------------
WEBHOOK_SECRET = "XXSECRETXXhookpath"


@pytest.mark.parametrize("junk", [" ", "\x01", "\x1b[31m", "\x7f"])
def test_a_webhook_url_with_a_bad_character_is_never_printed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, junk: str
) -> None:
    store_url = f"sqlite:///{tmp_path / 's.db'}"
    url = f"http://127.0.0.1:9/services/T1/B1/{WEBHOOK_SECRET}{junk}tail"
    checks = (
        "table: dw.plays\npartition: ds\nowners: [plays-data@example.com]\nnotify: [slack:#dq-plays]\n"
        "checks:\n  - row_count > 0\n  - missing_count(account_id) < 1\n"
    )
    project = make_project(tmp_path, store_url, monkeypatch, 9, url, checks=checks)
    audit_with(project, tmp_path, BAD)
    env = {"WAREHOUSE_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}", "STORE_URL": store_url}
    env["SLACK_DQ_PLAYS_WEBHOOK"] = url
    shutil.copy(tmp_path / "s.db", tmp_path / "copy.db")  # the scheduler sends the same alerts from a copy
    sent = run_quinto(["alerts", "send"], tmp_path, env)
    listed = run_quinto(["alerts", "list"], tmp_path, env)
    scheduler = run_quinto(["scheduler", "--once"], tmp_path, {**env, "STORE_URL": f"sqlite:///{tmp_path / 'copy.db'}"})
    store = Store(store_url)
    errors = [r.last_error for r in store.outbox.rows()]
    store.close()
    assert sent.returncode == 3 and "not a valid URL" in sent.stderr, sent.stderr
    assert errors and all(e and "not a valid URL" in e for e in errors)
    assert "last error" in listed.stdout
    assert '"alerts_sent"' in scheduler.stdout and "not a valid URL" in scheduler.stdout, scheduler.stdout
    for shown in (sent.stdout, sent.stderr, listed.stdout, listed.stderr, scheduler.stdout, scheduler.stderr, *errors):
        assert WEBHOOK_SECRET not in shown and "tail" not in shown, shown


def test_in_process_sender_stores_no_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:9/services/T1/B1/{WEBHOOK_SECRET} tail"
    project = make_project(tmp_path, f"sqlite:///{tmp_path / 's.db'}", monkeypatch, 9, url)
    audit_with(project, tmp_path, BAD)
    store = open_project_store(project)
    report = send_pending(store, project.settings)
    assert report.failed and all(WEBHOOK_SECRET not in why for _, why in report.failed)
    assert all(WEBHOOK_SECRET not in (r.last_error or "") for r in store.outbox.rows())
    store.close()


@pytest.mark.parametrize(
    ("raw", "hidden"),
    [
        ("cannot open postgresql+psycopg://qt:hunter2@db/wh", "hunter2"),
        ("postgresql://qt@db/wh?sslmode=require&password=hunter2", "hunter2"),
        ("https://hooks.slack.com/services/T0AAA/B0BBB/abcdefghijklmnopqrstuvwx", "abcdefghijklmnopqrstuvwx"),
        ("URL can't contain control characters. '/services/T0/B0/zzTOKENzz x'", "zzTOKENzz"),
        (
            "https://x.logic.azure.com/workflows/abc/triggers/manual/paths/invoke?api-version=1&sig=S1GN4TURE",
            "S1GN4TURE",
        ),
        ("Authorization: Bearer abc.def-123456", "abc.def-123456"),
        ("https://example.com/hook/a1b2c3d4e5f6g7h8i9j0", "a1b2c3d4e5f6g7h8i9j0"),
        ("?api_key=k3yk3yk3y&x=1", "k3yk3yk3y"),
    ],
)
def test_redact_hides_each_kind_of_secret(raw: str, hidden: str) -> None:
    shown = redact(raw)
    assert hidden not in shown and "[redacted]" in shown


def test_redact_keeps_ordinary_messages() -> None:
    for message in (
        "a valid `Authorization: Bearer <token>` header is required",
        "cannot reach the Quinto server at http://127.0.0.1:5000/api/runs/12: refused",
        "`smtp.password:` is a secret written in the file; read it from the environment: password: ${SMTP_PASSWORD}",
        "table dw.fact_playback partition ds=2026-11-27 FAILED",
        "read it from the environment, e.g. postgresql://user:${PGPASSWORD}@host/db?password=${PGPASSWORD}",
    ):
        assert redact(message) == message


# -- 18 and 21: quinto.yaml ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+psycopg://qt@host/wh?password=hunter2", "`password=` in its query"),
        ("postgresql+psycopg://u:hunter2${HOME}@host/wh", "has a password written in the file; read it"),
        ("trino://u@host:8080/hive?access_token=abc", "`access_token=`"),
        ("mysql+pymysql://u@host/db?ssl_key=k&passwd=p", "`passwd=`"),
        ("postgresql://u@host/db?password=${A}x", "`password=`"),
    ],
)
def test_a_literal_secret_in_a_connection_url_is_refused(tmp_path: Path, url: str, said: str) -> None:
    (tmp_path / "quinto.yaml").write_text(f"connections:\n  wh: {url}\nchecks: []\n", encoding="utf-8")
    (tmp_path / "checks").mkdir()
    with pytest.raises(SpecError) as err:
        load_project(tmp_path / "quinto.yaml")
    assert said in str(err.value) and "quinto.yaml:2:" in str(err.value)
    proc = run_quinto(["validate", "--config", "quinto.yaml"], tmp_path)
    assert proc.returncode == 2 and "quinto.yaml:2:" in proc.stderr and "hunter2" not in proc.stderr, proc.stderr


def test_whole_env_references_are_accepted(tmp_path: Path) -> None:
    (tmp_path / "quinto.yaml").write_text(
        "connections:\n  wh: postgresql+psycopg://${PGUSER}:${PGPASSWORD}@host/wh?password=${PGPASSWORD}&sslmode=require\n"
        "store: postgresql+psycopg://qt@host/store?sslkey=/etc/k.pem\nchecks: []\n",
        encoding="utf-8",
    )
    project = load_project(tmp_path / "quinto.yaml")
    assert "wh" in project.connections


@pytest.mark.parametrize(
    "value", ["ftp://quinto.example.com", "quinto.example.com", "javascript:alert(1)", "http://[::1"]
)
def test_base_url_is_http_or_https(tmp_path: Path, value: str) -> None:
    (tmp_path / "quinto.yaml").write_text(f"checks: []\nbase_url: '{value}'\n", encoding="utf-8")
    (tmp_path / "checks").mkdir()
    proc = run_quinto(["validate", "--config", "quinto.yaml"], tmp_path)
    assert proc.returncode == 2 and "quinto.yaml:2:" in proc.stderr and "http(s)" in proc.stderr, proc.stderr


# -- 21: `sql:` checks only read -------------------------------------------------------------------
CTE_DELETE = "WITH d AS (DELETE FROM dw_plays WHERE ds = :partition RETURNING 1) SELECT count(*) FROM d"


@pytest.mark.parametrize(
    "sql",
    [
        CTE_DELETE,
        "WITH d AS (INSERT INTO x SELECT 1 RETURNING 1) SELECT count(*) FROM d WHERE 1 = :partition",
        "SELECT count(*) INTO copy FROM dw_plays WHERE ds = :partition",
        "SELECT count(*) FROM dw_plays WHERE ds = :partition FOR UPDATE",
        "SELECT 1 WHERE 1 = :partition; DELETE FROM dw_plays",
    ],
)
def test_validate_refuses_a_sql_check_that_writes(tmp_path: Path, sql: str) -> None:
    (tmp_path / "t.yaml").write_text(
        f'table: dw.plays\npartition: ds\nchecks:\n  - deleted = 0:\n      sql: "{sql}"\n', encoding="utf-8"
    )
    proc = run_quinto(["validate", "t.yaml"], tmp_path)
    assert proc.returncode == 2 and "t.yaml:5:" in proc.stderr and "`sql:`" in proc.stderr, proc.stderr


def _forced_past_validate(url: str, create: list[str]) -> tuple[str, int]:
    """Runs the data-modifying CTE the way the audit runs a `sql:` check (read-only), as if validate
    had let it through; returns the error and the rows left."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for stmt in create:
            conn.exec_driver_sql(stmt)
    connector = connector_for(url, "wh")
    try:
        with pytest.raises(WarehouseError) as err, connector.read_only():
            connector.execute(CTE_DELETE, {"partition": "d1"}, purpose="sql")
        # the connection is usable (and writable by others) afterwards
        assert connector.execute("SELECT count(*) FROM dw_plays")[0][0] == 2
    finally:
        connector.close()
    with engine.connect() as conn:
        left = conn.exec_driver_sql("SELECT count(*) FROM dw_plays").scalar_one()
    engine.dispose()
    return err.value.message, int(left)


def test_a_data_modifying_cte_fails_read_only_on_postgresql(pg_url: str) -> None:
    message, left = _forced_past_validate(
        pg_url,
        [
            "DROP TABLE IF EXISTS dw_plays",
            "CREATE TABLE dw_plays (ds text)",
            "INSERT INTO dw_plays VALUES ('d1'), ('d1')",
        ],
    )
    assert "read-only transaction" in message and left == 2


def test_a_data_modifying_statement_fails_read_only_on_mariadb(mysql_url: str) -> None:
    url = mysql_url
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS dw_plays")
        conn.exec_driver_sql("CREATE TABLE dw_plays (ds varchar(10))")
        conn.exec_driver_sql("INSERT INTO dw_plays VALUES ('d1'), ('d1')")
    connector = connector_for(url, "wh")
    try:
        with pytest.raises(WarehouseError) as err, connector.read_only():
            connector.execute("DELETE FROM dw_plays WHERE ds = :partition", {"partition": "d1"}, purpose="sql")
        assert connector.execute("SELECT count(*) FROM dw_plays")[0][0] == 2
    finally:
        connector.close()
    assert "READ ONLY" in err.value.message.upper()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM dw_plays").scalar_one() == 2
    engine.dispose()


def test_a_data_modifying_statement_fails_read_only_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wh.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE dw_plays (ds text)")
        conn.exec_driver_sql("INSERT INTO dw_plays VALUES ('d1'), ('d1')")
    connector = connector_for(url, "wh")
    try:
        with pytest.raises(WarehouseError) as err, connector.read_only():
            connector.execute("DELETE FROM dw_plays WHERE ds = :partition", {"partition": "d1"}, purpose="sql")
        assert connector.execute("PRAGMA query_only") == [(0,)]  # the pooled connection may write again
    finally:
        connector.close()
    assert "readonly" in err.value.message.replace("-", "").replace(" ", "").lower()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM dw_plays").scalar_one() == 2
    engine.dispose()
