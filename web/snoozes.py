"""Snoozes from the API and the UI: the same validation for both, on top of the store's methods."""

from __future__ import annotations

from typing import Any

from quinto.web.context import store, table_spec
from quinto.web.payloads import SnoozeCreated
from werkzeug.exceptions import BadRequest, NotFound

from quinto.alerts.commands import snooze_end
from quinto.errors import did_you_mean
from quinto.store.common import utcnow


def checks_of(table: str) -> list[str]:
    spec = table_spec(table)
    if spec is not None:
        return [c.key for c in spec.checks]
    summary = store().results.table(table)
    if summary is None:
        raise NotFound(f"no table {table} is declared or audited")
    return [c.check_key for c in store().results.checks_of(table, summary.latest_partition)]


def add_snooze(body: dict[str, Any], by: str) -> SnoozeCreated:
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
    now = utcnow()
    until = snooze_end(body.get("until"), body.get("for"), now)
    snooze_id = store().snoozes.add(table, until, check=check, reason=reason or None, by=by, now=now)
    return SnoozeCreated(snooze_id, table, check, until, reason or None, by)
