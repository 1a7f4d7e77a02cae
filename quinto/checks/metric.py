"""`metric:` a named metric computed by any SQL aggregate expression, inside the one scan."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from quinto.checks.base import ASK_ENGINE, Aggregate, Measure, OneAggregate, OptionReader, Params
from quinto.compile import Binder, parse_expression
from quinto.dialect import Dialect
from quinto.errors import SpecError
from quinto.lazy import exp, sqlglot

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check


class Expression(Measure):
    kind = "expression"
    empty = ASK_ENGINE  # e.g. coalesce(sum(x), 0) over no rows is the engine's to say

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        return parse_expression(agg.param("sql"), dialect)


@dataclass(frozen=True)
class Expr(Params):
    sql: str = ""  # the aggregate expression, as written (portable SQL)


def aggregate_problem(raw: Any) -> str | None:
    """Why `raw` is not one SQL aggregate expression over the partition, or None."""
    if not isinstance(raw, str) or not raw.strip():
        return '`metric:` is an SQL aggregate expression, e.g. "count_if(x < 0)"'
    try:
        tree = sqlglot.parse_one(raw)
    except sqlglot.errors.ParseError as exc:
        return f"`metric:` is not a valid SQL expression: {str(exc).splitlines()[0]}"
    if isinstance(tree, exp.Query) or tree.find(exp.Query) is not None:
        return "`metric:` is one aggregate expression, not a query; use `sql:` for a query"
    if tree.find(exp.AggFunc) is None and not any(
        isinstance(f, exp.Anonymous) and f.name.lower() in ("count_if", "countif") for f in tree.walk()
    ):
        return "`metric:` must aggregate over the partition (sum, count, avg, ...)"
    return None


class CustomMetric(OneAggregate):
    name = "metric"
    doc = (
        "A named metric computed by any SQL aggregate expression, given as `metric:`; it runs "
        'inside the one scan, e.g. `negative_durations = 0: {metric: "count_if(duration_s < 0)"}`.'
    )
    example = 'negative_durations = 0: {metric: "count_if(duration_s < 0)"}'
    columns = (0, 0)
    options = frozenset({"metric"})
    selected_by = "metric"
    selector_help = "an SQL aggregate"
    params_type = Expr

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        raw = opts.get("metric")
        problem = aggregate_problem(raw)
        if problem:
            reader.err(reader.value_loc("metric"), problem)
        self.no_arguments(reader, line)
        return Expr(str(raw).strip() if not problem else "")

    def metric_key(self, check: Check) -> str:
        return check.key.split()[0]

    def agg(self, check: Check) -> Aggregate:
        assert isinstance(check.params, Expr)
        return Aggregate("expression", (), (("sql", check.params.sql),))

    def expression_columns(self, check: Check, dialect: Dialect) -> list[exp.Column]:
        assert isinstance(check.params, Expr)
        try:
            return list(parse_expression(check.params.sql, dialect).find_all(exp.Column))
        except SpecError:
            return []
