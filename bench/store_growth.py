"""Benchmark: how fast the results store grows, with and without retention (`quinto store prune`).

A DuckDB warehouse with T tables of daily partitions (200 rows each; one day in 15 has missing
user ids, so a check FAILs and keeps failing-row samples), five checks per table (row count > 0,
a row-count anomaly band, row count change vs the previous partition, missing user ids, a mean
between bounds). Every table is audited day by day as the scheduler would (one run per table and
day, `quinto.audit`), and one partition in 20 is audited again (an ETL rerun: the new run supersedes
the old). Then the store is measured:

- **full**: everything the audits wrote, as a store without retention keeps it;
- **pruned**: after `prune(keep)` with every run past the horizon: what a store with `retention:`
  keeps of days older than `keep` (current outcomes and metric values, their runs' rows; no
  statements, no samples, no superseded runs).

Sizes are of the tables' data and indexes after VACUUM (SQLite: their pages, from `dbstat`;
PostgreSQL: `pg_total_relation_size` of every table after VACUUM FULL), less the empty schema's,
divided by table-days and scaled to 1,000 tables × 365 days. Growth per year with
`retention: {keep: K}` is the pruned rate once the store is older than K; the store then holds K
days at the full rate plus the rest at the pruned rate.

    python bench/store_growth.py [--tables 20] [--days 90] [--stores sqlite,postgres] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

CHECKS = """table: {table}
partition: ds
checks:
  - row_count > 0
  - row_count:
      anomaly: {{window: 28, sigma: 4}}
  - row_count change vs previous partition between -60% and +150%
  - missing_count(user_id) = 0
  - avg(amount) between 0 and 1000
"""
ROWS = 200
START = dt.date(2026, 1, 1)
TABLES = (
    "runs",
    "outcomes",
    "metric_values",
    "statements",
    "partition_status",
    "table_status",
    "alert_states",
    "alert_outbox",
)


def build_warehouse(path: Path, tables: int, days: int) -> str:
    import duckdb

    con = duckdb.connect(str(path))
    con.execute("CREATE SCHEMA IF NOT EXISTS dw")
    for t in range(tables):
        con.execute(f"DROP TABLE IF EXISTS dw.t{t:03d}")
        con.execute(
            f"CREATE TABLE dw.t{t:03d} AS SELECT i AS id, "
            f"CASE WHEN d % 15 = {t % 15} AND i < 3 THEN NULL ELSE i % 97 END AS user_id, "
            f"(i * 7 + d) % 500 AS amount, "
            f"strftime(DATE '{START}' + d::INTEGER, '%Y-%m-%d') AS ds "
            f"FROM range({days}) r(d), range({ROWS} + (d * 13 + {t}) % 40) s(i)"
        )
    con.close()
    return f"duckdb:///{path}"


def audit_history(root: Path, store_url: str, tables: int, days: int) -> dict[str, Any]:
    from quinto.app import audit
    from quinto.spec import load_project, load_suite

    (root / "checks").mkdir(exist_ok=True)
    for t in range(tables):
        (root / "checks" / f"t{t:03d}.yaml").write_text(CHECKS.format(table=f"dw.t{t:03d}"), encoding="utf-8")
    os.environ["GROWTH_STORE"] = store_url
    (root / "quinto.yaml").write_text(
        f"connections: {{warehouse: 'duckdb:///{root / 'warehouse.duckdb'}'}}\n"
        "store: '${GROWTH_STORE}'\nchecks: [checks]\nsample_rows: 20\n",
        encoding="utf-8",
    )
    project = load_project(root / "quinto.yaml")
    suite = load_suite(project)
    started = time.perf_counter()
    runs = reruns = 0
    for d in range(days):
        day = (START + dt.timedelta(days=d)).isoformat()
        for t in range(tables):
            audit(f"dw.t{t:03d}", day, project=project, suite=suite)
            runs += 1
            if (d * tables + t) % 20 == 7:  # an ETL rerun of this partition
                audit(f"dw.t{t:03d}", day, project=project, suite=suite)
                reruns += 1
    return {"runs": runs + reruns, "reruns": reruns, "audit_s": round(time.perf_counter() - started, 1)}


def measure(store_url: str) -> dict[str, Any]:
    """Bytes of every table (data and indexes) after a VACUUM, and row counts."""
    engine = sa.create_engine(store_url, poolclass=sa.NullPool)
    postgres = engine.dialect.name == "postgresql"
    out: dict[str, Any] = {"rows": {}, "bytes": {}}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        names = sa.inspect(conn).get_table_names()
        if postgres:
            for t in names:
                conn.execute(sa.text(f'VACUUM FULL "{t}"'))
                out["bytes"][t] = int(conn.execute(sa.text("SELECT pg_total_relation_size(:t)"), {"t": t}).scalar_one())
        else:
            conn.execute(sa.text("VACUUM"))
            page = int(conn.execute(sa.text("PRAGMA page_size")).scalar_one())
            rows = conn.execute(
                sa.text(
                    "SELECT m.tbl_name, sum(d.pgsize) FROM dbstat d JOIN sqlite_master m ON m.name = d.name "
                    "GROUP BY m.tbl_name"
                )
            ).all()
            out["bytes"] = {t: int(b) for t, b in rows if t in names}
            out["page_size"] = page
        for t in TABLES:
            out["rows"][t] = int(conn.execute(sa.text(f'SELECT count(*) FROM "{t}"')).scalar_one())
    engine.dispose()
    out["total"] = sum(out["bytes"].values())
    return out


def run_store(kind: str, pg_url: str | None, tables: int, days: int, keep_days: int) -> dict[str, Any]:
    from quinto.store import Store
    from quinto.store.retention import prune

    with tempfile.TemporaryDirectory(prefix="quinto-growth-") as tmp:
        root = Path(tmp)
        build_warehouse(root / "warehouse.duckdb", tables, days)
        admin = None
        name = f"growth_{uuid.uuid4().hex[:8]}"
        if kind == "postgres":
            assert pg_url, "--pg-url or QUINTO_TEST_PG_URL"
            admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            store_url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
        else:
            store_url = f"sqlite:///{root / 'store.db'}"
        try:
            Store.open(store_url).close()
            empty = measure(store_url)  # the schema alone: pages every table and index has anyway
            audited = audit_history(root, store_url, tables, days)
            full = measure(store_url)
            store = Store.open(store_url)
            later = dt.datetime.now(dt.UTC) + dt.timedelta(days=keep_days + 1)
            started = time.perf_counter()
            report = prune(store.engine, dt.timedelta(days=keep_days), now=later)
            prune_s = time.perf_counter() - started
            store.close()
            pruned = measure(store_url)
        finally:
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    return {
        "store": kind,
        "tables": tables,
        "days": days,
        **audited,
        "empty": empty,
        "full": full,
        "pruned": pruned,
        "prune_report": report.as_dict(),
        "prune_s": round(prune_s, 2),
    }


def per_year(result: dict[str, Any], keep_days: int) -> dict[str, float]:
    """MB per 1,000 tables: a year without retention; per year past the horizon with it; the store
    after one, two and five years with `retention: {keep: keep_days}`."""
    table_days = result["tables"] * result["days"]
    empty = result["empty"]["total"]
    full = (result["full"]["total"] - empty) / table_days  # bytes per table-day
    pruned = (result["pruned"]["total"] - empty) / table_days
    mb = 1000 / 1e6

    def size(years: float) -> float:
        age = years * 365
        return (min(age, keep_days) * full + max(0.0, age - keep_days) * pruned) * mb

    return {
        "full_bytes_per_table_day": round(full),
        "pruned_bytes_per_table_day": round(pruned),
        "no_retention_mb_per_year": round(full * 365 * mb),
        "pruned_mb_per_year": round(pruned * 365 * mb),
        "with_retention_after_1y_mb": round(size(1)),
        "with_retention_after_2y_mb": round(size(2)),
        "with_retention_after_5y_mb": round(size(5)),
        "no_retention_after_5y_mb": round(full * 365 * 5 * mb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=int, default=20)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--keep", type=int, default=400, help="retention.keep in days, for the projection")
    parser.add_argument("--pg-url", default=os.environ.get("QUINTO_TEST_PG_URL"))
    parser.add_argument("--json", dest="as_json", action="store_true")
    args = parser.parse_args()
    if "postgres" in args.stores and not args.pg_url:
        args.pg_url = subprocess.run(
            [str(ROOT / "scripts" / "pg.sh"), "start"], capture_output=True, text=True, check=True
        ).stdout.strip()
    results = []
    for kind in args.stores.split(","):
        r = run_store(kind, args.pg_url, args.tables, args.days, keep_days=1)
        r["per_1000_tables"] = per_year(r, args.keep)
        results.append(r)
        if not args.as_json:
            p = r["per_1000_tables"]
            print(
                f"{kind}: {r['runs']} runs ({r['reruns']} reruns) audited in {r['audit_s']} s; "
                f"full {r['full']['total'] / 1e6:.1f} MB, pruned {r['pruned']['total'] / 1e6:.1f} MB "
                f"(prune {r['prune_s']} s)"
            )
            print(
                f"  bytes per table-day: full {p['full_bytes_per_table_day']}, pruned {p['pruned_bytes_per_table_day']}"
            )
            print(
                f"  per 1,000 tables: {p['no_retention_mb_per_year']} MB/year without retention, "
                f"{p['pruned_mb_per_year']} MB/year past the horizon; keep {args.keep}d: "
                f"{p['with_retention_after_1y_mb']} / {p['with_retention_after_2y_mb']} / "
                f"{p['with_retention_after_5y_mb']} MB after 1 / 2 / 5 years "
                f"(without: {p['no_retention_after_5y_mb']} MB after 5)"
            )
            for part in ("full", "pruned"):
                top = sorted(r[part]["bytes"].items(), key=lambda kv: -kv[1])[:6]
                print(f"  {part}: " + ", ".join(f"{t} {b / 1e6:.2f} MB" for t, b in top))
                print(f"  {part} rows: " + ", ".join(f"{t} {n}" for t, n in r[part]["rows"].items() if n))
    if args.as_json:
        print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
