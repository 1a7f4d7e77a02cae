"""YAML → plain Python values that remember where each value came from.

Mappings become `Map` (a dict with `loc` and `key_loc`/`value_loc`), sequences `Seq` (a list with
`loc` and `item_loc`). Scalars are plain values; their location is kept by their parent.
Nothing else in Quinto parses YAML.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import Any

import yaml

from quinto.errors import Location, Problem, SpecError

MAX_FILE_BYTES = 1_000_000  # a check file or quinto.yaml larger than this is refused
MAX_DEPTH = 100  # lists and mappings nested deeper than this are refused
MAX_VALUES = 10_000  # values (each list item, key and value) written in one file
MAX_ALIAS_VALUES = 10_000  # values copied by aliases (*name) beyond those written out in the file
# what YAML itself refuses (PyYAML's reader): control characters other than tab and line breaks,
# DEL, C1 controls, lone surrogates, U+FFFE and U+FFFF
_UNPRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_BOOL = re.compile(r"^(?:true|false)$", re.IGNORECASE)


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema booleans: only true and false (in any case)
    are booleans; yes, no, on, off, y and n are text (a country code NO stays 'NO'). Nesting deeper
    than MAX_DEPTH is refused while the document is composed, before it can exhaust the stack."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    depth = 0
    values = 0

    def fetch_flow_collection_start(self, token_class: Any) -> None:
        # the scanner reads ahead through a run of `[` or `{` (quadratic in its length): stop it early
        if self.flow_level >= MAX_DEPTH:
            raise _TooDeep(self.get_mark())
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        self.values += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            if self.values > MAX_VALUES:
                raise _TooMany(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


for _first in "tTfF":
    _Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, [_first])


class _TooDeep(Exception):
    def __init__(self, mark: Any) -> None:
        self.mark = mark


class _TooMany(_TooDeep):
    pass


class _Budget:
    """Counts values made by expanding aliases, so that a few nested aliases cannot make billions."""

    def __init__(self, file: str) -> None:
        self.file, self.seen, self.copies, self.path = file, set[int](), 0, set[int]()

    def visit(self, node: yaml.Node) -> None:
        if id(node) in self.path:  # `&a [x, *a]`: a value that contains itself
            raise SpecError(
                [Problem(_loc(self.file, node.start_mark), "this anchor's value contains an alias of itself (*name)")]
            )
        if id(node) not in self.seen:
            self.seen.add(id(node))
            return
        self.copies += 1
        if self.copies > MAX_ALIAS_VALUES:
            raise SpecError(
                [
                    Problem(
                        _loc(self.file, node.start_mark),
                        f"YAML aliases (*name) expand to more than {MAX_ALIAS_VALUES:,} values; "
                        "write the repeated part out or use fewer nested aliases",
                    )
                ]
            )


class Map(dict[str, Any]):
    loc: Location
    key_locs: dict[str, Location]
    value_locs: dict[str, Location]

    def key_loc(self, key: str) -> Location:
        return self.key_locs.get(key, self.loc)

    def value_loc(self, key: str) -> Location:
        return self.value_locs.get(key, self.loc)


class Seq(list[Any]):
    loc: Location
    item_locs: list[Location]
    item_spans: list[tuple[Location, Location, str]]  # start, end and style ('' plain, '"' or "'") of items


def locate(start: Location, end: Location, style: str, source_lines: list[str], offset: int) -> Location:
    """The source position of character `offset` of a scalar's value. A plain scalar spread over
    several lines was folded by YAML (each line break became one space)."""
    if style or end.line == start.line:
        return Location(start.file, start.line, start.col + offset + (1 if style else 0))
    line, col, remaining = start.line, start.col, offset
    while line <= min(end.line, len(source_lines)):
        text = source_lines[line - 1]
        segment = text[col - 1 :].rstrip() if line == start.line else text.strip()
        first = col if line == start.line else len(text) - len(text.lstrip()) + 1
        if remaining <= len(segment) or line == end.line:
            return Location(start.file, line, first + remaining)
        remaining -= len(segment) + 1
        line += 1
    return start


def _loc(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def _convert(node: yaml.Node, loader: yaml.SafeLoader, file: str, budget: _Budget) -> Any:
    budget.visit(node)
    if not isinstance(node, yaml.ScalarNode):
        budget.path.add(id(node))
        try:
            return _convert_collection(node, loader, file, budget)
        finally:
            budget.path.discard(id(node))
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as exc:  # e.g. a date like 2026-02-30
        shown = node.value if len(node.value) <= 40 else node.value[:37] + "..."
        raise SpecError([Problem(_loc(file, node.start_mark), f"cannot read '{shown}': {exc}")]) from None


def _convert_collection(node: yaml.Node, loader: yaml.SafeLoader, file: str, budget: _Budget) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = Map()
        out.loc, out.key_locs, out.value_locs = _loc(file, node.start_mark), {}, {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise SpecError(
                    [
                        Problem(
                            _loc(file, key_node.start_mark),
                            "YAML merge keys (<<) are not supported; write the keys out",
                        )
                    ]
                )
            key = _convert(key_node, loader, file, budget)
            if isinstance(key, (Map, Seq)):
                raise SpecError([Problem(_loc(file, key_node.start_mark), "a mapping key must be text")])
            if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
                key = key_node.value  # YAML 1.1 reads a bare `on:` or `yes:` as a boolean; a key is text
            key = "null" if key is None else str(key)
            if key in out:
                raise SpecError([Problem(_loc(file, key_node.start_mark), f"duplicate key '{key}'")])
            out[key] = _convert(value_node, loader, file, budget)
            out.key_locs[key] = _loc(file, key_node.start_mark)
            out.value_locs[key] = _loc(file, value_node.start_mark)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = Seq(_convert(item, loader, file, budget) for item in node.value)
        seq.loc = _loc(file, node.start_mark)
        seq.item_locs = [_loc(file, item.start_mark) for item in node.value]
        seq.item_spans = [
            (_loc(file, item.start_mark), _loc(file, item.end_mark), getattr(item, "style", None) or "")
            for item in node.value
        ]
        return seq
    return loader.construct_object(node, deep=True)  # a sequence or mapping of another kind (a set)


def _explain(exc: yaml.MarkedYAMLError, file: str, lines: list[str]) -> Problem:
    """PyYAML's error, told in words a data engineer uses, at the place to look."""
    context, problem = exc.context or "", exc.problem or ""
    problem_at = _loc(file, exc.problem_mark) if exc.problem_mark else Location(file, 1, 1)
    context_at = _loc(file, exc.context_mark) if exc.context_mark else problem_at
    if context.startswith("while scanning a simple key"):  # found on the line after the key
        return Problem(context_at, f"malformed YAML: {problem}")
    if context.startswith("while scanning a quoted scalar"):
        return Problem(context_at, "malformed YAML: the quoted text that starts here is never closed")
    if context.startswith("while parsing a flow") and problem_at.line != context_at.line:
        bracket = (
            lines[context_at.line - 1][context_at.col - 1 : context_at.col] if context_at.line <= len(lines) else "["
        )
        found = (exc.problem or "").rsplit("got ", 1)[-1].rsplit("found ", 1)[-1]
        return Problem(
            context_at,
            f"malformed YAML: the '{bracket}' that starts here is never closed "
            f"(found {found} on line {problem_at.line})",
        )
    if "found '<block sequence start>'" in problem or "found '<block mapping start>'" in problem:
        previous = None
        for n in range(problem_at.line - 1, 0, -1):  # the list item before this one
            text = lines[n - 1] if n <= len(lines) else ""
            if text.lstrip().startswith("- ") or text.strip() == "-":
                previous = Location(file, n, len(text) - len(text.lstrip()) + 1)
                break
        what = "list item" if "sequence" in problem else "key"
        where = f" than the one on line {previous.line} (column {previous.col})" if previous else ""
        return Problem(
            problem_at,
            f"malformed YAML: this {what} is indented less{where}; the items of one list start in the same column",
        )
    if "found another document" in problem:
        return Problem(problem_at, "malformed YAML: a second document starts here (---); a file holds one")
    if "'\\t'" in problem or "\t" in problem:
        return Problem(problem_at, "malformed YAML: a tab character; YAML is indented with spaces only")
    return Problem(problem_at, f"malformed YAML: {problem or context or 'cannot parse'}")


def _position(text: str, offset: int, file: str) -> Location:
    line_start = text.rfind("\n", 0, offset) + 1
    return Location(file, text.count("\n", 0, offset) + 1, offset - line_start + 1)


def _character_name(char: str) -> str:
    name = unicodedata.name(char, "")
    if not name:
        names = {"\x00": "NUL", "\x1b": "ESC", "\x7f": "DEL", "\x08": "backspace", "\x0c": "form feed"}
        name = names.get(char, "a control character" if ord(char) < 0x100 else "not a character")
    return f"U+{ord(char):04X} ({name})"


def load_text(text: str, file: str) -> Any:
    """Parse one YAML document, raising SpecError with file:line:col on malformed input."""
    bad = _UNPRINTABLE.search(text)
    if bad:
        raise SpecError(
            [
                Problem(
                    _position(text, bad.start(), file),
                    f"the character {_character_name(bad.group())} is not allowed in a YAML file "
                    f'(in text, write it as the escape "\\u{ord(bad.group()):04x}" in double quotes)',
                )
            ]
        )
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(node, loader, file, _Budget(file))
    except _TooMany as exc:
        raise SpecError(
            [Problem(_loc(file, exc.mark), f"more than {MAX_VALUES:,} values in one file; split it up")]
        ) from None
    except _TooDeep as exc:
        raise SpecError(
            [Problem(_loc(file, exc.mark), f"lists or mappings nested more than {MAX_DEPTH} levels deep")]
        ) from None
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_explain(exc, file, text.splitlines())]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(Location(file, 1, 1), f"malformed YAML: {exc}")]) from None
    finally:
        loader.dispose()


def load_file(path: Path, display: str | None = None) -> Any:
    return load_text(read_text(path, display), display or str(path))


def read_text(path: Path, display: str | None = None) -> str:
    """A check file's or quinto.yaml's text: UTF-8, at most MAX_FILE_BYTES."""
    name = display or str(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SpecError([Problem(None, f"{name}: cannot read: {exc.strerror or exc}")]) from None
    if len(data) > MAX_FILE_BYTES:
        raise SpecError(
            [Problem(Location(name, 1, 1), f"file is larger than {MAX_FILE_BYTES // 1_000_000} MB; split it up")]
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before[before.rfind(b"\n") + 1 :].decode("utf-8", "replace")) + 1
        raise SpecError(
            [Problem(Location(name, line, col), f"file is not UTF-8 text (byte 0x{data[exc.start]:02X} here)")]
        ) from None
