"""`row_count`: the number of rows of the partition (and the scan's `count(*)`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from quinto.checks.base import COUNT, PERCENT, Aggregate, CheckType, Measure, OneAggregate, pct
from quinto.compile import Binder
from quinto.dialect import Dialect
from quinto.lazy import exp

if TYPE_CHECKING:
    from quinto.spec.model import Check


class Rows(Measure):
    kind = "row_count"
    empty = 0

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        return exp.Count(this=exp.Star())


ROWS = Aggregate("row_count")


class RowCount(CheckType):
    name = "row_count"
    doc = "Number of rows in the partition."
    example = "row_count > 0"
    unit = COUNT
    columns = (0, 0)

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [ROWS]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return aggs[ROWS.key]


class ShareOfRows(OneAggregate):
    """The percentage of the partition's rows that `agg(check)` counts (0 for an empty partition)."""

    unit = PERCENT

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check), ROWS]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return pct(aggs[self.agg(check).key], aggs[ROWS.key])
