"""PagerDuty Events API v2: `pagerduty:NAME`. Each changed check is one incident, keyed by its
dedup key (table, partition and check): FAILING, ERROR and reminders send `trigger`, RECOVERED sends
`resolve` with the same key, so the incident a failure opened is the one its recovery closes.

quinto.yaml: `pagerduty: {dq: {routing_key: ${PAGERDUTY_DQ_KEY}}}`; `url` is the events endpoint
(PagerDuty's by default). Events are idempotent by dedup key, so a row sent again (after a 5xx on
its second event, or a crash) repeats its events harmlessly. PagerDuty alerts per run, never in a
daily digest."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from quinto.alerts.channels.base import Channel, Delivery, Outgoing, expand, http_url, post
from quinto.alerts.render import detail, label, partition_url
from quinto.alerts.state import RECOVERED
from quinto.evaluate import Status
from quinto.settings import Setting

EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
SEVERITY: dict[str, str] = {Status.FAIL: "error", Status.WARN: "warning", Status.ERROR: "error"}
MAX_KEY = 255  # PagerDuty's limit on a dedup key
MAX_SUMMARY = 1024


def dedup_key(table: str, partition: str, check: str) -> str:
    """One key per (table, partition, check): readable when it fits, else hashed."""
    key = f"quinto/{table}/{partition}/{check}"
    if len(key) <= MAX_KEY:
        return key
    digest = hashlib.sha256(json.dumps([table, partition, check]).encode("utf-8")).hexdigest()
    return f"quinto/{table[:150]}/{digest}"


class PagerDuty(Channel):
    name = "pagerduty"
    title = "PagerDuty"
    forms = ("pagerduty:NAME",)
    digests = False
    ordered = True
    required = ("routing_key",)
    keys: ClassVar[tuple[Setting, ...]] = (
        Setting(
            "routing_key", None, str, "The integration's routing key (Events API v2), only as `${VAR}`.", kind="secret"
        ),
        Setting("url", EVENTS_URL, str, "The Events API v2 endpoint."),
    )
    help = "PagerDuty services: name → `routing_key` (from the environment) and `url` (`pagerduty:NAME` in `notify:`)."

    def render(self, payload: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The events of an alert group, without the routing key: a trigger or a resolve per change."""
        items = payload["items"] if "items" in payload else [payload]
        return [event(item, change) for item in items for change in item["changes"]]

    def send(self, message: Outgoing, settings: Mapping[str, Any]) -> Delivery:
        keys = self.config(message.target, settings)
        what = f"PagerDuty '{message.target}'"
        if not keys.get("routing_key"):
            raise self.missing(message.target, "routing_key")
        routing_key = expand(keys["routing_key"], what)
        url = http_url(expand(keys.get("url") or EVENTS_URL, what), f"the events URL of {what}")
        sent = []
        for ev in self.render(message.payload):
            body = json.dumps({"routing_key": routing_key, **ev}).encode("utf-8")
            post(url, body, label="PagerDuty", target=message.target, secrets=[routing_key])  # 202: accepted
            sent.append(f"{ev['event_action']} {ev['dedup_key']}")
        return Delivery(details=tuple(sent))


def event(item: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    key = dedup_key(item["table"], change["partition"], change["check"])
    if change["kind"] == RECOVERED:
        return {"event_action": "resolve", "dedup_key": key}
    column = item.get("partition_column")
    shown = f"{column}={change['partition']}" if column else change["partition"]
    base_url = item.get("base_url") or ""
    summary = f"{label(change)} {item['table']} {shown} {change['check']}: {detail(change)}"
    out: dict[str, Any] = {
        "event_action": "trigger",
        "dedup_key": key,
        "payload": {
            "summary": summary[:MAX_SUMMARY],
            "source": item["table"],
            "severity": SEVERITY.get(str(change["status"]), "error"),
            "timestamp": item.get("at"),
            "component": item["table"],
            "group": shown,
            "class": change.get("check_type") or "check",
            "custom_details": {
                "check": change["check"],
                "partition": change["partition"],
                "status": change["status"],
                "value": change.get("value"),
                "threshold": change.get("threshold"),
                "message": change.get("message"),
                "top_values": change.get("top_values"),
                "owners": item.get("owners") or [],
                "run_id": item.get("run_id"),
            },
        },
        "client": "Quinto",
    }
    if base_url:
        out["client_url"] = base_url
        out["links"] = [{"href": partition_url(base_url, item["table"], change["partition"]), "text": shown}]
    if out["payload"]["timestamp"] is None:
        del out["payload"]["timestamp"]
    return out
