"""Reviewing the quarantine and re-submitting its entries once fixed.

A re-submission re-ingests the entry: the raw payload as it was received (the service or
its configuration was fixed), or a corrected event (the emitter was wrong). The event is
validated first, so a still-invalid payload is refused (422) without adding another
quarantine entry; once it is stored (or was already stored: a duplicate) the entry is
marked resolved with the seq of the stored event. Refusals are :class:`IngestError`
subclasses carrying their HTTP status (the API maps them in one place); an unreachable
database is a ``DatabaseUnavailable`` (503), as for ingestion.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson

from tracegraph.ingest.errors import BadRequestBody, DatabaseUnavailable, IngestError
from tracegraph.ingest.service import IngestService
from tracegraph.store.errors import is_retryable
from tracegraph.store.quarantine_store import STATUSES, QuarantinePage, QuarantineStore

T = TypeVar("T")
Entry = dict[str, Any]


class QuarantineRefusal(IngestError):
    """A quarantine request refused; ``entry`` is the entry as it stands, when known."""

    def __init__(self, message: str, entry: Entry | None = None) -> None:
        super().__init__(message)
        self.entry = entry


class UnknownEntry(QuarantineRefusal):
    status = 404


class AlreadyResolved(QuarantineRefusal):
    status = 409


class IdConflict(QuarantineRefusal):
    """Valid, but its id was stored with other content (the writer quarantined it anew)."""

    status = 409


class StillInvalid(QuarantineRefusal):
    status = 422


class NoReason(QuarantineRefusal):
    status = 400


MAX_REASON_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Resubmitted:
    entry: Entry
    accepted: int
    duplicates: int
    seq: int | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "seq": self.seq,
        }


def _correction(body: bytes) -> dict[str, Any] | None:
    """The corrected event in a re-submission body (None: an empty body, no correction)."""
    if not body.strip():
        return None
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequestBody(f"body is not JSON: {exc}") from None
    if not isinstance(payload, dict):
        raise BadRequestBody("body must be one corrected event (a JSON object)")
    return payload


class QuarantineReview:
    def __init__(
        self,
        store: QuarantineStore,
        ingest: IngestService,
        schema_ready: asyncio.Event,
        retry_after_s: int,
    ) -> None:
        self._store = store
        self._ingest = ingest
        self._schema_ready = schema_ready
        self._retry_after_s = retry_after_s

    async def _db(self, call: Awaitable[T]) -> T:
        """Await a store call; an unreachable database answers 503 like ingestion does."""
        try:
            return await call
        except Exception as exc:
            if is_retryable(exc):
                raise DatabaseUnavailable(
                    f"the graph database is unavailable ({type(exc).__name__})",
                    self._retry_after_s,
                ) from exc
            raise

    async def page(self, *, limit: int, after: str | None, status: str) -> QuarantinePage:
        if status not in STATUSES:
            raise BadRequestBody(f"status must be one of {', '.join(STATUSES)}")
        try:
            return await self._db(self._store.page(limit=limit, after=after, status=status))
        except ValueError as exc:  # a malformed cursor
            raise BadRequestBody(str(exc)) from None

    async def get(self, entry_id: str) -> Entry:
        entry = await self._db(self._store.get(entry_id))
        if entry is None:
            raise UnknownEntry(f"no quarantine entry {entry_id!r}")
        return entry

    async def resubmit(
        self, entry_id: str, read_body: Callable[[], Awaitable[bytes]], actor: str
    ) -> Resubmitted:
        """Re-ingest the entry (``read_body``: the request's body, read only once the
        entry is known to be open), then mark it resolved."""
        entry = await self.get(entry_id)
        if entry.get("resolved_at") is not None:
            raise AlreadyResolved("this entry is already resolved", entry)
        payload = _correction(await read_body())
        if payload is None:
            payload = entry.get("payload")
            if not isinstance(payload, dict):
                raise StillInvalid(
                    "the quarantined payload is not a JSON object; send a corrected event"
                )
        # Validate before ingesting so a still-broken event is not quarantined a second time.
        check = self._ingest.prepare([payload])
        if check.rejected:
            raise StillInvalid(check.rejected[0].reason, entry)
        if not self._schema_ready.is_set():
            raise DatabaseUnavailable(
                "the graph database is not ready yet; nothing was stored", self._retry_after_s
            )
        outcome = await self._ingest.ingest([payload], actor)
        if outcome.rejected:
            raise IdConflict(outcome.rejected[0].error, entry)
        event_id = str(payload["id"])
        seq = await self._db(self._store.event_seq(event_id))
        resolved = await self._db(
            self._store.resolve(
                entry_id,
                resolved_at=datetime.now(UTC),
                resolved_seq=seq or 0,
                resolved_event_id=event_id,
                resolved_by=actor,
            )
        )
        # None: a concurrent re-submission resolved it first; report the entry as it is now.
        current = resolved or await self._db(self._store.get(entry_id)) or entry
        return Resubmitted(current, outcome.accepted, outcome.duplicates, seq)

    async def discard(self, entry_id: str, reason: str, actor: str) -> Entry:
        """Resolve an open entry without storing its event, with the reviewer's reason
        (audited as ``quarantine.discarded`` with ``actor``)."""
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON_CHARS:
            raise NoReason(f"reason: give why it is discarded (1-{MAX_REASON_CHARS} characters)")
        entry = await self.get(entry_id)
        if entry.get("resolved_at") is not None:
            raise AlreadyResolved("this entry is already resolved", entry)
        discarded = await self._db(
            self._store.discard(entry_id, reason=reason, at=datetime.now(UTC), actor=actor)
        )
        if discarded is None:  # resolved by someone else in the meantime
            current = await self._db(self._store.get(entry_id)) or entry
            raise AlreadyResolved("this entry is already resolved", current)
        return discarded
