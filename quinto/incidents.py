"""What `quinto incidents`, `quinto ack` and `quinto resolve` do, as library functions: through the
project's store, or with `via` through a Quinto server's API (with the token of QUINTO_API_TOKEN).
Each answers with the incidents as the API sends them (JSON objects), so both ways print alike."""

from __future__ import annotations

import urllib.parse
from pathlib import Path
from typing import Any

from quinto.errors import UsageError
from quinto.store.records import IncidentState, Resolution, to_json
from quinto.workspace import Workspace


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
        return [to_json(r) for r in rows]


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
        return dict(to_json(ws.store.incidents.acknowledge(incident_id, by, note)))


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
        return dict(to_json(ws.store.incidents.resolve(incident_id, resolution, by, reason)))
