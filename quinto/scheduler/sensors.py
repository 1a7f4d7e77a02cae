"""Sensors (`on: new_partition`): list the newest partitions of the tables whose turn it is and
queue the new ones, one audit per table.

Turns and the rate limit live in the store, shared by every scheduler on it: each round a
scheduler claims, per connection, the tables not listed within `sensor_interval`, least recently
listed first, as many as the connection's token bucket (`sensor_rate_limit` listing statements a
minute) allows. A statement lists up to `sensor_batch` tables where the engine can (one UNION ALL
of bounded SELECT DISTINCTs, Trino's `$partitions`), so 1,000 tables are a few statements per
interval; a table's new partitions are queued as one run (one claim, one scan). The rate limit
holding tables back is logged once when it starts and once when it ends, not every round.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from quinto.audit import suite_fingerprint, validate_partition
from quinto.engines.base import Connector
from quinto.errors import QuintoError, UsageError, first_line
from quinto.evaluate import partition_order
from quinto.scheduler.triggers import to_audit
from quinto.spec import TableSpec
from quinto.store.queue import Group
from quinto.store.sensors import SensorTurn

if TYPE_CHECKING:
    from quinto.scheduler.service import Scheduler


class Sensors:
    def __init__(self, scheduler: Scheduler) -> None:
        self.s = scheduler
        settings = scheduler.workspace.settings
        self.interval = dt.timedelta(seconds=settings.sensor_interval)
        self.partitions = settings.sensor_partitions
        self.rate = settings.sensor_rate_limit
        self.batch = settings.sensor_batch
        self.next_at: dict[str, dt.datetime] = {}  # connection → when a turn may next be due there

    def forget(self) -> None:
        """The tables changed: ask the store about every connection on the next round."""
        self.next_at.clear()

    def run(self, specs: Iterable[TableSpec]) -> None:
        by_connection: dict[str, list[TableSpec]] = {}
        for spec in specs:
            if spec.sensor and spec.partition:
                by_connection.setdefault(spec.connection, []).append(spec)
        for connection, group in sorted(by_connection.items()):
            if self.s.stopping.is_set():
                return
            try:
                self.connection(connection, group)
            except Exception as exc:  # noqa: BLE001 - one connection's trouble must not stop the others
                self.s.log("trigger_error", connection=connection, message=first_line(exc, 500))

    def connection(self, connection: str, specs: list[TableSpec]) -> None:
        now = self.s.clock.now()
        due = self.next_at.get(connection)
        if due is not None and due > now:  # no table there can be due yet: no statement at all
            return
        connectors = self.s.workspace.connectors
        try:
            connector = connectors.take(connection)
        except QuintoError as exc:
            self.s.log("sensor_error", connection=connection, message=exc.message)
            return
        ok = False
        try:
            self.turns(connection, connector, specs, now)
            ok = True
        finally:
            connectors.give(connection, connector, ok)  # kept open, but a DuckDB file is not held

    def turns(self, connection: str, connector: Connector, specs: list[TableSpec], now: dt.datetime) -> None:
        """List the tables whose turn it is on `connection` now, a batch per statement, and queue."""
        batch = max(1, min(self.batch, connector.LISTING_BATCH))
        tables = sorted(s.table for s in specs)
        turn = self.s.store.claim_sensor_turns(self.s.name, connection, tables, self.interval, self.rate, batch, now)
        self.next_at[connection] = turn.next_at or now + self.interval
        self.episode(connection, turn, batch)
        by_table = {s.table: s for s in specs}
        for start in range(0, len(turn.tables), batch):
            if self.s.stopping.is_set():
                return
            self.list_and_queue(connector, [by_table[t] for t in turn.tables[start : start + batch]])

    def episode(self, connection: str, turn: SensorTurn, batch: int) -> None:
        if turn.episode == "started":
            self.s.log(
                "sensor_rate_limited",
                connection=connection,
                waiting=turn.waiting,
                message=f"{turn.waiting} table(s) due wait for the shared sensor_rate_limit "
                f"({self.rate} listing statements a minute, {batch} table(s) each); logged again when it ends",
            )
        elif turn.episode == "ended":
            held = (self.s.clock.now() - turn.since).total_seconds() if turn.since else None
            self.s.log("sensor_rate_limit_ended", connection=connection, duration_s=held)

    def list_and_queue(self, connector: Connector, specs: list[TableSpec]) -> None:
        """List the partitions of `specs` (one statement where the engine allows) and queue, per
        table, one audit of the partitions not yet audited with its current checks."""
        started = time.perf_counter()
        wanted = [(s.table, str(s.partition), s.partition_type) for s in specs]
        listed = connector.list_partitions_many(wanted, limit=self.partitions)
        valid: dict[str, list[str]] = {}
        for spec in specs:
            got = listed.get(spec.table, [])
            if isinstance(got, QuintoError):
                self.s.log("sensor_error", table=spec.table, message=got.message)
                continue
            valid[spec.table] = self.validated(spec, got)
        audited = self.s.store.audited_many(valid)
        groups: list[Group] = []
        reasons: dict[str, str] = {}
        for spec in specs:
            if spec.table not in valid:
                continue
            seen = audited.get(spec.table, {})
            fp = suite_fingerprint(spec)
            todo = to_audit(valid[spec.table], seen, fp, self.s.policy, partition_order(spec.partition_type))
            if todo:
                groups.append(Group(spec.table, spec.connection, spec.partition, todo, fp))
                reasons[spec.table] = "checks changed" if all(p in seen for p in todo) else "new partition"
        new = 0
        if groups:  # one transaction for the tables of this listing
            queued = self.s.store.enqueue_groups(groups, requested_by=self.s.name, now=self.s.clock.now())
            for table, (run_id, parts) in queued.items():
                if run_id is not None:
                    new += len(parts)
                    shown = parts[0] if len(parts) == 1 else f"{parts[0]} .. {parts[-1]} ({len(parts)})"
                    self.s.log(
                        "enqueued", table=table, partition=shown, run_id=run_id, trigger="sensor", reason=reasons[table]
                    )
        fields = {"table": specs[0].table} if len(specs) == 1 else {"tables": len(specs)}
        self.s.log(
            "sensor_poll",
            **fields,
            listed=sum(len(v) for v in valid.values()),
            new=new,
            duration_s=round(time.perf_counter() - started, 3),
        )
        if new:  # audited from now on, while the next batch is listed
            self.s.queued()

    def validated(self, spec: TableSpec, listed: list[str]) -> list[str]:
        valid = []
        for part in listed:
            try:
                valid.append(validate_partition(part, spec))
            except UsageError as exc:
                self.s.log("sensor_skipped_partition", table=spec.table, partition=part, message=exc.message)
        return valid
