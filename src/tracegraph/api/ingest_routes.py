"""``POST /v1/events``: batched JSON, a single object, or NDJSON."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tracegraph.api.authentication import principal_of, require
from tracegraph.api.dependencies import get_services
from tracegraph.api.json_response import json_response
from tracegraph.api.rate_limit import rate_limited
from tracegraph.auth import Permission
from tracegraph.ingest.admission import ByteReservation
from tracegraph.ingest.body import decode_events
from tracegraph.ingest.errors import DatabaseUnavailable, TooLarge
from tracegraph.runtime import Services

router = APIRouter(
    tags=["ingest"],
    dependencies=[Depends(require(Permission.INGEST)), Depends(rate_limited("ingest"))],
)


async def read_limited_body(
    request: Request, limit: int, held: ByteReservation | None = None
) -> bytes:
    """The body, refused (413) past ``limit``; a body of undeclared length is charged
    to ``held`` chunk by chunk as it arrives (429 once its budget is spent)."""
    declared = _declared_length(request, limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        if held is not None and declared is None:
            held.grow(len(chunk))
        chunks.append(chunk)
    return b"".join(chunks)


def _declared_length(request: Request, limit: int) -> int | None:
    declared = request.headers.get("content-length")
    if declared is None or not declared.isdigit():
        return None
    if int(declared) > limit:
        raise TooLarge(f"body is {int(declared)} bytes; the limit is {limit} bytes")
    return int(declared)


@contextlib.asynccontextmanager
async def admitted_body(request: Request, services: Services) -> AsyncIterator[bytes]:
    """The body of an ingest request, read only once the caller's and the service's
    in-flight byte budgets (tracegraph.ingest.admission) have room for its
    ``Content-Length`` (else 429 with nothing read); the bytes stay charged until the
    block ends, i.e. until the request's events are answered."""
    limit = services.settings.max_body_bytes
    declared = _declared_length(request, limit)
    with services.admission.request_bytes(principal_of(request).actor, declared) as held:
        yield await read_limited_body(request, limit, held)


@router.post(
    "/v1/events",
    responses={
        200: {"description": "every event stored or a duplicate"},
        207: {"description": "some events rejected (and quarantined), the others stored"},
        400: {"description": "body is not JSON / NDJSON of objects"},
        413: {"description": "over the batch limits"},
        429: {
            "description": "over the caller's event rate or in-flight budget, or the "
            "service's; Retry-After is set; nothing read or stored"
        },
        503: {"description": "database unavailable; Retry-After is set; nothing stored"},
    },
)
async def post_events(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    settings = services.settings
    async with admitted_body(request, services) as body:
        content_type = request.headers.get("content-type")
        raw_events = decode_events(body, content_type, settings.max_batch_events)
        del body  # the decoded events are what is kept from here on
        if not services.schema_ready.is_set():
            raise DatabaseUnavailable(
                "the graph database is not ready yet; nothing was stored", settings.retry_after_s
            )
        caller = principal_of(request)
        outcome = await services.ingest.ingest(raw_events, caller.actor, caller.write_scope)
    status = 207 if outcome.rejected else 200
    return json_response(outcome.as_dict(), status_code=status)
