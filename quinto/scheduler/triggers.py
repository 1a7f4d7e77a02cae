"""When to audit what: cron firings and the partitions they name, and which listed partitions a
sensor audits. Pure functions of a clock's time and the store's answers, so they are tested with an
injected clock instead of sleeps."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from apscheduler.triggers.cron import CronTrigger

from quinto.spec.model import Schedule
from quinto.store.common import utcnow

#: at most this many missed cron firings are caught up after a scheduler was down
MAX_CATCH_UP = 100


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return utcnow()


class FixedClock:
    """A clock that moves only when told to: cron and sensor logic is tested with it, not with sleeps."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> dt.datetime:
        self.at += dt.timedelta(**delta)
        return self.at


def trigger_of(schedule: Schedule, default_timezone: str) -> CronTrigger:
    return CronTrigger.from_crontab(schedule.cron, timezone=zoneinfo.ZoneInfo(schedule.timezone or default_timezone))


def fires_between(
    schedule: Schedule, default_timezone: str, after: dt.datetime, until: dt.datetime, limit: int = MAX_CATCH_UP
) -> tuple[list[dt.datetime], int]:
    """Firings in (after, until], oldest first, at most the newest `limit` of them; and how many
    older ones were dropped."""
    trigger = trigger_of(schedule, default_timezone)
    fires: list[dt.datetime] = []
    dropped = 0
    previous: Any = None
    at = after + dt.timedelta(microseconds=1)
    while True:
        nxt = trigger.get_next_fire_time(previous, at)
        if nxt is None or nxt > until:
            break
        fires.append(nxt)
        if len(fires) > limit:
            fires.pop(0)
            dropped += 1
        previous, at = nxt, nxt + dt.timedelta(microseconds=1)
    return [f.astimezone(dt.UTC) for f in fires], dropped


def partition_for(schedule: Schedule, default_timezone: str, fire: dt.datetime) -> str:
    """The partition a firing names: the firing's local day (or hour) moved by the schedule's
    offset, e.g. yesterday's `2026-11-27` for a firing at 06:00 on 2026-11-28 in its time zone."""
    local = fire.astimezone(zoneinfo.ZoneInfo(schedule.timezone or default_timezone))
    if schedule.unit == "hour":
        start = local.replace(minute=0, second=0, microsecond=0).replace(tzinfo=None)
        return (start + dt.timedelta(hours=schedule.offset)).strftime(schedule.format)
    day = dt.datetime(local.year, local.month, local.day) + dt.timedelta(days=schedule.offset)
    return day.strftime(schedule.format)


def to_audit(
    listed: Sequence[str],
    audited: Mapping[str, set[str | None]],
    fingerprint: str,
    policy: str,
    order: Callable[[str], Any] = str,
) -> list[str]:
    """Which of the partitions a sensor listed to audit, oldest first: every one never audited;
    one audited only with other check definitions when it is the newest (`policy` "latest"), or
    always ("all"), or never ("none"); never one already audited with these definitions."""
    if not listed:
        return []
    newest = max(listed, key=order)
    out = []
    for part in sorted(set(listed), key=order):
        seen = audited.get(part)
        if seen is None:
            out.append(part)
        elif fingerprint in seen:
            continue
        elif policy == "all" or (policy == "latest" and part == newest):
            out.append(part)
    return out


def parse_state(value: str | None) -> tuple[str, dt.datetime] | None:
    """A cron state value: `fire:<iso>` (the last firing handled) or `since:<iso>` (first seen)."""
    if not value or ":" not in value:
        return None
    kind, _, when = value.partition(":")
    try:
        return kind, dt.datetime.fromisoformat(when)
    except ValueError:
        return None
