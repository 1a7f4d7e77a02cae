"""The JSON API fuzzed with schemathesis against a running server: every response conforms to the
OpenAPI document and none is a 500. Once on the audited demo behind `quinto serve` (SQLite store),
once on a PostgreSQL store (where out-of-range integers would surface as database errors)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
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
