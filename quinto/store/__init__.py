"""The results store: the only code that writes results. SQLite by default, PostgreSQL in production.

Results are keyed by (table, partition, check); a newer run supersedes older outcomes of the same
partitions (`current` flag) while older runs stay in history. When the store cannot be written the
run is spooled (`quinto.spool`, written by `quinto.record`) and replayed by the next run.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from quinto.baseline import Point
from quinto.errors import StoreError
from quinto.evaluate import Status, worst
from quinto.failpoints import crash_point
from quinto.results import Run, jsonable
from quinto.store.alerts import AlertTables
from quinto.store.common import chunks, utcnow
from quinto.store.queue import PENDING, ClaimLost, QueueMixin
from quinto.store.schema import (
    metric_values,
    outcomes,
    partition_marks,
    partition_status,
    runs,
    statements,
    table_status,
)

MIGRATIONS = str(Path(__file__).parent / "migrations")
#: the newest migration; `migrate()` runs Alembic only when the store is not there yet.
HEAD_REVISION = "0007"
#: the overview counts failing partitions among this many latest ones
RECENT_PARTITIONS = 30


def sort_key(partition: str) -> str:
    """How partitions sort in the store: integers by value (9 before 10), everything else as text
    (ISO dates and times sort correctly as text)."""
    if re.fullmatch(r"-?\d{1,19}", partition):
        n = int(partition)
        return ("0" if n < 0 else "1") + f"{n + 10**19 if n < 0 else n:020d}"
    return "2" + partition


class Store(QueueMixin, AlertTables):
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
                self._lock(conn, "quinto-migrate")  # processes starting together migrate one at a time
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"cannot open the store ({self.where}): {str(exc.orig).splitlines()[0]}") from None
        self._migrated = True

    def close(self) -> None:
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------------------
    def save_run(self, run: Run, claimed_by: str | None = None) -> int:
        """Write a run with its outcomes, values and statements in one transaction.

        A run whose `id` names a QUEUED or RUNNING row (a queued audit) completes that row; with
        `claimed_by`, only while that scheduler still holds it (else ClaimLost). A run whose id
        names a row that is already complete (a spooled run replayed late) is written as a new run.
        A run whose `key` is stored already is not written again (its id is returned): saving is
        idempotent, so a replayed spool file or a retried write never stores a run twice."""
        self.migrate()
        now = run.finished_at or utcnow()
        values = {
            "table_name": run.table,
            "connection": run.connection,
            "partition_column": run.partition_column,
            "partitions": json.dumps(run.partitions),
            "partition_value": run.partitions[0] if len(run.partitions) == 1 else None,
            "suite_fingerprint": run.fingerprint,
            "status": str(run.status),
            "started_at": run.started_at,
            "finished_at": run.finished_at,
            "statement_count": len(run.statements),
            "trigger": run.trigger,
            "error": run.error,
            "exit_code": run.verdict_code,
            "claimed_by": None,
            "heartbeat_at": None,
            "not_before": None,
            "run_key": run.key,
        }
        with self._begin() as conn:
            # writers of one table (schedulers, concurrent audits, a replayed spool file) save one at
            # a time, so each sees the runs the other made current before it supersedes, alerts and
            # updates the read models (SQLite has a single writer anyway)
            self._lock(conn, "save", run.table)
            stored = conn.execute(sa.select(runs.c.id).where(runs.c.run_key == run.key)).scalar()
            if stored is not None:
                run.id = int(stored)
                return run.id
            run_id = None
            if run.id is not None:
                pending = runs.c.status.in_(PENDING)
                where = [runs.c.id == run.id, pending]
                if claimed_by is not None:
                    where.append(runs.c.claimed_by == claimed_by)
                if conn.execute(runs.update().where(*where).values(**values)).rowcount == 1:
                    run_id = run.id
                elif claimed_by is not None:
                    raise ClaimLost(f"run {run.id} is no longer held by {claimed_by}")
            if run_id is None:
                values.pop("claimed_by"), values.pop("heartbeat_at"), values.pop("not_before")
                run_id = conn.execute(runs.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
            judged = sorted({o.partition for o in run.outcomes})
            newer = self._partitions_with_newer_runs(conn, run, judged)
            fresh = [p for p in judged if p not in newer]
            # alert states advance and the outbox is written here, before the outcomes they compare
            # with are superseded, and in this transaction: no outcome without its alert
            self._record_alerts(conn, run, int(run_id), fresh, now)
            for chunk in chunks(fresh, 500):
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
                            "suite_fingerprint": run.fingerprint,
                            "fault": o.fault,
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
            self._refresh_status(conn, run, int(run_id), fresh, now)
            crash_point("save_before_commit")
        run.id = int(run_id)
        return run.id

    def _refresh_status(self, conn: sa.Connection, run: Run, run_id: int, fresh: list[str], now: dt.datetime) -> None:
        """Keep the read models in step with the outcomes this run made current."""
        if not fresh:
            return
        by_part: dict[str, list[Status]] = {}
        for o in run.outcomes:
            if o.partition in fresh:
                by_part.setdefault(o.partition, []).append(o.status)
        ps = partition_status.c
        for chunk in chunks(fresh, 500):
            conn.execute(partition_status.delete().where(ps.table_name == run.table, ps.partition_value.in_(chunk)))
        conn.execute(
            partition_status.insert(),
            [
                {
                    "table_name": run.table,
                    "partition_value": p,
                    "sort_key": sort_key(p),
                    "status": str(worst(st)),
                    "checks": len(st),
                    "failed": st.count(Status.FAIL),
                    "warned": st.count(Status.WARN),
                    "errored": st.count(Status.ERROR),
                    "run_id": run_id,
                    "audited_at": now,
                }
                for p, st in by_part.items()
            ],
        )
        recent = conn.execute(
            sa.select(ps.partition_value, ps.status)
            .where(ps.table_name == run.table)
            .order_by(ps.sort_key.desc())
            .limit(RECENT_PARTITIONS)
        ).all()
        count = conn.execute(sa.select(sa.func.count()).where(ps.table_name == run.table)).scalar_one()
        conn.execute(table_status.delete().where(table_status.c.table_name == run.table))
        conn.execute(
            table_status.insert().values(
                table_name=run.table,
                connection=run.connection,
                partition_column=run.partition_column,
                latest_partition=recent[0].partition_value,
                status=recent[0].status,
                failing_recent=sum(1 for r in recent if r.status in ("FAIL", "ERROR")),
                partitions=count,
                last_run_id=run_id,
                last_run_at=now,
            )
        )

    def _partitions_with_newer_runs(self, conn: sa.Connection, run: Run, partitions: list[str]) -> set[str]:
        """Partitions already judged by a run that started after this one (a replayed spool file)."""
        found: set[str] = set()
        for chunk in chunks(partitions, 500):
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

    # -- reading ---------------------------------------------------------------------------------
    def history(
        self,
        table: str,
        fingerprints: Iterable[str],
        before: str | None,
        exclude: Iterable[str] = (),
        limit: int = 400,
        integer: bool = False,
    ) -> dict[str, list[Point]]:
        """Current metric values of the partitions before `before` (and not in `exclude`), oldest
        first, by fingerprint, as the baseline model reads them (`quinto.baseline`): partitions
        marked bad are left out; each point says which checks FAILed there and whether it is marked
        good. Three queries for all the checks of a table, whatever their number."""
        self.migrate()
        fps = sorted(set(fingerprints))
        if not fps:
            return {}
        mv, o = metric_values.c, outcomes.c
        marks = self.marks(table)
        bad = [p for p, m in marks.items() if m == "bad"]
        q = (
            sa.select(mv.fingerprint, mv.partition_value, mv.value)
            .where(
                mv.table_name == table,
                mv.current.is_(True),
                mv.fingerprint.in_(fps),
                mv.partition_value < before if before is not None else sa.true(),
                mv.partition_value.not_in(bad) if bad else sa.true(),
            )
            # integer partitions: the newest are the longest numbers (as text "999" > "1099")
            .order_by(*([sa.func.length(mv.partition_value).desc()] if integer else []), mv.partition_value.desc())
            .limit(limit * len(fps))
        )
        failed_q = sa.select(o.fingerprint, o.partition_value, o.check_key).where(
            o.table_name == table,
            o.current.is_(True),
            o.status == str(Status.FAIL),
            o.fingerprint.in_(fps),
            o.partition_value < before if before is not None else sa.true(),
        )
        skip = set(exclude)
        out: dict[str, list[Point]] = {fp: [] for fp in fps}
        with self.engine.connect() as conn:
            failed: dict[tuple[str, str], set[str]] = {}
            for fp, part, key in conn.execute(failed_q):
                failed.setdefault((fp, part), set()).add(key)
            for fp, part, value in conn.execute(q):
                if value is None or part in skip:
                    continue
                by = frozenset(failed.get((fp, part), ()))
                out[fp].append(Point(part, float(value), good=marks.get(part) == "good", failed_by=by))
        for points in out.values():
            points.reverse()
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
                    created_at=utcnow(),
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

    def recent_runs(
        self, limit: int = 50, table: str | None = None, status: str | None = None, before: int | None = None
    ) -> list[dict[str, Any]]:
        """Runs, newest first; `before` (a run id) pages back."""
        self.migrate()
        q = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if table is not None:
            q = q.where(runs.c.table_name == table)
        if status is not None:
            q = q.where(runs.c.status == status)
        if before is not None:
            q = q.where(runs.c.id < before)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def table_summaries(self) -> list[dict[str, Any]]:
        """Per table: latest audited partition, its status, failing partitions among the last 30."""
        self.migrate()
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(table_status).order_by(table_status.c.table_name))]

    def table_summary(self, table: str) -> dict[str, Any] | None:
        self.migrate()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(table_status).where(table_status.c.table_name == table)).first()
        return dict(row._mapping) if row else None

    def partitions(self, table: str, last: int | None = None) -> list[dict[str, Any]]:
        """A table's audited partitions with their status, newest first."""
        self.migrate()
        ps = partition_status.c
        q = sa.select(partition_status).where(ps.table_name == table).order_by(ps.sort_key.desc())
        if last is not None:
            q = q.limit(last)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def grid(self, table: str, partitions: Sequence[str]) -> list[tuple[Any, ...]]:
        """The current outcomes of some partitions, as (partition, check, status, value, judged,
        band_low, band_high) tuples in check order: the heatmap and the trends, nothing more."""
        self.migrate()
        o = outcomes.c
        cols = [o.partition_value, o.check_key, o.status, o.value, o.judged, o.band_low, o.band_high, o.id]
        rows: list[tuple[Any, ...]] = []
        with self.engine.connect() as conn:
            for chunk in chunks(list(partitions), 500):
                q = sa.select(*cols).where(o.table_name == table, o.partition_value.in_(chunk), o.current.is_(True))
                rows += [tuple(r) for r in conn.execute(q)]
        rows.sort(key=lambda r: r[-1])
        return [r[:-1] for r in rows]

    def checks_of(self, table: str, partition: str) -> list[dict[str, Any]]:
        """The checks judged on a partition with their type and where they are declared."""
        self.migrate()
        o = outcomes.c
        q = (
            sa.select(o.check_key, o.check_type, o.source)
            .where(o.table_name == table, o.partition_value == partition, o.current.is_(True))
            .order_by(o.id)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def failing_partitions(self, limit: int = 100, table: str | None = None) -> list[dict[str, Any]]:
        """Partitions whose current status is failing, most recently audited first, each with its
        failing outcomes."""
        self.migrate()
        ps, o = partition_status.c, outcomes.c
        q = sa.select(partition_status).where(ps.status.in_(["FAIL", "ERROR"]))
        if table is not None:
            q = q.where(ps.table_name == table)
        q = q.order_by(ps.audited_at.desc(), ps.table_name, ps.sort_key.desc()).limit(limit)
        with self.engine.connect() as conn:
            parts = [dict(r._mapping) for r in conn.execute(q)]
            by_key = {(p["table_name"], p["partition_value"]): p for p in parts}
            for p in parts:
                p["failures"] = []
            for tname in sorted({p["table_name"] for p in parts}):
                values = [p["partition_value"] for p in parts if p["table_name"] == tname]
                oq = (
                    sa.select(o.partition_value, o.check_key, o.status, o.value, o.judged, o.threshold, o.band_low)
                    .add_columns(o.band_high, o.message, o.source)
                    .where(o.table_name == tname, o.partition_value.in_(values), o.current.is_(True))
                    .where(o.status.in_(["FAIL", "ERROR", "WARN"]))
                    .order_by(o.id)
                )
                for r in conn.execute(oq):
                    by_key[(tname, r.partition_value)]["failures"].append(dict(r._mapping))
        return parts

    def partition_runs(self, table: str, partition: str) -> list[dict[str, Any]]:
        """Every run that judged this partition, newest first: its run log."""
        self.migrate()
        o = outcomes.c
        ids = sa.select(o.run_id).where(o.table_name == table, o.partition_value == partition).distinct()
        q = sa.select(runs).where(runs.c.id.in_(ids)).order_by(runs.c.id.desc())
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        self.migrate()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        return dict(row._mapping) if row else None

    def metric_history(self, table: str, metric: str, last: int | None = None) -> list[dict[str, Any]]:
        """A metric's current values per partition, oldest first (newest `last` of them)."""
        self.migrate()
        mv = metric_values.c
        q = sa.select(mv.partition_value, mv.value, mv.fingerprint, mv.run_id, mv.created_at).where(
            mv.table_name == table, mv.metric_key == metric, mv.current.is_(True)
        )
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
        rows.sort(key=lambda r: sort_key(r["partition_value"]))
        return rows[-last:] if last else rows

    def metrics(self, table: str) -> list[str]:
        self.migrate()
        mv = metric_values.c
        q = sa.select(mv.metric_key).where(mv.table_name == table, mv.current.is_(True)).distinct()
        with self.engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(q))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()

