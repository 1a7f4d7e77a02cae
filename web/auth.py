"""Who may read and write. Tokens have a name and a scope (`read` < `audit` < `write`; see
web/tokens.py). The JSON API takes `Authorization: Bearer <token>`; the UI takes a token once on its
sign-in page (the session keeps the token's name and a keyed hash binding it to that token, so a
changed or removed token signs its sessions out) and every form carries a CSRF token. A reverse
proxy at a trusted address may name the user in a header instead (single sign-on). Without a
token, writes are refused (401); with too small a scope, 403. With `api.read_requires_token: true`
every read needs a token or a sign-in too, except OPEN_PATHS and static files.

Every request's caller is found once, before its body is read (`guard`), and kept as `who()`;
`actor()` is the name recorded with a write.

Guessing is throttled per client: after THROTTLE_FAILURES wrong tokens (sign-in or API) within
THROTTLE_WINDOW_S seconds, the client's token-bearing requests answer 429 with Retry-After until the
window has passed. A write to the API is authorized before its body is read."""

from __future__ import annotations

import functools
import hmac
import math
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from quinto.web.tokens import ALLOWS, MAX_USER, ProxyUsers, Scope, Token, Tokens
from werkzeug.exceptions import TooManyRequests
from werkzeug.wrappers import Response

F = TypeVar("F", bound=Callable[..., Any])

#: wrong tokens a client may send within THROTTLE_WINDOW_S before it is answered 429
THROTTLE_FAILURES = 10
THROTTLE_WINDOW_S = 300.0
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: paths answered without a token even when reads require one (probes, metrics, the sign-in page);
#: static files (under /static/) are open too
OPEN_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/signin", "/favicon.ico"})


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


@dataclass(frozen=True)
class Principal:
    """Who is calling: a token's name (or a proxy's user), its scope, and how it was shown:
    "bearer" (the API's Authorization header), "session" (signed in on the UI) or "proxy"."""

    name: str
    scope: Scope
    via: str

    def may(self, scope: Scope | str) -> bool:
        return self.scope >= _scope(scope)


def _scope(scope: Scope | str) -> Scope:
    if isinstance(scope, Scope):
        return scope
    parsed = Scope.parse(scope)
    if parsed is None:
        raise ValueError(f"no scope {scope!r}")
    return parsed


def tokens() -> Tokens:
    t: Tokens = current_app.extensions["quinto_tokens"]
    return t


def proxy_users() -> ProxyUsers | None:
    p: ProxyUsers | None = current_app.extensions.get("quinto_proxy_users")
    return p


def writes_enabled() -> bool:
    """Whether anyone can write: the server has a token, or trusts a proxy's users with `write`."""
    proxy = proxy_users()
    return bool(tokens()) or (proxy is not None and proxy.scope >= Scope.WRITE)


def match_token(given: str | None) -> Token | None:
    """The token `given` is (compared with every token in constant time); a wrong one counts
    against the client's throttle."""
    if not given or not tokens():
        return None
    token = tokens().match(given)
    if token is not None:
        throttle().succeeded(client())
    else:
        throttle().failed(client())
    return token


def token_matches(given: str | None) -> bool:
    """Whether `given` is one of the server's tokens (any scope)."""
    return match_token(given) is not None


def _session_key() -> bytes:
    return str(current_app.config["SECRET_KEY"]).encode()


def sign_in(token: Token) -> None:
    """Keep the token's name and a keyed hash binding the session to that very token."""
    session.pop("writer", None)  # the binding of earlier versions
    session["who"] = token.name
    session["bind"] = token.binding(_session_key())


def sign_out() -> None:
    for key in ("who", "bind", "writer"):
        session.pop(key, None)


def _from_session() -> Principal | None:
    name, bound = session.get("who"), session.get("bind")
    if not isinstance(name, str) or not isinstance(bound, str):
        return None
    token = tokens().named(name)
    if token is None or not hmac.compare_digest(bound.encode(), token.binding(_session_key()).encode()):
        return None
    return Principal(token.name, token.scope, "session")


def peer() -> str | None:
    """The direct peer's address (before QUINTO_TRUST_PROXY's X-Forwarded-For rewrote it)."""
    orig = request.environ.get("werkzeug.proxy_fix.orig")
    if isinstance(orig, dict) and orig.get("REMOTE_ADDR"):
        return str(orig["REMOTE_ADDR"])
    addr = request.environ.get("REMOTE_ADDR")
    return str(addr) if addr else None


def _from_proxy() -> Principal | None:
    proxy = proxy_users()
    if proxy is None or not proxy.trusts(peer()):
        return None
    user = (request.headers.get(proxy.header) or "").strip()
    if not user:
        return None
    if len(user) > MAX_USER or not user.isprintable():
        abort(400, f"the proxy's {proxy.header} header is not a user name (printable, at most {MAX_USER} characters)")
    return Principal(user, proxy.scope, "proxy")


def who() -> Principal | None:
    """The caller of this request, or None (anonymous)."""
    if "quinto_principal" not in g:
        g.quinto_principal = _identify()
    principal: Principal | None = g.quinto_principal
    return principal


def _identify() -> Principal | None:
    bearer = _bearer()
    if bearer:
        token = match_token(bearer)
        if token is None:
            abort(401, "a valid `Authorization: Bearer <token>` header is required")
        return Principal(token.name, token.scope, "bearer")
    return _from_session() or _from_proxy()


def signed_in() -> bool:
    """Whether the caller may write (a `write` token or sign-in): the UI shows its write forms then.
    `who()` tells who it is, whatever the scope."""
    principal = who()
    return principal is not None and principal.may(Scope.WRITE)


def _bearer() -> str | None:
    """None without an Authorization header, "" for another scheme than Bearer, else the token."""
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, given = header.partition(" ")
    return given.strip() if scheme.lower() == "bearer" else ""


def read_requires_token() -> bool:
    """`api.read_requires_token` of the project. A server meant to read a project that it cannot
    load (quinto.yaml broken from the start) requires a token too when it has any (it fails
    closed); without tokens nobody could sign in, so it shows what is wrong with the file."""
    from quinto.web.context import project_or_none

    project = project_or_none()
    if project is None:
        if not tokens():
            return False
        return bool(current_app.config.get("QUINTO_CONFIG")) or not current_app.config.get("QUINTO_STORE")
    api = project.settings.get("api") or {}
    return bool(api.get("read_requires_token"))


def is_open(path: str) -> bool:
    return path in OPEN_PATHS or path.startswith("/static/")


def _required_scope() -> Scope:
    """The scope the matched view asks for (`require_token(scope)`); `write` for any other write."""
    view = current_app.view_functions.get(request.endpoint or "")
    scope = getattr(view, "quinto_scope", Scope.WRITE)
    return scope if isinstance(scope, Scope) else Scope.WRITE


def guard() -> Response | None:
    """Before any request is read: a throttled client's sign-in or token gets 429; a wrong bearer
    token 401; a write to the API without a token 401 and with too small a scope 403, before its
    body is read or parsed; an anonymous read, when reads require a token, 401 on the API and a
    redirect to the sign-in page on the UI."""
    path = request.path
    is_signin = path == "/signin" and request.method == "POST"
    api = path.startswith("/api/")
    api_write = api and request.method in WRITE_METHODS
    if is_signin or api_write or "Authorization" in request.headers:
        wait = throttle().retry_after(client())
        if wait is not None:
            raise TooManyRequests(f"too many wrong tokens from {client()}; try again in {wait} s", retry_after=wait)
    if api_write:
        check_bearer(_required_scope())
        return None
    if is_open(path) or who() is not None or not read_requires_token():
        return None
    if api:
        abort(401, "this server requires a token to read: send `Authorization: Bearer <token>` (any scope)")
    if request.method in ("GET", "HEAD"):
        query = request.query_string.decode("utf-8", "replace")
        return redirect(url_for("ui.signin", next=request.script_root + path + ("?" + query if query else "")))
    abort(401, "sign in first")


def _scope_error(principal: Principal, need: Scope, what: str) -> str:
    return (
        f"{'the token' if principal.via == 'bearer' else 'signed in as'} '{principal.name}' has scope "
        f"{principal.scope} ({ALLOWS[principal.scope]}); {what} needs scope {need} or more"
    )


def check_bearer(scope: Scope | str = Scope.WRITE) -> None:
    """An API write: a bearer token (401 otherwise) of at least `scope` (403 otherwise)."""
    need = _scope(scope)
    if not tokens():
        abort(401, "writes are disabled: the server has no token (QUINTO_API_TOKENS or QUINTO_API_TOKEN)")
    if not _bearer():
        abort(401, "a valid `Authorization: Bearer <token>` header is required")
    principal = who()
    if principal is None or principal.via != "bearer":
        abort(401, "a valid `Authorization: Bearer <token>` header is required")
    if not principal.may(need):
        abort(403, _scope_error(principal, need, f"{request.method} {request.path}"))


def actor() -> str:
    """Who is writing, as recorded with every write (marks, snoozes, reruns, acknowledgements): the
    name of the bearer token (API), of the signed-in token, or of the proxy's user (UI)."""
    principal = who()
    if principal is not None:
        return principal.name
    return "api" if request.path.startswith("/api/") else "web"


def install(app: Flask, tokens_: Tokens, proxy: ProxyUsers | None) -> None:
    app.extensions["quinto_throttle"] = Throttle(
        int(app.config.get("QUINTO_THROTTLE_FAILURES", THROTTLE_FAILURES)),
        float(app.config.get("QUINTO_THROTTLE_WINDOW_S", THROTTLE_WINDOW_S)),
    )
    app.extensions["quinto_tokens"] = tokens_
    app.extensions["quinto_proxy_users"] = proxy
    app.before_request(guard)


def _with_scope(view: F, scope: Scope, check: Callable[[Scope], None]) -> F:
    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        check(scope)
        return view(*args, **kwargs)

    wrapped.quinto_scope = scope  # type: ignore[attr-defined]  # read by `guard` before the body
    return wrapped  # type: ignore[return-value]


@overload
def require_token(view: F, /) -> F: ...
@overload
def require_token(scope: str, /) -> Callable[[F], F]: ...
def require_token(arg: Any, /) -> Any:
    """API writes: a bearer token of scope `write`, or of the scope given: `@require_token` or
    `@require_token("audit")`. Checked by `guard` before the body is read, and again here."""
    if callable(arg):
        return _with_scope(arg, Scope.WRITE, check_bearer)
    scope = _scope(arg)
    return lambda view: _with_scope(view, scope, check_bearer)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def check_csrf() -> None:
    given = request.form.get("csrf_token", "")
    expected = session.get("csrf")
    if not expected or not hmac.compare_digest(given.encode(), str(expected).encode()):
        abort(400, "the form expired or did not come from this site; reload the page and try again")


def check_writer(scope: Scope | str = Scope.WRITE) -> None:
    """A UI write: a CSRF token from one of our forms, and a caller of at least `scope`."""
    check_csrf()
    need = _scope(scope)
    if not writes_enabled() and proxy_users() is None:
        abort(401, "writes are disabled: the server has no token (QUINTO_API_TOKENS or QUINTO_API_TOKEN)")
    principal = who()
    if principal is None:
        abort(401, "sign in with a token first")
    if not principal.may(need):
        abort(403, _scope_error(principal, need, "this") + "; sign in with such a token")


@overload
def require_writer(view: F, /) -> F: ...
@overload
def require_writer(scope: str, /) -> Callable[[F], F]: ...
def require_writer(arg: Any, /) -> Any:
    """UI writes: a CSRF token and a signed-in caller of scope `write` (or the scope given)."""
    if callable(arg):
        return _with_scope(arg, Scope.WRITE, check_writer)
    scope = _scope(arg)
    return lambda view: _with_scope(view, scope, check_writer)
