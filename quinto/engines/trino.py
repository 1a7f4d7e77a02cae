from __future__ import annotations

import re
from typing import Any, ClassVar

from quinto.engines.base import Connector


class TrinoConnector(Connector):
    """Trino (`trino://user@host:8080/catalog`, the `trino` client)."""

    ENGINE: ClassVar[str] = "trino"
    DIALECT: ClassVar[str] = "trino"
    #: Trino has no exact percentile: approx_percentile (a t-digest) is used, and documented.
    PERCENTILE: ClassVar[str | None] = "approx_percentile(:col, :p)"
    APPROX_PERCENTILE: ClassVar[str | None] = "approx_percentile(:col, :p)"
    APPROX_DISTINCT: ClassVar[str | None] = "approx_distinct(:col)"
    DISTINCT_TUPLES: ClassVar[str] = "tuple"
    PARTITION_LISTING: ClassVar[str] = "$partitions"
    CASE_SENSITIVE_IDENTIFIERS: ClassVar[bool] = False
    #: varchar never compares with integer or date implicitly.
    TEXT_PARAMETERS_COERCE: ClassVar[bool] = False

    def cancel(self, cursor: Any, dbapi_connection: Any) -> None:
        cursor.cancel()

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


class PrestoConnector(TrinoConnector):
    """PrestoDB (`presto://user@host:8080/catalog`, pyhive's presto dialect)."""

    ENGINE: ClassVar[str] = "presto"
    DIALECT: ClassVar[str] = "presto"
    #: pyhive polls Presto for results once a second by default; short statements wait for nothing.
    CONNECT_ARGS: ClassVar[dict[str, Any]] = {"poll_interval": 0.05}

    def clean_error(self, text: str) -> str:
        """pyhive shows Presto's error document: `{'message': "line 1:8: Column 'x' cannot be
        resolved", 'errorCode': 1, 'errorName': 'SYNTAX_ERROR', ...}` → `SYNTAX_ERROR: line 1:8: ...`."""
        message = re.search(r"""['"]message['"]: (?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")""", text)
        name = re.search(r"""['"]errorName['"]: ['"](\w+)['"]""", text)
        if message is None:
            return super().clean_error(text)
        body = message.group(1) if message.group(1) is not None else message.group(2)
        return f"{name.group(1)}: {body}" if name else body
