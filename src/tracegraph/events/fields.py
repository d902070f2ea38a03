"""Annotated field types of the contract (names, owners, timestamps, counters...)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, PlainSerializer, Strict

from tracegraph.events.patterns import CRON_PATTERN, NAME_PATTERN, OWNER_PATTERN


def _require_timestamp_text(value: Any) -> Any:
    # pydantic would read numbers as Unix time; the contract wants RFC 3339 text.
    if isinstance(value, (int, float)):
        raise ValueError(
            f"must be an RFC 3339 timestamp string with offset, not a number (got {value!r})"
        )
    return value


def _require_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            "timestamp must include a UTC offset (e.g. '2026-11-20T02:00:00Z' or '+02:00')"
        )
    # Stored in UTC: the offset an emitter used carries no meaning of its own.
    return value.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """RFC 3339 in UTC with 'Z' and fixed microseconds, so equal instants give equal text."""
    # isoformat is several times cheaper than strftime; without tzinfo it ends at the
    # microseconds, and the 'Z' is ours.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _int_to_str(value: Any) -> Any:
    # Emitters often send `version: 3`; it means the same as "3".
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Timestamp = Annotated[
    datetime,
    BeforeValidator(_require_timestamp_text),
    AfterValidator(_require_offset),
    PlainSerializer(format_timestamp, return_type=str, when_used="json"),
    Field(description="RFC 3339 timestamp with offset, e.g. 2026-11-20T02:00:00Z"),
]

Name = Annotated[
    str,
    Field(pattern=NAME_PATTERN, description="1-200 letters, digits or ._-/:@"),
]

Owner = Annotated[
    str,
    Field(pattern=OWNER_PATTERN, description="team:<name> or user:<name>"),
]

Cron = Annotated[
    str,
    Field(pattern=CRON_PATTERN, description="cron expression (5 or 6 fields) or @daily etc."),
]

# Free-form version label; integers are accepted and read as their decimal text.
Version = Annotated[str, BeforeValidator(_int_to_str), Field(min_length=1, max_length=200)]

# A non-empty identifier such as an LLM call id, a provider or a model.
Ident = Annotated[str, Field(min_length=1)]

# Numbers are strict: true, "12" or 1.5 are not counts.
Count = Annotated[int, Strict(), Field(ge=0)]
Amount = Annotated[float, Strict(), Field(ge=0)]
Flag = Annotated[bool, Strict()]

JsonObject = dict[str, Any]
