"""Benchmark: the three forms of exact distinct counts (`Dialect.DISTINCT_FORM`) on each engine.

The 12-check suite of bench/compare.py (two exact distinct counts: `duplicate_count(id)` and
`duplicate_count(user_id, device)`) is compiled by Quinto in each form and its statements run
through Quinto's connector, in one warm process, interleaved, median of `--runs`:

- `count`: COUNT(DISTINCT ...) in the one scan;
- `grouped`: one hashed GROUP BY derived table per distinct count, joined to the scan (one statement);
- `separate`: the scan without the distinct counts, then one GROUP BY statement per distinct count.

Scenarios: one partition (ds=2026-11-02) and the whole table. The table is bench/peers/data.py's
`bench.events`, cut to its first `--days` days (1 M rows a day at the default `--rows`). Trino's
figures add the engine's own CPU time and peak memory (the client's query stats), summed over the
statements.

    python bench/distinct_forms.py --engines duckdb,postgres,trino,spark [--per-day 1000000] [--days 3]

PostgreSQL comes from QUINTO_TEST_PG_URL; Trino is `--trino trino://bench@127.0.0.1:8080/hive`
(a table `hive.quinto_bench_forms.events` is created there and dropped afterwards); Spark is
`--spark hive://bench@127.0.0.1:10000/default` (the Thrift Server; `quinto_bench_forms.events`,
Parquet partitioned by ds, likewise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.peers.data import generate_jvm_sql, generate_sql  # noqa: E402
from quinto.compile import DISTINCT_FORMS, PartitionColumn, compile_scans  # noqa: E402
from quinto.engines import connector_for  # noqa: E402
from quinto.execute import Executor  # noqa: E402
from quinto.spec import parse_check_file  # noqa: E402

SUITE = HERE / "peers" / "quinto" / "partition" / "events.yaml"
SCHEMA = TRINO_SCHEMA = "quinto_bench_forms"  # its own schema: the servers are shared

TRINO_GENERATE = """
CREATE TABLE {table} WITH (format = 'ORC', partitioned_by = ARRAY['ds']) AS
SELECT i AS id,
       (i * 7919) % 2000000 AS user_id,
       CASE WHEN i % 1000 = 0 THEN NULL
            ELSE element_at(ARRAY['US','CA','BR','MX','GB','DE','FR','IN'], CAST(1 + i % 8 AS integer)) END AS country,
       element_at(ARRAY['tv','web','mobile','console'], CAST(1 + (i / 7) % 4 AS integer)) AS device,
       CASE WHEN i % 5000 = 0 THEN -1.0 ELSE ((i * 31) % 20000) / 100.0 END AS amount,
       TIMESTAMP '2026-11-01 00:00:00' + (i / {per_day}) * INTERVAL '1' DAY + (i % 86400) * INTERVAL '1' SECOND
         AS event_ts,
       'user' || CAST(i AS varchar) || '@example.com' AS email,
       '2026-11-' || lpad(CAST(1 + i / {per_day} AS varchar), 2, '0') AS ds
FROM (SELECT CAST(a.x AS bigint) * 10000 + b.y AS i
      FROM UNNEST(sequence(0, {blocks} - 1)) AS a(x) CROSS JOIN UNNEST(sequence(0, 9999)) AS b(y))
"""


def build_duckdb(path: Path, per_day: int, days: int) -> str:
    import duckdb

    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA bench")
    last = f"2026-11-{days:02d}"
    con.execute(
        f"CREATE TABLE bench.events AS SELECT * FROM ({generate_sql(per_day * 10, 'duckdb')}) WHERE ds <= '{last}'"
    )
    con.close()
    return f"duckdb:///{path}"


def build_postgres(url: str, per_day: int, days: int) -> str:
    import psycopg

    last = f"2026-11-{days:02d}"
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {SCHEMA}")
        con.execute(
            f"CREATE TABLE {SCHEMA}.events AS SELECT * FROM ({generate_sql(per_day * 10, 'postgres')}) g "
            f"WHERE ds <= '{last}'"
        )
        con.execute(f"CREATE INDEX ON {SCHEMA}.events (ds)")
        con.execute(f"VACUUM ANALYZE {SCHEMA}.events")
    return f"{SCHEMA}.events"


def drop_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")


def ddl(url: str, *statements: str) -> None:
    """STATEMENTS through the engine's DBAPI cursor, without parameters (pyhive would read the `%`
    of the generated SQL as placeholders)."""
    engine = connector_for(url).engine()
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        for sql in statements:
            cursor.execute(sql)
            if cursor.description:
                cursor.fetchall()
        cursor.close()
    finally:
        conn.close()
        engine.dispose()


def build_trino(url: str, per_day: int, days: int) -> str:
    table = f"hive.{TRINO_SCHEMA}.events"
    ddl(
        url,
        f"CREATE SCHEMA IF NOT EXISTS hive.{TRINO_SCHEMA}",
        f"DROP TABLE IF EXISTS {table}",
        TRINO_GENERATE.format(table=table, per_day=per_day, blocks=per_day * days // 10000),
    )
    return table


def drop_trino(url: str) -> None:
    ddl(url, f"DROP TABLE IF EXISTS hive.{TRINO_SCHEMA}.events", f"DROP SCHEMA IF EXISTS hive.{TRINO_SCHEMA}")


def build_spark(url: str, per_day: int, days: int) -> str:
    """`quinto_bench_forms.events` on the Spark Thrift Server: Parquet, partitioned by ds."""
    table = f"{SCHEMA}.events"
    last = f"2026-11-{days:02d}"
    ddl(
        url,
        f"CREATE DATABASE IF NOT EXISTS {SCHEMA}",
        f"DROP TABLE IF EXISTS {table}",
        f"CREATE TABLE {table} USING parquet PARTITIONED BY (ds) AS SELECT * FROM "
        f"({generate_jvm_sql(per_day * 10, 'spark')}) g WHERE ds <= '{last}' DISTRIBUTE BY ds",
    )
    return table


def drop_spark(url: str) -> None:
    ddl(url, f"DROP TABLE IF EXISTS {SCHEMA}.events", f"DROP DATABASE IF EXISTS {SCHEMA}")


def aggregates(table: str) -> list[Any]:
    spec = parse_check_file(SUITE)

    class Suite(Executor):
        def __init__(self) -> None:
            self.spec = spec
            self.broken = set()
            self.part_col = PartitionColumn("ds")

    return [a for a in Suite().scan_aggregates()]


def run_form(url: str, table: str, form: str, partitions: list[str]) -> tuple[float, dict[str, float]]:
    connector = connector_for(url)
    column = PartitionColumn("ds") if partitions else None
    compiled = compile_scans(connector.dialect, table, column, partitions, aggregates(table), form)
    connector.execute("SELECT 1", {}, purpose="warm-up")  # the connection, not the statement
    connector.statements.clear()
    started = time.perf_counter()
    for c in compiled:
        connector.execute(c.sql, c.params)
    wall = time.perf_counter() - started
    cost: dict[str, float] = {}
    for s in connector.statements:
        for k, v in (getattr(s, "cost", None) or {}).items():
            if isinstance(v, (int, float)):
                cost[k] = max(cost.get(k, 0), v) if k.startswith("peak") else cost.get(k, 0) + v
    connector.close()
    return wall, cost


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", default="duckdb,postgres")
    ap.add_argument("--per-day", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--trino", default="trino://bench@127.0.0.1:8080/hive")
    ap.add_argument("--spark", default="hive://bench@127.0.0.1:10000/default")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="quinto-forms-"))
    targets: dict[str, tuple[str, str]] = {}
    for engine in args.engines.split(","):
        if engine == "duckdb":
            targets[engine] = (build_duckdb(tmp / "forms.duckdb", args.per_day, args.days), "bench.events")
        elif engine == "postgres":
            url = os.environ["QUINTO_TEST_PG_URL"]
            targets[engine] = (url, build_postgres(url, args.per_day, args.days))
        elif engine == "trino":
            targets[engine] = (args.trino, build_trino(args.trino, args.per_day, args.days))
        elif engine == "spark":
            targets[engine] = (args.spark, build_spark(args.spark, args.per_day, args.days))
    try:
        rows = args.per_day * args.days
        print("| engine | scenario | form | statements | median s | ratio to count | engine CPU s | peak memory MB |")
        print("| --- | --- | --- | --- | --- | --- | --- | --- |")
        for engine, (url, table) in targets.items():
            for scenario, parts in (
                (f"partition ({args.per_day:,} rows)", ["2026-11-02"]),
                (f"whole table ({rows:,} rows)", []),
            ):
                times: dict[str, list[float]] = {f: [] for f in DISTINCT_FORMS}
                costs: dict[str, dict[str, float]] = {}
                for _ in range(args.runs):
                    for form in DISTINCT_FORMS:
                        try:
                            wall, cost = run_form(url, table, form, parts)
                        except Exception as exc:  # noqa: BLE001 - a form that fails is reported as such
                            print(f"| {engine} | {scenario} | {form} | fails: {str(exc)[:160]} |", flush=True)
                            times[form].append(float("nan"))
                            continue
                        times[form].append(wall)
                        costs[form] = cost
                base = statistics.median(times["count"])
                for form in DISTINCT_FORMS:
                    med = statistics.median(times[form])
                    n = len(
                        compile_scans(
                            connector_for(url).dialect,
                            table,
                            PartitionColumn("ds") if parts else None,
                            parts,
                            aggregates(table),
                            form,
                        )
                    )
                    cost = costs.get(form, {})
                    cpu = f"{cost['cpu_ms'] / 1000:.1f}" if "cpu_ms" in cost else "–"
                    peak = f"{cost['peak_memory_bytes'] / 2**20:.0f}" if "peak_memory_bytes" in cost else "–"
                    print(
                        f"| {engine} | {scenario} | {form} | {n} | {med:.2f} | {med / base:.2f}× | {cpu} | {peak} |",
                        flush=True,
                    )
    finally:
        if "trino" in targets:
            drop_trino(args.trino)
        if "spark" in targets:
            drop_spark(args.spark)
        if "postgres" in targets:
            drop_postgres(targets["postgres"][0])


if __name__ == "__main__":
    main()
