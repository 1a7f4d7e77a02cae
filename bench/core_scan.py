"""Benchmark: `quinto audit` of a 12-check suite on one partition vs a hand-written single scan.

Builds `bench.events` (default 10 M rows, 10 daily partitions) in DuckDB and PostgreSQL, then runs,
interleaved, `quinto audit --json` and a minimal Python process that sends the same metrics as one
hand-written statement through the raw driver. Reports the median wall time of the whole process
(5 runs each), the ratio, and the number of statements Quinto sent.

    python bench/core_scan.py [--rows 10000000] [--runs 5] [--engines duckdb,postgres]
PostgreSQL comes from QUINTO_TEST_PG_URL or is started with scripts/pg.sh.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PARTITIONS = [f"2026-11-{d:02d}" for d in range(1, 11)]
AUDITED = PARTITIONS[-1]

# The same metrics as bench/checks/events.yaml, written by hand as one statement.
HAND_SQL = """
SELECT count(*),
       count(*) - count(id),
       count(*) - count(user_id),
       count(*) - count(country),
       count(id) - count(DISTINCT id),
       count(CASE WHEN country NOT IN ('US','CA','BR','MX','GB','DE','FR','IN') THEN 1 END),
       count(CASE WHEN device NOT IN ('tv','web','mobile','console') THEN 1 END),
       count(CASE WHEN amount < 0 OR amount > 10000 THEN 1 END),
       count(CASE WHEN NOT {regex} THEN 1 END),
       max(event_ts),
       avg(amount),
       count(CASE WHEN user_id IS NOT NULL AND device IS NOT NULL THEN 1 END)
         - count(DISTINCT CASE WHEN user_id IS NOT NULL AND device IS NOT NULL THEN (user_id, device) END)
FROM bench.events WHERE ds = '{ds}'
"""
REGEX = {"duckdb": "regexp_matches(email, '^[^@]+@[^@]+\\.[a-z]+$')", "postgres": "email ~ '^[^@]+@[^@]+\\.[a-z]+$'"}

HAND_RUNNER = {
    "duckdb": "import duckdb,sys; c=duckdb.connect(sys.argv[1], read_only=True); "
    "print(c.execute(sys.argv[2]).fetchall())",
    "postgres": "import psycopg,sys; c=psycopg.connect(sys.argv[1]); print(c.execute(sys.argv[2]).fetchall())",
}

GENERATE = """
SELECT i AS id,
       (i * 7919) % 2000000 AS user_id,
       CASE WHEN i % 1000 = 0 THEN NULL
            ELSE (ARRAY['US','CA','BR','MX','GB','DE','FR','IN'])[1 + i % 8] END AS country,
       (ARRAY['tv','web','mobile','console'])[1 + (i {div} 7) % 4] AS device,
       CASE WHEN i % 5000 = 0 THEN -1.0 ELSE ((i * 31) % 20000) / 100.0 END AS amount,
       TIMESTAMP '2026-11-01 00:00:00' + (i {div} {per_day}) * INTERVAL '1 day'
         + (i % 86400) * INTERVAL '1 second' AS event_ts,
       'user' || i || '@example.com' AS email,
       '2026-11-' || lpad(CAST(1 + i {div} {per_day} AS VARCHAR), 2, '0') AS ds
FROM {series}
"""


def build_duckdb(path: Path, rows: int) -> str:
    import duckdb

    if path.exists():
        path.unlink()
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA bench")
    con.execute(
        "CREATE TABLE bench.events AS " + GENERATE.format(per_day=rows // 10, div="//", series=f"range({rows}) t(i)")
    )
    con.close()
    return f"duckdb:///{path}"


def build_postgres(url: str, rows: int) -> str:
    import psycopg

    raw = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(raw, autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS bench CASCADE")
        con.execute("CREATE SCHEMA bench")
        sql = GENERATE.format(per_day=rows // 10, div="/", series=f"generate_series(0::bigint, {rows - 1}) t(i)")
        con.execute("CREATE TABLE bench.events AS " + sql.replace("AS VARCHAR", "AS TEXT"))
        con.execute("CREATE INDEX ON bench.events (ds)")
        con.execute("ANALYZE bench.events")
    return url


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr.strip()}")
    return elapsed, proc.stdout


def run_engine(engine: str, url: str, runs: int, work: Path) -> dict[str, object]:
    quinto = str(Path(sys.executable).parent / "quinto")
    project = work / f"{engine}.yaml"
    project.write_text(
        "connections: {warehouse: '${BENCH_URL}'}\n"
        f"store: sqlite:///{work / (engine + '-store.db')}\n"
        f"checks: [{HERE / 'checks'}]\n",
        encoding="utf-8",
    )
    env = {**os.environ, "BENCH_URL": url}
    quinto_cmd = [quinto, "audit", "bench.events", "-p", f"ds={AUDITED}", "--json", "-c", str(project)]
    driver_url = url.replace("postgresql+psycopg://", "postgresql://").replace("duckdb:///", "")
    hand_cmd = [sys.executable, "-c", HAND_RUNNER[engine], driver_url, HAND_SQL.format(regex=REGEX[engine], ds=AUDITED)]
    timed(quinto_cmd, env)  # warm the caches once for both
    timed(hand_cmd, env)
    q_times, h_times, statements = [], [], 0
    for _ in range(runs):  # interleaved
        t, out = timed(quinto_cmd, env)
        q_times.append(t)
        statements = json.loads(out)["statement_count"]
        h_times.append(timed(hand_cmd, env)[0])
    q, h = statistics.median(q_times), statistics.median(h_times)
    inq, inh = in_process(engine, url, driver_url, project, runs)
    return {
        "engine": engine,
        "quinto_s": round(q, 3),
        "hand_s": round(h, 3),
        "ratio": round(q / h, 3),
        "statements": statements,
        "in_process_quinto_s": round(inq, 3),
        "in_process_hand_s": round(inh, 3),
        "in_process_ratio": round(inq / inh, 3),
    }


def in_process(engine: str, url: str, driver_url: str, project: Path, runs: int) -> tuple[float, float]:
    """The same comparison inside one warm process: `quinto.audit()` (compile, scan, judge, store)
    against the hand-written statement through the raw driver, without interpreter start-up."""
    from quinto.app import audit
    from quinto.spec import load_project, load_suite

    os.environ["BENCH_URL"] = url
    proj = load_project(project)
    suite = load_suite(proj)
    hand_sql = HAND_SQL.format(regex=REGEX[engine], ds=AUDITED)
    if engine == "duckdb":
        import duckdb

        def hand() -> None:
            con = duckdb.connect(driver_url, read_only=True)
            con.execute(hand_sql).fetchall()
            con.close()
    else:
        import psycopg

        def hand() -> None:
            with psycopg.connect(driver_url) as con:
                con.execute(hand_sql).fetchall()

    q_times, h_times = [], []
    for _ in range(runs):
        t0 = time.perf_counter()
        audit("bench.events", f"ds={AUDITED}", project=proj, suite=suite)
        q_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        hand()
        h_times.append(time.perf_counter() - t0)
    return statistics.median(q_times), statistics.median(h_times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--engines", default="duckdb,postgres")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="quinto-bench-") as tmp:
        work = Path(tmp)
        for engine in args.engines.split(","):
            t0 = time.perf_counter()
            if engine == "duckdb":
                url = build_duckdb(work / "warehouse.duckdb", args.rows)
            else:
                pg = (
                    os.environ.get("QUINTO_TEST_PG_URL")
                    or subprocess.run(
                        [str(ROOT / "scripts" / "pg.sh"), "start"], capture_output=True, text=True, check=True
                    ).stdout.strip()
                )
                url = build_postgres(pg, args.rows)
            print(f"# {engine}: {args.rows} rows built in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
            results.append(run_engine(engine, url, args.runs, work))
    if args.json:
        print(json.dumps(results))
        return
    print(
        f"{'engine':<10} {'quinto (s)':>10} {'hand (s)':>9} {'ratio':>6} {'statements':>10}"
        f" {'in-process quinto':>18} {'hand':>6} {'ratio':>6}"
    )
    for r in results:
        print(
            f"{r['engine']:<10} {r['quinto_s']:>10} {r['hand_s']:>9} {r['ratio']:>6} {r['statements']:>10}"
            f" {r['in_process_quinto_s']:>18} {r['in_process_hand_s']:>6} {r['in_process_ratio']:>6}"
        )


if __name__ == "__main__":
    main()
