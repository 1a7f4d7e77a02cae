"""Secrets are never printed. `redact(text)` is the one function every error passes through before
it is shown, stored or logged (stderr, `alert_outbox.last_error`, `quinto alerts list`, the
scheduler's log, the web API's errors). It hides

- every secret read from the environment in this process (`remember` is called where a `${VAR}`
  secret is expanded: webhook URLs, signing secrets, routing keys, SMTP and connection passwords);
- the password of a URL (`scheme://user:[redacted]@host`);
- the value of a query parameter that names a secret (`?password=`, `token`, `key`, `secret`,
  `sig`, `signature`, `credential`, `auth`, ...);
- a bearer or basic credential (`Authorization: Bearer [redacted]`);
- the path of a webhook (`/services/...` of Slack, `/webhookb2/...` and `/workflows/...` of Teams,
  `/api/webhooks/...`) and any token-like segment (16+ letters and digits) of a URL's path.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from collections.abc import Iterable

MASK = "[redacted]"
#: shortest value remembered as a secret (shorter ones would redact ordinary words)
MIN_SECRET = 4

_known: set[str] = set()
_lock = threading.Lock()

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)([^\s/@:'\"]*):([^\s/'\"]*)@")
_SECRET_WORDS = r"pass|pwd|secret|token|key|signature|credential|auth"
_QUERY = re.compile(rf"(?i)([?&;](?:[^=&;\s'\"#]*(?:{_SECRET_WORDS})[^=&;\s'\"#]*|sig|sp|sv|code)=)([^&;\s'\"#]+)")
_AUTH = re.compile(r"(?i)\b(bearer|basic)(\s+)([A-Za-z0-9._~+/=\-]{6,})")
_ASSIGNED = re.compile(
    r"(?i)\b(token|api[_-]?key|password|secret)(\s*[=:]\s*)(?!\$\{|\[redacted\])([^\s,;&?#'\"`]{4,})"
)
_WEBHOOK_PATH = re.compile(r"(?i)(/(?:services|webhookb2|workflows|api/webhooks|hooks|triggers)/)([^\s'\"?#]+)")
_VAR = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")  # a reference to a secret, not the secret
_URL = re.compile(r"(?i)\bhttps?://[^\s'\"<>]+")
_TOKENISH = re.compile(r"^(?=[A-Za-z0-9_\-]*\d)(?=[A-Za-z0-9_\-]*[A-Za-z])[A-Za-z0-9_\-]{16,}$")


def remember(*values: str | None) -> None:
    """Treat these values (and their URL-quoted forms) as secrets in every later `redact`."""
    with _lock:
        for value in values:
            if value and len(value) >= MIN_SECRET:
                _known.add(value)
                quoted = urllib.parse.quote(value, safe="")
                if quoted != value:
                    _known.add(quoted)
                if value.strip() != value and len(value.strip()) >= MIN_SECRET:
                    _known.add(value.strip())


def _url_path(m: re.Match[str]) -> str:
    url = m.group(0)
    scheme_host, sep, rest = url.partition("://")
    host, slash, path = rest.partition("/")
    if not slash:
        return url
    path, q, query = path.partition("?")
    segments = [MASK if _TOKENISH.match(s) else s for s in path.split("/")]
    return f"{scheme_host}{sep}{host}/{'/'.join(segments)}{q}{query}"


def redact(text: object, secrets: Iterable[str | None] = ()) -> str:
    """`text` with every secret hidden (see the module doc); `secrets` are extra values to hide."""
    out = str(text)
    with _lock:
        known = set(_known)
    known.update(s for s in secrets if s and len(s) >= MIN_SECRET)
    for secret in sorted(known, key=len, reverse=True):
        if secret in out:
            out = out.replace(secret, MASK)
    out = _USERINFO.sub(
        lambda m: m.group(0) if _VAR.fullmatch(m.group(3)) else f"{m.group(1)}{m.group(2)}:{MASK}@", out
    )
    out = _QUERY.sub(lambda m: m.group(0) if _VAR.fullmatch(m.group(2)) else m.group(1) + MASK, out)
    out = _AUTH.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)
    out = _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", out)
    out = _WEBHOOK_PATH.sub(lambda m: m.group(1) + MASK, out)
    return _URL.sub(_url_path, out)
