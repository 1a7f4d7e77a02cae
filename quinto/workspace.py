"""A project's resources, opened from its quinto.yaml: typed settings, the results store, warehouse
connectors and the check files. The CLI, the scheduler, the web and the library API all reach them
through a `Workspace`, so check files are loaded one way: each file is parsed once and again only
when its modification time or size changes, and a file that does not parse is a problem of that
file (its last good version is kept) while the other tables load."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from quinto.alerts.record import record_alerts
from quinto.engines import Connector, connector_for
from quinto.errors import Location, Problem, SpecError, did_you_mean, first_line
from quinto.settings import Settings
from quinto.spec import Project, TableSpec, interpolate, load_project
from quinto.spec.checkfile import parse_check_file_partially
from quinto.spec.project import PROJECT_FILE
from quinto.spec.suite import Suite, _routing_problems, check_files, display_path, resolve_connection
from quinto.store import Store


def open_store(project: Project) -> Store:
    """The project's store, whose saved runs raise their alerts; a relative SQLite path is relative
    to quinto.yaml, not to the current directory, so every job of a project shares one store."""
    url = interpolate(project.store, "the store URL")
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != prefix + ":memory:":
        url = prefix + str(Path(project.root) / url[len(prefix) :])
    return Store(url, on_save=(record_alerts,))


def spool_dir(project: Project) -> Path:
    """Where runs wait when the store cannot be written (relative to quinto.yaml)."""
    return Path(project.root) / Settings.of(project.settings).spool_dir


def make_connector(project: Project, name: str) -> Connector:
    """A connector to the project's connection `name`, with the statement timeout set."""
    if not name:
        raise SpecError([Problem(None, "no connection: name one in quinto.yaml (`connections:`)")])
    if name not in project.connections:
        raise SpecError([Problem(None, f"unknown connection '{name}'{did_you_mean(name, project.connections)}")])
    connector = connector_for(interpolate(project.connections[name], f"connection '{name}'"), name)
    settings = Settings.of(project.settings)
    connector.timeout_s = float(settings.statement_timeout) if settings.statement_timeout else None
    connector.cost_mode = settings.statement_cost
    return connector


class Connectors:
    """Connectors kept between uses, per connection, for a long-running process (the scheduler):
    an audit or a listing borrows one with its connection still open instead of connecting again
    (thread-safe; at most as many per connection as were in use at once). An engine whose connector
    says not to keep it open (a DuckDB or SQLite file) is closed after each use as before."""

    #: a connector idle longer is closed rather than reused (servers drop idle connections)
    MAX_IDLE_S = 300.0

    def __init__(self, project: Project) -> None:
        self.project = project
        self.idle: dict[str, list[tuple[float, Connector]]] = {}
        self._lock = threading.Lock()

    def take(self, name: str) -> Connector:
        """An idle connector to connection `name`, or a new one; hand it back with `give`."""
        now = time.monotonic()
        with self._lock:
            idle = self.idle.get(name) or []
            stale = [c for since, c in idle if now - since > self.MAX_IDLE_S]
            idle[:] = [(since, c) for since, c in idle if now - since <= self.MAX_IDLE_S]
            found = idle.pop()[1] if idle else None
        for connector in stale:
            connector.close()
        return found if found is not None else make_connector(self.project, name)

    def give(self, name: str, connector: Connector, ok: bool = True) -> None:
        """Keep `connector` for the next use, or close it (not `ok`: an error may have left its
        connection in any state)."""
        connector.statements.clear()
        if ok and connector.KEEP_OPEN:
            with self._lock:
                self.idle.setdefault(name, []).append((time.monotonic(), connector))
        else:
            connector.close()

    @contextlib.contextmanager
    def use(self, name: str) -> Iterator[Connector]:
        connector = self.take(name)
        ok = False
        try:
            yield connector
            ok = True
        finally:
            self.give(name, connector, ok)

    def close(self) -> None:
        with self._lock:
            idle, self.idle = self.idle, {}
        for connectors in idle.values():
            for _, connector in connectors:
                connector.close()


@dataclass(frozen=True)
class Parsed:
    """One check file as last read: its (mtime_ns, size), its table (None when it has problems)
    and its problems."""

    stamp: tuple[int, int]
    spec: TableSpec | None
    problems: tuple[Problem, ...]


@dataclass
class Loaded:
    """The check files as they stand: the tables (a broken file's last good version, if any) and
    the problems by file (`quinto.yaml` for the list of files itself)."""

    tables: dict[str, TableSpec] = field(default_factory=dict)
    problems: dict[str, list[Problem]] = field(default_factory=dict)

    def suite(self) -> Suite:
        return Suite(dict(self.tables))

    def messages(self) -> dict[str, str]:
        """file → its problems as one text."""
        return {f: "\n".join(str(p) for p in ps) for f, ps in self.problems.items()}

    def strict(self) -> Suite:
        """The suite, or SpecError with every problem of every file (as `quinto validate` says)."""
        every = [p for ps in self.problems.values() for p in ps]
        if every:
            raise SpecError(every)
        return self.suite()


class CheckFiles:
    """The project's check files, each parsed again only when it changes (thread-safe)."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.files: dict[str, Parsed] = {}
        self.good: dict[str, TableSpec] = {}  # file → its last version that parsed
        self._lock = threading.Lock()

    def load(self) -> Loaded:
        with self._lock:
            return self._load()

    def _load(self) -> Loaded:
        project = self.project
        out = Loaded()
        try:
            paths = check_files(project.check_paths, project.root, project.check_locations)
        except SpecError as exc:
            out.problems[PROJECT_FILE] = list(exc.problems)
            return out
        seen = set()
        for path in paths:
            if path.name == PROJECT_FILE:
                continue
            shown = display_path(path)
            seen.add(shown)
            parsed = self._parse(path, shown)
            spec = parsed.spec or self.good.get(shown)
            problems = list(parsed.problems)
            if spec is not None and spec.table in out.tables and out.tables[spec.table].file != spec.file:
                first = out.tables[spec.table].location
                problems.append(Problem(spec.location, f"table '{spec.table}' is already declared at {first}"))
            elif spec is not None:
                out.tables[spec.table] = spec
            if problems:
                out.problems[shown] = problems
        for gone in set(self.files) - seen:  # a deleted file takes its table with it
            self.files.pop(gone)
            self.good.pop(gone, None)
        if project.location is not None:
            for problem in _routing_problems(project, out.tables, every_table=True):
                where = problem.location.file if problem.location else PROJECT_FILE
                out.problems.setdefault(where, []).append(problem)
        return out

    def _parse(self, path: Path, shown: str) -> Parsed:
        try:
            st = path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = (0, -1)
        cached = self.files.get(shown)
        if cached is not None and cached.stamp == stamp:
            return cached
        try:
            spec, problems = parse_check_file_partially(path, shown)
            if spec is not None and spec.table != "?":
                spec, more = resolve_connection(self.project, spec)
                problems = [*problems, *more]
        except SpecError as exc:
            spec, problems = None, list(exc.problems)
        except (Exception, RecursionError) as exc:  # noqa: BLE001 - one unreadable file is its problem, not all
            spec, problems = None, [Problem(Location(shown, 1, 1), f"cannot read this check file: {first_line(exc)}")]
        if problems or spec is None or spec.table == "?":
            spec = None
        else:
            self.good[shown] = spec
        parsed = Parsed(stamp, spec, tuple(problems or ([] if spec else [Problem(None, f"{shown}: no table")])))
        self.files[shown] = parsed
        return parsed


class Workspace:
    """One project's settings, store, connectors and check files. `load` it from quinto.yaml (or
    wrap a loaded Project); the store is opened on first use and closed by `close`."""

    def __init__(self, project: Project, store: Store | None = None) -> None:
        self.project = project
        self.settings = Settings.of(project.settings)
        self.checks = CheckFiles(project)
        self._store = store
        self._own_store = store is None
        self.connectors = Connectors(project)  # kept open between a scheduler's audits

    @classmethod
    def load(cls, config: str | Path | None = None) -> Workspace:
        return cls(load_project(config))

    @property
    def root(self) -> Path:
        return Path(self.project.root)

    @property
    def spool_dir(self) -> Path:
        return self.root / self.settings.spool_dir

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = open_store(self.project)
        return self._store

    def connector(self, name: str) -> Connector:
        return make_connector(self.project, name)

    def tables(self) -> Loaded:
        """Every check file as it stands now (re-read where changed), broken files as problems."""
        return self.checks.load()

    def suite(self) -> Suite:
        """The suite when every check file parses, else SpecError with every problem."""
        return self.tables().strict()

    def close(self) -> None:
        self.connectors.close()
        if self._own_store and self._store is not None:
            self._store.close()
            self._store = None

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
