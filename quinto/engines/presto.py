"""PrestoDB through presto-python-client (`prestodb`), the maintained client.

`presto://user[:password]@host:8080/catalog[/schema]` as before (pyhive's form); `?protocol=https`
(or a password, which Presto accepts over HTTPS only) talks HTTPS, `?source=` names the client.
The client has no SQLAlchemy dialect: `PrestoSQLAlchemyDialect` below is the little one Quinto needs,
registered for `presto://` in place of pyhive's. Values go into the statement as literals rendered
by SQLAlchemy, not through the client's PREPARE/EXECUTE ... USING: Presto re-formats a prepared
statement and loses the quotes of reserved words (`"order"`), and it costs two more round trips.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.engine import URL, default

from quinto.dialect import Dialect
from quinto.engines.trino import TrinoConnector, TrinoDialect

#: values the REST protocol sends as text, by type name
_CONVERT: dict[str, Callable[[Any], Any]] = {"decimal": Decimal, "varbinary": base64.b64decode}


@cache
def _connection_class() -> type:
    """prestodb's Connection, with cursors that convert decimals and binaries as pyhive did."""
    import prestodb.dbapi

    class Cursor(prestodb.dbapi.Cursor):  # type: ignore[misc]
        def _convert(self, row: list[Any]) -> list[Any]:
            for i, column in enumerate(self.description or []):
                convert = _CONVERT.get(str(column[1]).split("(")[0].lower())
                if convert is not None and row[i] is not None:
                    row[i] = convert(row[i])
            return row

        def fetchone(self) -> list[Any] | None:
            row = super().fetchone()
            return None if row is None else self._convert(row)

        def fetchall(self) -> list[list[Any]]:
            return [self._convert(r) for r in super().fetchall()]

    class Connection(prestodb.dbapi.Connection):  # type: ignore[misc]
        def cursor(self) -> Cursor:
            plain = super().cursor()
            return Cursor(self, plain._request)

    return Connection


class _DBAPI:
    """prestodb.dbapi plus the exception classes SQLAlchemy expects to find beside it."""

    paramstyle = "qmark"

    def __init__(self) -> None:
        import prestodb.exceptions as errors

        self.connect = _connection_class()
        self.Error = (errors.Error, errors.PrestoQueryError, errors.HttpError)
        for name in ("Warning", "InterfaceError", "DatabaseError", "InternalError", "OperationalError"):
            setattr(self, name, getattr(errors, name))
        for name in ("ProgrammingError", "IntegrityError", "DataError", "NotSupportedError"):
            setattr(self, name, getattr(errors, name))


class PrestoSQLAlchemyDialect(default.DefaultDialect):
    """SQLAlchemy's side of `presto://`: prestodb's DB-API, autocommit, no reflection."""

    name = "presto"
    driver = "prestodb"
    default_paramstyle = "qmark"
    supports_statement_cache = True
    supports_native_boolean = True
    supports_native_decimal = True
    supports_sane_rowcount = False
    supports_sane_multi_rowcount = False

    @classmethod
    def import_dbapi(cls) -> Any:
        return _DBAPI()

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        catalog, _, schema = (url.database or "").partition("/")
        query = dict(url.query)
        https = query.get("protocol") == "https" or url.password is not None
        kwargs: dict[str, Any] = {
            "host": url.host or "localhost",
            "port": url.port or 8080,
            "user": url.username or "quinto",
            "catalog": catalog or None,
            "schema": schema or None,
            "http_scheme": "https" if https else "http",
            "source": query.get("source", "quinto"),
        }
        if url.password is not None:
            import prestodb.auth

            kwargs["auth"] = prestodb.auth.BasicAuthentication(url.username, url.password)
        return [], kwargs

    def do_rollback(self, dbapi_connection: Any) -> None:
        """Statements autocommit; there is nothing to roll back."""

    def do_commit(self, dbapi_connection: Any) -> None:
        pass

    def _get_server_version_info(self, connection: Any) -> Any:
        return None

    def _get_default_schema_name(self, connection: Any) -> Any:
        return None

    def get_isolation_level(self, dbapi_connection: Any) -> Any:
        return "AUTOCOMMIT"

    def has_table(self, connection: Any, table_name: str, schema: str | None = None, **kw: Any) -> bool:
        raise NotImplementedError


registry.register("presto", "quinto.engines.presto", "PrestoSQLAlchemyDialect")
registry.register("presto.prestodb", "quinto.engines.presto", "PrestoSQLAlchemyDialect")


class PrestoDialect(TrinoDialect):
    """Trino's quirks (Presto is Trino's ancestor) in sqlglot's Presto dialect."""

    ENGINE: ClassVar[str] = "presto"
    SQLGLOT: ClassVar[str] = "presto"


class PrestoConnector(TrinoConnector):
    """PrestoDB through its own client."""
    TITLE: ClassVar[str] = "Presto"
    URL_EXAMPLE: ClassVar[str] = "presto://user@host:8080/catalog[/schema]"
    CLIENT: ClassVar[str] = "`quinto[presto]` (presto-python-client)"

    dialect: ClassVar[Dialect] = PrestoDialect()

    def connect_args(self) -> dict[str, Any]:
        return dict(self.CONNECT_ARGS)  # values are literals: no prepared statements to choose

    def run_statement(
        self, conn: sa.Connection, sql: str, params: dict[str, Any]
    ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The values as literals (see the module's note); text() then reads no `:word` in them."""
        if params:
            bound = sa.text(sql).bindparams(**params)
            sql = str(bound.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            sql = sql.replace(":", "\\:")
        return super().run_statement(conn, sql, {})

    def cancel(self, cursor: Any, dbapi_connection: Any) -> None:
        """Cancel the cursor's query, which the client can do only once Presto has named it: wait
        for the query to have an id, for at most the timeout again."""
        deadline = time.monotonic() + (self.timeout_s or 0)
        while True:
            stats = cursor.stats if cursor is not None else None
            if stats and stats.get("queryId"):
                cursor.cancel()
                return
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
