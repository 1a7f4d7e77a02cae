"""The JSON API fuzzed with schemathesis against a running server: every response conforms to the
OpenAPI document and none is a 500. Once on the audited demo behind `quinto serve` (SQLite store),
once on a PostgreSQL store (where out-of-range integers would surface as database errors)."""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from quinto.web import create_app
from werkzeug.serving import make_server

from quinto.evaluate import Status
from quinto.store import Store
from tests.servers import quinto_serve
from tests.test_store import make_run
from tests.webdata import build_demo

TOKEN = "fuzz-token"


def schemathesis(base_url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or "schemathesis"
    return subprocess.run(
        # every check but positive_data_acceptance: business rules (a snooze ends in the future and
        # lasts at most a year, a partition matches its partition_format) are not all in the schema
        [exe, "run", f"{base_url}/api/openapi.json", "--max-examples", "25", "--seed", "7"]
        + ["--exclude-checks", "positive_data_acceptance"]
        + ["--header", f"Authorization: Bearer {TOKEN}", "--report-dir", str(tmp_path / "report")],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=tmp_path,
    )


@contextmanager
def served(app: object) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()


def test_fuzz_the_api_on_the_demo(tmp_path: Path) -> None:
    config = build_demo(tmp_path / "demo")
    with quinto_serve(config, token=TOKEN, log=tmp_path / "serve.log") as url:
        proc = schemathesis(url, tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]
    operations = sum(
        len(methods)
        for methods in create_app({"QUINTO_STORE": "sqlite://"})
        .test_client()
        .get("/api/openapi.json")
        .get_json()["paths"]
        .values()
    )
    assert f"Tested: {operations}" in proc.stdout


def test_fuzz_the_api_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    store = Store(pg_url)
    for i, status in enumerate([Status.PASS, Status.FAIL, Status.WARN]):
        store.save_run(make_run(f"2026-11-0{i + 1}", status, i))
    store.close()
    with served(create_app({"QUINTO_STORE": pg_url, "QUINTO_API_TOKEN": TOKEN})) as url:
        proc = schemathesis(url, tmp_path)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-2000:]


@pytest.mark.parametrize("path", ["/api/runs/99999999999999999999", "/api/runs?before=99999999999999999999"])
def test_huge_ids_are_not_server_errors(pg_url: str, path: str) -> None:
    client = create_app({"QUINTO_STORE": pg_url}).test_client()
    assert client.get(path).status_code in (400, 404)


# -- hostile bodies over HTTP: size, nesting, surrogates, NUL ---------------------------------------
WRITES = ["/api/snoozes", "/api/audits", "/api/partitions/dw.fact_playback/2026-11-27/mark"]
BODIES = {
    "2 MB": json.dumps({"table": "dw.fact_playback", "reason": "x" * 2_000_000}).encode(),
    "[ x 100000": b"[" * 100_000,
    '{"a": x 50000': b'{"a":' * 50_000,
    "nested 40 deep, closed": b"[" * 40 + b"]" * 40,
    "lone surrogate in reason": b'{"table": "dw.fact_playback", "mark": "good", "for": "1h", "reason": "\\udfff"}',
    "lone surrogate in by": b'{"table": "dw.fact_playback", "mark": "bad", "for": "1h", "by": "\\ud800x"}',
    "lone surrogate in a key": b'{"\\udfff": 1}',
    "NUL": b'{"table": "dw.fact_playback\\u0000", "mark": "good"}',
    "invalid UTF-8": b'{"table": "\xff\xfe"}',
    "truncated": b'{"table": "dw.fact',
    "not an object": b"[1, 2, 3]",
}


def raw_post(url: str, body: bytes, token: str | None) -> tuple[int, bytes, str]:
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    conn.request("POST", parts.path, body=body, headers=headers)
    resp = conn.getresponse()
    out = resp.status, resp.read(), resp.headers.get("Content-Type", "")
    conn.close()
    return out


def test_hostile_bodies_are_4xx_over_http(tmp_path: Path) -> None:
    """Every hostile body to every write endpoint, with the token and without: a 4xx with a JSON
    error, never a 5xx; a body far beyond the limit is refused from its Content-Length alone."""
    config = build_demo(tmp_path / "demo")
    tried = 0
    with quinto_serve(config, token=TOKEN, log=tmp_path / "serve.log") as url:
        for path in WRITES:
            for name, body in BODIES.items():
                for token in (TOKEN, None, "wrong"):
                    status, text, ctype = raw_post(url + path, body, token)
                    tried += 1
                    assert 400 <= status < 500 and ctype.startswith("application/json"), (path, name, token, text[:200])
                    assert json.loads(text)["error"], (path, name)
                    if token != TOKEN:
                        assert status in (401, 429), (path, name, token, status)
                    elif name == "2 MB":
                        assert status == 413
        # 300 MB announced: answered 413 without the body being sent
        with socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=30) as s:
            s.sendall(
                b"POST /api/snoozes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {TOKEN}\r\nContent-Length: {300 * 1024 * 1024}\r\n\r\n".encode()
            )
            assert s.recv(100).startswith(b"HTTP/1.1 413")
            tried += 1
    log = (tmp_path / "serve.log").read_text(encoding="utf-8")
    assert "Traceback" not in log and "Exception on" not in log, log[-3000:]
    assert tried == len(WRITES) * len(BODIES) * 3 + 1
