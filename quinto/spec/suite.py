"""Check paths → Suite: every check file of the project found, parsed and validated together
(tables declared twice, connections resolved, alert routing checked)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from quinto.errors import Location, Problem, SpecError, did_you_mean, first_line
from quinto.spec.checkfile import parse_check_file_partially, with_connection
from quinto.spec.model import Project, TableSpec
from quinto.spec.project import PROJECT_FILE
from quinto.spec.targets import channels, parse_target


@dataclass(frozen=True)
class Suite:
    tables: dict[str, TableSpec]  # by table name

    def table(self, name: str) -> TableSpec:
        try:
            return self.tables[name]
        except KeyError:
            known = sorted(self.tables)
            hint = did_you_mean(name, known) or (
                f"; known tables: {', '.join(known[:10])}" if known else "; no check file was found"
            )
            raise SpecError([Problem(None, f"no checks declared for table '{name}'{hint}")]) from None

    def owned_by(self, owner: str) -> list[str]:
        """The tables whose check file names `owner` among its owners, in name order."""
        return sorted(name for name, spec in self.tables.items() if owner in spec.owners)


def check_files(
    paths: list[str] | tuple[str, ...], root: str | None = None, locations: tuple[Location, ...] = ()
) -> list[Path]:
    files: list[Path] = []
    for i, p in enumerate(paths):
        path = Path(p)
        if root and not path.is_absolute():
            path = Path(root) / p
        if path.is_dir():
            files.extend(sorted(f for f in path.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            where = locations[i] if i < len(locations) else None
            raise SpecError([Problem(where, f"no such file or folder of checks: {p}")])
    return files


def load_suite(project: Project, paths: list[str] | tuple[str, ...] | None = None) -> Suite:
    """Parse every check file; all problems of all files are reported at once."""
    suite, problems = parse_suite(project, paths)
    if problems:
        raise SpecError(problems)
    return suite


def parse_suite(project: Project, paths: list[str] | tuple[str, ...] | None = None) -> tuple[Suite, list[Problem]]:
    """Every check file parsed as far as it goes: the tables (with the checks that parse, also
    from files with problems) and every problem of every file."""
    problems: list[Problem] = []
    tables: dict[str, TableSpec] = {}
    # paths from the command line are relative to the current directory, those of quinto.yaml to it
    files = (
        check_files(list(paths)) if paths else check_files(project.check_paths, project.root, project.check_locations)
    )
    for f in files:
        if f.name == PROJECT_FILE:
            continue
        try:
            parsed, file_problems = parse_check_file_partially(f, _display(f))
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        except (Exception, RecursionError) as exc:  # one unreadable file is that file's problem, not everyone's
            problems.append(Problem(Location(_display(f), 1, 1), f"cannot read this check file: {first_line(exc)}"))
            continue
        problems.extend(file_problems)
        if parsed is None or parsed.table == "?":  # no table name: nothing more to check
            continue
        spec, connection_problems = resolve_connection(project, parsed)
        problems.extend(connection_problems)
        if spec.table in tables:
            first = tables[spec.table].location
            problems.append(Problem(spec.location, f"table '{spec.table}' is already declared at {first}"))
            continue
        tables[spec.table] = spec
    if project.location is not None:
        problems.extend(_routing_problems(project, tables, every_table=not paths))
    return Suite(tables), problems


def resolve_connection(project: Project, spec: TableSpec) -> tuple[TableSpec, list[Problem]]:
    """The spec with its connection: its own, else `default_connection`, else the only one."""
    problems: list[Problem] = []
    conn = (
        spec.connection
        or project.settings.get("default_connection")
        or (next(iter(project.connections)) if len(project.connections) == 1 else "")
    )
    if not conn and project.location is None:
        pass  # no quinto.yaml: the check file is only parsed; connections are not known
    elif not conn:
        problems.append(
            Problem(
                spec.location,
                f"no `connection:` given and quinto.yaml names {len(project.connections)} connections; say which one",
            )
        )
    elif project.location is not None and conn not in project.connections:
        problems.append(
            Problem(
                spec.connection_location or spec.location,
                f"unknown connection '{conn}'{did_you_mean(conn, project.connections)}",
            )
        )
    return with_connection(spec, conn), problems


def display_path(path: Path) -> str:
    return _display(path)


def _routing_problems(project: Project, tables: dict[str, TableSpec], every_table: bool) -> list[Problem]:
    """Endpoints of a named channel (a Slack channel, a webhook) that quinto.yaml does not declare
    when it declares some (a typo, with a hint), and digest tables that no check file declares."""
    problems: list[Problem] = []
    alerts = project.settings.get("alerts") or {}
    named: list[tuple[str, Location | None]] = [
        (t, loc) for spec in tables.values() for t, loc in zip(spec.notify, spec.notify_locations, strict=True)
    ]
    named += [(t, project.locations.get(f"alerts.notify.{i}")) for i, t in enumerate(alerts.get("notify") or [])]
    registry = channels()
    for text, loc in named:
        target = parse_target(text)
        channel = registry[target.channel]
        declared = channel.endpoints(project.settings) if channel.named else {}
        if declared and target.address not in declared:
            hint = did_you_mean(target.address, declared)
            problems.append(Problem(loc, channel.unknown_endpoint(target.address, hint)))
    if every_table:
        for i, name in enumerate(alerts.get("digest") or []):
            if name not in tables:
                problems.append(
                    Problem(
                        project.locations.get(f"alerts.digest.{i}"),
                        f"unknown table '{name}' in `alerts.digest:`{did_you_mean(name, tables)}",
                    )
                )
    return problems


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
