"""When does a (table, partition, check) alert? Pure functions: a prior state and an outcome in, the
next state and what to announce (if anything) out.

A check is in one of three states: "ok", "bad" (FAIL, or WARN for checks declared `notify: warn`)
or "error". What was last *announced* is kept apart from the state itself, so a failure that stays
failing is announced once, a recovery is announced only after an announced failure or error, and
an ERROR is announced only once it has lasted `error_after` seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from quinto.evaluate import Status


class Category(StrEnum):
    """What an outcome means for alerting (`alert_states.state` and `.announced`)."""

    OK = "ok"
    BAD = "bad"
    ERROR = "error"


class Change(StrEnum):
    """The kind of an alert (`kind` of each change in an outbox payload)."""

    FAILING = "failing"
    RECOVERED = "recovered"
    ERRORED = "error"
    REMINDER = "reminder"


OK, BAD, ERROR = Category.OK, Category.BAD, Category.ERROR
FAILING, RECOVERED, ERRORED, REMINDER = Change.FAILING, Change.RECOVERED, Change.ERRORED, Change.REMINDER


@dataclass(frozen=True)
class State:
    state: str  # OK, BAD or ERROR as of the newest run
    since: dt.datetime  # when it entered `state`
    announced: str  # the state last alerted about (OK when nothing was)
    announced_at: dt.datetime | None = None


def category(status: str, level: str) -> str:
    """An outcome status as an alert state, for a check that alerts from `level` ("fail" or "warn")."""
    if status == Status.ERROR:
        return ERROR
    if status == Status.FAIL or (status == Status.WARN and level == "warn"):
        return BAD
    return OK


def initial(previous_status: str | None, level: str, at: dt.datetime) -> State | None:
    """The state of a check seen before alerting was set up, from its previous current outcome: a
    failure that was already failing then is not news. None when there is no previous outcome."""
    if previous_status is None:
        return None
    cat = category(previous_status, level)
    return State(cat, at, cat if cat != ERROR else OK, at if cat == BAD else None)


def step(
    prior: State | None,
    status: str,
    level: str,
    now: dt.datetime,
    *,
    reminder_s: float | None = None,
    error_after_s: float = 3600.0,
    silent: bool = False,
    error_since: dt.datetime | None = None,
) -> tuple[State, str | None]:
    """The next state and the kind of alert to send: FAILING, RECOVERED, ERRORED, REMINDER or None.
    `silent` (a snooze, a backfill) records the state but announces nothing, so the first run after
    it announces whatever differs from what was last announced. `error_since`: when the check began
    erring elsewhere (on the table's previous partition), for an ERROR that is new here."""
    if status == Status.LEARNING and prior is not None:
        return prior, None  # not judged: neither a failure nor a recovery (e.g. a check just edited)
    prior = prior or State(OK, now, OK, None)
    cat = category(status, level)
    since = prior.since if prior.state == cat else (error_since or now) if cat == ERROR else now
    due_reminder = bool(
        reminder_s
        and prior.announced == cat
        and prior.announced_at is not None
        and (now - prior.announced_at).total_seconds() >= reminder_s
    )
    kind: str | None = None
    if cat == BAD:
        kind = FAILING if prior.announced != BAD else REMINDER if due_reminder else None
    elif cat == OK:
        kind = RECOVERED if prior.announced in (BAD, ERROR) else None
    elif (now - since).total_seconds() >= error_after_s:
        kind = ERRORED if prior.announced != ERROR else REMINDER if due_reminder else None
    if kind is None or silent:
        return State(cat, since, prior.announced, prior.announced_at), None
    return State(cat, since, cat, now), kind
