from __future__ import annotations

from typing import ClassVar

from quinto.engines.base import Connector


class PostgresConnector(Connector):
    ENGINE: ClassVar[str] = "postgres"
    DIALECT: ClassVar[str] = "postgres"
    PERCENTILE: ClassVar[str | None] = "percentile_cont(:p) within group (order by :col)"
    DISTINCT_TUPLES: ClassVar[str] = "tuple"
