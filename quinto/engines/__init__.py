"""One connector per engine, chosen by the SQLAlchemy URL's scheme.

`CONNECTORS` holds the built-in engines. An installed package adds one by declaring an entry point
in the `quinto.engines` group, named after its URL scheme and naming a `Connector` subclass (its
pure `dialect` and its connection):

    [project.entry-points."quinto.engines"]
    litefile = "quinto_litefile:LiteFile"

`connectors()` is the built-ins and the plugins, loaded on first use. A built-in engine's module
(and so its driver and, for some, sqlglot) is imported only when a connection uses it.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Iterator, Mapping

from sqlalchemy.engine import make_url

from quinto.dialect import type_family
from quinto.engines.base import Connector, Statement
from quinto.errors import QuintoError, WarehouseError
from quinto.plugins import discovered

ENTRY_POINTS = "quinto.engines"

#: URL scheme → the built-in connector, as module:class
BUILTIN = {
    "duckdb": "quinto.engines.duckdb:DuckDBConnector",
    "postgresql": "quinto.engines.postgres:PostgresConnector",
    "postgres": "quinto.engines.postgres:PostgresConnector",
    "sqlite": "quinto.engines.sqlite:SQLiteConnector",
    "hive": "quinto.engines.hive:HiveConnector",
    "mysql": "quinto.engines.mysql:MySQLConnector",
    "mariadb": "quinto.engines.mysql:MySQLConnector",
    "trino": "quinto.engines.trino:TrinoConnector",
    "presto": "quinto.engines.presto:PrestoConnector",
}


class Builtins(Mapping[str, type[Connector]]):
    """URL scheme → built-in connector class, each module imported on first use."""

    def __getitem__(self, scheme: str) -> type[Connector]:
        module, _, name = BUILTIN[scheme].partition(":")
        cls: type[Connector] = getattr(importlib.import_module(module), name)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(BUILTIN)

    def __len__(self) -> int:
        return len(BUILTIN)


CONNECTORS: Mapping[str, type[Connector]] = Builtins()


@functools.cache
def connectors() -> dict[str, type[Connector]]:
    """URL scheme → connector: the built-ins, then installed packages' (`quinto.engines` entry points)."""
    found = dict(CONNECTORS)
    for cls, where, scheme in discovered(ENTRY_POINTS, "engine"):
        if not (isinstance(cls, type) and issubclass(cls, Connector)):
            raise QuintoError(f"engine plugin {where} is not a quinto.engines.Connector")
        found.setdefault(str(scheme), cls)  # a plugin never replaces a built-in engine
    return found


def connector_for(url: str, name: str = "warehouse") -> Connector:
    try:
        scheme = make_url(url).get_backend_name()
    except Exception:
        raise WarehouseError(f"connection '{name}': not a database URL: {url.split('@')[-1]!r}") from None
    cls = CONNECTORS[scheme] if scheme in BUILTIN else connectors().get(scheme)
    if cls is None:
        known = connectors()
        raise WarehouseError(
            f"connection '{name}': no connector for '{scheme}'; supported: {', '.join(sorted(set(known)))}"
        )
    return cls(url=url, name=name)


__all__ = [
    "BUILTIN",
    "CONNECTORS",
    "ENTRY_POINTS",
    "Connector",
    "Statement",
    "connector_for",
    "connectors",
    "type_family",
]
