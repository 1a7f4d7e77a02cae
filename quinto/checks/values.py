"""`invalid_count` and `invalid_percent`: non-NULL rows that break a declared validity rule."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from quinto.checks.base import COUNT, Aggregate, Measure, OneAggregate, OptionReader, Params, TopValues, top_values
from quinto.checks.rows import ShareOfRows
from quinto.compile import Binder, as_text, col, count_when, value_binds
from quinto.dialect import Dialect
from quinto.errors import Problem, SpecError
from quinto.lazy import exp

if TYPE_CHECKING:
    from quinto.spec.grammar import CheckLine
    from quinto.spec.model import Check


def _regex(c: exp.Expr, value: Any, b: Binder, dialect: Dialect) -> exp.Expr:
    if not dialect.HAS_REGEX:
        raise SpecError([Problem(None, f"{dialect.ENGINE} has no regular expressions; valid_regex cannot run there")])
    return exp.RegexpLike(this=as_text(c), expression=b.bind(value))


#: each validity rule: what holds for a valid value of column `c`
RULES: dict[str, Callable[[exp.Expr, Any, Binder, Dialect], exp.Expr]] = {
    "valid_values": lambda c, v, b, d: exp.In(this=c, expressions=value_binds(v, b, d)),
    "valid_regex": _regex,
    "valid_min": lambda c, v, b, d: exp.GTE(this=c, expression=b.bind(v)),
    "valid_max": lambda c, v, b, d: exp.LTE(this=c, expression=b.bind(v)),
    "valid_length": lambda c, v, b, d: exp.EQ(this=exp.Length(this=as_text(c)), expression=b.bind(v)),
    "valid_min_length": lambda c, v, b, d: exp.GTE(this=exp.Length(this=as_text(c)), expression=b.bind(v)),
    "valid_max_length": lambda c, v, b, d: exp.LTE(this=exp.Length(this=as_text(c)), expression=b.bind(v)),
}


class Invalid(Measure):
    kind = "invalid_count"
    empty = 0

    def sql(self, agg: Aggregate, b: Binder, dialect: Dialect) -> exp.Expr:
        return count_when(self.predicate(agg, b, dialect))

    def predicate(self, agg: Aggregate, b: Binder, dialect: Dialect, table: str | None = None) -> exp.Expr:
        c = col(agg.columns[0], table)
        valid = exp.and_(*[RULES[name](c, value, b, dialect) for name, value in agg.params if name in RULES])
        return exp.and_(exp.Not(this=exp.Is(this=c, expression=exp.Null())), exp.Not(this=exp.Paren(this=valid)))


@dataclass(frozen=True)
class Validity(Params):
    """The declared rules (None: not declared), in the order the statement checks them."""

    valid_values: tuple[Any, ...] | None = None
    valid_regex: str | None = None
    valid_min: float | None = None
    valid_max: float | None = None
    valid_length: int | None = None
    valid_min_length: int | None = None
    valid_max_length: int | None = None

    def rules(self) -> tuple[tuple[str, Any], ...]:
        return tuple((f.name, getattr(self, f.name)) for f in fields(self) if getattr(self, f.name) is not None)


VALIDITY_OPTIONS = frozenset(f.name for f in fields(Validity))


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _length(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _values(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(_number(x) or isinstance(x, str) for x in v)


def _compiles(reader: OptionReader, rx: Any) -> bool:
    if not isinstance(rx, str):
        reader.err(reader.value_loc("valid_regex"), "`valid_regex:` is a regular expression as text")
        return False
    try:
        re.compile(rx)
    except re.error as exc:
        reader.err(reader.value_loc("valid_regex"), f"`valid_regex:` does not compile: {exc}")
        return False
    return True


#: option → (test of its value, the message when it fails)
CHECKS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "valid_values": (_values, "`valid_values:` is a non-empty list of text or numbers"),
    "valid_min": (_number, "`valid_min:` is a number"),
    "valid_max": (_number, "`valid_max:` is a number"),
    "valid_length": (_length, "`valid_length:` is a whole number of characters"),
    "valid_min_length": (_length, "`valid_min_length:` is a whole number of characters"),
    "valid_max_length": (_length, "`valid_max_length:` is a whole number of characters"),
}


class InvalidCount(OneAggregate):
    ROW_SAMPLES = True
    name = "invalid_count"
    doc = (
        "Non-NULL rows that break any declared validity rule: `valid_values`, `valid_regex` "
        "(search semantics; anchor with ^ and $), `valid_min`/`valid_max`, `valid_length`, "
        "`valid_min_length`/`valid_max_length`."
    )
    example = "invalid_count(country) = 0: {valid_values: [US, CA]}"
    unit = COUNT
    options = VALIDITY_OPTIONS
    params_type = Validity

    def parse(self, reader: OptionReader, line: CheckLine, opts: Mapping[str, Any], args: Mapping[str, Any]) -> Params:
        if not VALIDITY_OPTIONS & set(opts) and not reader.unknown_options:
            reader.err(
                reader.location, f"{self.name} needs a validity rule: one of {', '.join(sorted(VALIDITY_OPTIONS))}"
            )
        found: dict[str, Any] = {}
        for f in fields(Validity):
            value = opts.get(f.name)
            if value is None:
                continue
            if f.name == "valid_regex":
                ok = _compiles(reader, value)
            else:
                test, message = CHECKS[f.name]
                ok = test(value)
                if not ok:
                    reader.err(reader.value_loc(f.name), message)
            if ok:
                found[f.name] = tuple(value) if isinstance(value, list) else value
        return Validity(**found)

    def agg(self, check: Check) -> Aggregate:
        assert isinstance(check.params, Validity)
        return Aggregate("invalid_count", (check.columns[0].name,), check.params.rules())

    def offending(self, check: Check, samples: Sequence[Mapping[str, Any]] | None) -> TopValues | None:
        """The invalid values of the checked column among the sampled invalid rows."""
        return top_values(samples, (check.columns[0].name,))


class InvalidPercent(ShareOfRows, InvalidCount):
    name = "invalid_percent"
    doc = "Invalid rows (as in invalid_count) as a percentage of all rows."
    example = "invalid_percent(country) < 0.1%: {valid_values: [US, CA, BR, MX, GB]}"
