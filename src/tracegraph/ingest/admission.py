"""Admission control for ingestion: what a principal may have in flight, decided before
the work is done.

An ingest request costs in proportion to its events and bytes, not to its being a
request: one key's six concurrent 5,000-event batches were within a request limit while
they filled the writer's queue, held hundreds of MB and kept every other ingester
waiting. So each principal (its actor) gets, per replica:

- an **event rate** (``TRACEGRAPH_INGEST_EVENT_RATE_LIMIT``, ``limits`` notation,
  sliding-window counters weighted by the request's event count);
- a cap on **events in flight** (``TRACEGRAPH_MAX_PENDING_EVENTS_PER_PRINCIPAL``):
  admitted and not yet answered, i.e. validating, queued or being committed;
- a cap on **request bytes in flight** (``TRACEGRAPH_MAX_INFLIGHT_BYTES_PER_PRINCIPAL``),
  charged from ``Content-Length`` before the body is read (or chunk by chunk when the
  length is not declared) and held until the response;

and all principals together share ``TRACEGRAPH_MAX_PENDING_EVENTS`` events and
``TRACEGRAPH_MAX_INFLIGHT_BYTES`` bytes in flight. Over any of them the request gets
:class:`Overloaded` (429 with ``Retry-After``) before it is read, validated or queued.
Every budget is the process's own: each replica protects its memory and its writer.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections import Counter
from collections.abc import Callable, Iterator

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from tracegraph.heap_trim import HeapTrimmer
from tracegraph.ingest.errors import Overloaded

ANONYMOUS = "anonymous"


def parse_event_rate(text: str, max_batch_events: int) -> list[RateLimitItem]:
    """The event-rate limits; each must admit at least one full batch, or a request the
    size limits allow could never pass (and its client would retry forever)."""
    try:
        items = parse_many(text)
    except ValueError as exc:
        raise ValueError(
            f"TRACEGRAPH_INGEST_EVENT_RATE_LIMIT={text!r} is not a rate such as "
            f"'120000/minute' ({exc})"
        ) from None
    if not items:
        raise ValueError("TRACEGRAPH_INGEST_EVENT_RATE_LIMIT is empty")
    for item in items:
        if item.amount < max_batch_events:
            raise ValueError(
                f"TRACEGRAPH_INGEST_EVENT_RATE_LIMIT={text!r}: {item} admits fewer events than "
                f"one request may carry (TRACEGRAPH_MAX_BATCH_EVENTS={max_batch_events})"
            )
    return items


class ByteReservation:
    """Bytes of one request held against its principal's and the global budget."""

    def __init__(self, admission: IngestAdmission, principal: str) -> None:
        self._admission = admission
        self._principal = principal
        self.held = 0

    def grow(self, nbytes: int) -> None:
        """Hold ``nbytes`` more, or raise :class:`Overloaded` (holding nothing more)."""
        self._admission._take_bytes(self._principal, nbytes)
        self.held += nbytes

    def release(self) -> None:
        self._admission._give_bytes(self._principal, self.held)
        self.held = 0


class IngestAdmission:
    def __init__(
        self,
        *,
        event_rate: str,
        max_batch_events: int,
        max_pending_events: int,
        max_pending_events_per_principal: int,
        max_inflight_bytes: int,
        max_inflight_bytes_per_principal: int,
        max_body_bytes: int,
        retry_after_s: int,
        heap_trimmer: HeapTrimmer | None = None,
        on_refused: Callable[[], None] | None = None,
    ) -> None:
        if max_pending_events_per_principal < max_batch_events:
            raise ValueError(
                "TRACEGRAPH_MAX_PENDING_EVENTS_PER_PRINCIPAL must be at least "
                f"TRACEGRAPH_MAX_BATCH_EVENTS ({max_batch_events})"
            )
        if min(max_inflight_bytes, max_inflight_bytes_per_principal) < max_body_bytes:
            raise ValueError(
                "TRACEGRAPH_MAX_INFLIGHT_BYTES and TRACEGRAPH_MAX_INFLIGHT_BYTES_PER_PRINCIPAL "
                f"must be at least TRACEGRAPH_MAX_BODY_BYTES ({max_body_bytes})"
            )
        self._rates = parse_event_rate(event_rate, max_batch_events)
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._max_events = max_pending_events
        self._max_events_each = max_pending_events_per_principal
        self._max_bytes = max_inflight_bytes
        self._max_bytes_each = max_inflight_bytes_per_principal
        self._retry_after = retry_after_s
        # Told when request bodies come and go, to return a burst's memory after it.
        self._heap_trimmer = heap_trimmer
        # Counts each refusal (the ingest metrics' overloaded-requests counter).
        self._on_refused = on_refused
        self._events: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()
        self.events_in_flight = 0
        self.bytes_in_flight = 0

    def _refused(self, message: str, retry_after_s: int) -> Overloaded:
        if self._on_refused is not None:
            self._on_refused()
        return Overloaded(message, retry_after_s)

    # --- events -------------------------------------------------------------------
    @contextlib.contextmanager
    def events(self, principal: str | None, count: int) -> Iterator[None]:
        """Admit ``count`` events of ``principal`` for the duration of the block."""
        key = principal or ANONYMOUS
        count = max(1, count)
        self._check_pending(key, count)
        self._charge_rate(key, count)
        self._events[key] += count
        self.events_in_flight += count
        try:
            yield
        finally:
            self.events_in_flight -= count
            self._events[key] -= count
            if not self._events[key]:
                del self._events[key]

    def _check_pending(self, key: str, count: int) -> None:
        mine = self._events[key]
        if mine + count > self._max_events_each:
            raise self._refused(
                f"too many events in flight for {key}: {mine} waiting for the writer, "
                f"at most {self._max_events_each} per principal; retry later",
                self._retry_after,
            )
        if self.events_in_flight + count > self._max_events:
            raise self._refused(
                f"ingestion queue is full ({self.events_in_flight} events waiting); retry later",
                self._retry_after,
            )

    def _charge_rate(self, key: str, count: int) -> None:
        for item in self._rates:
            if not self._limiter.test(item, "events", key, cost=count):
                raise self._refused(
                    f"event rate limit exceeded for {key}: at most {item} events per "
                    f"principal; this request has {count}",
                    self._rate_retry_after(item, key, count),
                )
        for item in self._rates:
            self._limiter.hit(item, "events", key, cost=count)

    def _rate_retry_after(self, item: RateLimitItem, key: str, count: int) -> int:
        # The window's next free slot, or (when more than one slot is missing) the time
        # the sustained rate takes to free the shortfall, whichever is later.
        stats = self._limiter.get_window_stats(item, "events", key)
        next_slot = stats.reset_time - time.time()
        shortfall = max(0, count - stats.remaining) * item.get_expiry() / item.amount
        return max(1, math.ceil(max(next_slot, shortfall)))

    # --- bytes --------------------------------------------------------------------
    @contextlib.contextmanager
    def request_bytes(
        self, principal: str | None, declared: int | None
    ) -> Iterator[ByteReservation]:
        """Hold a request's bytes for the block: ``declared`` up front (its
        ``Content-Length``), more with :meth:`ByteReservation.grow` as an undeclared
        body arrives."""
        reservation = ByteReservation(self, principal or ANONYMOUS)
        if declared:
            reservation.grow(declared)
        if self._heap_trimmer is not None:
            self._heap_trimmer.started()
        try:
            yield reservation
        finally:
            if self._heap_trimmer is not None:
                self._heap_trimmer.finished(reservation.held)
            reservation.release()

    def _take_bytes(self, key: str, nbytes: int) -> None:
        mine = self._bytes[key]
        if mine + nbytes > self._max_bytes_each:
            raise self._refused(
                f"too many request bytes in flight for {key}: {mine} being processed, "
                f"at most {self._max_bytes_each} per principal; retry later",
                self._retry_after,
            )
        if self.bytes_in_flight + nbytes > self._max_bytes:
            raise self._refused(
                f"too many request bytes in flight ({self.bytes_in_flight}); retry later",
                self._retry_after,
            )
        self._bytes[key] += nbytes
        self.bytes_in_flight += nbytes

    def _give_bytes(self, key: str, nbytes: int) -> None:
        if not nbytes:
            return
        self.bytes_in_flight -= nbytes
        self._bytes[key] -= nbytes
        if not self._bytes[key]:
            del self._bytes[key]
