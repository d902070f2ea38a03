"""Decoding an ingest request body: a JSON array, a single object, or NDJSON."""

from __future__ import annotations

from typing import Any

import orjson

from tracegraph.ingest.errors import BadRequestBody, TooLarge

NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


def decode_events(body: bytes, content_type: str | None, max_events: int) -> list[Any]:
    """The raw events of a request; items that are not objects are kept for rejection."""
    if not body.strip():
        raise BadRequestBody("request body is empty; send a JSON array, an object or NDJSON")
    media = (content_type or "").split(";")[0].strip().lower()
    if media in NDJSON_TYPES:
        items = _ndjson(body)
    else:
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequestBody(f"body is not valid JSON: {exc}") from None
        if isinstance(doc, list):
            items = doc
        elif isinstance(doc, dict):
            items = [doc]
        else:
            raise BadRequestBody(
                f"body must be a JSON array of events or one event object, not {type(doc).__name__}"
            )
    if len(items) > max_events:
        raise TooLarge(f"batch has {len(items)} events; the limit is {max_events} per request")
    return items


def _ndjson(body: bytes) -> list[Any]:
    items = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(orjson.loads(line))
        except orjson.JSONDecodeError as exc:
            raise BadRequestBody(f"NDJSON line {number} is not valid JSON: {exc}") from None
    if not items:
        raise BadRequestBody("NDJSON body holds no events")
    return items
