"""Per-principal rate limits: 429 with Retry-After over HTTP (GraphQL and REST), an
``error`` message per operation over WebSocket, and recovery once the window frees."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import websockets
from fastapi import Depends
from neo4j import Driver

from tests.conftest import RunningService
from tracegraph.api.authentication import require
from tracegraph.api.rate_limit import rate_limited
from tracegraph.auth import Permission

QUERY = {"query": "{ overview { lastSeq } }"}
INGEST = {
    "query": "mutation($e: [JSON!]!) { ingestEvents(events: $e) { accepted duplicates } }",
    "variables": {
        "e": [
            {
                "id": "rl-log-1",
                "type": "log",
                "time": "2026-11-20T02:00:00Z",
                "source": "test/rate",
                "pipeline": "rl",
                "data": {"level": "info", "message": "hello"},
            }
        ]
    },
}


def retry_after(resp: httpx.Response) -> int:
    value = int(resp.headers["Retry-After"])
    assert 1 <= value <= 3, value
    return value


def assert_graphql_429(resp: httpx.Response, bucket: str) -> int:
    assert resp.status_code == 429, resp.text
    seconds = retry_after(resp)
    body = resp.json()
    assert body["data"] is None
    (err,) = body["errors"]
    assert err["extensions"] == {"code": "RATE_LIMITED", "retryAfter": seconds, "bucket": bucket}
    assert err["message"].startswith(f"rate limit exceeded: at most 3 per 2 second {bucket}")
    return seconds


def test_graphql_reads_get_429_with_retry_after_then_recover(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(rate_limit="3/2 seconds")
    with svc.client() as admin, svc.client("viewer") as viewer:
        for _ in range(3):
            assert admin.post("/graphql", json=QUERY).status_code == 200
        over = admin.post("/graphql", json=QUERY)
        seconds = assert_graphql_429(over, "read")
        # Counted per principal: another caller is not affected.
        assert viewer.post("/graphql", json=QUERY).status_code == 200
        # An unauthenticated request is refused before any rate limiting.
        with httpx.Client(base_url=svc.base_url) as anon:
            assert anon.post("/graphql", json=QUERY).status_code == 401
        time.sleep(seconds + 0.1)  # on purpose: recovery once the window has passed
        again = admin.post("/graphql", json=QUERY)
        assert again.status_code == 200 and "errors" not in again.json()


def test_the_ingest_mutation_counts_against_the_ingest_limit(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(ingest_rate_limit="3/2 seconds")
    with svc.client() as admin:
        for _ in range(3):
            resp = admin.post("/graphql", json=INGEST)
            assert resp.status_code == 200 and "errors" not in resp.json(), resp.text
        assert_graphql_429(admin.post("/graphql", json=INGEST), "ingest")
        # Reads have their own bucket.
        assert admin.post("/graphql", json=QUERY).status_code == 200


def test_the_http_dependency_answers_429_after_authentication(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(rate_limit="3/2 seconds")

    async def limited() -> dict[str, bool]:
        return {"ok": True}

    # A real route behind the real dependencies, in the order routes attach them.
    svc.app.add_api_route(
        "/test/limited",
        limited,
        dependencies=[Depends(require(Permission.READ)), Depends(rate_limited("read"))],
    )
    with svc.client() as admin, httpx.Client(base_url=svc.base_url) as anon:
        for _ in range(3):
            assert admin.get("/test/limited").json() == {"ok": True}
        over = admin.get("/test/limited")
        assert over.status_code == 429
        seconds = retry_after(over)
        assert over.json() == {
            "error": f"rate limit exceeded: at most 3 per 2 second read requests per "
            f"principal; retry after {seconds} s",
            "retry_after_s": seconds,
        }
        assert anon.get("/test/limited").status_code == 401
        time.sleep(seconds + 0.1)  # on purpose: recovery once the window has passed
        assert admin.get("/test/limited").status_code == 200


def test_the_rest_ingest_route_is_limited_per_principal(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(ingest_rate_limit="3/2 seconds")
    event = {
        "id": "rl-1",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "t",
        "data": {"level": "info", "message": "hi"},
    }
    with svc.client("ingester") as ingester, svc.client("admin") as admin:
        for _ in range(3):
            assert ingester.post("/v1/events", json=[event]).status_code == 200
        over = ingester.post("/v1/events", json=[event])
        assert over.status_code == 429 and over.json()["retry_after_s"] == retry_after(over)
        # Another principal has its own budget.
        assert admin.post("/v1/events", json=[event]).status_code == 200
        time.sleep(retry_after(over) + 0.1)  # on purpose: honouring Retry-After is the test
        assert ingester.post("/v1/events", json=[event]).status_code == 200


async def _ws_ack(svc: RunningService, protocol: str) -> Any:
    url = svc.base_url.replace("http", "ws") + "/graphql"
    ws = await websockets.connect(url, subprotocols=[protocol])  # type: ignore[list-item]
    await ws.send(json.dumps({"type": "connection_init", "payload": svc.headers()}))
    while True:
        msg = json.loads(await ws.recv())
        if msg["type"] == "connection_ack":
            return ws


async def _next_of(ws: Any, op_id: str) -> dict[str, Any]:
    while True:
        msg = json.loads(await ws.recv())
        if msg.get("id") == op_id and msg["type"] != "complete":
            return msg  # type: ignore[no-any-return]


async def test_websocket_operations_over_the_limit_get_an_error_message(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(rate_limit="3/2 seconds")
    ws = await _ws_ack(svc, "graphql-transport-ws")
    try:
        for i in range(3):
            await ws.send(json.dumps({"id": f"q{i}", "type": "subscribe", "payload": QUERY}))
            msg = await _next_of(ws, f"q{i}")
            assert msg["type"] == "next" and "errors" not in msg["payload"], msg
        await ws.send(json.dumps({"id": "q3", "type": "subscribe", "payload": QUERY}))
        msg = await _next_of(ws, "q3")
        assert msg["type"] == "error"
        (err,) = msg["payload"]
        assert err["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= err["extensions"]["retryAfter"] <= 2
        await asyncio.sleep(err["extensions"]["retryAfter"] + 0.1)  # on purpose: retryAfter
        await ws.send(json.dumps({"id": "q4", "type": "subscribe", "payload": QUERY}))
        assert (await _next_of(ws, "q4"))["type"] == "next"
    finally:
        await ws.close()

    # Legacy graphql-ws: a subscription start over the limit gets an ``error`` too.
    svc2 = make_service(rate_limit="1/10 seconds")
    legacy = await _ws_ack(svc2, "graphql-ws")
    try:
        sub = {"query": "subscription { events(afterSeq: 0) { seq } }"}
        await legacy.send(json.dumps({"id": "s1", "type": "start", "payload": sub}))
        await legacy.send(json.dumps({"id": "s2", "type": "start", "payload": sub}))
        msg = await _next_of(legacy, "s2")
        assert msg["type"] == "error"
        assert msg["payload"]["extensions"]["code"] == "RATE_LIMITED"
        assert 1 <= msg["payload"]["extensions"]["retryAfter"] <= 10
    finally:
        await legacy.close()
