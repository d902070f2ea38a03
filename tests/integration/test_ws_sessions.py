"""WebSocket sessions per replica: capped per principal and in total, refused cleanly."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.support.eventually import eventually_async
from tests.support.live import TRANSPORT_WS, ws_url

TOO_MANY = 1013  # "try again later" (RFC 6455): a cap, not a bad credential


async def _init(svc: Any, role: str) -> tuple[ClientConnection, dict[str, Any] | int]:
    """A socket after connection_init: the ack, or the close code it was refused with."""
    ws = await connect(ws_url(svc), subprotocols=[TRANSPORT_WS])
    init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {svc.key(role)}"}}
    try:
        await ws.send(orjson.dumps(init).decode())
        return ws, orjson.loads(await asyncio.wait_for(ws.recv(), 10))
    except ConnectionClosed as exc:
        return ws, exc.rcvd.code if exc.rcvd else -1


async def _wait_open_sessions(svc: Any, n: int) -> None:
    sessions = svc.app.state.services.ws_sessions
    # The count lives on the service's loop (another thread): poll it.
    await eventually_async(
        lambda: sessions.open_count, until=lambda count: count == n, what=f"{n} open sessions"
    )


async def test_sockets_are_capped_per_principal_and_in_total(
    clean_graph: Any, make_service: Any
) -> None:
    svc = make_service(ws_max_connections_per_principal=3, ws_max_connections=5)
    opened: list[ClientConnection] = []
    try:
        for _ in range(3):
            ws, answer = await _init(svc, "viewer")
            opened.append(ws)
            assert isinstance(answer, dict) and answer["type"] == "connection_ack", answer
        ws, answer = await _init(svc, "viewer")
        assert answer == TOO_MANY, answer
        assert "per principal" in (ws.close_reason or ""), ws.close_reason
        # Another principal still gets in, up to the replica's total.
        for _ in range(2):
            ws, answer = await _init(svc, "reviewer")
            opened.append(ws)
            assert isinstance(answer, dict) and answer["type"] == "connection_ack", answer
        ws, answer = await _init(svc, "admin")
        assert answer == TOO_MANY, answer
        assert "this replica" in (ws.close_reason or ""), ws.close_reason
        # Closing one frees its slot (for its principal and in total).
        await opened.pop(0).close()
        await _wait_open_sessions(svc, 4)
        ws, answer = await _init(svc, "viewer")
        opened.append(ws)
        assert isinstance(answer, dict) and answer["type"] == "connection_ack", answer
    finally:
        for ws in opened:
            await ws.close()
    await _wait_open_sessions(svc, 0)
