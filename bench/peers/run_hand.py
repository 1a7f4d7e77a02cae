"""The floor: the 12 checks as ONE hand-written statement through the raw driver.

    python run_hand.py ENGINE URL SCOPE [FORM]
        SCOPE: a ds value, `*` (whole table) or `all` (every partition, one GROUP BY ds statement)
        FORM:  `count` (default): the two duplicate counts as COUNT(DISTINCT ...) in the scan;
               `hashed`: each as a hashed GROUP BY in a derived table joined to the scan, the form
               Quinto uses on DuckDB, PostgreSQL and Trino (compare.py's tool `hand-hashed`)
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


# The same row as SQL's, with the two distinct counts from hashed GROUP BYs joined by scope.
HASHED = """
SELECT s.scope, s.n_rows, s.null_id, s.null_user, s.null_country, s.nonnull_id - coalesce(d1.n, 0),
       s.bad_country, s.bad_device, s.bad_amount, s.bad_email, s.newest, s.mean,
       s.nonnull_pair - coalesce(d2.n, 0)
FROM (SELECT {key} AS scope,
             count(*) AS n_rows,
             count(*) - count(id) AS null_id,
             count(*) - count(user_id) AS null_user,
             count(*) - count(country) AS null_country,
             count(id) AS nonnull_id,
             count(CASE WHEN country NOT IN ({countries}) THEN 1 END) AS bad_country,
             count(CASE WHEN device NOT IN ({devices}) THEN 1 END) AS bad_device,
             count(CASE WHEN amount < {amin} OR amount > {amax} THEN 1 END) AS bad_amount,
             count(CASE WHEN NOT {regex} THEN 1 END) AS bad_email,
             max(event_ts) AS newest,
             avg(amount) AS mean,
             count(CASE WHEN user_id IS NOT NULL AND device IS NOT NULL THEN 1 END) AS nonnull_pair
      FROM bench.events {where}{group}) s
{join} (SELECT {gkey} AS scope, count(*) AS n
      FROM (SELECT {gcol}id FROM bench.events WHERE id IS NOT NULL{and_where} GROUP BY {gcol}id) g{ggroup}) d1{on1}
{join} (SELECT {gkey} AS scope, count(*) AS n
      FROM (SELECT {gcol}user_id, device FROM bench.events
            WHERE user_id IS NOT NULL AND device IS NOT NULL{and_where}
            GROUP BY {gcol}user_id, device) g{ggroup}) d2{on2}
"""


REGEX = {
    "duckdb": f"regexp_matches(email, '{EMAIL_REGEX}')",
    "postgres": f"email ~ '{EMAIL_REGEX}'",
    "trino": f"regexp_like(email, '{EMAIL_REGEX}')",
    "spark": "email RLIKE '{}'".format(EMAIL_REGEX.replace("\\", "\\\\")),  # Spark literals unescape \\
}


def statement(engine: str, scope: str, form: str = "count") -> str:
    regex = REGEX[engine]
    where = "" if scope in (WHOLE, "all") else f"WHERE ds = '{scope}'"
    grouped = scope == "all"
    sql = (HASHED if form == "hashed" else SQL).format(
        join="LEFT JOIN" if grouped else "CROSS JOIN",
        gkey="ds" if grouped else "1",
        gcol="ds, " if grouped else "",
        ggroup=" GROUP BY ds" if grouped else "",
        and_where="" if scope in (WHOLE, "all") else f" AND ds = '{scope}'",
        on1=" ON d1.scope = s.scope" if grouped else "",
        on2=" ON d2.scope = s.scope" if grouped else "",
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
    sql = statement(engine, scope, sys.argv[4] if len(sys.argv) > 4 else "count")
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
