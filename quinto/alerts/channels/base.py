"""The channel protocol: what Quinto needs to know about a place alerts go.

A channel is one small class (one module) registered under its target prefix. It says:

- how a target after its prefix is written in a check file's `notify:` (`parse_address`), with a
  message that says what to write instead, and what it needs from the table (`check_address`);
- its section of quinto.yaml: either fixed keys (`named = False`, like `smtp:`) or named endpoints,
  each with the same keys (`named = True`, like `webhook: {ops: {url: ..., secret: ...}}`); every
  key is a `Setting` with its default and help, and a secret is accepted only as `${VAR}`;
- which addresses quinto.yaml configures, how addresses share a message (`group`, `split`);
- how an alert group (an outbox payload) renders as its message (`render`, pure);
- how a message is sent (`send`), returning a `Delivery` or raising `DeliveryError`. A row is sent
  again after a failure (with backoff) and after a crash between send and mark, so `send` must be
  safe to repeat: a stable Message-ID, a delivery id, a dedup key.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from quinto.errors import QuintoError
from quinto.redact import redact as redact_secrets
from quinto.redact import remember
from quinto.settings import Setting

TIMEOUT_S = 30.0
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class DeliveryError(QuintoError):
    """A message was not delivered; it stays in the outbox and is tried again."""

    def __init__(self, message: str, *, down: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.down = down  # the endpoint is unreachable, or rate-limits: try nothing else there now
        self.retry_after = retry_after  # seconds the endpoint asked us to wait


@dataclass(frozen=True)
class Outgoing:
    """One outbox row to send: `payload` is the alert group (or a digest of them)."""

    id: int
    target: str  # as the channel's `group` made it: "#dq", "a@x.com, b@x.com", "ops"
    payload: Mapping[str, Any]
    created_at: Any = None  # datetime of the row, when known
    attempts: int = 0  # earlier failed tries


@dataclass(frozen=True)
class Delivery:
    """What a successful send reports: `note` when it was delivered, but not to everyone."""

    note: str | None = None
    details: tuple[str, ...] = ()  # e.g. the dedup keys of the events sent


class Channel:
    """Base of every channel. Subclasses set the class attributes and override what differs."""

    #: the target prefix in `notify:` (`slack` in `slack:#dq`); at most 16 characters
    name: ClassVar[str] = ""
    #: how people call it, in messages: "Slack", "Microsoft Teams"
    title: ClassVar[str] = ""
    #: how its targets are written, for messages and docs: ("webhook:NAME",)
    forms: ClassVar[tuple[str, ...]] = ()
    #: its section of quinto.yaml (default: its name)
    section: ClassVar[str] = ""
    #: True: the section maps endpoint names to `keys`; False: the section holds `keys` itself
    named: ClassVar[bool] = True
    #: the settings of the section (of each endpoint when `named`)
    keys: ClassVar[tuple[Setting, ...]] = ()
    #: a one-line description of the section, for the settings docs
    help: ClassVar[str] = ""
    #: the keys an endpoint cannot do without (named channels)
    required: ClassVar[tuple[str, ...]] = ()
    #: whether an endpoint's rows are delivered in order: a younger row waits while an older one
    #: to the same endpoint waits for its retry (a resolve must not overtake its trigger)
    ordered: ClassVar[bool] = False
    #: whether a table listed in `alerts.digest` collects this channel's messages into a daily digest
    digests: ClassVar[bool] = True

    # -- check files -----------------------------------------------------------------------------
    def parse_address(self, address: str) -> str:
        """The address (what follows `name:`) normalized; raises ValueError saying what to write."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}", address):
            raise ValueError(
                f"'{address}' is not a {self.title} name: letters, digits, '-', '_' or '.', "
                f"as declared under `{self.section_name}:` in quinto.yaml"
            )
        return address

    def check_address(self, address: str, owners: Sequence[str]) -> str | None:
        """What is wrong with the address for a table with these `owners:`, or None."""
        return None

    def guess(self, raw: str) -> tuple[int, str] | None:
        """For a target written without a prefix: (confidence, the target meant), or None."""
        return None

    # -- quinto.yaml -----------------------------------------------------------------------------
    @property
    def section_name(self) -> str:
        return self.section or self.name

    def section_setting(self) -> Setting:
        """The section as a Setting (its default: empty, or its keys' defaults)."""
        return Setting(self.section_name, {}, dict, self.help, keys=() if self.named else self.keys)

    def endpoint_name(self, key: str) -> str:
        """An endpoint name as written under the section, normalized; raises ValueError."""
        return self.parse_address(key)

    def secret_message(self, endpoint: str | None, key: str) -> str:
        """The message for a secret written literally in quinto.yaml."""
        where = f"{self.section_name}.{endpoint}.{key}" if endpoint else f"{self.section_name}.{key}"
        var = env_name(self.section_name, endpoint or "", key)
        return f"`{where}:` is a secret written in the file; read it from the environment, e.g. {key}: ${{{var}}}"

    def unknown_endpoint(self, address: str, hint: str) -> str:
        where = f"`{self.section_name}:` in quinto.yaml"
        return f"unknown {self.title} endpoint '{address}'{hint}; endpoints are declared under {where}"

    def endpoints(self, settings: Mapping[str, Any]) -> Mapping[str, Any]:
        """The configured endpoints (named channels): name → its keys."""
        section = settings.get(self.section_name) or {}
        return section if isinstance(section, Mapping) else {}

    def addresses(self, address: str, owners: Sequence[str]) -> list[str]:
        """The recipients an address stands for (`email:owners` → the owners' addresses)."""
        return [address]

    def configured(self, addresses: list[str], settings: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """(addresses quinto.yaml configures, notes on those it does not, like `slack:#dq`)."""
        known = self.endpoints(settings)
        return [a for a in addresses if a in known], [f"{self.name}:{a}" for a in addresses if a not in known]

    def group(self, addresses: list[str]) -> list[str]:
        """The outbox targets for these addresses: one message each by default."""
        return list(addresses)

    def split(self, target: str) -> list[str]:
        """A target as its recipients, one digest each."""
        return [target]

    def endpoint(self, target: str, settings: Mapping[str, Any]) -> str:
        """Which server a target is sent to: when it is down, the pass tries nothing else there."""
        return f"{self.name} {target}"

    def config(self, target: str, settings: Mapping[str, Any]) -> Mapping[str, Any]:
        """The keys of the endpoint `target` (defaults filled in); raises DeliveryError when gone."""
        keys = self.endpoints(settings).get(target)
        if keys is None:
            raise DeliveryError(
                f"{self.title} '{target}' is not declared under `{self.section_name}:` in quinto.yaml", down=True
            )
        if not isinstance(keys, Mapping):  # `name: ${VAR}`, short for its first key
            keys = {self.keys[0].name: keys} if self.keys else {}
        return {**{k.name: k.default for k in self.keys}, **keys}

    def missing(self, target: str, key: str) -> DeliveryError:
        return DeliveryError(
            f"{self.title} '{target}' has no `{key}` under `{self.section_name}:` in quinto.yaml", down=True
        )

    # -- messages --------------------------------------------------------------------------------
    def render(self, payload: Mapping[str, Any]) -> Any:
        """The message for an alert group or a digest (pure)."""
        raise NotImplementedError

    def send(self, message: Outgoing, settings: Mapping[str, Any]) -> Delivery:
        """Deliver one outbox row; raises DeliveryError. Safe to repeat."""
        raise NotImplementedError


# -- helpers shared by the channels ------------------------------------------------------------------
def env_name(*parts: str) -> str:
    """`("webhook", "ops", "url")` → WEBHOOK_OPS_URL: the variable name suggested for a secret."""
    return "_".join(p for p in (re.sub(r"[^A-Z0-9]+", "_", x.upper()).strip("_") for x in parts) if p)


def expand(template: Any, what: str, *, secret: bool = True) -> str:
    """A setting with ${VAR} read from the environment now (a secret is never stored expanded). A
    secret's value is remembered, so that no error message shows it (quinto/redact.py)."""
    text = str(template)

    def sub(m: re.Match[str]) -> str:
        value = os.environ.get(m.group(1))
        if value is None:
            raise DeliveryError(f"environment variable {m.group(1)} is not set (needed by {what})", down=True)
        if secret:
            remember(value)
        return value

    out = _VAR.sub(sub, text)
    if secret and out != text:
        remember(out)
    return out


def redact(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret hidden: the `secrets` given (`post` passes the URL, its path and
    query, and the keys) and whatever quinto/redact.py hides everywhere."""
    return redact_secrets(text, secrets)


def host_of(url: str) -> str:
    """The host and port of a URL, without credentials: what an error may show of it."""
    return urllib.parse.urlsplit(url).netloc.rsplit("@", 1)[-1]


def http_url(url: str, what: str) -> str:
    if not url.startswith(("https://", "http://")):
        raise DeliveryError(f"{what} is not an http(s) URL", down=True)
    return url


def post(
    url: str,
    body: bytes,
    *,
    label: str,
    target: str,
    headers: Mapping[str, str] | None = None,
    secrets: Iterable[str] = (),
    timeout: float = TIMEOUT_S,
) -> tuple[int, bytes]:
    """POST `body` (JSON) and return (status, response body). Errors name `label (host)` and the
    target, never the URL's path or a secret; 5xx, 429 and connection failures mark the endpoint down
    (429 with its Retry-After)."""
    import http.client  # imported here: an audit that only records alerts never sends one
    import urllib.error
    import urllib.request

    host = host_of(url)
    hidden = [url, urllib.parse.urlsplit(url).path, urllib.parse.urlsplit(url).query, *secrets]
    try:
        request = urllib.request.Request(
            url,
            data=body,
            headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "Quinto", **(headers or {})},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - http(s) checked by callers
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        text = redact(exc.read(300).decode("utf-8", "replace").strip(), hidden)
        what = f"{label} ({host}) answered {exc.code} for {target}" + (f": {text}" if text else "")
        if exc.code == 429:
            raise DeliveryError(what, down=True, retry_after=retry_after(exc.headers.get("Retry-After"))) from None
        raise DeliveryError(what, down=exc.code >= 500) from None
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        reason = redact(str(getattr(exc, "reason", None) or exc), hidden)
        raise DeliveryError(f"cannot reach {label} ({host}) for {target}: {reason}", down=True) from None
    except (http.client.HTTPException, ValueError) as exc:  # InvalidURL: a space or control character
        what = redact(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", hidden)
        raise DeliveryError(f"the URL of {label} ({host}) for {target} is not a valid URL; {what}", down=True) from None


def retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    import email.utils

    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
