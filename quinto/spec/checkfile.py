"""Check files → TableSpec. Every problem of a file is collected and reported at once."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import sqlglot
from sqlglot import exp

from quinto.checks import CHECK_TYPES, COMMON_OPTIONS, COUNT, PERCENT, SECONDS, VALIDITY_OPTIONS
from quinto.errors import Location, Problem, SpecError, did_you_mean
from quinto.spec.grammar import CheckLine, Condition, GrammarError, parse_check_line, parse_condition, parse_duration
from quinto.spec.model import Anomaly, Check, Column, MinChange, Reference, Schedule, TableSpec
from quinto.spec.targets import parse_level, parse_target, target_forms, target_problem
from quinto.spec.yamlfile import Map, Seq, load_file, locate, read_text

TOP_KEYS = (
    "table",
    "connection",
    "partition",
    "partition_type",
    "partition_format",
    "empty_partitions",
    "holidays",
    "owners",
    "notify",
    "schedule",
    "on",
    "checks",
)
SCHEDULE_KEYS = ("cron", "timezone", "partition", "format")
ON_EVENTS = ("new_partition",)
#: `partition:` of a schedule: a name, or an offset like -2d / -1h / 0d from the firing time
NAMED_OFFSETS = {
    "yesterday": (-1, "day"),
    "today": (0, "day"),
    "previous_hour": (-1, "hour"),
    "current_hour": (0, "hour"),
}
_OFFSET = re.compile(r"^([+-]?\d{1,4})([dh])$")
PARTITION_TYPES = ("string", "date", "timestamp", "integer")
NAMED_TYPES = {n for n in CHECK_TYPES if n not in ("metric", "sql")}
TYPE_FAMILIES = ("integer", "float", "decimal", "string", "date", "timestamp", "boolean")
ANOMALY_OPTIONS = (
    "window",
    "sigma",
    "min_history",
    "seasonality",
    "direction",
    "min_change",
    "method",
    "same_weekday",
    "calibrate",
)
SEASONALITIES = ("weekday", "month_day")
DIRECTIONS = ("both", "drop", "spike")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")


def _shift(loc: Location, offset: int) -> Location:
    return Location(loc.file, loc.line, loc.col + offset)


class _FileParser:
    def __init__(self, file: str, lines: list[str] | None = None) -> None:
        self.file = file
        self.lines = lines or []
        self.problems: list[Problem] = []

    def err(self, loc: Location | None, msg: str) -> None:
        self.problems.append(Problem(loc, msg))

    # -- top level -------------------------------------------------------------------------
    def parse(self, doc: Any) -> TableSpec | None:
        top = Location(self.file, 1, 1)
        if not isinstance(doc, Map):
            self.err(getattr(doc, "loc", top), "a check file is a mapping with `table:` and `checks:`")
            return None
        for key in doc:
            if key not in TOP_KEYS:
                self.err(doc.key_loc(key), f"unknown key '{key}'{did_you_mean(key, TOP_KEYS)}")
        table = doc.get("table")
        if not isinstance(table, str) or not _IDENT.match(table.strip()):
            if "table" not in doc:
                self.err(doc.loc, "missing `table:` (the table these checks audit, e.g. dw.fact_playback)")
            else:
                self.err(doc.value_loc("table"), "`table:` must be a table name like schema.table")
            table = "?"
        partition = doc.get("partition")
        if partition is not None and not isinstance(partition, str):
            self.err(doc.value_loc("partition"), "`partition:` is the name of the partition column")
            partition = None
        elif partition is not None and not partition.strip():
            self.err(
                doc.value_loc("partition"),
                "`partition:` is empty; name the partition column, or leave it out for a table without partitions",
            )
            partition = None
        ptype = doc.get("partition_type", "string")
        if ptype not in PARTITION_TYPES:
            self.err(
                doc.value_loc("partition_type"),
                f"`partition_type:` is one of {', '.join(PARTITION_TYPES)}{did_you_mean(str(ptype), PARTITION_TYPES)}",
            )
            ptype = "string"
        pformat = doc.get("partition_format")
        if pformat is not None:
            try:
                re.compile(str(pformat))
            except re.error as exc:
                self.err(doc.value_loc("partition_format"), f"`partition_format:` is not a valid regex: {exc}")
        schedule = self.schedule(doc, ptype) if "schedule" in doc else None
        sensor = self.on(doc, partition) if "on" in doc else False
        empty = doc.get("empty_partitions", "not_found")
        if empty not in ("not_found", "allowed"):
            self.err(
                doc.value_loc("empty_partitions"),
                f"`empty_partitions:` is 'not_found' or 'allowed'{did_you_mean(str(empty), ('not_found', 'allowed'))}",
            )
        holidays = self.holidays(doc) if "holidays" in doc else ()
        owners = self.str_list(doc, "owners")
        notify, notify_locs = self.notify_targets(doc, owners)
        connection = doc.get("connection", "")
        connection_loc = doc.value_loc("connection") if "connection" in doc else doc.loc
        if not isinstance(connection, str):
            self.err(doc.value_loc("connection"), "`connection:` is the name of a connection in quinto.yaml")
            connection = ""
        checks: list[Check] = []
        raw = doc.get("checks")
        if raw is None and "checks" in doc:
            self.err(doc.key_loc("checks"), "`checks:` is empty")
        elif raw is None:
            self.err(doc.loc, "missing `checks:` (a list of checks)")
        elif not isinstance(raw, Seq):
            self.err(doc.value_loc("checks"), "`checks:` must be a list of checks")
        else:
            if not raw:
                self.err(raw.loc, "`checks:` is empty")
            seen: dict[str, Location] = {}
            for item, loc, span in zip(raw, raw.item_locs, raw.item_spans, strict=True):
                check = self.check(item, loc, partition, span)
                if check is None:
                    continue
                if partition is None and (check.change or check.anomaly is not None):
                    self.err(loc, f"'{check.key}' compares partitions, but the table declares no `partition:`")
                    continue
                if check.key in seen:
                    self.err(
                        loc, f"duplicate check '{check.key}' (first at line {seen[check.key].line}); give one a `name:`"
                    )
                    continue
                seen[check.key] = loc
                checks.append(check)
        return TableSpec(
            table=table.strip(),
            connection=connection,
            partition=partition,
            checks=tuple(checks),
            location=doc.loc,
            owners=owners,
            notify=notify,
            notify_locations=notify_locs,
            notify_declared="notify" in doc,
            partition_format=str(pformat) if pformat is not None else None,
            connection_location=connection_loc,
            partition_type=ptype,
            schedule=schedule,
            sensor=sensor,
            file=self.file,
            table_location=doc.value_loc("table") if "table" in doc else doc.loc,
            partition_location=doc.value_loc("partition") if "partition" in doc else None,
            empty_partitions_allowed=empty == "allowed",
            holidays=holidays,
        )

    def holidays(self, doc: Map) -> tuple[str, ...]:
        """`holidays:` a list of dates (YYYY-MM-DD) whose partitions are expected to be unusual."""
        raw = doc.get("holidays")
        if not isinstance(raw, Seq):
            self.err(doc.value_loc("holidays"), "`holidays:` is a list of dates, e.g. [2026-12-25, 2027-01-01]")
            return ()
        out = []
        for item, loc in zip(raw, raw.item_locs, strict=True):
            text = item.isoformat() if isinstance(item, dt.date) else str(item)
            try:
                out.append(dt.date.fromisoformat(text).isoformat())
            except ValueError:
                self.err(loc, f"holiday {text!r} is not a date like 2026-12-25")
        return tuple(sorted(set(out)))

    # -- triggers ----------------------------------------------------------------------------
    def schedule(self, doc: Map, ptype: str) -> Schedule | None:
        raw = doc.get("schedule")
        loc = doc.value_loc("schedule")
        if isinstance(raw, str):
            raw_map: dict[str, Any] = {"cron": raw}
            vloc: Callable[[str], Location] = lambda k: loc  # noqa: E731
        elif isinstance(raw, Map):
            raw_map = dict(raw)
            vloc = raw.value_loc
            for key in raw:
                if key not in SCHEDULE_KEYS:
                    self.err(raw.key_loc(key), f"unknown schedule option '{key}'{did_you_mean(key, SCHEDULE_KEYS)}")
        else:
            self.err(
                loc, '`schedule:` is a cron expression like "0 6 * * *", or {cron: ..., timezone: ..., partition: ...}'
            )
            return None
        before = len(self.problems)
        cron = raw_map.get("cron")
        tz = raw_map.get("timezone")
        if tz is not None:
            problem = (
                timezone_problem(tz) if isinstance(tz, str) else "`timezone:` is a time zone name like Europe/Amsterdam"
            )
            if problem:
                self.err(vloc("timezone"), problem)
                tz = None
        if not isinstance(cron, str) or not cron.strip():
            self.err(vloc("cron") if "cron" in raw_map else loc, '`cron:` is a cron expression like "0 6 * * *"')
        else:
            problem = cron_problem(cron, tz or "UTC")
            if problem:
                self.err(vloc("cron"), problem)
        which = raw_map.get("partition", "yesterday")
        offset, unit = -1, "day"
        if isinstance(which, str) and which in NAMED_OFFSETS:
            offset, unit = NAMED_OFFSETS[which]
        elif isinstance(which, str) and _OFFSET.match(which.strip()):
            m = _OFFSET.match(which.strip())
            assert m is not None
            offset, unit = int(m.group(1)), "day" if m.group(2) == "d" else "hour"
        else:
            self.err(
                vloc("partition"),
                f"schedule `partition:` is {', '.join(NAMED_OFFSETS)} or an offset like -2d or -3h, not {which!r}"
                + did_you_mean(str(which), NAMED_OFFSETS),
            )
        default_format = "%Y%m%d" if ptype == "integer" else "%Y-%m-%d"
        fmt = raw_map.get("format", default_format if unit == "day" else "%Y-%m-%d %H")
        if not isinstance(fmt, str) or "%" not in fmt:
            self.err(vloc("format"), f'schedule `format:` is a strftime pattern like "%Y-%m-%d", not {fmt!r}')
        if len(self.problems) > before:
            return None
        return Schedule(cron=str(cron).strip(), timezone=tz, offset=offset, unit=unit, format=str(fmt), location=loc)

    def on(self, doc: Map, partition: str | None) -> bool:
        value = doc.get("on")
        if value not in ON_EVENTS:
            self.err(
                doc.value_loc("on"),
                f"`on:` is {' or '.join(ON_EVENTS)} (audit each partition as it appears), not {value!r}"
                + did_you_mean(str(value), ON_EVENTS),
            )
            return False
        if partition is None:
            self.err(doc.key_loc("on"), "`on: new_partition` needs the table's `partition:` column")
            return False
        return True

    def str_list(self, doc: Map, key: str) -> tuple[str, ...]:
        value = doc.get(key)
        if value is None:
            return ()
        if isinstance(value, str):
            return (value,)
        if isinstance(value, Seq) and all(isinstance(v, str) for v in value):
            return tuple(value)
        self.err(doc.value_loc(key), f"`{key}:` must be a list of text")
        return ()

    def notify_targets(self, doc: Map, owners: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[Location, ...]]:
        value = doc.get("notify")
        if value is None:
            return (), ()
        if isinstance(value, str):
            items, locs = [value], [doc.value_loc("notify")]
        elif isinstance(value, Seq) and all(isinstance(v, str) for v in value):
            items, locs = list(value), list(value.item_locs)
        else:
            self.err(doc.value_loc("notify"), f"`notify:` lists where alerts go: {target_forms()}")
            return (), ()
        targets: list[str] = []
        target_locs: list[Location] = []
        for item, loc in zip(items, locs, strict=True):
            try:
                target = parse_target(item)
            except ValueError as exc:
                self.err(loc, str(exc))
                continue
            problem = target_problem(target, owners)
            if problem:
                self.err(loc, problem)
                continue
            if str(target) not in targets:
                targets.append(str(target))
                target_locs.append(loc)
        return tuple(targets), tuple(target_locs)

    # -- one check ---------------------------------------------------------------------------
    def check(
        self, item: Any, loc: Location, partition: str | None, span: tuple[Location, Location, str] | None = None
    ) -> Check | None:
        options: Map | None = None
        if isinstance(item, str):
            text = item
        elif isinstance(item, Map) and len(item) > 1:
            first, stray = list(item)[:2]
            self.err(
                item.key_loc(stray),
                f"'{stray}' is not indented under the check '{first}'; indent a check's options deeper than "
                "the check text",
            )
            return None
        elif isinstance(item, Map) and len(item) == 1:
            text = next(iter(item))
            value = item[text]
            if value is None:
                options = None
            elif isinstance(value, Map):
                options = value
            else:
                self.err(item.value_loc(text), "the options of a check are a mapping, e.g. {warn: '> 10'}")
                return None
        else:
            self.err(loc, "a check is a line of text like `row_count > 0`")
            return None
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
        opts: dict[str, Any] = dict(options) if options else {}
        oloc = (lambda k: options.value_loc(k)) if options else (lambda k: loc)
        kloc = (lambda k: options.key_loc(k)) if options else (lambda k: loc)
        mloc = at(line.metric_offset)

        # which type?
        if "metric" in opts and "sql" in opts:
            self.err(kloc("sql"), "give either `metric:` or `sql:`, not both")
            return None
        if "metric" in opts:
            ctype = "metric"
        elif "sql" in opts:
            ctype = "sql"
        elif line.metric in NAMED_TYPES:
            ctype = line.metric
        else:
            hint = did_you_mean(line.metric, NAMED_TYPES)
            self.err(
                mloc,
                f"unknown check type '{line.metric}'{hint}; a custom metric needs "
                "`metric:` (an SQL aggregate) or `sql:` (a query)",
            )
            return None
        ctype_obj = CHECK_TYPES[ctype]
        allowed = COMMON_OPTIONS | ctype_obj.options
        for key in opts:
            if key not in allowed:
                self.err(kloc(key), f"unknown option '{key}' for {ctype}{did_you_mean(key, allowed)}")

        columns, percentile = self.columns(line, ctype, at)
        reference = None
        if ctype == "reference":
            if line.reference is None:
                self.err(mloc, "reference needs the table it refers to: `reference(col) in schema.table(col)`")
            else:
                ref_table, ref_args = line.reference
                reference = Reference(ref_table, tuple(Column(a.text, at(a.offset)) for a in ref_args))
                if len(ref_args) != len(columns):
                    self.err(loc, f"reference compares {len(columns)} column(s) with {len(ref_args)}")
        elif line.reference is not None:
            self.err(loc, "`in table(col)` belongs to reference checks only")

        condition = line.condition
        if condition is None and ctype_obj.default_condition and not line.change and not {"warn", "fail"} & set(opts):
            condition = parse_condition(ctype_obj.default_condition)
        warn = self.level(opts, "warn", oloc)
        fail = self.level(opts, "fail", oloc)
        anomaly = self.anomaly(opts, oloc, kloc, ctype_obj.unit) if "anomaly" in opts else None
        if line.change and condition is None:
            self.err(loc, f"`change vs {line.change.text}` needs a condition, e.g. `between -30% and +50%`")
        if line.change and anomaly is not None:
            self.err(kloc("anomaly"), "a check is either a change check or an anomaly check, not both")
        if condition is None and warn is None and fail is None and "anomaly" not in opts and not line.change:
            self.err(
                loc,
                f"check '{text}' judges nothing: add a condition (e.g. `{ctype_obj.example}`), "
                "`warn:`/`fail:` levels, or `anomaly:`",
            )
        for cond, where in ((condition, loc), (warn, oloc("warn")), (fail, oloc("fail"))):
            if cond is not None:
                self.units(cond, ctype_obj.unit, line.change is not None, where)

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

        metric_sql = self.metric_sql(opts, oloc) if ctype == "metric" else None
        sql = self.custom_sql(opts, oloc, partition) if ctype == "sql" else None
        if ctype in ("metric", "sql") and line.args is not None:
            self.err(mloc, f"a custom metric name takes no arguments: write `{line.metric} ...` with `{ctype}:`")
        self.type_options(ctype, opts, oloc, kloc, loc)
        if len(self.problems) > before:
            return None
        key = name.strip() if isinstance(name, str) else " ".join(text.split())
        if anomaly is not None and name is None:
            key = f"{key} anomaly"
        frozen = MappingProxyType({k: v for k, v in opts.items() if k not in COMMON_OPTIONS})
        return Check(
            key=key,
            type=ctype,
            columns=columns,
            location=loc,
            condition=condition,
            warn=warn,
            fail=fail,
            severity=severity,
            change=line.change,
            anomaly=anomaly,
            percentile=percentile,
            reference=reference,
            metric_sql=metric_sql,
            sql=sql,
            samples=samples,
            notify=notify,
            options=frozen,
            expression_location=oloc(ctype) if ctype in ("metric", "sql") else None,
        )

    def columns(
        self, line: CheckLine, ctype: str, at: Callable[[int], Location]
    ) -> tuple[tuple[Column, ...], float | None]:
        loc = at(0)
        args = list(line.args or ())
        percentile = None
        if ctype == "percentile":
            if len(args) != 2 or not args[1].is_number:
                self.err(loc, "percentile takes a column and a fraction: `percentile(col, 0.95)`")
                return (), None
            percentile = float(args[1].text.rstrip("%"))
            if not 0 < percentile < 1:
                self.err(at(args[1].offset), "the percentile is a fraction between 0 and 1, e.g. 0.95")
            args = args[:1]
        lo, hi = CHECK_TYPES[ctype].columns
        if ctype in ("metric", "sql"):
            return (), None
        for a in args:
            if a.is_number:
                self.err(at(a.offset), f"'{a.text}' is not a column name")
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = "no column" if hi == 0 else ("one column" if (lo, hi) == (1, 1) else "one or more columns")
            self.err(at(line.metric_offset), f"{ctype} takes {want}, got {len(args)}")
        return tuple(Column(a.text, at(a.offset)) for a in args if not a.is_number), percentile

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

    def anomaly(self, opts: dict[str, Any], oloc: Any, kloc: Any, unit: str) -> Anomaly | None:
        raw = opts["anomaly"]
        if raw is True or raw is None:
            return Anomaly()
        if not isinstance(raw, Map):
            self.err(oloc("anomaly"), "`anomaly:` is a mapping like {window: 28, sigma: 3}")
            return None
        for k in raw:
            if k not in ANOMALY_OPTIONS:
                self.err(raw.key_loc(k), f"unknown anomaly option '{k}'{did_you_mean(k, ANOMALY_OPTIONS)}")
        before = len(self.problems)
        window, sigma = raw.get("window", 28), raw.get("sigma", 3)
        same_weekday = self._flag(raw, "same_weekday", False)
        calibrate = self._flag(raw, "calibrate", True)
        min_history = raw.get("min_history")
        method = raw.get("method", "robust")
        direction = raw.get("direction", "both")
        if not isinstance(window, int) or isinstance(window, bool) or window < 2:
            self.err(raw.value_loc("window"), f"`window:` is a whole number of partitions, at least 2, not {window!r}")
        if not isinstance(sigma, (int, float)) or isinstance(sigma, bool) or not 0 < sigma < 1e6:
            self.err(raw.value_loc("sigma"), f"`sigma:` is a positive number, not {sigma!r}")
        if min_history is not None and (
            not isinstance(min_history, int) or isinstance(min_history, bool) or min_history < 2
        ):
            self.err(raw.value_loc("min_history"), f"`min_history:` is a whole number, at least 2, not {min_history!r}")
        elif isinstance(min_history, int) and isinstance(window, int) and min_history > window and not same_weekday:
            self.err(
                raw.value_loc("min_history"),
                f"`min_history:` ({min_history}) is more than `window:` ({window}) can ever hold",
            )
        if method not in ("mean", "robust"):
            hint = did_you_mean(str(method), ["robust", "mean"])
            self.err(raw.value_loc("method"), f"`method:` is 'robust' or 'mean'{hint}")
        if direction not in DIRECTIONS:
            hint = did_you_mean(str(direction), DIRECTIONS)
            self.err(raw.value_loc("direction"), f"`direction:` is 'drop', 'spike' or 'both'{hint}")
        seasonality = self._seasonality(raw) if "seasonality" in raw else None
        if same_weekday and seasonality is not None and "weekday" not in seasonality:
            self.err(raw.key_loc("same_weekday"), "`same_weekday: true` and a `seasonality:` without weekday disagree")
        min_change = self._min_change(raw, unit) if "min_change" in raw else ()
        if len(self.problems) > before:
            return None
        return Anomaly(
            window=window,
            sigma=float(sigma),
            same_weekday=bool(same_weekday),
            min_history=min_history,
            method=method,
            calibrate=bool(calibrate),
            seasonality=seasonality,
            direction=direction,
            min_change=min_change,
        )

    def _flag(self, raw: Map, key: str, default: bool) -> bool:
        value = raw.get(key, default)
        if not isinstance(value, bool):
            self.err(raw.value_loc(key), f"`{key}:` is true or false, not {value!r}")
            return default
        return value

    def _seasonality(self, raw: Map) -> tuple[str, ...]:
        value = raw.get("seasonality")
        items = [] if value in (None, "none") else (value if isinstance(value, list) else [value])
        out: list[str] = []
        for item in items:
            if item not in SEASONALITIES:
                hint = did_you_mean(str(item), SEASONALITIES)
                self.err(
                    raw.value_loc("seasonality"),
                    f"unknown seasonality {item!r}{hint}: a list of {', '.join(SEASONALITIES)} (or [] for none)",
                )
            elif item not in out:
                out.append(item)
        return tuple(out)

    def _min_change(self, raw: Map, unit: str) -> tuple[MinChange, ...]:
        value = raw.get("min_change")
        items = value if isinstance(value, list) else [value]
        out: list[MinChange] = []
        for item in items:
            floor = _floor(item, unit)
            if floor is None:
                duration = " or a duration such as 2h" if unit == SECONDS else ""
                self.err(
                    raw.value_loc("min_change"),
                    f"`min_change:` is a percentage (5%){duration} or a number in the metric's unit, "
                    f"or a list of both, not {item!r}",
                )
            else:
                out.append(floor)
        if sum(f.relative for f in out) > 1 or sum(not f.relative for f in out) > 1:
            self.err(raw.value_loc("min_change"), "`min_change:` takes at most one percentage and one amount")
        return tuple(out)

    def metric_sql(self, opts: dict[str, Any], oloc: Any) -> str | None:
        raw = opts.get("metric")
        if not isinstance(raw, str) or not raw.strip():
            self.err(oloc("metric"), '`metric:` is an SQL aggregate expression, e.g. "count_if(x < 0)"')
            return None
        try:
            tree = sqlglot.parse_one(raw)
        except sqlglot.errors.ParseError as exc:
            first = str(exc).splitlines()[0]
            self.err(oloc("metric"), f"`metric:` is not a valid SQL expression: {first}")
            return None
        if isinstance(tree, exp.Query) or tree.find(exp.Query) is not None:
            self.err(oloc("metric"), "`metric:` is one aggregate expression, not a query; use `sql:` for a query")
            return None
        if tree.find(exp.AggFunc) is None and not any(
            isinstance(f, exp.Anonymous) and f.name.lower() in ("count_if", "countif") for f in tree.walk()
        ):
            self.err(oloc("metric"), "`metric:` must aggregate over the partition (sum, count, avg, ...)")
            return None
        return raw.strip()

    def custom_sql(self, opts: dict[str, Any], oloc: Any, partition: str | None) -> str | None:
        raw = opts.get("sql")
        if not isinstance(raw, str) or not raw.strip():
            self.err(oloc("sql"), "`sql:` is a query returning one number")
            return None
        text = raw.strip().rstrip(";")
        try:
            statements = [s for s in sqlglot.parse(text.replace(":partition", "'__partition__'")) if s]
        except sqlglot.errors.ParseError as exc:
            first = str(exc).splitlines()[0]
            self.err(oloc("sql"), f"`sql:` is not a valid query: {first}")
            return None
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            self.err(oloc("sql"), "`sql:` must be exactly one SELECT statement")
            return None
        if partition and ":partition" not in text:
            self.err(oloc("sql"), "`sql:` must filter on the partition under audit with `:partition`")
            return None
        return text

    def type_options(self, ctype: str, opts: dict[str, Any], oloc: Any, kloc: Any, loc: Location) -> None:
        if ctype in ("invalid_count", "invalid_percent"):
            if not VALIDITY_OPTIONS & set(opts) and all(k in COMMON_OPTIONS | VALIDITY_OPTIONS for k in opts):
                self.err(loc, f"{ctype} needs a validity rule: one of {', '.join(sorted(VALIDITY_OPTIONS))}")
            vv = opts.get("valid_values")
            if vv is not None and (
                not isinstance(vv, Seq)
                or not vv
                or not all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in vv)
            ):
                self.err(oloc("valid_values"), "`valid_values:` is a non-empty list of text or numbers")
            rx = opts.get("valid_regex")
            if rx is not None:
                if not isinstance(rx, str):
                    self.err(oloc("valid_regex"), "`valid_regex:` is a regular expression as text")
                else:
                    try:
                        re.compile(rx)
                    except re.error as exc:
                        self.err(oloc("valid_regex"), f"`valid_regex:` does not compile: {exc}")
            for k in ("valid_min", "valid_max"):
                v = opts.get(k)
                if v is not None and (not isinstance(v, (int, float)) or isinstance(v, bool)):
                    self.err(oloc(k), f"`{k}:` is a number")
            for k in ("valid_length", "valid_min_length", "valid_max_length"):
                v = opts.get(k)
                if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
                    self.err(oloc(k), f"`{k}:` is a whole number of characters")
        if ctype == "missing_count" or ctype == "missing_percent":
            mv = opts.get("missing_values")
            if mv is not None and (not isinstance(mv, Seq) or not all(isinstance(v, (str, int, float)) for v in mv)):
                self.err(oloc("missing_values"), "`missing_values:` is a list of text or numbers")
        approx = opts.get("approx")
        if approx is not None and not isinstance(approx, bool):
            self.err(oloc("approx"), f"`approx:` is true or false, not {approx!r}")
        if ctype == "freshness":
            rel = opts.get("relative_to", "partition_end")
            if rel not in ("partition_end", "now"):
                self.err(
                    oloc("relative_to"),
                    "`relative_to:` is 'partition_end' or 'now'" + did_you_mean(str(rel), ["partition_end", "now"]),
                )
        if ctype == "schema":
            req = opts.get("required")
            if req is None:
                self.err(loc, "schema needs `required:` (a list of columns, or a map of column to type)")
            elif isinstance(req, Seq):
                if not all(isinstance(c, str) for c in req):
                    self.err(oloc("required"), "`required:` lists column names")
            elif isinstance(req, Map):
                for col, typ in req.items():
                    if typ not in TYPE_FAMILIES:
                        self.err(
                            req.value_loc(col),
                            f"unknown type '{typ}' for column '{col}'"
                            f"{did_you_mean(str(typ), TYPE_FAMILIES)}; use one of {', '.join(TYPE_FAMILIES)}",
                        )
            else:
                self.err(oloc("required"), "`required:` is a list of columns or a map of column to type")
            fu = opts.get("forbid_unexpected", False)
            if not isinstance(fu, bool):
                self.err(oloc("forbid_unexpected"), "`forbid_unexpected:` is true or false")


def timezone_problem(name: str) -> str | None:
    """None when `name` is an IANA time zone (Europe/Amsterdam, UTC), else why not."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
        return None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        known = zoneinfo.available_timezones()
        shown = name if len(name) <= 80 else name[:77] + "..."
        hint = did_you_mean(name[:80], known)
        return f"unknown time zone '{shown}'{hint}; use an IANA name like Europe/Amsterdam or UTC"


def cron_problem(expression: str, timezone: str) -> str | None:
    """None when `expression` is a five-field cron expression, else why not."""
    from apscheduler.triggers.cron import CronTrigger  # imported here: only files with a schedule need it

    if len(expression.split()) != 5:
        return (
            f'`cron:` has five fields (minute hour day month weekday), e.g. "0 6 * * *"; '
            f"{expression!r} has {len(expression.split())}"
        )
    try:
        CronTrigger.from_crontab(expression, timezone=timezone)
    except ValueError as exc:
        return f"`cron:` {expression!r} is not a valid cron expression: {exc}"
    return None


def parse_check_file(path: Path, display: str | None = None) -> TableSpec:
    spec, problems = parse_check_file_partially(path, display)
    if problems or spec is None:
        raise SpecError(problems)
    return spec


def parse_check_file_partially(path: Path, display: str | None = None) -> tuple[TableSpec | None, list[Problem]]:
    """The file's spec with the checks that parse, and every problem found (in file order), so that
    `quinto validate` can also check the table, its columns and its connection of a file with typos."""
    name = display or str(path)
    doc = load_file(path, name)
    parser = _FileParser(name, read_text(path, name).splitlines())
    spec = parser.parse(doc)
    problems = sorted(parser.problems, key=lambda p: (p.location.line, p.location.col) if p.location else (0, 0))
    return spec, problems


def with_connection(spec: TableSpec, connection: str) -> TableSpec:
    return replace(spec, connection=connection)


def _floor(item: Any, unit: str) -> MinChange | None:
    """One `min_change:` item: `5%` (of the expected value), a number, or a duration (freshness)."""
    if isinstance(item, bool) or item is None:
        return None
    if isinstance(item, (int, float)):
        return MinChange(float(item), False, f"{item:g}") if math.isfinite(item) and item >= 0 else None
    text = str(item).strip()
    if text.endswith("%"):
        try:
            pct = float(text[:-1])
        except ValueError:
            return None
        return MinChange(pct, True, text) if math.isfinite(pct) and pct >= 0 else None
    if unit == SECONDS:
        try:
            return MinChange(parse_duration(text), False, text)
        except ValueError:
            return None
    try:
        amount = float(text)
    except ValueError:
        return None
    return MinChange(amount, False, text) if math.isfinite(amount) and amount >= 0 else None
