"""Statements sent to the database, read from the database's own logs.

PostgreSQL: the bench database has `log_statement = 'all'` (ALTER DATABASE, no restart); every
`statement:` / `execute ...:` entry written to the server log while a tool ran is one statement.
With `%d` in `log_line_prefix` (the bench's own server sets it) only entries of the bench database
count; on a server without it, the bench database is the only one logging statements.

DuckDB has no server: its query log (`log_query_path`, switched on by hook/sitecustomize.py in every
tool's process) holds each statement's text followed by a newline, so a statement spanning several
lines is found with DuckDB's own parser: a line that begins with a statement keyword (SELECT, WITH, BEGIN,
ROLLBACK, SET, ...) starts a new one when the lines before it parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# A statement that reads the benchmark table (metadata queries, BEGIN, SET ... do not).
# The table may be named with its catalog (Trino: "hive"."bench"."events"), quoted with backticks (Spark)
# and end a string (Trino's client sends parameterised statements as EXECUTE IMMEDIATE '...').
READS_TABLE = re.compile(
    r"\bfrom\s+(\(?\s*)?([\"`]?\w+[\"`]?\s*\.\s*){0,2}[\"`]?events[\"`]?(\s|\)|$|;|')", re.IGNORECASE
)
PG_ENTRY = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ \[\d+\] ")
PG_STATEMENT = re.compile(r"LOG:  (?:statement|execute [^:]*): (.*)$", re.DOTALL)


@dataclass
class Count:
    total: int = 0
    table_reads: int = 0

    def add(self, sql: str) -> None:
        self.total += 1
        if READS_TABLE.search(sql):
            self.table_reads += 1


class PostgresLog:
    def __init__(self, path: Path, database: str, prefix_has_db: bool) -> None:
        self.path, self.database, self.prefix_has_db = path, database, prefix_has_db
        self.offset = 0

    def mark(self) -> None:
        self.offset = self.path.stat().st_size

    def count(self) -> Count:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            text = f.read().decode("utf-8", "replace")
        entries: list[str] = []
        for line in text.split("\n"):
            if PG_ENTRY.match(line):
                entries.append(line)
            elif entries:
                entries[-1] += "\n" + line
        count = Count()
        for entry in entries:
            head = PG_ENTRY.match(entry)
            assert head is not None
            rest = entry[head.end() :]
            if self.prefix_has_db:
                if not rest.startswith(self.database + " "):
                    continue
                rest = rest[len(self.database) + 1 :]
            m = PG_STATEMENT.match(rest)
            if m:
                count.add(m.group(1))
        return count


# Lines that begin a statement; a line starts a new one only when the lines before it parse.
STARTS = re.compile(
    r"^\s*(SELECT|WITH|BEGIN|ROLLBACK|COMMIT|ABORT|END|SET|RESET|PRAGMA|CREATE|DROP|ALTER|INSERT|UPDATE|DELETE"
    r"|COPY|COMMENT|DESCRIBE|SHOW|SUMMARIZE|CALL|EXPLAIN|ATTACH|DETACH|USE|INSTALL|LOAD|CHECKPOINT|VACUUM"
    r"|ANALYZE|EXPORT|IMPORT|PREPARE|EXECUTE|DEALLOCATE|VALUES)\b",
    re.IGNORECASE,
)


def _parse(sql: str) -> list[str] | None:
    import duckdb

    try:
        return [s.query for s in duckdb.extract_statements(sql)]
    except Exception:  # noqa: BLE001 - not a whole statement
        return None


def duckdb_statements(text: str) -> list[str]:
    """Splits a DuckDB query log into statements (see the module docstring)."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    out: list[str] = []
    current: list[str] = []

    def flush() -> None:
        sql = "\n".join(current)
        out.extend(_parse(sql) or [sql])

    for line in lines:
        if current and STARTS.match(line) and _parse("\n".join(current)):
            flush()
            current = []
        current.append(line)
    if current:
        flush()
    return out


def count_duckdb_logs(log_dir: Path) -> Count:
    count = Count()
    for path in sorted(log_dir.glob("*.sql")):
        for sql in duckdb_statements(path.read_text(encoding="utf-8", errors="replace")):
            count.add(sql)
        path.unlink()
    return count


TOOL_USER = "bench"  # every tool connects to Trino and Spark as this user
METER_USER = "bench_meter"  # the bench itself, loading data and reading the history


class TrinoHistory:
    """Statements from `system.runtime.queries` (CONNECT: a callable returning a DBAPI connection as
    METER_USER). Trino keeps finished queries for at least `query.min-expire-age` (15 minutes)."""

    def __init__(self, connect: Any) -> None:
        self.connect = connect
        self.seen: set[str] = set()
        self.last: list[str] = []

    def _queries(self) -> list[tuple[str, str]]:
        con = self.connect()
        try:
            cur = con.cursor()
            cur.execute(
                "SELECT query_id, query FROM system.runtime.queries WHERE \"user\" = ? ORDER BY created",
                [TOOL_USER],
            )
            return [(str(q), str(text)) for q, text in cur.fetchall()]
        finally:
            con.close()

    def mark(self) -> None:
        self.seen.update(q for q, _ in self._queries())

    def count(self) -> Count:
        count = Count()
        self.last = []
        for query_id, sql in self._queries():
            if query_id not in self.seen:
                self.seen.add(query_id)
                self.last.append(sql)
                count.add(sql)
        return count


OPERATION_START = "SparkListenerThriftServerOperationStart"


class SparkEventLog:
    """Statements from the Spark Thrift Server's event log in FOLDER (the newest file there is the
    running server's)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path: Path | None = None
        self.offset = 0
        self.last: list[str] = []

    def _current(self) -> Path:
        files = [p for p in self.folder.iterdir() if p.is_file()] if self.folder.is_dir() else []
        if not files:
            raise RuntimeError(f"no Spark event log in {self.folder}")
        return max(files, key=lambda p: p.stat().st_mtime)

    def mark(self) -> None:
        self.path = self._current()
        self.offset = self.path.stat().st_size

    def count(self) -> Count:
        import json

        assert self.path is not None, "mark() first"
        with self.path.open("rb") as f:
            f.seek(self.offset)
            text = f.read().decode("utf-8", "replace")
        count = Count()
        self.last = []
        for line in text.splitlines():
            if OPERATION_START not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:  # a line still being written
                continue
            if event.get("Event", "").endswith(OPERATION_START) and event.get("userName") == TOOL_USER:
                sql = str(event.get("statement", ""))
                self.last.append(sql)
                count.add(sql)
        return count
