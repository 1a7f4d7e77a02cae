"""The benchmark table `bench.events`, with known defects, in DuckDB, PostgreSQL, Trino (Hive
connector, ORC, partitioned by ds) and the Spark Thrift Server (Parquet, partitioned by ds).

Columns: id, user_id, country (a NULL every 1000th row), device, amount (a negative every 5000th row),
event_ts, email, ds (10 daily partitions, 2026-11-01 .. 2026-11-10). Defects injected on top:
  - ds=2026-11-03: one row repeats the id of the row before it      (unique id fails)
  - ds=2026-11-05: three e-mail addresses without an @              (the regex fails)
  - ds=2026-11-07: five rows with device 'tablet'                   (accepted devices fail)
The checks that pass or fail are not written down anywhere: every tool computes them, and the
bench asserts that all four tools agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DAYS = 10
PARTITIONS = [f"2026-11-{d:02d}" for d in range(1, DAYS + 1)]

GENERATE = """
SELECT CASE WHEN i = {dup} THEN i - 1 ELSE i END AS id,
       (i * 7919) % 2000000 AS user_id,
       CASE WHEN i % 1000 = 0 THEN NULL
            ELSE (ARRAY['US','CA','BR','MX','GB','DE','FR','IN'])[1 + i % 8] END AS country,
       CASE WHEN i BETWEEN {tablet} AND {tablet} + 4 THEN 'tablet'
            ELSE (ARRAY['tv','web','mobile','console'])[1 + ({div_7}) % 4] END AS device,
       CASE WHEN i % 5000 = 0 THEN -1.0 ELSE ((i * 31) % 20000) / 100.0 END AS amount,
       TIMESTAMP '2026-11-01 00:00:00' + ({day}) * INTERVAL '1 day' + (i % 86400) * INTERVAL '1 second' AS event_ts,
       CASE WHEN i BETWEEN {bad_email} AND {bad_email} + 2 THEN 'user' || i || '.example.com'
            ELSE 'user' || i || '@example.com' END AS email,
       '2026-11-' || lpad(CAST(1 + {day} AS {text}), 2, '0') AS ds
FROM {series}
"""


def generate_sql(rows: int, engine: str) -> str:
    per_day = rows // DAYS
    div = "//" if engine == "duckdb" else "/"
    return GENERATE.format(
        dup=2 * per_day + per_day // 2,
        tablet=6 * per_day + per_day // 3,
        bad_email=4 * per_day + per_day // 4,
        div_7=f"i {div} 7",
        day=f"i {div} {per_day}",
        text="VARCHAR" if engine == "duckdb" else "TEXT",
        series=f"range({per_day * DAYS}) t(i)"
        if engine == "duckdb"
        else f"generate_series(0::bigint, {per_day * DAYS - 1}) t(i)",
    )


def build_duckdb(path: Path, rows: int) -> str:
    """Writes the table in DuckDB's v1.0.0 storage format, which every DuckDB the peers pin can read."""
    import duckdb

    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path), config={"storage_compatibility_version": "v1.0.0"})
    con.execute("CREATE SCHEMA bench")
    con.execute("CREATE TABLE bench.events AS " + generate_sql(rows, "duckdb") + " ORDER BY i")
    con.close()
    return f"duckdb:///{path}"


def build_postgres(url: str, rows: int) -> None:
    import psycopg

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as con:
        con.execute("DROP SCHEMA IF EXISTS bench CASCADE")
        con.execute("CREATE SCHEMA bench")
        con.execute("CREATE TABLE bench.events AS " + generate_sql(rows, "postgres") + " ORDER BY i")
        con.execute("CREATE INDEX ON bench.events (ds)")
        con.execute("VACUUM ANALYZE bench.events")


# The same rows in Trino's and Spark SQL's dialects (no generate_series/range shared by both; arrays
# are 1-based only through element_at; amount is a DOUBLE).
GENERATE_JVM = """
SELECT CASE WHEN i = {dup} THEN i - 1 ELSE i END AS id,
       (i * 7919) % 2000000 AS user_id,
       CASE WHEN i % 1000 = 0 THEN NULL
            ELSE element_at({countries}, CAST(1 + i % 8 AS INTEGER)) END AS country,
       CASE WHEN i BETWEEN {tablet} AND {tablet} + 4 THEN 'tablet'
            ELSE element_at({devices}, CAST(1 + ({div_7}) % 4 AS INTEGER)) END AS device,
       CASE WHEN i % 5000 = 0 THEN CAST(-1 AS DOUBLE) ELSE CAST((i * 31) % 20000 AS DOUBLE) / 100 END AS amount,
       {event_ts} AS event_ts,
       CASE WHEN i BETWEEN {bad_email} AND {bad_email} + 2 THEN concat('user', CAST(i AS {text}), '.example.com')
            ELSE concat('user', CAST(i AS {text}), '@example.com') END AS email,
       concat('2026-11-', lpad(CAST(1 + {day} AS {text}), 2, '0')) AS ds
FROM {series}
"""


def generate_jvm_sql(rows: int, engine: str) -> str:
    """SELECT of the table's rows in Trino (`engine="trino"`) or Spark SQL (`"spark"`)."""
    per_day = rows // DAYS
    total = per_day * DAYS
    trino = engine == "trino"

    def array(items: list[str]) -> str:
        quoted = ", ".join(f"'{x}'" for x in items)
        return f"ARRAY[{quoted}]" if trino else f"array({quoted})"

    day = f"i / {per_day}" if trino else f"i div {per_day}"
    if trino:  # sequence() makes at most 10,000 elements: a cross product of two
        series = (
            f"(SELECT a * 10000 + b AS i FROM UNNEST(sequence(0, {(total - 1) // 10000})) AS x(a) "
            f"CROSS JOIN UNNEST(sequence(0, 9999)) AS y(b)) WHERE i < {total}"
        )
        event_ts = (f"TIMESTAMP '2026-11-01 00:00:00' + ({day}) * INTERVAL '1' DAY "
                    "+ (i % 86400) * INTERVAL '1' SECOND")
    else:
        series = f"range({total}) AS t(i)"
        event_ts = f"TIMESTAMP '2026-11-01 00:00:00' + make_dt_interval(CAST({day} AS INT), 0, 0, i % 86400)"
    return GENERATE_JVM.format(
        dup=2 * per_day + per_day // 2,
        tablet=6 * per_day + per_day // 3,
        bad_email=4 * per_day + per_day // 4,
        countries=array(["US", "CA", "BR", "MX", "GB", "DE", "FR", "IN"]),
        devices=array(["tv", "web", "mobile", "console"]),
        text="VARCHAR" if trino else "STRING",
        div_7="i / 7" if trino else "i div 7",
        day=day,
        event_ts=event_ts,
        series=series,
    )


EVENTS_SPARK = (
    "CREATE TABLE bench.events (id BIGINT, user_id BIGINT, country STRING, device STRING, amount DOUBLE, "
    "event_ts TIMESTAMP, email STRING, ds STRING) USING parquet PARTITIONED BY (ds)"
)


def build_trino(cursor: Any, rows: int) -> None:
    """`hive.bench.events` as ORC, partitioned by ds (CURSOR: a trino DBAPI cursor on catalog hive)."""

    def run(sql: str) -> None:
        cursor.execute(sql)
        cursor.fetchall()

    run("CREATE SCHEMA IF NOT EXISTS hive.bench")
    run("DROP TABLE IF EXISTS hive.bench.events")
    run("CREATE TABLE hive.bench.events WITH (format = 'ORC', partitioned_by = ARRAY['ds']) AS "
        + generate_jvm_sql(rows, "trino"))


def build_spark(cursor: Any, rows: int) -> None:
    """`bench.events` as Parquet, partitioned by ds (CURSOR: a pyhive cursor)."""
    cursor.execute("CREATE DATABASE IF NOT EXISTS bench")
    cursor.execute("DROP TABLE IF EXISTS bench.events")
    cursor.execute(EVENTS_SPARK)
    # one write task per partition value (DISTRIBUTE BY), so each partition is one file
    cursor.execute("INSERT INTO bench.events " + generate_jvm_sql(rows, "spark") + " DISTRIBUTE BY ds")
