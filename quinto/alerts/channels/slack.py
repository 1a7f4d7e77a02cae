"""Slack: `slack:#channel`, posted as Block Kit JSON to the channel's incoming webhook.

quinto.yaml maps each channel to its webhook URL, a secret read from the environment:
`slack: {"#dq-alerts": ${SLACK_DQ_ALERTS_WEBHOOK}}`. An incoming webhook cannot reply in a thread,
so a recovery or a reminder says what it follows instead: a link to the incident page, since when
the check failed and the partition its incident began at."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from quinto.alerts.channels.base import Channel, Delivery, DeliveryError, Outgoing, env_name, expand, http_url, post
from quinto.alerts.render import (
    by_partition,
    detail,
    headline,
    history,
    incident_link,
    label,
    partition_url,
    top_values,
)
from quinto.settings import Setting

SLACK_CHANNEL = re.compile(r"^#[a-z0-9][a-z0-9._-]{0,79}$")
SLACK_MAX_BLOCKS = 50
SLACK_MAX_TEXT = 2900  # a section's text is at most 3000 characters
SLACK_MAX_HEADER = 150  # a header's text is at most 150 characters
INDENT = "\u2003\u2003"  # two em spaces: Slack keeps them at the start of a line, unlike plain spaces


class Slack(Channel):
    name = "slack"
    title = "Slack"
    forms = ("slack:#channel",)
    required = ("url",)
    keys: ClassVar[tuple[Setting, ...]] = (
        Setting("url", None, str, "The channel's incoming-webhook URL, only as `${VAR}`.", kind="secret"),
    )
    help = (
        'Slack channels: `"#channel"` → incoming-webhook URL, from the environment only (e.g. `${SLACK_DQ_WEBHOOK}`).'
    )

    def parse_address(self, address: str) -> str:
        if not address.startswith("#") and SLACK_CHANNEL.match("#" + address):
            raise ValueError(f"a Slack channel starts with '#': did you mean 'slack:#{address}'?")
        if not SLACK_CHANNEL.match(address):
            raise ValueError(
                f"'{address}' is not a Slack channel name: '#' then lower-case letters, digits, '-', '_' or '.'"
            )
        return address

    def guess(self, raw: str) -> tuple[int, str] | None:
        return (2 if raw.startswith("#") else 1), f"slack:#{raw.lstrip('#')}"

    def endpoint_name(self, key: str) -> str:
        channel = key if key.startswith("#") else f"#{key}"
        if not SLACK_CHANNEL.match(channel):
            raise ValueError(f"'{key}' is not a Slack channel name like \"#dq-alerts\" (quoted in YAML)")
        return channel

    def secret_message(self, endpoint: str | None, key: str) -> str:
        var = env_name("slack", (endpoint or "").lstrip("#"), "webhook")
        return (
            f"the webhook URL of Slack channel '{endpoint}' is a secret; read it from the environment, e.g. ${{{var}}}"
        )

    def unknown_endpoint(self, address: str, hint: str) -> str:
        return (
            f"unknown Slack channel '{address}'{hint}; channels and their webhooks are declared under `slack:` "
            "in quinto.yaml"
        )

    def render(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        return render_slack(payload)

    def send(self, message: Outgoing, settings: Mapping[str, Any]) -> Delivery:
        channel = message.target
        webhook = self.config(channel, settings).get("url") if channel in self.endpoints(settings) else None
        if not webhook:
            raise DeliveryError(f"Slack channel '{channel}' has no webhook under `slack:` in quinto.yaml", down=True)
        url = http_url(expand(webhook, f"Slack channel '{channel}'"), f"the webhook of Slack channel '{channel}'")
        body = json.dumps(self.render(message.payload)).encode("utf-8")
        post(url, body, label="Slack", target=channel)
        return Delivery()


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
    header = title if len(title) <= SLACK_MAX_HEADER else title[: SLACK_MAX_HEADER - 1] + "\u2026"
    blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": header}}]
    sections = [(item, part, changes) for item in items for part, changes in by_partition(item["changes"])]
    room = SLACK_MAX_BLOCKS - 3
    for item, part, changes in sections[:room]:
        column = item.get("partition_column")
        shown = f"{column}={part}" if column else part
        url = partition_url(item.get("base_url") or "", item["table"], part)
        head = f"*{slack_escape(item['table'])}* <{url}|{slack_escape(shown)}>"
        lines = []
        for c in changes:
            link = incident_link(item.get("base_url") or "", c)
            follows = history(c, column)
            more = f" <{link[1]}|{link[0]}>" if link and not follows else ""
            lines.append(f"*{label(c)}* `{slack_escape(c['check'])}`: {slack_escape(detail(c))}{more}")
            top = top_values(c)
            if top:
                lines.append(f"{INDENT}{slack_escape(top)}")
            if follows:  # no thread to reply in: say what this follows, and link it
                what = f"follows <{link[1]}|{link[0]}>: " if link else ""
                lines.append(f"{INDENT}{what}{slack_escape(follows)}")
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
