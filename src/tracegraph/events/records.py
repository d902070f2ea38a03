"""The records an event passes through between ingest, the store and live fan-out.

A validated event waits as a :class:`PendingEvent` in a :class:`WriteUnit` (one request's
events, never split across transactions), is stored as a :class:`SequencedEvent` with its
global seq, and each unit is answered with a :class:`UnitResult`. Plain data: nothing
here imports FastAPI or Neo4j, so ``ingest/`` and ``live/`` share these with ``store/``
without depending on the store's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from tracegraph.redaction import RedactionCount


@dataclass(slots=True)
class EventRows:
    """One event's statement rows, built before its seq is known.

    The ingest service builds them while it validates a request, which overlaps the
    transaction in flight; the single writer then only stamps the seq
    (``store.graph_rows.stamp``) instead of building rows between its round trips,
    with the database idle.
    """

    log: dict[str, Any]  # the event log row (apply_batch's events block)
    family: list[tuple[str, dict[str, Any]]]  # (statement family, row)


@dataclass(frozen=True, slots=True)
class SequencedEvent:
    """A validated event with its global sequence number, as stored in the event log."""

    seq: int
    payload: dict[str, Any]  # canonical payload (see tracegraph.events.canonical_payload)
    fingerprint: str
    received_at: datetime
    principal: str | None = None
    # Redactions made at ingest (None: the event type carries no scrubbed text).
    redactions: RedactionCount | None = None
    # Statement rows built when the event was validated (None: built when written).
    rows: EventRows | None = None

    @property
    def id(self) -> str:
        return str(self.payload["id"])

    @property
    def type(self) -> str:
        return str(self.payload["type"])


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A validated event waiting for its seq."""

    index: int  # position in the request, for the rejection report
    payload: dict[str, Any]
    fingerprint: str
    # Redactions made at ingest (None: the event type carries no scrubbed text).
    redactions: RedactionCount | None = None
    # Statement rows built at validation (store.graph_rows.build_event_rows); seq stamped
    # by the writer.
    rows: EventRows | None = None

    @property
    def id(self) -> str:
        return str(self.payload["id"])


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """An event refused (invalid, conflicting, or refused by the database), kept for review."""

    index: int
    event_id: str | None
    raw: str  # the payload as received (JSON text), scrubbed
    reason: str
    redactions: RedactionCount | None = None


@dataclass
class WriteUnit:
    """What one request asks to write; a unit is never split across transactions."""

    events: list[PendingEvent]
    rejected: list[QuarantineEntry]
    received_at: datetime
    principal: str | None = None
    # False: an event whose id was stored with other content is refused (in the unit's
    # result) without a quarantine entry — the approval decisions (events/approvals.py),
    # where losing to another decision of the same approval is an answer, not bad input.
    quarantine_conflicts: bool = True


@dataclass
class UnitResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[QuarantineEntry] = field(default_factory=list)
    committed: list[SequencedEvent] = field(default_factory=list)


@dataclass
class BatchResult:
    units: list[UnitResult]
    last_seq: int
    # False when the batch was logged first after an outage (its new events are in the
    # log, durable, but not derived yet): they are published after their derivation.
    derived: bool = True


def raw_json(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload).decode()


def refused_by_database(ev: PendingEvent, reason: str) -> QuarantineEntry:
    """A valid event whose batch the database refused (a statement error): quarantined."""
    return QuarantineEntry(ev.index, ev.id, raw_json(ev.payload), reason, ev.redactions)
