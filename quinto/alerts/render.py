"""What every channel's message says about an alert group (an outbox payload): its headline, each
change's label and detail, the offending values it names, what a recovery or reminder follows, the
partition page's link. Pure functions; each channel module (`quinto.alerts.channels.*`) builds its
own message from them."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from quinto import humanize
from quinto.alerts.state import ERRORED, FAILING, RECOVERED, REMINDER
from quinto.checks import judged_unit
from quinto.evaluate import Status


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


#: thresholds written as a plain condition (`< 1`, `between 60 and 7200`): said as they were written
PLAIN = re.compile(r"^\s*(<=?|>=?|=|!=|<>|between |not between )")


def summary(change: Mapping[str, Any]) -> str:
    """What the check found, in words and the check's unit: `874 rows, expected 2,750–3,330 rows
    (−71.2 %)` (a learnt band: how far from its middle), `1 row, expected < 1`, `30 h, expected
    < 26h`; `no value` when it could not be computed."""
    threshold = str(change.get("threshold") or "")
    unit, noun = judged_unit(str(change.get("check_type") or ""), threshold)
    judged = change.get("judged")
    judged = change.get("value") if judged is None else judged
    if not isinstance(judged, (int, float)) or isinstance(judged, bool):
        return "no value"
    text = humanize.quantity(judged, unit, noun)
    if PLAIN.match(threshold):
        return f"{text}, expected {threshold.strip()}"
    low, high = change.get("band_low"), change.get("band_high")
    expected = humanize.expected(low, high, unit, noun)
    if not expected:
        return text
    text += f", expected {expected}"
    outside = (low is not None and judged < low) or (high is not None and judged > high)
    if unit in (humanize.COUNT, humanize.VALUE) and outside and change["kind"] != RECOVERED:
        ref = (low + high) / 2 if low is not None and high is not None else (high if low is None else low)
        if ref and ref > 0:
            text += f" ({humanize.signed_percent((judged - ref) / ref * 100)})"
    return text


def detail(change: Mapping[str, Any]) -> str:
    """`1 row, expected < 1 (1 is not < 1)`: the finding in words, then the check's own threshold
    (unless the summary said it) and message."""
    plain = PLAIN.match(str(change.get("threshold") or ""))  # already said by the summary
    said = [str(change[k]) for k in ("threshold", "message") if change.get(k) and not (plain and k == "threshold")]
    return f"{summary(change)} ({': '.join(said)})" if said else summary(change)


#: how many offending values a change names
TOP_SHOWN = 5
#: how many checks a headline of several changes names, and how much of each check's key
HEADLINE_NAMES, NAME_CHARS = 3, 40


def top_values(change: Mapping[str, Any]) -> str | None:
    """`top values of country in 20 sampled failing rows: 'XX' (12), 'ZZ' (5), NULL (3)`: the
    offending values the check type found among the failing rows fetched as samples (a key of
    several columns as `(42, 'tv')`). The counts are within those rows, which are capped, and the
    message says so. None when the change names none."""
    top = change.get("top_values")
    if not isinstance(top, Mapping) or not top.get("values"):
        return None
    columns = [str(c) for c in top.get("columns") or ()]
    several = len(columns) > 1
    of = f" of ({', '.join(columns)})" if several else f" of {columns[0]}" if columns else ""

    def shown(v: Any) -> str:
        return humanize.literal(tuple(v) if several and isinstance(v, list) else v)

    values = ", ".join(f"{shown(v.get('value'))} ({humanize.number(v.get('rows'))})" for v in top["values"][:TOP_SHOWN])
    n = top.get("rows_sampled")
    rows = "row" if n == 1 else "rows"
    return f"top values{of} in {humanize.number(n)} sampled failing {rows}: {values}"


def history(change: Mapping[str, Any], column: str | None = None) -> str | None:
    """What a recovery or a reminder follows, for a channel that cannot thread it with the alert
    that began it: `was failing since 2026-11-28 06:00 UTC; the incident began at ds=2026-11-25`.
    None for other changes, or when the payload knows neither (one queued by an older Quinto)."""
    kind = change["kind"]
    if kind not in (RECOVERED, REMINDER):
        return None
    said = []
    since = _time(change.get("since"))
    if since is not None:
        erring = change.get("previous") == "error" if kind == RECOVERED else change.get("status") == Status.ERROR
        state = "in error" if erring else "failing"
        said.append(f"{'was ' if kind == RECOVERED else ''}{state} since {humanize.when(since)}")
    first = change.get("incident_first_partition")
    if first:
        said.append(f"the incident began at {f'{column}={first}' if column else first}")
    return "; ".join(said) or None


def _time(text: Any) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _name(check: str) -> str:
    return check if len(check) <= NAME_CHARS else check[: NAME_CHARS - 1] + "\u2026"


def headline(payload: Mapping[str, Any]) -> str:
    """`dw.fact_playback ds=2026-11-27: row_count anomaly FAIL: 874 rows, expected ...` for one change;
    for several, counts that name the checks: `dw.t ds=2026-11-27: 2 failing (row_count anomaly,
    invalid_count(country) = 0), 1 recovered` (at most three names, then `+N more`)."""
    changes: Sequence[Mapping[str, Any]] = payload["changes"]
    parts = sorted({c["partition"] for c in changes})
    column = payload.get("partition_column")
    where = (f"{column}={parts[0]}" if column else parts[0]) if len(parts) == 1 else f"{len(parts)} partitions"
    if len(changes) == 1:  # what broke, in words: `dw.t ds=2026-11-27: row_count anomaly FAIL: 874 rows, ...`
        (c,) = changes
        return f"{payload['table']} {where}: {c['check']} {label(c)}: {summary(c)}"
    groups = {
        "failing": [c for c in changes if c["kind"] == FAILING],
        "still failing": [c for c in changes if c["kind"] == REMINDER and c["status"] != Status.ERROR],
        "in error": [c for c in changes if c["status"] == Status.ERROR and c["kind"] in (ERRORED, REMINDER)],
        "recovered": [c for c in changes if c["kind"] == RECOVERED],
    }
    said, left = [], HEADLINE_NAMES  # names go to new failures first, then reminders, errors, recoveries
    for what, group in groups.items():
        if not group:
            continue
        names = list(dict.fromkeys(str(c["check"]) for c in group))  # a check failing in two partitions: once
        named = [_name(n) for n in names[:left]]
        left -= len(named)
        if len(names) > len(named) and named:
            named.append(f"+{len(names) - len(named)} more")
        said.append(f"{len(group)} {what}" + (f" ({', '.join(named)})" if named else ""))
    return f"{payload['table']} {where}: {', '.join(said)}"


def by_partition(changes: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """The changes grouped by partition, partitions in order."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for c in changes:
        out.setdefault(c["partition"], []).append(c)
    return sorted(out.items())
