"""Snoozes from the API and the UI: the same validation for both, on top of the store's methods."""

from __future__ import annotations

import datetime as dt
from typing import Any

from quinto.web import store, table_spec
from werkzeug.exceptions import BadRequest, NotFound

from quinto.errors import did_you_mean
from quinto.spec.grammar import parse_duration

#: the longest snooze accepted: a year
LONGEST = dt.timedelta(days=366)


def checks_of(table: str) -> list[str]:
    spec = table_spec(table)
    if spec is not None:
        return [c.key for c in spec.checks]
    summary = store().table_summary(table)
    if summary is None:
        raise NotFound(f"no table {table} is declared or audited")
    return [c["check_key"] for c in store().checks_of(table, summary["latest_partition"])]


def snooze_until(until: Any, length: Any, now: dt.datetime) -> dt.datetime:
    if (until in (None, "")) == (length in (None, "")):
        raise BadRequest('say how long: "until" (an ISO time) or "for" (a duration like 2h or 3d)')
    if length not in (None, ""):
        if not isinstance(length, str):
            raise BadRequest('"for" is a duration like 90m, 2h or 3d')
        try:
            end = now + dt.timedelta(seconds=parse_duration(length))
        except (ValueError, OverflowError) as exc:
            raise BadRequest(f'"for": {exc}') from None
    else:
        if not isinstance(until, str):
            raise BadRequest('"until" is an ISO time like 2026-11-30T09:00Z')
        try:
            end = dt.datetime.fromisoformat(until)
        except ValueError:
            raise BadRequest(f'"until" is an ISO time like 2026-11-30T09:00Z, not {until[:40]!r}') from None
        end = end.replace(tzinfo=dt.UTC) if end.tzinfo is None else end.astimezone(dt.UTC)
    if end <= now:
        raise BadRequest("a snooze ends in the future")
    if end - now > LONGEST:
        raise BadRequest("a snooze lasts at most a year; remove the table's notify: instead")
    return end


def add_snooze(body: dict[str, Any], by: str) -> dict[str, Any]:
    table, check, reason = body.get("table"), body.get("check"), body.get("reason")
    if not isinstance(table, str) or not table:
        raise BadRequest('"table" names a table')
    if check in ("", None):
        check = None
    elif not isinstance(check, str):
        raise BadRequest('"check" is a check of the table, as written in its check file')
    if reason is not None and not isinstance(reason, str):
        raise BadRequest('"reason" is text')
    keys = checks_of(table)
    if check is not None and check not in keys:
        raise BadRequest(f"table {table} has no check '{check}'{did_you_mean(check, keys)}")
    now = dt.datetime.now(dt.UTC)
    until = snooze_until(body.get("until"), body.get("for"), now)
    snooze_id = store().snooze(table, until, check=check, reason=reason or None, by=by, now=now)
    return {"id": snooze_id, "table": table, "check": check, "until": until.isoformat(), "reason": reason or None}
