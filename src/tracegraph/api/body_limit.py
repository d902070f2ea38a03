"""Request body limits for one path (``/graphql``): 413 with a JSON error.

Checked twice: on ``Content-Length`` before the app runs, and on the bytes actually
received, so a chunked (streamed) body cannot slip past by leaving the header out.
"""

from __future__ import annotations

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: bodies of ``POST``/``PUT``/``PATCH`` to ``path`` over ``max_bytes``
    are refused with 413 ``{"error": ...}``."""

    def __init__(self, app: ASGIApp, path: str, max_bytes: int) -> None:
        self.app = app
        self.path = path.rstrip("/") or "/"
        self.max_bytes = max_bytes

    def _applies(self, scope: Scope) -> bool:
        return (
            scope["type"] == "http"
            and scope.get("method") in ("POST", "PUT", "PATCH")
            and (scope["path"].rstrip("/") or "/") == self.path
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._applies(scope):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                await self._refuse(send, 400, "Content-Length is not a number")
                return
            if too_big:
                await self._refuse(send, 413, self._message(f"{int(declared)} bytes"))
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if started:
                raise
            await self._refuse(send, 413, self._message(f"more than {self.max_bytes} bytes"))

    def _message(self, size: str) -> str:
        return f"request body too large: {size} sent to {self.path}, the limit is {self.max_bytes}"

    @staticmethod
    async def _refuse(send: Send, status: int, message: str) -> None:
        body = orjson.dumps({"error": message})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
