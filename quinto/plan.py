"""What an audit is about before anything runs: the partitions asked for (parsed and validated),
the identity of each metric's definition and of a whole suite (fingerprints), and how much history
the judging may read."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from quinto.checks import CHECK_TYPES
from quinto.checks.base import identity
from quinto.errors import UsageError
from quinto.evaluate import Status
from quinto.spec import Check, TableSpec

CHECK_FAULT, WAREHOUSE_FAULT = "check", "warehouse"
PARTITION_VALUE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-:.+/ ]{0,127}$")
WHOLE_TABLE = "*"


@dataclass(frozen=True)
class Failure:
    """Why a check has no value: an ERROR that is a check's fault (the engine refused what it asks)
    or the warehouse's (down, timed out, out of memory); or a FAIL (the partition does not exist)."""

    message: str
    fault: str | None = WAREHOUSE_FAULT
    status: Status = Status.ERROR


def parse_partition_arg(arg: str, spec: TableSpec) -> str:
    """`ds=2026-11-27` (or just `2026-11-27`) → the validated value."""
    column, sep, value = arg.partition("=")
    if not sep:
        column, value = spec.partition or "", arg
    if spec.partition is None:
        raise UsageError(f"table {spec.table} declares no `partition:` column; audit it without --partition")
    if column != spec.partition:
        raise UsageError(f"table {spec.table} is partitioned by '{spec.partition}', not '{column}'")
    return validate_partition(value, spec)


def validate_partition(value: str, spec: TableSpec) -> str:
    if not isinstance(value, str) or not PARTITION_VALUE.fullmatch(value):  # fullmatch: no trailing newline
        raise UsageError(
            f"refusing partition value {value!r}: only letters, digits and _ - : . + / and spaces are allowed"
        )
    if spec.partition_format and not re.fullmatch(spec.partition_format, value):
        raise UsageError(f"partition value {value!r} does not match partition_format {spec.partition_format!r}")
    return value


def castable(value: str, ptype: str) -> bool:
    """Whether a partition value can be a value of a `partition_type:` column at all."""
    try:
        if ptype == "date":
            dt.date.fromisoformat(value)
        elif ptype == "timestamp":
            dt.datetime.fromisoformat(value)
        elif ptype == "integer":
            int(value)
    except ValueError:
        return False
    return True


def number(value: Any) -> Any:
    """A value from a driver as a plain Python number where it is one."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bool):
        return int(value)
    return value


def fingerprint(check: Check) -> str:
    """Identity of the metric's definition: a changed definition starts a new history. It is made
    of the type, the metric, the aggregates and every field of the type's parsed options."""
    ctype = CHECK_TYPES[check.type]
    parts = [
        check.type,
        check.metric_key,
        *sorted(a.key for a in ctype.aggregates(check)),
        repr(identity(check.params)),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def suite_fingerprint(spec: TableSpec) -> str:
    """Identity of everything that decides a table's outcomes: its partition column and every check
    with its conditions and options (not where the lines are). A change means "audit again"."""
    parts: list[str] = [spec.table, spec.partition or "", spec.partition_type]
    parts += ["empty_partitions: allowed"] if spec.empty_partitions_allowed else []
    parts += [f"holidays: {','.join(spec.holidays)}"] if spec.holidays else []
    for c in sorted(spec.checks, key=lambda c: c.key):
        parts += [
            c.key,
            c.type,
            ",".join(col.name for col in c.columns),
            repr(c.condition),
            repr(c.warn),
            repr(c.fail),
            c.severity,
            repr(c.change),
            repr(c.anomaly),
            repr(identity(c.params)),
        ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def history_depth(spec: TableSpec) -> int:
    """How many earlier partitions the judging of a suite may read: the longest window (weeks of
    days with same_weekday, earlier same days of the month with month_day) or change base, and
    never under 400."""
    depth = 400
    for c in spec.checks:
        if c.anomaly is not None:
            days = c.anomaly.window * (7 if c.anomaly.same_weekday else 1)
            month_day = c.anomaly.seasonality is not None and "month_day" in c.anomaly.seasonality
            depth = max(depth, days + (4 * 31 if month_day else 0) + 10)
        if c.change is not None:
            depth = max(depth, 4 * c.change.n + 10)
    return depth
