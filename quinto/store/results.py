"""Reading results: current outcomes, partitions and tables (the read models), metric values and
the history the baselines learn from. `Store.save_run` writes them all."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import sqlalchemy as sa

from quinto.baseline import Point
from quinto.evaluate import Status
from quinto.store.common import chunks
from quinto.store.db import Database
from quinto.store.marks import Marks
from quinto.store.records import (
    FAILING,
    NOT_PASSING,
    CheckRef,
    FailingPartition,
    Failure,
    GridCell,
    MarkKind,
    MetricPoint,
    OutcomeRecord,
    PartitionSummary,
    TableSummary,
    outcome,
    record,
)
from quinto.store.schema import metric_values, outcomes, partition_status, table_status


def sort_key(partition: str) -> str:
    """How partitions sort in the store: integers by value (9 before 10), everything else as text
    (ISO dates and times sort correctly as text)."""
    if re.fullmatch(r"-?\d{1,19}", partition):
        n = int(partition)
        return ("0" if n < 0 else "1") + f"{n + 10**19 if n < 0 else n:020d}"
    return "2" + partition


class Results:
    """Outcomes, partitions, tables and metric values as they stand."""

    def __init__(self, db: Database, marks: Marks) -> None:
        self.db = db
        self._marks = marks

    def current(self, table: str | None = None, partition: str | None = None) -> list[OutcomeRecord]:
        """Current outcomes (of a table, of a partition), by table, partition and check order."""
        q = sa.select(outcomes).where(outcomes.c.current.is_(True))
        if table is not None:
            q = q.where(outcomes.c.table_name == table)
        if partition is not None:
            q = q.where(outcomes.c.partition_value == partition)
        q = q.order_by(outcomes.c.table_name, outcomes.c.partition_value, outcomes.c.id)
        with self.db.connect() as conn:
            return [outcome(r._mapping) for r in conn.execute(q)]

    def of_run(self, run_id: int) -> list[OutcomeRecord]:
        """The outcomes a run wrote, current or superseded, in check order."""
        with self.db.connect() as conn:
            q = sa.select(outcomes).where(outcomes.c.run_id == run_id).order_by(outcomes.c.id)
            return [outcome(r._mapping) for r in conn.execute(q)]

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
        fps = sorted(set(fingerprints))
        if not fps:
            return {}
        mv, o = metric_values.c, outcomes.c
        marks = self._marks.of(table)
        bad = [p for p, m in marks.items() if m == MarkKind.BAD]
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
            o.status == Status.FAIL.value,
            o.fingerprint.in_(fps),
            o.partition_value < before if before is not None else sa.true(),
        )
        skip = set(exclude)
        out: dict[str, list[Point]] = {fp: [] for fp in fps}
        with self.db.connect() as conn:
            failed: dict[tuple[str, str], set[str]] = {}
            for fp, part, key in conn.execute(failed_q):
                failed.setdefault((fp, part), set()).add(key)
            for fp, part, value in conn.execute(q):
                if value is None or part in skip:
                    continue
                by = frozenset(failed.get((fp, part), ()))
                out[fp].append(Point(part, float(value), good=marks.get(part) == MarkKind.GOOD, failed_by=by))
        for points in out.values():
            points.reverse()
        return out

    def tables(self) -> list[TableSummary]:
        """Per table: latest audited partition, its status, failing partitions among the last 30."""
        with self.db.connect() as conn:
            q = sa.select(table_status).order_by(table_status.c.table_name)
            return [record(TableSummary, r._mapping) for r in conn.execute(q)]

    def table(self, table: str) -> TableSummary | None:
        with self.db.connect() as conn:
            row = conn.execute(sa.select(table_status).where(table_status.c.table_name == table)).first()
        return record(TableSummary, row._mapping) if row else None

    def partitions(self, table: str, last: int | None = None) -> list[PartitionSummary]:
        """A table's audited partitions with their status, newest first."""
        ps = partition_status.c
        q = sa.select(partition_status).where(ps.table_name == table).order_by(ps.sort_key.desc())
        if last is not None:
            q = q.limit(last)
        with self.db.connect() as conn:
            return [record(PartitionSummary, r._mapping) for r in conn.execute(q)]

    def grid(self, table: str, partitions: Sequence[str]) -> list[GridCell]:
        """The current outcomes of some partitions in check order: the heatmap and the trends."""
        o = outcomes.c
        cols = [o.partition_value, o.check_key, o.status, o.value, o.judged, o.band_low, o.band_high, o.id]
        rows = []
        with self.db.connect() as conn:
            for chunk in chunks(list(partitions), 500):
                q = sa.select(*cols).where(o.table_name == table, o.partition_value.in_(chunk), o.current.is_(True))
                rows += [tuple(r) for r in conn.execute(q)]
        rows.sort(key=lambda r: r[-1])
        return [GridCell(*r[:-1]) for r in rows]

    def checks_of(self, table: str, partition: str) -> list[CheckRef]:
        """The checks judged on a partition with their type and where they are declared."""
        o = outcomes.c
        q = (
            sa.select(o.check_key, o.check_type, o.source, o.threshold)
            .where(o.table_name == table, o.partition_value == partition, o.current.is_(True))
            .order_by(o.id)
        )
        with self.db.connect() as conn:
            return [record(CheckRef, r._mapping) for r in conn.execute(q)]

    def _newest(self, table: str, last: int) -> sa.Subquery:
        """The table's newest `last` partitions (the `partition_status` read model, in partition
        order on its index), as a derived table to join: a page or an API call about the recent
        history reads only those rows, however many years the store holds (MariaDB refuses a LIMIT
        directly inside IN, not in a derived table)."""
        ps = partition_status.c
        return (
            sa.select(ps.partition_value)
            .where(ps.table_name == table)
            .order_by(ps.sort_key.desc())
            .limit(last)
            .subquery("newest")
        )

    def check_history(self, table: str, check: str, last: int | None = None) -> list[OutcomeRecord]:
        """A check's current outcomes, oldest first: on every partition, or on the newest `last`."""
        o = outcomes.c
        q = sa.select(outcomes).where(o.table_name == table, o.check_key == check, o.current.is_(True))
        if last:
            newest = self._newest(table, last)
            q = q.join(newest, newest.c.partition_value == o.partition_value)
        with self.db.connect() as conn:
            rows = [outcome(r._mapping) for r in conn.execute(q)]
        rows.sort(key=lambda r: sort_key(r.partition_value))
        return rows[-last:] if last else rows

    def run_history(
        self, table: str, partition: str, last: int = 90, check: str | None = None
    ) -> list[OutcomeRecord]:
        """The outcomes of one partition written by its newest `last` runs, superseded ones too,
        oldest first (of one check, or all): the history of an unpartitioned table, whose every
        audit judges the same partition."""
        o = outcomes.c
        where = [o.table_name == table, o.partition_value == partition]
        if check is not None:
            where.append(o.check_key == check)
        runs_q = sa.select(o.run_id).where(*where).distinct().order_by(o.run_id.desc()).limit(last)
        with self.db.connect() as conn:
            run_ids = [r[0] for r in conn.execute(runs_q)]
            if not run_ids:
                return []
            q = sa.select(outcomes).where(*where, o.run_id.in_(run_ids)).order_by(o.run_id, o.id)
            return [outcome(r._mapping) for r in conn.execute(q)]

    def failing(self, limit: int = 100, table: str | None = None) -> list[FailingPartition]:
        """Partitions whose current status is failing, most recently audited first, each with its
        failing outcomes."""
        ps, o = partition_status.c, outcomes.c
        q = sa.select(partition_status).where(ps.status.in_([s.value for s in FAILING]))
        if table is not None:
            q = q.where(ps.table_name == table)
        q = q.order_by(ps.audited_at.desc(), ps.table_name, ps.sort_key.desc()).limit(limit)
        failures: dict[tuple[str, str], list[Failure]] = {}
        with self.db.connect() as conn:
            parts = [r._mapping for r in conn.execute(q)]
            for tname in sorted({p["table_name"] for p in parts}):
                values = [p["partition_value"] for p in parts if p["table_name"] == tname]
                oq = (
                    sa.select(o.partition_value, o.check_key, o.status, o.value, o.judged, o.threshold, o.band_low)
                    .add_columns(o.band_high, o.message, o.source)
                    .where(o.table_name == tname, o.partition_value.in_(values), o.current.is_(True))
                    .where(o.status.in_([s.value for s in NOT_PASSING]))
                    .order_by(o.id)
                )
                for r in conn.execute(oq):
                    failures.setdefault((tname, r.partition_value), []).append(record(Failure, r._mapping))
        return [
            record(FailingPartition, p, failures=tuple(failures.get((p["table_name"], p["partition_value"]), ())))
            for p in parts
        ]

    def metric_history(self, table: str, metric: str, last: int | None = None) -> list[MetricPoint]:
        """A metric's current values per partition, oldest first: of every partition, or of the
        newest `last`."""
        mv = metric_values.c
        q = sa.select(mv.partition_value, mv.value, mv.fingerprint, mv.run_id, mv.created_at).where(
            mv.table_name == table, mv.metric_key == metric, mv.current.is_(True)
        )
        if last:  # IN, not a join: no index leads with the metric, so a join would probe per partition
            newest = self._newest(table, last)
            q = q.where(mv.partition_value.in_(sa.select(newest.c.partition_value)))
        with self.db.connect() as conn:
            rows = [record(MetricPoint, r._mapping) for r in conn.execute(q)]
        rows.sort(key=lambda r: sort_key(r.partition_value))
        return rows[-last:] if last else rows

    def metrics(self, table: str) -> list[str]:
        mv = metric_values.c
        q = sa.select(mv.metric_key).where(mv.table_name == table, mv.current.is_(True)).distinct()
        with self.db.connect() as conn:
            return sorted(r[0] for r in conn.execute(q))
