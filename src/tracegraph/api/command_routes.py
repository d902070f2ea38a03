"""Commands over HTTP for executors that cannot hold a socket: a long poll (issue 18).

``GET /api/commands?pipelines=a,b&after=<seq>&wait=<s>`` answers at once with the open
commands of those pipelines after ``after`` (what the executor missed), or else as soon
as one is issued on any replica, or after ``wait`` seconds with none. The answer's
``after`` is where the next poll starts: the seq of the last command sent (a backlog comes
a page at a time), or where the log ended when none was (no gap: see
``commands/feed.py``). Delivery is at least once; acknowledge and report through the
GraphQL mutations (or the SDK).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tracegraph.api.authentication import require
from tracegraph.api.dependencies import get_services
from tracegraph.api.errors import error_response
from tracegraph.api.json_response import json_response
from tracegraph.api.rate_limit import rate_limited
from tracegraph.auth import Permission
from tracegraph.live.hub import SubscriberClosed
from tracegraph.runtime import Services
from tracegraph.store.errors import is_retryable

Commands = AsyncIterator[list[dict[str, Any]]]

router = APIRouter(
    tags=["commands"],
    dependencies=[Depends(require(Permission.EXECUTE)), Depends(rate_limited("read"))],
)

_FIELDS = {
    "state_reason": "stateReason",
    "step_run": "stepRun",
    "principal": "issuedBy",
    "idempotency_key": "idempotencyKey",
    "created_at": "createdAt",
    "expires_at": "expiresAt",
    "delivered_at": "deliveredAt",
    "acknowledged_at": "acknowledgedAt",
    "acknowledged_by": "acknowledgedBy",
    "finished_at": "finishedAt",
    "result_run": "resultRun",
}
_HIDDEN = {"scope", "fingerprint"}


def command_json(command: dict[str, Any]) -> dict[str, Any]:
    """A command as the GraphQL ``Command`` type names its fields (kinds lowercase)."""
    out: dict[str, Any] = {}
    for key, value in command.items():
        if key in _HIDDEN:
            continue
        out[_FIELDS.get(key, key)] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


@router.get(
    "/api/commands",
    responses={
        200: {"description": "commands (possibly none after the wait) and the next `after`"},
        400: {"description": "no pipelines named, or a bad after/wait"},
        503: {"description": "database unavailable; poll again after Retry-After"},
    },
)
async def poll_commands(
    request: Request,
    services: Annotated[Services, Depends(get_services)],
    pipelines: Annotated[str, Query(description="comma-separated pipeline names")] = "",
    after: Annotated[int, Query(ge=0, description="the last seq received")] = 0,
    wait: Annotated[float, Query(ge=0, description="seconds to wait for a command")] = 0,
) -> Response:
    names = sorted({p.strip() for p in pipelines.split(",") if p.strip()})
    if not names:
        return error_response(400, "pipelines: name at least one pipeline (pipelines=a,b)")
    feed = services.command_feed
    wait = min(wait, services.settings.command_long_poll_max_wait_s)
    retry = services.settings.retry_after_s
    try:
        await asyncio.wait_for(feed.ready(), timeout=5)
    except TimeoutError:
        return error_response(503, "commands are not available yet; retry", retry)
    stream = feed.stream(names, after)
    commands: list[dict[str, Any]] = []
    next_after = max(after, feed.position)
    try:
        # What the executor missed comes at once (the catch-up); only then is there a wait.
        commands = await anext(stream)  # a missed batch, or the end-of-catch-up marker
        if not commands and wait > 0:
            commands = await _next_or_nothing(stream, request, wait)
    except SubscriberClosed as exc:  # shutting down
        return error_response(503, exc.message, retry)
    except Exception as exc:
        if is_retryable(exc):
            return error_response(503, "the graph database is unavailable; retry", retry)
        raise
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()  # type: ignore[attr-defined]
    if commands:
        # Resume right after the last command sent, never at the tailer's position: a
        # catch-up answers one page (command_catchup_page) and the rest of the backlog
        # lies between this page's last seq and that position.
        feed.delivered(commands)
        next_after = max(after, int(commands[-1]["seq"]))
    return json_response({"commands": [command_json(c) for c in commands], "after": next_after})


async def _next_or_nothing(stream: Commands, request: Request, wait: float) -> list[dict[str, Any]]:
    """The next live batch, or nothing after ``wait`` s or once the client went away (a
    poller that gave up must not hold the request, nor a stopping server, any longer)."""
    batch = asyncio.ensure_future(anext(stream))
    gone = asyncio.ensure_future(_disconnected(request))
    try:
        done, _ = await asyncio.wait({batch, gone}, timeout=wait, return_when="FIRST_COMPLETED")
        return batch.result() if batch in done else []
    finally:
        for task in (batch, gone):
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await batch


async def _disconnected(request: Request) -> None:
    while (await request.receive())["type"] != "http.disconnect":
        pass
