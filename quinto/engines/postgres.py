from __future__ import annotations

import json
from typing import Any, ClassVar

import sqlalchemy as sa

from quinto.dialect import Dialect
from quinto.engines.base import Connector


class PostgresDialect(Dialect):
    ENGINE: ClassVar[str] = "postgres"
    SQLGLOT: ClassVar[str] = "postgres"
    PERCENTILE: ClassVar[str | None] = "percentile_cont(:p) within group (order by :col)"
    DISTINCT_TUPLES: ClassVar[str] = "tuple"
    #: PostgreSQL sorts every key for COUNT(DISTINCT ...) and hashes a GROUP BY
    DISTINCT_FORM: ClassVar[str] = "grouped"


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

    def statement_cost(self, conn: Any, stmt: Any) -> dict[str, Any]:
        """Only with `statement_cost: explain`, and only for scans: the statement again as
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` (it runs twice), its rows read by the plan's scan
        nodes and its buffers (8 KiB pages) read or found in the cache."""
        if self.cost_mode != "explain" or stmt.purpose != "scan":
            return {}
        raw = conn.execute(sa.text("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + stmt.sql), stmt.params).scalar()
        plan = (raw if isinstance(raw, list) else json.loads(raw))[0]
        top = plan["Plan"]
        scanned = 0

        def walk(node: dict[str, Any]) -> None:
            nonlocal scanned
            if "Scan" in node.get("Node Type", "") and "Relation Name" in node:
                loops = node.get("Actual Loops", 1) or 1
                scanned += int((node.get("Actual Rows", 0) + node.get("Rows Removed by Filter", 0)) * loops)
            for child in node.get("Plans", []):
                walk(child)

        walk(top)
        pages = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
        return {"rows_scanned": scanned, "bytes_scanned": pages * 8192}
