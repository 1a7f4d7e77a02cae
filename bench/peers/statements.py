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

# A statement that reads the benchmark table (metadata queries, BEGIN, SET ... do not).
READS_TABLE = re.compile(r"\bfrom\s+(\(?\s*)?(\"?bench\"?\s*\.\s*)?\"?events\"?(\s|\)|$|;)", re.IGNORECASE)
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
