"""`missing_count` and `missing_percent`: rows whose column is NULL or one of `missing_values`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quinto.checks.base import COUNT, Aggregate, Measure, OneAggregate, OptionReader, Params
from quinto.checks.rows import ShareOfRows
from quinto.compile import Binder, col, count_when, value_binds
from quinto.dialect import Dialect
from quinto.lazy import exp

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check


class Nulls(Measure):
    kind = "null_count"
    empty = 0

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        return count_when(self.predicate(agg, b, dialect))

    def predicate(self, agg: Aggregate, b: Binder, dialect: Dialect, table: str | None = None) -> exp.Expr:
        c = col(agg.columns[0], table)
        pred: exp.Expr = exp.Is(this=c, expression=exp.Null())
        values = agg.param("missing_values")
        if values:
            pred = exp.or_(pred, exp.In(this=c, expressions=value_binds(values, b, dialect)))
        return exp.Paren(this=pred)


@dataclass(frozen=True)
class MissingParams(Params):
    missing_values: tuple[Any, ...] = ()  # values that count as missing besides NULL


class MissingCount(OneAggregate):
    ROW_SAMPLES = True
    name = "missing_count"
    doc = "Rows where the column is NULL (or one of `missing_values`)."
    example = "missing_count(account_id) = 0"
    unit = COUNT
    options = frozenset({"missing_values"})
    params_type = MissingParams

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        mv = opts.get("missing_values")
        if mv is not None and (not isinstance(mv, list) or not all(isinstance(v, (str, int, float)) for v in mv)):
            reader.err(reader.value_loc("missing_values"), "`missing_values:` is a list of text or numbers")
            return MissingParams()
        return MissingParams(tuple(mv or ()))

    def agg(self, check: Check) -> Aggregate:
        assert isinstance(check.params, MissingParams)
        values = check.params.missing_values
        return Aggregate("null_count", (check.columns[0].name,), (("missing_values", values),) if values else ())


class MissingPercent(ShareOfRows, MissingCount):
    name = "missing_percent"
    doc = "Percentage of rows where the column is missing (0 for an empty partition)."
    example = "missing_percent(email) < 1%"
