"""The check-type registry: `CHECK_TYPES` maps a type's name to its `CheckType` (one module each,
or one per family, in this package).

It holds the built-in types and those of installed packages, which declare an entry point in the
`quinto.checks` group naming a `CheckType` subclass (see `quinto.checks.base` for what one owns):

    [project.entry-points."quinto.checks"]
    row_ratio = "quinto_ratio:RowRatio"

The registry is filled on first use, so importing it costs nothing and a plugin may import Quinto.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator, Mapping

from quinto.checks.base import (
    COUNT,
    PERCENT,
    SECONDS,
    VALUE,
    Aggregate,
    CheckType,
    Measure,
    Params,
    TopValues,
    top_values,
)
from quinto.checks.rows import ROWS
from quinto.errors import QuintoError
from quinto.plugins import discovered

ENTRY_POINTS = "quinto.checks"
BUILTIN = (
    "quinto.checks.rows:RowCount",
    "quinto.checks.nulls:MissingCount",
    "quinto.checks.nulls:MissingPercent",
    "quinto.checks.distinct:DuplicateCount",
    "quinto.checks.distinct:DuplicatePercent",
    "quinto.checks.values:InvalidCount",
    "quinto.checks.values:InvalidPercent",
    "quinto.checks.stats:MinValue",
    "quinto.checks.stats:MaxValue",
    "quinto.checks.stats:AvgValue",
    "quinto.checks.stats:SumValue",
    "quinto.checks.stats:StddevValue",
    "quinto.checks.stats:Percentile",
    "quinto.checks.freshness:Freshness",
    "quinto.checks.metric:CustomMetric",
    "quinto.checks.sql:CustomSql",
    "quinto.checks.reference:ReferenceCheck",
    "quinto.checks.schema:SchemaCheck",
)
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# the built-in modules are imported now, so their measures are known to any `Aggregate` (plugins' are
# known once the registry loads them)
for _spec in BUILTIN:
    importlib.import_module(_spec.partition(":")[0])


class Registry(Mapping[str, CheckType]):
    """name → CheckType, in order: the built-ins, then plugins by name."""

    def __init__(self) -> None:
        self._types: dict[str, CheckType] | None = None

    def _load(self) -> dict[str, CheckType]:
        if self._types is None:
            types: dict[str, CheckType] = {}
            for found, where, declared in discovered(ENTRY_POINTS, "check type", BUILTIN):
                _add(types, found, where, declared)
            self._types = types
        return self._types

    def __getitem__(self, name: str) -> CheckType:
        return self._load()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def reload(self) -> None:
        """Forget what was loaded (after installing a plugin in a running process)."""
        self._types = None


def _add(types: dict[str, CheckType], found: object, where: str, declared: str | None = None) -> None:
    ctype = found() if isinstance(found, type) and issubclass(found, CheckType) else found
    if not isinstance(ctype, CheckType):
        raise QuintoError(f"check type {where} is not a quinto.checks.CheckType")
    name = getattr(ctype, "name", "")
    if not _NAME.match(name) or (declared is not None and declared != name):
        raise QuintoError(
            f"check type {where} is named '{name}'; a check type's name is lower-case letters, digits or '_' "
            "and the same as its entry point's"
        )
    if name in types or name in COMMON_OPTIONS:
        raise QuintoError(f"check type {where} is named '{name}', which is taken")
    types[name] = ctype


CHECK_TYPES = Registry()


def display_unit(check_type: str) -> str:
    """How a check type's values are written: "s" (a duration), "%" or "" (a plain number)."""
    ctype = CHECK_TYPES.get(check_type)
    return {SECONDS: "s", PERCENT: "%"}.get(ctype.unit if ctype else VALUE, "")


def unit_of(check_type: str) -> tuple[str, str]:
    """A check type's values as people read them: (unit, noun), e.g. ("count", "rows"), for
    `quinto.humanize.quantity`; a type not installed here: a plain number."""
    ctype = CHECK_TYPES.get(check_type)
    return (ctype.unit, ctype.noun if ctype.unit == COUNT else "") if ctype else (VALUE, "")


def judged_unit(check_type: str, threshold: str = "") -> tuple[str, str]:
    """The unit of the number a check judged: its type's, or for a change check (its threshold
    reads `change vs ...`) a percentage when the change is relative, else a difference in the
    type's unit."""
    if threshold.startswith("change vs ") and "%" in threshold:
        return PERCENT, ""
    return unit_of(check_type)


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

__all__ = [
    "CHECK_TYPES",
    "COMMON_OPTIONS",
    "COUNT",
    "OPTION_DOCS",
    "PERCENT",
    "ROWS",
    "SECONDS",
    "VALUE",
    "Aggregate",
    "CheckType",
    "Measure",
    "Params",
    "Registry",
    "TopValues",
    "display_unit",
    "judged_unit",
    "top_values",
    "unit_of",
]
