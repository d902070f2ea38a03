"""Per-principal request rate limits (``limits``: in-memory moving windows).

Two buckets, each a ``limits`` string (``"1200/minute"``, or several: ``"50/second;
1200/minute"``): ``read`` (``settings.rate_limit``: GraphQL queries and subscription
starts, REST reads) and ``ingest`` (``settings.ingest_rate_limit``: ``POST /v1/events``,
``/api/v1/lineage``, ``/v1/traces`` and the ``ingestEvents`` mutation). A caller over a
limit gets 429 with ``Retry-After`` (whole seconds until its window frees a slot).

HTTP routes attach :func:`rate_limited` after authentication; GraphQL checks in a schema
extension (:mod:`tracegraph.api.graphql.hardening`) and per WebSocket operation
(:mod:`tracegraph.api.graphql.live_ws`). Counters live in the process: each replica limits on
its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import Response
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.applications import Starlette

from tracegraph.api.authentication import authenticate
from tracegraph.api.json_response import json_response
from tracegraph.auth import Principal
from tracegraph.settings import Settings

Bucket = Literal["read", "ingest"]
BUCKETS: tuple[Bucket, ...] = ("read", "ingest")


class RateLimited(Exception):
    """A principal went over one of its bucket's limits."""

    def __init__(self, bucket: Bucket, limit: RateLimitItem, retry_after_s: int) -> None:
        self.bucket = bucket
        self.limit = limit
        self.retry_after_s = retry_after_s
        super().__init__(
            f"rate limit exceeded: at most {limit} {bucket} requests per principal; "
            f"retry after {retry_after_s} s"
        )


def principal_key(principal: Principal) -> str:
    """What a principal's counters are keyed by: its key id / JWT subject, else actor."""
    return f"{principal.kind}:{principal.subject or principal.actor}"


def parse_limits(text: str, setting: str) -> list[RateLimitItem]:
    try:
        items = parse_many(text)
    except ValueError as exc:
        raise ValueError(
            f"TRACEGRAPH_{setting.upper()}={text!r} is not a rate limit such as '1200/minute' "
            f"or '50/second;1200/minute' ({exc})"
        ) from None
    if not items:
        raise ValueError(f"TRACEGRAPH_{setting.upper()} is empty")
    return items


# How often the windows' old entries are dropped (memory only: a moving window counts
# by the entries' times, whether or not the old ones were dropped yet).
_EXPIRE_EVERY_S = 1.0


class _Storage(MemoryStorage):
    """limits' in-memory storage, dropping old entries on the caller's thread at most once
    a second instead of starting a thread for it. The library starts a new expiry thread
    (a 10 ms timer) on a hit whenever the last one has ended: at tens of requests a
    second nearly every request started one, and ``Thread.start`` waits for the new
    thread to run, blocking the event loop; on the loaded 2-core machine 4.5 s of a 40 s
    profiled command benchmark (bench/commands.py). Few keys (bucket x principal), so
    the sweep is short."""

    def __init__(self) -> None:
        super().__init__()
        self._next_sweep = time.monotonic() + _EXPIRE_EVERY_S

    def _MemoryStorage__schedule_expiry(self) -> None:  # the library's hook, name-mangled
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + _EXPIRE_EVERY_S
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


class RateLimits:
    """The limiter of one app: moving windows per (bucket, principal)."""

    def __init__(self, settings: Settings) -> None:
        self._limiter = MovingWindowRateLimiter(_Storage())
        self._items: dict[Bucket, list[RateLimitItem]] = {
            "read": parse_limits(settings.rate_limit, "rate_limit"),
            "ingest": parse_limits(settings.ingest_rate_limit, "ingest_rate_limit"),
        }

    def hit(self, bucket: Bucket, principal: Principal) -> None:
        """Count one request, or raise :class:`RateLimited` (the request is not counted)."""
        key = principal_key(principal)
        items = self._items[bucket]
        for item in items:
            if not self._limiter.test(item, bucket, key):
                raise RateLimited(bucket, item, self._retry_after(item, bucket, key))
        for item in items:
            if not self._limiter.hit(item, bucket, key):  # lost a race with another hit
                raise RateLimited(bucket, item, self._retry_after(item, bucket, key))

    def _retry_after(self, item: RateLimitItem, bucket: Bucket, key: str) -> int:
        stats = self._limiter.get_window_stats(item, bucket, key)
        return max(1, math.ceil(stats.reset_time - time.time()))


def rate_limits_of(app: Starlette) -> RateLimits:
    """The app's limiter (created with the app by :func:`install_rate_limits`)."""
    limits: RateLimits = app.state.rate_limits
    return limits


def rate_limited(bucket: Bucket) -> Callable[[Request], Awaitable[None]]:
    """FastAPI dependency counting the request against the caller's ``bucket``.

    Attach it after the authentication dependency (``require(...)``), which leaves the
    principal on ``request.state.principal``; without one it authenticates here first,
    so an unauthenticated request is answered 401, never 429.
    """
    if bucket not in BUCKETS:
        raise ValueError(f"unknown rate-limit bucket {bucket!r}; use one of {BUCKETS}")

    async def dependency(request: Request) -> None:
        principal = getattr(request.state, "principal", None)
        if principal is None:
            principal = request.state.principal = await authenticate(request)
        rate_limits_of(request.app).hit(bucket, principal)

    dependency.__name__ = f"rate_limited_{bucket}"
    return dependency


def rate_limited_response(exc: RateLimited) -> Response:
    return json_response(
        {"error": str(exc), "retry_after_s": exc.retry_after_s},
        status_code=429,
        headers={"Retry-After": str(exc.retry_after_s)},
    )


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    """Create the app's limiter and answer :class:`RateLimited` with 429 + Retry-After."""
    app.state.rate_limits = RateLimits(settings)

    @app.exception_handler(RateLimited)
    async def _rate_limited(_: Request, exc: RateLimited) -> Response:
        return rate_limited_response(exc)
