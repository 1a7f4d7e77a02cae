"""Partition marks: a partition marked good joins baselines even after a failure; one marked bad never does."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from quinto.store.common import utc, utcnow
from quinto.store.db import Database
from quinto.store.records import RESOLUTION_MARK, IncidentState, MarkKind, MarkRecord, record
from quinto.store.schema import incident_partitions, incidents, partition_marks


class Marks:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set(self, table: str, partition: str, mark: str, reason: str | None = None, by: str | None = None) -> list[int]:
        """Mark a partition good or bad (a later mark replaces it). An incident whose failing
        partitions all carry this mark now is resolved by it, as `quinto resolve` would (good:
        expected, bad: defect); returns the ids of the incidents it resolved."""
        if mark not in tuple(MarkKind):
            raise ValueError(f"a mark is 'good' or 'bad', not {mark!r}")
        with self.db.write() as conn:
            write_mark(conn, table, partition, mark, reason, by)
            return resolve_marked(conn, table, partition, MarkKind(mark), reason, by)

    def of(self, table: str, partitions: Iterable[str] | None = None) -> dict[str, str]:
        """Current marks of a table's partitions: partition → MarkKind.GOOD or MarkKind.BAD."""
        pm = partition_marks.c
        q = _current(sa.select(pm.partition_value, pm.mark), table, partitions)
        with self.db.connect() as conn:
            return {p: MarkKind(m) for p, m in conn.execute(q)}

    def details(self, table: str, partitions: Iterable[str] | None = None) -> dict[str, MarkRecord]:
        """Current marks of a table's partitions with who set them, when and why: partition → mark."""
        with self.db.connect() as conn:
            return read_marks(conn, table, partitions)


def _current(q: sa.Select[Any], table: str, partitions: Iterable[str] | None) -> sa.Select[Any]:
    """`q` narrowed to the current marks of `table` (of `partitions` when given)."""
    pm = partition_marks.c
    q = q.where(pm.table_name == table, pm.current.is_(True))
    return q if partitions is None else q.where(pm.partition_value.in_(list(partitions)))


def read_marks(conn: sa.Connection, table: str, partitions: Iterable[str] | None = None) -> dict[str, MarkRecord]:
    q = _current(sa.select(partition_marks), table, partitions)
    return {
        r.partition_value: record(MarkRecord, r._mapping, kind=r.mark, by=r.marked_by, at=r.created_at)
        for r in conn.execute(q)
    }


def write_mark(
    conn: sa.Connection, table: str, partition: str, mark: str, reason: str | None = None, by: str | None = None
) -> None:
    """Mark a partition in a transaction that is already open (a later mark replaces it)."""
    pm = partition_marks.c
    conn.execute(
        partition_marks.update()
        .where(pm.table_name == table, pm.partition_value == partition, pm.current.is_(True))
        .values(current=False)
    )
    conn.execute(
        partition_marks.insert().values(
            table_name=table,
            partition_value=partition,
            mark=MarkKind(mark).value,
            reason=reason,
            marked_by=by,
            current=True,
            created_at=utcnow(),
        )
    )


def resolve_marked(
    conn: sa.Connection,
    table: str,
    partition: str,
    mark: MarkKind,
    reason: str | None,
    by: str | None,
    now: dt.datetime | None = None,
) -> list[int]:
    """Resolve the unresolved incidents holding `partition` whose failing partitions all carry
    `mark` now (just written): marking an incident's every failing partition is what resolving it
    does (good: expected, bad: defect). Returns their ids."""
    ic, ip = incidents.c, incident_partitions.c
    mine = sa.and_(ip.table_name == table, ip.partition_value == partition, ip.failing.is_(True))
    held = sa.select(ip.incident_id).where(mine)
    unresolved = sa.select(ic.id).where(ic.id.in_(held), ic.state != IncidentState.RESOLVED.value)
    ids = conn.execute(unresolved.order_by(ic.id).with_for_update()).scalars().all()
    done: list[int] = []
    resolution = next(r for r, k in RESOLUTION_MARK.items() if k == mark)
    now = utc(now or utcnow())
    for incident_id in ids:
        parts = set(
            conn.execute(
                sa.select(ip.partition_value).where(ip.incident_id == incident_id, ip.failing.is_(True))
            ).scalars()
        )
        marks = read_marks(conn, table, sorted(parts))
        if any(m.kind != mark for m in marks.values()) or set(marks) != parts:
            continue
        conn.execute(
            incidents.update()
            .where(ic.id == incident_id)
            .values(
                state=IncidentState.RESOLVED.value,
                resolution=resolution.value,
                resolved_at=now,
                resolved_by=by,
                resolve_reason=reason or f"its partitions were marked {mark.value}",
                updated_at=now,
            )
        )
        done.append(int(incident_id))
    return done
