"""Helpers for the live-subscription tests: events, posting, and real GraphQL clients."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from gql import Client, GraphQLRequest, gql
from gql.transport.websockets import WebsocketsTransport
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.eventually import eventually, eventually_async

TRANSPORT_WS = WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL  # "graphql-transport-ws"
LEGACY_WS = WebsocketsTransport.APOLLO_SUBPROTOCOL  # "graphql-ws"
PROTOCOLS = [TRANSPORT_WS, LEGACY_WS]

EVENTS_QUERY = """
    subscription Live($after: Int, $pipeline: String, $run: ID, $types: [String!]) {
      events(afterSeq: $after, pipeline: $pipeline, run: $run, types: $types) {
        seq id type time pipeline run step data
      }
    }
"""
EVENTS_SUB = gql(EVENTS_QUERY)
RUN_SUB = gql(
    """
    subscription Runs($run: ID, $pipeline: String) {
      runUpdated(run: $run, pipeline: $pipeline) {
        id status inputTokens outputTokens costUsd error
      }
    }
    """
)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def log_event(pipeline: str, i: int, run: str | None = None, **data: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "id": f"{pipeline}-log-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "test/live",
        "pipeline": pipeline,
        "data": {"level": "info", "message": f"line {i}", **data},
    }
    if run is not None:
        ev["run"] = run
    return ev


def chunk_event(pipeline: str, run: str, i: int) -> dict[str, Any]:
    return {
        "id": f"{run}-chunk-{i}",
        "type": "response.chunk",
        "time": "2026-11-20T02:00:01Z",
        "source": "test/live",
        "pipeline": pipeline,
        "run": run,
        "data": {"call": "c1", "index": i, "delta": f"tok{i} "},
    }


def run_event(pipeline: str, run: str, kind: str, **data: Any) -> dict[str, Any]:
    return {
        "id": f"{run}-{kind}",
        "type": f"run.{kind}",
        "time": {"started": "2026-11-20T02:00:00Z"}.get(kind, "2026-11-20T02:05:00Z"),
        "source": "test/live",
        "pipeline": pipeline,
        "run": run,
        "data": data,
    }


async def post(client: httpx.AsyncClient, events: Iterable[dict[str, Any]]) -> dict[str, Any]:
    response = await client.post("/v1/events", json=list(events))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ws_url(service: RunningService) -> str:
    return f"ws://127.0.0.1:{service.port}/graphql"


@asynccontextmanager
async def session(
    service: RunningService, protocol: str = TRANSPORT_WS, role: str = "admin"
) -> AsyncIterator[Any]:
    """A connected gql session over WebSocket with exactly one subprotocol offered."""
    transport = WebsocketsTransport(
        url=ws_url(service),
        subprotocols=[protocol],
        init_payload={"Authorization": f"Bearer {service.key(role)}"},
    )
    async with Client(transport=transport, fetch_schema_from_transport=False) as s:
        yield s


def request(document: Any, variables: dict[str, Any]) -> GraphQLRequest:
    return GraphQLRequest(document, variable_values=variables)


async def take(
    sess: Any,
    document: Any,
    variables: dict[str, Any],
    n: int,
    within_s: float = 30,
    into: list[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The first ``n`` results of a subscription (then it is stopped); ``into`` is the
    list they are appended to as they come, for a test that waits on the first ones."""
    out: list[dict[str, Any]] = [] if into is None else into

    async def run() -> None:
        async for result in sess.subscribe(request(document, variables)):
            out.append(result)
            if len(out) >= n:
                return

    await asyncio.wait_for(run(), within_s)
    return out


def stored_seqs(driver: Driver, pipeline: str) -> list[int]:
    return [r["seq"] for r in fetch(driver, "event_seqs_of_pipeline", pipeline=pipeline)]


async def _hub_subscribers(service: RunningService, alerts: bool = False) -> int:
    hub = service.app.state.services.hub
    return int(hub.alert_subscriber_count if alerts else hub.subscriber_count)


def subscriber_count(service: RunningService) -> int:
    """Event and run-update subscribers the service's hub has now, read on the
    service's own loop (the hub is not thread-safe)."""
    return service.call(_hub_subscribers(service))


def until_subscribed_sync(service: RunningService, n: int, within_s: float = 30) -> None:
    """Wait until the hub has at least ``n`` subscribers (a client's subscription is
    registered, so what is committed next reaches it live)."""
    eventually(
        lambda: subscriber_count(service),
        until=lambda count: count >= n,
        timeout=within_s,
        what=f"{n} hub subscriber(s)",
    )


async def until_subscribed(
    service: RunningService, n: int, within_s: float = 30, alerts: bool = False
) -> None:
    """The async form of :func:`until_subscribed_sync`, for tests on their own loop;
    ``alerts``: count the subscribers of SLA alerts instead."""

    async def count() -> int:
        future = asyncio.run_coroutine_threadsafe(_hub_subscribers(service, alerts), service.loop)
        return await asyncio.wrap_future(future)

    what = f"{n} {'alert' if alerts else 'hub'} subscriber(s)"
    await eventually_async(count, until=lambda c: c >= n, timeout=within_s, what=what)
