"""Benchmark: backfilling 30 daily partitions of a 30 M-row table.

Compares, in one process and the same run (median of --runs):
  full scan   one hand-written aggregate statement over the whole table, no grouping (the floor)
  backfill    `quinto.backfill(...)`: one GROUP BY-partition statement for all 30 partitions
  30 audits   `quinto.audit(...)` once per partition, as a scheduler without backfill would
on DuckDB and PostgreSQL. Target: backfill ≤ 1.5 × the full scan.

    python bench/backfill.py [--rows 30000000] [--runs 3] [--engines duckdb,postgres]
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

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.core_scan import GENERATE, HAND_SQL, REGEX  # noqa: E402
from quinto.app import audit, backfill  # noqa: E402
from quinto.engines import connector_for  # noqa: E402
from quinto.spec import load_project, load_suite  # noqa: E402
from quinto.store import Store  # noqa: E402

DAYS = 30


def build(engine: str, work: Path, rows: int) -> str:
    per_day = rows // DAYS
    if engine == "duckdb":
        import duckdb

        path = work / "warehouse.duckdb"
        con = duckdb.connect(str(path))
        con.execute("CREATE SCHEMA bench")
        con.execute(
            "CREATE TABLE bench.events AS " + GENERATE.format(per_day=per_day, div="//", series=f"range({rows}) t(i)")
        )
        con.close()
        return f"duckdb:///{path}"
    import psycopg

    url = (
        os.environ.get("QUINTO_TEST_PG_URL")
        or subprocess.run(
            [str(HERE.parent / "scripts" / "pg.sh"), "start"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS bench CASCADE")
        con.execute("CREATE SCHEMA bench")
        sql = GENERATE.format(per_day=per_day, div="/", series=f"generate_series(0::bigint, {rows - 1}) t(i)")
        con.execute("CREATE TABLE bench.events AS " + sql.replace("AS VARCHAR", "AS TEXT"))
        con.execute("CREATE INDEX ON bench.events (ds)")
        con.execute("VACUUM ANALYZE bench.events")
    return url


def measure(engine: str, url: str, runs: int, work: Path) -> dict[str, object]:
    os.environ["BENCH_URL"] = url
    project_file = work / f"{engine}.yaml"
    project_file.write_text(
        "connections: {warehouse: '${BENCH_URL}'}\n"
        f"store: sqlite:///{work / 'unused.db'}\npartitions_per_scan: 31\n"
        f"checks: [{HERE / 'checks'}]\n",
        encoding="utf-8",
    )
    project = load_project(project_file)
    suite = load_suite(project)
    connector = connector_for(url)
    parts = sorted(connector.partitions("bench.events", "ds"))
    assert len(parts) == DAYS, parts
    full_sql = HAND_SQL.format(regex=REGEX[engine], ds="x").replace("WHERE ds = 'x'", "")
    times: dict[str, list[float]] = {"full scan": [], "backfill": [], "30 audits": []}
    statements: dict[str, int] = {}
    for i in range(runs):
        args = {"read_only": True} if engine == "duckdb" else {}  # DuckDB: one configuration per file per process
        engine_ = sa.create_engine(url, poolclass=sa.NullPool, connect_args=args)
        t0 = time.perf_counter()
        with engine_.connect() as conn:
            conn.execute(sa.text(full_sql)).fetchall()
        times["full scan"].append(time.perf_counter() - t0)
        engine_.dispose()

        store = Store(f"sqlite:///{work / f'{engine}-bf-{i}.db'}")
        t0 = time.perf_counter()
        results = backfill(
            "bench.events",
            parts[0],
            parts[-1],
            project=project,
            suite=suite,
            store=store,
            connector=connector,
            chunk=31,
        )
        times["backfill"].append(time.perf_counter() - t0)
        statements["backfill"] = 1 + sum(len(r.run.statements) for r in results)  # + the partition listing

        store = Store(f"sqlite:///{work / f'{engine}-single-{i}.db'}")
        t0 = time.perf_counter()
        n = 0
        for p in parts:
            n += len(
                audit("bench.events", p, project=project, suite=suite, store=store, connector=connector).run.statements
            )
        times["30 audits"].append(time.perf_counter() - t0)
        statements["30 audits"] = n
    connector.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "engine": engine,
        "full_scan_s": round(med["full scan"], 2),
        "backfill_s": round(med["backfill"], 2),
        "audits_30_s": round(med["30 audits"], 2),
        "backfill_vs_full_scan": round(med["backfill"] / med["full scan"], 2),
        "audits_vs_backfill": round(med["30 audits"] / med["backfill"], 2),
        "statements": statements,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=30_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--engines", default="duckdb,postgres")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    out = []
    with tempfile.TemporaryDirectory(prefix="quinto-bench-") as tmp:
        for engine in args.engines.split(","):
            t0 = time.perf_counter()
            url = build(engine, Path(tmp), args.rows)
            print(f"# {engine}: {args.rows} rows built in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
            out.append(measure(engine, url, args.runs, Path(tmp)))
    if args.json:
        print(json.dumps(out))
        return
    print(f"{'engine':<10} {'full scan':>9} {'backfill':>9} {'30 audits':>9} {'bf/full':>8} {'30/bf':>6}  statements")
    for r in out:
        print(
            f"{r['engine']:<10} {r['full_scan_s']:>9} {r['backfill_s']:>9} {r['audits_30_s']:>9} "
            f"{r['backfill_vs_full_scan']:>8} {r['audits_vs_backfill']:>6}  {r['statements']}"
        )


if __name__ == "__main__":
    main()
