"""Group commit: concurrent requests share write transactions.

One writer task drains the queue; while a transaction is in flight new requests queue
up and go together in the next one, so the cost of a round trip and a commit is paid
once per batch rather than once per request. A request is never split, so it is
committed whole or not at all.

Other writes of this service that touch the same nodes (SLA breaches link runs) go
through the same writer with :meth:`GroupCommitter.run_exclusive`, between batches:
two writers locking the same runs in different orders deadlock, and the retry costs
the ingest transaction its whole work plus a back-off.

Outages and failures (docs/governance.md, "Outages"):

- a request waits at most ``deadline_s`` for its commit, then answers 503. One that gave
  up before its batch started is never written (and stops counting as pending); one
  that gave up while its batch was in flight may still commit, so its client's retry
  is answered as duplicates. The batch in flight is *not* cut at the request deadline:
  a slow database (a cold JVM planning, a heavy load) must still make progress, and a
  frozen one resumes the transaction when it thaws. Only a transaction that outlives
  ``write_timeout_s`` is ended (by the server, which frees its locks, or by the writer
  when the server cannot even say so).
- only retryable failures (unavailable, unresponsive, transient: ``store.errors``) are
  answered 503. A statement the database refuses is no outage: the batch is retried one
  request at a time, and the request that still fails has its events quarantined with
  the database's error code, so nothing else is lost and nothing is retried forever.
- after an outage the writer plans the write statements again before its next batch
  (``replan_unit``, in transactions that are rolled back, allowed ``replan_timeout_s``):
  a restarted Neo4j plans them cold, which under load takes longer than
  ``write_timeout_s``, and a batch ended by that timeout lost its planning with it, so
  every batch after it started over (a 34 s recovery measured). That planning starts
  the moment the outage is noticed and is tried again every ``recovery_probe_s`` until
  the database answers, so it runs as soon as Neo4j is back, not once a request has
  made it through authentication (whose key lookup plans cold too) to the writer; the
  statements are planned all at once (``BatchWriter.replan``), so the wait is the
  slowest statement's, not their sum. Until it is done, a batch fails with 503 at once
  while the database still refuses connections, and otherwise is *logged first*: its
  new events are committed to the log only (``write(derive=False)``), so it is
  acknowledged without waiting for the planning of the batch apply (seconds on a cold
  JVM, tens under load). Once planned, a catch-up turn of the writer (between batches,
  a bounded page at a time) derives them in seq order and publishes them to the
  listeners; batches sequenced while any wait are logged first too, so the listeners
  still see every event once, in seq order, after its derivation.
- the writer task is supervised: if it dies, everything queued or in flight is answered
  503, ``healthy`` (readiness) is false, and it restarts after ``restart_delay_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import structlog

from tracegraph.background import BackgroundTask
from tracegraph.events.governance import is_governance
from tracegraph.events.records import (
    BatchResult,
    SequencedEvent,
    UnitResult,
    WriteUnit,
    refused_by_database,
)
from tracegraph.ingest import deadline
from tracegraph.ingest.errors import DatabaseUnavailable, Overloaded, StoreFailed
from tracegraph.ingest.fair_queue import FairQueue
from tracegraph.ingest.metrics import IngestMetrics
from tracegraph.store.errors import error_code, is_retryable, is_timed_out, within

log = structlog.get_logger(__name__)

# How much later than the server's transaction timeout the writer gives up on its own.
_DEADLINE_GRACE_S = 2.0

CommitListener = Callable[[Sequence[SequencedEvent]], Awaitable[None] | None]
T = TypeVar("T")
# The writer serves principals round-robin (fair_queue); exclusive writes take turns too.
_EXCLUSIVE_TURN = ("exclusive",)


@dataclass
class _Queued:
    unit: WriteUnit
    size: int
    future: asyncio.Future[tuple[UnitResult, int]]
    # The request stopped waiting (its deadline passed): skipped if not started yet.
    abandoned: bool = False
    # Taken into a batch by the writer (then it is written even if abandoned).
    taken: bool = False
    # Still counted in pending_events (released exactly once).
    counted: bool = True


@dataclass
class _Exclusive:
    work: Callable[[], Awaitable[Any]]
    future: asyncio.Future[Any]


def _holds_admin_change(unit: WriteUnit) -> bool:
    return any(is_governance(str(ev.payload.get("type"))) for ev in unit.events)


def is_unavailable(exc: BaseException) -> bool:
    """Answer 503 (retry later), as opposed to a failing statement (``store.errors``)."""
    return is_retryable(exc)


class BatchWriter(Protocol):
    """What the committer needs of the store (``store.event_writer.EventWriter``)."""

    async def write(self, units: Sequence[WriteUnit], derive: bool = True) -> BatchResult: ...

    async def derive_underived(self, limit: int) -> list[SequencedEvent]: ...

    async def plan_ahead(
        self, units: Sequence[WriteUnit], timeout_s: float | None = None
    ) -> None: ...

    async def replan(self, unit: WriteUnit, timeout_s: float | None = None) -> None: ...


class GroupCommitter:
    def __init__(
        self,
        writer: BatchWriter,
        *,
        max_batch_events: int,
        max_pending_events: int,
        retry_after_s: int,
        metrics: IngestMetrics | None = None,
        deadline_s: float = 30.0,
        write_timeout_s: float = 30.0,
        restart_delay_s: float = 1.0,
        replan_timeout_s: float = 120.0,
        recovery_probe_s: float = 0.25,
        catch_up_page_events: int = 250,
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
        self._deadline = deadline_s
        self._write_timeout = write_timeout_s
        self._restart_delay = restart_delay_s
        self._replan_timeout = replan_timeout_s
        # What to plan with after an outage (a small write of the common statements),
        # and whether the last batch failed for an outage (the next one plans first).
        self._replan_unit: WriteUnit | None = None
        self._outage = False
        self.replans = 0
        self._recovery_probe = recovery_probe_s
        # The planning after an outage, started when the outage is noticed; the failure
        # of its last attempt while the database is still unavailable (batches fail
        # with it at once rather than wait for the planning).
        self._recovery: asyncio.Task[None] | None = None
        # The outcome of the planning attempt running or next (what a batch waits for),
        # and the wake-up of the attempt loop between two attempts.
        self._attempt: asyncio.Future[None] | None = None
        self._wake = asyncio.Event()
        # Other statements an ingest request runs, planned along (an API key lookup).
        self._also_replan: list[Callable[[], Awaitable[object]]] = []
        # When the planning after an outage ended (the first commit after it is logged).
        self._replanned_at: float | None = None
        # A catch-up turn (deriving events logged first) waits in the queue.
        self._catch_up_queued = False
        self._catch_up_page = catch_up_page_events
        # Events this process logged first may still wait for their derivation.
        self._behind = False
        self.derived_after_outage = 0
        self._writer_task = BackgroundTask("tracegraph-group-commit", self._supervise)
        # The writer loop is running (not dead, not waiting to restart).
        self._writer_up = False
        # What the writer holds outside the queue, failed with 503 if it dies.
        self._carried: _Queued | _Exclusive | None = None
        self._inflight: list[_Queued] = []
        self.batches_committed = 0
        self.last_batch_size = 0
        self.restarts = 0

    @property
    def pending_events(self) -> int:
        return self._pending_events

    @property
    def healthy(self) -> bool:
        """The writer runs (readiness): false while it is dead or waiting to restart."""
        return self._writer_up and self._writer_task.running

    def add_listener(self, listener: CommitListener) -> None:
        """Called after every commit with the newly sequenced events, in seq order."""
        self._listeners.append(listener)

    def start(self) -> None:
        self._writer_task.start()

    async def plan_ahead(self, sample: WriteUnit, replan_unit: WriteUnit | None = None) -> None:
        """Have the database plan the write statements now, not on the first request:
        ``sample`` is written in a transaction that is rolled back. ``replan_unit`` is
        planned the same way after every outage, before the next batch. Both may take
        longer than a write (a cold server under load plans for tens of seconds): they
        are allowed ``replan_timeout_s``, so readiness waits for the plans rather than
        the first requests timing out on them."""
        if replan_unit is not None:
            self._replan_unit = replan_unit
        await self._writer.plan_ahead([sample], timeout_s=self._replan_timeout)

    @property
    def replan_timeout_s(self) -> float:
        """What the planning after an outage (and any planned along) is allowed."""
        return self._replan_timeout

    def replan_also(self, plan: Callable[[], Awaitable[object]]) -> None:
        """Have ``plan`` run alongside the writer's own planning after an outage: a
        statement every ingest request runs before it reaches the writer."""
        self._also_replan.append(plan)

    async def _replan(self) -> None:
        assert self._replan_unit is not None
        outcomes = await asyncio.gather(
            self._writer.replan(self._replan_unit, timeout_s=self._replan_timeout),
            *(plan() for plan in self._also_replan),
            return_exceptions=True,
        )
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        if failed:
            raise failed[0]

    def _outage_noticed(self) -> None:
        """Start planning for the database's return now, in the background (once)."""
        self._outage = True
        if self._replan_unit is not None and (self._recovery is None or self._recovery.done()):
            self._attempt = asyncio.get_running_loop().create_future()
            self._recovery = asyncio.create_task(
                self._recover(), name="tracegraph-replan-after-outage"
            )

    async def _recover(self) -> None:
        """Plan the write statements as soon as the database answers again: an attempt
        every ``recovery_probe_s`` while it is unavailable (a refused connection fails
        in milliseconds), or at once when a batch waits for one; each is allowed
        ``replan_timeout_s`` (rolled-back transactions that the write timeout does not
        cut: a cold server may plan for longer)."""
        while True:
            attempt = self._attempt
            assert attempt is not None  # set with the task (_outage_noticed)
            started = time.perf_counter()
            try:
                await within(
                    self._replan_timeout + _DEADLINE_GRACE_S,
                    self._replan(),
                    "the planning after an outage",
                )
            except Exception as exc:
                if is_retryable(exc) or is_timed_out(exc):
                    # Batches waiting for this attempt fail with its error (503 at once);
                    # the next batch waits for the next attempt, which it starts early.
                    self._attempt = asyncio.get_running_loop().create_future()
                    self._settle_attempt(attempt, exc)
                    self._wake.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._recovery_probe):
                            await self._wake.wait()
                    continue
                # A statement error is no outage: the batches show it (quarantine).
                log.error("planning after an outage failed", code=error_code(exc))
            else:
                log.info(
                    "write statements planned again after an outage",
                    seconds=round(time.perf_counter() - started, 3),
                )
                self.replans += 1
                self._replanned_at = time.perf_counter()
            self._outage = False
            self._settle_attempt(attempt, None)
            self.catch_up_soon()  # what was logged first meanwhile
            return

    @staticmethod
    def _settle_attempt(attempt: asyncio.Future[None], exc: BaseException | None) -> None:
        if attempt.done():
            return
        if exc is None:
            attempt.set_result(None)
        else:
            attempt.set_exception(exc)
            attempt.exception()  # no batch may be waiting for it: not "never retrieved"

    def _log_first(self) -> bool:
        """Whether the next batch is logged first (not derived): after an outage, until
        the write statements are planned again. The planning attempt is started now if
        it was between attempts; the batch does not wait for it (a restarted Neo4j
        plans apply_batch for seconds, tens under load), and fails at once with the
        database's own error while it still refuses connections."""
        if not self._outage or self._replan_unit is None:
            return False
        if self._recovery is None or self._recovery.done():
            self._outage_noticed()  # e.g. the writer restarted meanwhile
        self._wake.set()
        return True

    def catch_up_soon(self) -> None:
        """Queue a turn of the writer that derives events logged first (after an outage,
        or left so by a process that stopped before it derived them): one bounded page
        per turn, in seq order, between batches (which are logged first while any
        wait), until none is left."""
        if self._catch_up_queued:
            return
        self._catch_up_queued = True
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_EXCLUSIVE_TURN, _Exclusive(self._catch_up, future))

    async def _catch_up(self) -> None:
        self._catch_up_queued = False
        if self._outage and self._replan_unit is not None:
            return  # the planning is not done: it queues the catch-up when it is
        started = time.perf_counter()
        try:
            events = await within(
                self._write_timeout + _DEADLINE_GRACE_S,
                self._writer.derive_underived(self._catch_up_page),
                "the derivation of events logged first",
            )
        except Exception as exc:
            if is_retryable(exc) or is_timed_out(exc):
                log.warning("deriving events logged first failed", error=error_code(exc))
                self._outage_noticed()  # its recovery queues the catch-up again
            else:
                log.error("deriving events logged first failed", code=error_code(exc), exc_info=exc)
            return
        if len(events) < self._catch_up_page:
            self._behind = False  # what this process logged first is derived
        if not events:
            return
        self.derived_after_outage += len(events)
        log.info(
            "events logged first after an outage derived",
            events=len(events),
            last_seq=events[-1].seq,
            seconds=round(time.perf_counter() - started, 3),
        )
        if len(events) >= self._catch_up_page:
            self.catch_up_soon()  # more wait: another turn, after the batches queued now
        # Published now, in seq order: every event before them was published already
        # (derived events are a prefix of the log), none after them yet.
        await self._publish(events)

    async def stop(self) -> None:
        if self._recovery is not None:
            self._recovery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._recovery
            self._recovery = None
        await self._writer_task.stop()

    async def submit(self, unit: WriteUnit) -> tuple[UnitResult, int]:
        """Queue a unit and wait for its commit; returns its result and the last seq."""
        if self._writer_task.started and not self.healthy:
            raise self._unavailable("the writer is restarting")
        # What is left of the request's budget (it started on arrival: authentication
        # and validation count), at most deadline_s.
        wait_s = deadline.remaining(self._deadline)
        if wait_s <= 0:
            raise self._unavailable("the request ran out of time before its commit")
        size = max(1, len(unit.events) + len(unit.rejected))
        if self._pending_events + size > self._max_pending and self._pending_events > 0:
            self.metrics.overloaded.inc()
            raise Overloaded(
                f"ingestion queue is full ({self._pending_events} events waiting); retry later",
                self._retry_after,
            )
        future: asyncio.Future[tuple[UnitResult, int]] = asyncio.get_running_loop().create_future()
        self._pending_events += size
        queued = _Queued(unit, size, future)
        self._queue.put_nowait(unit.principal, queued)
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait_s)
        except TimeoutError:
            if future.done():  # settled in the same instant
                return future.result()
            queued.abandoned = True
            if not queued.taken:
                self._release(queued)  # never written: no longer waiting for the writer
            self.metrics.deadline_passed.inc()
            raise DatabaseUnavailable(
                "the graph database did not commit in time; the events may not be stored: "
                "send them again (duplicates are recognised)",
                self._retry_after,
            ) from None

    def _release(self, q: _Queued) -> None:
        if q.counted:
            q.counted = False
            self._pending_events -= q.size

    @property
    def retry_after_s(self) -> int:
        """The ``Retry-After`` of this writer's 503s (TRACEGRAPH_RETRY_AFTER_S)."""
        return self._retry_after

    def _unavailable(self, why: str) -> DatabaseUnavailable:
        return DatabaseUnavailable(f"{why}; nothing was stored", self._retry_after)

    async def run_exclusive(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` (a write transaction of its own) on the writer, between batches."""
        if not self._writer_task.running:
            return await work()  # no writer running (tests, shutdown): nothing to contend with
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_EXCLUSIVE_TURN, _Exclusive(work, future))
        return await future

    async def _supervise(self) -> None:
        """Run the writer loop; if it dies, fail what it held and start it again."""
        while True:
            self._writer_up = True
            try:
                await self._run()
            except Exception as exc:
                self._writer_up = False
                self.restarts += 1
                self.metrics.writer_restarts.inc()
                log.exception("group-commit writer died; restarting", exc_info=exc)
                self._fail_everything(self._unavailable("the writer failed"))
                await asyncio.sleep(self._restart_delay)
                self.catch_up_soon()  # whatever was logged first and not derived yet

    def _fail_everything(self, err: Exception) -> None:
        held: list[_Queued | _Exclusive] = [*self._inflight]
        if self._carried is not None:
            held.append(self._carried)
        while not self._queue.empty():
            held.append(self._queue.get_nowait())
        self._inflight, self._carried = [], None
        for item in held:
            if isinstance(item, _Queued):
                self._fail([item], err)
            elif item.work == self._catch_up:
                self._catch_up_queued = False  # queued again when the writer restarts
            elif not item.future.done():
                item.future.set_exception(err)

    async def _run(self) -> None:
        while True:
            item = self._carried if self._carried is not None else await self._queue.get()
            self._carried = None
            if isinstance(item, _Exclusive):
                await self._run_one_exclusive(item)
                continue
            batch, total = [item], item.size
            nxt: _Queued | _Exclusive | None = None
            while total < self._max_batch and not self._queue.empty():
                nxt = self._queue.get_nowait()
                if isinstance(nxt, _Exclusive) or total + nxt.size > self._max_batch:
                    self._carried = nxt  # runs next, after this batch
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

    async def _write(self, units: list[WriteUnit], derive: bool = True) -> BatchResult:
        # The server times the transaction out at write_timeout_s (EventWriter); this
        # deadline, a little later, covers a server that cannot even say so (frozen).
        deadline = self._write_timeout + _DEADLINE_GRACE_S
        return await within(deadline, self._writer.write(units, derive), "the write")

    async def _commit(self, batch: list[_Queued]) -> None:
        gone = [q for q in batch if q.abandoned]
        if gone:  # their requests were answered 503 already: nothing of them is written
            self._fail(gone, self._unavailable("the request gave up waiting"))
            batch = [q for q in batch if not q.abandoned]
            if not batch:
                return
        log_first = self._log_first()
        if log_first or self._behind:
            # An admin change is read back once written (the policy, the owner): it is
            # not logged first, but asked again once the catch-up is done.
            admin = [q for q in batch if _holds_admin_change(q.unit)]
            if admin:
                self._fail(admin, self._unavailable("the database is recovering from an outage"))
                batch = [q for q in batch if q not in admin]
                if not batch:
                    return
        for q in batch:
            q.taken = True
        started = time.perf_counter()
        self._inflight = batch
        try:
            result = await self._write([q.unit for q in batch], derive=not log_first)
        except Exception as exc:
            self._inflight = []
            retryable = is_retryable(exc) or is_timed_out(exc)
            if retryable:
                self._outage_noticed()
            self.metrics.failed(unavailable=retryable, seconds=time.perf_counter() - started)
            if retryable:
                log.warning(
                    "neo4j unavailable or unresponsive; batch not stored", error=error_code(exc)
                )
                self._fail(
                    batch,
                    self._unavailable(f"the graph database is unavailable ({error_code(exc)})"),
                )
            elif len(batch) > 1:
                # Keep one bad request from failing the others that shared its batch.
                for q in batch:
                    await self._commit([q])
            else:
                await self._quarantine(batch[0], exc)
            return
        # In flight until settled: if settling kills the writer, its death answers them.
        self._settle(batch, result)
        self._inflight = []
        await self._after_commit(batch, result, started)

    async def _quarantine(self, q: _Queued, exc: Exception) -> None:
        """A request whose write the database refused: its events go to the quarantine
        with the database's error code (resubmit them once the cause is fixed)."""
        code = error_code(exc)
        log.error(
            "the database refused a batch; its events are quarantined", code=code, exc_info=exc
        )
        reason = f"not stored: the database refused the batch ({code}); kept in the quarantine"
        unit = q.unit
        moved = WriteUnit(
            events=[],
            rejected=[*unit.rejected, *(refused_by_database(ev, reason) for ev in unit.events)],
            received_at=unit.received_at,
            principal=unit.principal,
        )
        started = time.perf_counter()
        self._inflight = [q]
        try:
            result = await self._write([moved])
        except Exception as again:
            self._inflight = []
            if is_retryable(again) or is_timed_out(again):
                err: Exception = self._unavailable(
                    f"the graph database is unavailable ({error_code(again)})"
                )
            else:
                log.error("quarantine write failed too", code=error_code(again), exc_info=again)
                err = StoreFailed(f"the events could not be stored or quarantined ({code})")
            self._fail([q], err)
            return
        self._settle([q], result)
        self._inflight = []
        await self._after_commit([q], result, started)

    async def _after_commit(
        self, batch: list[_Queued], result: BatchResult, started: float
    ) -> None:
        self.metrics.committed(
            events=self.last_batch_size,
            accepted=sum(u.accepted for u in result.units),
            duplicates=sum(u.duplicates for u in result.units),
            reasons=[q.reason for u in result.units for q in u.rejected],
            seconds=time.perf_counter() - started,
        )
        if self._replanned_at is not None:
            log.info(
                "first batch after an outage committed",
                seconds=round(time.perf_counter() - started, 3),
                after_planning_s=round(time.perf_counter() - self._replanned_at, 3),
            )
            self._replanned_at = None
        if result.derived:
            await self._notify(result)
            return
        self._behind = True
        if not self._outage:
            # Logged first behind older events that wait for their derivation (another
            # replica's, or ours whose catch-up failed): derived and published by it.
            self.catch_up_soon()

    def _settle(self, batch: list[_Queued], result: BatchResult) -> None:
        self.batches_committed += 1
        self.last_batch_size = sum(q.size for q in batch)
        for q, unit_result in zip(batch, result.units, strict=True):
            self._release(q)
            if not q.future.done():
                q.future.set_result((unit_result, result.last_seq))

    def _fail(self, batch: list[_Queued], err: Exception) -> None:
        for q in batch:
            self._release(q)
            if not q.future.done():
                q.future.set_exception(err)
                if q.abandoned:
                    q.future.exception()  # nobody waits for it any more

    async def _notify(self, result: BatchResult) -> None:
        committed = [ev for unit in result.units for ev in unit.committed]
        committed.sort(key=lambda ev: ev.seq)
        await self._publish(committed)

    async def _publish(self, committed: list[SequencedEvent]) -> None:
        if not committed:
            return
        for listener in self._listeners:
            try:
                outcome = listener(committed)
                if outcome is not None:
                    await outcome
            except Exception:  # a broken listener must never stop ingestion
                log.exception("commit listener failed")
