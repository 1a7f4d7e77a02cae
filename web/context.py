"""What a request of the web app reads: the store (opened once per request), the project and its
check files (looked at every PROJECT_TTL seconds through the app's Workspace, which parses a file
again only when it changed and keeps the last good version of a broken one), and the helpers that
format values and build links. The views, the API and the app factory all import it; it imports
none of them."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from flask import current_app, g, request

from quinto import humanize
from quinto.checks import judged_unit, unit_of
from quinto.errors import QuintoError
from quinto.evaluate import Status
from quinto.spec import load_project
from quinto.spec.model import Project, TableSpec
from quinto.store import Store
from quinto.store.records import TableSummary
from quinto.workspace import CheckFiles, Workspace, open_store

#: the outcome statuses, mildest first (filters and the API's `status` argument)
STATUSES = tuple(str(s) for s in Status)
#: seconds a loaded project (quinto.yaml and its check files) is reused before it is read again
PROJECT_TTL = 10.0


def store() -> Store:
    """The store for this request (opened once, closed at teardown)."""
    if "store" not in g:
        url = current_app.config.get("QUINTO_STORE")
        if url:
            g.store = Store(url)
        else:
            project = project_or_none()
            if project is None:
                raise QuintoError(project_problem() or "no store: set QUINTO_STORE or QUINTO_CONFIG")
            g.store = open_store(project)
    return g.store  # type: ignore[no-any-return]


def _load() -> dict[str, Any]:
    cache: dict[str, Any] = current_app.extensions["quinto_project"]
    if time.monotonic() - cache["at"] < PROJECT_TTL:
        return cache
    config = current_app.config.get("QUINTO_CONFIG")
    cache.update(at=time.monotonic(), problem=None)
    if not config and current_app.config.get("QUINTO_STORE"):
        cache.update(project=None, suite=None)
        return cache
    try:
        project = load_project(config)
        ws: Workspace | None = cache.get("workspace")
        if ws is None or ws.project != project:
            ws = cache["workspace"] = Workspace(project)
        cache["project"] = project
        loaded = ws.tables()
        cache["suite"] = loaded.suite()
        if loaded.problems:
            # a check file that stops parsing: its last good version is kept; say so on every page
            cache["problem"] = "\n".join(loaded.messages().values())
    except QuintoError as exc:
        cache["problem"] = exc.message
    return cache


def check_files() -> CheckFiles | None:
    """The project's check files, parsed once and again only when they change."""
    ws: Workspace | None = _load().get("workspace")
    return ws.checks if ws is not None else None


def project_or_none() -> Project | None:
    project: Project | None = _load()["project"]
    return project


def project_problem() -> str | None:
    problem: str | None = _load()["problem"]
    return problem


def table_spec(table: str) -> TableSpec | None:
    suite = _load()["suite"]
    if suite is None:
        return None
    spec: TableSpec | None = suite.tables.get(table)
    return spec


@dataclass(frozen=True)
class AuditedTable(TableSummary):
    """A table's summary as the overview and /api/tables show it."""

    owners: tuple[str, ...] = field(metadata={"doc": "from its check file (none when the server has no check files)"})


def audited_tables(
    status: str | None, owner: str | None, connection: str | None, q: str | None
) -> tuple[list[AuditedTable], list[AuditedTable]]:
    """Every audited table's summary with its owners (from its check file), and those matching the
    filters (empty or None: any): (all, shown). The overview page and /api/tables list these."""
    specs = table_specs()
    rows = []
    for r in store().results.tables():
        spec = specs.get(r.table_name)
        rows.append(AuditedTable(**vars(r), owners=tuple(spec.owners) if spec else ()))
    shown = [
        r
        for r in rows
        if (not status or r.status == status)
        and (not owner or owner in r.owners)
        and (not connection or r.connection == connection)
        and (not q or q.lower() in r.table_name.lower())
    ]
    return rows, shown


def owned_tables(owner: str) -> list[str]:
    """The tables whose check file names `owner` among its owners."""
    suite = _load()["suite"]
    return suite.owned_by(owner) if suite is not None else []


def incident_url(incident_id: int) -> str:
    return f"{request.script_root}/incidents/{int(incident_id)}"


def table_specs() -> dict[str, TableSpec]:
    suite = _load()["suite"]
    return dict(suite.tables) if suite is not None else {}


def number(x: Any) -> str:
    """A value for people (`quinto.humanize.number`): 3,101 · 65.7 · 3.71 M; NULL for None."""
    return humanize.number(x) if x is None or isinstance(x, (int, float)) else str(x)


def value_text(x: Any, check_type: str) -> str:
    """A check's value in its type's unit: 3,101 rows · 65.7 % · 30 h."""
    return humanize.quantity(x, *unit_of(check_type)) if x is None or isinstance(x, (int, float)) else str(x)


def judged_text(x: Any, check_type: str, threshold: str = "") -> str:
    """The number a check judged, in its unit (a change check's: a percentage or a difference)."""
    return humanize.quantity(x, *judged_unit(check_type, threshold)) if x is not None else ""


def expected_text(low: float | None, high: float | None, check_type: str, threshold: str = "") -> str:
    """The passing range in the unit of the number judged: 2,750–3,330 rows · ≤ 26 h."""
    return humanize.expected(low, high, *judged_unit(check_type, threshold))


# Links built directly: a page of 500 tables would otherwise spend most of its time in url_for.
# They match the routes in web/views.py (tests follow every link they render).
_SAFE = "/:@!$'()*+,;="


def table_url(table: str) -> str:
    return f"{request.script_root}/tables/{quote(table, safe=_SAFE)}"


def partition_url(table: str, partition: str) -> str:
    return f"{table_url(table)}/partitions/{quote(partition, safe=_SAFE)}"


def check_url(table: str, check: str) -> str:
    return f"{table_url(table)}/checks/{quote(check, safe=_SAFE)}"


def run_url(run_id: int) -> str:
    return f"{request.script_root}/runs/{int(run_id)}"
