"""Shared fixtures: real engines only. PostgreSQL comes from QUINTO_TEST_PG_URL (set by `make test`,
which starts a throw-away server); without it PostgreSQL tests skip, except under CI=true where a
missing engine is a failure."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent

# the statement cache of the tests' audits (and of the commands they start): their own directory,
# shared by the session so that repeated audits also run the cached statements
os.environ.setdefault("QUINTO_STATEMENT_CACHE", tempfile.mkdtemp(prefix="quinto-statements-"))


def engine_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true requires this engine: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    url = os.environ.get("QUINTO_TEST_PG_URL", "")
    if not url:
        engine_unavailable("PostgreSQL: QUINTO_TEST_PG_URL is not set (`make test` starts a server)")
    try:
        with sa.create_engine(url, poolclass=sa.NullPool).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine_unavailable(f"PostgreSQL at {make_url(url).host}: {str(exc.orig).splitlines()[0]}")
    return url


@pytest.fixture
def pg_url(pg_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def mysql_url() -> str:
    """The MariaDB server `make test` starts (scripts/mariadb.sh); tests make and drop databases."""
    url = os.environ.get("QUINTO_TEST_MYSQL_URL", "")
    if not url:
        engine_unavailable("MariaDB: QUINTO_TEST_MYSQL_URL is not set (`make test` starts a server)")
    try:
        with sa.create_engine(url, poolclass=sa.NullPool).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        engine_unavailable(f"MariaDB at {make_url(url).host}: {str(exc.orig).splitlines()[0]}")
    return url


SERVERS = {
    # engine: (env var with its URL, default URL: the port scripts/engines/ starts it on, how to start it)
    "hive": (
        "QUINTO_TEST_HIVE_URL",
        f"hive://quinto@127.0.0.1:{os.environ.get('QUINTO_HIVE_PORT', '10000')}/default",
        "scripts/engines/spark-thrift.sh start",
    ),
    "trino": (
        "QUINTO_TEST_TRINO_URL",
        f"trino://quinto@127.0.0.1:{os.environ.get('QUINTO_TRINO_PORT', '8080')}/memory",
        "scripts/engines/trino.sh start",
    ),
    "presto": (
        "QUINTO_TEST_PRESTO_URL",
        f"presto://quinto@127.0.0.1:{os.environ.get('QUINTO_PRESTO_PORT', '8081')}/memory",
        "scripts/engines/presto.sh start",
    ),
}


def _server_url(engine: str) -> str:
    var, default, start = SERVERS[engine]
    url = os.environ.get(var, default)
    u = make_url(url)
    try:
        socket.create_connection((u.host or "127.0.0.1", u.port or 0), timeout=2).close()
    except OSError:
        engine_unavailable(
            f"{engine}: nothing listens on {u.host}:{u.port} (`make test` starts it unless QUINTO_ENGINES=0 and says "
            f"why it could not; or `{start}`, or set {var})"
        )
    try:
        from quinto.engines import CONNECTORS

        args = CONNECTORS[make_url(url).get_backend_name()].CONNECT_ARGS
        engine_ = sa.create_engine(url, poolclass=sa.NullPool, connect_args=args)
        with engine_.connect() as conn:
            conn.execute(sa.text("SELECT 1")).fetchall()
        engine_.dispose()
    except Exception as exc:  # noqa: BLE001 - any failure means the engine is not usable
        engine_unavailable(f"{engine} at {u.host}:{u.port} does not answer: {str(exc).splitlines()[0][:200]}")
    return url


@pytest.fixture(scope="session")
def hive_url() -> str:
    return _server_url("hive")


@pytest.fixture(scope="session")
def trino_url() -> str:
    return _server_url("trino")


@pytest.fixture(scope="session")
def presto_url() -> str:
    return _server_url("presto")


@pytest.fixture
def sqlite_store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The results store, on both engines it supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("pg_url"))
