"""Which alerts a saved run raises: the alert policy applied in the transaction that saves the run.

`Store.save_run` calls `record_alerts` (a save hook, given to the store by `quinto.workspace`)
before it supersedes the outcomes the run replaces; this module reads the alert states through the
`AlertRows` it is handed, decides with the pure state machine (`quinto.alerts.state`), and hands back
the new states and outbox rows for the store to write. The store itself knows no alert policy.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from quinto.alerts.state import ERROR, FAILING, RECOVERED, REMINDER, State, initial, step
from quinto.evaluate import Status
from quinto.results import Outcome, jsonable
from quinto.store import Saving
from quinto.store.alerts import AlertRows, AlertState
from quinto.store.common import utc


def record_alerts(saving: Saving) -> int:
    """Advance the alert state of every (partition, check) the run judged in the partitions no newer
    run has judged, and queue one outbox row per target for the changes; returns how many rows."""
    run, policy = saving.run, saving.run.alert_policy
    if not policy or not run.outcomes or not saving.fresh:
        return 0
    now = utc(saving.now)
    levels: dict[str, str | None] = policy.get("levels") or {}
    fresh = set(saving.fresh)
    judged = [o for o in run.outcomes if o.partition in fresh and levels.get(o.check, "fail")]
    if not judged:
        return 0
    rows = saving.alerts
    parts = sorted({o.partition for o in judged})
    known, previous = rows.states(parts), rows.previous(parts)
    snoozed = rows.snoozed(now)
    silent = bool(policy.get("silent")) or None in snoozed
    incident_of = saving.incidents
    announce: list[tuple[Outcome, str, State | None, State, int | None]] = []
    states: list[AlertState] = []
    for o in judged:
        level = levels.get(o.check) or "fail"
        new_error = o.status == Status.ERROR
        key = (o.partition, o.check)
        found = known.get(key)
        prior = State(found.state, found.since, found.announced, found.announced_at) if found else None
        if prior is None and key in previous:
            prior = initial(previous[key][0], level, previous[key][1])
        state, kind = step(
            prior,
            str(o.status),
            level,
            now,
            reminder_s=policy.get("reminder_s"),
            error_after_s=float(policy.get("error_after_s") or 0.0),
            silent=silent or o.check in snoozed,
            error_since=_erring_since(rows, o) if new_error and (prior is None or prior.state != ERROR) else None,
        )
        states.append(AlertState(o.partition, o.check, state.state, state.since, state.announced, state.announced_at))
        if kind is not None:
            announce.append((o, kind, prior, state, incident_of.get(key)))
    rows.write_states(states, now)
    if not announce:
        return 0
    # a recovery in an incident someone resolved: the tracking no longer names it (it is final)
    unnamed = [(o.partition, o.check) for o, kind, _, _, i in announce if kind == RECOVERED and i is None]
    resolved = rows.resolved_incidents(unnamed) if unnamed else {}
    incidents = [i if i is not None else resolved.get((o.partition, o.check)) for o, *_, i in announce]
    facts = rows.incident_facts({i for i in incidents if i is not None})
    changes: list[dict[str, Any]] = []
    for (o, kind, prior, state, _), incident in zip(announce, incidents, strict=True):
        fact = facts.get(incident) if incident is not None else None
        # an acknowledged (or resolved) incident is being handled: no reminder, no alert for another
        # partition joining it; its recovery is still announced
        if kind in (FAILING, REMINDER) and o.status != Status.ERROR and fact is not None and fact.handled:
            continue
        # since when the check was in the state a recovery leaves, a reminder repeats, an alert enters
        since = prior.since if kind in (RECOVERED, REMINDER) and prior is not None else state.since
        changes.append(
            {
                **_change(o, kind, prior, policy),
                "since": since.isoformat(),
                "incident": incident,
                "incident_first_partition": fact.first_partition if fact is not None else None,
            }
        )
    if not changes:
        return 0
    return _queue(saving, rows, policy, changes, now)


def _erring_since(rows: AlertRows, o: Outcome) -> dt.datetime | None:
    """When the check started erring, if its newest state on another partition is ERROR: a check
    that errs on each day's new partition has been erring since the first of those days."""
    other = rows.newest_elsewhere(o.partition, o.check)
    return other.since if other is not None and other.state == ERROR else None


def _change(o: Outcome, kind: str, prior: State | None, policy: dict[str, Any]) -> dict[str, Any]:
    learnt = set(policy.get("bands") or [])  # a fixed threshold's band says nothing the threshold does not
    return {
        "partition": o.partition,
        "check": o.check,
        "check_type": o.check_type,
        "kind": kind,
        "status": str(o.status),
        "previous": prior.state if prior else None,
        "value": jsonable(o.value),
        "threshold": o.threshold,
        "band_low": o.band_low if o.check in learnt else None,
        "band_high": o.band_high if o.check in learnt else None,
        "message": o.message,
        "source": o.source,
        "top_values": o.top_values,
    }


def _queue(
    saving: Saving, rows: AlertRows, policy: dict[str, Any], changes: list[dict[str, Any]], now: dt.datetime
) -> int:
    run = saving.run
    payload = {
        "table": run.table,
        "run_id": saving.run_id,
        "partition_column": run.partition_column,
        "owners": policy.get("owners") or [],
        "base_url": policy.get("base_url") or "",
        "at": now.isoformat(),
        "changes": changes,
    }
    targets = list(policy.get("targets") or [])
    digested = policy.get("digest_targets")
    if digested is None and policy.get("digest"):  # a run spooled before policies split digests
        targets, digested = [], [{**t, "target": a} for t in targets for a in t["target"].split(", ")]
    text = json.dumps(payload, default=jsonable)
    return rows.queue(saving.run_id, text, targets, digested or [], now)
