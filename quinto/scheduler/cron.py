"""Cron (`schedule:`): the partitions named by the firings since the last one handled are queued
(restart-safe: the last firing handled is in the store)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from quinto.audit import WHOLE_TABLE, suite_fingerprint
from quinto.scheduler.triggers import fires_between, parse_state, partition_for, trigger_of
from quinto.spec import TableSpec

if TYPE_CHECKING:
    from quinto.scheduler.service import Scheduler


def cron(s: Scheduler, spec: TableSpec) -> None:
    """Enqueue the partitions named by the firings since the last one handled (restart-safe: the
    last firing handled is in the store); the first time a table is seen, count from now. The
    store is read only when a firing is due, or after the table's checks changed."""
    assert spec.schedule is not None
    now = s.clock.now()
    key = f"cron:{spec.table}"
    changed = spec.table in s.recheck
    s.recheck.discard(spec.table)
    due = s.due.get(key)
    if due is not None and due > now and not changed:
        return
    state = s.store.state(key)
    parsed = parse_state(state[0]) if state else None
    trigger = trigger_of(spec.schedule, s.timezone)
    s.due[key] = trigger.get_next_fire_time(None, now) or now + dt.timedelta(days=366)
    if parsed is None:
        s.store.state_swap(key, state[0] if state else None, f"since:{now.isoformat()}", now)
        return
    kind, last = parsed
    fires, dropped = fires_between(spec.schedule, s.timezone, last, now)
    if dropped:
        s.log("cron_missed", table=spec.table, message=f"{dropped} older firing(s) not caught up")
    fp = suite_fingerprint(spec)
    named = [(f, partition_for(spec.schedule, s.timezone, f) if spec.partition else WHOLE_TABLE) for f in fires]
    seen = s.store.audited(spec.table, [p for _, p in named if p != WHOLE_TABLE]) if named else {}
    for fire, part in named:
        # a whole table changes between firings under the same name: every firing audits it
        if part != WHOLE_TABLE and fp in seen.get(part, set()):
            s.log("skipped", table=spec.table, partition=part, trigger="cron", reason="already audited")
            continue
        s.enqueue(spec, part, "cron", reason=f"cron firing at {fire.isoformat()}")
    if fires:
        s.store.state_swap(key, state[0] if state else None, f"fire:{fires[-1].isoformat()}", now)
    elif changed and kind == "fire" and not spec.sensor and s.policy != "none":
        # changed checks: the partition of the latest firing is audited again (once)
        part = partition_for(spec.schedule, s.timezone, last) if spec.partition else WHOLE_TABLE
        done = s.store.audited(spec.table, [part]).get(part)
        if done is not None and fp not in done:
            s.enqueue(spec, part, "cron", reason="checks changed")
