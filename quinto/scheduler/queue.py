"""Asking for an audit: validate the table and partition against the project's check files, then
queue it in the store. The scheduler runs it; `Store.run_result(id)` tells how it went."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from quinto.audit import WHOLE_TABLE, parse_partition_arg, suite_fingerprint
from quinto.errors import Problem, SpecError, UsageError, did_you_mean, first_line
from quinto.spec import Project, TableSpec, parse_check_file
from quinto.spec.project import check_files, display_path, resolve_connection
from quinto.store import Store


class UnknownTable(UsageError):
    """The request names a table no check file declares (HTTP 404, exit code 2)."""


def load_tables(project: Project) -> tuple[dict[str, TableSpec], dict[str, str]]:
    """Every check file that parses, by table, and the problems of those that do not (by file):
    one broken file does not stop the others."""
    tables: dict[str, TableSpec] = {}
    problems: dict[str, str] = {}
    try:
        files = check_files(project.check_paths, project.root, project.check_locations)
    except SpecError as exc:
        return {}, {"quinto.yaml": exc.message}
    for f in files:
        if f.name == "quinto.yaml":
            continue
        spec, problem = parse_one(project, f, tables)
        if spec is not None:
            tables[spec.table] = spec
        if problem:
            problems[display_path(f)] = problem
    return tables, problems


def parse_one(project: Project, path: Path, known: Mapping[str, TableSpec]) -> tuple[TableSpec | None, str | None]:
    """One check file as a TableSpec with its connection, or its problems as text."""
    shown = display_path(path)
    try:
        spec = parse_check_file(path, shown)
    except SpecError as exc:
        return None, exc.message
    except (Exception, RecursionError) as exc:  # one unreadable file is that file's problem, not everyone's
        return None, f"{shown}:1:1: cannot read this check file: {first_line(exc)}"
    spec, problems = resolve_connection(project, spec)
    other = known.get(spec.table)
    if other is not None and other.file != spec.file:
        problems.append(Problem(spec.location, f"table '{spec.table}' is already declared at {other.location}"))
    if problems:
        return None, "\n".join(str(p) for p in problems)
    return spec, None


def partition_value(spec: TableSpec, partition: str | Mapping[str, Any] | None) -> str:
    """`ds=2026-11-27`, `2026-11-27` or {"ds": "2026-11-27"} → the validated value (`*` for a
    table without a partition column)."""
    if isinstance(partition, Mapping):
        if len(partition) != 1:
            raise UsageError(f'a partition is one column and its value, e.g. {{"{spec.partition or "ds"}": ...}}')
        ((column, value),) = partition.items()
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise UsageError(f"the partition value of '{column}' is text or a whole number, not {value!r}")
        partition = f"{column}={value}"
    if partition is not None and not isinstance(partition, str):
        raise UsageError(f"a partition is text like ds=2026-11-27, not {partition!r}")
    if spec.partition is None:
        if partition and partition != WHOLE_TABLE:  # the UI names a whole table's audit `*`
            raise UsageError(f"table {spec.table} declares no `partition:` column; ask for it without a partition")
        return WHOLE_TABLE
    if not partition:
        raise UsageError(f"say which partition of {spec.table} to audit, e.g. {spec.partition}=2026-11-27")
    return parse_partition_arg(partition, spec)


def submit(
    project: Project,
    store: Store,
    table: str,
    partition: str | Mapping[str, Any] | None,
    *,
    force: bool = False,
    trigger: str = "http",
    requested_by: str | None = None,
) -> int:
    """Queue an audit of one partition of `table` and return its run id (status QUEUED). An audit
    of the same partition that is queued, or running (unless `force`), is reused. Raises
    UnknownTable (a UsageError) for a table without checks, UsageError for a bad partition."""
    if not isinstance(table, str) or not table.strip():
        raise UsageError("say which table to audit, e.g. dw.fact_playback")
    tables, problems = load_tables(project)
    spec = tables.get(table)
    if spec is None:
        known = sorted(tables)
        hint = did_you_mean(table, known) or (f"; known tables: {', '.join(known[:10])}" if known else "")
        broken = f"; check files with problems: {', '.join(sorted(problems))}" if problems else ""
        raise UnknownTable(f"no checks declared for table '{table}'{hint}{broken}")
    value = partition_value(spec, partition)
    run_id, _ = store.enqueue(
        spec.table,
        spec.connection,
        spec.partition,
        value,
        fingerprint=suite_fingerprint(spec),
        force=force,
        trigger=trigger,
        requested_by=requested_by,
    )
    return run_id
