"""What clients see while Neo4j is down or frozen, and how failures are classified.

Authentication during an outage (the key cache lapsed): HTTP and GraphQL over HTTP
answer 503 + ``Retry-After``, WebSockets close with 1013 ("try again later"), and a
resumable ``events(afterSeq:)`` subscription ends with an error carrying a retryable
code — never a 500, a silent socket or a plain ``complete``. Error bodies carry no
internal detail. A statement error is not an outage: the batch's events are quarantined
with a precise reason and nothing else is lost.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import orjson
import pytest
import websockets
from neo4j import AsyncManagedTransaction, Driver

from tests.conftest import RunningService
from tests.support import cypher as test_statements
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tests.support.faults import ANSWER_WITHIN_S, frozen, killed, log_event, stored_ids
from tests.support.live import LEGACY_WS, TRANSPORT_WS, ws_url
from tracegraph.store.event_writer import EventWriter

SUBSCRIBE = "subscription { events(afterSeq: 0) { seq id } }"
OTLP_SPAN = {
    "resourceSpans": [
        {
            "resource": {"attributes": []},
            "scopeSpans": [
                {
                    "spans": [
                        {
                            "traceId": "5b8efff798038103d269b633813fc60c",
                            "spanId": "eee19b7ec3c1b174",
                            "name": "chat gpt-4o",
                            "kind": 3,
                            "startTimeUnixNano": "1763604000000000000",
                            "endTimeUnixNano": "1763604001000000000",
                            "attributes": [
                                {"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                                {
                                    "key": "gen_ai.request.model",
                                    "value": {"stringValue": "gpt-4o"},
                                },
                            ],
                        }
                    ]
                }
            ],
        }
    ]
}


def _no_internals(text: str) -> None:
    for detail in ("127.0.0.1", "localhost", "rrno", "Traceback", ":77"):
        assert detail not in text, f"internal detail {detail!r} in {text!r}"


def _assert_503(response: httpx.Response, elapsed: float) -> None:
    assert response.status_code == 503, response.text
    assert response.headers.get("retry-after") == "1"
    assert elapsed <= ANSWER_WITHIN_S
    _no_internals(response.text)


def _timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def _client(svc: RunningService, role: str) -> httpx.Client:
    return httpx.Client(base_url=svc.base_url, headers=svc.headers(role), timeout=30)


def _wait_ready(svc: RunningService) -> None:
    with httpx.Client(base_url=svc.base_url, timeout=10) as client:
        eventually(
            lambda: client.get("/readyz"),
            until=lambda r: r.status_code == 200,
            timeout=60,
            what="the service ready",
        )


def _lapse(svc: RunningService) -> None:
    """Let the verified-key cache of ``svc`` run out (its TTL is a fraction of a second)."""
    # On purpose: what is tested is the service after the TTL, so the TTL passes.
    time.sleep(svc.settings.api_key_cache_ttl_s * 2)


async def _ws_init(svc: RunningService, protocol: str) -> tuple[int | None, list[dict]]:
    """Open a socket, send connection_init; the close code and the messages before it."""
    messages: list[dict] = []
    async with websockets.connect(ws_url(svc), subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {svc.key()}"}}
            )
        )
        try:
            async with asyncio.timeout(ANSWER_WITHIN_S + 2):
                async for raw in ws:
                    messages.append(json.loads(raw))
        except websockets.ConnectionClosed:
            pass
        return ws.close_code, messages


async def _subscribe_in_outage(
    svc: RunningService, protocol: str, outage: Any
) -> list[dict[str, Any]]:
    """An acknowledged socket (opened before the outage) subscribes during it."""
    async with websockets.connect(ws_url(svc), subprotocols=[protocol]) as ws:  # type: ignore[list-item]
        await ws.send(
            json.dumps(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {svc.key()}"}}
            )
        )
        ack = json.loads(await ws.recv())
        assert ack["type"] == "connection_ack", ack
        kind = "subscribe" if protocol == TRANSPORT_WS else "start"
        messages: list[dict[str, Any]] = []
        with outage():
            await ws.send(json.dumps({"id": "1", "type": kind, "payload": {"query": SUBSCRIBE}}))
            async with asyncio.timeout(15):
                async for raw in ws:
                    msg = json.loads(raw)
                    if msg.get("type") == "ka":
                        continue
                    messages.append(msg)
                    if msg.get("type") in ("complete", "error"):
                        break
        return messages


def _subscription_error_code(messages: list[dict[str, Any]]) -> str | None:
    for msg in messages:
        payload = msg.get("payload")
        errors = payload if isinstance(payload, list) else (payload or {}).get("errors") or []
        for error in errors:
            code = (error.get("extensions") or {}).get("code")
            if code:
                return str(code)
    return None


@pytest.fixture
def two_services(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> tuple[RunningService, RunningService]:
    """One whose key cache lapses at once, one that keeps its keys for the test."""
    short = make_service(api_key_cache_ttl_s=0.2)
    long = make_service(api_key_cache_ttl_s=600)
    for svc in (short, long):
        _wait_ready(svc)
        for role in ("admin", "ingester"):
            svc.key(role)
        with svc.client("ingester") as c:  # keys verified and cached, statements planned
            deadline = time.monotonic() + 60
            while c.post("/v1/events", json=[log_event(f"warm-{svc.port}", 1)]).status_code != 200:
                assert time.monotonic() < deadline, "no write stored while warming up"
        with svc.client("admin") as c:
            assert c.post("/graphql", json={"query": "{ overview { lastSeq } }"}).status_code == 200
    return short, long


def _check_outage_answers(short: RunningService, long: RunningService) -> None:
    _lapse(short)
    with _client(short, "ingester") as client:
        _assert_503(*_timed(lambda: client.post("/v1/events", json=[log_event("down", 1)])))
    with _client(short, "admin") as client:
        _assert_503(
            *_timed(lambda: client.post("/graphql", json={"query": "{ overview { lastSeq } }"}))
        )
    for protocol in (TRANSPORT_WS, LEGACY_WS):
        code, messages = asyncio.run(_ws_init(short, protocol))
        assert code == 1013, (protocol, code, messages)
        assert not [m for m in messages if m.get("type") == "connection_ack"]

    with _client(long, "admin") as client:
        overview = client.post("/graphql", json={"query": "{ overview { lastSeq } }"}).json()
        assert overview.get("data") is None, overview  # never lastSeq 0 (replay everything)
        assert overview["errors"][0]["extensions"]["code"] == "DATABASE_UNAVAILABLE"
        _no_internals(orjson.dumps(overview).decode())
    mutation = "mutation($e: [JSON!]!) { ingestEvents(events: $e) { accepted } }"
    with _client(long, "ingester") as client:
        answer, elapsed = _timed(
            lambda: client.post(
                "/graphql", json={"query": mutation, "variables": {"e": [log_event("gq", 1)]}}
            )
        )
        assert elapsed <= ANSWER_WITHIN_S
        ext = answer.json()["errors"][0]["extensions"]
        assert ext["code"] == "DATABASE_UNAVAILABLE", answer.text
        assert ext["retryAfter"] == 1
        _assert_503(*_timed(lambda: client.post("/v1/traces", json=OTLP_SPAN)))


def test_killed_neo4j_refuses_with_503_1013_and_codes(
    two_services: tuple[RunningService, RunningService], stoppable_neo4j: Any
) -> None:
    short, long = two_services
    with killed(stoppable_neo4j):
        _check_outage_answers(short, long)
    # Leave a database that has planned the ingest statements again (a restarted JVM
    # plans cold for tens of seconds), so the tests after this one start warm.
    deadline = time.monotonic() + 240
    with _client(long, "ingester") as client:
        while client.post("/v1/events", json=[log_event("rewarm", 1)]).status_code != 200:
            assert time.monotonic() < deadline, "no write stored after the restart"


def test_frozen_neo4j_refuses_with_503_1013_and_codes(
    two_services: tuple[RunningService, RunningService], stoppable_neo4j: Any
) -> None:
    short, long = two_services
    with frozen(stoppable_neo4j):
        _check_outage_answers(short, long)


@pytest.mark.parametrize("protocol", [TRANSPORT_WS, LEGACY_WS])
def test_replay_subscription_in_outage_ends_with_retryable_error(
    service: RunningService, stoppable_neo4j: Any, protocol: str
) -> None:
    messages = asyncio.run(_subscribe_in_outage(service, protocol, lambda: frozen(stoppable_neo4j)))
    assert _subscription_error_code(messages) == "DATABASE_UNAVAILABLE", messages


def _poisoned_apply(original: Any) -> Any:
    """EventWriter._apply that fails with a Cypher error for events whose id says poison."""

    async def apply(
        self: EventWriter, tx: AsyncManagedTransaction, events: Any, *args: Any, **kwargs: Any
    ) -> None:
        if any(str(ev.payload["id"]).startswith("poison") for ev in events):
            await (await tx.run(test_statements.test_cypher("fail_arithmetic"))).consume()
        await original(self, tx, events, *args, **kwargs)

    return apply


def test_statement_error_quarantines_its_batch_and_loses_nothing_else(
    service: RunningService, clean_graph: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(EventWriter, "_apply", _poisoned_apply(EventWriter._apply))
    with service.client("ingester") as client:
        bad = client.post("/v1/events", json=[log_event("poison", 1), log_event("fine", 1)])
        good = client.post("/v1/events", json=[log_event("fine", 2)])
    assert good.status_code == 200
    assert bad.status_code == 207, bad.text
    body = bad.json()
    assert body["accepted"] == 0
    assert [r["id"] for r in body["rejected"]] == ["poison-1", "fine-1"]
    for rejection in body["rejected"]:
        assert "Neo.ClientError.Statement.ArithmeticError" in rejection["error"]
        assert "quarantine" in rejection["error"]
    quarantined = {r["event_id"] for r in fetch(clean_graph, "quarantined")}
    assert {"poison-1", "fine-1"} <= quarantined
    assert stored_ids(clean_graph, {"poison-1", "fine-1", "fine-2"}) == {"fine-2"}


def test_statement_error_while_planning_does_not_block_readiness(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def plan_fails(self: EventWriter, units: object, timeout_s: float | None = None) -> None:
        async with self._driver.session(database=self._database) as session:
            await (await session.run(test_statements.test_cypher("fail_arithmetic"))).consume()

    monkeypatch.setattr(EventWriter, "plan_ahead", plan_fails)
    svc = make_service()
    with svc.client("ingester") as client:
        eventually(
            lambda: client.get("/readyz"),
            until=lambda r: r.status_code == 200,
            timeout=20,
            what="the service ready",
        )
        assert client.post("/v1/events", json=[log_event("planned", 1)]).status_code == 200


def test_dropped_sla_work_is_counted_on_metrics(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(sla_queue_size=1, sla_evaluation_min_gap_s=60)
    runs = [
        {
            "id": f"run-{i}-started",
            "type": "run.started",
            "time": "2026-11-20T02:00:00Z",
            "source": "test",
            "pipeline": "p",
            "run": f"run-{i}",
            "data": {},
        }
        for i in range(3)
    ]
    with svc.client("admin") as client:
        assert client.post("/v1/events", json=runs).status_code == 200
        text = client.get("/metrics").text
    values = {
        line.split(" ")[0]: float(line.split(" ")[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }
    assert values["tracegraph_sla_work_dropped_total"] >= 2
    assert "tracegraph_webhook_alerts_dropped_total" in values
    assert "tracegraph_live_subscribers_dropped_total" in values
