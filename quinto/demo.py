"""`quinto demo`: a realistic DuckDB warehouse with known defects, audited into a SQLite store.

Tables (90 daily partitions ending at `end`, so history-based bands are live for the last 30):
  dw.dim_title      500 titles
  dw.fact_playback  ~10k plays a day growing ~0.4% a day, busier on Fridays and weekends
  dw.fact_signup    ~1.5k sign-ups a day, busier on weekends
Defects, by day index (0 = first day), all in the last 30 days: see DEFECTS.
Afterwards one incident is resolved as a defect (its partition marked bad, with the reason) and
one acknowledged (`annotate`).
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from quinto.store import Store

DAYS = 90
#: the day index of each defect (0 = the first of DAYS days)
NEGATIVE, NULL_KEYS, ORPHANS, DUPLICATES, BAD_EMAILS, VOLUME_DROP, LATE, BAD_ENUM = 66, 70, 72, 75, 78, 80, 84, 87
DEFECTS = {
    NEGATIVE: "fact_playback: 7 plays with negative duration_s",
    NULL_KEYS: "fact_playback: 60 plays with NULL account_id (null keys)",
    ORPHANS: "fact_playback: 40 plays of titles missing from dim_title (orphans)",
    DUPLICATES: "fact_playback: 250 duplicated play_id (duplicates)",
    BAD_EMAILS: "fact_signup: 3% of emails malformed (again on the last day: an open incident)",
    VOLUME_DROP: "fact_playback: volume drop to 40% of a normal day",
    LATE: "fact_playback: late data, the newest event is 30 hours before the partition's end",
    BAD_ENUM: "fact_playback: bad enum value 'XX' in country for 2% of plays, from then on",
}
#: the weekly shape of plays (Monday first): busier on Fridays and weekends
PLAY_WEEK = (1.0, 0.97, 0.98, 1.02, 1.12, 1.3, 1.25)
#: plays grow this much a day
GROWTH = 0.004


def default_end() -> dt.date:
    return dt.date.today() - dt.timedelta(days=1)


def build_warehouse(path: Path, end: dt.date, rows_per_day: int = 10000) -> list[str]:
    """(Re)build the demo warehouse; returns the partition values, oldest first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    days = [end - dt.timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA dw")
        con.execute("CREATE MACRO r(i, salt, d, n) AS (hash(i, salt, d) % n)::BIGINT")
        con.execute("""
            CREATE TABLE dw.dim_title AS
            SELECT i AS title_id, 'Title ' || i AS title_name,
                   ['drama', 'comedy', 'kids', 'documentary', 'action'][1 + i % 5] AS genre
            FROM range(1, 501) t(i)""")
        con.execute("""
            CREATE TABLE dw.fact_playback (play_id VARCHAR, account_id BIGINT, title_id BIGINT,
                country VARCHAR, device VARCHAR, duration_s INTEGER, event_ts TIMESTAMP, ds VARCHAR)""")
        con.execute("""
            CREATE TABLE dw.fact_signup (signup_id BIGINT, account_id BIGINT, email VARCHAR, plan VARCHAR,
                amount DECIMAL(10, 2), signup_ts TIMESTAMP, ds VARCHAR)""")
        for idx, day in enumerate(days):
            weekend = day.weekday() >= 5
            jitter = random.Random(idx).uniform(0.96, 1.04)  # day-to-day variation of about ±4%
            trend = 1 + GROWTH * idx
            drop = 0.4 if idx == VOLUME_DROP else 1.0
            n = int(rows_per_day * jitter * trend * PLAY_WEEK[day.weekday()] * drop)
            ds = day.isoformat()
            late = idx == LATE
            span = 24 * 3600 - (30 * 3600 if late else 0)  # late data: nothing in the last 30h
            start = dt.datetime.combine(day, dt.time()) - (dt.timedelta(hours=30) if late else dt.timedelta())
            con.execute(
                f"""
                INSERT INTO dw.fact_playback
                SELECT 'p-' || $ds || '-' || i,
                       CASE WHEN {idx} = {NULL_KEYS} AND i % 200 = 0 AND i < 12000 THEN NULL
                            ELSE 1 + r(i, 'a', $ds, 50000) END,
                       CASE WHEN {idx} = {ORPHANS} AND i < 40 THEN 9000 + i ELSE 1 + r(i, 't', $ds, 500) END,
                       CASE WHEN {idx} >= {BAD_ENUM} AND r(i, 'x', $ds, 100) < 2 THEN 'XX'
                            ELSE ['US', 'US', 'US', 'CA', 'BR', 'MX', 'GB'][1 + r(i, 'c', $ds, 7)] END,
                       ['tv', 'mobile', 'web', 'console'][1 + r(i, 'd', $ds, 4)],
                       CASE WHEN {idx} = {NEGATIVE} AND i < 7 THEN -30 ELSE 60 + r(i, 'u', $ds, 3000)::INTEGER END,
                       $start::TIMESTAMP + to_seconds(r(i, 's', $ds, {span})),
                       $ds
                FROM range({n}) t(i)""",
                {"ds": ds, "start": start},
            )
            if idx == DUPLICATES:
                con.execute(
                    "INSERT INTO dw.fact_playback SELECT * FROM dw.fact_playback WHERE ds = $ds "
                    "ORDER BY play_id LIMIT 250",
                    {"ds": ds},
                )
            signups = int(1500 * (1.2 if weekend else 1.0) * random.Random(-idx).uniform(0.92, 1.08))
            con.execute(
                f"""
                INSERT INTO dw.fact_signup
                SELECT r(i, 'id', $ds, 1000000000), 100000 + r(i, 'a', $ds, 900000),
                       CASE WHEN {idx} IN ({BAD_EMAILS}, {DAYS - 1}) AND i % 33 = 0 THEN 'user' || i || '@@example'
                            ELSE 'user' || i || '@example.com' END,
                       ['basic', 'standard', 'premium'][1 + r(i, 'p', $ds, 3)],
                       [7.99, 12.99, 17.99][1 + r(i, 'p', $ds, 3)],
                       $day::TIMESTAMP + to_seconds(r(i, 's', $ds, 86400)),
                       $ds
                FROM range({signups}) t(i)""",
                {"ds": ds, "day": dt.datetime.combine(day, dt.time())},
            )
    finally:
        con.close()
    return [d.isoformat() for d in days]


def write_project(directory: Path, checks: Path) -> Path:
    """A quinto.yaml for the demo: the DuckDB warehouse and a SQLite store in `directory`."""
    project = directory / "quinto.yaml"
    project.write_text(
        "# written by `quinto demo`\n"
        "connections:\n"
        f"  warehouse: duckdb:///{(directory / 'demo.duckdb').resolve()}\n"
        f"store: sqlite:///{(directory / 'quinto.db').resolve()}\n"
        f"checks: [{checks.resolve()}]\n",
        encoding="utf-8",
    )
    return project


#: what the demo says people did about two of its incidents
RESOLVED_DEFECT = ("dw.fact_playback", "duplicate_count(play_id) = 0", "injected defect: 250 duplicated play_id")
ACKNOWLEDGED = (
    "dw.fact_playback",
    "invalid_percent(country) < 0.1%",
    "partner feed sends country 'XX'; a fix is on its way",
)


def annotate(store: Store, by: str = "demo") -> list[str]:
    """One incident resolved as a defect (its partition marked bad, with the reason) and one
    acknowledged, as people would have done; returns what was done, for the demo's output."""
    found = {(i.table_name, i.check_key): i for i in store.incidents.find(states=("open", "closed"))}
    done = []
    table, check, reason = RESOLVED_DEFECT
    if (table, check) in found:
        inc = store.incidents.resolve(found[(table, check)].id, "defect", by, reason)
        done.append(f"incident {inc.id} ({table} {check}) resolved as a defect: {inc.first_partition} marked bad")
    table, check, note = ACKNOWLEDGED
    if (table, check) in found:
        inc = store.incidents.acknowledge(found[(table, check)].id, by, note)
        done.append(f"incident {inc.id} ({table} {check}) acknowledged")
    return done
