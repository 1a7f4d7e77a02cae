"""The floor: the 12 checks as ONE hand-written statement through the raw driver.

    python run_hand.py ENGINE URL SCOPE     SCOPE: a ds value, `*` (whole table) or `all` (every
                                            partition, one GROUP BY ds statement)
Prints {partition: {check: passed}} as JSON. ENGINE: duckdb, postgres (psycopg), trino (the trino
client, URL trino://user@host:port/catalog) or spark (pyhive, URL hive://user@host:port/db).
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from suite import (
    AMOUNT_MAX,
    AMOUNT_MIN,
    CHECKS,
    COUNTRIES,
    DEVICES,
    EMAIL_REGEX,
    FRESHNESS,
    MEAN_MAX,
    MEAN_MIN,
    WHOLE,
    reference_time,
)

SQL = """
SELECT {key} AS scope,
       count(*),
       count(*) - count(id),
       count(*) - count(user_id),
       count(*) - count(country),
       count(id) - count(DISTINCT id),
       count(CASE WHEN country NOT IN ({countries}) THEN 1 END),
       count(CASE WHEN device NOT IN ({devices}) THEN 1 END),
       count(CASE WHEN amount < {amin} OR amount > {amax} THEN 1 END),
       count(CASE WHEN NOT {regex} THEN 1 END),
       max(event_ts),
       avg(amount),
       count(CASE WHEN user_id IS NOT NULL AND device IS NOT NULL THEN 1 END)
         - count(DISTINCT CASE WHEN user_id IS NOT NULL AND device IS NOT NULL THEN (user_id, device) END)
FROM bench.events {where}{group}
"""


REGEX = {
    "duckdb": f"regexp_matches(email, '{EMAIL_REGEX}')",
    "postgres": f"email ~ '{EMAIL_REGEX}'",
    "trino": f"regexp_like(email, '{EMAIL_REGEX}')",
    "spark": "email RLIKE '{}'".format(EMAIL_REGEX.replace("\\", "\\\\")),  # Spark literals unescape \\
}


def statement(engine: str, scope: str) -> str:
    regex = REGEX[engine]
    where = "" if scope in (WHOLE, "all") else f"WHERE ds = '{scope}'"
    sql = SQL.format(
        key="ds" if scope == "all" else f"'{scope}'",
        countries=", ".join(f"'{c}'" for c in COUNTRIES),
        devices=", ".join(f"'{d}'" for d in DEVICES),
        amin=AMOUNT_MIN,
        amax=AMOUNT_MAX,
        regex=regex,
        where=where,
        group="GROUP BY ds" if scope == "all" else "",
    )
    if engine == "spark":  # COUNT(DISTINCT a, b) counts the tuples with no NULL in them
        sql = sql.replace(
            "count(DISTINCT CASE WHEN user_id IS NOT NULL AND device IS NOT NULL THEN (user_id, device) END)",
            "count(DISTINCT user_id, device)",
        )
    return sql


def judge(row: tuple) -> dict[str, bool]:
    scope, rows, *counts, newest, mean, dup_pairs = row
    if isinstance(newest, str):  # pyhive returns timestamps as text
        newest = dt.datetime.fromisoformat(newest)
    newest_ok = newest is not None and reference_time(str(scope)) - newest < FRESHNESS
    mean_ok = mean is not None and MEAN_MIN <= float(mean) <= MEAN_MAX
    passed = [rows > 0, *(n == 0 for n in counts), newest_ok, mean_ok, dup_pairs == 0]
    return dict(zip(CHECKS, passed, strict=True))


def jvm_rows(engine: str, url: str, sql: str) -> list[tuple]:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    if engine == "trino":
        import trino

        con = trino.dbapi.connect(host=u.hostname, port=u.port, user=u.username, catalog=u.path.strip("/"))
    else:
        from pyhive import hive

        con = hive.connect(host=u.hostname, port=u.port, username=u.username, database=u.path.strip("/"))
    try:
        cur = con.cursor()
        cur.execute(sql)
        return [tuple(r) for r in cur.fetchall()]
    finally:
        con.close()


def main() -> None:
    engine, url, scope = sys.argv[1:4]
    sql = statement(engine, scope)
    if engine == "duckdb":
        import duckdb

        con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
        rows = con.execute(sql).fetchall()
    elif engine in ("trino", "spark"):
        rows = jvm_rows(engine, url, sql)
    else:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as con:
            rows = con.execute(sql).fetchall()
    out = {str(r[0]): judge(r) for r in rows if r[1]}
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
