"""`quinto validate`: every check file parses, and every table, column and expression exists in
its warehouse (asked without reading data)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from quinto.alerts.policy import routing_notes
from quinto.audit import Auditor
from quinto.checks import CHECK_TYPES, ROWS
from quinto.compile import compile_sql_probe
from quinto.engines import Connector
from quinto.errors import Problem, SpecError, WarehouseError, did_you_mean
from quinto.spec import Project, Suite, TableSpec, load_project
from quinto.spec.suite import parse_suite
from quinto.workspace import make_connector


@dataclass
class Validation:
    suite: Suite
    verified: list[str] = field(default_factory=list)  # tables whose columns were checked in the warehouse
    unverified: dict[str, str] = field(default_factory=dict)  # table → why not
    notes: list[str] = field(default_factory=list)  # e.g. alert targets quinto.yaml does not configure


def validate(
    paths: Sequence[str] | None = None, *, config: str | Path | None = None, connect: bool | None = None
) -> Validation:
    """Parse every check file, then check every table, column and expression in its warehouse:
    always with `connect=True` (an unreachable warehouse raises), never with False, and with None
    whenever the warehouse can be reached. Every problem of every file is raised at once (SpecError):
    typos in the file together with what the warehouse says of the checks that parse."""
    project = load_project(config)
    suite, problems = parse_suite(project, list(paths) if paths else None)
    report = Validation(suite, notes=routing_notes(project, suite.tables) if project.location else [])
    if connect is not False:
        for spec in suite.tables.values():
            if spec.connection not in project.connections:  # reported by the parse (or no quinto.yaml)
                continue
            try:
                connector = make_connector(project, spec.connection)
            except SpecError as exc:  # e.g. the URL's environment variable is not set
                if connect:
                    problems.extend(exc.problems)
                else:
                    report.unverified[spec.table] = str(exc.message).splitlines()[0]
                continue
            except WarehouseError as exc:
                report.unverified[spec.table] = str(exc.message).splitlines()[0]
                continue
            try:
                problems.extend(warehouse_problems(project, spec, connector))
                report.verified.append(spec.table)
            except WarehouseError as exc:
                report.unverified[spec.table] = exc.message
            finally:
                connector.close()
    if problems:
        where = [Problem(None, f"{t} not verified in its warehouse: {why}") for t, why in report.unverified.items()]
        raise SpecError(sorted(set(problems), key=_problem_order) + (where if connect else []))
    if connect and report.unverified:
        table, why = next(iter(report.unverified.items()))
        raise WarehouseError(f"{table}: {why}")
    return report


def _problem_order(problem: Problem) -> tuple[str, int, int]:
    loc = problem.location
    return (loc.file, loc.line, loc.col) if loc else ("", 0, 0)


def sample_partition(spec: TableSpec) -> str:
    """A value of the partition column's type, bound where a statement needs one but reads nothing."""
    today = dt.date.today()
    return {
        "integer": today.strftime("%Y%m%d"),
        "timestamp": f"{today.isoformat()} 00:00:00",
    }.get(spec.partition_type, today.isoformat())


def warehouse_problems(project: Project, spec: TableSpec, connector: Connector) -> list[Problem]:
    """What the warehouse says of a table's checks, without reading data: a missing table (with
    "did you mean" from the warehouse's listing), partition column or column, and every check the
    engine cannot compile (`metric:` and `sql:` expressions, types), located at the expression."""
    columns = connector.columns(spec.table)
    if not columns:
        return [Problem(spec.table_location or spec.location, missing_table(spec.table, spec.connection, connector))]
    problems = _missing_columns(project, spec, connector, columns)
    auditor = Auditor(project, spec, connector, None)
    value = [sample_partition(spec)] if spec.partition else []
    if auditor._attempt(lambda: auditor._probe(value, [ROWS])) is not None:
        auditor.part_col, value = None, []  # the partition filter fails (reported): probe without it
        if auditor._attempt(lambda: auditor._probe(value, [ROWS])) is not None:
            return problems  # the table cannot be read at all
    named = {p.location for p in problems}
    blamed = {c.key for c in spec.checks if any(col.location in named for col in c.columns)}
    aggs = auditor.aggregates()
    failed = auditor._attempt(lambda: auditor._probe(value, aggs)) if aggs else None
    if failed is not None:
        bad = Auditor._culprits(aggs, failed, lambda group: auditor._attempt(lambda: auditor._probe(value, group)))
        for check in spec.checks:
            keys = [a.key for a in CHECK_TYPES[check.type].aggregates(check) if a.key in bad]
            if keys and check.key not in blamed:
                hint = auditor.unknown_columns(check).split(" at ")[0]
                message = f"{connector.dialect.ENGINE} cannot compile '{check.key}': {bad[keys[0]]}"
                problems.append(
                    Problem(check.expression_location or check.location, f"{hint}; {message}" if hint else message)
                )
    for check in spec.checks:
        if check.sql is None:
            continue
        probe = compile_sql_probe(check.sql)
        params = {"partition": sample_partition(spec)} if ":partition" in check.sql else {}
        error = auditor._attempt(lambda: connector.execute(probe.sql, params, purpose="probe"))  # noqa: B023
        if error is not None:
            engine = connector.dialect.ENGINE
            problems.append(Problem(check.expression_location or check.location, f"`sql:` fails on {engine}: {error}"))
    return problems


def missing_table(table: str, connection: str, connector: Connector) -> str:
    """'table 'x' does not exist in connection 'c' (did you mean 'y'?)', from the warehouse's listing."""
    _, schema, name = connector.split_table(table)
    text = f"table '{table}' does not exist in connection '{connection}'"
    try:
        if schema is not None:
            schemas = connector.schemas()
            if schema.lower() not in {s.lower() for s in schemas}:
                return f"{text}: it has no schema '{schema}'{did_you_mean(schema, schemas)}"
        names = connector.tables(schema)
    except WarehouseError:
        return text
    prefix = table[: len(table) - len(name)]
    return text + did_you_mean(table, [prefix + n for n in names])


def _missing_columns(
    project: Project, spec: TableSpec, connector: Connector, columns: Mapping[str, str]
) -> list[Problem]:
    problems: list[Problem] = []
    try:
        Auditor(project, spec, connector, None).check_columns(columns)
    except SpecError as exc:
        problems.extend(exc.problems)
    for check in spec.checks:
        if check.reference is None:
            continue
        ref_cols = connector.columns(check.reference.table)
        if not ref_cols:
            message = missing_table(check.reference.table, spec.connection, connector)
            problems.append(Problem(check.location, f"referenced {message}"))
            continue
        for c in check.reference.columns:
            if c.name not in ref_cols:
                hint = did_you_mean(c.name, ref_cols)
                problems.append(Problem(c.location, f"column '{c.name}' is not in {check.reference.table}{hint}"))
    return problems
