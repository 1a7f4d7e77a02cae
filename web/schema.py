"""JSON Schema (the OpenAPI 3.0 dialect) from dataclasses: the API's component schemas are derived
from the very classes its responses are serialized from (`quinto.store.records.to_json`), so the
document cannot drift from what the API sends.

A field's schema follows its annotation: str, int, float, bool, datetime (ISO text), a StrEnum or a
Literal (an enum), `X | None` (nullable), list/tuple (an array), dict (an object), another
dataclass (a `$ref` to its own component). A field without a default is required; its `doc`
metadata is its description, its `schema` metadata is merged in (patterns, bounds), its `json`
metadata names it in JSON (store columns take `JSON_NAMES`, `INTERNAL` ones are left out), and with
`omitted` it may be left out but is never null. A
class's docstring describes it; `SCHEMA_EXTRA` on a class adds keywords (e.g. additionalProperties).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from enum import StrEnum
from typing import Any, Literal, Union

from quinto.store.records import json_name

REF = "#/components/schemas/"
JSONSchema = dict[str, Any]


class Components:
    """The component schemas of some dataclasses and of the dataclasses their fields name."""

    def __init__(self) -> None:
        self.schemas: dict[str, JSONSchema] = {}
        self.names: dict[type, str] = {}

    def add(self, cls: type, name: str | None = None) -> str:
        """Register `cls` (under `name`, default its class name) and return its `$ref`."""
        if cls not in self.names:
            self.names[cls] = name or cls.__name__
            self.schemas[self.names[cls]] = {}  # reserved first: a class may refer to itself
            self.schemas[self.names[cls]] = self.object(cls)
        return REF + self.names[cls]

    def object(self, cls: type) -> JSONSchema:
        hints = typing.get_type_hints(cls)
        props: dict[str, JSONSchema] = {}
        required = []
        for f in dataclasses.fields(cls):
            name = json_name(f)
            if name is None:  # a storage detail, never sent
                continue
            hint = hints[f.name]
            if f.metadata.get("omitted"):  # left out rather than null
                hint = Union[tuple(a for a in typing.get_args(hint) if a is not type(None))]  # noqa: UP007
            prop = self.of(hint)
            if "doc" in f.metadata:
                prop = _describe(prop, f.metadata["doc"])
            prop.update(f.metadata.get("schema", {}))
            props[name] = prop
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                required.append(name)
        schema: JSONSchema = {"type": "object", "required": required, "properties": props}
        if not required:
            del schema["required"]  # OpenAPI 3.0: `required` lists at least one name
        doc = (cls.__doc__ or "").strip()
        if doc and not doc.startswith(cls.__name__ + "("):  # not the signature dataclass makes up
            schema["description"] = " ".join(doc.split())
        schema.update(getattr(cls, "SCHEMA_EXTRA", {}))
        return schema

    def of(self, hint: Any) -> JSONSchema:
        """The schema of a type annotation."""
        origin, args = typing.get_origin(hint), typing.get_args(hint)
        if origin in (Union, types.UnionType):
            present = [a for a in args if a is not type(None)]
            schema = self.of(present[0]) if len(present) == 1 else {"oneOf": [self.of(a) for a in present]}
            return _nullable(schema) if len(present) < len(args) else schema
        if origin is Literal:
            return {"type": "string", "enum": [a.value if isinstance(a, StrEnum) else a for a in args]}
        if origin in (list, tuple, typing.Sequence):
            return {"type": "array", "items": self.of(args[0]) if args else {}}
        if origin is dict or hint is dict:
            return {"type": "object"}
        if isinstance(hint, type):
            return self._class(hint)
        return {}  # Any: whatever JSON

    def _class(self, cls: type) -> JSONSchema:
        if dataclasses.is_dataclass(cls):
            return {"$ref": self.add(cls)}
        if issubclass(cls, StrEnum):
            return {"type": "string", "enum": [m.value for m in cls]}
        if issubclass(cls, dt.datetime):
            return {"type": "string", "format": "date-time"}
        for base, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string")):
            if issubclass(cls, base):
                return {"type": name}
        return {}


def _nullable(schema: JSONSchema) -> JSONSchema:
    if "$ref" in schema:  # OpenAPI 3.0 ignores a $ref's siblings
        return {"allOf": [schema], "nullable": True}
    if "enum" in schema:
        schema = {**schema, "enum": [*schema["enum"], None]}
    return {**schema, "nullable": True}


def _describe(schema: JSONSchema, text: str) -> JSONSchema:
    if "$ref" in schema:
        return {"allOf": [schema], "description": text}
    return {**schema, "description": text}
