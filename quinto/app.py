"""The library API and what the CLI calls: audit a table's partitions, backfill a range, mark a
partition. Each opens (or is handed) a `Workspace` and stores its runs through `quinto.record`,
the one path every run takes to the store."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from quinto.alerts.policy import policy_for
from quinto.audit import Auditor, AuditResult, parse_partition_arg, validate_partition
from quinto.compile import canonical
from quinto.engines import Connector
from quinto.errors import UsageError
from quinto.evaluate import partition_order
from quinto.record import Replay, record, replay
from quinto.spec import Project, Suite, TableSpec
from quinto.store import Store
from quinto.workspace import Workspace


def _workspace(config: str | Path | None, project: Project | None, store: Store | None) -> Workspace:
    return Workspace(project, store) if project is not None else Workspace(Workspace.load(config).project, store)


def audit(
    table: str,
    partitions: Sequence[str] | str | None = None,
    *,
    config: str | Path | None = None,
    project: Project | None = None,
    suite: Suite | None = None,
    store: Store | None = None,
    connector: Connector | None = None,
    trigger: str = "cli",
    save: bool = True,
    now: dt.datetime | None = None,
    chunk: int | None = None,
) -> AuditResult:
    """Audit partitions of one table, store the run, and return its outcomes.

    `partitions` are values (`2026-11-27`) or `column=value` strings. Raises SpecError / UsageError
    for bad input (exit 2) and WarehouseError / StoreError when nothing could be computed (exit 3);
    a warehouse failure after the plan is stored as ERROR outcomes instead.
    """
    ws = _workspace(config, project, store)
    try:
        spec = (suite or ws.suite()).table(table)
        parts = _partitions(spec, partitions)
        own_connector = connector is None
        connector = connector or ws.connector(spec.connection)
        try:
            return _audit(ws, spec, parts, connector, trigger=trigger, save=save, now=now, chunk=chunk)
        finally:
            if own_connector:
                connector.close()
    finally:
        ws.close()


def _partitions(spec: TableSpec, partitions: Sequence[str] | str | None) -> list[str]:
    raw = [partitions] if isinstance(partitions, str) else list(partitions or [])
    if spec.partition and not raw:
        raise UsageError(f"say which partition of {spec.table} to audit, e.g. --partition {spec.partition}=2026-11-27")
    if raw and not spec.partition:
        raise UsageError(f"table {spec.table} declares no `partition:` column; audit it without --partition")
    parts = [parse_partition_arg(p, spec) for p in raw] if spec.partition else []
    spelled: dict[Any, str] = {}
    for p in parts:  # one partition spelled two ways would get one spelling's values for both
        other = spelled.setdefault(canonical(p), p)
        if other != p:
            raise UsageError(f"partitions {other!r} and {p!r} are the same partition; give it once")
    return list(dict.fromkeys(parts))


def _audit(
    ws: Workspace,
    spec: TableSpec,
    parts: list[str],
    connector: Connector,
    *,
    trigger: str,
    save: bool,
    now: dt.datetime | None,
    chunk: int | None,
    spans: bool = False,
) -> AuditResult:
    """Replay what earlier runs spooled, audit, record the run (confirming the replayed ones with it)."""
    notes: list[str] = []
    replayed: Replay | None = None
    if save:
        try:
            # the files wait until this run is recorded: removed only when both are confirmed in the store
            replayed = replay(ws.store, ws.spool_dir, defer=True)
            if replayed.ids:
                notes.append(f"replayed {len(replayed.ids)} spooled run(s) into the store")
        except Exception as exc:  # noqa: BLE001 - the store may be down; this run will spool too
            notes.append(f"spooled runs not replayed: {str(exc).splitlines()[0]}")
    try:
        auditor = Auditor(ws.project, spec, connector, ws.store if save else None, now)
        if chunk:
            auditor.chunk = chunk
        auditor.spans = spans
        run = auditor.run(parts, trigger)
    except BaseException:
        if replayed is not None:
            replayed.settle()  # no run of ours to confirm them with: on their own
        raise
    result = AuditResult(run, notes=notes)
    if save:
        run.alert_policy = policy_for(ws.project, spec, trigger)
        result.store_error = record(ws.store, run, ws.spool_dir, replayed=replayed).error
    return result


def backfill(
    table: str,
    since: str,
    until: str | None = None,
    *,
    config: str | Path | None = None,
    project: Project | None = None,
    suite: Suite | None = None,
    store: Store | None = None,
    connector: Connector | None = None,
    chunk: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    now: dt.datetime | None = None,
    warn: Callable[[str], None] | None = None,
) -> list[AuditResult]:
    """Audit every partition of `table` in [since, until] that exists in the warehouse, oldest first,
    in chunks of `chunk` partitions; each chunk is ONE grouped scan and one stored run, so history
    builds up as it goes and an interruption keeps the chunks already done.
    `progress(done, total)` is called after each chunk; `warn(message)` for each partition value of
    the warehouse that Quinto refuses (it is skipped)."""
    ws = _workspace(config, project, store)
    try:
        spec = (suite or ws.suite()).table(table)
        if spec.partition is None:
            raise UsageError(f"table {table} declares no `partition:` column; there is nothing to backfill")
        since = validate_partition(since, spec)
        until = validate_partition(until, spec) if until else None
        own_connector = connector is None
        connector = connector or ws.connector(spec.connection)
        try:
            listed = connector.partitions(
                spec.table, spec.partition, since, until, limit=100_000, ptype=spec.partition_type
            )
            parts = []
            for value in listed:
                try:  # an odd value in the warehouse is skipped with a warning, not the end of the backfill
                    parts.append(validate_partition(value, spec))
                except UsageError as exc:
                    if warn is not None:
                        warn(f"skipped a partition of {spec.table} in the warehouse: {exc.message}")
            parts.sort(key=partition_order(spec.partition_type))  # 9 before 10 for integer partitions
            size = max(1, chunk or ws.settings.partitions_per_scan)
            results = []
            for i in range(0, len(parts), size):
                batch = _partitions(spec, parts[i : i + size])
                # each chunk is a run of the table's consecutive partitions: scanned as a range
                results.append(
                    _audit(ws, spec, batch, connector, trigger="backfill", save=True, now=now, chunk=size, spans=True)
                )
                if progress is not None:
                    progress(min(i + size, len(parts)), len(parts))
            return results
        finally:
            if own_connector:
                connector.close()
    finally:
        ws.close()


def mark(
    table: str,
    partition: str,
    verdict: str,
    reason: str | None = None,
    *,
    config: str | Path | None = None,
    by: str | None = None,
) -> list[int]:
    """Mark a partition good (it joins baselines even after a failure) or bad (it never does).
    Returns the incidents the mark resolved (those whose failing partitions are all marked so now)."""
    with Workspace.load(config) as ws:
        spec = ws.suite().table(table)
        value = parse_partition_arg(partition, spec)
        if verdict not in ("good", "bad"):
            raise UsageError(f"a partition is marked 'good' or 'bad', not {verdict!r}")
        return ws.store.marks.set(spec.table, value, verdict, reason, by)
