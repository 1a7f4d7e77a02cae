"""Who may write. The JSON API takes `Authorization: Bearer <QUINTO_API_TOKEN>`; the UI takes the
same token once on its sign-in page (kept in the signed session cookie) and every form carries a
CSRF token. Without a configured token, writes are refused (401)."""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, request, session

F = TypeVar("F", bound=Callable[..., Any])


def token_matches(given: str | None) -> bool:
    expected = current_app.config.get("QUINTO_API_TOKEN")
    if not expected or not given:
        return False
    return hmac.compare_digest(given.encode(), str(expected).encode())


def require_token(view: F) -> F:
    """API writes: a bearer token, compared in constant time."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_app.config.get("QUINTO_API_TOKEN"):
            abort(401, "writes are disabled: the server has no QUINTO_API_TOKEN")
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not token_matches(given.strip()):
            abort(401, "a valid `Authorization: Bearer <token>` header is required")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def check_csrf() -> None:
    given = request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(given.encode(), str(expected).encode()):
        abort(400, "the form expired or did not come from this site; reload the page and try again")


def require_writer(view: F) -> F:
    """UI writes: a signed-in session and a CSRF token from one of our forms."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        check_csrf()
        if not current_app.config.get("QUINTO_API_TOKEN"):
            abort(401, "writes are disabled: the server has no QUINTO_API_TOKEN")
        if not session.get("writer"):
            abort(401, "sign in with the write token first")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
