"""The Flask UI and JSON API: read the results store, never the warehouse. `create_app(config)` is
the factory; `web/views.py` holds the pages, `web/api.py` the JSON API, `web/auth.py` the token and
CSRF rules, `web/context.py` what a request reads (the store, the project, links). Views call store
functions and render; there is no SQL here."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, g, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask.sessions import SecureCookieSessionInterface
from quinto.web import tokens
from quinto.web.auth import WRITE_METHODS
from quinto.web.context import (
    check_url,
    expected_text,
    incident_url,
    judged_text,
    number,
    partition_url,
    run_url,
    table_url,
    value_text,
)
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from quinto.errors import QuintoError
from quinto.humanize import when
from quinto.redact import redact
from quinto.results import finite

#: the largest request body read (bytes); larger ones are answered 413
MAX_BODY = 1024 * 1024
#: the deepest nesting of arrays and objects accepted in a JSON body
MAX_JSON_DEPTH = 32
HSTS = "max-age=31536000"


class _Sessions(SecureCookieSessionInterface):
    """The session cookie is `Secure` when the request came over HTTPS (directly, or through a
    trusted proxy that says so with X-Forwarded-Proto)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


def json_depth(body: bytes) -> int:
    """The deepest nesting of `[` and `{` in a JSON text, outside strings (one linear pass)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _bad_text(value: Any) -> str | None:
    """What is wrong with a text in a JSON body (NUL, a lone surrogate), or None."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if "\x00" in v:
                return "NUL characters are not allowed"
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                return "the body has a lone surrogate (an unpaired \\ud800-\\udfff escape): text must be valid Unicode"
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return None


def _read_body() -> None:
    """Refuse NUL anywhere, and parse a write's JSON body once, bounded (never a 500 later)."""
    # NUL is never part of a table, partition or check name, and PostgreSQL refuses it in text
    if "\x00" in request.path or any("\x00" in v for v in request.values.values()):
        abort(400, "NUL characters are not allowed")
    if not request.is_json or request.method not in WRITE_METHODS:
        return
    # a JSON body (at most MAX_CONTENT_LENGTH: 413 otherwise) is parsed here once, bounded, so a
    # view's request.get_json() gets it from the cache and never fails with a 500
    body = request.get_data(cache=True)
    if json_depth(body) > MAX_JSON_DEPTH:
        abort(400, f"the JSON body nests arrays and objects deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        abort(400, f"the body is not valid JSON: {str(exc)[:200]}")
    problem = _bad_text(value)
    if problem:
        abort(400, problem)
    request.get_json(silent=True)  # cached for the view

def _security_headers(resp: Response) -> Response:
    resp.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
    )
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        resp.headers.setdefault("Strict-Transport-Security", HSTS)
    return resp



class FiniteJSON(DefaultJSONProvider):
    """Flask's JSON, never with a bare NaN or Infinity (not JSON): those become text."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return super().dumps(finite(obj), **kwargs)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """`config` keys: QUINTO_CONFIG (path of quinto.yaml), QUINTO_STORE (a store URL, instead of the
    project's), QUINTO_API_TOKEN (the single `write` token, named "api"), QUINTO_API_TOKENS and
    QUINTO_API_TOKENS_FILE (named tokens with scopes, web/tokens.py), QUINTO_PROXY_USER_HEADER,
    QUINTO_TRUSTED_PROXIES and QUINTO_PROXY_USER_SCOPE (single sign-on through a reverse proxy),
    each by default the environment variable; SECRET_KEY (signs sessions; default:
    QUINTO_SECRET_KEY, else random per process), QUINTO_TRUST_PROXY (the number of proxies in
    front whose X-Forwarded-For/-Proto/-Host are believed; default: the environment variable,
    else 0), MAX_CONTENT_LENGTH (the largest request body; default MAX_BODY),
    QUINTO_THROTTLE_FAILURES and QUINTO_THROTTLE_WINDOW_S (wrong tokens per client before 429).
    A bad token or proxy setting raises quinto.web.tokens.TokenError (exit code 2), naming the
    entry but never its secret."""
    app = Flask(__name__)
    app.json = FiniteJSON(app)
    app.config.update(
        QUINTO_CONFIG=os.environ.get("QUINTO_CONFIG"),
        QUINTO_STORE=os.environ.get("QUINTO_STORE"),
        **tokens.environ_config(),
        SECRET_KEY=os.environ.get("QUINTO_SECRET_KEY") or None,
        QUINTO_TRUST_PROXY=int(os.environ.get("QUINTO_TRUST_PROXY") or 0),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_BODY,
    )
    app.config.update(config or {})
    known_tokens, proxy_users = tokens.load(app.config), tokens.load_proxy(app.config)
    app.session_interface = _Sessions()
    if app.config["QUINTO_TRUST_PROXY"]:  # that many proxies in front set X-Forwarded-For/-Proto/-Host
        n = int(app.config["QUINTO_TRUST_PROXY"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    if not app.config["SECRET_KEY"]:
        # never derived from the write token: a session cookie would let anyone test guesses of it
        # offline. Several worker processes must share QUINTO_SECRET_KEY (sign-in and CSRF use it).
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    app.extensions["quinto_project"] = {"at": 0.0, "project": None, "suite": None, "problem": None}

    from quinto.web import api, auth, health, views
    from quinto.web.auth import csrf_token

    # first: a throttled client, or an API write without a token of its scope, is refused unread
    auth.install(app, known_tokens, proxy_users)

    health.install(app)  # /healthz, /readyz, /metrics
    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.filters["num"] = number
    app.jinja_env.filters["qty"] = value_text
    app.jinja_env.filters["when"] = when
    app.jinja_env.globals.update(table_url=table_url, partition_url=partition_url, run_url=run_url)
    app.jinja_env.globals["incident_url"] = incident_url
    app.jinja_env.globals["writes_enabled"] = auth.writes_enabled
    app.jinja_env.globals.update(check_url=check_url, judged_text=judged_text, expected_text=expected_text)

    @app.get("/favicon.ico")
    def favicon() -> Response:
        return app.send_static_file("favicon.svg")

    @app.teardown_appcontext
    def close_store(_exc: BaseException | None) -> None:
        s = g.pop("store", None)
        if s is not None:
            s.close()

    app.before_request(_read_body)
    app.after_request(_security_headers)

    @app.errorhandler(QuintoError)
    def quinto_error(exc: QuintoError) -> tuple[Any, int]:
        code = 400 if exc.exit_code == 2 else 503
        message = redact(exc.message)
        if request.path.startswith("/api/"):
            return {"error": message}, code
        return render_template("error.html", message=message, code=code), code

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Any, int, dict[str, str]]:
        code = exc.code or 500
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}  # e.g. Allow on 405
        if request.path.startswith("/api/"):
            return {"error": exc.description or exc.name}, code, headers
        return render_template("error.html", message=exc.description or exc.name, code=code), code, headers

    return app
