"""Incidents: the consecutive failures of one check of a table, by partition order, as one thing a
person can acknowledge and resolve.

The rules (kept by `track`, in the transaction that saves a run, and by `backfill` for a store's
history when the incidents were first stored):
- a FAIL on a partition joins the incident of the same (table, check) that has a failing partition
  with no PASS or WARN between the two (by partition order), else it opens a new incident;
- an incident is open until a later partition passes (PASS or WARN), then it is closed; a FAIL
  after that PASS opens a new incident;
- ERROR and LEARNING neither open nor close an incident (an erring partition says nothing about
  the data): they are skipped when deciding what is consecutive;
- a rerun of a partition that an incident holds updates that incident (its value), never opens a
  second one; a rerun that passes takes the partition out of it (the incident closes when none of
  its partitions fails any more). A PASS between two failing partitions of one incident does not
  split it;
- a resolved incident is final: its partitions stay in it, a later failure opens a new incident.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from quinto.errors import UsageError
from quinto.evaluate import Status
from quinto.store.common import chunks, utc, utcnow
from quinto.store.db import Database
from quinto.store.marks import read_marks, write_mark
from quinto.store.records import (
    RESOLUTION_MARK,
    IncidentPartition,
    IncidentRecord,
    IncidentState,
    Resolution,
    record,
)
from quinto.store.results import sort_key
from quinto.store.schema import incident_partitions, incidents, outcomes, partition_status

OPEN, CLOSED, RESOLVED = IncidentState.OPEN, IncidentState.CLOSED, IncidentState.RESOLVED
PASSING = (Status.PASS, Status.WARN)


class IncidentNotFound(UsageError):
    """No incident has that id (exit 2; the API answers 404)."""


class IncidentConflict(UsageError):
    """The incident cannot take that action now, e.g. it is resolved already (exit 2; the API answers 409)."""


@dataclass(frozen=True)
class Judged:
    """A check's outcome on a partition, as the incidents read it."""

    status: str
    value: float | None
    judged: float | None
    run_id: int


@dataclass
class _Row:
    id: int | None
    incident_id: int
    partition: str
    sort_key: str
    failing: bool
    value: float | None
    judged: float | None
    run_id: int
    dirty: bool = False


@dataclass
class _Incident:
    id: int
    state: str
    first: tuple[str, str]  # (sort key, partition)
    last: tuple[str, str]
    failing: int
    last_value: float | None
    closed: tuple[str, str] | None
    closed_at: dt.datetime | None
    rows: list[_Row] = field(default_factory=list)


def track(
    conn: sa.Connection,
    table: str,
    judged: Mapping[tuple[str, str], Judged],
    now: dt.datetime,
) -> dict[tuple[str, str], int]:
    """Bring the incidents of `table` up to date with the outcomes a run is saving (`judged`:
    (partition, check) → outcome, the partitions no newer run has judged), before the outcomes they
    replace are superseded. Returns (partition, check) → the incident that partition fails in (or
    stopped failing in), for the alerts to link to."""
    if not judged:
        return {}
    by_check: dict[str, dict[str, Judged]] = {}
    for (partition, check), j in judged.items():
        by_check.setdefault(check, {})[partition] = j
    keys = [sort_key(p) for p, _ in judged]
    low, high = min(keys), max(keys)
    candidates = {c for c, parts in by_check.items() if any(j.status == Status.FAIL for j in parts.values())}
    ic = incidents.c
    rest = sorted(set(by_check) - candidates)
    for chunk in chunks(rest):
        span_end = sa.func.coalesce(ic.closed_sort_key, ic.last_sort_key)
        q = (
            sa.select(ic.check_key)
            .distinct()
            .where(ic.table_name == table, ic.check_key.in_(chunk), ic.state != RESOLVED.value)
            .where(sa.or_(ic.state == OPEN.value, sa.and_(ic.first_sort_key <= high, span_end >= low)))
        )
        candidates.update(r[0] for r in conn.execute(q))
    found: dict[tuple[str, str], int] = {}
    for check in sorted(candidates):
        stored = _stored_statuses(conn, table, check, set(by_check[check]))
        for partition, incident_id in _track_check(conn, table, check, by_check[check], stored, now).items():
            found[(partition, check)] = incident_id
    return found


def backfill(conn: sa.Connection, now: dt.datetime | None = None) -> int:
    """Incidents from the current outcomes of a store that had none (the migration that added
    them); returns how many were made."""
    now = now or utcnow()
    oc = outcomes.c
    pairs = conn.execute(
        sa.select(oc.table_name, oc.check_key)
        .distinct()
        .where(oc.current.is_(True), oc.status == Status.FAIL.value)
        .order_by(oc.table_name, oc.check_key)
    ).all()
    made = 0
    for table, check in pairs:
        q = sa.select(oc.partition_value, oc.status, oc.value, oc.judged, oc.run_id).where(
            oc.table_name == table, oc.check_key == check, oc.current.is_(True)
        )
        judged = {p: Judged(s, v, j, r) for p, s, v, j, r in conn.execute(q)}
        made += len(set(_track_check(conn, table, check, judged, {}, now).values()))
    return made


def _stored_statuses(conn: sa.Connection, table: str, check: str, skip: set[str]) -> dict[str, str]:
    """The check's current PASS, WARN and FAIL outcomes on the partitions the run does not judge,
    from the last passing partition before the run's first one on (what comes before it cannot
    change)."""
    oc, ps = outcomes.c, partition_status.c
    first = min(sort_key(p) for p in skip)
    joined = outcomes.join(
        partition_status, sa.and_(ps.table_name == oc.table_name, ps.partition_value == oc.partition_value)
    )
    base = (
        sa.select(oc.partition_value, oc.status)
        .select_from(joined)
        .where(oc.table_name == table, oc.check_key == check, oc.current.is_(True))
    )
    passing = [Status.PASS.value, Status.WARN.value]
    before = conn.execute(
        sa.select(ps.sort_key)
        .select_from(joined)
        .where(oc.table_name == table, oc.check_key == check, oc.current.is_(True), oc.status.in_(passing))
        .where(ps.sort_key < first)
        .order_by(ps.sort_key.desc())
        .limit(1)
    ).scalar()
    q = base.where(oc.status.in_([*passing, Status.FAIL.value]))
    if before is not None:
        q = q.where(ps.sort_key >= before)
    return {p: s for p, s in conn.execute(q) if p not in skip}


def _track_check(
    conn: sa.Connection,
    table: str,
    check: str,
    fresh: Mapping[str, Judged],
    stored: Mapping[str, str],
    now: dt.datetime,
) -> dict[str, int]:
    seq = dict(stored)
    for p, j in fresh.items():
        if j.status in (Status.PASS, Status.WARN, Status.FAIL):
            seq[p] = j.status
        else:
            seq.pop(p, None)
    passing = sorted(sort_key(p) for p, s in seq.items() if s != Status.FAIL)
    passing_at = {sort_key(p): p for p, s in seq.items() if s != Status.FAIL}
    # incidents ending before the last passing partition ahead of the run's partitions cannot change
    first = min(sort_key(p) for p in fresh)
    i = bisect.bisect_left(passing, first)
    known = _load(conn, table, check, passing[i - 1] if i > 0 else None)
    holder: dict[str, _Incident] = {}  # partition → the incident it fails in
    for x in known.values():
        holder.update({r.partition: x for r in x.rows if r.failing})
    found: dict[str, int] = {}
    touched: set[int] = set()
    for p in sorted(fresh, key=sort_key):
        j = fresh[p]
        held = holder.get(p)
        if j.status == Status.FAIL:
            target = held or _join(conn, table, check, p, j, passing, known, holder, now)
            mine = next((r for r in target.rows if r.partition == p), None)
            if target.state != RESOLVED:
                if mine is None:
                    target.rows.append(_Row(None, target.id, p, sort_key(p), True, j.value, j.judged, j.run_id, True))
                else:
                    mine.failing, mine.value, mine.judged, mine.run_id = True, j.value, j.judged, j.run_id
                    mine.dirty = True
                holder[p] = target
                touched.add(target.id)
            found[p] = target.id
        elif j.status in PASSING and held is not None:
            found[p] = held.id
            if held.state != RESOLVED:
                was = next(r for r in held.rows if r.partition == p)
                was.failing, was.dirty = False, True
                del holder[p]
                touched.add(held.id)
    for inc in known.values():
        if inc.state == RESOLVED:
            continue
        before = _summary(inc)
        _settle(inc, passing, passing_at, now)
        if inc.id in touched or _summary(inc) != before:
            _save(conn, table, check, inc, now)
    return found


def _summary(inc: _Incident) -> tuple[Any, ...]:
    return (inc.state, inc.first, inc.last, inc.failing, inc.last_value, inc.closed, inc.closed_at)


def _join(
    conn: sa.Connection,
    table: str,
    check: str,
    p: str,
    j: Judged,
    passing: list[str],
    known: dict[int, _Incident],
    holder: dict[str, _Incident],
    now: dt.datetime,
) -> _Incident:
    """The incident a new failure of partition `p` belongs to: the one with a failing partition and
    no passing one between (several such are merged into the oldest), or a new one."""
    sk = sort_key(p)
    i = bisect.bisect_left(passing, sk)
    lo = passing[i - 1] if i > 0 else None
    hi = passing[i] if i < len(passing) else None

    def near(r: _Row) -> bool:
        return r.failing and (lo is None or r.sort_key > lo) and (hi is None or r.sort_key < hi)

    found = [x for x in known.values() if x.state != RESOLVED and any(near(r) for r in x.rows)]
    if not found:
        inc = _create(conn, table, check, p, sk, j, now)
        known[inc.id] = inc
        return inc
    inc = min(found, key=lambda x: x.id)
    for other in found:
        if other is not inc:  # p joins two incidents: they are one now
            _merge(conn, inc, other)
            del known[other.id]
            holder.update({r.partition: inc for r in other.rows if r.failing})
    return inc


def _merge(conn: sa.Connection, into: _Incident, other: _Incident) -> None:
    """Move `other`'s partitions (and its acknowledgement, when `into` has none) into `into`, and
    drop `other`."""
    ic, ip = incidents.c, incident_partitions.c
    have = {r.partition for r in into.rows}
    for r in other.rows:
        if r.partition in have:
            conn.execute(incident_partitions.delete().where(ip.id == r.id))
            continue
        conn.execute(incident_partitions.update().where(ip.id == r.id).values(incident_id=into.id))
        r.incident_id = into.id
        into.rows.append(r)
    ack = conn.execute(sa.select(ic.acked_at, ic.acked_by, ic.ack_note).where(ic.id == other.id)).first()
    if ack is not None and ack.acked_at is not None:
        target = incidents.update().where(ic.id == into.id, ic.acked_at.is_(None))
        conn.execute(target.values(acked_at=ack.acked_at, acked_by=ack.acked_by, ack_note=ack.ack_note))
    conn.execute(incidents.delete().where(ic.id == other.id))


def _load(conn: sa.Connection, table: str, check: str, after: str | None) -> dict[int, _Incident]:
    """The check's incidents, with their partitions, that are open or end after the partition
    whose sort key is `after` (None: all of them)."""
    ic, ip = incidents.c, incident_partitions.c
    known: dict[int, _Incident] = {}
    q = sa.select(incidents).where(ic.table_name == table, ic.check_key == check)
    if after is not None:
        ends = sa.func.coalesce(ic.closed_sort_key, ic.last_sort_key)
        q = q.where(sa.or_(ic.state == OPEN.value, ends >= after))
    for r in conn.execute(q.with_for_update()):
        closed = (r.closed_sort_key, r.closed_partition) if r.closed_partition is not None else None
        known[r.id] = _Incident(
            r.id,
            r.state,
            (r.first_sort_key, r.first_partition),
            (r.last_sort_key, r.last_partition),
            r.failing,
            r.last_value,
            closed,
            r.closed_at,
        )
    if not known:
        return known
    q2 = sa.select(incident_partitions).where(ip.table_name == table, ip.check_key == check)
    if after is not None:
        q2 = q2.where(ip.incident_id.in_(sorted(known)))
    for r in conn.execute(q2):
        inc = known.get(r.incident_id)
        if inc is not None:
            inc.rows.append(
                _Row(r.id, r.incident_id, r.partition_value, r.sort_key, r.failing, r.value, r.judged, r.run_id)
            )
    return known


def _create(conn: sa.Connection, table: str, check: str, p: str, sk: str, j: Judged, now: dt.datetime) -> _Incident:
    new_id = conn.execute(
        incidents.insert().values(
            table_name=table,
            check_key=check,
            state=OPEN.value,
            first_partition=p,
            first_sort_key=sk,
            last_partition=p,
            last_sort_key=sk,
            failing=1,
            last_value=j.judged if j.judged is not None else j.value,
            opened_at=now,
            updated_at=now,
        )
    ).inserted_primary_key[0]  # type: ignore[index]
    return _Incident(int(new_id), OPEN.value, (sk, p), (sk, p), 1, None, None, None)


def _settle(inc: _Incident, passing: list[str], passing_at: Mapping[str, str], now: dt.datetime) -> None:
    """An incident's partitions, latest value and state from its rows: open while no partition after
    its latest failing one passes."""
    failing = sorted((r for r in inc.rows if r.failing), key=lambda r: r.sort_key)
    inc.failing = len(failing)
    if failing:
        inc.first = (failing[0].sort_key, failing[0].partition)
        inc.last = (failing[-1].sort_key, failing[-1].partition)
        newest = failing[-1]
        inc.last_value = newest.judged if newest.judged is not None else newest.value
    if failing:
        i = bisect.bisect_right(passing, inc.last[0])
        if i == len(passing):
            inc.state, inc.closed, inc.closed_at = OPEN.value, None, None
            return
        closer = (passing[i], passing_at[passing[i]])
    else:  # none of its partitions fails any more: closed by the partition that passed last
        closer = inc.closed or next(((r.sort_key, r.partition) for r in reversed(inc.rows) if not r.failing), inc.last)
    if inc.state != CLOSED.value or inc.closed != closer:
        inc.closed_at = now if inc.state != CLOSED.value else inc.closed_at
        inc.state, inc.closed = CLOSED.value, closer


def _save(conn: sa.Connection, table: str, check: str, inc: _Incident, now: dt.datetime) -> None:
    ic, ip = incidents.c, incident_partitions.c
    values: dict[str, Any] = {
        "state": inc.state,
        "first_partition": inc.first[1],
        "first_sort_key": inc.first[0],
        "last_partition": inc.last[1],
        "last_sort_key": inc.last[0],
        "failing": inc.failing,
        "last_value": inc.last_value,
        "closed_partition": inc.closed[1] if inc.closed else None,
        "closed_sort_key": inc.closed[0] if inc.closed else None,
        "closed_at": inc.closed_at,
    }
    conn.execute(incidents.update().where(ic.id == inc.id).values(**values, updated_at=now))
    for r in inc.rows:
        if not r.dirty:
            continue
        row = {"failing": r.failing, "value": r.value, "judged": r.judged, "run_id": r.run_id, "updated_at": now}
        if r.id is None:
            key = {"incident_id": inc.id, "table_name": table, "check_key": check, "partition_value": r.partition}
            conn.execute(incident_partitions.insert().values(**key, sort_key=r.sort_key, **row))
        else:
            conn.execute(incident_partitions.update().where(ip.id == r.id).values(**row))


class Incidents:
    """Reading incidents, and what people do with them: acknowledge, resolve."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def find(
        self,
        *,
        table: str | None = None,
        tables: Iterable[str] | None = None,
        states: Iterable[str] = (OPEN,),
        limit: int = 500,
    ) -> list[IncidentRecord]:
        """Incidents in `states`, newest first (by their first failing partition); `tables`: only
        these tables (e.g. an owner's)."""
        ic = incidents.c
        q = sa.select(incidents).where(ic.state.in_([str(s) for s in states]))
        if table is not None:
            q = q.where(ic.table_name == table)
        if tables is not None:
            names = sorted(set(tables))
            if not names:
                return []
            q = q.where(ic.table_name.in_(names))
        q = q.order_by(ic.first_sort_key.desc(), ic.id.desc()).limit(limit)
        with self.db.connect() as conn:
            return [record(IncidentRecord, r._mapping) for r in conn.execute(q)]

    def get(self, incident_id: int) -> IncidentRecord | None:
        if not 0 < incident_id < 2**31:
            return None
        with self.db.connect() as conn:
            r = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
        return record(IncidentRecord, r._mapping) if r is not None else None

    def partitions(self, incident_id: int) -> list[IncidentPartition]:
        """The incident's partitions, newest first, with their marks."""
        ip = incident_partitions.c
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(incident_partitions).where(ip.incident_id == incident_id).order_by(ip.sort_key.desc())
            ).all()
            if not rows:
                return []
            marks = read_marks(conn, rows[0].table_name, [r.partition_value for r in rows])
        return [record(IncidentPartition, r._mapping, mark=marks.get(r.partition_value)) for r in rows]

    def of_partition(self, table: str, partition: str) -> list[IncidentRecord]:
        """The incidents a partition fails (or failed) in."""
        ip, ic = incident_partitions.c, incidents.c
        ids = sa.select(ip.incident_id).where(ip.table_name == table, ip.partition_value == partition)
        q = sa.select(incidents).where(ic.id.in_(ids)).order_by(ic.id.desc())
        with self.db.connect() as conn:
            return [record(IncidentRecord, r._mapping) for r in conn.execute(q)]

    def acknowledge(
        self, incident_id: int, by: str | None, note: str | None = None, now: dt.datetime | None = None
    ) -> IncidentRecord:
        """Someone is on it: its reminders stop (a recovery is still announced). Acknowledging
        again replaces who, when and the note."""
        now = utc(now or utcnow())
        with self.db.write() as conn:
            row = self._locked(conn, incident_id)
            if row.state == RESOLVED:
                raise IncidentConflict(f"incident {incident_id} is resolved already ({row.resolution})")
            conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id)
                .values(acked_at=now, acked_by=by, ack_note=note, updated_at=now)
            )
        found = self.get(incident_id)
        assert found is not None
        return found

    def resolve(
        self,
        incident_id: int,
        resolution: str,
        by: str | None,
        reason: str | None = None,
        now: dt.datetime | None = None,
    ) -> IncidentRecord:
        """Resolve it as expected (its failing partitions are marked good: the new normal) or as a
        defect (marked bad: kept out of baselines), in one transaction."""
        if resolution not in tuple(Resolution):
            raise UsageError(f"an incident is resolved as 'expected' or 'defect', not {resolution!r}")
        kind = RESOLUTION_MARK[Resolution(resolution)]
        now = utc(now or utcnow())
        ip = incident_partitions.c
        with self.db.write() as conn:
            row = self._locked(conn, incident_id)
            if row.state == RESOLVED:
                raise IncidentConflict(f"incident {incident_id} is resolved already ({row.resolution})")
            parts = conn.execute(
                sa.select(ip.partition_value).where(ip.incident_id == incident_id, ip.failing.is_(True))
            ).scalars()
            why = reason or f"incident {incident_id} resolved as {resolution}"
            for p in sorted(set(parts)):
                write_mark(conn, row.table_name, p, kind, why, by)
            conn.execute(
                incidents.update()
                .where(incidents.c.id == incident_id)
                .values(
                    state=RESOLVED.value,
                    resolution=resolution,
                    resolved_at=now,
                    resolved_by=by,
                    resolve_reason=reason,
                    updated_at=now,
                )
            )
        found = self.get(incident_id)
        assert found is not None
        return found

    @staticmethod
    def _locked(conn: sa.Connection, incident_id: int) -> Any:
        row = None
        if 0 < incident_id < 2**31:
            q = sa.select(incidents).where(incidents.c.id == incident_id).with_for_update()
            row = conn.execute(q).first()
        if row is None:
            raise IncidentNotFound(f"no incident {incident_id}")
        return row


__all__ = ["IncidentConflict", "IncidentNotFound", "Incidents", "Judged", "backfill", "track"]
