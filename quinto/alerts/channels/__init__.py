"""Alert channels: one module each, behind the protocol of `quinto.alerts.channels.base.Channel`.

`CHANNELS` maps a target prefix (`slack`, `email`, `webhook`, `teams`, `pagerduty`, ...) to its
channel. It holds the built-in channels and those of installed packages, which declare an entry
point in the `quinto.channels` group naming a `Channel` subclass:

    [project.entry-points."quinto.channels"]
    echo = "quinto_echo:Echo"

The registry is filled on first use, so importing it costs nothing and a plugin may import Quinto.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from quinto.alerts.channels.base import Channel, Delivery, DeliveryError, Outgoing
from quinto.errors import QuintoError
from quinto.plugins import discovered
from quinto.settings import BY_NAME

ENTRY_POINTS = "quinto.channels"
BUILTIN = (
    "quinto.alerts.channels.slack:Slack",
    "quinto.alerts.channels.email:Email",
    "quinto.alerts.channels.webhook:Webhook",
    "quinto.alerts.channels.teams:Teams",
    "quinto.alerts.channels.pagerduty:PagerDuty",
)
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,15}$")  # the outbox's channel column holds 16 characters


class Registry(Mapping[str, Channel]):
    """name → Channel, in order: the built-ins, then plugins by name."""

    def __init__(self) -> None:
        self._channels: dict[str, Channel] | None = None

    def _load(self) -> dict[str, Channel]:
        if self._channels is None:
            channels: dict[str, Channel] = {}
            for found, where, declared in discovered(ENTRY_POINTS, "alert channel", BUILTIN):
                _add(channels, found, where, declared)
            self._channels = channels
        return self._channels

    def __getitem__(self, name: str) -> Channel:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def sections(self) -> dict[str, Channel]:
        """quinto.yaml section → its channel (`smtp` → email)."""
        return {c.section_name: c for c in self._load().values()}

    def reload(self) -> None:
        """Forget what was loaded (after installing a plugin in a running process)."""
        self._channels = None


def _add(channels: dict[str, Channel], found: object, where: str, declared: str | None = None) -> None:
    channel = found() if isinstance(found, type) and issubclass(found, Channel) else found
    if not isinstance(channel, Channel):
        raise QuintoError(f"alert channel {where} is not a quinto.alerts.channels.Channel")
    if not _NAME.match(channel.name) or (declared is not None and declared != channel.name):
        raise QuintoError(
            f"alert channel {where} is named '{channel.name}'; a channel's name is lower-case letters, digits, "
            "'-' or '_' (at most 16) and the same as its entry point's"
        )
    if channel.name in channels:
        raise QuintoError(f"alert channel {where} is named '{channel.name}', which another channel already is")
    taken = {*BY_NAME, *(c.section_name for c in channels.values())}
    if channel.section_name in taken:
        raise QuintoError(f"alert channel {where} claims the section '{channel.section_name}' of quinto.yaml, taken")
    channels[channel.name] = channel


CHANNELS = Registry()


def target_forms() -> str:
    """`slack:#channel, email:owners, ... or pagerduty:NAME`: how targets are written."""
    forms = [f for c in CHANNELS.values() for f in c.forms]
    return ", ".join(forms[:-1]) + " or " + forms[-1] if len(forms) > 1 else "".join(forms)


__all__ = ["CHANNELS", "Channel", "Delivery", "DeliveryError", "Outgoing", "Registry", "target_forms"]
