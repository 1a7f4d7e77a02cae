"""Microsoft Teams: `teams:NAME`, an Adaptive Card posted to a Teams Workflows webhook (or a
classic incoming webhook): a message whose one attachment is the card.

quinto.yaml: `teams: {dq-playback: {url: ${TEAMS_DQ_PLAYBACK_URL}}}` (the URL carries its own
signature: a secret). The card has the headline, one container per partition (its checks as facts,
a link to its page) and the owners. Teams answers 200 or 202; 5xx, 429 and connection failures are
retried through the outbox."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from quinto.alerts.channels.base import Channel, Delivery, Outgoing, expand, http_url, post
from quinto.alerts.render import by_partition, detail, headline, history, label, partition_url, top_values
from quinto.settings import Setting

CARD_VERSION = "1.4"  # the highest every Teams client renders
MAX_SECTIONS = 20  # partitions shown; a Teams message is at most about 28 KB
MAX_FACTS = 15  # checks shown per partition


class Teams(Channel):
    name = "teams"
    title = "Microsoft Teams"
    forms = ("teams:NAME",)
    required = ("url",)
    keys: ClassVar[tuple[Setting, ...]] = (
        Setting("url", None, str, "The Workflows (or incoming) webhook URL, only as `${VAR}`.", kind="secret"),
    )
    help = "Microsoft Teams channels: name → `url` of its webhook, from the environment (`teams:NAME` in `notify:`)."

    def render(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card(payload)}
            ],
        }

    def send(self, message: Outgoing, settings: Mapping[str, Any]) -> Delivery:
        keys = self.config(message.target, settings)
        what = f"Teams channel '{message.target}'"
        if not keys.get("url"):
            raise self.missing(message.target, "url")
        url = http_url(expand(keys["url"], what), f"the webhook of {what}")
        body = json.dumps(self.render(message.payload)).encode("utf-8")
        status, _ = post(url, body, label="Teams", target=message.target)
        return Delivery(details=(f"HTTP {status}",))


def said(change: Mapping[str, Any], column: str | None) -> str:
    """A fact's value: the detail, the offending values it names, what a recovery follows (a
    Teams webhook cannot reply to the first alert either), a line each."""
    return "\n\n".join(n for n in (detail(change), top_values(change), history(change, column)) if n)


def card(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The Adaptive Card of an alert group or a digest."""
    if "items" in payload:
        title = f"Quinto digest {payload['day']}"
        items: Sequence[Mapping[str, Any]] = payload["items"]
    else:
        title = headline(payload)
        items = [payload]
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title, "weight": "Bolder", "size": "Medium", "wrap": True, "style": "heading"}
    ]
    sections = [(item, part, changes) for item in items for part, changes in by_partition(item["changes"])]
    for item, part, changes in sections[:MAX_SECTIONS]:
        column = item.get("partition_column")
        shown = f"{column}={part}" if column else part
        url = partition_url(item.get("base_url") or "", item["table"], part)
        facts = [{"title": f"{label(c)} {c['check']}", "value": said(c, column)} for c in changes[:MAX_FACTS]]
        if len(changes) > MAX_FACTS:
            facts.append({"title": "...", "value": f"{len(changes) - MAX_FACTS} more on the partition page"})
        body.append(
            {
                "type": "Container",
                "separator": True,
                "items": [
                    {"type": "TextBlock", "text": f"**{item['table']}** {shown}", "wrap": True},
                    {"type": "FactSet", "facts": facts},
                    {
                        "type": "ActionSet",
                        "actions": [{"type": "Action.OpenUrl", "title": f"Open {shown}", "url": url}],
                    },
                ],
            }
        )
    if len(sections) > MAX_SECTIONS:
        body.append({"type": "TextBlock", "text": f"... and {len(sections) - MAX_SECTIONS} more partition(s)"})
    owners = sorted({o for item in items for o in item.get("owners") or []})
    body.append(
        {
            "type": "TextBlock",
            "text": "Owners: " + (", ".join(owners) or "none declared"),
            "isSubtle": True,
            "wrap": True,
        }
    )
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "Full"},
    }
