"""sqlglot, imported when a statement is first built: an audit whose statements all come from
the statement cache (quinto/stmtcache.py) never pays for it.

    from quinto.lazy import exp, sqlglot     # in place of `from sqlglot import exp` / `import sqlglot`

Type checkers see the real modules."""

from __future__ import annotations

import importlib
import types
from typing import TYPE_CHECKING, Any


class LazyModule(types.ModuleType):
    """A stand-in for a module that imports it on the first attribute read."""

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # introspection (copy, pickle, doctest) never loads the module
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self.__name__), attr)
        setattr(self, attr, value)  # read once: later reads are plain attribute reads
        return value


if TYPE_CHECKING:
    import sqlglot as sqlglot
    from sqlglot import exp as exp
else:
    sqlglot = LazyModule("sqlglot")
    exp = LazyModule("sqlglot.expressions")

__all__ = ["LazyModule", "exp", "sqlglot"]
