"""Quinto: data-quality audits for partitioned warehouse tables.

import quinto
result = quinto.audit("dw.fact_playback", "ds=2026-11-27")
result.exit_code, [o.status for o in result.outcomes]

The public names are imported on first use (PEP 562): `quinto audit --via URL` and other thin
commands start without loading the engine, the store and their libraries.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → the module that defines it
_PUBLIC = {
    "AuditResult": "quinto.audit",
    "Outcome": "quinto.results",
    "QuintoError": "quinto.errors",
    "Run": "quinto.results",
    "SpecError": "quinto.errors",
    "Status": "quinto.evaluate",
    "StoreError": "quinto.errors",
    "UsageError": "quinto.errors",
    "Validation": "quinto.validation",
    "WarehouseError": "quinto.errors",
    "Workspace": "quinto.workspace",
    "audit": "quinto.app",
    "load_project": "quinto.spec",
    "load_suite": "quinto.spec",
    "validate": "quinto.validation",
}

if TYPE_CHECKING:
    from quinto.app import audit
    from quinto.audit import AuditResult
    from quinto.errors import QuintoError, SpecError, StoreError, UsageError, WarehouseError
    from quinto.evaluate import Status
    from quinto.results import Outcome, Run
    from quinto.spec import load_project, load_suite
    from quinto.validation import Validation, validate
    from quinto.workspace import Workspace


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'quinto' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # read once: later reads are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_PUBLIC])


class _Package(types.ModuleType):
    """`quinto.audit` is the function, though a submodule has that name too: importing a submodule
    binds it on its package, which used to happen before this file bound the function over it and
    now happens whenever `quinto.audit` (the module) is first imported. A submodule never replaces
    a public name."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PUBLIC and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


__all__ = [
    "AuditResult",
    "Outcome",
    "QuintoError",
    "Run",
    "SpecError",
    "Status",
    "StoreError",
    "UsageError",
    "Validation",
    "WarehouseError",
    "Workspace",
    "audit",
    "load_project",
    "load_suite",
    "validate",
]
