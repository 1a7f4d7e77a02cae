from __future__ import annotations

import math
import re
from typing import Any, ClassVar

from quinto.dialect import Dialect
from quinto.engines.base import Connector


class _StddevSamp:
    def __init__(self) -> None:
        self.n, self.mean, self.m2 = 0, 0.0, 0.0

    def step(self, value: Any) -> None:
        if value is None:
            return
        self.n += 1
        delta = float(value) - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (float(value) - self.mean)

    def finalize(self) -> float | None:
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else None


def _regexp(pattern: str | None, value: Any) -> bool | None:
    if pattern is None or value is None:
        return None
    return re.search(pattern, str(value)) is not None


class SQLiteDialect(Dialect):
    """SQLite has no percentile aggregate and no row values in COUNT(DISTINCT ...)."""

    ENGINE: ClassVar[str] = "sqlite"
    SQLGLOT: ClassVar[str] = "sqlite"
    PERCENTILE: ClassVar[str | None] = None
    DISTINCT_TUPLES: ClassVar[str] = "concat"
    CASE_SENSITIVE_IDENTIFIERS: ClassVar[bool] = False


class SQLiteConnector(Connector):
    """SQLite has neither REGEXP nor STDDEV_SAMP built in; the connector registers both on every
    connection (Python's `re` search semantics)."""
    TITLE: ClassVar[str] = "SQLite"
    URL_EXAMPLE: ClassVar[str] = "sqlite:///path.db"
    CLIENT: ClassVar[str] = "built in"

    dialect: ClassVar[Dialect] = SQLiteDialect()
    KEEP_OPEN: ClassVar[bool] = False
    READ_ONLY_BEGIN: ClassVar[tuple[str, ...]] = ("PRAGMA query_only = ON",)
    READ_ONLY_END: ClassVar[tuple[str, ...]] = ("PRAGMA query_only = OFF",)

    def cancel(self, cursor: Any, dbapi_connection: Any) -> None:
        dbapi_connection.interrupt()

    def on_connect(self, dbapi_connection: Any) -> None:
        dbapi_connection.create_function("regexp", 2, _regexp, deterministic=True)
        dbapi_connection.create_aggregate("stddev_samp", 1, _StddevSamp)

    def columns(self, table: str) -> dict[str, str]:
        _, schema, name = self.split_table(table)
        sql = "SELECT name, type FROM pragma_table_info(:t" + (", :s)" if schema else ")") + " ORDER BY cid"
        params = {"t": name, **({"s": schema} if schema else {})}
        return {str(r[0]): str(r[1]) for r in self.execute(sql, params, purpose="schema")}

    def schemas(self) -> list[str]:
        return [str(r[1]) for r in self.execute("PRAGMA database_list", {}, purpose="schema")]

    def tables(self, schema: str | None = None) -> list[str]:
        from quinto.compile import table_node

        source = table_node(f"{schema}.sqlite_master" if schema else "sqlite_master").sql(dialect=self.dialect.SQLGLOT)
        rows = self.execute(f"SELECT name FROM {source} WHERE type IN ('table', 'view')", {}, purpose="schema")
        return sorted(str(r[0]) for r in rows)
