"""JSON Schema of one event, generated from the pydantic models."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter

from tracegraph.events.envelope import AnyEvent

SCHEMA_ID = "https://tracegraph.dev/schema/events.schema.json"


def event_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one event: a oneOf discriminated by `type`."""
    schema = TypeAdapter(AnyEvent).json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "Tracegraph event",
        "description": "One event of the Tracegraph event contract (v1). Generated; do not edit.",
        **schema,
    }


def render_event_json_schema() -> bytes:
    """The committed file's exact bytes: indented, sorted keys, trailing newline."""
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
    return orjson.dumps(event_json_schema(), option=options) + b"\n"
