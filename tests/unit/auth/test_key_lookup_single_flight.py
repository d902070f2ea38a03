"""A burst of requests with one uncached key reads it from the database once, not once
per request (a dashboard opening many sockets and queries at once, or every client of a
key right after its cache entry lapsed during an outage, each stampeded the database)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

import pytest

from tracegraph.auth.api_keys import new_api_key
from tracegraph.auth.authenticator import Authenticator, StoredKey
from tracegraph.auth.errors import AuthenticationError
from tracegraph.auth.jwt_verifier import JwtConfig, JwtVerifier
from tracegraph.auth.roles import Role


class _Keys:
    """The key store's lookup, answering when released (a slow database)."""

    def __init__(self, stored: StoredKey | None, fail: bool = False) -> None:
        self.stored = stored
        self.fail = fail
        self.reads = 0
        self.release = asyncio.Event()

    async def get(self, key_id: str) -> StoredKey | None:
        self.reads += 1
        answer = self.stored  # what the database held when the read began
        await self.release.wait()
        if self.fail:
            raise ConnectionError("database down")
        return answer

    async def touch(self, used: Sequence[tuple[str, datetime]]) -> None:
        return None


def _key() -> tuple[str, StoredKey]:
    issued = new_api_key()
    return issued.text, StoredKey(issued.id, "k", Role.VIEWER, issued.hash, revoked=False)


async def test_concurrent_requests_with_one_key_read_it_once() -> None:
    text, stored = _key()
    keys = _Keys(stored)
    auth = Authenticator(keys, JwtVerifier(JwtConfig()))
    requests = [asyncio.create_task(auth.authenticate(text)) for _ in range(50)]
    await asyncio.sleep(0.01)
    keys.release.set()
    principals = await asyncio.gather(*requests)
    assert keys.reads == 1
    assert {p.actor for p in principals} == {"key:k"}


async def test_a_failed_read_fails_every_waiter_and_the_next_request_reads_again() -> None:
    text, stored = _key()
    keys = _Keys(stored, fail=True)
    auth = Authenticator(keys, JwtVerifier(JwtConfig()))
    requests = [asyncio.create_task(auth.authenticate(text)) for _ in range(5)]
    await asyncio.sleep(0.01)
    keys.release.set()
    results = await asyncio.gather(*requests, return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert keys.reads == 1
    keys.fail = False
    assert (await auth.authenticate(text)).actor == "key:k"
    assert keys.reads == 2


async def test_a_request_that_gives_up_does_not_cancel_the_others() -> None:
    text, stored = _key()
    keys = _Keys(stored)
    auth = Authenticator(keys, JwtVerifier(JwtConfig()))
    first = asyncio.create_task(auth.authenticate(text))
    second = asyncio.create_task(auth.authenticate(text))
    await asyncio.sleep(0.01)
    first.cancel()
    keys.release.set()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (await second).actor == "key:k"
    assert keys.reads == 1


async def test_a_read_under_way_when_the_key_is_revoked_does_not_cache_it_as_valid() -> None:
    text, stored = _key()
    keys = _Keys(stored)
    auth = Authenticator(keys, JwtVerifier(JwtConfig()))
    before = asyncio.create_task(auth.authenticate(text))
    await asyncio.sleep(0.01)
    # Revoked on this replica while the read is under way.
    keys.stored = StoredKey(stored.id, stored.name, stored.role, stored.hash, revoked=True)
    auth.forget(stored.id)
    keys.release.set()
    await before  # it started before the revocation
    with pytest.raises(AuthenticationError):
        await auth.authenticate(text)
    assert keys.reads == 2
