"""The audit queue is the `runs` table: a requested audit is a run row in status QUEUED from the
moment it is asked for (so its id can be handed out at once), RUNNING while a scheduler holds it,
and PASS / WARN / FAIL / ERROR once `Store.save_run` completes it.

Claims are row locks: on PostgreSQL `SELECT ... FOR UPDATE SKIP LOCKED`, so schedulers sharing a
store never take the same row; a RUNNING row whose heartbeat is stale (its scheduler died) is
claimed again. Enqueueing is serialized per (table, partition) with an advisory lock on PostgreSQL
and by SQLite's single writer, so one partition is never queued twice. Scheduler state (the last
cron firing of each table), sensor turns, the shared rate limit and the check files' problems are
in `quinto.store.sensors`: a restarted scheduler carries on from the store alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from quinto.errors import StoreError, exit_code_of, verdict_of
from quinto.results import jsonable
from quinto.store.common import aware, chunks, utcnow
from quinto.store.records import RunRecord, RunStatus, record
from quinto.store.schema import outcomes, runs

QUEUED = RunStatus.QUEUED
RUNNING = RunStatus.RUNNING
PENDING = (QUEUED, RUNNING)
DONE = tuple(s for s in RunStatus if s not in PENDING)


@dataclass
class Group:
    """A table's partitions to audit together (oldest first), as a sensor found them."""

    table: str
    connection: str
    partition_column: str | None
    partitions: list[str]
    fingerprint: str | None = None


class ClaimLost(StoreError):
    """Another scheduler took over a run this one was running (its heartbeat went stale)."""


def lock_key(*parts: str) -> int:
    """A signed 64-bit key for pg_advisory_xact_lock, from text."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class QueueMixin:
    """Queue, claims and scheduler state; mixed into `Store`."""

    engine: sa.Engine

    def migrate(self) -> None:  # pragma: no cover - provided by Store
        raise NotImplementedError

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def _lock(self, conn: sa.Connection, *parts: str) -> None:
        """Serialize a transaction with others about the same thing (PostgreSQL; SQLite has one writer)."""
        if self.is_postgres:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(*parts)})

    def _begin(self) -> Any:
        """A write transaction; on SQLite it takes the write lock at once (BEGIN IMMEDIATE), so a
        read-then-write is never interleaved with another process's."""
        if self.is_postgres:
            return self.engine.begin()
        return _ImmediateSQLite(self.engine)

    # -- the queue ---------------------------------------------------------------------------------
    def enqueue(
        self,
        table: str,
        connection: str,
        partition_column: str | None,
        partition: str,
        *,
        fingerprint: str | None = None,
        force: bool = False,
        trigger: str = "http",
        requested_by: str | None = None,
        now: dt.datetime | None = None,
    ) -> tuple[int, bool]:
        """Queue an audit of one partition (`*` for a whole table); returns (run id, created). A
        QUEUED or RUNNING run of the same table and partition is reused instead (a forced request
        makes a queued one forced)."""
        self.migrate()
        now = now or utcnow()
        r = runs.c
        with self._begin() as conn:
            self._lock(conn, "enqueue", table, partition)
            pending = conn.execute(
                sa.select(r.id, r.force, r.status)
                .where(r.table_name == table, r.partition_value == partition, r.status.in_(PENDING))
                .order_by(r.id)
            ).all()
            queued = [p for p in pending if p.status == QUEUED]
            if queued:  # not started yet: it will read the partition as it is now
                if force and not queued[0].force:
                    conn.execute(runs.update().where(r.id == queued[0].id).values(force=True))
                return int(queued[0].id), False
            # an audit that already started may have read the partition before the ETL job rewrote
            # it: a request from the ETL job (HTTP) or a person (web), or a forced one, never joins it
            if pending and not force and trigger not in ("http", "web"):
                return int(pending[0].id), False
            run_id = conn.execute(
                runs.insert().values(
                    table_name=table,
                    connection=connection,
                    partition_column=partition_column,
                    partitions=json.dumps([partition]),
                    partition_value=partition,
                    suite_fingerprint=fingerprint,
                    status=QUEUED,
                    started_at=now,
                    statement_count=0,
                    trigger=trigger,
                    requested_at=now,
                    requested_by=requested_by,
                    force=force,
                    attempts=0,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return int(run_id), True

    def claim(
        self,
        worker: str,
        capacity: Mapping[str, int],
        limit_per_connection: int,
        stale_before: dt.datetime,
        now: dt.datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Take queued runs (and RUNNING ones whose heartbeat is older than `stale_before`) for
        `worker`: per connection at most `capacity[connection]` (this worker's free slots) and never
        more than `limit_per_connection` running at once across all workers. Oldest first; each
        claim counts as an attempt. Returns the claimed rows."""
        self.migrate()
        now = now or utcnow()
        r = runs.c
        claimed: list[dict[str, Any]] = []
        other = runs.alias("other")
        busy = (  # the same partition is being audited: a forced rerun waits for that audit to end
            sa.select(other.c.id)
            .where(
                other.c.table_name == r.table_name,
                other.c.partition_value == r.partition_value,
                other.c.status == RUNNING,
                other.c.heartbeat_at >= stale_before,
                other.c.id != r.id,
            )
            .exists()
        )
        ready = sa.or_(
            sa.and_(r.status == QUEUED, sa.or_(r.not_before.is_(None), r.not_before <= now), ~busy),
            sa.and_(r.status == RUNNING, sa.or_(r.heartbeat_at.is_(None), r.heartbeat_at < stale_before)),
        )
        # PostgreSQL: one statement (SQLite, in process and a single writer, reads back what an
        # UPDATE FROM changed, so it keeps the read-then-update)
        one_statement = self.is_postgres
        for connection, free in sorted(capacity.items()):
            if free <= 0:
                continue
            with self._begin() as conn:
                self._lock(conn, "claim", connection)  # counting running audits needs one claimer at a time
                if one_statement:
                    claimed += self._claim_returning(
                        conn, worker, connection, ready, free, limit_per_connection, stale_before, now
                    )
                    continue
                running = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(runs)
                    .where(r.connection == connection, r.status == RUNNING, r.heartbeat_at >= stale_before)
                ).scalar_one()
                room = min(free, limit_per_connection - int(running))
                if room <= 0:
                    continue
                q = sa.select(runs).where(r.connection == connection, ready).order_by(r.id).limit(room)
                if self.is_postgres:
                    q = q.with_for_update(skip_locked=True)
                rows = [dict(row._mapping) for row in conn.execute(q)]
                for row in rows:
                    conn.execute(
                        runs.update()
                        .where(r.id == row["id"])
                        .values(
                            status=RUNNING,
                            claimed_by=worker,
                            heartbeat_at=now,
                            attempts=r.attempts + 1,
                        )
                    )
                    row["reclaimed_from"] = row["claimed_by"] if row["status"] == RUNNING else None
                    row["attempts"] = int(row["attempts"]) + 1
                    row["status"] = RUNNING
                    row["claimed_by"] = worker
                    claimed.append(row)
        return claimed

    def _claim_returning(
        self,
        conn: sa.Connection,
        worker: str,
        connection: str,
        ready: Any,
        free: int,
        limit_per_connection: int,
        stale_before: dt.datetime,
        now: dt.datetime,
    ) -> list[dict[str, Any]]:
        """The claim in one statement: UPDATE the oldest ready rows, as many as there is room for
        (this worker's free slots, and the limit less the audits running on the connection, counted
        by the same statement, after the claim lock), RETURNING them with who held them before."""
        r = runs.c
        running = (
            sa.select(sa.func.count())
            .select_from(runs)
            .where(r.connection == connection, r.status == RUNNING, r.heartbeat_at >= stale_before)
            .correlate(None)
            .scalar_subquery()
        )
        greatest, least = (sa.func.greatest, sa.func.least) if self.is_postgres else (sa.func.max, sa.func.min)
        room = greatest(0, least(free, limit_per_connection - running))
        picked = sa.select(r.id, r.status, r.claimed_by).where(r.connection == connection, ready).order_by(r.id)
        picked = picked.limit(room)
        if self.is_postgres:
            picked = picked.with_for_update(skip_locked=True)
        old = picked.subquery("old")
        stmt = (
            runs.update()
            .where(r.id == old.c.id)
            .values(status=RUNNING, claimed_by=worker, heartbeat_at=now, attempts=r.attempts + 1)
            .returning(*runs.c, old.c.status.label("was_status"), old.c.claimed_by.label("was_claimed_by"))
        )
        claimed = []
        for row in conn.execute(stmt):
            got = dict(row._mapping)
            was_status, was = got.pop("was_status"), got.pop("was_claimed_by")
            got["reclaimed_from"] = was if was_status == RUNNING else None
            claimed.append(got)
        return sorted(claimed, key=lambda row: int(row["id"]))

    def heartbeat(self, worker: str, run_ids: Iterable[int], now: dt.datetime | None = None) -> set[int]:
        """Mark `worker`'s running runs alive; returns the ids it still holds."""
        ids = sorted(set(run_ids))
        if not ids:
            return set()
        r = runs.c
        mine = sa.and_(r.id.in_(ids), r.claimed_by == worker, r.status == RUNNING)
        beat = runs.update().where(mine).values(heartbeat_at=now or utcnow())
        with self.engine.begin() as conn:
            if self.engine.dialect.update_returning:  # one statement
                return {int(i) for (i,) in conn.execute(beat.returning(r.id))}
            conn.execute(beat)
            return {int(i) for (i,) in conn.execute(sa.select(r.id).where(mine))}

    def retry_later(self, run_id: int, worker: str, not_before: dt.datetime, error: str) -> bool:
        """Put a run `worker` holds back in the queue until `not_before` (a retry after ERROR)."""
        r = runs.c
        with self.engine.begin() as conn:
            done = conn.execute(
                runs.update()
                .where(r.id == run_id, r.claimed_by == worker, r.status == RUNNING)
                .values(status=QUEUED, claimed_by=None, heartbeat_at=None, not_before=not_before, error=error)
            ).rowcount
        return done == 1

    def release(self, worker: str) -> int:
        """Give back every run `worker` holds (a scheduler stopping); they are claimed again."""
        r = runs.c
        with self.engine.begin() as conn:
            return int(
                conn.execute(
                    runs.update()
                    .where(r.claimed_by == worker, r.status == RUNNING)
                    .values(status=QUEUED, claimed_by=None, heartbeat_at=None, attempts=r.attempts - 1)
                ).rowcount
            )

    def forget(self, run_id: int, worker: str) -> bool:
        """Drop a queued run `worker` holds that turned out not to be needed (a sensor or cron
        request for a partition audited meanwhile with the same checks); nothing ran, nothing is lost."""
        r = runs.c
        with self.engine.begin() as conn:
            done = conn.execute(
                runs.delete().where(r.id == run_id, r.claimed_by == worker, r.status == RUNNING)
            ).rowcount
        return done == 1

    def finish_without_outcomes(
        self, run_id: int, worker: str | None, error: str, exit_code: int, now: dt.datetime | None = None
    ) -> bool:
        """Complete a queued run as ERROR when no audit could be made (bad checks, too many attempts)."""
        r = runs.c
        where = [r.id == run_id, r.status.in_(PENDING)]
        if worker is not None:
            where.append(r.claimed_by == worker)
        with self.engine.begin() as conn:
            done = conn.execute(
                runs.update()
                .where(*where)
                .values(
                    status=RunStatus.ERROR.value,
                    error=error,
                    exit_code=exit_code,
                    finished_at=now or utcnow(),
                    claimed_by=None,
                    heartbeat_at=None,
                )
            ).rowcount
        return done == 1

    def newest_queued(self) -> int:
        """The highest id of a QUEUED run, 0 when none: a scheduler looks between its rounds whether
        an audit was asked for since it last looked (one read on ix_runs_status)."""
        self.migrate()
        with self.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(runs.c.id)).where(runs.c.status == QUEUED)).scalar()
        return int(newest or 0)

    def run_result(self, run_id: int) -> dict[str, Any] | None:
        """One run as plain JSON-ready data: status QUEUED / RUNNING / PASS / WARN / FAIL / ERROR,
        verdict "publish" / "do not publish" (None while pending), exit_code, and its outcomes."""
        self.migrate()
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
            if row is None:
                return None
            outs = [
                dict(o._mapping)
                for o in conn.execute(sa.select(outcomes).where(outcomes.c.run_id == run_id).order_by(outcomes.c.id))
            ]
        m = row._mapping
        status = str(m["status"])
        code = exit_code_of(status, m["exit_code"])
        return {
            "run_id": int(m["id"]),
            "table": m["table_name"],
            "partitions": json.loads(m["partitions"]),
            "status": status,
            "verdict": verdict_of(code),
            "exit_code": code,
            "trigger": m["trigger"],
            "force": bool(m["force"]),
            "requested_at": jsonable(aware(m["requested_at"])),
            "requested_by": m["requested_by"],
            "started_at": jsonable(aware(m["started_at"])) if status not in PENDING else None,
            "finished_at": jsonable(aware(m["finished_at"])),
            "attempts": int(m["attempts"]),
            "not_before": jsonable(aware(m["not_before"])) if status == QUEUED else None,
            "claimed_by": m["claimed_by"],
            "error": m["error"],
            "statement_count": int(m["statement_count"]),
            "outcomes": [
                {
                    "partition": o["partition_value"],
                    "check": o["check_key"],
                    "check_type": o["check_type"],
                    "status": o["status"],
                    "value": o["value"],
                    "threshold": o["threshold"],
                    "message": o["message"],
                    "source": o["source"],
                    "band_low": o["band_low"],
                    "band_high": o["band_high"],
                }
                for o in outs
            ],
        }

    def pending_runs(self, limit: int = 100) -> list[RunRecord]:
        """QUEUED and RUNNING runs, oldest first (for the UI)."""
        self.migrate()
        q = sa.select(runs).where(runs.c.status.in_(PENDING)).order_by(runs.c.id).limit(limit)
        with self.engine.connect() as conn:
            return [record(RunRecord, r._mapping) for r in conn.execute(q)]

    def audited(self, table: str, partitions: Iterable[str]) -> dict[str, set[str | None]]:
        """For each given partition that was ever audited: the check-definition fingerprints it was
        audited with (current outcomes, and runs that completed without outcomes)."""
        self.migrate()
        parts = sorted(set(partitions))
        found: dict[str, set[str | None]] = {}
        if not parts:
            return found
        o, r = outcomes.c, runs.c
        with self.engine.connect() as conn:
            for chunk in chunks(parts):
                q1 = (
                    sa.select(o.partition_value, o.suite_fingerprint)
                    .distinct()
                    .where(o.table_name == table, o.current.is_(True), o.partition_value.in_(chunk))
                )
                q2 = (
                    sa.select(r.partition_value, r.suite_fingerprint)
                    .distinct()
                    .where(r.table_name == table, r.partition_value.in_(chunk), r.status.in_(DONE))
                )
                for part, fp in conn.execute(sa.union(q1, q2)):  # one statement
                    found.setdefault(part, set()).add(fp)
        return found

    def enqueue_group(
        self,
        table: str,
        connection: str,
        partition_column: str | None,
        partitions: list[str],
        *,
        fingerprint: str | None = None,
        trigger: str = "sensor",
        requested_by: str | None = None,
        now: dt.datetime | None = None,
    ) -> tuple[int | None, list[str]]:
        """Queue one audit of several partitions of a table (a sensor's new partitions: one claim,
        one scan), leaving out those a queued or running audit already covers; a sensor's audit of
        the table still waiting in the queue takes them in instead (one run, however far behind
        the queue is). Returns (run id or None, the partitions queued); `partitions` oldest first."""
        group = Group(table, connection, partition_column, partitions, fingerprint)
        return self.enqueue_groups([group], trigger=trigger, requested_by=requested_by, now=now)[table]

    def enqueue_groups(
        self,
        groups: Sequence[Group],
        *,
        trigger: str = "sensor",
        requested_by: str | None = None,
        now: dt.datetime | None = None,
    ) -> dict[str, tuple[int | None, list[str]]]:
        """`enqueue_group` for the tables of one sensor listing, in one transaction: by table."""
        self.migrate()
        now = now or utcnow()
        r = runs.c
        out: dict[str, tuple[int | None, list[str]]] = {}
        with self._begin() as conn:
            if self.is_postgres:  # the same locks as `enqueue`, taken in one order by every caller
                keys = sorted({lock_key("enqueue", g.table, p) for g in groups for p in g.partitions})
                lock_all = sa.text("SELECT pg_advisory_xact_lock(k) FROM unnest(CAST(:ks AS bigint[])) AS k")
                conn.execute(lock_all, {"ks": keys}).all()
            covered: dict[str, set[str]] = {}
            waiting: dict[str, tuple[int, list[str]]] = {}
            for chunk in chunks(sorted({g.table for g in groups}), 500):
                for row in conn.execute(
                    sa.select(r.id, r.table_name, r.partitions, r.partition_value, r.status, r.trigger, r.force)
                    .add_columns(r.not_before)
                    .where(r.table_name.in_(chunk), r.status.in_(PENDING))
                    .order_by(r.id)
                ):
                    listed = json.loads(row.partitions) if row.partitions else [row.partition_value]
                    covered.setdefault(row.table_name, set()).update(listed)
                    if row.status == QUEUED and row.trigger == trigger and not row.force and row.not_before is None:
                        waiting[row.table_name] = (int(row.id), listed)
            for g in groups:
                todo = [p for p in g.partitions if p not in covered.get(g.table, set())]
                out[g.table] = (
                    self._queue_group(conn, g, todo, waiting.get(g.table), trigger, requested_by, now),
                    todo,
                )
        return {t: (rid, todo if rid is not None else []) for t, (rid, todo) in out.items()}

    def _queue_group(
        self,
        conn: sa.Connection,
        g: Group,
        todo: list[str],
        waiting: tuple[int, list[str]] | None,
        trigger: str,
        requested_by: str | None,
        now: dt.datetime,
    ) -> int | None:
        r = runs.c
        if not todo:
            return None
        if waiting is not None:  # locks: `claim` takes the row in its own transaction, after ours
            rid, listed = waiting
            merged = listed + todo
            done = conn.execute(
                runs.update()
                .where(r.id == rid, r.status == QUEUED)
                .values(partitions=json.dumps(merged), partition_value=merged[-1])
            ).rowcount
            if done == 1:
                return rid
        run_id = conn.execute(
            runs.insert().values(
                table_name=g.table,
                connection=g.connection,
                partition_column=g.partition_column,
                partitions=json.dumps(todo),
                partition_value=todo[-1],
                suite_fingerprint=g.fingerprint,
                status=QUEUED,
                started_at=now,
                statement_count=0,
                trigger=trigger,
                requested_at=now,
                requested_by=requested_by,
                force=False,
                attempts=0,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        return int(run_id)

    def audited_many(self, wanted: Mapping[str, Iterable[str]]) -> dict[str, dict[str, set[str | None]]]:
        """`audited` for many tables in two statements per 500 tables: table → partition → fingerprints."""
        self.migrate()
        found: dict[str, dict[str, set[str | None]]] = {}
        o, r = outcomes.c, runs.c
        with self.engine.connect() as conn:
            for tables in chunks(sorted(t for t, ps in wanted.items() if ps), 500):
                parts = sorted({p for t in tables for p in wanted[t]})
                q1 = (
                    sa.select(o.table_name, o.partition_value, o.suite_fingerprint)
                    .distinct()
                    .where(o.table_name.in_(tables), o.current.is_(True), o.partition_value.in_(parts))
                )
                q2 = (
                    sa.select(r.table_name, r.partition_value, r.suite_fingerprint)
                    .distinct()
                    .where(r.table_name.in_(tables), r.partition_value.in_(parts), r.status.in_(DONE))
                )
                for q in (q1, q2):
                    for table, part, fp in conn.execute(q):
                        found.setdefault(table, {}).setdefault(part, set()).add(fp)
        return found


class _ImmediateSQLite:
    """`with` block: a SQLite transaction that holds the write lock from its first statement."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def __enter__(self) -> sa.Connection:
        self.conn = self.engine.connect()
        self.conn.exec_driver_sql("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        try:
            self.conn.exec_driver_sql("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.conn.close()
