"""The Flask UI and JSON API: read the results store, never the warehouse. `create_app(config)` is
the factory; `web/views.py` holds the pages, `web/api.py` the JSON API, `web/auth.py` the token and
CSRF rules, `web/context.py` what a request reads (the store, the project, links). Views call store
functions and render; there is no SQL here."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, g, render_template, request
from flask.json.provider import DefaultJSONProvider
from quinto.web.context import number, partition_url, run_url, table_url
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from quinto.errors import QuintoError
from quinto.results import finite


class FiniteJSON(DefaultJSONProvider):
    """Flask's JSON, never with a bare NaN or Infinity (not JSON): those become text."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return super().dumps(finite(obj), **kwargs)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """`config` keys: QUINTO_CONFIG (path of quinto.yaml), QUINTO_STORE (a store URL, instead of the
    project's), QUINTO_API_TOKEN (bearer token for writes; default: the environment variable),
    SECRET_KEY (signs sessions; default: QUINTO_SECRET_KEY, else random per process)."""
    app = Flask(__name__)
    app.json = FiniteJSON(app)
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
