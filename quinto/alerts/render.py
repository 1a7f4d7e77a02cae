"""What every channel's message says about an alert group (an outbox payload): its headline, each
change's label and detail, the partition page's link. Pure functions; each channel module
(`quinto.alerts.channels.*`) builds its own message from them."""

from __future__ import annotations

import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from quinto.alerts.state import ERRORED, FAILING, RECOVERED, REMINDER
from quinto.checks import display_unit
from quinto.evaluate import Status, fmt


def partition_url(base_url: str, table: str, partition: str) -> str:
    """The partition page of the web UI: `{base_url}/tables/<table>/partitions/<partition>`."""
    quote = urllib.parse.quote
    return f"{base_url.rstrip('/')}/tables/{quote(table, safe='')}/partitions/{quote(partition, safe='')}"


def incident_url(base_url: str, incident: int) -> str:
    """The incident page of the web UI: `{base_url}/incidents/<id>`."""
    return f"{base_url.rstrip('/')}/incidents/{int(incident)}"


def incident_link(base_url: str, change: Mapping[str, Any]) -> tuple[str, str] | None:
    """(`incident 7`, its page) for a change that belongs to an incident, else None."""
    incident = change.get("incident")
    if not isinstance(incident, int) or isinstance(incident, bool):
        return None
    return f"incident {incident}", incident_url(base_url, incident)


def label(change: Mapping[str, Any]) -> str:
    """FAIL, WARN, ERROR, RECOVERED, or STILL FAIL / STILL ERROR for a reminder."""
    if change["kind"] == RECOVERED:
        return "RECOVERED"
    if change["kind"] == REMINDER:
        return f"STILL {change['status']}"
    return str(change["status"])


def detail(change: Mapping[str, Any]) -> str:
    """`value 0, threshold > 0 (band 3-9): 0 is not > 0`."""
    unit = display_unit(str(change.get("check_type") or ""))
    value = change.get("value")
    parts = [f"value {fmt(value, unit)}" if value is not None else "no value"]
    if change.get("threshold"):
        parts.append(f"threshold {change['threshold']}")
    low, high = change.get("band_low"), change.get("band_high")
    if low is not None or high is not None:
        lo = fmt(low, unit) if low is not None else "-inf"
        hi = fmt(high, unit) if high is not None else "+inf"
        parts.append(f"band {lo} to {hi}")
    text = ", ".join(parts)
    message = str(change.get("message") or "")
    return f"{text}: {message}" if message else text


def headline(payload: Mapping[str, Any]) -> str:
    """`dw.fact_playback ds=2026-11-27: 2 failing, 1 recovered`."""
    changes: Sequence[Mapping[str, Any]] = payload["changes"]
    parts = sorted({c["partition"] for c in changes})
    column = payload.get("partition_column")
    where = (f"{column}={parts[0]}" if column else parts[0]) if len(parts) == 1 else f"{len(parts)} partitions"
    errors = [c for c in changes if c["status"] == Status.ERROR and c["kind"] in (ERRORED, REMINDER)]
    counts = {
        "failing": sum(1 for c in changes if c["kind"] == FAILING),
        "still failing": sum(1 for c in changes if c["kind"] == REMINDER and c["status"] != Status.ERROR),
        "in error": len(errors),
        "recovered": sum(1 for c in changes if c["kind"] == RECOVERED),
    }
    summary = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    return f"{payload['table']} {where}: {summary}"


def by_partition(changes: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The changes grouped by partition, partitions in order."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for c in changes:
        out.setdefault(c["partition"], []).append(c)
    return sorted(out.items())
