"""`min`, `max`, `avg`, `sum`, `stddev` and `percentile` of a numeric column."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from quinto.checks.base import Aggregate, Measure, OneAggregate, OptionReader, Params
from quinto.checks.distinct import parse_approx
from quinto.compile import Binder, col, template
from quinto.dialect import Dialect
from quinto.lazy import exp

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check, Column


class _Function(Measure):
    """An aggregate function of one column."""

    function: ClassVar[str]  # the sqlglot node's name (sqlglot is imported when a statement is built)

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        node: type[exp.Func] = getattr(exp, self.function)
        return node(this=col(agg.columns[0]))


class Min(_Function):
    kind, function = "min", "Min"


class Max(_Function):
    kind, function = "max", "Max"


class Avg(_Function):
    kind, function = "avg", "Avg"


class Sum(_Function):
    kind, function = "sum", "Sum"


class Stddev(_Function):
    kind, function = "stddev", "StddevSamp"


class Quantile(Measure):
    kind = "percentile"

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        quirk = "APPROX_PERCENTILE" if agg.param("approx") else "PERCENTILE"
        return template(dialect, quirk, col=col(agg.columns[0]), p=exp.Literal.number(agg.param("p")))


class Stat(OneAggregate):
    """A statistic of one column, computed by the measure of the same name."""

    def agg(self, check: Check) -> Aggregate:
        return Aggregate(self.name, (check.columns[0].name,))


class MinValue(Stat):
    name, doc, example = "min", "Smallest value of a numeric column.", "min(duration_s) >= 0"


class MaxValue(Stat):
    name, doc, example = "max", "Largest value of a numeric column.", "max(duration_s) <= 86400"


class AvgValue(Stat):
    name, doc, example = "avg", "Mean of a numeric column.", "avg(duration_s) between 60 and 7200"


class SumValue(Stat):
    name, doc, example = "sum", "Sum of a numeric column.", "sum(amount) > 0"


class StddevValue(Stat):
    name, doc, example = "stddev", "Sample standard deviation of a numeric column.", "stddev(amount) < 500"


@dataclass(frozen=True)
class Fraction(Params):
    p: float = 0.5  # the quantile, 0 < p < 1
    approx: bool = False


class Percentile(Stat):
    name = "percentile"
    doc = (
        "The p-th quantile (0 < p < 1) of a numeric column, interpolated as percentile_cont; "
        "`approx: true` uses the engine's approximate function (Trino and Presto only have that one)."
    )
    example = "percentile(duration_s, 0.95) < 7200"
    options = frozenset({"approx"})
    params_type = Fraction

    def arguments(self, reader: OptionReader, line: CheckLine) -> tuple[tuple[Column, ...], dict[str, Any]]:
        args = list(line.args or ())
        if len(args) != 2 or not args[1].is_number:
            reader.err(reader.at(0), "percentile takes a column and a fraction: `percentile(col, 0.95)`")
            self.no_reference(reader, line)
            return (), {}
        p = float(args[1].text.rstrip("%"))
        if not 0 < p < 1:
            reader.err(reader.at(args[1].offset), "the percentile is a fraction between 0 and 1, e.g. 0.95")
        columns = self.column_args(reader, line, args[:1])
        self.no_reference(reader, line)
        return columns, {"p": p}

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        return Fraction(args.get("p", 0.5), parse_approx(reader, opts))

    def metric_key(self, check: Check) -> str:
        assert isinstance(check.params, Fraction)
        return f"{self.name}({', '.join([*(c.name for c in check.columns), repr(check.params.p)])})"

    def agg(self, check: Check) -> Aggregate:
        assert isinstance(check.params, Fraction)
        approx = (("approx", True),) if check.params.approx else ()
        return Aggregate("percentile", (check.columns[0].name,), (("p", check.params.p), *approx))
