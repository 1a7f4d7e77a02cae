"""Retention: `quinto store prune --keep 400d`, and the `retention:` setting a scheduler applies once a day.

Past the horizon (now - keep), pruning removes:
- superseded outcomes and metric values (a newer run judged their partitions), and the runs
  left with nothing current: a finished run that wrote no outcome (an ERROR before judging, a
  run given up) goes once a newer run of the same partition exists, so the newest word on every
  partition stays;
- the statements of the runs it keeps (their SQL text, the bulk of a run) and the failing-row
  samples of their outcomes;
- delivered, digested and cancelled alerts of the outbox; snoozes that ended.

It keeps every partition's current outcomes and current metric values, whatever their age: they
are what the baselines read (`Results.history`: anomaly windows, same-weekday windows, change vs
previous partition), what the UI shows and what the sensors compare with, so a verdict is the same
before and after pruning. Marks, alert states and queued or running audits are never pruned.
Deletes go in transactions of at most `BATCH` runs, so a first prune of a large store does not
hold the store for long.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from quinto.store.common import chunks, utcnow
from quinto.store.records import OutboxStatus, RunStatus
from quinto.store.schema import (
    alert_outbox,
    alert_snoozes,
    metric_values,
    outcomes,
    partition_status,
    runs,
    statements,
    table_status,
)

#: runs deleted per transaction
BATCH = 500
#: outbox rows that are done with: delivered, folded into a digest, or cancelled
FINISHED_ALERTS = (OutboxStatus.SENT.value, OutboxStatus.DIGESTED.value, OutboxStatus.CANCELLED.value)
PENDING = (RunStatus.QUEUED.value, RunStatus.RUNNING.value)
#: the shortest `keep` accepted: pruning is about history, not about the audits of today
MIN_KEEP = dt.timedelta(days=1)


@dataclass
class PruneReport:
    """What a prune removed (or, with `dry_run`, would remove), by kind of row."""

    horizon: dt.datetime
    dry_run: bool
    runs: int = 0
    outcomes: int = 0
    metric_values: int = 0
    statements: int = 0
    samples: int = 0  # outcomes whose failing-row samples were cleared
    alerts: int = 0
    snoozes: int = 0
    by_table: dict[str, int] = field(default_factory=dict)  # runs removed per table

    @property
    def rows(self) -> int:
        return self.runs + self.outcomes + self.metric_values + self.statements + self.alerts + self.snoozes

    def as_dict(self) -> dict[str, Any]:
        return {
            "horizon": self.horizon.isoformat(),
            "dry_run": self.dry_run,
            "runs": self.runs,
            "outcomes": self.outcomes,
            "metric_values": self.metric_values,
            "statements": self.statements,
            "samples": self.samples,
            "alerts": self.alerts,
            "snoozes": self.snoozes,
            "by_table": dict(sorted(self.by_table.items())),
        }


def _ended(r: Any) -> Any:
    return sa.func.coalesce(r.finished_at, r.started_at)


def _finished_alerts(horizon: dt.datetime) -> Any:
    ob = alert_outbox.c
    return sa.and_(ob.status.in_(FINISHED_ALERTS), sa.func.coalesce(ob.sent_at, ob.created_at) < horizon)


def superseded_runs(conn: sa.Connection, horizon: dt.datetime) -> list[tuple[int, str]]:
    """(id, table) of the finished runs before `horizon` that nothing current needs any more."""
    r, o, mv, ob = runs.c, outcomes.c, metric_values.c, alert_outbox.c
    newer = runs.alias("newer")
    has_current = sa.exists().where(o.run_id == r.id, o.current.is_(True))
    has_current_values = sa.exists().where(mv.run_id == r.id, mv.current.is_(True))
    wrote_outcomes = sa.exists().where(o.run_id == r.id)
    newer_of_partition = sa.exists().where(
        newer.c.table_name == r.table_name,
        newer.c.partition_value == r.partition_value,
        newer.c.id > r.id,
        newer.c.status.not_in(PENDING),
    )
    alerts_kept = sa.exists().where(ob.run_id == r.id, ~_finished_alerts(horizon))  # they still name it
    q = (
        sa.select(r.id, r.table_name)
        .where(
            r.status.not_in(PENDING),
            _ended(r) < horizon,
            ~has_current,
            ~has_current_values,
            sa.or_(wrote_outcomes, r.partition_value.is_(None), newer_of_partition),
            r.id.not_in(sa.select(partition_status.c.run_id)),
            r.id.not_in(sa.select(table_status.c.last_run_id)),
            ~alerts_kept,
        )
        .order_by(r.id)
    )
    return [(int(i), str(t)) for i, t in conn.execute(q)]


def _apply(conn: sa.Connection, table: sa.Table, where: Any, dry_run: bool) -> int:
    """Delete the rows of `table` matching `where` (count them, with `dry_run`)."""
    if dry_run:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar_one())
    return int(conn.execute(table.delete().where(where)).rowcount or 0)


def prune(
    engine: sa.Engine, keep: dt.timedelta, *, dry_run: bool = False, now: dt.datetime | None = None
) -> PruneReport:
    """Remove what is past `now - keep` and no longer needed (see the module's docstring); with
    `dry_run`, count it and change nothing. The store must be migrated already."""
    if keep < MIN_KEEP:
        raise ValueError(f"keep must be at least {MIN_KEEP.days} day")
    horizon = (now or utcnow()) - keep
    report = PruneReport(horizon, dry_run)
    st, o, mv = statements.c, outcomes.c, metric_values.c
    old_runs = sa.select(runs.c.id).where(runs.c.status.not_in(PENDING), _ended(runs.c) < horizon)
    old_samples = sa.and_(o.created_at < horizon, o.samples.is_not(None))
    with engine.begin() as conn:
        # the alerts done with go first: a run their rows name cannot go before them
        report.alerts = _apply(conn, alert_outbox, _finished_alerts(horizon), dry_run)
        sn = alert_snoozes.c
        report.snoozes = _apply(conn, alert_snoozes, sa.func.coalesce(sn.ended_at, sn.until) < horizon, dry_run)
        # every old run's SQL text and failing-row samples: the bulk of a run, needed by no verdict
        report.statements = _apply(conn, statements, st.run_id.in_(old_runs), dry_run)
        if dry_run:
            report.samples = int(
                conn.execute(sa.select(sa.func.count()).select_from(outcomes).where(old_samples)).scalar_one()
            )
        else:
            report.samples = int(conn.execute(outcomes.update().where(old_samples).values(samples=None)).rowcount or 0)
        doomed = superseded_runs(conn, horizon)  # before their superseded outcomes go, which name them
        # superseded outcomes and values (of the runs going, and those a later run replaced in a run
        # that stays, e.g. part of a backfill): no baseline, page or sensor reads them
        report.outcomes = _apply(conn, outcomes, sa.and_(o.current.is_(False), o.created_at < horizon), dry_run)
        report.metric_values = _apply(
            conn, metric_values, sa.and_(mv.current.is_(False), mv.created_at < horizon), dry_run
        )
    for batch in chunks(doomed, BATCH):
        ids = [i for i, _ in batch]
        with engine.begin() as conn:
            if not dry_run:  # nothing of theirs is left; written since (a replayed spool file)? it goes too
                for child in (statements, outcomes, metric_values):
                    conn.execute(child.delete().where(child.c.run_id.in_(ids)))
            report.runs += _apply(conn, runs, runs.c.id.in_(ids), dry_run)
        for _, table in batch:
            report.by_table[table] = report.by_table.get(table, 0) + 1
    return report


def parse_keep(text: str) -> dt.timedelta:
    """`30d`, `52w`, `400d` (also `12h`, `1d12h`): a duration of at least a day."""
    from quinto.spec.grammar import parse_duration

    try:
        seconds = parse_duration(text.strip())
    except ValueError:
        raise ValueError(f"'{text}' is not a duration like 30d, 52w or 400d") from None
    keep = dt.timedelta(seconds=seconds)
    if keep < MIN_KEEP:
        raise ValueError(f"'{text}' is shorter than a day: keep at least 1d of history")
    return keep


__all__ = ["BATCH", "MIN_KEEP", "PruneReport", "parse_keep", "prune", "superseded_runs"]
