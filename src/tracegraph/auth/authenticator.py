"""Turns a presented credential (API key or JWT) into a :class:`Principal`.

Verified keys are cached for a few seconds so a request costs no database read; a
burst of requests with one uncached key shares a single read (no stampede on the
database when an entry lapses), and ``last_used_at`` is written in the background at
most once per interval per key.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import structlog

from tracegraph.auth.api_keys import looks_like_api_key, secret_matches, split_api_key
from tracegraph.auth.errors import AuthenticationError
from tracegraph.auth.jwt_verifier import JwtVerifier
from tracegraph.auth.principal import Principal
from tracegraph.auth.roles import Role
from tracegraph.auth.scopes import WriteScope

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class StoredKey:
    id: str
    name: str
    role: Role
    hash: str
    revoked: bool
    write_scope: WriteScope | None = None


class KeyLookup(Protocol):
    async def get(self, key_id: str) -> StoredKey | None:
        """The stored key, or None; raises CredentialsUnavailable when it cannot answer."""
        ...

    async def touch(self, used: Sequence[tuple[str, datetime]]) -> None: ...


class Authenticator:
    def __init__(
        self,
        keys: KeyLookup,
        jwts: JwtVerifier,
        cache_ttl_s: float = 5.0,
        touch_interval_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = keys
        self._jwts = jwts
        self._ttl = cache_ttl_s
        self._touch_interval = touch_interval_s
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, StoredKey | None]] = {}
        self._reading: dict[str, asyncio.Future[StoredKey | None]] = {}
        # Bumped by forget(): a read that began before it must not refill the cache.
        self._forgotten: dict[str, int] = {}
        self._touched: dict[str, float] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def authenticate(self, credential: str | None) -> Principal:
        if not credential:
            raise AuthenticationError(
                "authentication required: send 'Authorization: Bearer <API key or JWT>'"
            )
        if looks_like_api_key(credential):
            return await self._api_key(credential)
        if not self._jwts.enabled:
            raise AuthenticationError("not a valid API key (JWT sign-in is not configured)")
        return await self._jwts.verify(credential)

    def forget(self, key_id: str) -> None:
        """Drop a cached key at once (after a revocation on this replica)."""
        self._cache.pop(key_id, None)
        self._reading.pop(key_id, None)  # a read under way may predate the revocation
        self._forgotten[key_id] = self._forgotten.get(key_id, 0) + 1

    async def _api_key(self, text: str) -> Principal:
        parts = split_api_key(text)
        if parts is None:
            raise AuthenticationError("malformed API key (expected tg_<id>_<secret>)")
        key_id, secret = parts
        stored = await self._stored(key_id)
        # One message for unknown, wrong and revoked keys: no oracle for key ids.
        if stored is None or stored.revoked or not secret_matches(secret, stored.hash):
            raise AuthenticationError("invalid or revoked API key")
        self._note_use(key_id)
        return Principal(
            actor=f"key:{stored.name}",
            roles=frozenset({stored.role}),
            kind="api_key",
            subject=stored.id,
            write_scope=stored.write_scope,
        )

    async def _stored(self, key_id: str) -> StoredKey | None:
        now = self._monotonic()
        cached = self._cache.get(key_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        reading = self._reading.get(key_id)
        if reading is None:
            reading = asyncio.ensure_future(self._read(key_id))
            self._reading[key_id] = reading
            reading.add_done_callback(lambda done: self._read_done(key_id, done))
        # Shielded: a request that gives up (its client left) does not end the read
        # the others wait for.
        return await asyncio.shield(reading)

    async def _read(self, key_id: str) -> StoredKey | None:
        forgotten = self._forgotten.get(key_id, 0)
        stored = await self._keys.get(key_id)
        if self._forgotten.get(key_id, 0) != forgotten:
            return stored  # revoked meanwhile: answer this request, cache nothing
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[key_id] = (self._monotonic() + self._ttl, stored)
        return stored

    def _read_done(self, key_id: str, done: asyncio.Future[StoredKey | None]) -> None:
        if self._reading.get(key_id) is done:
            del self._reading[key_id]
        if not done.cancelled():
            done.exception()  # retrieved even when every waiter gave up

    def _note_use(self, key_id: str) -> None:
        now = self._monotonic()
        if now - self._touched.get(key_id, -1e18) < self._touch_interval:
            return
        self._touched[key_id] = now
        self._spawn(self._keys.touch([(key_id, datetime.now(UTC))]))

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as exc:  # last-used time is best effort, never a request error
                log.warning("could not record API key use", error=str(exc))

        task = asyncio.create_task(run())
        self._background.add(task)
        task.add_done_callback(self._background.discard)
