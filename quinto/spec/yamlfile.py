"""YAML → plain Python values that remember where each value came from.

Mappings become `Map` (a dict with `loc` and `key_loc`/`value_loc`), sequences `Seq` (a list with
`loc` and `item_loc`). Scalars are plain values; their location is kept by their parent.
Nothing else in Quinto parses YAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from quinto.errors import Location, Problem, SpecError


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


def _loc(file: str, mark: Any) -> Location:
    return Location(file, mark.line + 1, mark.column + 1)


def _convert(node: yaml.Node, loader: yaml.SafeLoader, file: str) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = Map()
        out.loc, out.key_locs, out.value_locs = _loc(file, node.start_mark), {}, {}
        for key_node, value_node in node.value:
            key = _convert(key_node, loader, file)
            if isinstance(key, (Map, Seq)):
                raise SpecError([Problem(_loc(file, key_node.start_mark), "a mapping key must be text")])
            key = "null" if key is None else str(key)
            if key in out:
                raise SpecError([Problem(_loc(file, key_node.start_mark), f"duplicate key '{key}'")])
            out[key] = _convert(value_node, loader, file)
            out.key_locs[key] = _loc(file, key_node.start_mark)
            out.value_locs[key] = _loc(file, value_node.start_mark)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = Seq(_convert(item, loader, file) for item in node.value)
        seq.loc = _loc(file, node.start_mark)
        seq.item_locs = [_loc(file, item.start_mark) for item in node.value]
        return seq
    return loader.construct_object(node, deep=True)


def load_text(text: str, file: str) -> Any:
    """Parse one YAML document, raising SpecError with file:line:col on malformed input."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(node, loader, file)
    except yaml.MarkedYAMLError as exc:
        # A missing ':' is found on the line after the key; the key's own line is where to look.
        simple_key = (exc.context or "").startswith("while scanning a simple key")
        mark = (exc.context_mark if simple_key else None) or exc.problem_mark or exc.context_mark
        where = _loc(file, mark) if mark else Location(file, 1, 1)
        problem = exc.problem or exc.context or "malformed YAML"
        raise SpecError([Problem(where, f"malformed YAML: {problem}")]) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem(Location(file, 1, 1), f"malformed YAML: {exc}")]) from None
    finally:
        loader.dispose()


def load_file(path: Path, display: str | None = None) -> Any:
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError([Problem(None, f"{name}: cannot read: {exc.strerror}")]) from None
    except UnicodeDecodeError:
        raise SpecError([Problem(Location(name, 1, 1), "file is not UTF-8 text")]) from None
    return load_text(text, name)
