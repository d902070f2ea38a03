"""Scalars and value conversion shared by the GraphQL types.

``DateTime`` fields are annotated with Python's ``datetime`` (``DateTime`` is an alias,
so the checker sees the real type); :data:`SCALAR_MAP` maps ``datetime`` to the
``DateTime`` scalar below through ``StrawberryConfig(scalar_map=...)`` (see
``hardening.HardenedSchema``), strawberry's documented way of declaring a scalar for an
existing type.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeAlias

import strawberry
from strawberry.scalars import JSON
from strawberry.types.scalar import ScalarDefinition

DateTime: TypeAlias = datetime


def to_datetime(value: Any) -> datetime | None:
    """A Python datetime from a Neo4j temporal (or ISO string), always timezone-aware."""
    if value is None:
        return None
    return to_required_datetime(value)


def to_required_datetime(value: Any) -> datetime:
    """:func:`to_datetime` of a value that is always there (a ``DateTime!`` field)."""
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise ValueError(f"not a timestamp: {value!r}")
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _serialize_datetime(value: Any) -> str:
    text = to_required_datetime(value).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _parse_datetime(value: Any) -> datetime:
    try:
        return to_required_datetime(value)
    except (TypeError, ValueError):
        raise ValueError(f"DateTime must be an RFC 3339 timestamp (got {value!r})") from None


DATETIME_SCALAR = strawberry.scalar(
    name="DateTime",
    description="An RFC 3339 timestamp with offset (UTC is written as 'Z').",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)
SCALAR_MAP: Mapping[object, ScalarDefinition] = {datetime: DATETIME_SCALAR}

__all__ = ["JSON", "SCALAR_MAP", "DateTime", "to_datetime", "to_required_datetime"]
