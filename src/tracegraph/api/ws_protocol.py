"""uvicorn's WebSocket protocol with bounded send buffers and a final word for slow clients.

With stock settings a client that stops reading soaks up megabytes before anything
pushes back (the kernel grows a socket's send buffer up to ``tcp_wmem``, 4 MiB here,
and the client's receive buffer further), so a close sent when the client is found too
slow sits behind all of it, and uvicorn's keepalive ping, queued behind the same data,
times out first and cuts the connection (1011) without the reason. This protocol:

- caps the kernel send buffer (``SO_SNDBUF``) and asyncio's write buffer of each
  socket, so the data in flight to a client that stopped reading is small;
- tells the application when the socket is not draining (:meth:`backlogged`,
  :meth:`wait_writable`), through ``scope["extensions"]["tracegraph.socket"]``;
- lets it send its last messages and a close frame *now* (:meth:`send_final`), without
  waiting for the buffer to drain: they go right behind what is already in flight, and
  the connection is dropped if the client has not read them within ``final_grace_s``.

``tracegraph serve`` and the test harness run uvicorn with :func:`protocol_class`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from asyncio import BaseTransport
from collections.abc import Sequence
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from tracegraph.settings import Settings

SCOPE_KEY = "tracegraph.socket"


class BoundedWebSocketProtocol(WebSocketsSansIOProtocol):
    send_buffer_bytes = 128 * 1024
    final_grace_s = 60.0

    def connection_made(self, transport: BaseTransport) -> None:
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.send_buffer_bytes)
        with contextlib.suppress(AttributeError, NotImplementedError):
            self.transport.set_write_buffer_limits(high=self.send_buffer_bytes)

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            scope.setdefault("extensions", {})[SCOPE_KEY] = self

    # -- what the application may ask ----------------------------------------------

    @property
    def backlogged(self) -> bool:
        """The client is not reading fast enough: the write buffer is over its limit."""
        return not self.writable.is_set()

    async def wait_writable(self, timeout_s: float) -> bool:
        """True once the socket drains (or is gone), False after ``timeout_s``."""
        try:
            await asyncio.wait_for(self.writable.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def send_final(self, texts: Sequence[str], code: int, reason: str) -> bool:
        """Queue ``texts`` and a close frame at once, past the buffer limit; False if the
        connection is already closing. The application sees a disconnect next."""
        if self.close_sent or self.disconnected or self.transport.is_closing():
            return False
        for text in texts:
            self.conn.send_text(text.encode())
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        # The client's close echo ends it cleanly (handle_close); a client that never
        # reads again is dropped, so it holds no buffers or descriptor for ever.
        self.close_timer = self.loop.call_later(self.final_grace_s, self.transport.abort)
        return True


def protocol_class(settings: Settings) -> type[BoundedWebSocketProtocol]:
    """The protocol with this service's buffer and grace settings."""
    return type(
        "TracegraphWebSocketProtocol",
        (BoundedWebSocketProtocol,),
        {
            "send_buffer_bytes": settings.ws_send_buffer_bytes,
            "final_grace_s": settings.ws_final_grace_s,
        },
    )


def socket_of(scope: Any) -> BoundedWebSocketProtocol | None:
    """The protocol behind an ASGI WebSocket scope, when it is this one."""
    extensions = scope.get("extensions") if isinstance(scope, dict) else None
    found = (extensions or {}).get(SCOPE_KEY)
    return found if isinstance(found, BoundedWebSocketProtocol) else None


def uvicorn_ws_options(settings: Settings) -> dict[str, Any]:
    """The WebSocket keyword arguments of ``uvicorn.run`` / ``uvicorn.Config``."""
    return {
        "ws": protocol_class(settings),
        "ws_max_size": settings.ws_max_message_bytes,
        "ws_ping_interval": settings.ws_ping_interval_s,
        "ws_ping_timeout": settings.ws_ping_timeout_s,
    }
