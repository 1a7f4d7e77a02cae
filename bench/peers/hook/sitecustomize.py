"""Start-up hook of the bench: with QUINTO_BENCH_DUCKDB_LOG=DIR in the environment, every DuckDB
connection the process opens to the file QUINTO_BENCH_DUCKDB_DB writes DuckDB's own query log
(`SET log_query_path`) to a file in DIR.

The bench puts this directory on PYTHONPATH of every tool's process (Quinto, GX, Soda and the
hand-written scan alike), so DuckDB statements are counted the same way for all of them. duckdb is
wrapped when something imports it, not before: the hook adds no import to a process that has none.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import itertools
import os
import sys
from typing import Any

LOG_DIR = os.environ.get("QUINTO_BENCH_DUCKDB_LOG")
# Only connections to this database file are logged (drivers also open private in-memory databases).
DATABASE = os.path.realpath(os.environ.get("QUINTO_BENCH_DUCKDB_DB", ""))


def _wrap(module: Any) -> None:
    connect = module.connect
    numbers = itertools.count()

    def logged_connect(*args: Any, **kwargs: Any) -> Any:
        con = connect(*args, **kwargs)
        database = kwargs.get("database", args[0] if args else ":memory:")
        if os.path.realpath(str(database)) != DATABASE:
            return con
        path = os.path.join(str(LOG_DIR), f"{os.getpid()}-{next(numbers)}.sql")
        con.execute(f"SET log_query_path = '{path}'")
        return con

    module.connect = logged_connect


class _DuckDBFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "duckdb":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_wrap(module: Any) -> None:
            exec_module(module)
            _wrap(module)

        loader.exec_module = exec_and_wrap  # type: ignore[method-assign]
        return spec


if LOG_DIR:
    sys.meta_path.insert(0, _DuckDBFinder())
