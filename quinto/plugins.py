"""The registries' one way to find their members: the built-ins, then installed packages' entry points."""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, Sequence
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from quinto.errors import QuintoError


@functools.cache
def _installed() -> Any:  # EntryPoints (3.12+) or SelectableGroups (3.11): both `select(group=)`
    """Every installed entry point, read once per process: reading them opens every installed
    distribution's metadata, and three registries (and the settings) ask."""
    return entry_points()


def entry_points_of(group: str) -> list[EntryPoint]:
    """The installed entry points of `group`, by name."""
    return sorted(_installed().select(group=group), key=lambda e: e.name)


def discovered(group: str, kind: str, builtin: Sequence[str] = ()) -> Iterator[tuple[object, str, str | None]]:
    """Each built-in (`module:attr`), then each entry point of `group` by name, loaded, as (the object,
    where it comes from, the entry point's name or None); a plugin that fails to load is a
    QuintoError naming it (`kind` says what it is), not a traceback."""
    for spec in builtin:
        module, _, attr = spec.partition(":")
        yield getattr(importlib.import_module(module), attr), spec, None
    for ep in entry_points_of(group):
        try:
            found = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is named, not a traceback
            raise QuintoError(f"{kind} plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from None
        yield found, f"{ep.value} (entry point '{ep.name}')", ep.name
