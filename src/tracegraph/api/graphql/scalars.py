"""Scalars and value conversion shared by the GraphQL types."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NewType

import strawberry
from strawberry.scalars import JSON


def to_datetime(value: Any) -> datetime | None:
    """A Python datetime from a Neo4j temporal (or ISO string), always timezone-aware."""
    if value is None:
        return None
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value  # type: ignore[no-any-return]


def _serialize_datetime(value: Any) -> str:
    dt = to_datetime(value)
    assert dt is not None
    text = dt.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _parse_datetime(value: Any) -> datetime:
    dt = to_datetime(value)
    if dt is None:
        raise ValueError("DateTime must be an RFC 3339 timestamp")
    return dt


DateTime = strawberry.scalar(
    NewType("DateTime", datetime),
    name="DateTime",
    description="An RFC 3339 timestamp with offset (UTC is written as 'Z').",
    serialize=_serialize_datetime,
    parse_value=_parse_datetime,
)

__all__ = ["JSON", "DateTime", "to_datetime"]
