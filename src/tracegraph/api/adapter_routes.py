"""Ecosystem ingestion: OpenLineage (``POST /api/v1/lineage`` and ``/api/v1/lineage/batch``)
and OTLP (``POST /v1/traces``).

Both translate with the pure adapters in `tracegraph.ingest.adapters` and store through
`IngestService.ingest`, so validation, dedupe, quarantine and commit-before-ack are the
same as for ``POST /v1/events``.
"""

from __future__ import annotations

import zlib
from typing import Annotated, Any

import orjson
import structlog
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tracegraph.api.authentication import principal_of, require
from tracegraph.api.dependencies import get_services
from tracegraph.api.ingest_routes import admitted_body
from tracegraph.api.json_response import json_response
from tracegraph.api.rate_limit import rate_limited
from tracegraph.auth import Permission
from tracegraph.ingest.adapters import openlineage, otlp
from tracegraph.ingest.errors import BadRequestBody, DatabaseUnavailable, IngestError, TooLarge
from tracegraph.runtime import Services
from tracegraph.store.errors import is_retryable, within

log = structlog.get_logger(__name__)

router = APIRouter(
    tags=["ingest"],
    dependencies=[Depends(require(Permission.INGEST)), Depends(rate_limited("ingest"))],
)

# Stored events of one trace read back to place LLM calls in steps; a trace is far smaller.
_MAX_TRACE_EVENTS = 20_000


class UnsupportedMediaType(IngestError):
    status = 415


def _inflated(request: Request, body: bytes, services: Services) -> bytes:
    """The body, gunzipped when the client compressed it (both clients can)."""
    limit = services.settings.max_body_bytes
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}; use gzip")
    inflater = zlib.decompressobj(wbits=47)  # 47: gzip or zlib header, detected
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise BadRequestBody(f"body is not valid {encoding}: {exc}") from None
    if len(out) > limit:
        raise TooLarge(f"decompressed body exceeds the limit of {limit} bytes")
    return out


def _require_ready(services: Services) -> None:
    if not services.schema_ready.is_set():
        raise DatabaseUnavailable(
            "the graph database is not ready yet; nothing was stored",
            services.settings.retry_after_s,
        )


def _check_batch(count: int, services: Services) -> None:
    limit = services.settings.max_batch_events
    if count > limit:
        raise TooLarge(f"request translates to {count} events; the limit is {limit} per request")


@router.post(
    "/api/v1/lineage",
    responses={
        200: {"description": "every derived event stored or a duplicate"},
        207: {"description": "some derived events rejected (and quarantined)"},
        400: {"description": "not OpenLineage JSON; the error names the field"},
        413: {"description": "over the batch limits"},
        429: {"description": "over an event or in-flight budget; Retry-After is set"},
        503: {"description": "database unavailable; Retry-After is set; nothing stored"},
    },
)
async def post_openlineage(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """OpenLineage RunEvent / DatasetEvent / JobEvent, one object or an array.

    The body is `/v1/events`'s; `rejected[].index` is the position of the OpenLineage event
    in the request and `id` the derived Tracegraph event's id.
    """
    # The request's bytes stay charged to the caller until its events are answered.
    async with admitted_body(request, services) as raw:
        body = _inflated(request, raw, services)
        if not body.strip():
            raise BadRequestBody("request body is empty; send an OpenLineage event as JSON")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequestBody(f"body is not valid JSON: {exc}") from None
        try:
            pairs = openlineage.translate_body(doc)
        except openlineage.MalformedOpenLineage as exc:
            raise BadRequestBody(f"invalid OpenLineage event: {exc}") from None
        _check_batch(len(pairs), services)
        _require_ready(services)
        caller = principal_of(request)
        outcome = await services.ingest.ingest(
            [event for _, event in pairs], caller.actor, caller.write_scope
        )
    body_out = outcome.as_dict()
    # Rejections name the OpenLineage event the client sent, not our derived position.
    for rejection in body_out["rejected"]:
        rejection["index"] = pairs[rejection["index"]][0]
    return json_response(body_out, status_code=207 if outcome.rejected else 200)


@router.post(
    "/api/v1/lineage/batch",
    responses={
        200: {"description": "every derived event stored or a duplicate"},
        207: {"description": "some events malformed or rejected; the others are stored"},
        400: {"description": "not JSON, or not a batch (an array or {events: [...]})"},
        413: {"description": "over the batch limits"},
        429: {"description": "over an event or in-flight budget; Retry-After is set"},
        503: {"description": "database unavailable; Retry-After is set; nothing stored"},
    },
)
async def post_openlineage_batch(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """A batch of OpenLineage events (the batch endpoint of recent OpenLineage clients):
    a JSON array, or an object with an ``events`` array. Unlike ``/api/v1/lineage``, a
    malformed event does not fail the request: it is reported in ``rejected`` (its
    ``index`` in the batch, ``id`` null, the error naming the field) and every other
    event is stored."""
    async with admitted_body(request, services) as raw:
        body = _inflated(request, raw, services)
        if not body.strip():
            raise BadRequestBody("request body is empty; send a batch of OpenLineage events")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequestBody(f"body is not valid JSON: {exc}") from None
        try:
            items = openlineage.batch_items(doc)
        except openlineage.MalformedOpenLineage as exc:
            raise BadRequestBody(f"invalid OpenLineage batch: {exc}") from None
        if not items:
            raise BadRequestBody("the batch holds no events")
        pairs, malformed = openlineage.translate_batch(items)
        _check_batch(len(pairs), services)
        _require_ready(services)
        body_out: dict[str, Any] = {"accepted": 0, "duplicates": 0, "rejected": [], "last_seq": 0}
        if pairs:
            caller = principal_of(request)
            outcome = await services.ingest.ingest(
                [event for _, event in pairs], caller.actor, caller.write_scope
            )
            body_out = outcome.as_dict()
            for rejection in body_out["rejected"]:
                rejection["index"] = pairs[rejection["index"]][0]
    body_out["rejected"] += [{"index": i, "id": None, "error": e} for i, e in malformed]
    body_out["rejected"].sort(key=lambda r: r["index"])
    return json_response(body_out, status_code=207 if body_out["rejected"] else 200)


@router.post(
    "/v1/traces",
    responses={
        200: {"description": "ExportTraceServiceResponse, maybe with partial_success"},
        400: {"description": "not an OTLP ExportTraceServiceRequest"},
        413: {"description": "over the batch limits"},
        415: {"description": "not application/x-protobuf or application/json"},
        503: {"description": "database unavailable; Retry-After is set; nothing stored"},
    },
)
async def post_otlp_traces(
    request: Request, services: Annotated[Services, Depends(get_services)]
) -> Response:
    """OTLP/HTTP trace export, protobuf or JSON; answers in the request's encoding."""
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media in ("application/x-protobuf", "application/protobuf"):
        as_json = False
    elif media == "application/json":
        as_json = True
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {media or 'none'!r}; "
            "send application/x-protobuf or application/json"
        )
    media_type = "application/json" if as_json else "application/x-protobuf"
    async with admitted_body(request, services) as raw:
        body = _inflated(request, raw, services)
        try:
            export = otlp.decode_json(body) if as_json else otlp.decode_protobuf(body)
            spans = otlp.spans_of(export)
        except otlp.MalformedOtlp as exc:
            raise BadRequestBody(f"invalid OTLP trace export: {exc}") from None
        if not spans:
            return Response(otlp.encode_response(0, "", as_json), media_type=media_type)
        _require_ready(services)
        stored = await _stored_traces(services, otlp.trace_ids(spans))
        pairs = otlp.translate_spans(spans, stored)
        _check_batch(len(pairs), services)
        caller = principal_of(request)
        outcome = await services.ingest.ingest(
            [event for _, event in pairs], caller.actor, caller.write_scope
        )
    rejected_spans = len({pairs[r.index][0] for r in outcome.rejected})
    message = "; ".join(sorted({r.error for r in outcome.rejected}))[:1000]
    return Response(otlp.encode_response(rejected_spans, message, as_json), media_type=media_type)


async def _stored_traces(services: Services, traces: list[str]) -> dict[str, list[Any]]:
    """Our stored events of each trace's run, for placing LLM calls in their steps."""
    settings = services.settings
    reads = services.reads
    stored: dict[str, list[Any]] = {}

    async def read_all() -> None:
        for trace in traces:
            rows = await reads.events(0, _MAX_TRACE_EVENTS, None, trace)
            stored[trace] = [payload for _, payload, _ in rows]

    try:
        await within(settings.database_answer_timeout_s, read_all(), "the trace lookup")
    except Exception as exc:
        if not is_retryable(exc):
            raise
        # The driver's message names hosts, ports and errno: logged, never answered.
        log.warning("OTLP trace lookup failed; answered 503", error=str(exc))
        raise DatabaseUnavailable(
            "the graph database is unavailable; nothing was stored", settings.retry_after_s
        ) from None
    return stored
