"""One item of a check file's `checks:` → `Check`: the check line, its type (whose own options its
module in `quinto.checks` parses), its condition and levels, and the options every check accepts."""

from __future__ import annotations

from collections.abc import Callable
from types import MappingProxyType
from typing import Any

from quinto.checks import CHECK_TYPES, COMMON_OPTIONS, COUNT, PERCENT, SECONDS, CheckType
from quinto.errors import Location, did_you_mean
from quinto.spec.anomaly import AnomalyOptions
from quinto.spec.grammar import CheckLine, Condition, GrammarError, parse_check_line, parse_condition
from quinto.spec.model import Anomaly, Check, Column
from quinto.spec.targets import parse_level
from quinto.spec.yamlfile import Map, locate


def _shift(loc: Location, offset: int) -> Location:
    return Location(loc.file, loc.line, loc.col + offset)


def named_types() -> list[str]:
    """The check types a check line names (the others are chosen by an option, like `metric:`)."""
    return [name for name, t in CHECK_TYPES.items() if t.selected_by is None]


class _CheckReader:
    """What a check type is handed while its options are parsed (`quinto.checks.base.OptionReader`)."""

    def __init__(
        self,
        parser: CheckItems,
        options: Map | None,
        location: Location,
        at: Callable[[int], Location],
        partition: str | None,
    ) -> None:
        self.parser, self.options, self.location, self.at, self.partition = parser, options, location, at, partition
        self.unknown_options = False

    def err(self, loc: Location | None, message: str) -> None:
        self.parser.err(loc, message)

    def value_loc(self, key: str) -> Location:
        return self.options.value_loc(key) if self.options else self.location

    def key_loc(self, key: str) -> Location:
        return self.options.key_loc(key) if self.options else self.location

    def column(self, name: str, loc: Location) -> Column:
        return Column(name, loc)


class CheckItems(AnomalyOptions):
    """The per-check part of the check-file parser (a base of it: problems go to its `err`)."""

    lines: list[str]

    # -- one check ---------------------------------------------------------------------------
    def check_item(self, item: Any, loc: Location) -> tuple[str, Map | None] | None:
        """A check's text and its options (None when it has none)."""
        if isinstance(item, str):
            return item, None
        if isinstance(item, Map) and len(item) > 1:
            first, stray = list(item)[:2]
            self.err(
                item.key_loc(stray),
                f"'{stray}' is not indented under the check '{first}'; indent a check's options deeper than "
                "the check text",
            )
            return None
        if isinstance(item, Map) and len(item) == 1:
            text = next(iter(item))
            value = item[text]
            if value is None or isinstance(value, Map):
                return text, value
            self.err(item.value_loc(text), "the options of a check are a mapping, e.g. {warn: '> 10'}")
            return None
        self.err(loc, "a check is a line of text like `row_count > 0`")
        return None

    def check(
        self, item: Any, loc: Location, partition: str | None, span: tuple[Location, Location, str] | None = None
    ) -> Check | None:
        found = self.check_item(item, loc)
        if found is None:
            return None
        text, options = found
        before = len(self.problems)

        def at(offset: int) -> Location:
            """Where character `offset` of the check text is in the file."""
            if isinstance(item, str) and span is not None:
                return locate(span[0], span[1], span[2], self.lines, offset)
            return _shift(loc, offset)

        try:
            line = parse_check_line(text)
        except GrammarError as exc:
            folded = isinstance(item, str) and span is not None and not span[2] and span[1].line > span[0].line
            hint = (
                " (YAML joined this line to the check above it: is it indented deeper than the other items?)"
                if folded
                else ""
            )
            self.err(at(exc.offset), f"cannot read check '{text}': {exc}{hint}")
            return None
        reader = _CheckReader(self, options, loc, at, partition)
        opts: dict[str, Any] = dict(options) if options else {}
        ctype = self.check_type(opts, line, reader)
        if ctype is None:
            return None
        allowed = COMMON_OPTIONS | ctype.options
        for key in opts:
            if key not in allowed:
                reader.unknown_options = True
                self.err(reader.key_loc(key), f"unknown option '{key}' for {ctype.name}{did_you_mean(key, allowed)}")
        columns, args = ctype.arguments(reader, line)
        judging = self.judging(text, line, ctype, opts, reader)
        severity, samples, notify, name = self.common(opts, reader)
        params = ctype.parse(reader, line, {k: v for k, v in opts.items() if k in ctype.options}, args)
        if len(self.problems) > before or judging is None:
            return None
        condition, warn, fail, anomaly = judging
        key = name.strip() if isinstance(name, str) else " ".join(text.split())
        if anomaly is not None and name is None:
            key = f"{key} anomaly"
        return Check(
            key=key,
            type=ctype.name,
            columns=columns,
            location=loc,
            condition=condition,
            warn=warn,
            fail=fail,
            severity=severity,
            change=line.change,
            anomaly=anomaly,
            samples=samples,
            notify=notify,
            options=MappingProxyType({k: v for k, v in opts.items() if k not in COMMON_OPTIONS}),
            params=params,
            expression_location=reader.value_loc(ctype.selected_by) if ctype.selected_by else None,
        )

    def check_type(self, opts: dict[str, Any], line: CheckLine, reader: _CheckReader) -> CheckType | None:
        """The type a check names, or the one an option of it selects (`metric:`, `sql:`)."""
        selected = [t for t in CHECK_TYPES.values() if t.selected_by is not None and t.selected_by in opts]
        if len(selected) > 1:
            first, second = selected[0].selected_by, selected[1].selected_by
            self.err(reader.key_loc(str(second)), f"give either `{first}:` or `{second}:`, not both")
            return None
        if selected:
            return selected[0]
        named = named_types()
        if line.metric in named:
            return CHECK_TYPES[line.metric]
        custom = [t for t in CHECK_TYPES.values() if t.selected_by is not None]
        needs = " or ".join(f"`{t.selected_by}:` ({t.selector_help})" for t in custom)
        self.err(
            reader.at(line.metric_offset),
            f"unknown check type '{line.metric}'{did_you_mean(line.metric, named)}; a custom metric needs {needs}",
        )
        return None

    def judging(
        self, text: str, line: CheckLine, ctype: CheckType, opts: dict[str, Any], reader: _CheckReader
    ) -> tuple[Condition | None, Condition | None, Condition | None, Anomaly | None] | None:
        """The check's condition, `warn:`/`fail:` levels and `anomaly:` (None: a problem was found)."""
        loc, oloc, kloc = reader.location, reader.value_loc, reader.key_loc
        before = len(self.problems)
        condition = line.condition
        if condition is None and ctype.default_condition and not line.change and not {"warn", "fail"} & set(opts):
            condition = parse_condition(ctype.default_condition)
        warn = self.level(opts, "warn", oloc)
        fail = self.level(opts, "fail", oloc)
        anomaly = self.anomaly(opts, oloc, kloc, ctype.unit) if "anomaly" in opts else None
        if line.change and condition is None:
            self.err(loc, f"`change vs {line.change.text}` needs a condition, e.g. `between -30% and +50%`")
        if line.change and anomaly is not None:
            self.err(kloc("anomaly"), "a check is either a change check or an anomaly check, not both")
        if condition is None and warn is None and fail is None and "anomaly" not in opts and not line.change:
            self.err(
                loc,
                f"check '{text}' judges nothing: add a condition (e.g. `{ctype.example}`), "
                "`warn:`/`fail:` levels, or `anomaly:`",
            )
        for cond, where in ((condition, loc), (warn, oloc("warn")), (fail, oloc("fail"))):
            if cond is not None:
                self.units(cond, ctype.unit, line.change is not None, where)
        return None if len(self.problems) > before else (condition, warn, fail, anomaly)

    def common(self, opts: dict[str, Any], reader: _CheckReader) -> tuple[str, int, str | None, Any]:
        """`severity:`, `samples:`, `notify:` and `name:`, which every check accepts."""
        oloc = reader.value_loc
        severity = opts.get("severity", "fail")
        if severity not in ("fail", "warn"):
            self.err(oloc("severity"), f"`severity:` is 'fail' or 'warn', not '{severity}'")
        samples = opts.get("samples", 20)
        if not isinstance(samples, int) or isinstance(samples, bool) or samples < 0:
            self.err(oloc("samples"), f"`samples:` is a number of rows (0 for none), not {samples!r}")
            samples = 0
        try:
            notify = parse_level(opts.get("notify", True))
        except ValueError as exc:
            self.err(oloc("notify"), str(exc))
            notify = "fail"
        name = opts.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            self.err(oloc("name"), "`name:` is a non-empty text")
            name = None
        return severity, samples, notify, name

    def level(self, opts: dict[str, Any], key: str, oloc: Any) -> Condition | None:
        if key not in opts:
            return None
        raw = opts[key]
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            self.err(oloc(key), f'`{key}:` is a condition like "> 10" or "between 1 and 5", not a bare number')
            return None
        if not isinstance(raw, str):
            self.err(oloc(key), f'`{key}:` is a condition like "> 10"')
            return None
        try:
            return parse_condition(raw)
        except GrammarError as exc:
            self.err(oloc(key), f"cannot read `{key}: {raw}`: {exc}")
            return None

    def units(self, cond: Condition, unit: str, change: bool, loc: Location) -> None:
        units = cond.units
        if change:
            if len(units - {"", "%"}) or len(units) > 1:
                self.err(loc, f"'{cond.text}': a change is either absolute (numbers) or relative (percentages)")
            return
        if unit == SECONDS and units != {"s"}:
            self.err(loc, f"'{cond.text}': freshness is compared with a duration such as 26h, 90m or 2d")
        elif unit != SECONDS and "s" in units:
            self.err(loc, f"'{cond.text}': a duration only applies to freshness")
        elif unit == COUNT and "%" in units:
            self.err(loc, f"'{cond.text}': this check counts rows; use its _percent form for a percentage")
        elif unit not in (PERCENT, COUNT) and "%" in units:
            self.err(loc, f"'{cond.text}': a percentage only applies to _percent checks and changes")
