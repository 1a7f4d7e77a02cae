"""DuckDB. Statements go to the `duckdb` driver directly (no SQLAlchemy engine, no duckdb-engine
import: an audit's whole process is a few statements, and building the engine cost more than
running them); a URL with options (`?access_mode=...`, `?threads=...`) goes through SQLAlchemy and
duckdb-engine as before, which read them."""

from __future__ import annotations

import json
import re
import threading
from typing import Any, ClassVar

from sqlalchemy.engine import make_url

from quinto.dialect import Dialect
from quinto.engines.base import Connector, Statement

#: a bind as SQLAlchemy's text() reads one (`:name`, not `::`, not an escaped `\:`)
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?!:)")


class DuckDBDialect(Dialect):
    ENGINE: ClassVar[str] = "duckdb"
    SQLGLOT: ClassVar[str] = "duckdb"
    # DuckDB keeps a DECIMAL column's scale in quantile_cont's result; DOUBLE interpolates exactly.
    PERCENTILE: ClassVar[str | None] = "quantile_cont(CAST(:col AS DOUBLE), :p)"
    DISTINCT_TUPLES: ClassVar[str] = "tuple"
    CASE_SENSITIVE_IDENTIFIERS: ClassVar[bool] = False
    APPROX_PERCENTILE: ClassVar[str | None] = "approx_quantile(:col, :p)"
    APPROX_DISTINCT: ClassVar[str | None] = "approx_count_distinct(:col)"
    #: measured (bench/distinct_forms.py): hashed GROUP BY derived tables take 0.7× the time of
    #: COUNT(DISTINCT ...) in one statement, one partition or the whole table
    DISTINCT_FORM: ClassVar[str] = "grouped"
    #: under a tight memory_limit one hash table at a time fails where two do (DuckDB spills each
    #: the same way), while COUNT(DISTINCT ...) still runs: measured with 3 M keys, 60-70 MB
    DISTINCT_FALLBACK: ClassVar[tuple[str, ...]] = ("count", "separate")


class DuckDBConnector(Connector):
    TITLE: ClassVar[str] = "DuckDB"
    URL_EXAMPLE: ClassVar[str] = "duckdb:///path/warehouse.duckdb"
    CLIENT: ClassVar[str] = "built in"
    dialect: ClassVar[Dialect] = DuckDBDialect()
    KEEP_OPEN: ClassVar[bool] = False

    def __post_init__(self) -> None:
        super().__post_init__()
        self._raw: Any = None  # the driver's connection, opened on the first statement
        self._lock = threading.Lock()  # one statement at a time on it, as SQLAlchemy's pool of one did
        url = make_url(self.url)
        self._plain = not url.query and not url.host

    def send(self, stmt: Statement) -> tuple[list[str], list[tuple[Any, ...]]]:
        if not self._plain:
            return super().send(stmt)
        with self._lock:
            return self._send_plain(stmt)

    def _send_plain(self, stmt: Statement) -> tuple[list[str], list[tuple[Any, ...]]]:
        if self._raw is None:
            try:
                import duckdb

                self._raw = duckdb.connect(make_url(self.url).database or ":memory:", **self.connect_args())
            except Exception as exc:  # the file cannot be opened: nothing was sent
                raise self._error(exc, stmt, connecting=True) from None
            if self.cost_mode != "none":  # DuckDB's own profile of each SELECT, for statement_cost
                self._raw.execute("SET enable_profiling = 'no_output'")
        params = stmt.params
        # SQLAlchemy's `:name` binds as DuckDB's `$name`, and its `\:` escape as the colon it stands for
        sql = _BIND.sub(lambda m: f"${m.group(1)}" if m.group(1) in params else m.group(0), stmt.sql)
        sql = sql.replace("\\:", ":")
        with self.deadline_for(self._raw.interrupt):
            cursor = self._raw.execute(sql, params or None)
            columns = [str(d[0]) for d in cursor.description or ()]
            rows = [tuple(r) for r in cursor.fetchall()] if cursor.description else []
        if self.cost_mode != "none":
            stmt.cost = self._cost(self._raw, stmt)
        return columns, rows

    def close(self) -> None:
        with self._lock:
            if self._raw is not None:
                raw, self._raw = self._raw, None
                raw.close()
        super().close()

    def cancel(self, cursor: Any, dbapi_connection: Any) -> None:
        _raw(dbapi_connection).interrupt()

    def on_connect(self, dbapi_connection: Any) -> None:
        """DuckDB's own profile of each SELECT, kept in memory (never printed) for `statement_cost`."""
        if self.cost_mode != "none" and not getattr(dbapi_connection, "_quinto_profiled", False):
            _raw(dbapi_connection).execute("SET enable_profiling = 'no_output'")
            dbapi_connection._quinto_profiled = True

    def statement_cost(self, conn: Any, stmt: Any) -> dict[str, Any]:
        raw = _raw(conn.connection.dbapi_connection) if hasattr(conn, "connection") else conn  # SQLAlchemy's or plain
        profile = json.loads(raw.get_profiling_information(format="json"))
        query, system, io = profile.get("query", {}), profile.get("system", {}), profile.get("io", {})
        cpu = query.get("cpu_time")
        return {
            "rows_scanned": query.get("total_rows_scanned"),
            "bytes_scanned": io.get("total_bytes_read"),
            "cpu_ms": None if cpu is None else round(cpu * 1000, 3),
            "peak_memory_bytes": system.get("peak_buffer_memory"),
        }

    def connect_args(self) -> dict[str, Any]:
        # A file is opened read-only so that audits never lock out the ETL writer or each other.
        db = make_url(self.url).database or ":memory:"
        return {"read_only": True} if db not in ("", ":memory:") and "read_only" not in self.url else {}


def _raw(dbapi_connection: Any) -> Any:
    """duckdb's own connection inside duckdb_engine's wrapper."""
    return getattr(dbapi_connection, "_ConnectionWrapper__c", dbapi_connection)
