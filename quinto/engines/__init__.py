"""One connector per engine, chosen by the SQLAlchemy URL's scheme."""

from __future__ import annotations

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
from quinto.errors import WarehouseError

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


def connector_for(url: str, name: str = "warehouse") -> Connector:
    try:
        scheme = make_url(url).get_backend_name()
    except Exception:
        raise WarehouseError(f"connection '{name}': not a database URL: {url.split('@')[-1]!r}") from None
    cls = CONNECTORS.get(scheme)
    if cls is None:
        raise WarehouseError(
            f"connection '{name}': no connector for '{scheme}'; supported: {', '.join(sorted(set(CONNECTORS)))}"
        )
    return cls(url=url, name=name)


__all__ = ["CONNECTORS", "Connector", "Statement", "connector_for", "type_family"]
