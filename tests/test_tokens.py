"""Named tokens with scopes (read < audit < write), reads that need a token, who wrote, and single
sign-on through a trusted proxy: on the real Flask app (test client) over the audited demo, and on
`quinto serve` as a subprocess."""

from __future__ import annotations

import hmac
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from quinto.web import create_app, tokens
from quinto.web.tokens import MIN_SECRET, Scope, TokenError, load, load_proxy

from quinto.store import Store
from tests.servers import quinto_serve
from tests.test_bad_input import run_quinto
from tests.test_web import text
from tests.test_websec import CountingBody
from tests.webdata import build_demo

ALICE = "alice-secret-0123456789"  # write
BOB = "bob-secret-0123456789ab"  # read
ETL = "etl-secret-0123456789abc"  # audit
NAMED = f"alice:write:{ALICE}, bob:read:{BOB}\netl:audit:{ETL}"
PART = "/tables/dw.fact_playback/partitions/2026-11-27"
MARK_API = "/api/partitions/dw.fact_playback/2026-11-27/mark"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("tokens") / "demo")


@pytest.fixture(scope="module")
def locked(demo: Path) -> Path:
    """The demo's project with `api.read_requires_token: true` (same folder: same store and checks)."""
    path = demo.with_name("quinto-locked.yaml")
    path.write_text(demo.read_text(encoding="utf-8") + "\napi:\n  read_requires_token: true\n", encoding="utf-8")
    return path


def app_client(config: Path, **extra: Any) -> FlaskClient:
    return create_app({"QUINTO_CONFIG": str(config), "QUINTO_API_TOKENS": NAMED, **extra}).test_client()


@pytest.fixture
def client(demo: Path) -> FlaskClient:
    return app_client(demo)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def csrf_of(page: str) -> str:
    return page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]


def signin(client: FlaskClient, token: str, next_: str = "") -> Any:
    csrf = csrf_of(text(client.get("/signin")))
    return client.post("/signin", data={"csrf_token": csrf, "token": token, "next": next_})


def mark_form(client: FlaskClient, mark: str = "bad", reason: str = "late feed") -> Any:
    csrf = csrf_of(text(client.get("/signin")))
    return client.post(f"{PART}/mark", data={"csrf_token": csrf, "mark": mark, "reason": reason})


# -- scopes over the API ---------------------------------------------------------------------------
def test_a_read_token_cannot_write_and_is_told_why(client: FlaskClient) -> None:
    resp = client.post(MARK_API, json={"mark": "bad"}, headers=bearer(BOB))
    assert resp.status_code == 403
    error = resp.get_json()["error"]
    assert "'bob'" in error and "scope read" in error and "needs scope write" in error
    assert (
        client.post("/api/snoozes", json={"table": "dw.fact_signup", "for": "2h"}, headers=bearer(BOB)).status_code
        == 403
    )
    assert client.delete("/api/snoozes?table=dw.fact_signup", headers=bearer(BOB)).status_code == 403
    assert client.post("/api/audits", json={"table": "dw.fact_playback"}, headers=bearer(BOB)).status_code == 403
    assert client.get("/api/tables", headers=bearer(BOB)).status_code == 200


def test_the_scope_is_checked_before_the_body_is_read(client: FlaskClient) -> None:
    body = CountingBody(50 * 1024 * 1024)
    resp = client.post(
        MARK_API,
        input_stream=body,
        headers={**bearer(BOB), "Content-Type": "application/json", "Content-Length": str(body.size)},
    )
    assert resp.status_code == 403 and body.read_bytes == 0


def test_an_audit_token_queues_audits_but_does_not_mark(client: FlaskClient) -> None:
    resp = client.post(MARK_API, json={"mark": "good"}, headers=bearer(ETL))
    assert resp.status_code == 403 and "scope audit" in resp.get_json()["error"]
    queued = client.post(
        "/api/audits", json={"table": "dw.fact_playback", "partition": "2026-11-26"}, headers=bearer(ETL)
    )
    assert queued.status_code == 202, queued.get_json()
    run = client.get(queued.get_json()["url"]).get_json()
    assert run["requested_by"] == "etl" and run["trigger"] == "http"
    assert "requested by etl" in text(client.get(f"/runs/{run['run_id']}"))


def test_a_write_token_writes_under_its_own_name(client: FlaskClient) -> None:
    # `by` is accepted and ignored: a client cannot write in someone else's name
    resp = client.post(MARK_API, json={"mark": "bad", "reason": "late feed", "by": "mallory"}, headers=bearer(ALICE))
    assert resp.status_code == 200 and resp.get_json()["marked_by"] == "alice"
    detail = client.get("/api/tables/dw.fact_playback/partitions/2026-11-27").get_json()
    mark = detail["mark"]
    assert (mark["kind"], mark["by"], mark["reason"]) == ("bad", "alice", "late feed")
    page = text(client.get(PART))
    assert "marked bad by alice" in page and "mallory" not in page
    made = client.post(
        "/api/snoozes", json={"table": "dw.fact_signup", "for": "2h", "by": "mallory"}, headers=bearer(ALICE)
    )
    assert made.status_code == 201 and made.get_json()["created_by"] == "alice"
    listed = client.get("/api/snoozes?table=dw.fact_signup").get_json()["snoozes"]
    assert [s["created_by"] for s in listed] == ["alice"]
    assert "by alice" in text(client.get("/tables/dw.fact_signup"))
    assert client.delete("/api/snoozes?table=dw.fact_signup", headers=bearer(ALICE)).get_json() == {"ended": 1}
    assert client.post(MARK_API, json={"mark": "good", "by": 3}, headers=bearer(ALICE)).status_code == 400


def test_a_signed_in_session_does_not_authorize_api_writes(client: FlaskClient) -> None:
    """The API has no CSRF token: only a bearer token writes there, never a session cookie."""
    assert signin(client, ALICE).status_code == 302
    assert client.get("/api/tables").status_code == 200
    assert client.post(MARK_API, json={"mark": "good"}).status_code == 401


def test_the_single_token_still_works_as_a_write_token_named_api(demo: Path) -> None:
    legacy = "just-the-old-token"
    client = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": legacy}).test_client()
    resp = client.post(MARK_API, json={"mark": "good"}, headers=bearer(legacy))
    assert resp.status_code == 200 and resp.get_json()["marked_by"] == "api"
    assert signin(client, legacy).status_code == 302 and "Mark good" in text(client.get(PART))
    both = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKEN": legacy, "QUINTO_API_TOKENS": NAMED})
    c = both.test_client()
    assert c.post(MARK_API, json={"mark": "good"}, headers=bearer(legacy)).get_json()["marked_by"] == "api"
    assert c.post(MARK_API, json={"mark": "good"}, headers=bearer(ALICE)).get_json()["marked_by"] == "alice"
    assert c.post(MARK_API, json={"mark": "good"}, headers=bearer(BOB)).status_code == 403


def test_wrong_named_tokens_are_throttled(demo: Path) -> None:
    client = app_client(demo)
    codes = [client.post(MARK_API, json={"mark": "good"}, headers=bearer(f"wrong-{i}")).status_code for i in range(12)]
    assert codes == [401] * 10 + [429] * 2
    resp = client.get("/api/tables", headers=bearer(ALICE))  # even a right token waits
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    assert signin(client, ALICE).status_code == 429
    other = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKENS": NAMED}).test_client()
    assert other.get("/api/tables", headers=bearer("wrong")).status_code == 401  # a wrong token on a read too


# -- scopes over the UI ------------------------------------------------------------------------------
def test_a_read_only_sign_in_sees_no_write_forms_and_cannot_post(client: FlaskClient) -> None:
    assert signin(client, BOB).status_code == 302
    page = text(client.get(PART))
    assert "bob (read only)" in page and "sign out" in page
    assert "Mark good" not in page and "Rerun audit" not in page
    assert "Snooze</button>" not in text(client.get("/tables/dw.fact_playback"))
    resp = mark_form(client)
    assert resp.status_code == 403 and "scope read" in text(resp)
    csrf = csrf_of(text(client.get("/signin")))
    assert client.post(f"{PART}/rerun", data={"csrf_token": csrf}).status_code == 403
    assert client.post("/tables/dw.fact_playback/snooze", data={"csrf_token": csrf, "for": "1h"}).status_code == 403


def test_a_write_sign_in_marks_and_reruns_as_its_name(client: FlaskClient) -> None:
    assert signin(client, ALICE).status_code == 302
    page = text(client.get(PART))
    assert "Mark good" in page and ">alice<" in page
    assert mark_form(client, "bad", "seen twice").status_code == 302
    assert "marked bad by alice" in text(client.get(PART))
    csrf = csrf_of(text(client.get("/signin")))
    rerun = client.post(f"{PART}/rerun", data={"csrf_token": csrf})
    assert rerun.status_code == 302
    run_page = text(client.get(rerun.headers["Location"]))
    assert "requested by alice" in run_page
    assert client.post("/signout", data={"csrf_token": csrf}).status_code == 302
    assert "Mark good" not in text(client.get(PART))


def test_a_session_follows_its_token(demo: Path) -> None:
    """A changed or removed token signs its sessions out; a changed scope applies at once."""
    shared = {"SECRET_KEY": "shared-between-workers"}
    first = app_client(demo, **shared)
    assert signin(first, ALICE).status_code == 302
    cookie = first.get_cookie("session")
    assert cookie is not None and ALICE not in cookie.value

    def with_tokens(listed: str) -> FlaskClient:
        c = create_app({"QUINTO_CONFIG": str(demo), "QUINTO_API_TOKENS": listed, **shared}).test_client()
        c.set_cookie("session", cookie.value)
        return c

    assert "Mark good" in text(with_tokens(NAMED).get(PART))  # another worker, same tokens
    changed = with_tokens(f"alice:write:{ALICE}-rotated, bob:read:{BOB}")
    assert ">alice<" not in text(changed.get(PART)) and mark_form(changed).status_code == 401
    removed = with_tokens(f"bob:read:{BOB}")
    assert "sign in to mark" in text(removed.get(PART))
    downgraded = with_tokens(f"alice:read:{ALICE}")
    page = text(downgraded.get(PART))
    assert "alice (read only)" in page and "Mark good" not in page
    assert mark_form(downgraded).status_code == 403


# -- reads that need a token --------------------------------------------------------------------------
def test_reads_require_a_token_on_the_api(locked: Path) -> None:
    client = app_client(locked)
    resp = client.get("/api/tables")
    assert resp.status_code == 401 and "requires a token to read" in resp.get_json()["error"]
    assert client.get("/api/runs").status_code == 401
    assert client.get("/api/openapi.json").status_code == 401
    for token in (BOB, ETL, ALICE):
        assert client.get("/api/tables", headers=bearer(token)).status_code == 200
    assert client.get("/api/tables", headers=bearer("not-a-token")).status_code == 401
    assert client.get("/api/tables", headers={"Authorization": "Basic Ym9iOng="}).status_code == 401
    # the same server without the setting reads openly
    assert app_client(locked.with_name("quinto.yaml")).get("/api/tables").status_code == 200


def test_reads_require_a_sign_in_on_the_ui(locked: Path) -> None:
    client = app_client(locked)
    resp = client.get("/tables/dw.fact_playback?last=30")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/signin?next=/tables/dw.fact_playback?last%3D30"
    assert client.get("/").headers["Location"] == "/signin?next=/"
    signin_page = text(client.get("/signin"))
    assert "dw.fact_playback" not in signin_page  # the sign-in page shows nothing of the store
    # the allow-list: static files, the sign-in page and the probes are never sent to sign in
    assert client.get("/static/quinto.css").status_code == 200
    assert client.get("/favicon.ico").status_code == 200
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert client.get(probe).status_code not in (302, 401), probe
    # signing in returns to the page that asked for it, and pages and API reads then answer
    back = signin(client, BOB, "/tables/dw.fact_playback?last=30")
    assert back.status_code == 302 and back.headers["Location"] == "/tables/dw.fact_playback?last=30"
    assert client.get("/tables/dw.fact_playback?last=30").status_code == 200
    assert client.get("/api/tables").status_code == 200
    wrong = create_app({"QUINTO_CONFIG": str(locked), "QUINTO_API_TOKENS": NAMED}).test_client()
    assert signin(wrong, "not-a-token", "/runs").status_code == 401
    assert wrong.get("/runs").status_code == 302


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
        "///evil.example",
    ],
)
def test_sign_in_never_redirects_off_site(demo: Path, target: str) -> None:
    client = app_client(demo)
    resp = signin(client, BOB, target)
    assert resp.status_code == 302 and resp.headers["Location"] == "/", target
    page = text(app_client(demo).get("/signin", query_string={"next": target}))
    assert 'name="next" value=""' in page, target


def test_sign_in_keeps_a_same_site_path_with_its_query(demo: Path) -> None:
    resp = signin(app_client(demo), BOB, "/runs?table=dw.fact_playback&status=FAIL")
    assert resp.headers["Location"] == "/runs?table=dw.fact_playback&status=FAIL"


# -- token configuration -------------------------------------------------------------------------------
def test_many_tokens_are_all_compared_whichever_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    """No early exit: the first, the last and a wrong secret each cost one comparison per token."""
    listed = ",".join(f"user{i}:read:secret-number-{i:04d}-xxxxxxxx" for i in range(50))
    known = load({"QUINTO_API_TOKENS": listed, "QUINTO_API_TOKEN": "legacy-write-token"})
    assert len(known) == 51
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counted(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(tokens.hmac, "compare_digest", counted)
    for secret, name in [
        ("legacy-write-token", "api"),
        ("secret-number-0000-xxxxxxxx", "user0"),
        ("secret-number-0049-xxxxxxxx", "user49"),
        ("secret-number-0049-xxxxxxxy", None),
        ("x", None),
    ]:
        calls.clear()
        found = known.match(secret)
        assert (found.name if found else None) == name
        assert len(calls) == 51, secret
        assert {len(a) for a, _ in calls} == {32}  # digests: the secret's length does not show either
    assert known.named("user7") is not None and known.named("user7").scope is Scope.READ  # type: ignore[union-attr]


def problems_of(environ: dict[str, str]) -> str:
    with pytest.raises(TokenError) as err:
        load(environ)
    assert err.value.exit_code == 2
    return err.value.message


def test_bad_entries_are_named_without_their_secret() -> None:
    secret = "s3cr3t-that-must-not-show-up"
    msg = problems_of({"QUINTO_API_TOKENS": f"alice:write:{ALICE},{secret}"})
    assert "QUINTO_API_TOKENS entry 2" in msg and "name:scope:secret" in msg and secret not in msg
    msg = problems_of({"QUINTO_API_TOKENS": f"bob:wrte:{secret}"})
    assert "entry 1 (bob)" in msg and "did you mean 'write'" in msg and secret not in msg
    msg = problems_of({"QUINTO_API_TOKENS": f"bob:read:{secret}\nbob:write:{secret}-2"})
    assert "entry 2" in msg and "'bob' is already used by QUINTO_API_TOKENS entry 1" in msg
    msg = problems_of({"QUINTO_API_TOKENS": f"bob:read:{secret}\ncarol:write:{secret}"})
    assert "entry 2 (carol): the same secret as QUINTO_API_TOKENS entry 1 (bob)" in msg and secret not in msg
    msg = problems_of({"QUINTO_API_TOKENS": "bob:read:tiny-pw"})
    assert f"entry 1 (bob): the secret is shorter than {MIN_SECRET}" in msg and "tiny-pw" not in msg
    msg = problems_of({"QUINTO_API_TOKENS": f"api:read:{secret}", "QUINTO_API_TOKEN": "legacy"})
    assert "'api' is already used by QUINTO_API_TOKEN" in msg
    msg = problems_of({"QUINTO_API_TOKENS": f"bad name:read:{secret}, ok:read:{secret}-x, x:nope:{secret}-y"})
    assert "entry 1" in msg and "entry 3 (x)" in msg and "entry 2" not in msg  # every problem, once
    assert len(load({"QUINTO_API_TOKENS": f" alice : write : {ALICE} ,, \n"})) == 1


def test_a_bad_token_entry_stops_quinto_serve_with_exit_2(demo: Path) -> None:
    secret = "never-printed-secret-123"
    proc = run_quinto(
        ["serve", "-c", str(demo), "--port", "0"], demo.parent, {"QUINTO_API_TOKENS": f"ops:admin:{secret}"}
    )
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and secret not in proc.stderr + proc.stdout
    assert "QUINTO_API_TOKENS entry 1 (ops): scope 'admin' is one of read, audit, write" in proc.stderr


def test_a_tokens_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens"
    path.write_text(f"# people\nalice:write:{ALICE}\n\n  # jobs\netl:audit:{ETL}\nbob:reed:{BOB}\n", encoding="utf-8")
    path.chmod(0o600)
    msg = problems_of({"QUINTO_API_TOKENS_FILE": str(path)})
    assert f"{path}:6 (bob): scope 'reed'" in msg and BOB not in msg
    path.write_text(f"# people\nalice:write:{ALICE}\n\netl:audit:{ETL}\n", encoding="utf-8")
    known = load({"QUINTO_API_TOKENS_FILE": str(path), "QUINTO_API_TOKENS": f"bob:read:{BOB}"})
    assert sorted(known.names()) == ["alice", "bob", "etl"]
    path.chmod(0o640)
    assert len(load({"QUINTO_API_TOKENS_FILE": str(path)})) == 2
    path.chmod(0o644)
    msg = problems_of({"QUINTO_API_TOKENS_FILE": str(path)})
    assert "readable or writable by every user" in msg and "chmod 600" in msg
    assert "no file" in problems_of({"QUINTO_API_TOKENS_FILE": str(tmp_path / "missing")})


# -- single sign-on through a trusted proxy ------------------------------------------------------------
PROXY = {"QUINTO_PROXY_USER_HEADER": "X-Forwarded-User", "QUINTO_TRUSTED_PROXIES": "10.0.0.0/8, 192.0.2.7"}


def from_peer(client: FlaskClient, peer: str) -> FlaskClient:
    client.environ_base["REMOTE_ADDR"] = peer
    return client


def test_a_trusted_proxy_names_the_user(locked: Path) -> None:
    client = from_peer(app_client(locked, **PROXY, QUINTO_PROXY_USER_SCOPE="write"), "10.1.2.3")
    user = {"X-Forwarded-User": "carol@example.com"}
    page = client.get(PART, headers=user)
    assert page.status_code == 200 and "carol@example.com" in text(page) and "Mark good" in text(page)
    csrf = csrf_of(text(client.get("/signin", headers=user)))
    resp = client.post(f"{PART}/mark", data={"csrf_token": csrf, "mark": "good"}, headers=user)
    assert resp.status_code == 302
    assert "marked good by carol@example.com" in text(client.get(PART, headers=user))
    # the API takes only bearer tokens for writes, whoever the proxy says
    assert client.post(MARK_API, json={"mark": "bad"}, headers=user).status_code == 401
    assert client.get("/api/tables", headers=user).status_code == 200
    assert client.get(PART).status_code == 302  # no header: anonymous
    assert client.get(PART, headers={"X-Forwarded-User": "x" * 300}).status_code == 400


def test_a_proxy_user_header_from_anywhere_else_is_ignored(locked: Path) -> None:
    user = {"X-Forwarded-User": "carol"}
    direct = from_peer(app_client(locked, **PROXY, QUINTO_PROXY_USER_SCOPE="write"), "203.0.113.9")
    assert direct.get(PART, headers=user).status_code == 302
    assert direct.get("/api/tables", headers=user).status_code == 401
    # behind QUINTO_TRUST_PROXY, X-Forwarded-For changes the client's address, not the direct peer
    forwarded = from_peer(app_client(locked, **PROXY, QUINTO_TRUST_PROXY=1), "203.0.113.9")
    assert forwarded.get(PART, headers={**user, "X-Forwarded-For": "10.1.2.3"}).status_code == 302
    via_proxy = from_peer(app_client(locked, **PROXY, QUINTO_TRUST_PROXY=1), "192.0.2.7")
    assert via_proxy.get(PART, headers={**user, "X-Forwarded-For": "203.0.113.9"}).status_code == 200


def test_proxy_users_read_only_by_default(demo: Path) -> None:
    client = from_peer(app_client(demo, **PROXY), "10.9.9.9")
    page = text(client.get(PART, headers={"X-Forwarded-User": "dave"}))
    assert "dave (read only)" in page and "Mark good" not in page


@pytest.mark.parametrize(
    ("environ", "said"),
    [
        ({"QUINTO_PROXY_USER_HEADER": "X-User"}, "QUINTO_TRUSTED_PROXIES is not"),
        ({"QUINTO_TRUSTED_PROXIES": "10.0.0.1"}, "without QUINTO_PROXY_USER_HEADER"),
        ({**PROXY, "QUINTO_TRUSTED_PROXIES": "10.0.0.300"}, "'10.0.0.300' is not an address"),
        ({**PROXY, "QUINTO_PROXY_USER_SCOPE": "writ"}, "did you mean 'write'"),
        ({**PROXY, "QUINTO_PROXY_USER_HEADER": "Authorization"}, "is not a header name"),
        ({**PROXY, "QUINTO_PROXY_USER_HEADER": "X User"}, "is not a header name"),
    ],
)
def test_bad_proxy_settings_are_refused(environ: dict[str, str], said: str) -> None:
    with pytest.raises(TokenError) as err:
        load_proxy(environ)
    assert said in err.value.message and err.value.exit_code == 2


# -- a real server -------------------------------------------------------------------------------------
def get(url: str, token: str | None = None) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(url, headers=bearer(token) if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def post(url: str, body: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={**bearer(token), "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_quinto_serve_reads_named_tokens_from_the_environment(locked: Path, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with quinto_serve(locked, log=log, extra_env={"QUINTO_API_TOKENS": NAMED}) as url:
        assert get(f"{url}/api/tables")[0] == 401
        assert get(f"{url}/api/tables", BOB)[0] == 200
        assert post(f"{url}{MARK_API}", {"mark": "good"}, ETL)[0] == 403
        code, body = post(f"{url}{MARK_API}", {"mark": "good", "by": "someone"}, ALICE)
        assert code == 200 and body["marked_by"] == "alice"
    logged = log.read_text(encoding="utf-8")
    assert re.search(r"tokens: alice \(write\), bob \(read\), etl \(audit\)", logged), logged
    assert ALICE not in logged
    store = Store(f"sqlite:///{locked.parent / 'quinto.db'}")
    marked = store.marks.details("dw.fact_playback", ["2026-11-27"]).get("2026-11-27")
    store.close()
    assert marked is not None and marked.by == "alice"
