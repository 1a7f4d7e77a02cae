"""Reading runs: the run log and the statements each run sent. `Store.save_run` writes them; the
queue (`quinto.store.queue`) creates and claims the queued ones."""

from __future__ import annotations

import sqlalchemy as sa

from quinto.store.db import Database
from quinto.store.records import RunRecord, StatementRecord, record
from quinto.store.schema import outcomes, runs, statements


class Runs:
    def __init__(self, db: Database) -> None:
        self.db = db

    def recent(
        self, limit: int = 50, table: str | None = None, status: str | None = None, before: int | None = None
    ) -> list[RunRecord]:
        """Runs, newest first; `before` (a run id) pages back."""
        q = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if table is not None:
            q = q.where(runs.c.table_name == table)
        if status is not None:
            q = q.where(runs.c.status == str(status))
        if before is not None:
            q = q.where(runs.c.id < before)
        with self.db.connect() as conn:
            return [record(RunRecord, r._mapping) for r in conn.execute(q)]

    def get(self, run_id: int) -> RunRecord | None:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        return record(RunRecord, row._mapping) if row else None

    def of_partition(self, table: str, partition: str) -> list[RunRecord]:
        """Every run that judged this partition, newest first: its run log."""
        o = outcomes.c
        ids = sa.select(o.run_id).where(o.table_name == table, o.partition_value == partition).distinct()
        q = sa.select(runs).where(runs.c.id.in_(ids)).order_by(runs.c.id.desc())
        with self.db.connect() as conn:
            return [record(RunRecord, r._mapping) for r in conn.execute(q)]

    def statements(self, run_id: int) -> list[StatementRecord]:
        """The statements a run sent to the warehouse, in order."""
        with self.db.connect() as conn:
            q = sa.select(statements).where(statements.c.run_id == run_id).order_by(statements.c.seq)
            return [record(StatementRecord, r._mapping) for r in conn.execute(q)]
