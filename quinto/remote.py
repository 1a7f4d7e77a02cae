"""`quinto audit --via URL`: ask a Quinto server to audit a partition and wait for the verdict, with
the same exit codes as a local audit. Plain urllib: no HTTP client dependency.

A pipeline may call this thousands of times a day, so it imports only what asking and printing
need: neither the engine, the store nor their libraries (tests/test_imports.py keeps it so)."""

from __future__ import annotations

import http.client
import json
import math
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import click

from quinto.errors import EXIT_INFRA, QuintoError, UsageError, exit_code_of
from quinto.humanize import STATUS_COLORS
from quinto.redact import redact


class RemoteError(QuintoError):
    """The server could not be reached or did not answer as expected (exit 3)."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: the token would go to the new address, and a POST would become a
    GET. The 3xx answer comes back as an HTTPError, reported with its Location."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)

#: seconds the server may hold GET /api/runs/<id>?wait=N (web/openapi.py MAX_WAIT_S)
HOLD_S = 20


def _request(url: str, body: dict[str, Any] | None, token: str | None, timeout: float) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, headers=headers, method="POST" if data is not None else "GET")
    try:
        with _OPENER.open(req, timeout=timeout) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            location = redact(exc.headers.get("Location") or "no Location")
            raise RemoteError(
                f"the Quinto server at {redact(url)} answered {exc.code}, redirecting to {location}; "
                "redirects are not followed (the token would be sent to another address): "
                "give --via the server's final address"
            ) from None
        try:
            doc = json.loads(exc.read() or b"{}")
        except ValueError:
            doc = {}
        return exc.code, doc if isinstance(doc, dict) else {}
    except http.client.HTTPException as exc:  # something answered, but not in HTTP
        raise RemoteError(
            f"the server at {url} does not answer in HTTP ({type(exc).__name__}: {str(exc)[:80]!r}); "
            "is --via the address of a Quinto server (quinto serve)?"
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise RemoteError(f"cannot reach the Quinto server at {url}: {reason}") from None
    try:
        doc = json.loads(raw or b"{}")
    except ValueError:
        doc = None
    if not isinstance(doc, dict):
        raise RemoteError(
            f"the server at {url} answered {status} with something that is not a JSON object "
            f"({raw[:60]!r}); is --via the address of a Quinto server (quinto serve)?"
        )
    return status, doc


def server_root(base: str) -> str:
    """The server's address as --via gives it, without a trailing slash; UsageError if it is not one."""
    try:
        parsed = urllib.parse.urlparse(base)
        parsed.port  # noqa: B018 - raises ValueError for a port that is not a number in 0-65535
    except ValueError as exc:
        raise UsageError(
            f"--via is the server's address, like http://quinto.internal:5000, not {base!r} ({exc})"
        ) from None
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise UsageError(f"--via is the server's address, like http://quinto.internal:5000, not {base!r}")
    return base.rstrip("/")


def call_api(base: str, path: str, body: dict[str, Any] | None = None, timeout: float = 30) -> dict[str, Any]:
    """One request to a Quinto server's API (`body`: POST it as JSON, else GET) with the token of
    QUINTO_API_TOKEN; its JSON answer. A request the server refuses (400, 401, 404, 409) is a
    UsageError with the server's reason (exit 2); anything else unexpected a RemoteError (exit 3)."""
    root = server_root(base)
    status, doc = _request(f"{root}{path}", body, os.environ.get("QUINTO_API_TOKEN"), timeout)
    if status == 200:
        return doc
    if status == 401:
        raise UsageError(
            f"the server refused the request: {doc.get('error', 'unauthorized')} (set QUINTO_API_TOKEN to its token)"
        )
    if status in (400, 404, 409):
        raise UsageError(str(doc.get("error", "bad request")))
    raise RemoteError(
        f"the server answered {status} to {'POST' if body is not None else 'GET'} {path}: {doc.get('error', doc)}"
    )


def audit_via(
    base: str,
    table: str,
    partition: str | None,
    *,
    force: bool = False,
    timeout: float = 3600.0,
    poll: float = 1.0,
) -> dict[str, Any]:
    """POST /api/audits, then poll GET /api/runs/<id> until the run is complete; returns the run."""
    root = server_root(base)
    if not math.isfinite(timeout) or timeout < 0:
        raise UsageError(f"--timeout is a number of seconds, not {timeout!r}")
    token = os.environ.get("QUINTO_API_TOKEN")
    body: dict[str, Any] = {"table": table, "force": force}
    if partition is not None:
        body["partition"] = partition
    status, doc = _request(f"{root}/api/audits", body, token, 30)
    if status == 401:
        raise UsageError(
            f"the server refused the request: {doc.get('error', 'unauthorized')} (set QUINTO_API_TOKEN to its token)"
        )
    if status in (400, 404):  # a bad request, or a table without checks
        raise UsageError(str(doc.get("error", "bad request")))
    if status not in (200, 202) or "run_id" not in doc:
        raise RemoteError(f"the server answered {status} to POST /api/audits: {doc.get('error', doc)}")
    run_id = doc["run_id"]
    if not isinstance(run_id, int) or isinstance(run_id, bool) or run_id < 1:
        raise RemoteError(
            f"the server answered POST /api/audits with run_id {str(run_id)[:40]!r}, not a run number; "
            "is --via the address of a Quinto server (quinto serve)?"
        )
    deadline = time.monotonic() + timeout
    delay = min(poll, 0.2)
    while True:
        # the server holds the answer until the verdict is in (at most HOLD_S): the job learns it as
        # the audit ends, in one request per HOLD_S instead of a poll loop
        hold = max(0, min(HOLD_S, math.floor(deadline - time.monotonic())))
        asked = time.monotonic()
        status, run = _request(f"{root}/api/runs/{run_id}?wait={hold}", None, token, 30 + hold)
        if status != 200:
            raise RemoteError(f"the server answered {status} for run {run_id}: {run.get('error', run)}")
        if run.get("verdict") is not None:
            return run
        if time.monotonic() > deadline:
            raise RemoteError(
                f"run {run_id} is still {run.get('status')} after {timeout:g}s; see {root}/api/runs/{run_id}"
            )
        if hold == 0 or time.monotonic() - asked < hold / 2:  # answered at once: a server that does not hold answers
            time.sleep(delay)
            delay = min(delay * 2, poll)


def remote_exit_code(doc: dict[str, Any]) -> int:
    """The exit code a finished run answers with: its stored code, else its status's."""
    stored = doc.get("exit_code")
    code = exit_code_of(
        str(doc.get("status")), stored if isinstance(stored, int) and not isinstance(stored, bool) else None
    )
    return EXIT_INFRA if code is None else code


def print_remote(doc: dict[str, Any]) -> None:
    """The server's answer as `quinto audit` prints a local one."""
    outcomes = doc.get("outcomes") or []
    if outcomes:  # values in their check type's unit: the registry is read only when there is one to show
        from quinto.checks import unit_of
        from quinto.humanize import quantity
    for o in outcomes:
        status = str(o["status"])
        styled = click.style(f"{status:<8}", fg=STATUS_COLORS.get(status), bold=status not in ("LEARNING", "PASS"))
        value = quantity(o.get("value"), *unit_of(str(o.get("check_type") or "")))
        click.echo(f"{styled} {o.get('check')}  value={value}  {o.get('message', '')}")
    parts = doc.get("partitions") or []
    click.echo(
        f"{doc.get('table')} {', '.join(map(str, parts))}: {doc.get('status')}; "
        f"run {doc.get('run_id') or doc.get('id')}; verdict: {doc.get('verdict')}"
    )
    if doc.get("error"):
        click.echo(f"Error: {doc['error']}", err=True)
