"""Partition marks: a partition marked good joins baselines even after a failure; one marked bad never does."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from quinto.store.common import utc, utcnow
from quinto.store.db import Database
from quinto.store.records import MarkKind, MarkRecord
from quinto.store.schema import partition_marks


class Marks:
    def __init__(self, db: Database) -> None:
        self.db = db

    def set(self, table: str, partition: str, mark: str, reason: str | None = None, by: str | None = None) -> None:
        """Mark a partition good or bad (a later mark replaces it)."""
        if mark not in tuple(MarkKind):
            raise ValueError(f"a mark is 'good' or 'bad', not {mark!r}")
        pm = partition_marks.c
        with self.db.begin() as conn:
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

    def of(self, table: str, partitions: Iterable[str] | None = None) -> dict[str, str]:
        """Current marks of a table's partitions: partition → MarkKind.GOOD or MarkKind.BAD."""
        pm = partition_marks.c
        q = sa.select(pm.partition_value, pm.mark).where(pm.table_name == table, pm.current.is_(True))
        if partitions is not None:
            q = q.where(pm.partition_value.in_(list(partitions)))
        with self.db.connect() as conn:
            return {p: MarkKind(m) for p, m in conn.execute(q)}

    def current(self, table: str, partition: str) -> MarkRecord | None:
        """A partition's current mark with its reason, who set it and when, or None."""
        pm = partition_marks.c
        q = sa.select(pm.mark, pm.reason, pm.marked_by, pm.created_at).where(
            pm.table_name == table, pm.partition_value == partition, pm.current.is_(True)
        )
        with self.db.connect() as conn:
            row = conn.execute(q).first()
        if row is None:
            return None
        return MarkRecord(MarkKind(row.mark), row.reason, row.marked_by, utc(row.created_at))
