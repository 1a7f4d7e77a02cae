"""Compiled statements kept on disk, so an audit repeated with the same checks (the next partition,
the next run of the ETL job) sends the same SQL without building it again, and without importing
sqlglot at all.

An entry is keyed by what the statement is built from: the engine's dialect, the table, its
partition column and type, the number of partitions, the aggregates (or, for failing-row samples,
the check's fingerprint and the row cap), and the code that builds it (Quinto's version, sqlglot's
version and the size and modification time of Quinto's own modules, so an edited or upgraded
Quinto never reuses an old entry). The partition values are not part of the statement (they are
bound parameters): an entry is built with stand-in values, and the real ones are bound on use.

Where: `$QUINTO_STATEMENT_CACHE` if set (`off` turns the cache off), else
`$XDG_CACHE_HOME/quinto/statements` (`~/.cache/quinto/statements`). Entries are small JSON files,
written to a temporary file and renamed, so processes auditing at the same time never read half an
entry; any unreadable entry is a miss. Deleting the directory clears the cache.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from quinto.compile import Compiled

CACHE_ENV = "QUINTO_STATEMENT_CACHE"
_OFF = ("", "0", "off", "false", "no", "none")


def cache_dir() -> Path | None:
    """The cache directory, or None when the cache is off."""
    raw = os.environ.get(CACHE_ENV)
    if raw is not None:
        return None if raw.strip().lower() in _OFF else Path(raw).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "quinto" / "statements"


@functools.cache
def code_stamp() -> str:
    """What identifies the code that builds statements: versions and Quinto's module files."""
    from importlib.metadata import PackageNotFoundError, version

    versions = []
    for package in ("quinto", "sqlglot"):
        try:
            versions.append(version(package))
        except PackageNotFoundError:  # run from a source tree: the module files below still tell
            versions.append("?")
    root = Path(__file__).parent
    files = []
    for path in sorted(root.rglob("*.py")):
        st = path.stat()
        files.append(f"{path.relative_to(root)}:{st.st_size}:{st.st_mtime_ns}")
    digest = hashlib.sha256("\n".join(files).encode()).hexdigest()[:16]
    return "/".join([*versions, digest])


def stand_in(i: int) -> str:
    """The value partition `i` is compiled with (replaced by the real one on use)."""
    return f"\x00quinto-partition-{i}\x00"


def _encode(value: Any, stand_ins: dict[str, int]) -> Any:
    if isinstance(value, str) and value in stand_ins:
        return {"p": stand_ins[value]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return {"v": value}
    if isinstance(value, dt.datetime):
        return {"t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    if isinstance(value, Decimal):
        return {"n": str(value)}
    raise TypeError(type(value).__name__)


def _decode(value: dict[str, Any], partitions: Sequence[str]) -> Any:
    if "p" in value:
        return partitions[int(value["p"])]
    if "t" in value:
        return dt.datetime.fromisoformat(value["t"])
    if "d" in value:
        return dt.date.fromisoformat(value["d"])
    if "n" in value:
        return Decimal(value["n"])
    return value["v"]


class StatementCache:
    """Compiled statements by key, on disk (a directory of JSON files); `None` directory: off."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.hits = 0
        self.misses = 0

    def compiled(
        self, key: Sequence[Any], partitions: Sequence[str], build: Callable[[list[str]], Compiled | None]
    ) -> Compiled | None:
        """The statement `build(partitions)` returns, from the cache when it has it. `build` must
        use its partitions only as bound values (every statement of quinto.compile does); when it
        returns None (no statement), nothing is kept."""
        if self.directory is None:
            return build(list(partitions))
        digest = hashlib.sha256(json.dumps([code_stamp(), *key], default=repr).encode()).hexdigest()
        path = self.directory / digest[:2] / f"{digest}.json"
        found = self._read(path, partitions)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        stand_ins = [stand_in(i) for i in range(len(partitions))]
        compiled = build(stand_ins)
        if compiled is None:
            return None
        try:
            entry = {
                "sql": compiled.sql,
                "params": {k: _encode(v, {s: i for i, s in enumerate(stand_ins)}) for k, v in compiled.params.items()},
                "aliases": compiled.aliases,
                "grouped": compiled.grouped,
            }
        except TypeError:  # a value JSON cannot carry: built every time
            entry = None
        if entry is not None:
            self._write(path, entry)
        return self._bind(entry, partitions) if entry is not None else build(list(partitions))

    @staticmethod
    def _bind(entry: dict[str, Any], partitions: Sequence[str]) -> Compiled:
        params = {k: _decode(v, partitions) for k, v in entry["params"].items()}
        return Compiled(str(entry["sql"]), params, dict(entry["aliases"]), bool(entry["grouped"]))

    def _read(self, path: Path, partitions: Sequence[str]) -> Compiled | None:
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
            return self._bind(entry, partitions)
        except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError):
            return None

    @staticmethod
    def _write(path: Path, entry: dict[str, Any]) -> None:
        """Write to a temporary file beside it, then rename: readers see the whole entry or none.
        A cache that cannot be written (read-only home, full disk) is only slower."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(entry, f)
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError:
            pass

