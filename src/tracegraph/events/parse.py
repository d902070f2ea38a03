"""parse_event: raw JSON value -> validated Event, or InvalidEvent with one precise line."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from tracegraph.events.approvals import DECISION_TYPES
from tracegraph.events.canonical import json_problem
from tracegraph.events.envelope import ENVELOPE_FIELDS, EVENT_CLASSES, EVENT_TYPES, Event
from tracegraph.events.errors import InvalidEvent, render_error, shown
from tracegraph.events.governance import WRITTEN_BY


def parse_event(raw: object) -> Event:
    """Validate one event (a decoded JSON object) against the contract.

    Returns the subclass of `Event` for its type. Raises `InvalidEvent` whose `str()` is
    `<field path>: <problem>` for the first problem found.
    """
    if isinstance(raw, Event):
        return raw
    if not isinstance(raw, Mapping):
        raise InvalidEvent("event must be a JSON object")
    raw_id = raw.get("id")
    event_id = raw_id if isinstance(raw_id, str) else None

    event_type = raw.get("type")
    known = ", ".join(EVENT_TYPES)
    if event_type is None:
        raise InvalidEvent(f"type: required (known: {known})", event_id=event_id)
    if not isinstance(event_type, str):
        raise InvalidEvent(f"type: must be a string (got {shown(event_type)})", event_id=event_id)
    if event_type in WRITTEN_BY:
        raise InvalidEvent(
            f"type: {shown(event_type)} is written by the service itself for "
            f"{WRITTEN_BY[event_type]} (an admin change); it cannot be ingested",
            event_id=event_id,
        )
    if event_type in DECISION_TYPES:
        raise InvalidEvent(
            f"type: {shown(event_type)} is written by the service itself (approveStep / "
            "denyStep, or the approval's timeout); it cannot be ingested",
            event_id=event_id,
        )
    cls = EVENT_CLASSES.get(event_type)
    if cls is None:
        raise InvalidEvent(
            f"type: unknown event type {shown(event_type)} (known: {known})", event_id=event_id
        )

    try:
        event = cls.model_validate(dict(raw))
    except ValidationError as exc:
        problems = [
            render_error(error, event_type, ENVELOPE_FIELDS)
            for error in exc.errors(include_url=False)
        ]
        raise InvalidEvent(problems[0], event_id=event_id, problems=problems) from None

    # Checked on the raw input: serialising a too deeply nested event would itself fail.
    unstorable = json_problem(dict(raw))
    if unstorable:
        raise InvalidEvent(unstorable, event_id=event_id)
    return event
