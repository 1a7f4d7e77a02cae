"""Who may write. The JSON API takes `Authorization: Bearer <QUINTO_API_TOKEN>`; the UI takes the
same token once on its sign-in page (kept in the signed session cookie as a keyed hash of the token,
so a new token signs everyone out) and every form carries a CSRF token. Without a configured token,
writes are refused (401).

Guessing is throttled per client: after THROTTLE_FAILURES wrong tokens (sign-in or API) within
THROTTLE_WINDOW_S seconds, the client's token-bearing requests answer 429 with Retry-After until the
window has passed. A write to the API is authorized before its body is read."""

from __future__ import annotations

import functools
import hashlib
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, abort, current_app, g, request, session
from werkzeug.exceptions import TooManyRequests

F = TypeVar("F", bound=Callable[..., Any])

#: wrong tokens a client may send within THROTTLE_WINDOW_S before it is answered 429
THROTTLE_FAILURES = 10
THROTTLE_WINDOW_S = 300.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class Throttle:
    """Failed sign-ins and wrong API tokens per client address (one process's memory: each worker
    process of a server counts its own)."""

    def __init__(self, failures: int = THROTTLE_FAILURES, window_s: float = THROTTLE_WINDOW_S) -> None:
        self.failures = failures
        self.window_s = window_s
        self._seen: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> list[float]:
        times = [t for t in self._seen.get(client, ()) if now - t < self.window_s]
        if times:
            self._seen[client] = times
        else:
            self._seen.pop(client, None)
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds the client must wait, or None when it may try."""
        now = time.monotonic()
        with self._lock:
            times = self._recent(client, now)
            if len(times) < self.failures:
                return None
            return max(1, math.ceil(times[-self.failures] + self.window_s - now))

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._seen) > 100_000:  # bounded memory under a spray of addresses
                self._seen = {c: t for c, t in self._seen.items() if now - t[-1] < self.window_s}
            self._seen.setdefault(client, []).append(now)
            del self._seen[client][: -self.failures]

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._seen.pop(client, None)


def throttle() -> Throttle:
    t: Throttle = current_app.extensions["quinto_throttle"]
    return t


def client() -> str:
    """The client's address (the proxy's X-Forwarded-For when `QUINTO_TRUST_PROXY` is set)."""
    return request.remote_addr or "-"


def token_matches(given: str | None) -> bool:
    """Whether `given` is the write token; a wrong one counts against the client's throttle."""
    expected = current_app.config.get("QUINTO_API_TOKEN")
    if not expected or not given:
        return False
    ok = hmac.compare_digest(given.encode(), str(expected).encode())
    if ok:
        throttle().succeeded(client())
    else:
        throttle().failed(client())
    return ok


def token_fingerprint() -> str:
    """A keyed hash of the write token (keyed with SECRET_KEY: the cookie does not let anyone test
    guesses of the token offline). Kept in the session at sign-in; a new token no longer matches it."""
    token = str(current_app.config.get("QUINTO_API_TOKEN") or "")
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"quinto-writer\x00" + token.encode(), hashlib.sha256).hexdigest()


def sign_in() -> None:
    session["writer"] = token_fingerprint()


def signed_in() -> bool:
    """A signed-in session of the current token."""
    given = session.get("writer")
    if not isinstance(given, str) or not current_app.config.get("QUINTO_API_TOKEN"):
        return False
    return hmac.compare_digest(given.encode(), token_fingerprint().encode())


def _bearer() -> str | None:
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, given = header.partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def guard() -> None:
    """Before any request is read: a throttled client's sign-in or token gets 429; a write to the
    API without the right token gets 401 before its body is read or parsed."""
    is_signin = request.path == "/signin" and request.method == "POST"
    api_write = request.path.startswith("/api/") and request.method in WRITE_METHODS
    if is_signin or api_write or "Authorization" in request.headers:
        wait = throttle().retry_after(client())
        if wait is not None:
            raise TooManyRequests(f"too many wrong tokens from {client()}; try again in {wait} s", retry_after=wait)
    if api_write:
        check_bearer()


def check_bearer() -> None:
    if g.get("quinto_bearer_ok"):
        return
    if not current_app.config.get("QUINTO_API_TOKEN"):
        abort(401, "writes are disabled: the server has no QUINTO_API_TOKEN")
    if not token_matches(_bearer()):
        abort(401, "a valid `Authorization: Bearer <token>` header is required")
    g.quinto_bearer_ok = True


def actor() -> str:
    """Who is writing, as recorded with every write (marks, snoozes, reruns, acknowledgements):
    "api" for a request with the bearer token, "web" for a signed-in session."""
    return "api" if g.get("quinto_bearer_ok") else "web"


def install(app: Flask) -> None:
    app.extensions["quinto_throttle"] = Throttle(
        int(app.config.get("QUINTO_THROTTLE_FAILURES", THROTTLE_FAILURES)),
        float(app.config.get("QUINTO_THROTTLE_WINDOW_S", THROTTLE_WINDOW_S)),
    )
    app.before_request(guard)


def require_token(view: F) -> F:
    """API writes: a bearer token, compared in constant time."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        check_bearer()  # done already by `guard` for a write under /api/
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
        if not signed_in():
            abort(401, "sign in with the write token first")
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
