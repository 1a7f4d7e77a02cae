"""A year of history: `quinto backfill` of 365 daily partitions against the best hand-written grouped
statement, whole process each, with peak memory.

    python bench/backfill_year.py [--per-day 100000] [--days 365] [--runs 3] [--chunks default,365] [--json]

The table is bench/compare.py's `bench.events` (bench/peers/data.py's columns and defects: a NULL
country every 1,000th row, a negative amount every 5,000th, so two row-level checks fail in every
partition) with `--days` daily partitions of `--per-day` rows, in one DuckDB file; the suite is its
12 checks (bench/peers/quinto/partition/events.yaml). Each side runs as its own process, timed from
the fork to its exit, its peak RSS read from the kernel (`wait4`; the table is built by another
child, so the bench's own process, whose peak a child starts from, stays at about 40 MB):
  - hand (count): bench/peers/run_hand.py with scope `all`: ONE `GROUP BY ds` statement computing
    the 12 metrics of every partition, exact distinct counts as COUNT(DISTINCT ...), judged in Python;
  - hand (hashed): the same, the two duplicate counts as hashed GROUP BY derived tables (the form
    Quinto uses on DuckDB);
  - `quinto backfill bench.events --since FIRST` as a user runs it, into a fresh SQLite store each
    time, with the chunk sizes of `--chunks` (`default`: `partitions_per_scan`, 31); its statements are
    counted from the store (plus the one partition listing).
Runs alternate; medians of `--runs`. Verdicts of every partition and check must agree between the
hand-written statement and every backfill, or the bench stops.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
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
FIRST_DAY = "2025-11-01"

GENERATE = """
SELECT i AS id,
       (i * 7919) % 2000000 AS user_id,
       CASE WHEN i % 1000 = 0 THEN NULL
            ELSE (ARRAY['US','CA','BR','MX','GB','DE','FR','IN'])[1 + i % 8] END AS country,
       (ARRAY['tv','web','mobile','console'])[1 + (i // 7) % 4] AS device,
       CASE WHEN i % 5000 = 0 THEN -1.0 ELSE ((i * 31) % 20000) / 100.0 END AS amount,
       TIMESTAMP '{first} 00:00:00' + (i // {per_day}) * INTERVAL '1 day' + (i % 86400) * INTERVAL '1 second'
         AS event_ts,
       'user' || i || '@example.com' AS email,
       strftime(DATE '{first}' + CAST(i // {per_day} AS INTEGER), '%Y-%m-%d') AS ds
FROM range({rows}) t(i)
ORDER BY i
"""


def build(path: Path, per_day: int, days: int) -> str:
    import duckdb

    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA bench")
    con.execute(
        "CREATE TABLE bench.events AS " + GENERATE.format(first=FIRST_DAY, per_day=per_day, rows=per_day * days)
    )
    con.close()
    return f"duckdb:///{path}"


def run(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one process."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[:4]} failed ({proc.returncode}): {stderr[-2000:]}")
    return wall, usage.ru_maxrss / 1024, stdout  # Linux: ru_maxrss in KiB


def stored(store: Path) -> tuple[int, dict[str, dict[str, bool]]]:
    """(statements the runs stored, {partition: {check: passed}}) of the current outcomes."""
    con = sqlite3.connect(store)
    try:
        n = con.execute("SELECT count(*) FROM statements").fetchone()[0]
        verdicts: dict[str, dict[str, bool]] = {}
        for part, check, status in con.execute(
            "SELECT partition_value, check_key, status FROM outcomes WHERE current = 1"
        ):
            verdicts.setdefault(str(part), {})[str(check).split(":")[0]] = status == "PASS"
    finally:
        con.close()
    return int(n), verdicts


def main() -> None:
    if sys.argv[1:2] == ["--build"]:
        print(build(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-day", type=int, default=100_000, help="rows per daily partition")
    parser.add_argument("--days", type=int, default=365, help="daily partitions")
    parser.add_argument("--runs", type=int, default=3, help="measured runs of each side")
    parser.add_argument(
        "--chunks", default="default,365", help="backfill chunk sizes to measure (default: the setting)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON only")
    args = parser.parse_args()
    as_installed()
    chunks = args.chunks.split(",")
    with tempfile.TemporaryDirectory(prefix="quinto-backfill-year-") as tmp:
        work = Path(tmp)
        started = time.perf_counter()
        # built by a child: a child's peak RSS starts from its parent's at the fork, so this process
        # stays small and every measured side reports its own peak
        url = subprocess.run(
            [sys.executable, __file__, "--build", str(work / "events.duckdb"), str(args.per_day), str(args.days)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        built = time.perf_counter() - started
        shutil.copy(SUITE, work / "events.yaml")
        (work / "quinto.yaml").write_text(
            f"connections: {{warehouse: '{url}'}}\nstore: sqlite:///{work / 'store.db'}\nchecks: [events.yaml]\n",
            encoding="utf-8",
        )
        env = {**os.environ, "QUINTO_STATEMENT_CACHE": str(work / "statement-cache")}
        sides = [("hand (count)", "count"), ("hand (hashed)", "hashed")] + [
            (f"backfill (chunk {c})", c) for c in chunks
        ]
        times: dict[str, list[float]] = {name: [] for name, _ in sides}
        peaks: dict[str, list[float]] = {name: [] for name, _ in sides}
        statements: dict[str, int] = {}
        verdicts: dict[str, dict[str, dict[str, bool]]] = {}
        for _ in range(args.runs):
            for name, how in sides:
                if name.startswith("hand"):
                    cmd = [sys.executable, str(PEERS / "run_hand.py"), "duckdb", url, "all", how]
                    statements[name] = 1
                else:
                    (work / "store.db").unlink(missing_ok=True)
                    cmd = [sys.executable, "-m", "quinto", "backfill", "bench.events", "--since", FIRST_DAY]
                    cmd += [] if how == "default" else ["--chunk", how]
                wall, peak, out = run(cmd, work, env)
                times[name].append(wall)
                peaks[name].append(peak)
                if name.startswith("hand"):
                    verdicts[name] = json.loads(out)
                else:
                    n, verdicts[name] = stored(work / "store.db")
                    statements[name] = n + 1  # + the partition listing, which is not stored with a run
        reference = verdicts["hand (count)"]
        if len(reference) != args.days:
            raise SystemExit(f"the hand-written statement saw {len(reference)} partitions, not {args.days}")
        for name, found in verdicts.items():
            if found != reference:
                diff = sorted(p for p in reference if found.get(p) != reference[p])[:3]
                raise SystemExit(f"{name} disagrees with the hand-written verdicts, e.g. on {diff}")
    floor = statistics.median(times["hand (count)"])
    results = [
        {
            "side": name,
            "wall_s": round(statistics.median(times[name]), 2),
            "ratio": round(statistics.median(times[name]) / floor, 2),
            "peak_rss_mb": round(statistics.median(peaks[name])),
            "statements": statements[name],
            "runs_s": [round(t, 2) for t in times[name]],
        }
        for name, _ in sides
    ]
    if args.json:
        print(json.dumps(results))
        return
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cores; {args.days} partitions × {args.per_day:,} rows "
        f"= {args.days * args.per_day:,} rows (built in {built:.0f} s); medians of {args.runs}"
    )
    print("| side | wall s | ratio to hand (count) | peak RSS MB | statements | runs s |")
    print("| --- | ---: | ---: | ---: | ---: | --- |")
    for r in results:
        print(
            f"| {r['side']} | {r['wall_s']} | {r['ratio']}× | {r['peak_rss_mb']} | {r['statements']} "
            f"| {', '.join(map(str, r['runs_s']))} |"  # type: ignore[call-overload]
        )


if __name__ == "__main__":
    main()
