"""The check-type registry: a plain dict of small classes.

Each type says which aggregates it needs from the one scan (`aggregates`), how it turns them into
the value it judges (`value`), which rows fail it (`bad_rows`, for samples), and in what unit its
value is expressed (which decides the threshold syntax it accepts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from quinto.spec.model import Check

COUNT, PERCENT, VALUE, SECONDS = "count", "percent", "value", "seconds"


@dataclass(frozen=True)
class Aggregate:
    """One aggregate expression of the scan. Equal aggregates are computed once per scan."""

    kind: str  # row_count, null_count, nonnull_rows, distinct_rows, invalid_count, min, max, avg, sum,
    #            stddev, percentile, max_time, expression
    columns: tuple[str, ...] = ()
    params: tuple[tuple[str, Any], ...] = ()

    @property
    def key(self) -> str:
        extra = "".join(f";{k}={v!r}" for k, v in self.params)
        return f"{self.kind}({','.join(self.columns)}{extra})"

    def param(self, name: str, default: Any = None) -> Any:
        return dict(self.params).get(name, default)


def _validity(check: Check) -> tuple[tuple[str, Any], ...]:
    keys = (
        "valid_values",
        "valid_regex",
        "valid_min",
        "valid_max",
        "valid_length",
        "valid_min_length",
        "valid_max_length",
    )
    out = []
    for k in keys:
        if k in check.options:
            v = check.options[k]
            out.append((k, tuple(v) if isinstance(v, list) else v))
    return tuple(out)


def _missing(check: Check) -> tuple[tuple[str, Any], ...]:
    values = check.options.get("missing_values")
    return (("missing_values", tuple(values)),) if values else ()


def _pct(part: Any, whole: Any) -> float:
    whole = whole or 0
    return 0.0 if whole == 0 else 100.0 * float(part or 0) / float(whole)


def display_unit(check_type: str) -> str:
    """How a check type's values are written: "s" (a duration), "%" or "" (a plain number)."""
    return {SECONDS: "s", PERCENT: "%"}.get(CHECK_TYPES[check_type].unit, "")


ROWS = Aggregate("row_count")


class CheckType:
    name: ClassVar[str]
    doc: ClassVar[str]
    example: ClassVar[str]
    unit: ClassVar[str] = VALUE
    columns: ClassVar[tuple[int, int | None]] = (1, 1)  # how many column arguments
    options: ClassVar[frozenset[str]] = frozenset()
    kind: ClassVar[str] = "scan"  # "scan": computed by the one statement; "query"; "metadata"
    default_condition: ClassVar[str | None] = None

    def aggregates(self, check: Check) -> list[Aggregate]:
        return []

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def bad_rows(self, check: Check) -> Aggregate | None:
        """The row predicate of failing rows, described as an aggregate of kind *_count."""
        return None


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


class MissingCount(CheckType):
    name = "missing_count"
    doc = "Rows where the column is NULL (or one of `missing_values`)."
    example = "missing_count(account_id) = 0"
    unit = COUNT
    options = frozenset({"missing_values"})

    def agg(self, check: Check) -> Aggregate:
        return Aggregate("null_count", (check.columns[0].name,), _missing(check))

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check)]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return aggs[self.agg(check).key]

    def bad_rows(self, check: Check) -> Aggregate | None:
        return self.agg(check)


class MissingPercent(MissingCount):
    name = "missing_percent"
    doc = "Percentage of rows where the column is missing (0 for an empty partition)."
    example = "missing_percent(email) < 1%"
    unit = PERCENT

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check), ROWS]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return _pct(aggs[self.agg(check).key], aggs[ROWS.key])


class DuplicateCount(CheckType):
    name = "duplicate_count"
    doc = (
        "Rows whose key (one or more columns, all non-NULL) repeats an earlier row: "
        "non-NULL key rows minus distinct keys."
    )
    example = "duplicate_count(play_id) = 0"
    unit = COUNT
    columns = (1, None)

    options = frozenset({"approx"})

    def aggs(self, check: Check) -> tuple[Aggregate, Aggregate]:
        cols = tuple(c.name for c in check.columns)
        approx = (("approx", True),) if check.options.get("approx") else ()
        return Aggregate("nonnull_rows", cols), Aggregate("distinct_rows", cols, approx)

    def aggregates(self, check: Check) -> list[Aggregate]:
        return list(self.aggs(check))

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        rows, distinct = self.aggs(check)
        # an approximate distinct count may exceed the row count; a count of duplicates never is negative
        return max(0, int(aggs[rows.key] or 0) - int(aggs[distinct.key] or 0))

    def bad_rows(self, check: Check) -> Aggregate | None:
        return Aggregate("duplicate_keys", tuple(c.name for c in check.columns))


class DuplicatePercent(DuplicateCount):
    name = "duplicate_percent"
    doc = "Duplicate rows (as in duplicate_count) as a percentage of all rows."
    example = "duplicate_percent(user_id, device) < 0.5%"
    unit = PERCENT

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [*self.aggs(check), ROWS]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return _pct(super().value(check, aggs), aggs[ROWS.key])


VALIDITY_OPTIONS = frozenset(
    {"valid_values", "valid_regex", "valid_min", "valid_max", "valid_length", "valid_min_length", "valid_max_length"}
)


class InvalidCount(CheckType):
    name = "invalid_count"
    doc = (
        "Non-NULL rows that break any declared validity rule: `valid_values`, `valid_regex` "
        "(search semantics; anchor with ^ and $), `valid_min`/`valid_max`, `valid_length`, "
        "`valid_min_length`/`valid_max_length`."
    )
    example = "invalid_count(country) = 0: {valid_values: [US, CA]}"
    unit = COUNT
    options = VALIDITY_OPTIONS

    def agg(self, check: Check) -> Aggregate:
        return Aggregate("invalid_count", (check.columns[0].name,), _validity(check))

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check)]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return aggs[self.agg(check).key]

    def bad_rows(self, check: Check) -> Aggregate | None:
        return self.agg(check)


class InvalidPercent(InvalidCount):
    name = "invalid_percent"
    doc = "Invalid rows (as in invalid_count) as a percentage of all rows."
    example = "invalid_percent(country) < 0.1%: {valid_values: [US, CA, BR, MX, GB]}"
    unit = PERCENT

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check), ROWS]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return _pct(aggs[self.agg(check).key], aggs[ROWS.key])


class _Stat(CheckType):
    agg_kind: ClassVar[str]

    def agg(self, check: Check) -> Aggregate:
        return Aggregate(self.agg_kind, (check.columns[0].name,))

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check)]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return aggs[self.agg(check).key]


def _stat(name: str, doc: str, example: str) -> type[_Stat]:
    return type(name.title(), (_Stat,), {"name": name, "agg_kind": name, "doc": doc, "example": example})


class Percentile(_Stat):
    name = "percentile"
    agg_kind = "percentile"
    doc = (
        "The p-th quantile (0 < p < 1) of a numeric column, interpolated as percentile_cont; "
        "`approx: true` uses the engine's approximate function (Trino and Presto only have that one)."
    )
    example = "percentile(duration_s, 0.95) < 7200"

    options = frozenset({"approx"})

    def agg(self, check: Check) -> Aggregate:
        approx = (("approx", True),) if check.options.get("approx") else ()
        return Aggregate("percentile", (check.columns[0].name,), (("p", check.percentile), *approx))


class Freshness(CheckType):
    name = "freshness"
    doc = (
        "Age of the newest timestamp in the column, measured from the end of the partition "
        "(`relative_to: partition_end`, the default for date partitions) or from now "
        "(`relative_to: now`). Thresholds are durations: 90s, 30m, 26h, 2d, 1w."
    )
    example = "freshness(event_ts) < 26h"
    unit = SECONDS
    options = frozenset({"relative_to"})

    def agg(self, check: Check) -> Aggregate:
        return Aggregate("max_time", (check.columns[0].name,))

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check)]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return aggs[self.agg(check).key]  # the newest timestamp; the audit turns it into an age


class CustomMetric(CheckType):
    name = "metric"
    doc = (
        "A named metric computed by any SQL aggregate expression, given as `metric:`; it runs "
        'inside the one scan, e.g. `negative_durations = 0: {metric: "count_if(duration_s < 0)"}`.'
    )
    example = 'negative_durations = 0: {metric: "count_if(duration_s < 0)"}'
    columns = (0, 0)
    options = frozenset({"metric"})

    def agg(self, check: Check) -> Aggregate:
        return Aggregate("expression", (), (("sql", check.metric_sql),))

    def aggregates(self, check: Check) -> list[Aggregate]:
        return [self.agg(check)]

    def value(self, check: Check, aggs: Mapping[str, Any]) -> Any:
        return aggs[self.agg(check).key]


class CustomSql(CheckType):
    name = "sql"
    doc = (
        "A named metric from your own query returning one number, given as `sql:`; "
        "`:partition` is bound as a parameter. Runs as its own statement."
    )
    example = "orphan_titles = 0: {sql: 'select count(*) from t where ds = :partition'}"
    columns = (0, 0)
    options = frozenset({"sql"})
    kind = "query"


class ReferenceCheck(CheckType):
    name = "reference"
    doc = (
        "Referential integrity: rows whose non-NULL key has no match in another table's column(s). "
        "Written `reference(col) in schema.table(col)`; passes when the count is 0 unless "
        "`warn:`/`fail:` say otherwise. Runs as its own statement."
    )
    example = "reference(title_id) in dw.dim_title(title_id)"
    unit = COUNT
    columns = (1, None)
    kind = "query"
    default_condition = "= 0"


class SchemaCheck(CheckType):
    name = "schema"
    doc = (
        "Column presence and types from the warehouse's metadata: `required:` a list of columns "
        "or a map of column to type family (integer, float, decimal, string, date, timestamp, "
        "boolean), `forbid_unexpected: true` to fail on columns not listed. The value is the "
        "number of violations."
    )
    example = "schema: {required: {play_id: string, duration_s: integer}, forbid_unexpected: false}"
    unit = COUNT
    columns = (0, 0)
    options = frozenset({"required", "forbid_unexpected"})
    kind = "metadata"
    default_condition = "= 0"


CHECK_TYPES: dict[str, CheckType] = {
    t.name: t
    for t in [
        RowCount(),
        MissingCount(),
        MissingPercent(),
        DuplicateCount(),
        DuplicatePercent(),
        InvalidCount(),
        InvalidPercent(),
        _stat("min", "Smallest value of a numeric column.", "min(duration_s) >= 0")(),
        _stat("max", "Largest value of a numeric column.", "max(duration_s) <= 86400")(),
        _stat("avg", "Mean of a numeric column.", "avg(duration_s) between 60 and 7200")(),
        _stat("sum", "Sum of a numeric column.", "sum(amount) > 0")(),
        _stat("stddev", "Sample standard deviation of a numeric column.", "stddev(amount) < 500")(),
        Percentile(),
        Freshness(),
        CustomMetric(),
        CustomSql(),
        ReferenceCheck(),
        SchemaCheck(),
    ]
}

# Options every check accepts, besides its type's own, with what they mean (the README's table).
OPTION_DOCS: dict[str, str] = {
    "name": "the check's identity (default: its line); results and history are keyed by it",
    "warn": 'a condition that raises WARN when it holds, e.g. `{warn: "> 10"}`',
    "fail": 'a condition that raises FAIL when it holds, e.g. `{fail: "> 100"}`',
    "severity": "what a broken inline condition (or anomaly band) means: `fail` (default) or `warn`",
    "anomaly": (
        "`{}` or `{window: 28, sigma: 3, min_history: 14, seasonality: [weekday], direction: both, "
        "min_change: 5%, method: robust}`: FAIL outside the prediction band of the metric's history model "
        "(see [History and baselines](#history-and-baselines)); `LEARNING` below `min_history` (default 14 for "
        "daily partitions, 7 otherwise). `seasonality`: a list of `weekday`, `month_day` (`[]`: none; default "
        "`[weekday]` on daily partitions). `direction`: `both`, `drop` or `spike`. `min_change`: a percentage, "
        "an amount, or both as a list. `method: mean` does not down-weight outliers. `same_weekday: true` (older "
        "files) means `seasonality: [weekday]` with `window` counted in weeks; `calibrate` is accepted and "
        "always on"
    ),
    "samples": "failing rows fetched after the check fails (default 20, 0 for none)",
    "notify": "the lowest status that alerts: `fail` (default), `warn` (WARN and FAIL), or `false` (never)",
    "description": "free text shown with the check",
}
COMMON_OPTIONS = frozenset(OPTION_DOCS)
