"""The results store: the only code that writes results. SQLite by default, PostgreSQL in production.

Results are keyed by (table, partition, check); a newer run supersedes older outcomes of the same
partitions (`current` flag) while older runs stay in history. When the store cannot be written the
run is spooled (`quinto.spool`, written by `quinto.record`) and replayed by the next run.

`Store.save_run` is the one unit of work that writes a run; what it reads back comes from its
repositories (`runs`, `results`, `marks`, `snoozes`, `outbox`, `incidents`) as frozen records
(`quinto.store.records`). Save hooks (`on_save`) write more rows in the run's transaction: the
alerts (`quinto.alerts.record`), whose policy the store does not know.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from quinto.evaluate import Status, worst
from quinto.failpoints import crash_point
from quinto.results import Run, jsonable
from quinto.store.alerts import AlertRows, Outbox, Snoozes
from quinto.store.common import chunks, utcnow
from quinto.store.db import HEAD_REVISION, MIGRATIONS, Database
from quinto.store.incidents import Incidents, Judged, track
from quinto.store.marks import Marks
from quinto.store.queue import PENDING, ClaimLost, QueueMixin
from quinto.store.records import FAILING
from quinto.store.results import Results, sort_key
from quinto.store.runs import Runs
from quinto.store.schema import metric_values, outcomes, partition_status, runs, statements, table_status
from quinto.store.sensors import SensorMixin

#: the overview counts failing partitions among this many latest ones
RECENT_PARTITIONS = 30


@dataclass(frozen=True)
class Saving:
    """A run being saved, as a save hook sees it: inside the transaction that writes it, before
    the outcomes it replaces are superseded. `fresh`: the partitions it judged that no newer run
    has judged. `alerts`: the alert tables in that transaction (`quinto.alerts.record` decides
    which alert rows to write; the store writes them)."""

    run: Run
    run_id: int
    fresh: list[str]
    now: dt.datetime
    conn: sa.Connection
    alerts: AlertRows
    #: (partition, check) → the incident that partition fails in, or stopped failing in, after this run
    incidents: dict[tuple[str, str], int] = field(default_factory=dict)


#: called by `Store.save_run` in the run's transaction; what it writes commits with the run
SaveHook = Callable[[Saving], object]


class Store(QueueMixin, SensorMixin):
    """The results store. Its repositories: `runs` (the run log and statements), `results`
    (outcomes, partitions, tables, metric history), `marks`, `snoozes`, `outbox` and `incidents`
    (kept up to date by `save_run`, `quinto.store.incidents`); the queue
    methods (`quinto.store.queue`) are its own. `save_run` is the one unit of work writing a run."""

    def __init__(self, url: str, on_save: Sequence[SaveHook] = ()) -> None:
        self.db = Database(url)
        self.url, self.where, self.engine = url, self.db.where, self.db.engine
        self.on_save = tuple(on_save)
        self.runs = Runs(self.db)
        self.marks = Marks(self.db)
        self.results = Results(self.db, self.marks)
        self.snoozes = Snoozes(self.db)
        self.outbox = Outbox(self.db)
        self.incidents = Incidents(self.db)

    @classmethod
    def open(cls, url: str, on_save: Sequence[SaveHook] = ()) -> Store:
        """A store whose schema is brought up to date now (a store made with `Store(url)` is
        migrated on its first connection instead, so that one that is down can still spool)."""
        store = cls(url, on_save)
        store.migrate()
        return store

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent: once per store)."""
        self.db.migrate()

    def close(self) -> None:
        self.engine.dispose()

    # -- writing ---------------------------------------------------------------------------------
    def save_run(self, run: Run, claimed_by: str | None = None) -> int:
        """Write a run with its outcomes, values and statements in one transaction.

        A run whose `id` names a QUEUED or RUNNING row (a queued audit) completes that row; with
        `claimed_by`, only while that scheduler still holds it (else ClaimLost). A run whose id
        names a row that is already complete (a spooled run replayed late) is written as a new run.
        The store's save hooks (`on_save`, e.g. the alerts) run in the same transaction.
        A run whose `key` is stored already is not written again (its id is returned): saving is
        idempotent, so a replayed spool file or a retried write never stores a run twice."""
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
        with self.db.write() as conn:
            # writers of one table (schedulers, concurrent audits, a replayed spool file) save one at
            # a time, so each sees the runs the other made current before it supersedes, alerts and
            # updates the read models (SQLite has a single writer anyway)
            self.db.lock(conn, "save", run.table)
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
            # the hooks (alert states and the outbox) write here, before the outcomes they compare
            # with are superseded, and in this transaction: no outcome without its alert
            # the incidents move first, so that the alerts can link to them and hold an acknowledged
            # one's reminders back
            fresh_set = set(fresh)
            outcome_of = {
                (o.partition, o.check): Judged(str(o.status), o.value, o.judged, int(run_id))
                for o in run.outcomes
                if o.partition in fresh_set
            }
            found = track(conn, run.table, outcome_of, now)
            saving = Saving(run, int(run_id), fresh, now, conn, AlertRows(conn, run.table), found)
            for hook in self.on_save:
                hook(saving)
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
                            **{k: s.get(k) for k in ("rows_scanned", "bytes_scanned", "cpu_ms", "peak_memory_bytes")},
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
                failing_recent=sum(1 for r in recent if r.status in FAILING),
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


__all__ = [
    "HEAD_REVISION",
    "MIGRATIONS",
    "RECENT_PARTITIONS",
    "ClaimLost",
    "SaveHook",
    "Saving",
    "Store",
    "sort_key",
]
