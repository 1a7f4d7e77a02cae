"""What a pipeline waits for `quinto audit --via URL`, against a warm server, compared with what the
audit itself costs: its statements' own time plus one HTTP round trip.

    python bench/via.py [--rows 200000] [--big-rows 10000000] [--runs 7] [--queue-interval 0.05] [--json]

The table and 12-check suite of bench/overhead.py (bench/peers/data.py,
bench/peers/quinto/partition/events.yaml), partition ds=2026-11-05 (three failed row-level checks,
so failing-row samples are fetched), a 20,000-row partition (`--rows` over 10 days) and a 1 M-row
one (`--big-rows`; 0 skips it). For each, the bench starts, on 127.0.0.1 and ports of its own:
  - `quinto serve` (the API that takes `POST /api/audits`), with an `audit` token from
    QUINTO_API_TOKENS, as README documents;
  - `quinto scheduler` on the same SQLite store (the process that runs queued audits), with
    `queue_interval` from `--queue-interval` (its default is 2 s);
then one unmeasured `--via` audit (the scheduler's statement cache and connections get warm, as in
a pipeline that calls it all day), then `--runs` measured rounds, each:
  - one `GET /healthz` from this process (a new connection each time, as the CLI makes): the HTTP
    round trip;
  - `quinto audit bench.events --partition ds=... --via URL --json` as its own process, timed from
    the fork to its exit: what the job waits;
  - the run's statements' own time (`duration_ms` of each statement in the server's answer).
The ratio is wait / (statements + round trip); goal (issue 18): ≤ 1.1×. Also reported: where the
rest went, from the run's own timestamps (queued → started: the scheduler's pickup; started →
finished: the audit in the scheduler, statements included; the rest: the client's start and polls).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.overhead import PARTITION, build, project  # noqa: E402
from bench.peers.bytecode import as_installed  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(url: str, proc: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"quinto serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/readyz", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"quinto serve did not answer at {url} in {seconds:g}s")


def round_trip(url: str) -> float:
    """Seconds of one GET /healthz on a new connection (as each of the CLI's requests is)."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"{url}/healthz", timeout=10) as resp:
        resp.read()
    return time.perf_counter() - started


def _ts(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def scenario(name: str, url: str, directory: Path, runs: int, queue_interval: float) -> dict[str, Any]:
    proj = project(directory / name, url)
    with (proj / "quinto.yaml").open("a", encoding="utf-8") as f:
        f.write(f"queue_interval: {queue_interval}\n")
    secret = secrets.token_hex(24)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "QUINTO_API_TOKENS": f"bench:audit:{secret}",
        "QUINTO_STATEMENT_CACHE": str(proj / "statement-cache"),
    }
    quinto = [sys.executable, "-m", "quinto"]
    logs = [(proj / "serve.log").open("wb"), (proj / "scheduler.log").open("wb")]
    serve = subprocess.Popen(
        [*quinto, "serve", "--host", "127.0.0.1", "--port", str(port)],
        cwd=proj,
        env=env,
        stdout=logs[0],
        stderr=logs[0],
    )
    scheduler = subprocess.Popen([*quinto, "scheduler"], cwd=proj, env=env, stdout=logs[1], stderr=logs[1])
    client_env = {**os.environ, "QUINTO_API_TOKEN": secret}
    cmd = [*quinto, "audit", "bench.events", "--partition", f"ds={PARTITION}", "--via", base, "--json"]
    try:
        wait_up(base, serve)
        first = subprocess.run(cmd, cwd=proj, env=client_env, capture_output=True, text=True, timeout=900)
        if first.returncode not in (0, 1):
            raise SystemExit(f"quinto audit --via failed ({first.returncode}): {first.stderr}")
        waits, trips, stmts, pickups, audits = [], [], [], [], []
        counts: list[str] = []
        for _ in range(runs):
            trips.append(round_trip(base))
            started = time.perf_counter()
            proc = subprocess.run(cmd, cwd=proj, env=client_env, capture_output=True, text=True, timeout=900)
            waits.append(time.perf_counter() - started)
            if proc.returncode not in (0, 1):
                raise SystemExit(f"quinto audit --via failed ({proc.returncode}): {proc.stderr}")
            doc = json.loads(proc.stdout)
            statements = doc.get("statements") or []
            counts = [str(s["purpose"]) for s in statements]
            stmts.append(sum(float(s["duration_ms"]) for s in statements) / 1000)
            requested, begun, done = (_ts(doc.get(k)) for k in ("requested_at", "started_at", "finished_at"))
            if requested and begun:
                pickups.append((begun - requested).total_seconds())
            if begun and done:
                audits.append((done - begun).total_seconds())
    finally:
        for p in (serve, scheduler):
            p.terminate()
        for p in (serve, scheduler):
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
    wait, trip, stmt = statistics.median(waits), statistics.median(trips), statistics.median(stmts)
    ratios = [w / (s + t) for w, s, t in zip(waits, stmts, trips, strict=True)]
    return {
        "scenario": name,
        "queue_interval_s": queue_interval,
        "wait_s": round(wait, 3),
        "statements_s": round(stmt, 3),
        "round_trip_ms": round(trip * 1000, 1),
        "ratio": round(wait / (stmt + trip), 2),
        "ratio_of_runs_median": round(statistics.median(ratios), 2),
        "pickup_s": round(statistics.median(pickups), 3) if pickups else None,
        "audit_in_scheduler_s": round(statistics.median(audits), 3) if audits else None,
        "waits_s": [round(w, 3) for w in waits],
        "statements": counts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="table rows of the small scenario (10 partitions)")
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="table rows of the big one; 0: skip it")
    parser.add_argument("--runs", type=int, default=7, help="measured audits of each scenario")
    parser.add_argument(
        "--queue-interval", type=float, default=2.0, help="the scheduler's queue_interval (seconds; its default: 2)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    args = parser.parse_args()
    as_installed()
    if shutil.which("quinto") is None and not (Path(sys.executable).parent / "quinto").exists():
        print("note: running `python -m quinto`", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory(prefix="quinto-via-") as tmp:
        directory = Path(tmp)
        for name, rows in (("small", args.rows), ("big", args.big_rows)):
            if rows:
                results.append(scenario(name, build(directory, rows), directory, args.runs, args.queue_interval))
    if args.json:
        print(json.dumps(results))
        return
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, {args.runs} runs, medians")
    print(
        "| scenario | queue_interval | job waits s | statements s | round trip ms | ratio | "
        "pickup s | audit in scheduler s | statements |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(
            f"| {r['scenario']} | {r['queue_interval_s']} | {r['wait_s']} | {r['statements_s']} | {r['round_trip_ms']} "
            f"| {r['ratio']}× | {r['pickup_s']} | {r['audit_in_scheduler_s']} | {', '.join(r['statements'])} |"
        )


if __name__ == "__main__":
    main()
