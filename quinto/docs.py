"""The README's reference tables, generated from the registries so they cannot drift.

`python -m quinto.docs` rewrites every generated section of README.md (between
`<!-- generated: NAME -->` and `<!-- end generated -->`); `python -m quinto.docs --check` exits 1
when one differs (the tests run it too)."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from quinto.checks import CHECK_TYPES, OPTION_DOCS
from quinto.settings import SETTINGS, Setting

README = Path(__file__).resolve().parent.parent / "README.md"
SECTION = re.compile(r"(<!-- generated: (?P<name>[a-z_]+) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"{value:g}"
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


def check_types() -> str:
    rows = ["| check type | what it measures | example |", "| --- | --- | --- |"]
    rows += [f"| `{name}` | {_cell(t.doc)} | `{_cell(t.example)}` |" for name, t in CHECK_TYPES.items()]
    return "\n".join(rows) + "\n"


def options() -> str:
    rows = ["| option | meaning |", "| --- | --- |"]
    rows += [f"| `{name}` | {_cell(text)} |" for name, text in OPTION_DOCS.items()]
    return "\n".join(rows) + "\n"


def _setting_rows(settings: Iterable[Setting], prefix: str = "") -> list[str]:
    rows = []
    for s in settings:
        name = f"{prefix}{s.name}"
        rows.append(f"| `{name}` | {_default(s.default)} | {_cell(s.help)} |")
        rows += _setting_rows(s.keys, f"{name}.")
    return rows


def settings() -> str:
    from quinto.alerts.channels import CHANNELS  # the channels' sections of quinto.yaml

    rows = ["| setting | default | meaning |", "| --- | --- | --- |", *_setting_rows(SETTINGS)]
    for channel in dict.fromkeys(CHANNELS.values()):
        section = channel.section_setting()
        rows += _setting_rows([section])
        if channel.named:
            rows += _setting_rows(channel.keys, f"{section.name}.NAME.")
    return "\n".join(rows) + "\n"


LISTINGS = {"distinct": "bounded `SELECT DISTINCT`", "show": "`SHOW PARTITIONS`", "$partitions": '`"table$partitions"`'}


def engines() -> str:
    from quinto.engines import CONNECTORS

    rows = ["| engine | URL | client (extra) | partitions listed by |", "| --- | --- | --- | --- |"]
    for c in dict.fromkeys(CONNECTORS.values()):
        rows.append(f"| {c.TITLE} | `{c.URL_EXAMPLE}` | {c.CLIENT} | {LISTINGS[c.PARTITION_LISTING]} |")
    return "\n".join(rows) + "\n"


GENERATORS: dict[str, Callable[[], str]] = {
    "check_types": check_types,
    "options": options,
    "settings": settings,
    "engines": engines,
}


def render(text: str) -> str:
    """`text` with every generated section rewritten; an unknown section name raises KeyError."""
    return SECTION.sub(lambda m: m.group(1) + GENERATORS[m.group("name")]() + m.group(4), text)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = README.read_text(encoding="utf-8")
    new = render(text)
    if "--check" in args:
        if new != text:
            print("README.md's generated tables are out of date: run `python -m quinto.docs`", file=sys.stderr)
            return 1
        return 0
    if new != text:
        README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
