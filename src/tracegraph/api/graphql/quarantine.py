"""The quarantine over GraphQL (reviewers: ``quarantine``): the dashboard's review screen.

The same service as ``/v1/quarantine`` (``services.quarantine_review``): a page of
entries, discarding one with a reason, re-submitting one as received or corrected.
Both resolutions are audited with the caller as actor (``quarantine.discarded``,
``quarantine.resubmitted`` on ``quarantine:<id>``) in the transaction that resolves.
"""

from __future__ import annotations

import enum
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument, ingest_error
from tracegraph.api.graphql.pagination import decode_cursor, encode_cursor
from tracegraph.api.graphql.permissions import allow
from tracegraph.api.graphql.scalars import JSON, DateTime, to_datetime, to_required_datetime
from tracegraph.api.graphql.types import PageInfo
from tracegraph.auth import Permission
from tracegraph.ingest.errors import BadRequestBody, IngestError
from tracegraph.ingest.quarantine import QuarantineRefusal
from tracegraph.store.quarantine_store import encode_cursor as entry_cursor


@strawberry.enum(description="Which quarantine entries: not yet resolved, resolved, or all.")
class QuarantineStatus(enum.Enum):
    OPEN = "open"
    RESOLVED = "resolved"
    ALL = "all"


@strawberry.type(description="An event the service refused, kept for review.")
class QuarantinedEvent:
    id: strawberry.ID
    event_id: str | None = strawberry.field(
        description="The refused event's own id, if it had one."
    )
    reason: str = strawberry.field(description="Why it was refused (scrubbed).")
    principal: str | None = strawberry.field(description="Who sent it (key:<name>, user:<email>).")
    pipeline: str | None = strawberry.field(description="The pipeline the payload names, if any.")
    received_at: DateTime
    raw: str = strawberry.field(description="The event as received (scrubbed text).")
    payload: JSON | None = strawberry.field(description="`raw` parsed, when it is JSON.")
    resolved_at: DateTime | None
    resolved_by: str | None = strawberry.field(description="The reviewer who resolved it.")
    resolution: str | None = strawberry.field(description="resubmitted or discarded; null: open.")
    resolved_seq: int | None = strawberry.field(description="The stored event's seq (resubmitted).")
    discard_reason: str | None

    @classmethod
    def from_entry(cls, e: dict[str, Any]) -> QuarantinedEvent:
        payload = e.get("payload")
        pipeline = payload.get("pipeline") if isinstance(payload, dict) else None
        return cls(
            id=strawberry.ID(e["id"]),
            event_id=e.get("event_id"),
            reason=e.get("reason") or "",
            principal=e.get("principal"),
            pipeline=pipeline if isinstance(pipeline, str) else None,
            received_at=to_required_datetime(e["received_at"]),
            raw=e.get("raw") or "",
            payload=payload,
            resolved_at=to_datetime(e.get("resolved_at")),
            resolved_by=e.get("resolved_by"),
            resolution=e.get("resolution") or ("resubmitted" if e.get("resolved_at") else None),
            resolved_seq=e.get("resolved_seq"),
            discard_reason=e.get("discard_reason"),
        )


@strawberry.type
class QuarantinedEventEdge:
    cursor: str
    node: QuarantinedEvent


@strawberry.type
class QuarantinedEventConnection:
    edges: list[QuarantinedEventEdge]
    page_info: PageInfo


@strawberry.type(description="A re-submission that was stored (or was already: a duplicate).")
class Resubmission:
    entry: QuarantinedEvent
    accepted: int
    duplicates: int
    seq: int | None


def _refused(exc: IngestError) -> GraphQLError | BadArgument:
    # A refusal of the entry or the payload is the caller's to fix; outages keep their code.
    if isinstance(exc, QuarantineRefusal | BadRequestBody):
        return BadArgument(str(exc))
    return ingest_error(exc)


@strawberry.type
class QuarantineQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.QUARANTINE)],
        description="Quarantined events, oldest first (open ones by default); page size capped.",
    )
    async def quarantine(
        self,
        info: Info[Context, None],
        status: QuarantineStatus | None = QuarantineStatus.OPEN,
        first: int | None = 50,
        after: str | None = None,
    ) -> QuarantinedEventConnection:
        limit = info.context.page_size(50 if first is None else first)
        try:
            page = await info.context.services.quarantine_review.page(
                limit=limit,
                after=decode_cursor(after),
                status=(status or QuarantineStatus.OPEN).value,
            )
        except IngestError as exc:
            raise _refused(exc) from exc
        edges = [
            QuarantinedEventEdge(
                cursor=encode_cursor(entry_cursor(e)), node=QuarantinedEvent.from_entry(e)
            )
            for e in page.items
        ]
        info_ = PageInfo(
            has_next_page=page.next_cursor is not None,
            end_cursor=edges[-1].cursor if edges else None,
        )
        return QuarantinedEventConnection(edges=edges, page_info=info_)


@strawberry.type
class QuarantineMutation:
    @strawberry.mutation(
        permission_classes=[allow(Permission.QUARANTINE)],
        description="Resolve an open entry without storing its event, saying why (audited "
        "as quarantine.discarded with the caller).",
    )
    async def discard_quarantined(
        self, info: Info[Context, None], id: strawberry.ID, reason: str
    ) -> QuarantinedEvent:
        try:
            entry = await info.context.services.quarantine_review.discard(
                str(id), reason, info.context.actor
            )
        except IngestError as exc:
            raise _refused(exc) from exc
        return QuarantinedEvent.from_entry(entry)

    @strawberry.mutation(
        permission_classes=[allow(Permission.QUARANTINE)],
        description="Ingest an open entry again — as received, or `event` (a corrected "
        "event) — through normal validation under the caller's principal; a still-invalid "
        "event is refused (BAD_USER_INPUT, the reason) and nothing changes. Audited as "
        "quarantine.resubmitted.",
    )
    async def resubmit_quarantined(
        self, info: Info[Context, None], id: strawberry.ID, event: JSON | None = None
    ) -> Resubmission:
        body = b"" if event is None else orjson.dumps(event)

        async def read_body() -> bytes:
            return body

        try:
            done = await info.context.services.quarantine_review.resubmit(
                str(id), read_body, info.context.actor
            )
        except IngestError as exc:
            raise _refused(exc) from exc
        return Resubmission(
            entry=QuarantinedEvent.from_entry(done.entry),
            accepted=done.accepted,
            duplicates=done.duplicates,
            seq=done.seq,
        )
