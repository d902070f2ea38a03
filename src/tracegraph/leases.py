"""Background duties that run on one replica at a time (issue 20, docs/deployment.md).

A :class:`DutyLease` keeps trying to take (and, once held, renews every third of
``ttl_s``) a lease stored in Neo4j. While it holds the lease it runs the duty (starts
it on gain, stops it on loss); another replica takes over once the lease runs out, at
most ``ttl_s`` after the holder died. The lease's token grows on every takeover and the
duty's writes carry it (:meth:`DutyLease.fence`), so a holder that was paused past its
lease (a long GC, a frozen VM) finds its writes refused by the database.

Locally a holder counts the lease as held until ``ttl_s`` after the renewal started
(a little before the database's expiry): :attr:`held` turns false without a database
answer, so the duty stops acting (no webhook is sent) even when Neo4j is unreachable.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import structlog

from tracegraph.background import BackgroundTask
from tracegraph.store.errors import error_code

log = structlog.get_logger(__name__)


class LeaseBackend(Protocol):
    async def acquire(
        self, name: str, holder: str, token: int | None, ttl_s: float
    ) -> int | None: ...

    async def release(self, name: str, holder: str, token: int) -> None: ...


class DutyLease:
    def __init__(
        self,
        backend: LeaseBackend,
        name: str,
        *,
        ttl_s: float,
        on_gain: Callable[[], Awaitable[None] | None],
        on_loss: Callable[[], Awaitable[None] | None],
        holder: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._backend = backend
        self.name = name
        self.holder = holder or uuid.uuid4().hex
        self._ttl_s = ttl_s
        self._on_gain = on_gain
        self._on_loss = on_loss
        self._clock = clock
        self.token: int | None = None
        self._valid_until = 0.0
        self._running = False  # the duty is started
        self.takeovers = 0
        self._task = BackgroundTask(f"lease-{name}", self._loop)

    @property
    def held(self) -> bool:
        return self.token is not None and self._clock() < self._valid_until

    def fence(self) -> dict[str, Any]:
        """What fenced writes check: refused unless this is the lease's current token."""
        return {"name": self.name, "holder": self.holder, "token": self.token if self.held else -1}

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        await self._set_running(False)
        token, self.token = self.token, None
        if token is not None:
            with contextlib.suppress(Exception):  # it runs out by itself otherwise
                await self._backend.release(self.name, self.holder, token)

    async def _loop(self) -> None:
        while True:
            started = self._clock()
            try:
                token = await self._backend.acquire(self.name, self.holder, self.token, self._ttl_s)
            except Exception as exc:
                log.warning("lease not renewed", lease=self.name, error=error_code(exc))
                token = self.token if self.held else None
            else:
                if token is not None:
                    # Counted from before the request: never later than the database's.
                    self._valid_until = started + self._ttl_s
                    if token != self.token:
                        self.takeovers += 1
                        log.info("lease taken", lease=self.name, token=token)
            self.token = token
            if self._running and not self.held:
                log.warning("lease lost: duty stopped", lease=self.name)
            await self._set_running(self.held)
            # Renew at a third of the lease time; a replica without it tries as often.
            wait = self._ttl_s / 3
            if self.token is not None:
                wait = min(wait, max(0.0, self._valid_until - self._clock()))
            await asyncio.sleep(wait)

    async def _set_running(self, running: bool) -> None:
        if running == self._running:
            return
        self._running = running
        outcome = (self._on_gain if running else self._on_loss)()
        if outcome is not None:
            await outcome
