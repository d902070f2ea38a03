"""The quarantine over REST: review rejected events and re-submit them once fixed.

``GET /v1/quarantine?limit=&after=&status=open|resolved|all`` pages entries oldest first.
``POST /v1/quarantine/{id}/discard`` (``{"reason": …}``) resolves it without storing
anything. ``POST /v1/quarantine/{id}/resubmit`` re-ingests the entry: with an empty body the raw
payload as it was received, with a JSON object body a corrected event
(``tracegraph.ingest.quarantine``). Refusals are typed errors answered by the handler
in ``api/errors.py``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tracegraph.api.authentication import principal_of, require
from tracegraph.api.dependencies import get_services
from tracegraph.api.ingest_routes import read_limited_body
from tracegraph.api.json_response import json_response
from tracegraph.api.rate_limit import rate_limited
from tracegraph.auth import Permission
from tracegraph.runtime import Services

router = APIRouter(
    tags=["quarantine"],
    dependencies=[Depends(require(Permission.QUARANTINE)), Depends(rate_limited("read"))],
)


@router.get("/v1/quarantine")
async def list_quarantine(
    services: Annotated[Services, Depends(get_services)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    after: Annotated[str | None, Query(description="cursor from the previous page")] = None,
    status: Annotated[str, Query(description="open, resolved or all")] = "open",
) -> Response:
    page = await services.quarantine_review.page(limit=limit, after=after, status=status)
    return json_response({"items": page.items, "next": page.next_cursor})


@router.get("/v1/quarantine/{entry_id}")
async def get_quarantined(
    entry_id: str, services: Annotated[Services, Depends(get_services)]
) -> Response:
    return json_response(await services.quarantine_review.get(entry_id))


@router.post(
    "/v1/quarantine/{entry_id}/resubmit",
    responses={
        200: {"description": "stored (or already stored); the entry is resolved"},
        404: {"description": "no such entry"},
        409: {"description": "already resolved, or the event id conflicts"},
        422: {"description": "the payload is still invalid; nothing stored"},
        503: {"description": "database unavailable; nothing stored"},
    },
)
async def resubmit_quarantined(
    entry_id: str, request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    done = await services.quarantine_review.resubmit(
        entry_id,
        lambda: read_limited_body(request, services.settings.max_body_bytes),
        principal_of(request).actor,
    )
    return json_response(done.as_dict())


class DiscardBody(BaseModel):
    reason: str = Field(description="Why the entry is discarded (1-1000 characters).")


@router.post(
    "/v1/quarantine/{entry_id}/discard",
    responses={
        200: {"description": "discarded: the entry is resolved, nothing stored"},
        400: {"description": "no reason given"},
        404: {"description": "no such entry"},
        409: {"description": "already resolved"},
        503: {"description": "database unavailable; nothing changed"},
    },
)
async def discard_quarantined(
    entry_id: str,
    body: DiscardBody,
    request: Request,
    services: Annotated[Services, Depends(get_services)],
) -> Response:
    entry = await services.quarantine_review.discard(
        entry_id, body.reason, principal_of(request).actor
    )
    return json_response(entry)
