"""Check files → TableSpec. Every problem of a file is collected and reported at once."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from quinto.errors import Location, Problem, SpecError, did_you_mean
from quinto.spec.checkitem import CheckItems
from quinto.spec.model import Check, Schedule, TableSpec
from quinto.spec.targets import parse_target, target_forms, target_problem
from quinto.spec.yamlfile import Map, Seq, load_file, read_text

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
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*){0,2}$")


class _FileParser(CheckItems):
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
        partition, ptype, pformat = self.partitioning(doc)
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
        checks = self.checks(doc, partition)
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

    def partitioning(self, doc: Map) -> tuple[str | None, str, Any]:
        """`partition:`, `partition_type:` and `partition_format:`."""
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
        return partition, ptype, pformat

    def checks(self, doc: Map, partition: str | None) -> list[Check]:
        """`checks:`, each parsed; a duplicate or broken one is reported and left out."""
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
        return checks

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
