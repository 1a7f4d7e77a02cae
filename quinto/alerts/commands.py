"""What `quinto snooze`, `quinto unsnooze` and `quinto alerts ...` do, as library functions: each
checks its input against the project, opens the store, calls one store or sender function."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from quinto.alerts.sender import SendReport, send_pending
from quinto.errors import StoreError, UsageError, did_you_mean, first_line
from quinto.spec import Project, load_project, load_suite
from quinto.spec.grammar import parse_duration
from quinto.store.common import utc, utcnow
from quinto.store.records import OutboxRecord, SnoozeRecord
from quinto.workspace import open_store

#: the longest snooze: a year (a table that should never alert drops its `notify:` instead)
LONGEST_SNOOZE = dt.timedelta(days=366)


def snooze_end(until: Any, length: Any, now: dt.datetime | None = None) -> dt.datetime:
    """When a snooze ends: `until` an ISO time (UTC unless it names a zone; a date is its midnight)
    or `length` a duration like 2h. The CLI (--until/--for) and the API (until/for) share it."""
    now = now or utcnow()
    if (until in (None, "")) == (length in (None, "")):
        raise UsageError("say how long: until an ISO time, or for a duration like 2h or 3d")
    if length not in (None, ""):
        if not isinstance(length, str):
            raise UsageError("for: a duration like 90m, 2h or 3d")
        try:
            end = now + dt.timedelta(seconds=parse_duration(length))
        except ValueError as exc:
            raise UsageError(f"for: {exc}") from None
        except OverflowError:
            raise UsageError("a snooze lasts at most a year") from None
    else:
        if not isinstance(until, str):
            raise UsageError("until: an ISO time like 2026-11-30T09:00Z")
        try:
            end = dt.datetime.fromisoformat(until)
        except ValueError:
            raise UsageError(f"until: an ISO time like 2026-11-30T09:00Z, not {until[:40]!r}") from None
        end = utc(end)
    if end <= now:
        raise UsageError("a snooze ends in the future")
    if end - now > LONGEST_SNOOZE:
        raise UsageError("a snooze lasts at most a year; to silence a table for good, drop its notify:")
    return end


def _check_target(project: Project, table: str, check: str | None) -> str:
    spec = load_suite(project).table(table)
    keys = [c.key for c in spec.checks]
    if check is not None and check not in keys:
        raise UsageError(f"table {table} has no check '{check}'{did_you_mean(check, keys)}")
    return spec.table


def snooze(
    table: str,
    *,
    until: dt.datetime,
    check: str | None = None,
    reason: str | None = None,
    by: str | None = None,
    config: str | Path | None = None,
) -> int:
    """Snooze a declared table (or one of its checks) until `until`; returns the snooze id."""
    project = load_project(config)
    name = _check_target(project, table, check)
    store = open_store(project)
    try:
        return store.snoozes.add(name, until, check=check, reason=reason, by=by)
    finally:
        store.close()


def unsnooze(table: str, *, check: str | None = None, by: str | None = None, config: str | Path | None = None) -> int:
    """End the snoozes of a table (or of one check); returns how many ended."""
    project = load_project(config)
    store = open_store(project)
    try:
        return store.snoozes.end(table, check=check, by=by)
    finally:
        store.close()


def snoozes(table: str | None = None, *, config: str | Path | None = None) -> list[SnoozeRecord]:
    project = load_project(config)
    store = open_store(project)
    try:
        return store.snoozes.active(table)
    finally:
        store.close()


def outbox(status: str | None = None, limit: int = 20, *, config: str | Path | None = None) -> list[OutboxRecord]:
    project = load_project(config)
    store = open_store(project)
    try:
        return store.outbox.rows(status=status, limit=limit)
    finally:
        store.close()


def cancel(ids: list[int], *, by: str | None = None, config: str | Path | None = None) -> int:
    project = load_project(config)
    store = open_store(project)
    try:
        return store.outbox.cancel(ids, by=by)
    finally:
        store.close()


def send(
    *,
    config: str | Path | None = None,
    loop: bool = False,
    interval: float = 30.0,
    on_pass: Callable[[SendReport], None] | None = None,
    on_error: Callable[[StoreError], None] | None = None,
) -> SendReport:
    """Deliver the pending alerts once (or, with `loop`, forever: every `interval` seconds, sooner
    when a retry falls due). Returns the report of the last pass. A store that cannot be read raises
    StoreError, or with `loop` is reported to `on_error` and tried again at the next pass."""
    project = load_project(config)
    store = open_store(project)
    try:
        while True:
            wait = interval
            try:
                report = send_pending(store, project.settings)
                nxt = store.outbox.next_due()
            except (StoreError, sa.exc.SQLAlchemyError) as exc:
                error = exc if isinstance(exc, StoreError) else StoreError(f"store ({store.where}): {first_line(exc)}")
                if not loop or on_error is None:
                    raise error from None
                on_error(error)
            else:
                if on_pass is not None:
                    on_pass(report)
                if not loop:
                    return report
                if nxt is not None:
                    wait = min(interval, max(1.0, (nxt - utcnow()).total_seconds()))
            time.sleep(wait)
    finally:
        store.close()
