"""Group commit: concurrent requests share write transactions.

One writer task drains the queue; while a transaction is in flight new requests queue
up and go together in the next one, so the cost of a round trip and a commit is paid
once per batch rather than once per request. A request is never split, so it is
committed whole or not at all.

Other writes of this service that touch the same nodes (SLA breaches link runs) go
through the same writer with :meth:`GroupCommitter.run_exclusive`, between batches:
two writers locking the same runs in different orders deadlock, and the retry costs
the ingest transaction its whole work plus a back-off.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired

from tracegraph.background import BackgroundTask
from tracegraph.ingest.errors import DatabaseUnavailable, Overloaded
from tracegraph.ingest.fair_queue import FairQueue
from tracegraph.ingest.metrics import IngestMetrics
from tracegraph.store.event_writer import BatchResult, EventWriter, UnitResult, WriteUnit
from tracegraph.store.graph_rows import SequencedEvent

log = structlog.get_logger(__name__)

CommitListener = Callable[[Sequence[SequencedEvent]], Awaitable[None] | None]
T = TypeVar("T")
# The writer serves principals round-robin (fair_queue); exclusive writes take turns too.
_EXCLUSIVE_TURN = ("exclusive",)


@dataclass
class _Queued:
    unit: WriteUnit
    size: int
    future: asyncio.Future[tuple[UnitResult, int]]


@dataclass
class _Exclusive:
    work: Callable[[], Awaitable[Any]]
    future: asyncio.Future[Any]


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached (answer 503), as opposed to a failing statement."""
    if isinstance(exc, ServiceUnavailable | SessionExpired):
        return True
    # Pool acquisition timeouts and broken connections surface as plain DriverErrors.
    return isinstance(exc, DriverError) and not isinstance(exc, Neo4jError)


class GroupCommitter:
    def __init__(
        self,
        writer: EventWriter,
        *,
        max_batch_events: int,
        max_pending_events: int,
        retry_after_s: int,
        metrics: IngestMetrics | None = None,
    ) -> None:
        self._writer = writer
        # Own collectors per committer (so per app); /metrics exposes them.
        self.metrics = metrics or IngestMetrics()
        self._max_batch = max_batch_events
        self._max_pending = max_pending_events
        self._retry_after = retry_after_s
        self._queue: FairQueue[_Queued | _Exclusive] = FairQueue()
        self._pending_events = 0
        self._listeners: list[CommitListener] = []
        self._writer_task = BackgroundTask("tracegraph-group-commit", self._run)
        self.batches_committed = 0
        self.last_batch_size = 0

    @property
    def pending_events(self) -> int:
        return self._pending_events

    def add_listener(self, listener: CommitListener) -> None:
        """Called after every commit with the newly sequenced events, in seq order."""
        self._listeners.append(listener)

    def start(self) -> None:
        self._writer_task.start()

    async def plan_ahead(self) -> None:
        """Have the database plan the write statements now, not on the first request."""
        await self._writer.plan_ahead()

    async def stop(self) -> None:
        await self._writer_task.stop()

    async def submit(self, unit: WriteUnit) -> tuple[UnitResult, int]:
        """Queue a unit and wait for its commit; returns its result and the last seq."""
        size = max(1, len(unit.events) + len(unit.rejected))
        if self._pending_events + size > self._max_pending and self._pending_events > 0:
            self.metrics.overloaded.inc()
            raise Overloaded(
                f"ingestion queue is full ({self._pending_events} events waiting); retry later",
                self._retry_after,
            )
        future: asyncio.Future[tuple[UnitResult, int]] = asyncio.get_running_loop().create_future()
        self._pending_events += size
        self._queue.put_nowait(unit.principal, _Queued(unit, size, future))
        return await future

    async def run_exclusive(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` (a write transaction of its own) on the writer, between batches."""
        if not self._writer_task.running:
            return await work()  # no writer running (tests, shutdown): nothing to contend with
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_EXCLUSIVE_TURN, _Exclusive(work, future))
        return await future

    async def _run(self) -> None:
        carried: _Queued | _Exclusive | None = None
        while True:
            item = carried if carried is not None else await self._queue.get()
            carried = None
            if isinstance(item, _Exclusive):
                await self._run_one_exclusive(item)
                continue
            batch, total = [item], item.size
            while total < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if isinstance(nxt, _Exclusive) or total + nxt.size > self._max_batch:
                    carried = nxt  # runs next, after this batch
                    break
                batch.append(nxt)
                total += nxt.size
            await self._commit(batch)
            # Drop the batch before waiting for more work: an idle writer kept the last
            # one's events and rows (tens of MB after a burst) alive until the next request.
            del batch, item
            nxt = None

    @staticmethod
    async def _run_one_exclusive(item: _Exclusive) -> None:
        try:
            result = await item.work()
        except Exception as exc:  # the caller gets it; the writer goes on
            if not item.future.done():
                item.future.set_exception(exc)
            return
        if not item.future.done():
            item.future.set_result(result)

    async def _commit(self, batch: list[_Queued]) -> None:
        try:
            started = time.perf_counter()
            try:
                result = await self._writer.write([q.unit for q in batch])
            except Exception as exc:
                self.metrics.failed(
                    unavailable=is_unavailable(exc), seconds=time.perf_counter() - started
                )
                if len(batch) > 1 and not is_unavailable(exc):
                    # Keep one bad request from failing the others that shared its batch.
                    for q in batch:
                        await self._commit([q])
                    return
                raise
        except Exception as exc:
            self._fail(batch, exc)
            return
        self._settle(batch, result)
        self.metrics.committed(
            events=self.last_batch_size,
            accepted=sum(u.accepted for u in result.units),
            duplicates=sum(u.duplicates for u in result.units),
            reasons=[q.reason for u in result.units for q in u.rejected],
            seconds=time.perf_counter() - started,
        )
        await self._notify(result)

    def _settle(self, batch: list[_Queued], result: BatchResult) -> None:
        self.batches_committed += 1
        self.last_batch_size = sum(q.size for q in batch)
        for q, unit_result in zip(batch, result.units, strict=True):
            self._pending_events -= q.size
            if not q.future.done():
                q.future.set_result((unit_result, result.last_seq))

    def _fail(self, batch: list[_Queued], exc: Exception) -> None:
        if is_unavailable(exc):
            log.warning("neo4j unavailable; batch not stored", error=str(exc))
            err: Exception = DatabaseUnavailable(
                f"the graph database is unavailable ({type(exc).__name__}); nothing was stored",
                self._retry_after,
            )
        else:
            log.exception("batch write failed", exc_info=exc)
            err = exc
        for q in batch:
            self._pending_events -= q.size
            if not q.future.done():
                q.future.set_exception(err)

    async def _notify(self, result: BatchResult) -> None:
        committed = [ev for unit in result.units for ev in unit.committed]
        if not committed:
            return
        committed.sort(key=lambda ev: ev.seq)
        for listener in self._listeners:
            try:
                outcome = listener(committed)
                if outcome is not None:
                    await outcome
            except Exception:  # a broken listener must never stop ingestion
                log.exception("commit listener failed")
