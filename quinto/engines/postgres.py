from __future__ import annotations

from typing import ClassVar

from quinto.dialect import Dialect
from quinto.engines.base import Connector


class PostgresDialect(Dialect):
    ENGINE: ClassVar[str] = "postgres"
    SQLGLOT: ClassVar[str] = "postgres"
    PERCENTILE: ClassVar[str | None] = "percentile_cont(:p) within group (order by :col)"
    DISTINCT_TUPLES: ClassVar[str] = "tuple"
    DISTINCT_BY_GROUPING: ClassVar[bool] = True


class PostgresConnector(Connector):
    TITLE: ClassVar[str] = "PostgreSQL"
    URL_EXAMPLE: ClassVar[str] = "postgresql+psycopg://user:${PGPASSWORD}@host/db"
    CLIENT: ClassVar[str] = "`quinto[postgres]`"
    dialect: ClassVar[Dialect] = PostgresDialect()
    READ_ONLY_BEGIN: ClassVar[tuple[str, ...]] = ("SET TRANSACTION READ ONLY",)

    def columns(self, table: str) -> dict[str, str]:
        """From pg_catalog, which (unlike information_schema) also lists materialized views and
        foreign tables; a table without a schema is looked up on the search path."""
        _, schema, name = self.split_table(table)
        sql = (
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a "
            "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
            "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relname = :t AND a.attnum > 0 AND NOT a.attisdropped "
            + ("AND n.nspname = :s " if schema else "AND pg_catalog.pg_table_is_visible(c.oid) ")
            + "ORDER BY a.attnum"
        )
        params = {"t": name, **({"s": schema} if schema else {})}
        return {str(r[0]): str(r[1]) for r in self.execute(sql, params, purpose="schema")}
