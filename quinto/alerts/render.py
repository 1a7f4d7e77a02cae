"""An outbox payload as a message: Slack Block Kit JSON, or an email's subject, text and HTML.
Pure functions; the same payload always renders to the same message."""

from __future__ import annotations

import html
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

from quinto.alerts.state import ERRORED, FAILING, RECOVERED, REMINDER
from quinto.checks import display_unit
from quinto.evaluate import fmt

SLACK_MAX_BLOCKS = 50
SLACK_MAX_TEXT = 2900  # a section's text is at most 3000 characters


def partition_url(base_url: str, table: str, partition: str) -> str:
    """The partition page of the web UI: `{base_url}/tables/<table>/partitions/<partition>`."""
    quote = urllib.parse.quote
    return f"{base_url.rstrip('/')}/tables/{quote(table, safe='')}/partitions/{quote(partition, safe='')}"


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
    errors = [c for c in changes if c["status"] == "ERROR" and c["kind"] in (ERRORED, REMINDER)]
    counts = {
        "failing": sum(1 for c in changes if c["kind"] == FAILING),
        "still failing": sum(1 for c in changes if c["kind"] == REMINDER and c["status"] != "ERROR"),
        "in error": len(errors),
        "recovered": sum(1 for c in changes if c["kind"] == RECOVERED),
    }
    summary = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
    return f"{payload['table']} {where}: {summary}"


def _by_partition(changes: Sequence[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    out: dict[str, list[Mapping[str, Any]]] = {}
    for c in changes:
        out.setdefault(c["partition"], []).append(c)
    return sorted(out.items())


# -- email ------------------------------------------------------------------------------------------
def render_email(payload: Mapping[str, Any]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of an alert or a digest payload. Every value in the HTML is escaped."""
    if "items" in payload:
        return _digest_email(payload)
    subject = f"[Quinto] {headline(payload)}"
    text, body = _alert_parts(payload)
    return subject, text, _html_page(subject, body)


def _alert_parts(payload: Mapping[str, Any]) -> tuple[str, str]:
    """The plain-text and HTML body of one table's changes."""
    e = html.escape
    table, column = payload["table"], payload.get("partition_column")
    lines = [headline(payload), ""]
    body = [f"<h2>{e(headline(payload))}</h2>"]
    for part, changes in _by_partition(payload["changes"]):
        url = partition_url(payload.get("base_url") or "", table, part)
        shown = f"{column}={part}" if column else part
        lines.append(f"{shown}  {url}")
        body.append(f'<h3><a href="{e(url)}">{e(shown)}</a></h3><table>')
        for c in changes:
            lines.append(f"  {label(c):<11} {c['check']}: {detail(c)}")
            body.append(
                f"<tr><td><b>{e(label(c))}</b></td><td><code>{e(c['check'])}</code></td><td>{e(detail(c))}</td></tr>"
            )
        body.append("</table>")
        lines.append("")
    owners = ", ".join(payload.get("owners") or []) or "none declared"
    lines.append(f"Owners: {owners}")
    lines.append(f"Run {payload.get('run_id')}")
    body.append(f"<p>Owners: {e(owners)}<br>Run {e(str(payload.get('run_id')))}</p>")
    return "\n".join(lines) + "\n", "\n".join(body)


def _digest_email(payload: Mapping[str, Any]) -> tuple[str, str, str]:
    items: Sequence[Mapping[str, Any]] = payload["items"]
    n = sum(len(i["changes"]) for i in items)
    tables = sorted({i["table"] for i in items})
    subject = f"[Quinto] digest {payload['day']}: {n} state change(s) in {', '.join(tables)}"
    texts, bodies = [], []
    for item in items:
        text, body = _alert_parts(item)
        texts.append(text)
        bodies.append(body)
    return subject, "\n".join(texts), _html_page(subject, "<hr>".join(bodies))


def _html_page(title: str, body: str) -> str:
    return f"<!doctype html><html><head><title>{html.escape(title)}</title></head><body>{body}</body></html>\n"


# -- Slack --------------------------------------------------------------------------------------------
def slack_escape(text: str) -> str:
    """Slack's mrkdwn reserves &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render_slack(payload: Mapping[str, Any]) -> dict[str, Any]:
    """Block Kit JSON for an incoming webhook: a header, one section per partition with a link to
    its page, the owners in a context block; `text` is the notification fallback."""
    if "items" in payload:
        title = f"Quinto digest {payload['day']}"
        items: Sequence[Mapping[str, Any]] = payload["items"]
    else:
        title = headline(payload)
        items = [payload]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    sections = [(item, part, changes) for item in items for part, changes in _by_partition(item["changes"])]
    room = SLACK_MAX_BLOCKS - 3
    for item, part, changes in sections[:room]:
        column = item.get("partition_column")
        shown = f"{column}={part}" if column else part
        url = partition_url(item.get("base_url") or "", item["table"], part)
        head = f"*{slack_escape(item['table'])}* <{url}|{slack_escape(shown)}>"
        lines = [f"*{label(c)}* `{slack_escape(c['check'])}`: {slack_escape(detail(c))}" for c in changes]
        text = "\n".join([head, *lines])
        if len(text) > SLACK_MAX_TEXT:
            text = text[: SLACK_MAX_TEXT - 30] + "\n... (more on the partition page)"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if len(sections) > room:
        more = f"... and {len(sections) - room} more partition(s)"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": more}})
    owners = sorted({o for item in items for o in item.get("owners") or []})
    who = "Owners: " + slack_escape(", ".join(owners) or "none declared")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": who}]})
    return {"text": title, "blocks": blocks}
