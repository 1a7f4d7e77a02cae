"""Frozen dataclasses describing what the user declared. Built only by `quinto.spec`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from quinto.checks import CHECK_TYPES, Params
from quinto.errors import Location
from quinto.spec.grammar import ChangeBase, Condition


@dataclass(frozen=True)
class Column:
    name: str
    location: Location


@dataclass(frozen=True)
class MinChange:
    """A floor below which a change is never news: `amount` percent of the expected value when
    `relative`, else `amount` in the metric's unit."""

    amount: float
    relative: bool
    text: str


@dataclass(frozen=True)
class Anomaly:
    """`anomaly:` options; `quinto.baseline` holds the model they steer."""

    window: int = 28  # partitions learnt from (weeks of them with same_weekday)
    sigma: float = 3.0
    same_weekday: bool = False  # kept from earlier versions: seasonality [weekday], window in weeks
    min_history: int | None = None  # None: 14 for daily partitions, 7 for others
    method: str = "robust"  # "robust" (outliers down-weighted) or "mean" (plain least squares)
    calibrate: bool = True  # kept from earlier versions: the band is always the t prediction interval
    seasonality: tuple[str, ...] | None = None  # None: weekday on daily partitions
    direction: str = "both"  # "drop": only a low value fails; "spike": only a high one
    min_change: tuple[MinChange, ...] = ()  # every floor must be passed for a FAIL


@dataclass(frozen=True)
class Check:
    key: str  # identity of the check within its table; results are keyed by it
    type: str  # a name in quinto.checks.CHECK_TYPES
    columns: tuple[Column, ...]
    location: Location
    condition: Condition | None = None  # must hold to pass
    warn: Condition | None = None  # WARN when it holds
    fail: Condition | None = None  # FAIL when it holds
    severity: str = "fail"  # what a broken `condition` means: "fail" or "warn"
    change: ChangeBase | None = None  # the condition applies to the change vs an earlier partition
    anomaly: Anomaly | None = None
    samples: int = 20  # failing rows fetched after a row-level check fails (0: none)
    notify: str | None = "fail"  # the lowest status that alerts: "fail" or "warn"; None: never alerts
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))  # the type's, as written
    params: Params = field(default_factory=Params)  # the type's options, parsed (its own Params subclass)
    expression_location: Location | None = None  # where the option selecting a custom metric is written

    @property
    def metric_key(self) -> str:
        """The metric this check judges, e.g. `missing_count(account_id)`; shared by checks."""
        return CHECK_TYPES[self.type].metric_key(self)

    # read by quinto.audit.warehouse_problems until the application layer asks the check type itself
    @property
    def sql(self) -> str | None:
        return getattr(self.params, "sql", None) if CHECK_TYPES[self.type].kind == "query" else None

    @property
    def reference(self) -> Any:
        return self.params if hasattr(self.params, "table") else None


@dataclass(frozen=True)
class Schedule:
    """`schedule:` of a check file: when a cron expression fires (in `timezone`), the partition
    named by `partition` (an offset from the firing time, in `unit`s) is audited."""

    cron: str
    timezone: str | None  # None: the `scheduler_timezone` setting
    offset: int = -1  # -1 with unit "day": yesterday
    unit: str = "day"  # "day" or "hour"
    format: str = "%Y-%m-%d"  # strftime of the partition value
    location: Location | None = None


@dataclass(frozen=True)
class TableSpec:
    table: str
    connection: str
    partition: str | None
    checks: tuple[Check, ...]
    location: Location
    owners: tuple[str, ...] = ()
    notify: tuple[str, ...] = ()  # targets: "slack:#channel", "email:owners", "email:a@b.c"
    notify_locations: tuple[Location, ...] = ()  # where each of `notify` is written
    notify_declared: bool = False  # `notify:` written (`notify: []` opts out of quinto.yaml's default)
    partition_format: str | None = None  # a regex every partition value must match
    connection_location: Location | None = None
    partition_type: str = "string"  # how partition values compare: string, date, timestamp, integer
    schedule: Schedule | None = None  # cron: audit the partition it names
    sensor: bool = False  # `on: new_partition`: audit each partition as it appears
    file: str | None = None  # the check file, as shown in messages
    table_location: Location | None = None  # where `table:` and `partition:` are written
    partition_location: Location | None = None
    # a partition with no rows is an empty partition even when the partition listing lacks it
    empty_partitions_allowed: bool = False
    holidays: tuple[str, ...] = ()  # dates (YYYY-MM-DD) whose partitions anomaly and change checks do not judge


@dataclass(frozen=True)
class Project:
    root: str
    connections: Mapping[str, str]  # name → SQLAlchemy URL (after ${VAR} interpolation)
    store: str
    check_paths: tuple[str, ...]
    settings: Mapping[str, Any]
    location: Location | None = None
    check_locations: tuple[Location, ...] = ()  # where each of `check_paths` is written
    # where nested settings are written: "alerts.digest" (the value), "alerts.digest.0" (an item)
    locations: Mapping[str, Location] = field(default_factory=lambda: MappingProxyType({}))
