"""One connector per engine, chosen by the SQLAlchemy URL's scheme.

`CONNECTORS` holds the built-in engines. An installed package adds one by declaring an entry point
in the `quinto.engines` group, named after its URL scheme and naming a `Connector` subclass (its
pure `dialect` and its connection):

    [project.entry-points."quinto.engines"]
    litefile = "quinto_litefile:LiteFile"

`connectors()` is the built-ins and the plugins, loaded on first use.
"""

from __future__ import annotations

import functools

from sqlalchemy.engine import make_url

from quinto.dialect import type_family
from quinto.engines.base import Connector, Statement
from quinto.engines.duckdb import DuckDBConnector
from quinto.engines.hive import HiveConnector
from quinto.engines.mysql import MySQLConnector
from quinto.engines.postgres import PostgresConnector
from quinto.engines.presto import PrestoConnector
from quinto.engines.sqlite import SQLiteConnector
from quinto.engines.trino import TrinoConnector
from quinto.errors import QuintoError, WarehouseError
from quinto.plugins import discovered

ENTRY_POINTS = "quinto.engines"

CONNECTORS: dict[str, type[Connector]] = {
    "duckdb": DuckDBConnector,
    "postgresql": PostgresConnector,
    "postgres": PostgresConnector,
    "sqlite": SQLiteConnector,
    "hive": HiveConnector,
    "mysql": MySQLConnector,
    "mariadb": MySQLConnector,
    "trino": TrinoConnector,
    "presto": PrestoConnector,
}


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
    known = connectors()
    cls = known.get(scheme)
    if cls is None:
        raise WarehouseError(
            f"connection '{name}': no connector for '{scheme}'; supported: {', '.join(sorted(set(known)))}"
        )
    return cls(url=url, name=name)


__all__ = ["CONNECTORS", "ENTRY_POINTS", "Connector", "Statement", "connector_for", "connectors", "type_family"]
