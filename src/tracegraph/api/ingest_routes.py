"""``POST /v1/events``: batched JSON, a single object, or NDJSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tracegraph.api.authentication import principal_of, require
from tracegraph.api.dependencies import get_services
from tracegraph.api.json_response import json_response
from tracegraph.api.rate_limit import rate_limited
from tracegraph.auth import Permission
from tracegraph.ingest.body import decode_events
from tracegraph.ingest.errors import DatabaseUnavailable, TooLarge
from tracegraph.runtime import Services

router = APIRouter(
    tags=["ingest"],
    dependencies=[Depends(require(Permission.INGEST)), Depends(rate_limited("ingest"))],
)


async def read_limited_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"body is {int(declared)} bytes; the limit is {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post(
    "/v1/events",
    responses={
        200: {"description": "every event stored or a duplicate"},
        207: {"description": "some events rejected (and quarantined), the others stored"},
        400: {"description": "body is not JSON / NDJSON of objects"},
        413: {"description": "over the batch limits"},
        429: {"description": "overloaded; Retry-After is set"},
        503: {"description": "database unavailable; Retry-After is set; nothing stored"},
    },
)
async def post_events(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    settings = services.settings
    body = await read_limited_body(request, settings.max_body_bytes)
    raw_events = decode_events(body, request.headers.get("content-type"), settings.max_batch_events)
    if not services.schema_ready.is_set():
        raise DatabaseUnavailable(
            "the graph database is not ready yet; nothing was stored", settings.retry_after_s
        )
    outcome = await services.ingest.ingest(raw_events, principal_of(request).actor)
    status = 207 if outcome.rejected else 200
    return json_response(outcome.as_dict(), status_code=status)
