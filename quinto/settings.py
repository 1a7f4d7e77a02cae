"""Settings are data: this one table drives `quinto.yaml` validation, defaults and the docs. Each
alert channel adds its own section (`smtp:`, `slack:`, `webhook:`, ...): see
`quinto.alerts.channels` and `Channel.keys`."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

#: URL schemes of `connections:` (the connectors of quinto.engines; a test keeps the two equal) and of `store:`
WAREHOUSE_SCHEMES = ("duckdb", "hive", "mariadb", "mysql", "postgres", "postgresql", "presto", "sqlite", "trino")
STORE_SCHEMES = ("postgresql", "sqlite")


@functools.cache
def warehouse_schemes() -> tuple[str, ...]:
    """The built-in schemes and those of installed engine plugins (`quinto.engines` entry points,
    read by name only: nothing is imported)."""
    from quinto.plugins import entry_points_of

    plugins = {ep.name for ep in entry_points_of("quinto.engines")}
    return WAREHOUSE_SCHEMES + tuple(sorted(plugins - set(WAREHOUSE_SCHEMES)))


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    type: type
    help: str
    choices: tuple[str, ...] = ()  # the allowed values of a text setting (empty: any)
    minimum: float | None = None  # the smallest allowed number
    #: "duration" (text like 90s, 30m, 26h, 2d, read as seconds), "secret" (only `${VAR}`, never a
    #: literal), "port" (1-65535), "email" (an address, or `${VAR}`), or "" for a plain value of `type`
    kind: str = ""
    #: for a mapping with fixed keys: the settings of its keys (documented as `parent.key`)
    keys: tuple[Setting, ...] = ()


ALERT_KEYS: tuple[Setting, ...] = (
    Setting(
        "notify",
        [],
        list,
        "Where alerts of check files without `notify:` go, e.g. `[email:owners]`.",
    ),
    Setting(
        "reminder",
        None,
        str,
        "Alert again about a check still failing after this long, e.g. `24h` (none: never).",
        kind="duration",
    ),
    Setting("error_after", "1h", str, "An ERROR alerts only when it persists this long.", kind="duration"),
    Setting(
        "digest",
        [],
        list,
        "Low-priority tables: their state changes go into one message per recipient per day (UTC).",
    ),
)


RETENTION_KEYS: tuple[Setting, ...] = (
    Setting(
        "keep",
        None,
        str,
        "How much history to keep in detail, e.g. `400d` or `52w` (at least `1d`; none: keep everything). "
        "Once a day a scheduler removes superseded runs, statements, failing-row samples and delivered alerts "
        "older than this, as `quinto store prune --keep` does; every partition's current outcome and the "
        "metric history the baselines read are always kept.",
        kind="duration",
        minimum=86400,
    ),
)


API_KEYS: tuple[Setting, ...] = (
    Setting(
        "read_requires_token",
        False,
        bool,
        "Every read of the web UI and JSON API needs a token of any scope (API: `Authorization: Bearer`; UI: "
        "signed in), except /healthz, /readyz, /metrics, static files and the sign-in page. Tokens: "
        "`QUINTO_API_TOKENS`.",
    ),
)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "connections",
        {},
        dict,
        "Named warehouse connections: name → SQLAlchemy URL. `${VAR}` is read from the environment; "
        "a password or a secret query parameter (`password`, `token`, `key`, `secret`, ...) is accepted only as "
        "a whole `${VAR}`, written literally it is refused.",
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
    Setting("base_url", "http://127.0.0.1:5000", str, "Address of the web UI (http or https), used in links."),
    Setting("statement_timeout", None, int, "Seconds after which a warehouse statement is cancelled (none: no limit)."),
    Setting(
        "audit_timeout",
        None,
        int,
        "Seconds one audit of a table may spend in the warehouse, all its statements together (none: no "
        "limit); past it the running statement is cancelled, the rest are not started, and their checks are ERROR.",
        minimum=1,
    ),
    Setting(
        "statement_cost",
        "reported",
        str,
        "What each statement's cost (rows and bytes read, CPU time, peak memory) is read from: `reported` "
        "(what the engine reports itself: Trino's query stats, DuckDB's profile), `explain` (also PostgreSQL's "
        "`EXPLAIN (ANALYZE, BUFFERS)` of each scan, which runs the scan a second time) or `none`.",
        choices=("reported", "explain", "none"),
    ),
    # -- the scheduler (`quinto scheduler`) ---------------------------------------------------------
    Setting("scheduler_timezone", "UTC", str, "Time zone of `schedule:` cron expressions that name none."),
    Setting(
        "sensor_interval",
        300.0,
        float,
        "Seconds between two partition listings of a table with `on: new_partition`.",
        minimum=0.1,
    ),
    Setting("sensor_partitions", 10, int, "Newest partitions a sensor lists and considers per poll.", minimum=1),
    Setting(
        "sensor_rate_limit",
        60,
        int,
        "At most this many sensor listing statements per minute on one connection, shared by all schedulers "
        "on the store; tables wait their turn least recently listed first.",
        minimum=1,
    ),
    Setting(
        "sensor_batch",
        100,
        int,
        "Tables whose partitions one sensor listing statement lists, where the engine allows (Hive: 1).",
        minimum=1,
    ),
    Setting("audit_concurrency", 2, int, "Audits running at once on one connection, across all schedulers.", minimum=1),
    Setting(
        "reaudit_on_change",
        "latest",
        str,
        "When a table's checks change, which audited partitions the scheduler audits again: "
        "`latest` (the newest one), `all` (every one a sensor lists) or `none`.",
        choices=("latest", "all", "none"),
    ),
    Setting(
        "retry_attempts",
        10,
        int,
        "Attempts of a scheduled audit that ends in ERROR (never one that FAILs); 10 cover about three hours.",
        minimum=1,
    ),
    Setting(
        "retry_backoff",
        30.0,
        float,
        "Seconds before the first retry of a scheduled audit; doubled each time, at most one hour.",
        minimum=0,
    ),
    Setting(
        "heartbeat_interval",
        10.0,
        float,
        "Seconds between heartbeats of a running scheduled audit; one without a heartbeat for three "
        "intervals is taken over by another scheduler.",
        minimum=0.1,
    ),
    Setting(
        "queue_interval",
        2.0,
        float,
        "Seconds between two looks of the scheduler at its queue and check files.",
        minimum=0.05,
    ),
    Setting(
        "queue_watch",
        0.05,
        float,
        "Seconds between two looks, between rounds, for audits asked for over HTTP (`POST /api/audits`, "
        "`quinto audit --via`), which start at once instead of at the next round: one indexed read "
        "of the store; 0 turns it off.",
        minimum=0,
    ),
    Setting("alerts", {}, dict, "Alert routing and timing: the `alerts.*` keys.", keys=ALERT_KEYS),
    Setting("retention", {}, dict, "What the store keeps: the `retention.*` keys.", keys=RETENTION_KEYS),
    Setting("api", {}, dict, "Who may read the web UI and JSON API: the `api.*` keys.", keys=API_KEYS),
)

BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    """quinto.yaml's settings, typed. The defaults live in one place, `quinto.settings.SETTINGS`
    (the parser fills them in); a test keeps these fields and that table in step. A
    project's are `Workspace.settings`."""

    connections: Mapping[str, str]
    store: str
    checks: tuple[str, ...]
    default_connection: str | None
    sample_rows: int
    partitions_per_scan: int
    spool_dir: str
    base_url: str
    statement_timeout: int | None
    audit_timeout: int | None
    statement_cost: str
    scheduler_timezone: str
    sensor_interval: float
    sensor_partitions: int
    sensor_rate_limit: int
    sensor_batch: int
    audit_concurrency: int
    reaudit_on_change: str
    retry_attempts: int
    retry_backoff: float
    heartbeat_interval: float
    queue_interval: float
    queue_watch: float
    alerts: Mapping[str, Any]
    retention: Mapping[str, Any]
    api: Mapping[str, Any]

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Settings:
        """From a project's settings (`Project.settings`, defaults filled in by the parser)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = settings.get(f.name, BY_NAME[f.name].default)
            values[f.name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)
