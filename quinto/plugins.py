"""The registries' one way to find their members: the built-ins, then installed packages' entry points."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Sequence
from importlib.metadata import entry_points

from quinto.errors import QuintoError


def discovered(group: str, kind: str, builtin: Sequence[str] = ()) -> Iterator[tuple[object, str, str | None]]:
    """Each built-in (`module:attr`), then each entry point of `group` by name, loaded, as (the object,
    where it comes from, the entry point's name or None); a plugin that fails to load is a
    QuintoError naming it (`kind` says what it is), not a traceback."""
    for spec in builtin:
        module, _, attr = spec.partition(":")
        yield getattr(importlib.import_module(module), attr), spec, None
    for ep in sorted(entry_points(group=group), key=lambda e: e.name):
        try:
            found = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is named, not a traceback
            raise QuintoError(f"{kind} plugin '{ep.name}' ({ep.value}) failed to load: {exc}") from None
        yield found, f"{ep.value} (entry point '{ep.name}')", ep.name
