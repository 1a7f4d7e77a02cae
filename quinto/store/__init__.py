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
from typing import Any

import sqlalchemy as sa

from quinto.evaluate import Status, worst
from quinto.failpoints import crash_point
from quinto.results import Run, jsonable
from quinto.store.alerts import AlertRows, Outbox, Snoozes
from quinto.store.common import chunks, utc, utcnow
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
            run_id = None
            if run.id is not None:  # a queued run completes its row (the usual case: no read first)
                pending = runs.c.status.in_(PENDING)
                where = [runs.c.id == run.id, pending]
                if claimed_by is not None:
                    where.append(runs.c.claimed_by == claimed_by)
                if conn.execute(runs.update().where(*where).values(**values)).rowcount == 1:
                    run_id = run.id
            if run_id is None:
                # stored already (a retried write, a replayed spool file): not written again
                stored = conn.execute(sa.select(runs.c.id).where(runs.c.run_key == run.key)).scalar()
                if stored is not None:
                    run.id = int(stored)
                    return run.id
                if run.id is not None and claimed_by is not None:
                    raise ClaimLost(f"run {run.id} is no longer held by {claimed_by}")
                values.pop("claimed_by"), values.pop("heartbeat_at"), values.pop("not_before")
                run_id = conn.execute(runs.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
            judged = sorted({o.partition for o in run.outcomes})
            current = self._current_outcomes(conn, run.table, judged)
            newer = {p for p, _, _, _, started in current if started > utc(run.started_at)}
            fresh = [p for p in judged if p not in newer]
            # the hooks (alert states and the outbox) write here, before the outcomes they compare
            # with are superseded, and in this transaction: no outcome without its alert
            # the incidents move first, so that the alerts can link to them and hold an acknowledged
            # one's reminders back
            previous = {(p, c): (status, at) for p, c, status, at, _ in current}
            fresh_set = set(fresh)
            outcome_of = {
                (o.partition, o.check): Judged(str(o.status), o.value, o.judged, int(run_id))
                for o in run.outcomes
                if o.partition in fresh_set
            }
            found = track(conn, run.table, outcome_of, now)
            saving = Saving(run, int(run_id), fresh, now, conn, AlertRows(conn, run.table, previous), found)
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
            computed = sorted({(m.partition, m.fingerprint) for m in run.metric_values if m.partition not in newer})
            mv = metric_values.c
            for pairs in chunks(computed, 500):  # one statement for every partition's metrics
                conn.execute(
                    metric_values.update()
                    .where(
                        mv.table_name == run.table,
                        mv.partition_value.in_(sorted({p for p, _ in pairs})),
                        sa.tuple_(mv.partition_value, mv.fingerprint).in_(pairs),
                        mv.current.is_(True),
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
        """Keep the read models in step with the outcomes this run made current: on PostgreSQL and
        SQLite two statements (the partitions' rows upserted; the table's row upserted from them)."""
        if not fresh:
            return
        by_part: dict[str, list[Status]] = {}
        for o in run.outcomes:
            if o.partition in fresh:
                by_part.setdefault(o.partition, []).append(o.status)
        ps = partition_status.c
        rows = [
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
        ]
        upsert = _upsert_of(conn)
        if upsert is None:
            self._refresh_status_slowly(conn, run, run_id, fresh, rows, now)
            return
        if rows:
            stmt = upsert(partition_status)
            keep = ("table_name", "partition_value")
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=list(keep),
                    set_={c.name: stmt.excluded[c.name] for c in partition_status.c if c.name not in keep},
                ),
                rows,
            )
        mine = ps.table_name == run.table
        recent = (
            sa.select(ps.status).where(mine).order_by(ps.sort_key.desc()).limit(RECENT_PARTITIONS).subquery("recent")
        )
        failing = sa.select(sa.func.count()).select_from(recent).where(recent.c.status.in_(FAILING)).scalar_subquery()
        count = sa.select(sa.func.count()).select_from(partition_status).where(mine).scalar_subquery()
        latest = (
            sa.select(ps.partition_value, ps.status)
            .where(mine)
            .order_by(ps.sort_key.desc())
            .limit(1)
            .subquery("latest")
        )
        source = sa.select(
            sa.literal(run.table, sa.String),
            sa.literal(run.connection, sa.String),
            sa.literal(run.partition_column, sa.String),
            latest.c.partition_value,
            latest.c.status,
            failing,
            count,
            sa.literal(run_id, sa.Integer),
            sa.literal(now, sa.DateTime(timezone=True)),
        ).where(sa.true())  # SQLite: an upsert's SELECT needs a WHERE
        columns = [
            "table_name",
            "connection",
            "partition_column",
            "latest_partition",
            "status",
            "failing_recent",
            "partitions",
            "last_run_id",
            "last_run_at",
        ]
        stmt = upsert(table_status).from_select(columns, source)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["table_name"], set_={c: stmt.excluded[c] for c in columns if c != "table_name"}
            )
        )

    def _refresh_status_slowly(
        self,
        conn: sa.Connection,
        run: Run,
        run_id: int,
        fresh: list[str],
        rows: list[dict[str, object]],
        now: dt.datetime,
    ) -> None:
        """`_refresh_status` on a database without upserts: delete and insert, read and write."""
        ps = partition_status.c
        for chunk in chunks(fresh, 500):
            conn.execute(partition_status.delete().where(ps.table_name == run.table, ps.partition_value.in_(chunk)))
        if rows:
            conn.execute(partition_status.insert(), rows)
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

    def _current_outcomes(
        self, conn: sa.Connection, table: str, partitions: list[str]
    ) -> list[tuple[str, str, str, dt.datetime, dt.datetime]]:
        """The current outcomes of `partitions` (one statement per 500): (partition, check, status,
        when, when its run started). A partition judged by a run that started after the one being
        saved (a replayed spool file) keeps them; the alert policy compares with them."""
        o = outcomes.c
        found = []
        for chunk in chunks(partitions, 500):
            q = (
                sa.select(o.partition_value, o.check_key, o.status, o.created_at, runs.c.started_at)
                .join(runs, runs.c.id == o.run_id)
                .where(o.table_name == table, o.partition_value.in_(chunk), o.current.is_(True))
            )
            found += [(p, c, st, utc(at), utc(started)) for p, c, st, at, started in conn.execute(q)]
        return found


def _upsert_of(conn: sa.Connection) -> Callable[[sa.Table], Any] | None:
    """The INSERT with ON CONFLICT of the store's database, if it has one."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    return None


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
