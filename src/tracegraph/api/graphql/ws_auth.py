"""WebSocket sessions that follow their credential's current state (both subprotocols).

``connection_init`` authenticates the socket (``AuthenticatedGraphQLRouter.on_ws_connect``);
these handlers then keep it honest for as long as it is open:

- every new operation (``subscribe`` / ``start``) re-authenticates the credential first,
  through the same authenticator (and key cache) as HTTP, and runs with the principal it
  yields: an expired JWT closes the socket with 4401, a revoked key with 4403, and the
  operation never runs;
- the socket is registered with :class:`tracegraph.live.sessions.Sessions`, which caps
  sockets per replica and per principal (1013), closes JWT sockets at expiry and closes
  sockets of keys revoked anywhere (it re-reads the key store in Neo4j).

Closing from a timer never waits for a client that stopped reading: the operations stop
at once (no more data is queued) and the close frame gets a bounded wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from graphql import GraphQLFormattedError
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ErrorMessage as TransportErrorMessage,
)
from strawberry.subscriptions.protocols.graphql_ws.types import (
    ErrorMessage as LegacyErrorMessage,
)

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import DATABASE_UNAVAILABLE
from tracegraph.api.graphql.live_ws import LiveTransportWSHandler, LiveWSHandler
from tracegraph.auth.errors import AuthenticationError, CredentialExpired
from tracegraph.live.sessions import (
    CLOSE_EXPIRED,
    CLOSE_REVOKED,
    Session,
    SessionRefused,
    Sessions,
)

log = structlog.get_logger(__name__)

# How long a close frame may wait for a socket that is not draining (a client that
# stopped reading); after that the operations are already stopped and uvicorn's
# keepalive ends the connection.
_CLOSE_WAIT_S = 5.0


class _SessionMixin:
    """What both protocol handlers share: registration, re-authorisation, closing."""

    context: Any
    websocket: Any
    _session: Session | None = None
    _ended: tuple[int, str] | None = None
    _closing: asyncio.Task[None] | None = None

    def _sessions(self) -> Sessions:
        return self.context.services.ws_sessions

    async def handle(self) -> None:
        sessions = self._sessions()
        try:
            self._session = sessions.open(self)
        except SessionRefused as exc:
            await self.websocket.close(code=exc.code, reason=exc.reason)
            return
        # on_ws_connect signs the principal in on this session (per-principal cap).
        self.context.ws_session = self._session
        try:
            # A mixin: the protocol handler after it in the MRO has handle(); mypy cannot
            # see past the mixin's own bases.
            await super().handle()  # type: ignore[misc]
        finally:
            sessions.release(self._session)

    async def _refused_connection_init(self, message: Any) -> bool:
        """Run connection_init; True when a cap refused it (and the socket is closing)."""
        try:
            await super().handle_connection_init(message)  # type: ignore[misc]
        except SessionRefused as exc:
            await self.websocket.close(code=exc.code, reason=exc.reason)
            return True
        return False

    async def _authorised(self, op_id: str) -> bool:
        """Re-authenticate the socket's credential before an operation runs."""
        if self._ended is not None:
            return False  # closing: run nothing more
        ctx = self.context
        try:
            principal = await ctx.services.authenticator.authenticate(ctx.credential)
        except CredentialExpired as exc:
            self.end_session(CLOSE_EXPIRED, f"credential expired; sign in again ({exc})")
            return False
        except AuthenticationError as exc:
            self.end_session(CLOSE_REVOKED, f"credential refused: {exc}")
            return False
        except Exception as exc:
            # The key store cannot be read (Neo4j unavailable): this operation gets a
            # retryable error; the socket stays.
            log.warning("WebSocket operation not authorised; key store unavailable", error=str(exc))
            await self._send_operation_error(op_id, _unavailable(ctx))
            return False
        ctx.principal = principal
        return True

    def end_session(self, code: int, reason: str) -> None:
        """Stop every operation now and close the socket (never blocks the caller)."""
        if self._ended is not None:
            return
        self._ended = (code, reason)
        log.info("WebSocket session closed", code=code, reason=reason)
        for task in self._operation_tasks():
            task.cancel()
        self._closing = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.websocket.close(code=code, reason=reason), _CLOSE_WAIT_S)

    def _operation_tasks(self) -> list[asyncio.Task[Any]]:
        raise NotImplementedError

    async def _send_operation_error(self, op_id: str, error: GraphQLFormattedError) -> None:
        raise NotImplementedError


def _unavailable(ctx: Context) -> GraphQLFormattedError:
    retry_after = ctx.services.settings.retry_after_s
    return {
        "message": "the credential could not be checked (database unavailable); retry",
        "extensions": {"code": DATABASE_UNAVAILABLE, "retryAfter": retry_after},
    }


class SessionTransportWSHandler(_SessionMixin, LiveTransportWSHandler):
    """``graphql-transport-ws`` with sessions that follow their credential."""

    async def handle_connection_init(self, message: Any) -> None:
        await self._refused_connection_init(message)

    async def handle_subscribe(self, message: Any) -> None:
        if self.connection_acknowledged and not await self._authorised(message.get("id")):
            return
        await super().handle_subscribe(message)

    def _operation_tasks(self) -> list[asyncio.Task[Any]]:
        return [op.task for op in self.operations.values() if op.task is not None]

    async def _send_operation_error(self, op_id: str, error: GraphQLFormattedError) -> None:
        await self.send_message(TransportErrorMessage(id=op_id, type="error", payload=[error]))


class SessionWSHandler(_SessionMixin, LiveWSHandler):
    """Legacy ``graphql-ws`` with sessions that follow their credential."""

    async def handle_connection_init(self, message: Any) -> None:
        await self._refused_connection_init(message)

    async def handle_start(self, message: Any) -> None:
        if self.connection_acknowledged and not await self._authorised(message.get("id")):
            return
        await super().handle_start(message)

    def _operation_tasks(self) -> list[asyncio.Task[Any]]:
        return list(self.tasks.values())

    async def _send_operation_error(self, op_id: str, error: GraphQLFormattedError) -> None:
        await self.send_message(LegacyErrorMessage(type="error", id=op_id, payload=error))
