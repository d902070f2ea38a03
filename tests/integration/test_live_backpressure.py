"""A subscriber that stops reading is closed with a clear reason; ingestion goes on."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Callable

import orjson
from neo4j import Driver
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import RunningService
from tests.support.live import (
    EVENTS_QUERY,
    EVENTS_SUB,
    TRANSPORT_WS,
    log_event,
    post,
    session,
    stored_seqs,
    take,
    unique,
    until_subscribed,
    ws_url,
)

QUEUE = 20
BIG = "x" * 48_000  # big events fill the socket buffers quickly


async def _subscribe_raw(url: str, variables: dict, key: str) -> object:
    """A graphql-transport-ws client that will not read: tiny buffers, no read-ahead."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    sock.connect((host, int(port)))
    ws = await connect(url, sock=sock, subprotocols=[TRANSPORT_WS], max_queue=1, compression=None)
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
    await ws.send(orjson.dumps(init).decode())
    assert orjson.loads(await ws.recv())["type"] == "connection_ack"
    payload = {"query": EVENTS_QUERY, "variables": variables}
    message = {"id": "1", "type": "subscribe", "payload": payload}
    await ws.send(orjson.dumps(message).decode())
    return ws


async def test_slow_subscriber_is_closed_with_resume_point_and_ingest_continues(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(subscriber_queue_size=QUEUE)
    pipe = unique("slow")
    total = 300
    ws = await _subscribe_raw(ws_url(svc), {"after": 0, "pipeline": pipe}, svc.key("viewer"))
    try:
        async with (
            svc.async_client() as http,
            session(svc) as fast_sess,
        ):
            fast = asyncio.create_task(
                take(fast_sess, EVENTS_SUB, {"after": 0, "pipeline": pipe}, total, within_s=120)
            )
            await until_subscribed(svc, 2)  # the slow raw socket and the fast client
            slowest = 0.0
            for start in range(0, total, 5):
                t0 = time.monotonic()
                await post(http, [log_event(pipe, i, blob=BIG) for i in range(start, start + 5)])
                slowest = max(slowest, time.monotonic() - t0)
            # Ingestion never waited for the stuck client; a healthy one got everything.
            assert slowest < 10
            fast_seqs = [r["events"]["seq"] for r in await fast]
            assert fast_seqs == stored_seqs(clean_graph, pipe)

            # The stuck client now reads what it was sent: some events, then the reason.
            received: list[int] = []
            error = None
            while error is None:
                msg = orjson.loads(await asyncio.wait_for(ws.recv(), 30))  # type: ignore[attr-defined]
                assert msg["type"] == "next", msg
                payload = msg["payload"]
                if payload.get("errors"):
                    error = payload["errors"][0]
                else:
                    received.append(payload["data"]["events"]["seq"])
            done = orjson.loads(await asyncio.wait_for(ws.recv(), 30))  # type: ignore[attr-defined]
            assert done == {"id": "1", "type": "complete"}
            assert len(received) < total
            match = re.fullmatch(
                rf"subscriber fell more than {QUEUE} events behind; resume with afterSeq=(\d+)",
                error["message"],
            )
            assert match, error
            resume = int(match.group(1))
            assert error["extensions"] == {"code": "SUBSCRIBER_TOO_SLOW", "resumeAfterSeq": resume}
            # Everything up to the resume point was delivered, nothing after it.
            assert received == [s for s in fast_seqs if s <= resume]

            # Resuming from there gives the rest: no gap, no duplicate.
            rest_n = len([s for s in fast_seqs if s > resume])
            async with session(svc) as again:
                rest = await take(again, EVENTS_SUB, {"after": resume, "pipeline": pipe}, rest_n)
            assert received + [r["events"]["seq"] for r in rest] == fast_seqs
    finally:
        with contextlib.suppress(Exception):
            await ws.close()  # type: ignore[attr-defined]


async def test_client_that_stops_reading_gets_its_resume_point_before_little_data(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    """A raw client with ordinary buffers stops reading while events flood in, and stays
    silent longer than the keepalive allows. When it reads again, the resume point comes
    behind a bounded amount of data (not megabytes), then a 4008 close — not uvicorn's
    keepalive cut (1011) — and resuming from it misses nothing."""
    svc = make_service(
        subscriber_queue_size=QUEUE,
        ws_send_buffer_bytes=64 * 1024,
        ws_stall_timeout_s=1.0,
        ws_ping_interval_s=1.0,
        ws_ping_timeout_s=1.0,
    )
    pipe = unique("stalled")
    url = ws_url(svc)
    # max_queue=1: the client library stops reading the socket once one message waits.
    ws = await connect(url, subprotocols=[TRANSPORT_WS], max_queue=1, compression=None)
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {svc.key()}"}}
    await ws.send(orjson.dumps(init).decode())
    assert orjson.loads(await ws.recv())["type"] == "connection_ack"
    payload = {"query": EVENTS_QUERY, "variables": {"after": 0, "pipeline": pipe}}
    await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
    hub = svc.app.state.services.hub
    await until_subscribed(svc, 1)
    posted = 0
    async with svc.async_client() as http:
        # Flood until the service gives up on the silent subscriber (at most 600 events).
        while hub.subscriber_count and posted < 600:
            await post(http, [log_event(pipe, i, blob=BIG) for i in range(posted, posted + 5)])
            posted += 5
    assert hub.subscriber_count == 0, "the silent subscriber was never closed"
    # On purpose: silent for longer than two keepalive rounds (ping interval + timeout),
    # the behaviour under test (the server must not drop it for that while it drains).
    await asyncio.sleep(5)

    received: list[int] = []
    data_bytes = 0
    error = None
    try:
        while error is None:
            text = await asyncio.wait_for(ws.recv(), 30)
            msg = orjson.loads(text)
            assert msg["type"] == "next", msg
            if msg["payload"].get("errors"):
                error = msg["payload"]["errors"][0]
            else:
                data_bytes += len(text)
                received.append(msg["payload"]["data"]["events"]["seq"])
        # The resume point was not stuck behind megabytes of unsent events.
        assert data_bytes < 1024 * 1024, (data_bytes, len(received))
        done = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        assert done == {"id": "1", "type": "complete"}
        with contextlib.suppress(ConnectionClosed, TimeoutError):
            await asyncio.wait_for(ws.recv(), 10)
    except ConnectionClosed as exc:
        raise AssertionError(
            f"cut before the resume point: {exc.rcvd}; {len(received)} events read"
        ) from exc
    # Then the socket closes with its own code (the client reconnects and resumes).
    assert ws.close_code == 4008, (ws.close_code, ws.close_reason)
    match = re.fullmatch(
        r"subscriber (stopped reading for [\d.]+ s|fell more than \d+ events behind); "
        r"resume with afterSeq=(\d+)",
        error["message"],
    )
    assert match, error
    resume = int(match.group(2))
    assert error["extensions"] == {"code": "SUBSCRIBER_TOO_SLOW", "resumeAfterSeq": resume}
    stored = stored_seqs(clean_graph, pipe)
    assert received == [s for s in stored if s <= resume]
    rest_n = len([s for s in stored if s > resume])
    async with session(svc) as again:
        rest = await take(again, EVENTS_SUB, {"after": resume, "pipeline": pipe}, rest_n)
    assert received + [r["events"]["seq"] for r in rest] == stored
