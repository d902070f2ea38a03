"""Canonical form and fingerprint of an event, to tell duplicates from conflicts."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

from tracegraph.events.envelope import Event
from tracegraph.events.errors import format_loc

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# orjson refuses to serialise deeper than this, so the event log could not hold it.
MAX_DEPTH = 254


def canonical_payload(event: Event) -> dict[str, Any]:
    """JSON-ready dict of the event, equal for semantically equal events.

    Times are UTC RFC 3339 with 'Z' and microseconds, defaults are filled in (`attempt: 1`,
    `data: {}`), fields that are None are dropped and unknown data keys are kept.
    """
    return event.model_dump(mode="json", by_alias=True, exclude_none=True)


def fingerprint(event: Event) -> str:
    """sha256 hex of the canonical payload serialised with sorted keys."""
    return payload_fingerprint(canonical_payload(event))


def payload_fingerprint(payload: dict[str, Any]) -> str:
    """The fingerprint of an already computed canonical payload (saves a second dump)."""
    blob = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()


def json_problem(value: Any, loc: tuple[str | int, ...] = ()) -> str | None:
    """First value in a raw event that orjson / Neo4j cannot store: `<path>: <problem>`.

    Free-form parts of an event (params, context, unknown keys) are not typed, so they may
    hold 2**70, NaN or lone surrogates that json.loads accepts but storage does not.
    orjson answers "all fine" in about two microseconds; only a value it refuses is
    walked in Python to name the path of the problem.
    """
    if _storable(value):
        return None
    return _first_problem(value, loc)


def _storable(value: Any) -> bool:
    try:
        # orjson refuses lone surrogates, integers beyond 64 bits, non-string keys and
        # deep nesting; it writes NaN and infinities as null, so what it reads back
        # differs from the value (NaN equals nothing). The stdlib encoder would catch
        # those too, but costs ten times as much on text with non-ASCII characters.
        return bool(orjson.loads(orjson.dumps(value)) == value)
    except (TypeError, ValueError, RecursionError):
        return False


def _first_problem(value: Any, loc: tuple[str | int, ...] = ()) -> str | None:
    if len(loc) > MAX_DEPTH:
        return f"{format_loc(loc[:6])}...: nested too deeply (more than {MAX_DEPTH} levels)"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{format_loc(loc)}: object keys must be strings (got {key!r})"
            found = _first_problem(item, (*loc, key))
            if found:
                return found
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            found = _first_problem(item, (*loc, i))
            if found:
                return found
    elif isinstance(value, BaseModel):
        return _first_problem(value.model_dump(by_alias=True), loc)
    elif isinstance(value, bool | datetime) or value is None:
        pass
    elif isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            return f"{format_loc(loc)}: integer out of the 64-bit range"
    elif isinstance(value, float):
        if not math.isfinite(value):
            return f"{format_loc(loc)}: must be a finite number"
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return f"{format_loc(loc)}: text is not valid Unicode (lone surrogate)"
    else:
        return f"{format_loc(loc)}: not a JSON value ({type(value).__name__})"
    return None
