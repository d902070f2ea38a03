"""The quarantine over REST: review rejected events and re-submit them once fixed.

``GET /v1/quarantine?limit=&after=&status=open|resolved|all`` pages entries oldest first.
``POST /v1/quarantine/{id}/resubmit`` re-ingests the entry: with an empty body the raw
payload as it was received (the service or its configuration was fixed), with a JSON
object body a corrected event (the emitter was wrong). The event is validated first, so
a still-invalid payload answers 422 and does not add another quarantine entry; once it
is stored (or was already stored: a duplicate) the entry is marked resolved with the
seq of the stored event.
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tracegraph.api.authentication import principal_of, require
from tracegraph.api.dependencies import get_services
from tracegraph.api.errors import error_response
from tracegraph.api.ingest_routes import read_limited_body
from tracegraph.api.json_response import json_response
from tracegraph.api.rate_limit import rate_limited
from tracegraph.auth import Permission
from tracegraph.ingest.errors import DatabaseUnavailable
from tracegraph.ingest.group_commit import is_unavailable
from tracegraph.runtime import Services
from tracegraph.store.quarantine_store import STATUSES, QuarantineStore

router = APIRouter(
    tags=["quarantine"],
    dependencies=[Depends(require(Permission.QUARANTINE)), Depends(rate_limited("read"))],
)

T = TypeVar("T")


def _store(services: Services) -> QuarantineStore:
    settings = services.settings
    return QuarantineStore(services.driver, settings.neo4j.database, settings.query_timeout_s)


async def _db(services: Services, awaitable: Awaitable[T]) -> T:
    """Await a store call; an unreachable database answers 503 like ingestion does."""
    try:
        return await awaitable
    except Exception as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailable(
                f"the graph database is unavailable ({type(exc).__name__})",
                services.settings.retry_after_s,
            ) from exc
        raise


@router.get("/v1/quarantine")
async def list_quarantine(
    services: Annotated[Services, Depends(get_services)],
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    after: Annotated[str | None, Query(description="cursor from the previous page")] = None,
    status: Annotated[str, Query(description="open, resolved or all")] = "open",
) -> Response:
    if status not in STATUSES:
        return error_response(400, f"status must be one of {', '.join(STATUSES)}")
    try:
        page = await _db(services, _store(services).page(limit=limit, after=after, status=status))
    except ValueError as exc:
        return error_response(400, str(exc))
    return json_response({"items": page.items, "next": page.next_cursor})


@router.get("/v1/quarantine/{entry_id}")
async def get_quarantined(
    entry_id: str, services: Annotated[Services, Depends(get_services)]
) -> Response:
    entry = await _db(services, _store(services).get(entry_id))
    if entry is None:
        return error_response(404, f"no quarantine entry {entry_id!r}")
    return json_response(entry)


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
    store = _store(services)
    entry = await _db(services, store.get(entry_id))
    if entry is None:
        return error_response(404, f"no quarantine entry {entry_id!r}")
    if entry.get("resolved_at") is not None:
        return json_response(
            {"error": "this entry is already resolved", "entry": entry}, status_code=409
        )
    body = await read_limited_body(request, services.settings.max_body_bytes)
    payload: Any
    if body.strip():
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return error_response(400, f"body is not JSON: {exc}")
        if not isinstance(payload, dict):
            return error_response(400, "body must be one corrected event (a JSON object)")
    else:
        payload = entry.get("payload")
        if not isinstance(payload, dict):
            return error_response(
                422, "the quarantined payload is not a JSON object; send a corrected event"
            )

    # Validate before ingesting so a still-broken event is not quarantined a second time.
    check = services.ingest.prepare([payload])
    if check.rejected:
        return json_response({"error": check.rejected[0].reason, "entry": entry}, status_code=422)
    if not services.schema_ready.is_set():
        raise DatabaseUnavailable(
            "the graph database is not ready yet; nothing was stored",
            services.settings.retry_after_s,
        )
    outcome = await services.ingest.ingest([payload], principal_of(request).actor)
    if outcome.rejected:
        # Valid but its id was stored with other content: the writer quarantined it anew.
        return json_response({"error": outcome.rejected[0].error, "entry": entry}, status_code=409)
    event_id = str(payload["id"])
    seq = await _db(services, store.event_seq(event_id))
    resolved = await _db(
        services,
        store.resolve(
            entry_id,
            resolved_at=datetime.now(UTC),
            resolved_seq=seq or 0,
            resolved_event_id=event_id,
        ),
    )
    # None: a concurrent re-submission resolved it first; report the entry as it is now.
    current = resolved or await _db(services, store.get(entry_id)) or entry
    return json_response(
        {
            "entry": current,
            "accepted": outcome.accepted,
            "duplicates": outcome.duplicates,
            "seq": seq,
        }
    )
