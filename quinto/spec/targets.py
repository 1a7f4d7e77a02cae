"""Notify targets (`slack:#channel`, `email:owners`, `email:a@b.c`) and the per-check alert level."""

from __future__ import annotations

import re
from dataclasses import dataclass

from quinto.errors import closest, did_you_mean

CHANNELS = ("slack", "email")
LEVELS = ("fail", "warn")  # the lowest status that alerts; `notify: false` for none
SLACK_CHANNEL = re.compile(r"^#[a-z0-9][a-z0-9._-]{0,79}$")
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
TARGET_FORMS = "slack:#channel, email:owners or email:name@example.com"


@dataclass(frozen=True)
class Target:
    channel: str  # "slack" or "email"
    address: str  # "#channel", "owners" or an email address

    def __str__(self) -> str:
        return f"{self.channel}:{self.address}"


def parse_target(text: str) -> Target:
    """`slack:#dq` → Target; raises ValueError with a message that says what to write instead."""
    raw = text.strip()
    channel, sep, address = raw.partition(":")
    channel, address = channel.strip().lower(), address.strip()
    if not sep:
        guess = "email:owners" if raw == "owners" else f"email:{raw}" if "@" in raw else f"slack:#{raw.lstrip('#')}"
        raise ValueError(f"notify target '{raw}' names no channel (did you mean '{guess}'?); use {TARGET_FORMS}")
    if channel not in CHANNELS:
        close = closest(channel, CHANNELS)
        hint = f" (did you mean '{close}:{address}'?)" if close else ""
        raise ValueError(f"unknown notify channel '{channel}' in '{raw}'{hint}; use {TARGET_FORMS}")
    if channel == "slack":
        if not address.startswith("#") and SLACK_CHANNEL.match("#" + address):
            raise ValueError(f"a Slack channel starts with '#': did you mean 'slack:#{address}'?")
        if not SLACK_CHANNEL.match(address):
            raise ValueError(
                f"'{address}' is not a Slack channel name: '#' then lower-case letters, digits, '-', '_' or '.'"
            )
        return Target("slack", address)
    if address == "owners":
        return Target("email", "owners")
    if not EMAIL.match(address):
        hint = did_you_mean(address, ["owners"])
        raise ValueError(f"'{address}' is neither an email address nor 'owners'{hint}")
    return Target("email", address)


def parse_level(value: object) -> str | None:
    """A check's `notify:` option → "fail", "warn" or None (never alerts); raises ValueError."""
    if value is True:
        return "fail"
    if value is False:
        return None
    if isinstance(value, str) and value.strip().lower() in LEVELS:
        return value.strip().lower()
    hint = did_you_mean(str(value).lower(), [*LEVELS, "false"]) if isinstance(value, str) else ""
    raise ValueError(
        f"`notify:` is false (no alerts), 'fail' (the default: FAIL alerts) or 'warn' (WARN and FAIL alert), "
        f"not {value!r}{hint}"
    )
