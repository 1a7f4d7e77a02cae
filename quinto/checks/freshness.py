"""`freshness`: the age of the newest timestamp of a column."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quinto.checks.base import SECONDS, Aggregate, Measure, OneAggregate, OptionReader, Params
from quinto.compile import Binder, col
from quinto.dialect import Dialect
from quinto.errors import did_you_mean
from quinto.lazy import exp

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check


class Newest(Measure):
    kind = "max_time"

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        return exp.Max(this=col(agg.columns[0]))


RELATIVE_TO = ("partition_end", "now")


@dataclass(frozen=True)
class Age(Params):
    relative_to: str = "partition_end"  # or "now"


class Freshness(OneAggregate):  # its aggregate is the newest timestamp
    name = "freshness"
    doc = (
        "Age of the newest timestamp in the column, measured from the end of the partition "
        "(`relative_to: partition_end`, the default for date partitions) or from now "
        "(`relative_to: now`). Thresholds are durations: 90s, 30m, 26h, 2d, 1w."
    )
    example = "freshness(event_ts) < 26h"
    unit = SECONDS
    options = frozenset({"relative_to"})
    params_type = Age

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        rel = opts.get("relative_to", "partition_end")
        if rel not in RELATIVE_TO:
            reader.err(
                reader.value_loc("relative_to"),
                "`relative_to:` is 'partition_end' or 'now'" + did_you_mean(str(rel), RELATIVE_TO),
            )
            return Age()
        return Age(rel)

    def agg(self, check: Check) -> Aggregate:
        return Aggregate("max_time", (check.columns[0].name,))

    def judged_value(self, check: Check, aggs: Mapping[str, Any], partition: str, now: dt.datetime) -> Any:
        """The newest timestamp's age in seconds, at the partition's end or now."""
        assert isinstance(check.params, Age)
        newest = to_datetime(self.value(check, aggs))
        if newest is None:
            return None
        ref = partition_end(partition) if check.params.relative_to == "partition_end" else now
        return ((ref or now) - newest).total_seconds()


def to_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if isinstance(value, str):
        try:
            return to_datetime(dt.datetime.fromisoformat(value))
        except ValueError:
            return None
    if isinstance(value, (int, float)):
        return dt.datetime.fromtimestamp(value, dt.UTC)
    return None


def partition_end(partition: str) -> dt.datetime | None:
    """The end of a date (YYYY-MM-DD, YYYYMMDD) or hour (YYYY-MM-DD HH / YYYY-MM-DDTHH) partition."""
    for fmt, step in (
        ("%Y-%m-%d", dt.timedelta(days=1)),
        ("%Y%m%d", dt.timedelta(days=1)),
        ("%Y-%m-%d %H", dt.timedelta(hours=1)),
        ("%Y-%m-%dT%H", dt.timedelta(hours=1)),
        ("%Y-%m-%d-%H", dt.timedelta(hours=1)),
    ):
        try:
            return dt.datetime.strptime(partition, fmt).replace(tzinfo=dt.UTC) + step
        except ValueError:
            continue
    return None
