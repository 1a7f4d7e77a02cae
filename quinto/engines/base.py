"""The base connector: an engine's connection. Its SQL quirks are its `dialect`'s (quinto/dialect.py);
its connection quirks are documented class attributes here, each engine overriding only what
differs. A connector connects through SQLAlchemy, runs statements with bound parameters, lists
partitions and reports schemas. It records every statement it sends (`statements`)."""

from __future__ import annotations

import contextlib
import functools
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from quinto.compile import col, compile_partitions, table_node
from quinto.dialect import QUIRKS, Dialect
from quinto.errors import WarehouseError
from quinto.lazy import exp


class StatementTimeout(Exception):
    """A statement ran past the connector's timeout and was cancelled."""


@dataclass
class Statement:
    sql: str
    params: dict[str, Any]
    purpose: str
    duration_ms: float = 0.0
    rows: int = 0
    error: str | None = None
    #: what the statement cost the engine, where it reports it (`COST_FIELDS`; absent: not reported)
    cost: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "purpose": self.purpose,
            "sql": self.sql,
            "params": self.params,
            "duration_ms": round(self.duration_ms, 2),
            "rows": self.rows,
            "error": self.error,
            **{name: self.cost.get(name) for name in COST_FIELDS},
        }


#: what a statement cost, as engines report it: rows and bytes the engine read, its CPU time and
#: its peak memory (None where the engine does not say)
COST_FIELDS = ("rows_scanned", "bytes_scanned", "cpu_ms", "peak_memory_bytes")


@dataclass
class Connector:
    """Base connector; subclasses set the quirks below."""

    url: str
    name: str = "warehouse"
    statements: list[Statement] = field(default_factory=list)
    timeout_s: float | None = None  # a statement running longer is cancelled
    #: what each statement's cost is read from (the `statement_cost` setting): "reported" what the
    #: engine reports with the results, "explain" also EXPLAIN ANALYZE where that is the only way
    #: (PostgreSQL: the scan runs twice), "none" nothing
    cost_mode: str = "reported"
    #: the running audit's budget (`audit_timeout`): its monotonic deadline and its seconds
    deadline: tuple[float, float] | None = None

    #: the engine's SQL: the sqlglot dialect and its quirks (quinto/dialect.py); pure, no I/O.
    dialect: ClassVar[Dialect] = Dialect()
    #: how partitions are listed: "distinct" (bounded SELECT DISTINCT), "show" (SHOW PARTITIONS) or
    #: "$partitions" (Trino's hidden partitions table); the last two read metadata only.
    PARTITION_LISTING: ClassVar[str] = "distinct"
    #: tables whose partitions one sensor statement lists (`list_partitions_many`); 1: one per table.
    LISTING_BATCH: ClassVar[int] = 100
    #: connect_args passed to SQLAlchemy's create_engine.
    CONNECT_ARGS: ClassVar[dict[str, Any]] = {}
    #: for the README's engine table (quinto.docs): the engine's name, a URL, the client and its extra
    TITLE: ClassVar[str] = ""
    URL_EXAMPLE: ClassVar[str] = ""
    CLIENT: ClassVar[str] = "built in"
    #: statements run on the connection before a statement under `read_only()` (they make its
    #: transaction read-only), and after it; none: the engine has no such mode (validate still
    #: refuses a `sql:` check that writes)
    READ_ONLY_BEGIN: ClassVar[tuple[str, ...]] = ()
    READ_ONLY_END: ClassVar[tuple[str, ...]] = ()
    #: a long-running process (the scheduler) keeps the connection open between audits; an
    #: embedded engine's file (DuckDB, SQLite) is opened per use instead, so others can write it
    KEEP_OPEN: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        misplaced = sorted(QUIRKS & set(vars(cls)))
        if misplaced:
            raise TypeError(
                f"{cls.__name__} sets {', '.join(misplaced)}: SQL quirks belong to the engine's Dialect "
                "(quinto/dialect.py), set as the connection's `dialect`"
            )

    def __post_init__(self) -> None:
        self._engine: sa.Engine | None = None
        self._read_only = False
        self._cursor: Any = None  # the DB-API cursor of the last statement

    @contextlib.contextmanager
    def read_only(self) -> Iterator[None]:
        """Statements run inside run in a read-only transaction where the engine has one (a user's
        `sql:` query): a write fails instead of executing."""
        before, self._read_only = self._read_only, True
        try:
            yield
        finally:
            self._read_only = before

    # -- connection ---------------------------------------------------------------------------
    @property
    def host(self) -> str:
        u = make_url(self.url)
        if u.host:
            return f"{u.host}:{u.port}" if u.port else u.host
        return u.database or "memory"

    def engine(self) -> sa.Engine:
        if self._engine is None:
            try:
                # one connection, reused by the statements of an audit; close() releases it
                self._engine = sa.create_engine(self.url, connect_args=self.connect_args(), pool_size=1)
            except Exception as exc:  # bad URL, missing driver
                raise WarehouseError(
                    f"{self.dialect.ENGINE} connection '{self.name}': {_first_line(exc)}",
                    engine=self.dialect.ENGINE,
                    host=self.host,
                ) from None
        return self._engine

    def connect_args(self) -> dict[str, Any]:
        return dict(self.CONNECT_ARGS)

    def on_connect(self, dbapi_connection: Any) -> None:
        """Per-connection setup (e.g. registering functions)."""

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- running ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def budget(self, seconds: float | None) -> Iterator[None]:
        """Statements run inside share `seconds` (an audit's `audit_timeout`): once it is spent, a
        running statement is cancelled and the next ones are not started (WarehouseError)."""
        before = self.deadline
        self.deadline = None if not seconds else (time.monotonic() + seconds, seconds)
        try:
            yield
        finally:
            self.deadline = before

    def _over_budget(self, what: str) -> WarehouseError:
        assert self.deadline is not None
        detail = f"audit_timeout of {self.deadline[1]:g}s exceeded: {what}"
        return WarehouseError(
            f"{self.dialect.ENGINE} at {self.host} ({self.name}): {detail}",
            engine=self.dialect.ENGINE,
            host=self.host,
            infra=True,
            detail=detail,
        )

    def execute(self, sql: str, params: dict[str, Any] | None = None, purpose: str = "scan") -> list[tuple[Any, ...]]:
        return self.execute_with_columns(sql, params, purpose)[1]

    def execute_with_columns(
        self, sql: str, params: dict[str, Any] | None = None, purpose: str = "scan"
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Run one statement with bound parameters; returns (column names, rows)."""
        params = dict(params or {})
        statement_limit, budgeted = self.timeout_s, False
        if self.deadline is not None:
            remaining = self.deadline[0] - time.monotonic()
            if remaining <= 0:
                raise self._over_budget("statement not started")
            if statement_limit is None or remaining < statement_limit:
                self.timeout_s, budgeted = remaining, True  # the audit's budget ends first
        try:
            return self._execute(sql, params, purpose, budgeted)
        finally:
            self.timeout_s = statement_limit

    def _execute(
        self, sql: str, params: dict[str, Any], purpose: str, budgeted: bool
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        stmt = Statement(sql, params, purpose)
        self.statements.append(stmt)
        started = time.perf_counter()
        try:
            columns, rows = self.send(stmt)
        except StatementTimeout:
            if budgeted:
                stmt.error = f"audit_timeout of {self.deadline[1]:g}s exceeded: statement cancelled"  # type: ignore[index]
                raise self._over_budget("statement cancelled") from None
            stmt.error = f"cancelled after {self.timeout_s:g}s (statement timeout)"
            raise WarehouseError(
                f"{self.dialect.ENGINE} at {self.host} ({self.name}): {stmt.error}",
                engine=self.dialect.ENGINE,
                host=self.host,
                infra=True,
                detail=stmt.error,
            ) from None
        except WarehouseError:
            raise
        except Exception as exc:
            raise self._error(exc, stmt) from None
        finally:
            stmt.duration_ms = (time.perf_counter() - started) * 1000
        stmt.rows = len(rows)
        return columns, rows

    def _cost(self, conn: sa.Connection, stmt: Statement) -> dict[str, float]:
        """The statement's cost (`statement_cost`); a cost that cannot be read is not reported."""
        try:
            found = self.statement_cost(conn, stmt)
        except Exception:  # noqa: BLE001 - the cost is a report, never a reason to fail a statement
            return {}
        return {k: v for k, v in found.items() if k in COST_FIELDS and isinstance(v, (int, float))}

    def statement_cost(self, conn: sa.Connection, stmt: Statement) -> dict[str, Any]:
        """What the statement that just ran on `conn` cost, as the engine reports it (`COST_FIELDS`);
        engines override it (the cursor's query stats, a profile, an EXPLAIN ANALYZE)."""
        return {}

    def send(self, stmt: Statement) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Send one statement through SQLAlchemy (a connector with a plain DB-API path overrides
        this); a failure to connect is raised as the WarehouseError that says so."""
        try:
            conn = self.engine().connect()
        except WarehouseError:
            raise
        except Exception as exc:  # the connection itself failed: nothing was sent
            raise self._error(exc, stmt, connecting=True) from None
        with conn:
            self.on_connect(conn.connection.dbapi_connection)
            read_only = self._read_only and self.READ_ONLY_BEGIN
            for mode in self.READ_ONLY_BEGIN if read_only else ():
                conn.exec_driver_sql(mode)
            try:
                found = self.run_statement(conn, stmt.sql, stmt.params)
                if self.cost_mode != "none":
                    stmt.cost = self._cost(conn, stmt)
                return found
            finally:
                if read_only and self.READ_ONLY_END:
                    self._end_read_only(conn)

    def _end_read_only(self, conn: sa.Connection) -> None:
        """Undo the read-only mode of the (pooled) connection; one that cannot is discarded."""
        try:
            conn.rollback()
            for mode in self.READ_ONLY_END:
                conn.exec_driver_sql(mode)
        except Exception:  # noqa: BLE001 - the statement's own error, if any, is what is reported
            conn.invalidate()

    @contextlib.contextmanager
    def deadline_for(self, cancel: Callable[[], None]) -> Iterator[None]:
        """Run the body with a timer thread that calls `cancel` past `timeout_s`; a cancelled body
        raises StatementTimeout, whether the driver failed it or ended it quietly with the rows it had."""
        if not self.timeout_s:
            yield
            return
        fired = threading.Event()

        def fire() -> None:
            fired.set()
            cancel()

        timer = threading.Timer(self.timeout_s, fire)
        timer.daemon = True
        timer.start()
        try:
            yield
        except Exception:
            if fired.is_set():
                raise StatementTimeout() from None
            raise
        finally:
            timer.cancel()
        if fired.is_set():
            raise StatementTimeout()

    def run_statement(
        self, conn: sa.Connection, sql: str, params: dict[str, Any]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Execute through SQLAlchemy; past `timeout_s` a timer thread cancels the statement through
        the driver (`cancel`) and StatementTimeout is raised."""
        cursors: list[Any] = []
        if self.timeout_s:
            sa.event.listen(conn, "before_cursor_execute", lambda c, cursor, *a: cursors.append(cursor))
        dbapi_connection = conn.connection.dbapi_connection
        with self.deadline_for(lambda: self.cancel(cursors[-1] if cursors else None, dbapi_connection)):
            result = conn.execute(sa.text(sql), params)
            columns, rows = list(result.keys()), [tuple(r) for r in result.fetchall()]
            self._cursor = result.context.cursor  # for statement_cost (a closed cursor keeps its stats)
        return columns, rows

    def clean_error(self, text: str) -> str:
        """The engine's message without driver wrapping (subclasses strip what their driver adds)."""
        return text

    def _error(self, exc: Exception, stmt: Statement, connecting: bool = False) -> WarehouseError:
        if isinstance(exc, sa.exc.DBAPIError):
            stmt.error = self.clean_error(_first_line(exc.orig if exc.orig is not None else exc))
            lost = connecting or exc.connection_invalidated or _looks_like_connect(exc)
        else:
            stmt.error = self.clean_error(_first_line(exc))
            lost = connecting or _looks_like_connect(exc)
        what = "cannot connect" if lost else "statement failed"
        return WarehouseError(
            f"{self.dialect.ENGINE} at {self.host} ({self.name}): {what}: {stmt.error}",
            engine=self.dialect.ENGINE,
            host=self.host,
            unreachable=lost,
            infra=lost or _looks_like_infra(stmt.error),
            detail=stmt.error,
            out_of_memory=not lost and looks_like_out_of_memory(stmt.error),
        )

    def cancel(self, cursor: Any, dbapi_connection: Any) -> None:
        """Stop the running statement (called from a timer thread)."""
        dbapi_connection.cancel()

    # -- metadata -------------------------------------------------------------------------------
    def split_table(self, table: str) -> tuple[str | None, str | None, str]:
        parts: list[str | None] = [None, None, None, *table.split(".")]
        return parts[-3], parts[-2], parts[-1] or ""

    def columns(self, table: str) -> dict[str, str]:
        """Column name → declared type, in table order; {} when the table does not exist."""
        catalog, schema, name = self.split_table(table)
        source = table_node(".".join(p for p in (catalog, "information_schema", "columns") if p))
        sql = (
            f"SELECT column_name, data_type FROM {source.sql(dialect=self.dialect.SQLGLOT)} WHERE table_name = :t"
            + (" AND table_schema = :s" if schema else "")
            + (" AND table_catalog = :c" if catalog else "")
            + " ORDER BY ordinal_position"
        )
        params = {"t": name, **({"s": schema} if schema else {}), **({"c": catalog} if catalog else {})}
        return {str(r[0]): str(r[1]) for r in self.execute(sql, params, purpose="schema")}

    def schemas(self) -> list[str]:
        """Schema (database) names the connection can see, for "did you mean"."""
        from quinto.compile import table_node

        source = table_node("information_schema.schemata").sql(dialect=self.dialect.SQLGLOT)
        return [str(r[0]) for r in self.execute(f"SELECT schema_name FROM {source}", {}, purpose="schema")]

    def tables(self, schema: str | None = None) -> list[str]:
        """Names of the tables and views in `schema` (every schema's when None), for "did you mean"."""
        from quinto.compile import table_node

        source = table_node("information_schema.tables").sql(dialect=self.dialect.SQLGLOT)
        sql = f"SELECT DISTINCT table_name FROM {source}"
        if schema is not None:
            sql += " WHERE table_schema = :s"
        else:
            sql += " WHERE table_schema NOT IN ('information_schema', 'pg_catalog')"
        rows = self.execute(sql, {"s": schema} if schema is not None else {}, purpose="schema")
        return sorted(str(r[0]) for r in rows)

    def partitions(
        self,
        table: str,
        column: str,
        since: str | None = None,
        until: str | None = None,
        limit: int = 1000,
        ptype: str = "string",
    ) -> list[str]:
        """Partition values within [since, until], newest first, the way PARTITION_LISTING says:
        from metadata where the engine has it (no scan), else a bounded SELECT DISTINCT. A table
        the metadata cannot list (not partitioned by `column`) falls back to the SELECT DISTINCT."""
        if self.PARTITION_LISTING == "show":
            values = self._show_partitions(table, column)
            if values:
                chosen = [v for v in values if (since is None or v >= since) and (until is None or v <= until)]
                return sorted(set(chosen), reverse=True)[:limit]
        elif self.PARTITION_LISTING == "$partitions":
            catalog, schema, name = self.split_table(table)
            hidden = ".".join(p for p in (catalog, schema, f"{name}$partitions") if p)
            try:
                return self._distinct_partitions(hidden, column, since, until, limit, ptype)
            except WarehouseError:
                pass
        return self._distinct_partitions(table, column, since, until, limit, ptype)

    def list_partitions_many(
        self, tables: Sequence[tuple[str, str, str]], limit: int = 10
    ) -> dict[str, list[str] | WarehouseError]:
        """The newest `limit` partition values of each (table, column, type), newest first, in as
        few statements as the engine allows: one UNION ALL of bounded SELECT DISTINCTs (over
        Trino's `$partitions` metadata where it has them) for up to LISTING_BATCH tables, else
        one listing per table. A table that cannot be listed gets its error, the others their
        values: a failing batch is listed again table by table."""
        out: dict[str, list[str] | WarehouseError] = {}
        todo = list(tables)
        if self.LISTING_BATCH > 1 and self.PARTITION_LISTING != "show":
            for start in range(0, len(todo), self.LISTING_BATCH):
                batch = todo[start : start + self.LISTING_BATCH]
                try:
                    out.update(self._list_batch(batch, limit))
                except WarehouseError:
                    pass  # listed one by one below, so only the failing table reports an error
            todo = [t for t in todo if t[0] not in out]
        for table, column, ptype in todo:
            try:
                out[table] = self.partitions(table, column, limit=limit, ptype=ptype)
            except WarehouseError as exc:
                out[table] = exc
        return out

    def _list_batch(self, batch: Sequence[tuple[str, str, str]], limit: int) -> dict[str, list[str] | WarehouseError]:
        if len(batch) == 1:
            table, column, ptype = batch[0]
            return {table: self.partitions(table, column, limit=limit, ptype=ptype)}
        dialect = self.dialect.SQLGLOT
        t_col, v_col = (exp.to_identifier(n, quoted=True).sql(dialect=dialect) for n in ("t", "v"))
        parts: list[str] = []
        for i, (table, column, _) in enumerate(batch):
            source = table
            if self.PARTITION_LISTING == "$partitions":
                catalog, schema, name = self.split_table(table)
                source = ".".join(p for p in (catalog, schema, f"{name}$partitions") if p)
            alias = exp.to_identifier(f"p{i}", quoted=True).sql(dialect=dialect)
            parts.append(f"SELECT {i} AS {t_col}, {v_col} FROM ({_listing(dialect, source, column, limit)}) AS {alias}")
        # joined as text: sqlglot renders a UNION tree 100 deep in seconds; each table's part is cached
        rows = self.execute(" UNION ALL ".join(parts), {}, purpose="partitions")
        found: dict[str, list[str]] = {table: [] for table, _, _ in batch}
        for index, value in rows:
            found[batch[int(index)][0]].append(_partition_text(value))
        return {table: _newest_first(found[table], ptype) for table, _, ptype in batch}

    def _distinct_partitions(
        self, table: str, column: str, since: str | None, until: str | None, limit: int, ptype: str
    ) -> list[str]:
        compiled = compile_partitions(self.dialect, table, column, since, until, limit, ptype)
        rows = self.execute(compiled.sql, compiled.params, purpose="partitions")
        return [_partition_text(r[0]) for r in rows]

    def _show_partitions(self, table: str, column: str) -> list[str]:
        """`SHOW PARTITIONS` (`ds=2026-11-01/hr=05` per row, values %XX-escaped); [] when refused."""
        try:
            rows = self.execute(
                f"SHOW PARTITIONS {table_node(table).sql(dialect=self.dialect.SQLGLOT)}", {}, purpose="partitions"
            )
        except WarehouseError:
            return []
        values = []
        for (spec,) in rows:
            parts = dict(p.split("=", 1) for p in str(spec).split("/") if "=" in p)
            if column in parts:
                values.append(urllib.parse.unquote(parts[column]))
        return values


@functools.lru_cache(maxsize=4096)
def _listing(dialect: str, table: str, column: str, limit: int) -> str:
    """One table's newest `limit` partition values as column "v" (a sensor lists the same tables
    over and over: rendered once)."""
    return (
        exp.select(exp.alias_(col(column), "v", quoted=True))
        .distinct()
        .from_(table_node(table))
        .where(exp.Not(this=exp.Is(this=col(column), expression=exp.Null())))
        .order_by(exp.Ordered(this=col(column), desc=True))
        .limit(limit)
        .sql(dialect=dialect)
    )


def _newest_first(values: list[str], ptype: str) -> list[str]:
    """A UNION ALL keeps no order: newest first again, integers as numbers (10 after 9)."""
    if ptype == "integer":
        return sorted(values, key=lambda p: (0, int(p), "") if p.lstrip("-").isdigit() else (1, 0, p), reverse=True)
    return sorted(values, reverse=True)


def _partition_text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _looks_like_connect(exc: Exception) -> bool:
    text = str(exc).lower()
    return any(
        w in text
        for w in (
            "could not connect",
            "connection refused",
            "connection failed",
            "unable to open",
            "could not translate",
            "no such host",
            "timeout expired",
        )
    )


#: words of messages that say the warehouse itself failed, not what a check asked of it
_INFRA_WORDS = (
    "out of memory",
    "outofmemory",
    "memory limit",
    "insufficient resources",
    "exceeded_",  # Trino: EXCEEDED_TIME_LIMIT, EXCEEDED_LOCAL_MEMORY_LIMIT, ...
    "query exceeded",
    "no space left",
    "disk full",
    "too many connections",
    "shutting down",
    "server closed the connection",
    "connection reset",
    "broken pipe",
    "terminating connection",
    "canceling statement",
    "statement timeout",
    "query killed",
    "was killed",
    "permission denied",
    "access denied",
    "accessdenied",
    "not authorized",
    "no worker nodes",
    "no nodes available",
    "database is locked",
    "i/o error",
    "could not serialize",
    "deadlock detected",
    "failed_read_file",  # Spark: a data file vanished under the statement
    "filenotfound",
)
#: words of messages that say the engine ran out of the memory it may use for a statement
_MEMORY_WORDS = (
    "out of memory",  # PostgreSQL, DuckDB ("Out of Memory Error"), MySQL
    "outofmemory",  # Spark: java.lang.OutOfMemoryError, SparkOutOfMemoryError
    "memory limit",  # Trino/Presto: EXCEEDED_LOCAL_MEMORY_LIMIT (...Query exceeded per-node memory limit)
    "_memory_limit",  # Trino/Presto: EXCEEDED_GLOBAL_MEMORY_LIMIT, EXCEEDED_DISTRIBUTED_MEMORY_LIMIT, ...
    "insufficient_resources",
    "unable to acquire",  # Spark: "Unable to acquire N bytes of memory"
)
_QUOTED = re.compile(r"\"[^\"]*\"|`[^`]*`|'[^']*'")


def _looks_like_infra(text: str | None) -> bool:
    """Whether an engine's message says the warehouse failed (names in quotes are not read, so a
    column called `cancelled_at` or "permission_denied" is not taken for a warehouse failure)."""
    low = _QUOTED.sub("", text or "").lower()
    return any(w in low for w in _INFRA_WORDS)


def looks_like_out_of_memory(text: str | None) -> bool:
    """Whether an engine's message says the statement ran out of the memory the engine allows it."""
    low = _QUOTED.sub("", text or "").lower()
    return any(w in low for w in _MEMORY_WORDS)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    return text.splitlines()[0][:500]
