"""Named tokens with scopes: who may call the API and sign in to the UI, and what they may do.

A token has a name (recorded with every write it makes), a scope and a secret. Scopes are ordered:

- `read`: reads (needed only when `api.read_requires_token` is on);
- `audit`: reads and `POST /api/audits` (ETL jobs asking for an audit);
- `write`: everything: marks, snoozes, reruns, acknowledgements, and audits.

They come from the environment, read once when the app starts:

- `QUINTO_API_TOKENS`: entries `name:scope:secret`, separated by commas or newlines;
- `QUINTO_API_TOKENS_FILE`: a file of such entries, one a line; blank lines and lines starting
  with `#` are skipped. It must not be readable or writable by others (`chmod 600` or `640`);
- `QUINTO_API_TOKEN`: the single token of earlier versions, a `write` token named `api`.

A bad entry stops the app with one message naming the entry (never its secret): `TokenError`,
exit code 2. A secret is matched by comparing its SHA-256 digest with every token's in constant
time, always all of them, so neither the time taken nor an early exit tells which one matched."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from quinto.errors import UsageError, did_you_mean

#: the name the single QUINTO_API_TOKEN is known by
LEGACY_NAME = "api"
#: a token's name: recorded as who wrote, shown in the UI
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
#: the shortest secret of a named token
MIN_SECRET = 16


class Scope(IntEnum):
    READ = 1
    AUDIT = 2
    WRITE = 3

    def __str__(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Scope | None:
        return cls.__members__.get(text.strip().upper())


SCOPES = tuple(str(s) for s in Scope)
#: what each scope allows, for error messages
ALLOWS = {
    Scope.READ: "reads",
    Scope.AUDIT: "reads and POST /api/audits",
    Scope.WRITE: "marks, snoozes, reruns, acknowledgements and audits",
}


class TokenError(UsageError):
    """A bad QUINTO_API_TOKENS entry or tokens file (exit code 2)."""


@dataclass(frozen=True)
class Token:
    name: str
    scope: Scope
    digest: bytes = field(repr=False)  # SHA-256 of the secret; the secret itself is not kept

    def binding(self, key: bytes) -> str:
        """A keyed hash of the token (key: the app's SECRET_KEY), kept in a signed-in session: a
        changed or removed token no longer matches it, and the cookie does not let anyone test
        guesses of the secret offline."""
        return hmac.new(key, b"quinto-session\x00" + self.name.encode() + b"\x00" + self.digest, "sha256").hexdigest()


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).digest()


class Tokens:
    """The server's tokens, by name."""

    def __init__(self, tokens: Iterable[Token] = ()) -> None:
        self._tokens = tuple(tokens)
        self._by_name = {t.name: t for t in self._tokens}

    def __bool__(self) -> bool:
        return bool(self._tokens)

    def __len__(self) -> int:
        return len(self._tokens)

    def __iter__(self) -> Iterator[Token]:
        return iter(self._tokens)

    def names(self) -> list[str]:
        return [t.name for t in self._tokens]

    def named(self, name: str) -> Token | None:
        return self._by_name.get(name)

    def match(self, secret: str | None) -> Token | None:
        """The token whose secret this is, or None. Compares with every token in constant time."""
        if not secret or not self._tokens:
            return None
        given = _digest(secret)
        found: Token | None = None
        for t in self._tokens:  # never stops early: every token is compared
            if hmac.compare_digest(given, t.digest):
                found = t
        return found


def _entry(text: str, where: str, problems: list[str], seen: dict[str, str], digests: dict[bytes, str]) -> Token | None:
    parts = text.split(":", 2)
    if len(parts) < 3:
        # the entry may be a bare secret pasted in: never show it
        problems.append(f"{where}: write each token as name:scope:secret (scope: {', '.join(SCOPES)})")
        return None
    name, scope_text, secret = parts[0].strip(), parts[1].strip(), parts[2].strip()
    if not NAME.match(name):
        shown = name if name.isprintable() and len(name) <= 64 else name[:20].encode("unicode_escape").decode()
        problems.append(
            f"{where}: the name {shown!r} is 1 to 64 letters, digits and _ . @ + - (starting with a letter or digit)"
        )
        return None
    scope = Scope.parse(scope_text)
    if scope is None:
        shown = scope_text[:20]
        problems.append(f"{where} ({name}): scope {shown!r} is one of {', '.join(SCOPES)}{did_you_mean(shown, SCOPES)}")
        return None
    if len(secret) < MIN_SECRET:
        problems.append(
            f"{where} ({name}): the secret is shorter than {MIN_SECRET} characters; "
            "make one with `openssl rand -hex 24`"
        )
        return None
    if any(c.isspace() or not c.isprintable() for c in secret):
        problems.append(f"{where} ({name}): the secret has a space or a control character")
        return None
    if name in seen:
        problems.append(f"{where}: the name {name!r} is already used by {seen[name]}")
        return None
    digest = _digest(secret)
    if digest in digests:
        problems.append(f"{where} ({name}): the same secret as {digests[digest]}; give each token its own secret")
        return None
    seen[name] = where
    digests[digest] = f"{where} ({name})"
    return Token(name, scope, digest)


def _file_entries(path: str) -> list[tuple[str, str]]:
    p = Path(path)
    try:
        mode = p.stat().st_mode
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TokenError(f"QUINTO_API_TOKENS_FILE: no file {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenError(f"QUINTO_API_TOKENS_FILE: cannot read {path}: {exc}") from None
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        raise TokenError(
            f"QUINTO_API_TOKENS_FILE: {path} is readable or writable by every user (mode {stat.filemode(mode)}); "
            f"`chmod 600 {path}` (on Kubernetes: defaultMode: 0440 on the secret volume)"
        )
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if line and not line.startswith("#"):
            out.append((f"{path}:{n}", line))
    return out


def load(environ: Mapping[str, Any]) -> Tokens:
    """The tokens named by QUINTO_API_TOKENS, QUINTO_API_TOKENS_FILE and QUINTO_API_TOKEN in
    `environ` (the app's config, filled from the environment). Raises TokenError naming every bad
    entry."""
    entries: list[tuple[str, str]] = []
    listed = environ.get("QUINTO_API_TOKENS") or ""
    for n, item in enumerate((i for i in re.split(r"[,\n]", str(listed)) if i.strip()), 1):
        entries.append((f"QUINTO_API_TOKENS entry {n}", item.strip()))
    path = environ.get("QUINTO_API_TOKENS_FILE")
    if path:
        entries += _file_entries(str(path))
    problems: list[str] = []
    seen: dict[str, str] = {}
    digests: dict[bytes, str] = {}
    tokens: list[Token] = []
    legacy = environ.get("QUINTO_API_TOKEN")
    if legacy:
        legacy_token = Token(LEGACY_NAME, Scope.WRITE, _digest(str(legacy)))
        seen[LEGACY_NAME] = "QUINTO_API_TOKEN"
        digests[legacy_token.digest] = "QUINTO_API_TOKEN"
        tokens.append(legacy_token)
    for where, text in entries:
        token = _entry(text, where, problems, seen, digests)
        if token is not None:
            tokens.append(token)
    if problems:
        raise TokenError("bad token configuration:\n  " + "\n  ".join(problems))
    return Tokens(tokens)


#: a header name (RFC 9110 token characters)
HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
#: the longest user name taken from a proxy's header (the store's `*_by` columns hold 256)
MAX_USER = 256


@dataclass(frozen=True)
class ProxyUsers:
    """Single sign-on through a reverse proxy: a request whose direct peer is one of `networks`
    names its user in `header`; that user gets `scope`."""

    header: str
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
    scope: Scope

    def trusts(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address((peer or "").split("%", 1)[0])
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return any(address in n for n in self.networks)


def load_proxy(environ: Mapping[str, Any]) -> ProxyUsers | None:
    """QUINTO_PROXY_USER_HEADER, QUINTO_TRUSTED_PROXIES and QUINTO_PROXY_USER_SCOPE, or None when
    no header is configured. Raises TokenError for a bad value."""
    header = str(environ.get("QUINTO_PROXY_USER_HEADER") or "").strip()
    listed = str(environ.get("QUINTO_TRUSTED_PROXIES") or "").strip()
    if not header:
        if listed:
            raise TokenError(
                "QUINTO_TRUSTED_PROXIES is set without QUINTO_PROXY_USER_HEADER (the header naming the user)"
            )
        return None
    if not HEADER.match(header) or header.lower() in ("authorization", "cookie", "host"):
        raise TokenError(f"QUINTO_PROXY_USER_HEADER: {header[:60]!r} is not a header name like X-Forwarded-User")
    if not listed:
        raise TokenError(
            "QUINTO_PROXY_USER_HEADER is set but QUINTO_TRUSTED_PROXIES is not: list the addresses or networks "
            "of the proxies whose user header is believed (e.g. 10.0.0.5,10.1.0.0/24)"
        )
    networks = []
    for item in (i.strip() for i in re.split(r"[,\s]+", listed) if i.strip()):
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise TokenError(
                f"QUINTO_TRUSTED_PROXIES: {item[:60]!r} is not an address or a network like 10.1.0.0/24"
            ) from None
    scope_text = str(environ.get("QUINTO_PROXY_USER_SCOPE") or "read")
    scope = Scope.parse(scope_text)
    if scope is None:
        raise TokenError(
            f"QUINTO_PROXY_USER_SCOPE: {scope_text[:20]!r} is one of {', '.join(SCOPES)}"
            + did_you_mean(scope_text[:20], SCOPES)
        )
    return ProxyUsers(header, tuple(networks), scope)


def environ_config() -> dict[str, Any]:
    """The token and proxy settings of the environment, as app config."""
    names = (
        "QUINTO_API_TOKEN",
        "QUINTO_API_TOKENS",
        "QUINTO_API_TOKENS_FILE",
        "QUINTO_PROXY_USER_HEADER",
        "QUINTO_TRUSTED_PROXIES",
        "QUINTO_PROXY_USER_SCOPE",
    )
    return {name: os.environ.get(name) or None for name in names}
