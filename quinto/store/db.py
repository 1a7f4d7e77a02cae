"""The store's database: its engine, its schema brought up to date once, and its transactions.

The schema is migrated once per store, when it is opened (`Store.open`) or, for a store made
without opening it (one that may be down: its runs are spooled), on its first connection. The
repositories (`quinto.store.runs`, `.results`, `.marks`, `.alerts`) read and write through it and
never migrate themselves.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from quinto.errors import StoreError
from quinto.store.queue import lock_key

MIGRATIONS = str(Path(__file__).parent / "migrations")
#: the newest migration; `migrate()` runs Alembic only when the store is not there yet.
HEAD_REVISION = "0010"


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        try:
            u = make_url(url)
        except Exception:
            raise StoreError(f"store: not a database URL: {url.split('@')[-1]!r}") from None
        self.where = f"{u.get_backend_name()} at {u.host or u.database or 'memory'}"
        args: dict[str, Any] = {}
        if u.get_backend_name() == "sqlite":
            args = {"connect_args": {"timeout": 30}}
            if u.database and u.database != ":memory:":
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine = sa.create_engine(url, **args)
        except Exception as exc:
            raise StoreError(f"store ({self.where}): {str(exc).splitlines()[0]}") from None
        if u.get_backend_name() == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self.migrated = False

    @property
    def is_postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        """Bring the schema to the newest migration (idempotent; once per store)."""
        if self.migrated:
            return
        at = None
        try:
            with self.engine.connect() as conn:
                at = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            if at == HEAD_REVISION:
                self.migrated = True
                return
        except sa.exc.DBAPIError:
            pass  # a new store, or one that cannot be reached: Alembic will say which
        from alembic import command  # imported here: most runs find the store up to date
        from alembic.config import Config
        from alembic.util import exc as alembic_errors

        cfg = Config()
        cfg.set_main_option("script_location", MIGRATIONS)
        try:
            with self.engine.begin() as conn:
                self.lock(conn, "quinto-migrate")  # processes starting together migrate one at a time
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        except sa.exc.DBAPIError as exc:
            raise StoreError(f"cannot open the store ({self.where}): {str(exc.orig).splitlines()[0]}") from None
        except alembic_errors.CommandError:  # e.g. at a revision a newer Quinto wrote
            raise StoreError(
                f"the store ({self.where}) is at migration {at!r}, which this Quinto does not know "
                f"(its newest is {HEAD_REVISION}): a newer Quinto migrated it; upgrade this one"
            ) from None
        self.migrated = True

    def revision(self) -> str | None:
        """The migration the store is at (None: a new, empty store), read without migrating;
        raises when the store cannot be reached."""
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def lock(self, conn: sa.Connection, *parts: str) -> None:
        """Serialize a transaction with others about the same thing (PostgreSQL; SQLite has one writer)."""
        if self.is_postgres:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": lock_key(*parts)})

    def connect(self) -> sa.Connection:
        """A connection for reading."""
        if not self.migrated:
            self.migrate()
        return self.engine.connect()

    def begin(self) -> contextlib.AbstractContextManager[sa.Connection]:
        """A short write transaction."""
        if not self.migrated:
            self.migrate()
        return self.engine.begin()

    @contextlib.contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction that reads first: on SQLite it takes the write lock at once (BEGIN
        IMMEDIATE), so a read-then-write is never interleaved with another process's."""
        if not self.migrated:
            self.migrate()
        if self.is_postgres:
            with self.engine.begin() as conn:
                yield conn
            return
        conn = self.engine.connect()
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        else:
            conn.exec_driver_sql("COMMIT")
        finally:
            conn.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
