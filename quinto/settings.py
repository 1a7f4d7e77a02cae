"""Settings are data: this one table drives `quinto.yaml` validation, defaults and the docs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: type
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "connections",
        {},
        dict,
        "Named warehouse connections: name → SQLAlchemy URL. `${VAR}` is read from the environment; "
        "a password written literally in the file is refused.",
    ),
    Setting(
        "store",
        "sqlite:///quinto.db",
        str,
        "Results store URL (SQLite or PostgreSQL, e.g. `postgresql+psycopg://...`); `${VAR}` allowed.",
    ),
    Setting("checks", ["checks/"], list, "Check files or folders of check files, relative to quinto.yaml."),
    Setting("default_connection", None, str, "Connection used by check files that name none."),
    Setting("sample_rows", 20, int, "Failing rows fetched after a row-level check fails (0: none)."),
    Setting("partitions_per_scan", 31, int, "Partitions computed by one grouped statement when auditing many."),
    Setting(
        "spool_dir",
        ".quinto/spool",
        str,
        "Where results go when the store cannot be written; the next run replays them.",
    ),
    Setting("base_url", "http://127.0.0.1:5000", str, "Address of the web UI, used in links."),
    Setting("statement_timeout", None, int, "Seconds after which a warehouse statement is cancelled (none: no limit)."),
)

BY_NAME = {s.name: s for s in SETTINGS}
