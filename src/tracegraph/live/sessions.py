"""The open WebSocket sessions of this process: caps, and the credential's current state.

A WebSocket authenticates once, in ``connection_init``, but may stay open for hours, so
its credential is re-checked while it lives (issue 14):

- a JWT session is closed with :data:`CLOSE_EXPIRED` (4401) when the token stops being
  accepted (``Principal.expires_at``), by a timer, not by a later housekeeping round;
- every ``recheck_s`` (the API key cache TTL) one read asks the key store, which lives
  in Neo4j, which of the keys behind open sessions are revoked; their sessions are
  closed with :data:`CLOSE_REVOKED` (4403). A revocation made on another replica or
  with ``tracegraph keys revoke`` is seen the same way as one made here, so no replica
  depends on a signal only the revoking process holds.

Each replica caps its own sockets, in total and per principal (each socket costs a file
descriptor and buffers, which are per process): over a cap a socket is closed with
:data:`CLOSE_TOO_MANY` (1013, "try again later"). Operations sent on an open socket are
re-authorised by the API layer (``tracegraph.api.graphql.ws_auth``) before they run.

Pure asyncio: sockets are reached through :class:`SessionSocket`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import structlog

from tracegraph.auth import Principal
from tracegraph.background import BackgroundTask

log = structlog.get_logger(__name__)

CLOSE_EXPIRED = 4401  # the credential expired: sign in again
CLOSE_REVOKED = 4403  # the credential is refused now (revoked key)
CLOSE_TOO_MANY = 1013  # a connection cap: try again later (RFC 6455 "Try Again Later")


class SessionRefused(Exception):
    """A socket may not open (a cap); close it with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class SessionSocket(Protocol):
    def end_session(self, code: int, reason: str) -> None:
        """Close the socket with ``code``; must not block (the caller is a timer)."""


class KeyStates(Protocol):
    async def revoked_among(self, ids: Sequence[str]) -> set[str]: ...


class Session:
    """One open socket; ``principal`` is set once ``connection_init`` authenticated it."""

    __slots__ = ("_expiry", "principal", "socket")

    def __init__(self, socket: SessionSocket) -> None:
        self.socket = socket
        self.principal: Principal | None = None
        self._expiry: asyncio.TimerHandle | None = None


def _owner(principal: Principal) -> str:
    return f"{principal.kind}:{principal.subject or principal.actor}"


class Sessions:
    def __init__(
        self,
        keys: KeyStates,
        forget_key: Callable[[str], None],
        *,
        max_total: int,
        max_per_principal: int,
        recheck_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._forget_key = forget_key
        self._max_total = max_total
        self._max_per_principal = max_per_principal
        self._recheck_s = max(recheck_s, 0.1)
        self._clock = clock
        self._open: set[Session] = set()
        self._by_owner: dict[str, set[Session]] = {}
        self._task = BackgroundTask("tracegraph-ws-sessions", self._recheck_loop)
        self.closed_expired = 0
        self.closed_revoked = 0
        self.refused = 0

    @property
    def open_count(self) -> int:
        return len(self._open)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        for session in self._open:
            if session._expiry is not None:
                session._expiry.cancel()

    # -- admission ---------------------------------------------------------------------

    def open(self, socket: SessionSocket) -> Session:
        """A new socket (before connection_init); refused over the replica's total."""
        if len(self._open) >= self._max_total:
            self.refused += 1
            raise SessionRefused(
                CLOSE_TOO_MANY,
                f"too many WebSockets on this replica (max {self._max_total}); retry later",
            )
        session = Session(socket)
        self._open.add(session)
        return session

    def sign_in(self, session: Session, principal: Principal) -> None:
        """Bind an authenticated principal; refused over its per-principal cap."""
        owner = _owner(principal)
        mine = self._by_owner.setdefault(owner, set())
        if len(mine) >= self._max_per_principal:
            if not mine:
                del self._by_owner[owner]
            self.refused += 1
            raise SessionRefused(
                CLOSE_TOO_MANY,
                f"too many WebSockets per principal (max {self._max_per_principal}); "
                "close some or retry later",
            )
        mine.add(session)
        session.principal = principal
        if principal.expires_at is not None:
            delay = max(0.0, principal.expires_at - self._clock())
            session._expiry = asyncio.get_running_loop().call_later(delay, self._expire, session)

    def release(self, session: Session) -> None:
        """The socket is gone: forget it (idempotent)."""
        self._open.discard(session)
        if session._expiry is not None:
            session._expiry.cancel()
            session._expiry = None
        principal, session.principal = session.principal, None
        if principal is not None:
            owner = _owner(principal)
            mine = self._by_owner.get(owner)
            if mine is not None:
                mine.discard(session)
                if not mine:
                    del self._by_owner[owner]

    # -- the credential's current state ----------------------------------------------

    def _expire(self, session: Session) -> None:
        session._expiry = None
        if session in self._open:
            self.closed_expired += 1
            session.socket.end_session(CLOSE_EXPIRED, "credential expired; sign in again")

    async def _recheck_loop(self) -> None:
        while True:
            await asyncio.sleep(self._recheck_s)
            # A failed read (Neo4j unavailable) keeps the sessions: the next round retries,
            # and no new operation runs meanwhile without a fresh authentication.
            with contextlib.suppress(Exception):
                await self.recheck_keys()

    async def recheck_keys(self) -> int:
        """Close the sessions of revoked keys; how many were closed."""
        by_key: dict[str, list[Session]] = {}
        for session in self._open:
            p = session.principal
            if p is not None and p.kind == "api_key" and p.subject:
                by_key.setdefault(p.subject, []).append(session)
        if not by_key:
            return 0
        try:
            revoked = await self._keys.revoked_among(sorted(by_key))
        except Exception as exc:
            log.warning("could not re-check the keys of open WebSockets", error=str(exc))
            raise
        closed = 0
        for key_id in revoked:
            self._forget_key(key_id)  # new requests here re-read it too
            for session in by_key[key_id]:
                if session in self._open:
                    closed += 1
                    session.socket.end_session(CLOSE_REVOKED, "API key revoked")
        self.closed_revoked += closed
        return closed
