"""The results store: the only code that writes results. SQLite by default, PostgreSQL in production.

Results are keyed by (table, partition, check); a newer run supersedes older outcomes of the same
partitions (`current` flag) while older runs stay in history. When the store cannot be written the
run is spooled to a JSON file that the next run replays, so computed results are never lost.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from quinto.errors import StoreError
from quinto.evaluate import Status
from quinto.results import Run, jsonable
from quinto.store.alerts import AlertTables
from quinto.store.schema import metric_values, outcomes, partition_marks, runs, statements

MIGRATIONS = str(Path(__file__).parent / "migrations")
#: the newest migration; `migrate()` runs Alembic only when the store is not there yet.
HEAD_REVISION = "0004"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Store(AlertTables):
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            u = make_url(url)
        except Exception:
            raise StoreError(f"store: not a database URL: {url.split('@')[-1]!r}") from None
        self.where = f"{u.get_backend_name()} at {u.host or u.database or 'memory'}"
        args: dict[str, Any] = {}
        if u.get_backend_name() == "sqlite":
            args = {"connect_args": {"timeout": 30}}
            if u.database and u.database != ":memory:":
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = sa.create_engine(url, **args)
        except Exception as exc:
            raise StoreError(f"store ({self.where}): {str(exc).splitlines()[0]}") from None
        if u.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._migrated = False

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent)."""
        if self._migrated:
            return
        try:
            with self.engine.connect() as conn:
                at = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            if at == HEAD_REVISION:
                self._migrated = True
                return
        except sa.exc.DBAPIError:
            pass  # a new store, or one that cannot be reached: Alembic will say which
        from alembic import command  # imported here: most runs find the store up to date
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", MIGRATIONS)
        try:
            with self.engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"cannot open the store ({self.where}): {str(exc.orig).splitlines()[0]}") from None
        self._migrated = True

    def close(self) -> None:
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------------------
    def save_run(self, run: Run) -> int:
        """Write a run with its outcomes, values and statements in one transaction."""
        self.migrate()
        now = run.finished_at or _now()
        with self.engine.begin() as conn:
            run_id = conn.execute(
                runs.insert().values(
                    table_name=run.table,
                    connection=run.connection,
                    partition_column=run.partition_column,
                    partitions=json.dumps(run.partitions),
                    status=str(run.status),
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    statement_count=len(run.statements),
                    trigger=run.trigger,
                    error=run.error,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            judged = sorted({o.partition for o in run.outcomes})
            newer = self._partitions_with_newer_runs(conn, run, judged)
            fresh = [p for p in judged if p not in newer]
            # alert states advance and the outbox is written here, before the outcomes they compare
            # with are superseded, and in this transaction: no outcome without its alert
            self._record_alerts(conn, run, int(run_id), fresh, now)
            for chunk in _chunks(fresh, 500):
                conn.execute(
                    outcomes.update()
                    .where(
                        outcomes.c.table_name == run.table,
                        outcomes.c.partition_value.in_(chunk),
                        outcomes.c.current.is_(True),
                    )
                    .values(current=False)
                )
            # a value is superseded only by a new value of the same metric: a run that could not
            # compute a partition (ERROR) leaves that partition's history as it was
            computed = {(m.partition, m.fingerprint) for m in run.metric_values if m.partition not in newer}
            for part in sorted({p for p, _ in computed}):
                fps = sorted(fp for p, fp in computed if p == part)
                conn.execute(
                    metric_values.update()
                    .where(
                        metric_values.c.table_name == run.table,
                        metric_values.c.partition_value == part,
                        metric_values.c.fingerprint.in_(fps),
                        metric_values.c.current.is_(True),
                    )
                    .values(current=False)
                )
            if run.outcomes:
                conn.execute(
                    outcomes.insert(),
                    [
                        {
                            "run_id": run_id,
                            "table_name": o.table,
                            "partition_value": o.partition,
                            "check_key": o.check,
                            "check_type": o.check_type,
                            "metric_key": o.metric,
                            "fingerprint": o.fingerprint,
                            "status": str(o.status),
                            "value": o.value,
                            "judged": o.judged,
                            "threshold": o.threshold,
                            "band_low": o.band_low,
                            "band_high": o.band_high,
                            "message": o.message,
                            "source": o.source,
                            "samples": json.dumps(o.samples, default=jsonable) if o.samples is not None else None,
                            "current": o.partition not in newer,
                            "created_at": now,
                        }
                        for o in run.outcomes
                    ],
                )
            if run.metric_values:
                conn.execute(
                    metric_values.insert(),
                    [
                        {
                            "run_id": run_id,
                            "table_name": m.table,
                            "partition_value": m.partition,
                            "metric_key": m.metric,
                            "fingerprint": m.fingerprint,
                            "value": m.value,
                            "current": m.partition not in newer,
                            "created_at": now,
                        }
                        for m in run.metric_values
                    ],
                )
            if run.statements:
                conn.execute(
                    statements.insert(),
                    [
                        {
                            "run_id": run_id,
                            "seq": i,
                            "purpose": s["purpose"],
                            "sql": s["sql"],
                            "params": json.dumps(s["params"], default=jsonable),
                            "duration_ms": s["duration_ms"],
                            "rows": s["rows"],
                            "error": s.get("error"),
                        }
                        for i, s in enumerate(run.statements)
                    ],
                )
        run.id = int(run_id)
        return run.id

    def _partitions_with_newer_runs(self, conn: sa.Connection, run: Run, partitions: list[str]) -> set[str]:
        """Partitions already judged by a run that started after this one (a replayed spool file)."""
        found: set[str] = set()
        for chunk in _chunks(partitions, 500):
            q = (
                sa.select(outcomes.c.partition_value)
                .distinct()
                .join(runs, runs.c.id == outcomes.c.run_id)
                .where(
                    outcomes.c.table_name == run.table,
                    outcomes.c.partition_value.in_(chunk),
                    outcomes.c.current.is_(True),
                    runs.c.started_at > run.started_at,
                )
            )
            found.update(r[0] for r in conn.execute(q))
        return found

    def save_or_spool(self, run: Run, spool_dir: str | Path, attempts: int = 3) -> int:
        """save_run with retries; if the store stays down, write the run to the spool and raise."""
        delay = 0.2
        for attempt in range(attempts):
            try:
                return self.save_run(run)
            except Exception as exc:  # noqa: BLE001 - whatever the store did, the results must survive
                last = str(getattr(exc, "orig", None) or exc).splitlines()[0] or type(exc).__name__
                if attempt + 1 < attempts:
                    time.sleep(delay)
                    delay *= 2
        try:
            path = spool(run, spool_dir)
        except OSError as exc:
            raise StoreError(
                f"cannot write to the store ({self.where}): {last}; and cannot spool the run to {spool_dir}: "
                f"{exc.strerror}; its outcomes are printed above"
            ) from None
        raise StoreError(
            f"cannot write to the store ({self.where}): {last}; results kept in {path} and written by the next run"
        )

    def replay_spool(self, spool_dir: str | Path) -> list[int]:
        """Write spooled runs (oldest first) and delete their files; returns the new run ids."""
        ids = []
        for f in sorted(Path(spool_dir).glob("run-*.json")):
            claimed = f.with_suffix(".replaying")
            try:
                f.rename(claimed)  # atomic: a concurrent audit replaying the same spool skips this file
            except OSError:
                continue
            try:
                run = Run.from_json(claimed.read_text(encoding="utf-8"))
            except (ValueError, KeyError, TypeError):
                failed = Path(spool_dir) / "unreadable"
                failed.mkdir(exist_ok=True)
                claimed.rename(failed / f.name)
                continue
            try:
                ids.append(self.save_run(run))
            except Exception:
                claimed.rename(f)  # still down: keep it for the next run
                raise
            claimed.unlink()
        return ids

    # -- reading ---------------------------------------------------------------------------------
    def history(
        self,
        table: str,
        fingerprints: Iterable[str],
        before: str | None,
        exclude: Iterable[str] = (),
        limit: int = 400,
    ) -> dict[str, list[tuple[str, float]]]:
        """Current metric values of good partitions before `before` (and not in `exclude`), by
        fingerprint; ONE query for all the checks of a table. A partition is good when it is marked
        good, or when it is not marked bad and none of its current outcomes is FAIL."""
        self.migrate()
        fps = sorted(set(fingerprints))
        if not fps:
            return {}
        mv, o, pm = metric_values.c, outcomes.c, partition_marks.c
        failed = sa.select(o.partition_value).where(
            o.table_name == table, o.current.is_(True), o.status == str(Status.FAIL)
        )
        marked = sa.select(pm.partition_value).where(pm.table_name == table, pm.current.is_(True))
        marked_good = marked.where(pm.mark == "good")
        marked_bad = marked.where(pm.mark == "bad")
        q = (
            sa.select(mv.fingerprint, mv.partition_value, mv.value)
            .where(
                mv.table_name == table,
                mv.current.is_(True),
                mv.fingerprint.in_(fps),
                mv.partition_value < before if before is not None else sa.true(),
                mv.partition_value.not_in(marked_bad),
                sa.or_(mv.partition_value.in_(marked_good), mv.partition_value.not_in(failed)),
            )
            .order_by(mv.partition_value.desc())
            .limit(limit * len(fps))
        )
        skip = set(exclude)
        out: dict[str, list[tuple[str, float]]] = {fp: [] for fp in fps}
        with self.engine.connect() as conn:
            for fp, part, value in conn.execute(q):
                if value is not None and part not in skip:
                    out[fp].append((part, value))
        return out

    def mark(self, table: str, partition: str, mark: str, reason: str | None = None, by: str | None = None) -> None:
        """Mark a partition good (it joins baselines even after a failure) or bad (it never does)."""
        if mark not in ("good", "bad"):
            raise ValueError(f"a mark is 'good' or 'bad', not {mark!r}")
        self.migrate()
        pm = partition_marks.c
        with self.engine.begin() as conn:
            conn.execute(
                partition_marks.update()
                .where(pm.table_name == table, pm.partition_value == partition, pm.current.is_(True))
                .values(current=False)
            )
            conn.execute(
                partition_marks.insert().values(
                    table_name=table,
                    partition_value=partition,
                    mark=mark,
                    reason=reason,
                    marked_by=by,
                    current=True,
                    created_at=_now(),
                )
            )

    def marks(self, table: str, partitions: Iterable[str] | None = None) -> dict[str, str]:
        """Current marks of a table's partitions: partition → "good" | "bad"."""
        self.migrate()
        pm = partition_marks.c
        q = sa.select(pm.partition_value, pm.mark).where(pm.table_name == table, pm.current.is_(True))
        if partitions is not None:
            q = q.where(pm.partition_value.in_(list(partitions)))
        with self.engine.connect() as conn:
            return {p: m for p, m in conn.execute(q)}

    def current_outcomes(self, table: str | None = None, partition: str | None = None) -> list[dict[str, Any]]:
        self.migrate()
        q = sa.select(outcomes).where(outcomes.c.current.is_(True))
        if table is not None:
            q = q.where(outcomes.c.table_name == table)
        if partition is not None:
            q = q.where(outcomes.c.partition_value == partition)
        q = q.order_by(outcomes.c.table_name, outcomes.c.partition_value, outcomes.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def outcomes_of_run(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = sa.select(outcomes).where(outcomes.c.run_id == run_id).order_by(outcomes.c.id)
            return [dict(r._mapping) for r in conn.execute(q)]

    def statements_of_run(self, run_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = sa.select(statements).where(statements.c.run_id == run_id).order_by(statements.c.seq)
            return [dict(r._mapping) for r in conn.execute(q)]

    def recent_runs(self, limit: int = 50, table: str | None = None) -> list[dict[str, Any]]:
        self.migrate()
        q = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if table is not None:
            q = q.where(runs.c.table_name == table)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def table_summaries(self) -> list[dict[str, Any]]:
        """Per table: latest audited partition, its status, and failing partitions among the last 30."""
        self.migrate()
        cur = outcomes.c
        latest = (
            sa.select(cur.table_name, sa.func.max(cur.partition_value).label("latest"))
            .where(cur.current.is_(True))
            .group_by(cur.table_name)
            .subquery()
        )
        per_part = (
            sa.select(
                cur.table_name,
                cur.partition_value,
                sa.func.max(
                    sa.case((cur.status == "FAIL", 2), (cur.status == "ERROR", 3), (cur.status == "WARN", 1), else_=0)
                ).label("rank"),
            )
            .where(cur.current.is_(True))
            .group_by(cur.table_name, cur.partition_value)
        )
        names = {0: "PASS", 1: "WARN", 2: "FAIL", 3: "ERROR"}
        out: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as conn:
            latest_rows = {r.table_name: r.latest for r in conn.execute(sa.select(latest))}
            parts: dict[str, list[tuple[str, int]]] = {}
            for r in conn.execute(per_part):
                parts.setdefault(r.table_name, []).append((r.partition_value, r.rank))
        for table, latest_p in sorted(latest_rows.items()):
            ps = sorted(parts.get(table, []))[-30:]
            status = names[dict(ps).get(latest_p, 0)]
            out[table] = {
                "table": table,
                "latest_partition": latest_p,
                "status": status,
                "failing_partitions": sum(1 for _, rank in ps if rank >= 2),
                "partitions": [(p, names[rank]) for p, rank in ps],
            }
        return list(out.values())


def _chunks(items: Sequence[str], n: int) -> Iterable[list[str]]:
    for i in range(0, len(items), n):
        yield list(items[i : i + n])


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


def spool(run: Run, spool_dir: str | Path) -> Path:
    d = Path(spool_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"run-{run.started_at.strftime('%Y%m%dT%H%M%S%f')}-{uuid.uuid4().hex[:8]}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(run.to_json(), encoding="utf-8")
    tmp.replace(path)
    return path
