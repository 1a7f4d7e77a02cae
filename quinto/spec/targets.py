"""Notify targets (`slack:#channel`, `email:owners`, `webhook:ops`, ...) and the per-check alert level.

How a target is written after its prefix is the channel's to say (`quinto.alerts.channels`); the
registry is looked up when a target is parsed, so plugins' channels are known too."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from quinto.errors import closest, did_you_mean

if TYPE_CHECKING:
    from quinto.alerts.channels import Channel

LEVELS = ("fail", "warn")  # the lowest status that alerts; `notify: false` for none
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Target:
    channel: str  # the channel's name: "slack", "email", "webhook", ...
    address: str  # what follows it: "#channel", "owners", an email address, an endpoint's name

    def __str__(self) -> str:
        return f"{self.channel}:{self.address}"


def channels() -> Mapping[str, Channel]:
    """The channel registry (imported when first needed: channels render with the whole library)."""
    from quinto.alerts.channels import CHANNELS

    return CHANNELS


def target_forms() -> str:
    from quinto.alerts.channels import target_forms as forms

    return forms()


def parse_target(text: str) -> Target:
    """`slack:#dq` → Target; raises ValueError with a message that says what to write instead."""
    raw = text.strip()
    name, sep, address = raw.partition(":")
    name, address = name.strip().lower(), address.strip()
    registry = channels()
    if not sep:
        guesses = [g for c in registry.values() if (g := c.guess(raw)) is not None]
        best = max(guesses, key=lambda g: g[0], default=None)  # the first of the most confident
        hint = f" (did you mean '{best[1]}'?)" if best else ""
        raise ValueError(f"notify target '{raw}' names no channel{hint}; use {target_forms()}")
    if name not in registry:
        close = closest(name, list(registry))
        hint = f" (did you mean '{close}:{address}'?)" if close else ""
        raise ValueError(f"unknown notify channel '{name}' in '{raw}'{hint}; use {target_forms()}")
    return Target(name, registry[name].parse_address(address))


def target_problem(target: Target, owners: Sequence[str]) -> str | None:
    """What is wrong with a well-formed target for a table with these `owners:`, or None."""
    return channels()[target.channel].check_address(target.address, owners)


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
