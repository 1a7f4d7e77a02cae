from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.engine import make_url

from quinto.dialect import Dialect
from quinto.engines.base import Connector


class DuckDBDialect(Dialect):
    ENGINE: ClassVar[str] = "duckdb"
    SQLGLOT: ClassVar[str] = "duckdb"
    # DuckDB keeps a DECIMAL column's scale in quantile_cont's result; DOUBLE interpolates exactly.
    PERCENTILE: ClassVar[str | None] = "quantile_cont(CAST(:col AS DOUBLE), :p)"
    DISTINCT_TUPLES: ClassVar[str] = "tuple"
    CASE_SENSITIVE_IDENTIFIERS: ClassVar[bool] = False
    APPROX_PERCENTILE: ClassVar[str | None] = "approx_quantile(:col, :p)"
    APPROX_DISTINCT: ClassVar[str | None] = "approx_count_distinct(:col)"


class DuckDBConnector(Connector):
    TITLE: ClassVar[str] = "DuckDB"
    URL_EXAMPLE: ClassVar[str] = "duckdb:///path/warehouse.duckdb"
    CLIENT: ClassVar[str] = "built in"
    dialect: ClassVar[Dialect] = DuckDBDialect()
    KEEP_OPEN: ClassVar[bool] = False

    def cancel(self, cursor: Any, dbapi_connection: Any) -> None:
        raw = getattr(dbapi_connection, "_ConnectionWrapper__c", dbapi_connection)
        raw.interrupt()

    def connect_args(self) -> dict[str, Any]:
        # A file is opened read-only so that audits never lock out the ETL writer or each other.
        db = make_url(self.url).database or ":memory:"
        return {"read_only": True} if db not in ("", ":memory:") and "read_only" not in self.url else {}
