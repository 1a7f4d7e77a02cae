"""quinto.yaml → Project (its settings, connections and store, validated); the check files are
found and parsed into a Suite by `quinto.spec.suite`."""

from __future__ import annotations

import functools
import os
import re
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from quinto.errors import Location, Problem, SpecError, did_you_mean
from quinto.redact import remember
from quinto.settings import BY_NAME, SETTINGS, STORE_SCHEMES, Setting, warehouse_schemes
from quinto.spec.checkfile import timezone_problem
from quinto.spec.grammar import parse_duration
from quinto.spec.model import Project
from quinto.spec.targets import EMAIL, channels, parse_target
from quinto.spec.yamlfile import Map, Seq, load_file

if TYPE_CHECKING:
    from quinto.alerts.channels import Channel

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_WHOLE_VAR = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_SECRET_WORDS = re.compile(r"pass|pwd|secret|token|key|credential|signature|^sig$", re.I)


def _secret_param(name: str) -> bool:
    """Whether a connection URL's query parameter carries a secret (`password`, `token`, `api_key`,
    `secret`, ...), not the path of a file (`sslkey`, `key_file`)."""
    n = name.lower()
    if n.endswith(("file", "path")) or (n.startswith("ssl") and "pass" not in n):
        return False
    return bool(_SECRET_WORDS.search(n))

PROJECT_FILE = "quinto.yaml"


def interpolate(template: str, where: str | Location | None = None) -> str:
    """Replace ${VAR} with the environment's value; a variable that is not set is an error. A value
    placed inside a URL's user:password part is URL-quoted, so a password with '@' or '/' stays a
    password."""
    userinfo_end = template.rfind("@") if "://" in template else -1

    def sub(m: re.Match[str]) -> str:
        value = os.environ.get(m.group(1))
        if value is not None and (m.start() < userinfo_end or _secret_param_before(template, m.start())):
            remember(value)  # a password or a token: never shown in an error message
        if value is not None and m.start() < userinfo_end:
            return urllib.parse.quote(value, safe="")
        if value is None:
            raise SpecError(
                [
                    Problem(
                        where if isinstance(where, Location) else None,
                        f"environment variable {m.group(1)} is not set"
                        + (f" (needed by {where})" if isinstance(where, str) else ""),
                    )
                ]
            )
        return value

    return _VAR.sub(sub, template)


def _secret_param_before(template: str, at: int) -> bool:
    """Whether the text at `at` is the value of a secret query parameter (`?password=${VAR}`)."""
    m = re.search(r"[?&;]([^=&;?]*)=$", template[:at])
    return bool(m and _secret_param(m.group(1)))


def url_secret_problem(url: str, what: str) -> str | None:
    """What secret a connection or store URL (`what` names it) has written in the file, or None. A
    password (after `user:`) and a secret query parameter (`password`, `token`, `key`, `secret`,
    ...) are only accepted as a whole `${VAR}`, read from the environment."""
    _, sep, rest = url.partition("://")
    if not sep:
        return None
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    userinfo, at, _ = netloc.rpartition("@")
    if at and ":" in userinfo:
        password = userinfo.split(":", 1)[1]
        if password and not _WHOLE_VAR.fullmatch(password):
            if what == "store":
                return "the store URL has a password written in the file; use ${VAR}"
            return (
                f"{what} has a password written in the file; read it from the environment, "
                "e.g. postgresql://user:${PGPASSWORD}@host/db"
            )
    query = rest.partition("?")[2].partition("#")[0]
    for pair in re.split(r"[&;]", query):
        name, _, value = pair.partition("=")
        if value and _secret_param(name) and not _WHOLE_VAR.fullmatch(value):
            var = re.sub(r"[^A-Z0-9]+", "_", name.upper()).strip("_") or "SECRET"
            who = "the store URL" if what == "store" else what
            return (
                f"{who} has a secret written in the file (`{name}=` in its query); "
                f"read the whole value from the environment, e.g. ?{name}=${{{var}}}"
            )
    return None


def load_project(config: str | Path | None = None) -> Project:
    """Read quinto.yaml (the given path, or ./quinto.yaml if present, or defaults)."""
    path = Path(config) if config else Path(PROJECT_FILE)
    if not path.exists():
        if config:
            raise SpecError([Problem(None, f"{config}: no such project file")])
        return Project(
            root=str(Path.cwd()),
            connections=MappingProxyType({}),
            store=BY_NAME["store"].default,
            check_paths=tuple(BY_NAME["checks"].default),
            settings=MappingProxyType(default_settings()),
        )
    doc = load_file(path)
    problems: list[Problem] = []
    if doc is None:
        doc = Map()
        doc.loc, doc.key_locs, doc.value_locs = Location(str(path), 1, 1), {}, {}
    if not isinstance(doc, Map):
        raise SpecError([Problem(Location(str(path), 1, 1), "quinto.yaml is a mapping of settings")])
    sections = {c.section_name: c for c in channels().values()}  # the alert channels' sections
    settings = _top_settings(doc, sections, problems)
    connections = _connections(doc.get("connections"), problems)
    store = settings["store"]
    _check_store_url(store, doc, problems)
    default = settings.get("default_connection")
    if default is not None and default not in connections:
        problems.append(
            Problem(
                doc.value_loc("default_connection"),
                f"unknown connection '{default}'{did_you_mean(default, connections)}",
            )
        )
    locations: dict[str, Location] = {}
    for keyed in (s for s in BY_NAME.values() if s.keys):  # alerts:, api:, ...: each key validated
        if isinstance(doc.get(keyed.name), Map):
            settings[keyed.name] = _keyed_setting(keyed, doc[keyed.name], problems, locations)
    for name, channel in sections.items():
        if isinstance(doc.get(name), Map):
            settings[name] = _channel_section(channel, doc[name], problems, locations)
    raw_checks = doc.get("checks")
    checks = settings["checks"]
    if not all(isinstance(c, str) for c in checks):
        problems.append(Problem(doc.value_loc("checks"), "`checks:` lists files or folders"))
    if problems:
        raise SpecError(problems)
    return Project(
        root=str(path.resolve().parent),
        connections=MappingProxyType(connections),
        store=store,
        check_paths=tuple(checks),
        settings=MappingProxyType(settings),
        location=Location(str(path), 1, 1),
        check_locations=tuple(raw_checks.item_locs) if isinstance(raw_checks, Seq) else (),
        locations=MappingProxyType(locations),
    )


def _top_settings(doc: Map, sections: dict[str, Channel], problems: list[Problem]) -> dict[str, Any]:
    """quinto.yaml's top-level settings, type-checked (defaults for the rest); problems appended."""
    settings: dict[str, Any] = default_settings()
    for key, value in doc.items():
        setting = BY_NAME.get(key) or (sections[key].section_setting() if key in sections else None)
        if setting is None:
            known = [*BY_NAME, *sections]
            problems.append(Problem(doc.key_loc(key), f"unknown setting '{key}'{did_you_mean(key, known)}"))
            continue
        if setting.default is None and value is None:
            continue
        ok = isinstance(value, setting.type) and not isinstance(value, bool)
        if setting.type is list and isinstance(value, str):
            value, ok = [value], True
        if setting.type is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            kind = "a number" if setting.type is float else setting.type.__name__
            problems.append(Problem(doc.value_loc(key), f"`{key}:` must be {kind}: {setting.help}"))
            continue
        problem = _setting_problem(key, value)
        if problem:
            problems.append(Problem(doc.value_loc(key), problem))
            continue
        settings[key] = value
    return settings


def _connections(raw_conns: Any, problems: list[Problem]) -> dict[str, str]:
    """`connections:` name → URL; a URL with a literal secret or a malformed one is a problem."""
    connections: dict[str, str] = {}
    if isinstance(raw_conns, Map):
        for name, url in raw_conns.items():
            if not isinstance(url, str) or not url.strip():
                problems.append(Problem(raw_conns.value_loc(name), f"connection '{name}' needs a URL"))
                continue
            secret = url_secret_problem(url, f"connection '{name}'")
            if secret:
                problems.append(Problem(raw_conns.value_loc(name), secret))
                continue
            problem = url_problem(url.strip(), warehouse_schemes())
            if problem:
                problems.append(Problem(raw_conns.value_loc(name), f"connection '{name}': {problem}"))
                continue
            connections[name] = url.strip()
    return connections


def _check_store_url(store: Any, doc: Map, problems: list[Problem]) -> None:
    """`store:` holds no literal secret and is a URL of a store Quinto knows."""
    store_secret = url_secret_problem(store, "store") if isinstance(store, str) else None
    if store_secret:
        problems.append(Problem(doc.value_loc("store"), store_secret))
    elif isinstance(store, str):
        problem = url_problem(store.strip(), STORE_SCHEMES)
        if problem:
            problems.append(Problem(doc.value_loc("store"), f"`store:` {problem}"))


def url_problem(template: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with a database URL's form (scheme, host, port), or None. A URL whose ${VAR}s
    are not set yet is checked when it is used. The message shows the URL as written (its
    variables not filled in: no secret from the environment is printed)."""
    from sqlalchemy.engine import make_url

    try:
        url = interpolate(template)
    except SpecError:
        return None
    shown = template if len(template) <= 120 else template[:117] + "..."
    example = "postgresql+psycopg://user:${PGPASSWORD}@host:5432/db" if "postgresql" in schemes else schemes[0]
    try:
        parsed = make_url(url)
        port = parsed.port
    except Exception:
        return f"not a database URL: {shown!r}; write it as scheme://user@host:port/database, e.g. {example}"
    backend = parsed.get_backend_name()
    if backend not in schemes:
        return f"unknown kind of database '{backend}'{did_you_mean(backend, schemes)}; use one of {', '.join(schemes)}"
    if port is not None and not 0 < port < 65536:
        return f"port {port} is not a port number (1-65535) in {shown!r}"
    return None


def _setting_problem(key: str, value: Any) -> str | None:
    """What is wrong with a setting's value beyond its type, or None."""
    setting = BY_NAME.get(key)
    if setting is None:  # an alert channel's section: checked by _channel_section
        return None
    if setting.choices and value not in setting.choices:
        return f"`{key}:` is one of {', '.join(setting.choices)}{did_you_mean(str(value), setting.choices)}"
    if setting.minimum is not None and isinstance(value, (int, float)) and value < setting.minimum:
        return f"`{key}:` is at least {setting.minimum:g}, not {value:g}"
    if key == "scheduler_timezone":
        return timezone_problem(value)
    if key == "base_url":
        try:
            parts = urllib.parse.urlsplit(value)
            ok = value.isprintable() and parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. http://[::1
            ok = False
        if not ok:
            return f"`base_url:` is the web UI's http(s) address, like https://quinto.example.com, not {value!r}"
    return None


def default_settings() -> dict[str, Any]:
    """Every setting at its default; mappings with fixed keys hold their keys' defaults."""
    out: dict[str, Any] = {}
    for s in (*SETTINGS, *(c.section_setting() for c in channels().values())):
        default = {k.name: _default(k) for k in s.keys} if s.keys else s.default
        out[s.name] = default.copy() if isinstance(default, (dict, list)) else default
    return out


def _default(setting: Setting) -> Any:
    if setting.kind == "duration" and isinstance(setting.default, str):
        return parse_duration(setting.default)
    return setting.default.copy() if isinstance(setting.default, (dict, list)) else setting.default


def _keyed_setting(
    parent: Setting,
    raw: Map,
    problems: list[Problem],
    locations: dict[str, Location],
    secret_message: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """A mapping setting with fixed keys (`smtp:`, `alerts:`): each key validated by its Setting."""
    keys = {k.name: k for k in parent.keys}
    out = {k.name: _default(k) for k in parent.keys}
    for key, value in raw.items():
        setting = keys.get(key)
        where = raw.value_loc(key)
        if setting is None:
            problems.append(
                Problem(raw.key_loc(key), f"unknown key '{key}' in `{parent.name}:`{did_you_mean(key, keys)}")
            )
            continue
        name = f"{parent.name}.{key}"
        locations[name] = where
        if value is None:
            out[key] = None if setting.default is None or setting.kind == "duration" else out[key]
            continue
        ok, value = _keyed_value(parent, setting, key, value, where, problems, locations, secret_message)
        if ok:
            out[key] = value
    return out


def _keyed_value(
    parent: Setting,
    setting: Setting,
    key: str,
    value: Any,
    where: Location,
    problems: list[Problem],
    locations: dict[str, Location],
    secret_message: Callable[[str], str] | None,
) -> tuple[bool, Any]:
    """One key of a keyed setting, checked against its Setting: (True, the value) or (False, None)
    with the problem appended."""
    name = f"{parent.name}.{key}"
    if setting.kind == "secret":
        if not isinstance(value, str) or not _VAR.search(value):
            var = re.sub(r"[^A-Z0-9]+", "_", f"{parent.name}_{key}".upper()).strip("_")
            hint = (
                f"`{name}:` is a secret written in the file; read it from the environment, e.g. {key}: ${{{var}}}"
            )
            problems.append(Problem(where, secret_message(key) if secret_message else hint))
            return False, None
    elif setting.kind == "duration":
        try:
            value = parse_duration(str(value))
        except ValueError as exc:
            problems.append(Problem(where, f"`{name}:` {exc}"))
            return False, None
        if setting.minimum is not None and value < setting.minimum:
            least = f"{setting.minimum:g} seconds ({setting.minimum / 86400:g}d)"
            problems.append(Problem(where, f"`{name}:` is at least {least}, not {value:g}"))
            return False, None
    elif setting.type is list:
        return _list_value(setting, name, value, where, problems, locations)
    elif setting.type is bool:
        if not isinstance(value, bool):
            problems.append(Problem(where, f"`{name}:` is true or false, not {value!r}"))
            return False, None
    elif setting.type is int:
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or (setting.kind == "port" and not 0 < value < 65536)
        ):
            what = "a port number (1-65535)" if setting.kind == "port" else "a whole number"
            problems.append(Problem(where, f"`{name}:` is {what}, not {value!r}"))
            return False, None
    elif not isinstance(value, setting.type) or isinstance(value, bool):
        problems.append(Problem(where, f"`{name}:` must be {setting.type.__name__}: {setting.help}"))
        return False, None
    elif setting.kind == "email" and not EMAIL.match(str(value)) and not _VAR.search(str(value)):
        problems.append(Problem(where, f"`{name}:` is an email address, not {value!r}"))
        return False, None
    return True, value


def _list_value(
    setting: Setting, name: str, value: Any, where: Location, problems: list[Problem], locations: dict[str, Location]
) -> tuple[bool, Any]:
    """A list-of-text key (a text is a list of one); `alerts.notify` items are alert targets."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.append(Problem(where, f"`{name}:` is a list of text: {setting.help}"))
        return False, None
    items = list(value)
    item_locs = list(value.item_locs) if isinstance(value, Seq) else [where] * len(items)
    for i, loc in enumerate(item_locs):
        locations[f"{name}.{i}"] = loc
    if name == "alerts.notify":
        for item, loc in zip(items, item_locs, strict=True):
            try:
                parse_target(item)
            except ValueError as exc:
                problems.append(Problem(loc, str(exc)))
    return True, items


def _channel_section(
    channel: Channel, raw: Map, problems: list[Problem], locations: dict[str, Location]
) -> dict[str, Any]:
    """An alert channel's section of quinto.yaml: its keys (`smtp:`), or endpoint name → its keys
    (`webhook: {ops: {url: ...}}`); a text value stands for the first key (`"#dq": ${URL}`)."""
    setting = channel.section_setting()
    if not channel.named:
        return _keyed_setting(setting, raw, problems, locations, lambda key: channel.secret_message(None, key))
    out: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            endpoint = channel.endpoint_name(str(key))
        except ValueError as exc:
            problems.append(Problem(raw.key_loc(key), str(exc)))
            continue
        first = channel.keys[0]
        if not isinstance(value, Map):
            if first.kind == "secret" and (not isinstance(value, str) or not _VAR.search(value)):
                problems.append(Problem(raw.value_loc(key), channel.secret_message(endpoint, first.name)))
                continue
            if not isinstance(value, str):
                problems.append(Problem(raw.value_loc(key), f"`{setting.name}.{key}:` is a mapping of {setting.help}"))
                continue
            value = Map({first.name: value.strip()})
            value.loc, value.key_locs, value.value_locs = raw.value_loc(key), {}, {}
        parent = Setting(f"{setting.name}.{key}", {}, dict, setting.help, keys=channel.keys)
        keys = _keyed_setting(parent, value, problems, locations, functools.partial(channel.secret_message, endpoint))
        missing = [k for k in channel.required if k not in value and keys.get(k) in (None, "")]
        if missing:
            problems.append(Problem(raw.key_loc(key), f"`{setting.name}.{key}:` needs `{missing[0]}`"))
            continue
        out[endpoint] = keys
    return out
