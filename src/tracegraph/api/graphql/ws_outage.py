"""WebSockets opened while the credential cannot be checked: closed with 1013.

``connection_init`` authenticates the socket. When the key store does not answer (Neo4j
down or frozen and the key not cached), that is no refusal (4403) and no reason to leave
the client waiting for an acknowledgement that never comes: the socket is closed with
1013 "try again later" (RFC 6455), which clients treat as retryable. The legacy
``graphql-ws`` protocol first gets a ``connection_error`` with code
``DATABASE_UNAVAILABLE`` and ``retryAfter``.
"""

from __future__ import annotations

from typing import Any

from tracegraph.api.graphql.errors import DATABASE_UNAVAILABLE
from tracegraph.api.graphql.ws_auth import SessionTransportWSHandler, SessionWSHandler

TRY_AGAIN_LATER = 1013


class TryAgainLater(Exception):
    """Raised by ``on_ws_connect`` when the credential cannot be checked now."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def _reason(exc: TryAgainLater) -> str:
    return str(exc)[:120]  # a close reason holds at most 123 bytes


class OutageTransportWSHandler(SessionTransportWSHandler):
    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except TryAgainLater as exc:
            await self.websocket.close(code=TRY_AGAIN_LATER, reason=_reason(exc))


class OutageWSHandler(SessionWSHandler):
    async def handle_connection_init(self, message: Any) -> None:
        try:
            await super().handle_connection_init(message)
        except TryAgainLater as exc:
            extensions = {"code": DATABASE_UNAVAILABLE, "retryAfter": exc.retry_after_s}
            await self.send_message(
                {
                    "type": "connection_error",
                    "payload": {"message": str(exc), "extensions": extensions},
                }
            )
            await self.websocket.close(code=TRY_AGAIN_LATER, reason=_reason(exc))
