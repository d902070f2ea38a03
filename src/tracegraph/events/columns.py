"""Columns of artifacts (issue 22): schemas and column-level lineage, pure code.

A schema is what the OpenLineage ``schema`` dataset facet holds — ``{"fields": [{"name",
"type", "description"?, "fields"?}]}`` — or just its list of fields; nested fields (a
struct's) are flattened to dotted names (``address.city``). ``column_lineage`` on
``artifact.written`` says which input fields each written field derives from
(docs/columns.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from tracegraph.events.base import Payload
from tracegraph.events.fields import Ident, Version

FieldName = Annotated[str, Field(min_length=1, max_length=500)]
# How deep nested (struct) fields are flattened: deeper ones are kept as their parent.
MAX_FIELD_DEPTH = 8
# A schema or a column lineage larger than this is refused (one node per field).
MAX_FIELDS = 2000


class InputField(Payload):
    """A field some written field derives from."""

    uri: Ident = Field(description="The input artifact's uri")
    version: Version | None = Field(
        None,
        description="The input artifact's version; without it, the version the same step "
        "run (or run) read, else the artifact's latest version",
    )
    field: FieldName
    type: str | None = Field(None, description="DIRECT or INDIRECT (OpenLineage)")
    subtype: str | None = Field(None, description="IDENTITY, TRANSFORMATION, AGGREGATION…")
    description: str | None = None


class FieldLineage(Payload):
    """One written field and the input fields it derives from."""

    field: FieldName
    inputs: Annotated[list[InputField], Field(max_length=MAX_FIELDS)] = Field(default_factory=list)
    description: str | None = Field(None, description="The transformation, in words")
    type: str | None = Field(None, description="The transformation's type")


ColumnLineage = Annotated[list[FieldLineage], Field(max_length=MAX_FIELDS)]


class SchemaError(ValueError):
    """A schema whose fields cannot be read; ``str()`` names the field."""


def schema_fields(schema: Any) -> list[tuple[str, str | None]] | None:
    """The (name, type) of every field of ``schema``, nested ones dotted, in order; None
    when ``schema`` says nothing about fields (absent, or another format: an object
    without ``fields``, anything but a list of objects)."""
    if schema is None:
        return None
    if isinstance(schema, dict):
        if "fields" not in schema:
            return None
        fields, where = schema["fields"], "fields"
    elif isinstance(schema, list) and all(isinstance(item, dict) for item in schema):
        fields, where = schema, ""
    else:
        # Some other format (a list of column names, a DDL string…): opaque, as every
        # schema was before fields were read.
        return None
    out: list[tuple[str, str | None]] = []
    _flatten(fields, "", where, 0, out)
    if len(out) > MAX_FIELDS:
        raise SchemaError(f"has {len(out)} fields; at most {MAX_FIELDS} are accepted")
    names = [name for name, _ in out]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})[0]
        raise SchemaError(f"field {twice!r} appears twice")
    return out


def _flatten(
    fields: Any, prefix: str, where: str, depth: int, out: list[tuple[str, str | None]]
) -> None:
    if not isinstance(fields, list):
        raise SchemaError(f"{where or 'schema'}: must be an array of fields")
    for i, item in enumerate(fields):
        loc = f"{where}[{i}]"
        if not isinstance(item, dict):
            raise SchemaError(f"{loc}: a field must be an object with a 'name'")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise SchemaError(f"{loc}.name: must be a non-empty string")
        kind = item.get("type")
        if kind is not None and not isinstance(kind, str):
            raise SchemaError(f"{loc}.type: must be a string")
        full = f"{prefix}{name}"
        out.append((full, kind))
        nested = item.get("fields")
        if nested and depth + 1 < MAX_FIELD_DEPTH:
            _flatten(nested, f"{full}.", f"{loc}.fields", depth + 1, out)


__all__ = [
    "MAX_FIELDS",
    "ColumnLineage",
    "FieldLineage",
    "InputField",
    "SchemaError",
    "schema_fields",
]
