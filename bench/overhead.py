"""What an audit costs beyond its statements: `quinto audit` of one DuckDB partition, whole process,
against a hand-written Python script computing the same 12 metrics through the same driver.

    python bench/overhead.py [--rows 200000] [--big-rows 10000000] [--runs 7] [--json] [--quinto CMD]

Two scenarios, on the table and 12-check suite of bench/compare.py (bench/peers/data.py,
bench/peers/quinto/partition/events.yaml):
  - small: a 20,000-row daily partition (`--rows` over 10 days): Quinto's fixed costs dominate;
  - big: a 1,000,000-row partition (`--big-rows` over 10 days; 0 skips it): the statement dominates.
Quinto runs as a user runs it (`python -m quinto audit bench.events --partition ds=...`, failing-row
samples on, the default, the run stored in a SQLite store), after one unmeasured audit, as an ETL
step repeated with the same checks finds its statements in the statement cache. The hand-written
side is bench/peers/run_hand.py: ONE statement through `duckdb`, judged in Python, nothing stored.
Runs alternate (Quinto, hand, Quinto, ...); medians of `--runs`; the ratio is Quinto / hand, of
wall time and of CPU time (user + system of the process: less sensitive to a shared machine).
`--quinto` names another `quinto` command (e.g. another checkout's `.venv/bin/quinto`) to compare.
Goals (issue 18): small ≤ 2.0×, big ≤ 1.5×.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))

from bench.peers.bytecode import as_installed  # noqa: E402

PEERS = BENCH / "peers"
SUITE = PEERS / "quinto" / "partition" / "events.yaml"
PARTITION = "2026-11-05"  # three rows fail the e-mail regex; NULL countries and negative amounts too


def build(directory: Path, rows: int) -> str:
    sys.path.insert(0, str(PEERS))
    from data import build_duckdb  # type: ignore[import-not-found]

    return str(build_duckdb(directory / f"events_{rows}.duckdb", rows))


def project(directory: Path, url: str) -> Path:
    """A Quinto project auditing `url` with the bench suite; its own store and statement cache."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(SUITE, directory / "events.yaml")
    (directory / "quinto.yaml").write_text(
        f"connections: {{warehouse: '{url}'}}\nstore: sqlite:///{directory / 'store.db'}\nchecks: [events.yaml]\n",
        encoding="utf-8",
    )
    return directory


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """(wall seconds, CPU seconds, the finished process)."""
    cpu, started = _cpu(), time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    return time.perf_counter() - started, _cpu() - cpu, proc


def scenario(name: str, url: str, directory: Path, runs: int, command: list[str]) -> dict[str, object]:
    proj = project(directory / name, url)
    env = {**os.environ, "QUINTO_STATEMENT_CACHE": str(proj / "statement-cache")}
    quinto = [*command, "audit", "bench.events", "--partition", f"ds={PARTITION}", "--json"]
    hand = [sys.executable, str(PEERS / "run_hand.py"), "duckdb", url, PARTITION]
    _, _, first = timed(quinto, proj, env)  # fills the statement cache, as the step's first run does
    if first.returncode not in (0, 1):
        raise SystemExit(f"quinto audit failed ({first.returncode}): {first.stderr}")
    q_times, h_times, q_cpu, h_cpu = [], [], [], []
    doc: dict[str, object] = {}
    verdicts: dict[str, object] = {}
    for _ in range(runs):
        seconds, cpu, proc = timed(quinto, proj, env)
        q_times.append(seconds)
        q_cpu.append(cpu)
        doc = json.loads(proc.stdout)
        seconds, cpu, proc = timed(hand, proj, env)
        if proc.returncode != 0:
            raise SystemExit(f"hand-written script failed: {proc.stderr}")
        h_times.append(seconds)
        h_cpu.append(cpu)
        verdicts = json.loads(proc.stdout)[PARTITION]
    outcomes = doc["outcomes"]
    assert isinstance(outcomes, list)
    ours = {str(o["check"]): o["status"] == "PASS" for o in outcomes}
    if ours != verdicts:  # the same suite, the same data: the same verdicts, or the timing means nothing
        raise SystemExit(f"verdicts differ: quinto {ours}, hand-written {verdicts}")
    statements = doc["statements"]
    assert isinstance(statements, list)
    q, h = statistics.median(q_times), statistics.median(h_times)
    qc, hc = statistics.median(q_cpu), statistics.median(h_cpu)
    return {
        "scenario": name,
        "partition_rows": next(o["value"] for o in outcomes if str(o["check"]).startswith("row_count")),
        "quinto_s": round(q, 3),
        "hand_s": round(h, 3),
        "ratio": round(q / h, 2),
        "quinto_cpu_s": round(qc, 3),
        "hand_cpu_s": round(hc, 3),
        "cpu_ratio": round(qc / hc, 2),
        "quinto_runs_s": [round(t, 3) for t in q_times],
        "hand_runs_s": [round(t, 3) for t in h_times],
        "statements": [s["purpose"] for s in statements],
        "failed_checks": sorted(k for k, v in ours.items() if not v),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000, help="table rows of the small scenario (10 partitions)")
    parser.add_argument("--big-rows", type=int, default=10_000_000, help="table rows of the big one; 0: skip it")
    parser.add_argument("--runs", type=int, default=7, help="measured runs of each side")
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    parser.add_argument("--quinto", default=None, help="the quinto command (default: this Python's -m quinto)")
    args = parser.parse_args()
    as_installed()
    results = []
    with tempfile.TemporaryDirectory(prefix="quinto-overhead-") as tmp:
        directory = Path(tmp)
        for name, rows in (("small", args.rows), ("big", args.big_rows)):
            if rows:
                command = shlex.split(args.quinto) if args.quinto else [sys.executable, "-m", "quinto"]
                results.append(scenario(name, build(directory, rows), directory, args.runs, command))
    if args.json:
        print(json.dumps(results))
        return
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, {args.runs} runs each")
    print(
        "| scenario | partition rows | hand-written script: wall (CPU) s | quinto audit: wall (CPU) s "
        "| ratio: wall (CPU) | quinto's statements |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(
            f"| {r['scenario']} | {r['partition_rows']:,.0f} | {r['hand_s']} ({r['hand_cpu_s']}) "
            f"| {r['quinto_s']} ({r['quinto_cpu_s']}) | {r['ratio']}× ({r['cpu_ratio']}×) "
            f"| {', '.join(map(str, r['statements']))} |"  # type: ignore[call-overload]
        )


if __name__ == "__main__":
    main()
