"""What the store hands back: frozen dataclasses, one per kind of row, and the status enums.

Field names are the store's column names (`table_name`, `partition_value`, `check_key`); in JSON
they take the one vocabulary `quinto audit --json`, the API and alert payloads share (`table`,
`partition`, `check`: `json_name`), and storage details (`sort_key`) are left out. The API
serializes these records with `to_json` and its OpenAPI schema is generated from the same classes
(`quinto.web.schema`). A field's `doc` metadata is its description there. Times are aware UTC
times whatever the database (SQLite hands back naive ones) and ISO 8601 with their zone in JSON.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import typing
from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import Any, NamedTuple, TypeVar

from quinto.evaluate import Status
from quinto.results import jsonable
from quinto.store.common import utc

R = TypeVar("R")


class RunStatus(StrEnum):
    """A run's status: a queued audit is QUEUED, then RUNNING, then takes its outcomes' worst status."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    LEARNING = Status.LEARNING.value
    PASS = Status.PASS.value
    WARN = Status.WARN.value
    FAIL = Status.FAIL.value
    ERROR = Status.ERROR.value


class MarkKind(StrEnum):
    """A partition marked good joins baselines even after a failure; one marked bad never does."""

    GOOD = "good"
    BAD = "bad"


class OutboxStatus(StrEnum):
    """pending → sending (claimed by one sender) → sent; digest items: held → digested."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    HELD = "held"
    DIGESTED = "digested"
    CANCELLED = "cancelled"


#: outcome statuses that make a partition failing (the overview, /api/failing)
FAILING = (Status.FAIL, Status.ERROR)
#: outcome statuses listed among a failing partition's failures
NOT_PASSING = (Status.FAIL, Status.ERROR, Status.WARN)


def doc(text: str) -> dict[str, str]:
    """A field's metadata: its description in the API schema."""
    return {"doc": text}


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A row of `runs`: an audit, queued, running or complete."""

    id: int
    table_name: str
    connection: str
    partition_column: str | None
    partitions: str = field(metadata=doc("the partitions audited, as JSON text (a list of strings), as stored"))
    status: RunStatus = field(metadata=doc("QUEUED, RUNNING, then the worst status of its outcomes"))
    started_at: dt.datetime = field(metadata=doc("when it started (for a queued run: when it was requested)"))
    finished_at: dt.datetime | None = field(metadata=doc("none while queued or running"))
    statement_count: int = field(metadata=doc("statements sent to the warehouse"))
    trigger: str = field(metadata=doc("what started it: cli, schedule, sensor, http, backfill, ..."))
    error: str | None = field(metadata=doc("why it could not complete, if so"))
    partition_value: str | None = field(metadata=doc("the one partition of a single-partition run"))
    suite_fingerprint: str | None = field(metadata=doc("the table's check definitions it used"))
    requested_at: dt.datetime | None = field(metadata=doc("when it was queued"))
    requested_by: str | None = field(metadata=doc("who queued it"))
    force: bool = field(metadata=doc("audit even if an audit of the partition is already running"))
    attempts: int = field(metadata=doc("tries by schedulers so far"))
    not_before: dt.datetime | None = field(metadata=doc("a retry waits until then"))
    claimed_by: str | None = field(metadata=doc("the scheduler running it: host:pid:token"))
    heartbeat_at: dt.datetime | None = field(metadata=doc("the running scheduler's last sign of life"))
    exit_code: int | None = field(
        metadata=doc("as `quinto audit`: 0 publish, 1 do not publish, 2 bad input, 3 infrastructure")
    )

    @property
    def partition_list(self) -> list[str]:
        """`partitions`, decoded."""
        found: list[str] = json.loads(self.partitions or "[]")
        return found

    @property
    def duration_s(self) -> float | None:
        return (self.finished_at - self.started_at).total_seconds() if self.finished_at else None


@dataclasses.dataclass(frozen=True)
class OutcomeRecord:
    """A row of `outcomes`: one check judged on one partition by one run."""

    id: int
    run_id: int
    table_name: str
    partition_value: str
    check_key: str
    check_type: str
    metric_key: str
    fingerprint: str = field(
        metadata=doc("the check's definition, hashed: its history is the values of this fingerprint")
    )
    status: Status
    value: float | None
    judged: float | None = field(metadata=doc("the number compared: the value, or its change"))
    threshold: str
    band_low: float | None
    band_high: float | None
    message: str
    source: str = field(metadata=doc("file:line:col of the check"))
    samples: list[Any] | None = field(metadata=doc("failing rows (objects: column → value), if the check keeps them"))
    current: bool = field(metadata=doc("false once a later run judged the same partition"))
    created_at: dt.datetime
    suite_fingerprint: str | None
    fault: str | None = field(metadata=doc('an ERROR\'s cause: "check" or "warehouse"'))


@dataclasses.dataclass(frozen=True)
class Failure:
    """A failing (FAIL, ERROR or WARN) current outcome of a failing partition."""

    partition_value: str
    check_key: str
    status: Status
    value: float | None
    judged: float | None
    threshold: str
    band_low: float | None
    band_high: float | None
    message: str
    source: str = field(metadata=doc("file:line:col of the check"))


@dataclasses.dataclass(frozen=True)
class PartitionSummary:
    """A row of `partition_status`: a partition's worst current outcome and its counts."""

    table_name: str
    partition_value: str
    sort_key: str = field(metadata=doc("how partitions sort in the store (integers zero-padded); a storage detail"))
    status: Status = field(metadata=doc("the worst status of its current outcomes"))
    checks: int
    failed: int
    warned: int
    errored: int
    run_id: int = field(metadata=doc("the run that last judged it"))
    audited_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class FailingPartition(PartitionSummary):
    failures: tuple[Failure, ...]


@dataclasses.dataclass(frozen=True)
class TableSummary:
    """A row of `table_status`: a table's latest audited partition and how it went."""

    table_name: str
    connection: str
    partition_column: str | None
    latest_partition: str
    status: Status = field(metadata=doc("the status of its latest partition"))
    failing_recent: int = field(metadata=doc("FAIL/ERROR among the last 30 partitions"))
    partitions: int = field(metadata=doc("partitions audited"))
    last_run_id: int
    last_run_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class StatementRecord:
    """A statement a run sent to the warehouse."""

    id: int
    run_id: int
    seq: int
    purpose: str
    sql: str
    params: str = field(metadata=doc("the bound parameters, as JSON text, as stored"))
    duration_ms: float
    rows: int
    error: str | None
    rows_scanned: int | None = field(default=None, metadata=doc("rows the engine read (null: not reported)"))
    bytes_scanned: int | None = field(default=None, metadata=doc("bytes the engine read (null: not reported)"))
    cpu_ms: float | None = field(default=None, metadata=doc("the engine's CPU time in ms (null: not reported)"))
    peak_memory_bytes: int | None = field(default=None, metadata=doc("the engine's peak memory (null: not reported)"))


@dataclasses.dataclass(frozen=True)
class MetricPoint:
    """A metric's current value on a partition."""

    partition_value: str
    value: float | None
    fingerprint: str
    run_id: int
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class CheckRef:
    """A check judged on a partition, and where it is declared."""

    check_key: str
    check_type: str
    source: str
    threshold: str = ""


class GridCell(NamedTuple):
    """A current outcome as the heatmap and the trends read it."""

    partition: str
    check: str
    status: str
    value: float | None
    judged: float | None
    band_low: float | None
    band_high: float | None


@dataclasses.dataclass(frozen=True)
class SchedulerProblem:
    """A check file the scheduler cannot use; it keeps running the file's last good version."""

    file: str
    message: str
    scheduler: str
    first_seen: dt.datetime
    last_seen: dt.datetime


@dataclasses.dataclass(frozen=True)
class SnoozeRecord:
    """A snooze in force: no alerts for `table` (or only its check `check`) until `until`."""

    id: int
    table: str
    check: str | None = field(metadata=doc("none: the whole table"))
    until: dt.datetime
    reason: str | None
    created_by: str | None
    created_at: dt.datetime


@dataclasses.dataclass(frozen=True)
class OutboxRecord:
    """A row of `alert_outbox`: an alert (or digest) to deliver to one target of one channel."""

    id: int
    run_id: int | None = field(metadata=doc("none for a digest"))
    table_name: str | None = field(metadata=doc("none for a digest, which may span tables"))
    channel: str
    target: str
    kind: str = field(metadata=doc('"alert", "digest_item" or "digest"'))
    status: OutboxStatus
    payload: str = field(metadata=doc("JSON text: what changed; rendered when sent"))
    day: str | None = field(metadata=doc("UTC day of a digest item or digest"))
    digest_id: int | None
    attempts: int
    next_attempt_at: dt.datetime | None
    claimed_by: str | None
    claimed_at: dt.datetime | None
    sent_at: dt.datetime | None
    last_error: str | None
    created_at: dt.datetime


class IncidentState(StrEnum):
    """open: failing on its latest partitions; closed: a later partition passed; resolved by a person."""

    OPEN = "open"
    CLOSED = "closed"
    RESOLVED = "resolved"


class Resolution(StrEnum):
    """expected: its partitions are marked good (the new normal); defect: marked bad (kept out of baselines)."""

    EXPECTED = "expected"
    DEFECT = "defect"


#: what resolving an incident marks its failing partitions (and what marking them all resolves it as)
RESOLUTION_MARK = {Resolution.EXPECTED: MarkKind.GOOD, Resolution.DEFECT: MarkKind.BAD}


@dataclasses.dataclass(frozen=True)
class MarkRecord:
    """A partition's current mark: who said it was good or bad, when and why."""

    kind: MarkKind
    reason: str | None
    by: str | None
    at: dt.datetime


@dataclasses.dataclass(frozen=True)
class IncidentRecord:
    """Consecutive failures of one check of a table, by partition order: open until a later
    partition passes. ERROR and LEARNING outcomes neither open nor close one."""

    id: int
    table_name: str
    check_key: str
    state: IncidentState
    first_partition: str = field(metadata=doc("since: its earliest failing partition"))
    last_partition: str = field(metadata=doc("its latest failing partition"))
    failing: int = field(metadata=doc("how many of its partitions fail now"))
    last_value: float | None = field(metadata=doc("the number judged on its latest failing partition"))
    closed_partition: str | None = field(metadata=doc("the later partition that passed, once closed"))
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    acked_at: dt.datetime | None = field(metadata=doc("when someone said they are on it (silences reminders)"))
    acked_by: str | None
    ack_note: str | None
    resolution: Resolution | None = field(metadata=doc("expected (marked good) or defect (marked bad)"))
    resolved_at: dt.datetime | None
    resolved_by: str | None
    resolve_reason: str | None
    last_value_text: str | None = field(
        default=None,
        metadata=doc("the last value as a person reads it, in the check's unit (`874 rows`, `12.5 %`, `30 h`)"),
    )

    @property
    def acknowledged(self) -> bool:
        return self.acked_at is not None


@dataclasses.dataclass(frozen=True)
class IncidentPartition:
    """A partition of an incident: its number, whether it still fails, its mark."""

    partition_value: str
    failing: bool = field(metadata=doc("false once a rerun of it passed"))
    value: float | None
    judged: float | None = field(metadata=doc("the number compared: the value, or its change"))
    run_id: int = field(metadata=doc("the run that last judged it failing"))
    mark: MarkRecord | None


_PLANS: dict[type, list[tuple[str, Any]]] = {}


def _plan(cls: type) -> list[tuple[str, Any]]:
    """(field, how its stored value becomes the field's value) for each field of `cls`: an enum
    class, `utc` for times, or None (as stored)."""
    if cls not in _PLANS:
        plan: list[tuple[str, Any]] = []
        hints = typing.get_type_hints(cls)
        for name, hint in ((f.name, hints[f.name]) for f in dataclasses.fields(cls)):
            kinds = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
            kind = kinds[0] if len(kinds) == 1 else None
            if isinstance(kind, type) and issubclass(kind, StrEnum):
                plan.append((name, kind))
            elif kind is dt.datetime:
                plan.append((name, utc))
            else:
                plan.append((name, None))
        _PLANS[cls] = plan
    return _PLANS[cls]


_DEFAULTED: dict[type, frozenset[str]] = {}


def _defaulted(cls: type) -> frozenset[str]:
    """The fields of `cls` that have a default."""
    missing = dataclasses.MISSING
    return frozenset(
        f.name for f in dataclasses.fields(cls) if f.default is not missing or f.default_factory is not missing
    )


def record(cls: type[R], row: Mapping[Any, Any], **extra: Any) -> R:
    """A record of class `cls` from a database row (a mapping of its columns) and `extra` fields.
    Times become aware UTC times (SQLite hands back naive ones), statuses their enums."""
    values = {}
    for name, convert in _plan(cls):
        if name in extra:
            value = extra[name]
        elif name in row or name not in _DEFAULTED.setdefault(cls, _defaulted(cls)):
            value = row[name]
        else:  # a derived field with a default, not a column
            continue
        values[name] = convert(value) if convert is not None and value is not None else value
    return cls(**values)


def outcome(row: Mapping[Any, Any]) -> OutcomeRecord:
    samples = row["samples"]
    return record(OutcomeRecord, row, samples=json.loads(samples) if samples else None)


_SCALARS = (str, int, float, bool, type(None))
_FIELDS: dict[type, tuple[tuple[str, str], ...]] = {}

#: store column names and the names JSON gives them (the vocabulary of `quinto audit --json`)
JSON_NAMES = {"table_name": "table", "partition_value": "partition", "check_key": "check"}
#: fields that stay inside the store
INTERNAL = frozenset({"sort_key"})


def json_name(f: dataclasses.Field[Any]) -> str | None:
    """A record field's name in JSON, or None when it is never sent."""
    if f.name in INTERNAL:
        return None
    return str(f.metadata.get("json") or JSON_NAMES.get(f.name, f.name))


def to_json(value: Any) -> Any:
    """A record (or a list, tuple or dict of them) as JSON-ready data, field by field."""
    cls = type(value)
    if cls in _SCALARS:
        return value
    names = _FIELDS.get(cls)
    if names is None:
        if not dataclasses.is_dataclass(value) or isinstance(value, type):
            return _plain(value)
        names = _FIELDS[cls] = tuple(
            (f.name, out) for f in dataclasses.fields(value) if (out := json_name(f)) is not None
        )
    return {out: to_json(getattr(value, name)) for name, out in names}


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return utc(value).isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return jsonable(value)


def json_object(value: object) -> dict[str, Any]:
    """A record as a JSON object (`to_json` of a dataclass)."""
    out = to_json(value)
    if not isinstance(out, dict):
        raise TypeError(f"not a record: {type(value).__name__}")
    return out


__all__ = [
    "FAILING",
    "INTERNAL",
    "JSON_NAMES",
    "NOT_PASSING",
    "CheckRef",
    "FailingPartition",
    "Failure",
    "GridCell",
    "IncidentPartition",
    "IncidentRecord",
    "IncidentState",
    "MarkKind",
    "MarkRecord",
    "MetricPoint",
    "OutboxRecord",
    "OutboxStatus",
    "OutcomeRecord",
    "PartitionSummary",
    "Resolution",
    "RunRecord",
    "RunStatus",
    "SchedulerProblem",
    "SnoozeRecord",
    "StatementRecord",
    "TableSummary",
    "json_name",
    "json_object",
    "outcome",
    "record",
    "to_json",
]
