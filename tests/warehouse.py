"""Building small warehouses for tests, on any engine, from a portable description:
{table: {columns: {name: TYPE}, rows: [[...], ...]}} with DuckDB type names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlglot import exp

from quinto.compile import table_node
from quinto.engines import CONNECTORS


def _convert(value: Any, type_name: str) -> Any:
    t = type_name.upper()
    if value is None:
        return None
    if t.startswith("TIMESTAMP"):
        return (
            value
            if isinstance(value, dt.datetime)
            else dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)
        )
    if t == "DATE":
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))
    if t.startswith("DECIMAL"):
        return Decimal(str(value))
    return value


def load_tables(url: str, tables: Mapping[str, Mapping[str, Any]]) -> None:
    """(Re)create each table in its schema and insert its rows with bound parameters."""
    backend = make_url(url).get_backend_name()
    dialect = CONNECTORS[backend].DIALECT
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        for name, table in tables.items():
            parts = name.split(".")
            if len(parts) > 1 and backend != "sqlite":
                conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{parts[-2]}"'))
            target = table_node(name).sql(dialect=dialect)
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {target}"))
            columns = table["columns"]
            ddl = exp.Create(
                this=exp.Schema(
                    this=table_node(name),
                    expressions=[
                        exp.ColumnDef(
                            this=exp.to_identifier(c, quoted=True), kind=exp.DataType.build(t, dialect="duckdb")
                        )
                        for c, t in columns.items()
                    ],
                ),
                kind="TABLE",
            )
            conn.execute(sa.text(ddl.sql(dialect=dialect)))
            rows = table.get("rows") or []
            if rows:
                names = list(columns)
                binds = ", ".join(f":c{i}" for i in range(len(names)))
                cols = ", ".join(exp.to_identifier(c, quoted=True).sql(dialect=dialect) for c in names)
                conn.execute(
                    sa.text(f"INSERT INTO {target} ({cols}) VALUES ({binds})"),
                    [
                        {f"c{i}": _convert(v, columns[n]) for i, (n, v) in enumerate(zip(names, row, strict=True))}
                        for row in rows
                    ],
                )
    engine.dispose()


def reset_postgres(url: str) -> None:
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.begin() as conn:
        schemas = [
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_%' "
                    "AND nspname NOT IN ('information_schema', 'public')"
                )
            )
        ]
        for s in schemas:
            conn.execute(sa.text(f'DROP SCHEMA "{s}" CASCADE'))
    engine.dispose()


def duckdb_url(path: Path) -> str:
    return f"duckdb:///{path}"
