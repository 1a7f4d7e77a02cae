"""What `quinto incidents`, `quinto ack` and `quinto resolve` do, as library functions: through the
project's store, or with `via` through a Quinto server's API (with the token of QUINTO_API_TOKEN).
Each answers with the incidents as the API sends them (JSON objects), so both ways print alike."""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from quinto import humanize
from quinto.errors import UsageError
from quinto.spec.model import TableSpec
from quinto.store.records import IncidentRecord, IncidentState, Resolution, to_json
from quinto.workspace import Workspace


def check_kinds(specs: Iterable[TableSpec]) -> dict[tuple[str, str], tuple[str, str]]:
    """(table, check key) → (check type, threshold text) of the checks declared now: what an
    incident's numbers are in (rows, %, h)."""
    from quinto.evaluate import threshold_text

    return {(s.table, c.key): (c.type, threshold_text(c)) for s in specs for c in s.checks}


def described(found: Iterable[IncidentRecord], kinds: dict[tuple[str, str], tuple[str, str]]) -> list[IncidentRecord]:
    """The incidents with their last value in words, in the unit of the check as declared now
    (a bare number for a check no longer declared)."""
    from quinto.checks import judged_unit

    out = []
    for i in found:
        kind = kinds.get((i.table_name, i.check_key))
        unit = judged_unit(*kind) if kind else (humanize.VALUE, "")
        text = humanize.quantity(i.last_value, *unit) if i.last_value is not None else None
        out.append(dataclasses.replace(i, last_value_text=text))
    return out


def incidents(
    *,
    table: str | None = None,
    owner: str | None = None,
    every: bool = False,
    config: str | Path | None = None,
    via: str | None = None,
) -> list[dict[str, Any]]:
    """The open incidents (`every`: also the closed and resolved ones), newest first; `table` and
    `owner` (an owner named in the check files) filter."""
    if via is not None:
        from quinto.remote import call_api

        query = {"state": "all" if every else "open", "table": table or "", "owner": owner or ""}
        args = urllib.parse.urlencode({k: v for k, v in query.items() if v})
        found = call_api(via, f"/api/incidents?{args}").get("incidents")
        if not isinstance(found, list):
            raise UsageError("the server's answer has no incidents: is --via the address of a Quinto server?")
        return [i for i in found if isinstance(i, dict)]
    states = tuple(IncidentState) if every else (IncidentState.OPEN,)
    with Workspace.load(config) as ws:
        tables = ws.tables().suite().owned_by(owner) if owner else None
        rows = ws.store.incidents.find(table=table, tables=tables, states=states)
        return [to_json(r) for r in described(rows, check_kinds(ws.tables().suite().tables.values()))]


def acknowledge(
    incident_id: int,
    *,
    note: str | None = None,
    by: str | None = None,
    config: str | Path | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Someone is on it: the incident's reminders stop. Returns the incident."""
    if via is not None:
        from quinto.remote import call_api

        return call_api(via, f"/api/incidents/{int(incident_id)}/ack", {"note": note} if note else {})
    with Workspace.load(config) as ws:
        done = ws.store.incidents.acknowledge(incident_id, by, note)
        return dict(to_json(described([done], check_kinds(ws.tables().suite().tables.values()))[0]))


def resolve(
    incident_id: int,
    resolution: str,
    *,
    reason: str | None = None,
    by: str | None = None,
    config: str | Path | None = None,
    via: str | None = None,
) -> dict[str, Any]:
    """Resolve an incident as expected (its failing partitions are marked good) or as a defect
    (marked bad, kept out of baselines). Returns the incident."""
    if resolution not in tuple(Resolution):
        raise UsageError(f"an incident is resolved as 'expected' or 'defect', not {resolution!r}")
    if via is not None:
        from quinto.remote import call_api

        body: dict[str, Any] = {"as": resolution}
        if reason:
            body["reason"] = reason
        return call_api(via, f"/api/incidents/{int(incident_id)}/resolve", body)
    with Workspace.load(config) as ws:
        done = ws.store.incidents.resolve(incident_id, resolution, by, reason)
        return dict(to_json(described([done], check_kinds(ws.tables().suite().tables.values()))[0]))
