"""Benchmark: server time of the web pages on a big store.

Fills a results store with --tables tables × --partitions daily partitions × --checks checks
(default 500 × 365 × 15 ≈ 2.7 M outcomes, plus as many metric values) through `Store.save_run`,
one backfill-shaped run per table, as `quinto backfill` writes them; about 2 % of partitions fail.
Then renders each page --requests times through Flask's test client (no network) and reports the
median and 95th percentile server time. Target: overview, table and partition pages ≤ 150 ms.

    python bench/web_pages.py [--stores sqlite,postgres] [--tables 500] [--requests 20] [--keep DIR]
    python bench/web_pages.py --stores sqlite --tables 1 --partitions 3650 --checks 12 --daily   # 10 years

`--daily` stores one run per partition instead (as a scheduler auditing each day writes them: 3,650
runs of 12 outcomes for ten years of one table), through the same `Store.save_run`.

A filled SQLite store is kept under bench/results/ (or --keep) and reused when its size matches.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from quinto.web import create_app  # noqa: E402
from quinto.web.views import CHECK_HISTORY  # noqa: E402

from quinto.alerts.record import record_alerts  # noqa: E402
from quinto.evaluate import Status  # noqa: E402
from quinto.results import MetricValue, Outcome, Run  # noqa: E402
from quinto.store import Store  # noqa: E402

END = dt.date(2026, 11, 27)
CHECK_TYPES = ["row_count", "missing_count", "duplicate_count", "invalid_percent", "avg", "freshness", "max", "min"]


def fill(store: Store, tables: int, partitions: int, checks: int, seed: int = 7, daily: bool = False) -> None:
    rnd = random.Random(seed)
    days = [(END - dt.timedelta(days=partitions - 1 - i)).isoformat() for i in range(partitions)]
    started = dt.datetime(2026, 11, 28, 6, 0, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    for t in range(tables):
        table = f"dw.table_{t:03d}"
        bases = [rnd.uniform(100, 900) for _ in range(checks)]
        if daily:  # one run per day, as a scheduler writes them
            for i, d in enumerate(days):
                at = dt.datetime.fromisoformat(d).replace(hour=6, tzinfo=dt.UTC) + dt.timedelta(days=1, seconds=t)
                run = _run(table, [d], at, "sensor", checks, t, bases, rnd)
                run.alert_policy = POLICY  # alert states, outbox rows and incidents, as a scheduler's runs
                store.save_run(run)
                if i % 500 == 499:
                    print(f"  {table}: {i + 1}/{len(days)} daily runs stored ({time.perf_counter() - t0:.0f} s)")
        else:  # one backfill-shaped run per table
            store.save_run(_run(table, days, started + dt.timedelta(seconds=t), "backfill", checks, t, bases, rnd))
        if t % 50 == 49:
            print(f"  {t + 1}/{tables} tables stored ({time.perf_counter() - t0:.0f} s)", flush=True)


#: an alert routing for the daily runs (what `quinto.alerts.policy.policy_for` gives a table with one
#: webhook): their failures open, join and close incidents as a scheduler's would
POLICY = {
    "targets": [{"channel": "webhook", "target": "https://hooks.example.invalid/dq"}],
    "owners": ["data@example.com"],
    "levels": {},
    "bands": [],
    "digest": False,
    "digest_targets": [],
    "reminder_s": None,
    "error_after_s": 3600.0,
    "base_url": "",
    "silent": False,
}


def _run(
    table: str, days: list[str], at: dt.datetime, trigger: str, checks: int, t: int, bases: list[float], rnd: Any
) -> Run:
    run = Run(table, "warehouse", "ds", days, at, trigger)
    run.finished_at = run.started_at + dt.timedelta(seconds=2)
    run.statements.append(
        {
            "purpose": "scan",
            "sql": "SELECT ds, COUNT(*) FROM t GROUP BY ds",
            "params": {},
            "duration_ms": 900.0,
            "rows": len(days),
        }
    )
    for c in range(checks):
        metric = f"{CHECK_TYPES[c % len(CHECK_TYPES)]}(col_{c})"
        key = f"{metric} between 0 and 1000"
        fp = f"fp{t}-{c}"
        base = bases[c]
        for d in days:
            value = base * rnd.uniform(0.9, 1.1)
            failing = rnd.random() < 0.02 / checks * 3
            status = Status.FAIL if failing else Status.PASS
            v = 5000.0 if failing else value
            run.outcomes.append(
                Outcome(
                    table,
                    d,
                    key,
                    metric.split("(")[0],
                    metric,
                    fp,
                    status,
                    v,
                    f"{v:.1f} ok",
                    "between 0 and 1000",
                    f"checks/{table}.yaml:{8 + c}:5",
                    judged=v,
                    band_low=0.0,
                    band_high=1000.0,
                )
            )
            run.metric_values.append(MetricValue(table, d, metric, fp, v))
    return run


def timed(client: Any, url: str, n: int) -> tuple[float, float]:
    client.get(url)  # warm: templates compiled, connection pool open
    times = []
    for _ in range(n):
        t = time.perf_counter()
        resp = client.get(url)
        times.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, (url, resp.status_code)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.95) - 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stores", default="sqlite,postgres")
    ap.add_argument("--tables", type=int, default=500)
    ap.add_argument("--partitions", type=int, default=365)
    ap.add_argument("--checks", type=int, default=15)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--keep", default=str(HERE / "results"))
    ap.add_argument("--daily", action="store_true", help="one run per partition (else one backfill run per table)")
    args = ap.parse_args()
    size = f"{args.tables}x{args.partitions}x{args.checks}" + ("-daily" if args.daily else "")
    results = []
    for kind in args.stores.split(","):
        if kind == "sqlite":
            path = Path(args.keep) / f"web-store-{size}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            url = f"sqlite:///{path}"
            fresh = not path.exists()
        else:
            server = (
                os.environ.get("QUINTO_TEST_PG_URL")
                or subprocess.run(
                    [str(HERE.parent / "scripts" / "pg.sh"), "start"], capture_output=True, text=True, check=True
                ).stdout.strip()
            )
            name = f"quinto_web_bench_{size.replace('x', '_').replace('-', '_')}"
            admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
            with admin.connect() as conn:
                fresh = not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
                if fresh:
                    conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            url = sa.engine.make_url(server).set(database=name).render_as_string(hide_password=False)
        store = Store(url, on_save=(record_alerts,))  # as a workspace opens it
        if fresh:
            print(f"filling the {kind} store: {size} (tables x partitions x checks)", flush=True)
            fill(store, args.tables, args.partitions, args.checks, daily=args.daily)
        with store.engine.connect() as conn:
            n = conn.execute(sa.text("SELECT count(*) FROM outcomes")).scalar_one()
        store.close()
        app = create_app({"QUINTO_STORE": url})
        client = app.test_client()
        fail = client.get("/api/failing?limit=1").get_json()["partitions"][0]
        mid = f"dw.table_{args.tables // 2:03d}"
        pages = [
            ("overview", "/"),
            ("table (90 partitions)", f"/tables/{mid}"),
            ("table (365 partitions)", f"/tables/{mid}?last=365"),
            ("partition", f"/tables/{fail['table']}/partitions/{fail['partition']}"),
            (
                f"check ({min(args.partitions, CHECK_HISTORY)} partitions)",
                f"/tables/{mid}/checks/row_count(col_0) between 0 and 1000",
            ),
            ("failing", "/failing"),
            ("runs", "/runs"),
            ("api: tables", "/api/tables"),
            ("api: metric history", f"/api/tables/{mid}/metrics/row_count(col_0)/history"),
        ]
        if args.partitions > 365:
            pages.append(
                (
                    f"api: metric history ({args.partitions})",
                    f"/api/tables/{mid}/metrics/row_count(col_0)/history?last={args.partitions}",
                )
            )
        for label, page in pages:
            med, p95 = timed(client, page, args.requests)
            results.append((kind, n, label, med, p95))
            print(f"{kind:9} {n:>9,} outcomes  {label:24} median {med:7.1f} ms  p95 {p95:7.1f} ms", flush=True)
    print("\n| store | outcomes | page | median ms | p95 ms |\n|---|---:|---|---:|---:|")
    for kind, n, label, med, p95 in results:
        print(f"| {kind} | {n:,} | {label} | {med:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
