"""Web test data: the demo warehouse audited for real (a project with check files, owners and a
SQLite store), and small hand-made stores on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.test_bad_input import run_quinto

ROOT = Path(__file__).resolve().parent.parent
END = dt.date(2026, 11, 27)


def build_demo(directory: Path) -> Path:
    """Runs `quinto demo` (90 days, 8 injected defects, one partition marked bad) and returns its quinto.yaml."""
    proc = run_quinto(
        ["demo", "--no-serve", "--dir", str(directory), "--end", END.isoformat(), "--checks", str(ROOT / "checks")],
        directory.parent,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return directory / "quinto.yaml"


CHARTS_END = dt.date(2026, 11, 27)
CHARTS_DAYS = 120

SEASONAL_CHECKS = """table: dw.seasonal
connection: warehouse
partition: ds
owners: [charts@example.com]
checks:
  - row_count:
      anomaly: {}
  - row_count change vs previous partition between -40% and +60%
  - freshness(event_ts) < 26h
  - percentile(amount, 0.95) < 10000000
  - max(latency_ms) < 600000
  - missing_percent(country) < 5%
"""

SNAPSHOT_CHECKS = """table: dw.snapshot
connection: warehouse
owners: [charts@example.com]
checks:
  - row_count > 100
  - missing_count(name) = 0
  - freshness(updated_at) < 26h: {relative_to: now}
"""


def build_charts(directory: Path) -> Path:
    """A project whose charts have something to show, audited for real on DuckDB: `dw.seasonal`,
    120 daily partitions with a weekly rhythm and growth (a volume drop on day 100, a late day, one
    huge latency outlier, amounts in the millions), backfilled in one run, one partition marked
    bad; and `dw.snapshot`, an unpartitioned table audited on 12 mornings as it grows (one
    morning with missing names). Returns its quinto.yaml."""
    import random

    import duckdb

    from quinto.app import audit
    from quinto.store import Store

    directory.mkdir(parents=True, exist_ok=True)
    (directory / "checks").mkdir(exist_ok=True)
    (directory / "checks" / "seasonal.yaml").write_text(SEASONAL_CHECKS, encoding="utf-8")
    (directory / "checks" / "snapshot.yaml").write_text(SNAPSHOT_CHECKS, encoding="utf-8")
    config = directory / "quinto.yaml"
    config.write_text(
        f"connections:\n  warehouse: duckdb:///{directory / 'charts.duckdb'}\n"
        f"store: sqlite:///{directory / 'quinto.db'}\nchecks: [{directory / 'checks'}]\n",
        encoding="utf-8",
    )
    days = [CHARTS_END - dt.timedelta(days=CHARTS_DAYS - 1 - i) for i in range(CHARTS_DAYS)]
    con = duckdb.connect(str(directory / "charts.duckdb"))
    try:
        con.execute("CREATE SCHEMA dw")
        con.execute(
            "CREATE TABLE dw.seasonal (id BIGINT, amount DOUBLE, latency_ms DOUBLE, country VARCHAR, "
            "event_ts TIMESTAMP, ds VARCHAR)"
        )
        for i, day in enumerate(days):
            rnd = random.Random(i)
            weekly = (1.0, 1.05, 1.1, 1.05, 1.0, 0.8, 0.75)[day.weekday()]
            n = int(400 * weekly * (1 + i / 200) * rnd.uniform(0.97, 1.03) * (0.35 if i == 100 else 1.0))
            late = 30 if i == 110 else 0  # hours the newest event is before the partition's end
            spike = 900000.0 if i == 60 else 0.0
            con.execute(
                f"""INSERT INTO dw.seasonal SELECT r, 3.7e6 * (0.5 + (r % 100) / 200.0), 80 + r % 40
                + CASE WHEN r = 0 THEN {spike} ELSE 0 END, CASE WHEN r % 50 = 0 THEN NULL ELSE 'US' END,
                TIMESTAMP '{day.isoformat()} 00:00:00' + INTERVAL (r * 80000 / {n} ) SECOND
                - INTERVAL ({late}) HOUR, '{day.isoformat()}' FROM range({n}) t(r)"""
            )
        con.execute("CREATE TABLE dw.snapshot (id BIGINT, name VARCHAR, updated_at TIMESTAMP)")
    finally:
        con.close()
    audit(
        "dw.seasonal",
        [d.isoformat() for d in days],
        config=config,
        trigger="backfill",
        now=dt.datetime.combine(CHARTS_END + dt.timedelta(days=1), dt.time(6), dt.UTC),
    )
    for k in range(12):
        morning = dt.datetime.combine(CHARTS_END - dt.timedelta(days=11 - k), dt.time(6), dt.UTC)
        con = duckdb.connect(str(directory / "charts.duckdb"))
        try:
            name = "NULL" if k == 8 else "'title ' || r"
            stamp = (morning - dt.timedelta(hours=2)).replace(tzinfo=None).isoformat(sep=" ")
            con.execute("DELETE FROM dw.snapshot WHERE name IS NULL")
            con.execute(
                f"INSERT INTO dw.snapshot SELECT {k} * 1000 + r, {name}, TIMESTAMP '{stamp}' "
                f"FROM range({150 + 40 * k}) t(r)"
            )
        finally:
            con.close()
        audit("dw.snapshot", None, config=config, trigger="schedule", now=morning)
    store = Store(f"sqlite:///{directory / 'quinto.db'}")
    store.marks.set("dw.seasonal", days[100].isoformat(), "bad", "upstream outage: 35 % of the rows", by="test")
    store.close()
    return config
