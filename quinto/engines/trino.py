from __future__ import annotations

import re
from typing import Any, ClassVar

from quinto.dialect import Dialect
from quinto.engines.base import Connector


class TrinoDialect(Dialect):
    ENGINE: ClassVar[str] = "trino"
    SQLGLOT: ClassVar[str] = "trino"
    #: Trino has no exact percentile: approx_percentile (a t-digest) is used, and documented.
    PERCENTILE: ClassVar[str | None] = "approx_percentile(:col, :p)"
    APPROX_PERCENTILE: ClassVar[str | None] = "approx_percentile(:col, :p)"
    APPROX_DISTINCT: ClassVar[str | None] = "approx_distinct(:col)"
    DISTINCT_TUPLES: ClassVar[str] = "tuple"
    #: measured (bench/distinct_forms.py): COUNT(DISTINCT ...) plans a MarkDistinct per count that
    #: takes 2× the CPU and 6× the memory of hashed GROUP BY derived tables in the one statement;
    #: separate statements take the least memory, and are where an audit out of memory goes
    DISTINCT_FORM: ClassVar[str] = "grouped"
    DISTINCT_FALLBACK: ClassVar[tuple[str, ...]] = ("separate",)
    CASE_SENSITIVE_IDENTIFIERS: ClassVar[bool] = False
    #: varchar never compares with integer or date implicitly.
    TEXT_PARAMETERS_COERCE: ClassVar[bool] = False


class TrinoConnector(Connector):
    """Trino (`trino://user@host:8080/catalog`, the `trino` client)."""
    TITLE: ClassVar[str] = "Trino"
    URL_EXAMPLE: ClassVar[str] = "trino://user@host:8080/catalog"
    CLIENT: ClassVar[str] = "`quinto[trino]`"

    dialect: ClassVar[Dialect] = TrinoDialect()
    PARTITION_LISTING: ClassVar[str] = "$partitions"

    def cancel(self, cursor: Any, dbapi_connection: Any) -> None:
        cursor.cancel()

    def statement_cost(self, conn: Any, stmt: Any) -> dict[str, Any]:
        """The query's final stats, which the client keeps on its cursor."""
        stats = getattr(self._cursor, "stats", None) or {}
        return {
            "rows_scanned": stats.get("processedRows"),
            "bytes_scanned": stats.get("physicalInputBytes") or stats.get("processedBytes"),
            "cpu_ms": stats.get("cpuTimeMillis"),
            "peak_memory_bytes": stats.get("peakMemoryBytes"),
        }

    def connect_args(self) -> dict[str, Any]:
        """Bound values go through `EXECUTE IMMEDIATE` (Trino 418 and later): without this the client
        first sends `EXECUTE IMMEDIATE 'SELECT 1'` to find out, a round trip before every audit's
        scan. An older server takes `?legacy_prepared_statements=true` in the URL."""
        from sqlalchemy.engine import make_url

        if "legacy_prepared_statements" in make_url(self.url).query:
            return dict(self.CONNECT_ARGS)
        return {**self.CONNECT_ARGS, "legacy_prepared_statements": False}

    def clean_error(self, text: str) -> str:
        """`TrinoUserError(type=USER_ERROR, name=TYPE_MISMATCH, message="line 1:71: ...", ...)` →
        `TYPE_MISMATCH: line 1:71: ...`."""
        m = re.search(r"name=(\w+), message=\"(.*?)\"(, query_id|\)$)", text)
        if not m:
            return text
        cleaned = f"{m.group(1)}: {m.group(2)}"
        if m.group(1) == "TYPE_MISMATCH" and "varchar" in m.group(2):
            cleaned += (
                " (a partition column that is not text needs `partition_type:` in the check file; "
                "numbers in valid_values compare only with numeric columns)"
            )
        return cleaned

