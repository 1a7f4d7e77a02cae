"""The Flask UI and JSON API: read the results store, never the warehouse. `create_app(config)` is
the factory; `web/views.py` holds the pages, `web/api.py` the JSON API, `web/auth.py` the token and
CSRF rules. Views call store functions and render; there is no SQL here."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import Flask, abort, current_app, g, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from quinto.errors import QuintoError
from quinto.evaluate import Status
from quinto.spec import load_project, load_suite
from quinto.spec.model import Project, TableSpec
from quinto.store import Store
from quinto.workspace import open_store

#: the outcome statuses, mildest first (filters and the API's `status` argument)
STATUSES = tuple(str(s) for s in Status)
#: seconds a loaded project (quinto.yaml and its check files) is reused before it is read again
PROJECT_TTL = 10.0


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """`config` keys: QUINTO_CONFIG (path of quinto.yaml), QUINTO_STORE (a store URL, instead of the
    project's), QUINTO_API_TOKEN (bearer token for writes; default: the environment variable),
    SECRET_KEY (signs sessions; default: QUINTO_SECRET_KEY, else random per process)."""
    app = Flask(__name__)
    app.config.update(
        QUINTO_CONFIG=os.environ.get("QUINTO_CONFIG"),
        QUINTO_STORE=os.environ.get("QUINTO_STORE"),
        QUINTO_API_TOKEN=os.environ.get("QUINTO_API_TOKEN") or None,
        SECRET_KEY=os.environ.get("QUINTO_SECRET_KEY") or None,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    app.config.update(config or {})
    if not app.config["SECRET_KEY"]:
        # never derived from the write token: a session cookie would let anyone test guesses of it
        # offline. Several worker processes must share QUINTO_SECRET_KEY (sign-in and CSRF use it).
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.extensions["quinto_project"] = {"at": 0.0, "project": None, "suite": None, "problem": None}

    from quinto.web import api, views
    from quinto.web.auth import csrf_token

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.filters["num"] = number
    app.jinja_env.globals.update(table_url=table_url, partition_url=partition_url, run_url=run_url)
    app.jinja_env.globals["writes_enabled"] = lambda: bool(app.config["QUINTO_API_TOKEN"])

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return app.send_static_file("favicon.svg")

    @app.teardown_appcontext
    def close_store(_exc: BaseException | None) -> None:
        s = g.pop("store", None)
        if s is not None:
            s.close()

    @app.before_request
    def refuse_nul() -> None:
        # NUL is never part of a table, partition or check name, and PostgreSQL refuses it in text
        body = request.get_data(cache=True) if request.mimetype == "application/json" else b""
        if "\x00" in request.path or any("\x00" in v for v in request.values.values()) or b"\\u0000" in body:
            abort(400, "NUL characters are not allowed")

    @app.after_request
    def security_headers(resp: Response) -> Response:
        resp.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        return resp

    @app.errorhandler(QuintoError)
    def quinto_error(exc: QuintoError) -> tuple[Any, int]:
        code = 400 if exc.exit_code == 2 else 503
        if request.path.startswith("/api/"):
            return {"error": exc.message}, code
        return render_template("error.html", message=exc.message, code=code), code

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Any, int, dict[str, str]]:
        code = exc.code or 500
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}  # e.g. Allow on 405
        if request.path.startswith("/api/"):
            return {"error": exc.description or exc.name}, code, headers
        return render_template("error.html", message=exc.description or exc.name, code=code), code, headers

    return app


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
        cache["project"] = project
        cache["suite"] = load_suite(project)
    except QuintoError as exc:
        # a check file that stops parsing: keep the last good version and say so on every page
        cache["problem"] = exc.message
    return cache


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


def audited_tables(
    status: str | None, owner: str | None, connection: str | None, q: str | None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every audited table's summary with its owners (from its check file), and those matching the
    filters (empty or None: any): (all, shown). The overview page and /api/tables list these."""
    specs = table_specs()
    rows = store().table_summaries()
    for r in rows:
        spec = specs.get(r["table_name"])
        r["owners"] = list(spec.owners) if spec else []
    shown = [
        r
        for r in rows
        if (not status or r["status"] == status)
        and (not owner or owner in r["owners"])
        and (not connection or r["connection"] == connection)
        and (not q or q.lower() in r["table_name"].lower())
    ]
    return rows, shown


def table_specs() -> dict[str, TableSpec]:
    suite = _load()["suite"]
    return dict(suite.tables) if suite is not None else {}


def number(x: Any) -> str:
    """A value for people: 6 significant digits, integers without a fraction, NULL for None."""
    if x is None:
        return "NULL"
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}" if abs(x) >= 10000 else str(int(x))
    if isinstance(x, float):
        return f"{x:.6g}"
    return str(x)


# Links built directly: a page of 500 tables would otherwise spend most of its time in url_for.
# They match the routes in web/views.py (tests follow every link they render).
_SAFE = "/:@!$'()*+,;="


def table_url(table: str) -> str:
    return f"{request.script_root}/tables/{quote(table, safe=_SAFE)}"


def partition_url(table: str, partition: str) -> str:
    return f"{table_url(table)}/partitions/{quote(partition, safe=_SAFE)}"


def run_url(run_id: int) -> str:
    return f"{request.script_root}/runs/{int(run_id)}"
