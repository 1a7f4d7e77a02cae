"""Real `quinto scheduler` processes: two share a PostgreSQL store and audit every new partition of
a PostgreSQL warehouse exactly once; one is killed (SIGKILL) in the middle of an audit and the other
finishes it; a second scheduler on a SQLite store refuses to start; and the HTTP trigger end to end
(a served Flask app, a scheduler, `quinto audit --via`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from quinto.store import Store
from tests.test_bad_input import run_quinto
from tests.warehouse import load_tables

FAST = "queue_interval: 0.1\nsensor_interval: 0.3\nheartbeat_interval: 0.5\nretry_backoff: 0.2\n"
EVENTS = "table: wh.events\npartition: ds\non: new_partition\nchecks:\n  - row_count > 0\n  - min(amount) >= 0\n"
SLOW = """table: wh.slow
partition: ds
checks:
  - slow_rows > 0:
      sql: select count(*) from wh.slow, pg_sleep((select secs from wh.knob)) where ds = :partition
"""
HANG_GUARD = 60.0  # seconds before a wait gives up: a guard against hanging, never a measurement


def quinto_exe() -> str:
    return shutil.which("quinto", path=str(Path(sys.executable).parent)) or "quinto"


class Schedulers:
    """`quinto scheduler` processes of one project, each logging to its own file."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root, self.env = root, {**os.environ, **env}
        self.procs: list[tuple[subprocess.Popen[bytes], Path]] = []

    def start(self) -> subprocess.Popen[bytes]:
        log = self.root / f"scheduler-{len(self.procs)}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen([quinto_exe(), "scheduler"], cwd=self.root, env=self.env, stdout=out, stderr=out)
        self.procs.append((proc, log))
        wait_for(lambda: "scheduler_started" in log.read_text(), f"{log.name} to start", self)
        return proc

    def events(self, proc: subprocess.Popen[bytes] | None = None) -> list[dict[str, Any]]:
        out = []
        for p, log in self.procs:
            if proc is None or p is proc:
                out += [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
        return out

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-4000:]}" for _, log in self.procs)

    def stop(self) -> None:
        for proc, _ in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in self.procs:
            try:
                proc.wait(timeout=HANG_GUARD)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for(condition: Callable[[], bool], what: str, schedulers: Schedulers | None = None) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}\n{schedulers.logs() if schedulers else ''}")
        time.sleep(0.05)


def write_project(root: Path, files: dict[str, str], settings: str = FAST) -> None:
    (root / "checks").mkdir(exist_ok=True)
    for name, text in files.items():
        (root / "checks" / name).write_text(text, encoding="utf-8")
    (root / "quinto.yaml").write_text(
        f"connections: {{warehouse: '${{WH_URL}}'}}\nstore: '${{STORE_URL}}'\nchecks: [checks]\n{settings}",
        encoding="utf-8",
    )


def completed(store_url: str, table: str) -> list[tuple[str, str, int]]:
    store = Store(store_url)
    try:
        rows = store.runs.recent(1000, table)
        done = [r for r in rows if r.status not in ("QUEUED", "RUNNING")]
        # a sensor audits a table's new partitions together: one run names them all
        return sorted((p, r.status, r.id) for r in done for p in json.loads(r.partitions))
    finally:
        store.close()


@pytest.fixture
def pg_project(tmp_path: Path, pg_url: str) -> Iterator[tuple[Schedulers, sa.Engine]]:
    """A PostgreSQL database holding both the warehouse (schema wh) and the store (public)."""
    load_tables(
        pg_url,
        {
            "wh.events": {"columns": {"id": "INTEGER", "amount": "INTEGER", "ds": "VARCHAR"}, "rows": []},
            "wh.slow": {"columns": {"id": "INTEGER", "ds": "VARCHAR"}, "rows": [[1, "2026-11-01"]]},
            "wh.knob": {"columns": {"secs": "DOUBLE"}, "rows": [[0.0]]},
        },
    )
    write_project(tmp_path, {"events.yaml": EVENTS, "slow.yaml": SLOW})
    schedulers = Schedulers(tmp_path, {"WH_URL": pg_url, "STORE_URL": pg_url})
    engine = sa.create_engine(pg_url, poolclass=sa.NullPool)
    try:
        yield schedulers, engine
    finally:
        schedulers.stop()
        engine.dispose()


def test_two_schedulers_audit_each_new_partition_exactly_once(
    pg_project: tuple[Schedulers, sa.Engine], pg_url: str
) -> None:
    schedulers, wh = pg_project
    schedulers.start()
    schedulers.start()
    days = [f"2026-11-{d:02d}" for d in range(1, 9)]
    for batch in (days[:1], days[1:4], days[4:5], days[5:]):  # partitions land over time
        with wh.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO wh.events (id, amount, ds) VALUES (:i, :a, :d)"),
                [{"i": i, "a": -1 if d == "2026-11-06" else 5, "d": d} for i, d in enumerate(batch)],
            )
        wait_for(
            lambda b=batch: {p for p, _, _ in completed(pg_url, "wh.events")} >= set(b),  # type: ignore[misc]
            f"{batch} to be audited",
            schedulers,
        )
    # let both go on polling for a while: nothing may be audited again
    polls = len([e for e in schedulers.events() if e["event"] == "sensor_poll"])
    wait_for(
        lambda: len([e for e in schedulers.events() if e["event"] == "sensor_poll"]) >= polls + 6,
        "more sensor polls",
        schedulers,
    )
    runs = completed(pg_url, "wh.events")
    assert [p for p, _, _ in runs] == days, schedulers.logs()  # each partition once, none missed
    assert {p: s for p, s, _ in runs}["2026-11-06"] == "FAIL"
    assert {s for p, s, _ in runs if p not in days[5:]} == {"PASS"}  # 06 .. 08 landed together, one run
    done = [e for e in schedulers.events() if e["event"] == "audit_done"]
    assert sorted(e["run_id"] for e in done) == sorted({i for _, _, i in runs})
    assert not [e for e in schedulers.events() if e["event"] == "claim_lost"]
    assert all({"table", "partition", "run_id", "duration_s", "outcome", "scheduler"} <= set(e) for e in done)
    assert len(Store(pg_url).pending_runs()) == 0


def test_an_audit_killed_with_its_scheduler_completes_on_the_other(
    pg_project: tuple[Schedulers, sa.Engine], pg_url: str
) -> None:
    schedulers, wh = pg_project
    first = schedulers.start()
    with wh.begin() as conn:
        conn.execute(sa.text("UPDATE wh.knob SET secs = 600"))  # the first audit hangs in pg_sleep
    from quinto.scheduler import submit
    from quinto.spec import load_project

    store = Store(pg_url)
    project = load_project(schedulers.root / "quinto.yaml")
    run_id = submit(project, store, "wh.slow", "ds=2026-11-01")
    wait_for(
        lambda: any(e["event"] == "audit_started" and e["run_id"] == run_id for e in schedulers.events(first)),
        "the first scheduler to start the audit",
        schedulers,
    )
    second = schedulers.start()
    first.send_signal(signal.SIGKILL)
    first.wait()
    with wh.begin() as conn:
        conn.execute(sa.text("UPDATE wh.knob SET secs = 0"))
    wait_for(lambda: (store.run_result(run_id) or {}).get("verdict") is not None, "the audit to complete", schedulers)
    run = store.run_result(run_id)
    assert run is not None and (run["status"], run["verdict"]) == ("PASS", "publish")
    assert run["attempts"] >= 2  # the killed attempt counts
    events = schedulers.events(second)
    assert any(e["event"] == "reclaimed" and e["run_id"] == run_id for e in events)
    assert any(e["event"] == "audit_done" and e["run_id"] == run_id and e["outcome"] == "PASS" for e in events)
    assert [r for r in completed(pg_url, "wh.slow")] == [("2026-11-01", "PASS", run_id)]  # once, in place
    store.close()


def test_a_second_scheduler_on_a_sqlite_store_refuses_to_start(tmp_path: Path) -> None:
    load_tables(f"duckdb:///{tmp_path / 'wh.duckdb'}", {"dw.t": {"columns": {"ds": "VARCHAR"}, "rows": [["a"]]}})
    write_project(tmp_path, {"t.yaml": "table: dw.t\npartition: ds\nchecks: [row_count > 0]\n"})
    env = {"WH_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}", "STORE_URL": f"sqlite:///{tmp_path / 'store.db'}"}
    schedulers = Schedulers(tmp_path, env)
    try:
        first = schedulers.start()
        proc = run_quinto(["scheduler"], tmp_path, env)
        assert proc.returncode == 3 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"Error: another scheduler already runs on the SQLite store {tmp_path}/store.db")
        assert f"(pid {first.pid} on " in proc.stderr
        assert "with SQLite only one scheduler may run" in proc.stderr
    finally:
        schedulers.stop()
    assert first.returncode == 0
    assert schedulers.events()[-1]["event"] == "scheduler_stopped"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Schedulers]]:
    """The web app served for real on 127.0.0.1 and one scheduler, on a SQLite store."""
    from quinto.web import create_app

    rows = [[1, 5, "2026-11-01"], [2, -3, "2026-11-02"]]
    load_tables(
        f"duckdb:///{tmp_path / 'wh.duckdb'}",
        {"dw.sales": {"columns": {"id": "INTEGER", "amount": "INTEGER", "ds": "VARCHAR"}, "rows": rows}},
    )
    write_project(tmp_path, {"s.yaml": "table: dw.sales\npartition: ds\nchecks:\n  - min(amount) >= 0\n"})
    env = {
        "WH_URL": f"duckdb:///{tmp_path / 'wh.duckdb'}",
        "STORE_URL": f"sqlite:///{tmp_path / 'store.db'}",
        "QUINTO_API_TOKEN": "s3cret-token",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    server = make_server("127.0.0.1", 0, create_app({"QUINTO_CONFIG": str(tmp_path / "quinto.yaml")}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    schedulers = Schedulers(tmp_path, env)
    try:
        schedulers.start()
        yield f"http://127.0.0.1:{server.server_port}", schedulers
    finally:
        schedulers.stop()
        server.shutdown()


def http(url: str, body: dict[str, Any] | None = None, token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_http_trigger_end_to_end(served: tuple[str, Schedulers]) -> None:
    base, schedulers = served
    root = schedulers.root
    status, doc = http(f"{base}/api/audits", {"table": "dw.sales", "partition": "ds=2026-11-01"}, "s3cret-token")
    assert status == 202 and doc["status"] == "QUEUED" and doc["url"] == f"/api/runs/{doc['run_id']}"
    wait_for(lambda: http(f"{base}{doc['url']}")[1]["verdict"] is not None, "the verdict", schedulers)
    status, run = http(f"{base}{doc['url']}")
    assert status == 200 and (run["status"], run["verdict"], run["exit_code"]) == ("PASS", "publish", 0)
    first = run["outcomes"][0]
    assert first["check"] == "min(amount) >= 0" and run["trigger"] == "http"
    # the ETL job's way: exit codes as a local audit
    ok = run_quinto(["audit", "dw.sales", "-p", "ds=2026-11-01", "--via", base], root)
    assert ok.returncode == 0 and "verdict: publish" in ok.stdout, ok.stderr
    bad = run_quinto(["audit", "dw.sales", "-p", "ds=2026-11-02", "--via", base, "--json"], root)
    assert bad.returncode == 1 and json.loads(bad.stdout)["verdict"] == "do not publish", bad.stderr
    typo = run_quinto(["audit", "dw.sales", "-p", "day=2026-11-02", "--via", base], root)
    assert typo.returncode == 2 and typo.stderr.strip() == "Error: table dw.sales is partitioned by 'ds', not 'day'"
    denied = run_quinto(["audit", "dw.sales", "-p", "ds=2026-11-02", "--via", base], root, {"QUINTO_API_TOKEN": "x"})
    assert denied.returncode == 2 and "a valid `Authorization: Bearer <token>` header is required" in denied.stderr
    down = run_quinto(["audit", "dw.sales", "-p", "ds=2026-11-02", "--via", "http://127.0.0.1:9"], root)
    assert down.returncode == 3 and down.stderr.startswith("Error: cannot reach the Quinto server")
    # refusals
    body = {"table": "dw.sales", "partition": "ds=2026-11-01"}
    assert http(f"{base}/api/audits", body) == (
        401,
        {"error": "a valid `Authorization: Bearer <token>` header is required"},
    )
    assert http(f"{base}/api/audits", body, "s3cret-token-but-longer")[0] == 401
    status, err = http(f"{base}/api/audits", {"table": "dw.sales", "partition": "ds=1' or '1'='1"}, "s3cret-token")
    assert status == 400 and err["error"].startswith("refusing partition value")
    status, err = http(f"{base}/api/audits", {"table": "dw.sale", "partition": "ds=2026-11-01"}, "s3cret-token")
    assert status == 404 and "did you mean 'dw.sales'?" in err["error"]
    unknown = run_quinto(["audit", "dw.sale", "-p", "ds=2026-11-02", "--via", base], root)
    assert unknown.returncode == 2 and "no checks declared for table 'dw.sale'" in unknown.stderr
    assert http(f"{base}/api/runs/999999") == (404, {"error": "no run 999999"})


def test_stopping_twice_hands_the_running_audit_back(pg_project: tuple[Schedulers, sa.Engine], pg_url: str) -> None:
    from quinto.scheduler import submit
    from quinto.spec import load_project

    schedulers, wh = pg_project
    first = schedulers.start()
    with wh.begin() as conn:
        conn.execute(sa.text("UPDATE wh.knob SET secs = 600"))
    store = Store(pg_url)
    run_id = submit(load_project(schedulers.root / "quinto.yaml"), store, "wh.slow", "2026-11-01")
    wait_for(
        lambda: any(e["event"] == "audit_started" for e in schedulers.events(first)), "the audit to start", schedulers
    )
    first.send_signal(signal.SIGTERM)  # the first asks to finish the audit in progress ...
    wait_for(lambda: any(e["event"] == "scheduler_stopping" for e in schedulers.events(first)), "stopping", schedulers)
    assert first.poll() is None and store.run_result(run_id)["status"] == "RUNNING"  # type: ignore[index]
    first.send_signal(signal.SIGTERM)  # ... the second hands it back at once
    assert first.wait(timeout=HANG_GUARD) == 0
    assert any(e["event"] == "released" and e["runs"] == 1 for e in schedulers.events(first))
    run = store.run_result(run_id)
    assert run is not None and (run["status"], run["attempts"]) == ("QUEUED", 0)
    with wh.begin() as conn:
        conn.execute(sa.text("UPDATE wh.knob SET secs = 0"))
    schedulers.start()
    wait_for(lambda: (store.run_result(run_id) or {}).get("verdict") == "publish", "the audit to complete", schedulers)
    store.close()
