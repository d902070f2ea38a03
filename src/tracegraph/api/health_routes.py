"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from tracegraph.api.dependencies import get_services
from tracegraph.api.json_response import json_response
from tracegraph.runtime import Services
from tracegraph.store.errors import within

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(services: Annotated[Services, Depends(get_services)]) -> Response:
    """Neo4j answers, the graph schema is applied, the ingest writer runs, and the live
    tailer and the command feed have read where the event log and the commands end (until
    then this replica's subscribers and executors would miss other replicas' work)."""
    timeout_s = services.settings.database_answer_timeout_s
    try:
        await within(timeout_s, services.driver.verify_connectivity(), "the readiness probe")
        neo4j_ok = True
        detail = "reachable"
    except Exception as exc:
        neo4j_ok = False
        detail = f"unreachable: {type(exc).__name__}"
    schema_ok = services.schema_ready.is_set()
    writer_ok = services.committer.healthy
    live_ok = services.hub.tail_ready
    commands_ok = services.command_feed.started
    ready = neo4j_ok and schema_ok and writer_ok and live_ok and commands_ok
    body: dict[str, object] = {"ready": ready, "neo4j": detail, "schema_applied": schema_ok}
    body["writer"] = "running" if writer_ok else "restarting"
    body["live_tail"] = "following" if live_ok else "starting"
    body["commands"] = "following" if commands_ok else "starting"
    if services.schema_error is not None:
        body["schema_error"] = services.schema_error
    return json_response(body, status_code=200 if ready else 503)
