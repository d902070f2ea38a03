"""The live hub: fans committed events and run states out to subscribers.

Pure asyncio, no GraphQL. The group committer calls :meth:`LiveHub.publish` after every
commit with the new events in seq order; the hub routes each event through topic
dictionaries (by run, by pipeline, everything) to *filter groups* — subscribers with
the same filter share one group, so a filter is evaluated once per event, not once per
subscriber — and appends one shared :class:`LiveItem` to each subscriber's bounded
queue. Publishing never awaits: a subscriber whose queue is full is closed with a
reason that says where to resume, so a slow client can neither block ingestion nor
grow memory.

Resume without gap or duplicate (:meth:`LiveHub.events` with ``after_seq``): the
subscriber's queue is registered *before* the stored log is read, so every event
committed after the read started is in the queue and everything committed before is
in the read; live items at or below the last replayed seq are dropped. If the queue
overflows while the replay is still reading (a long catch-up), it is emptied and the
replay reads again from where it got to, which fills that gap from the database.

Across replicas (issue 20): each replica tails the event log with one cursor
(:meth:`LiveHub._tail`: one indexed range read ``seq > cursor`` per tick, every
``tail_interval_s`` and at once when an own commit waits behind a hole), shared by all
of its subscribers, so events any replica committed reach every replica's hub. Own
commits are still pushed at once by the group committer. Both go through a
:class:`~tracegraph.live.sequencer.Sequencer`, which fans each seq out once and in an
unbroken seq order. Breach changes and SLA alerts are not events: they travel as
``LiveNote`` nodes (``store/live_notes.py``), tailed the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Awaitable, Callable, Collection, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import structlog

from tracegraph.background import BackgroundTask
from tracegraph.events.records import SequencedEvent
from tracegraph.live.deltas import Delta, DeltaFeed, DeltaItem, DeltaScope, deliver
from tracegraph.live.doc_source import DocumentSource
from tracegraph.live.sequencer import Sequencer
from tracegraph.store.errors import error_code, is_retryable
from tracegraph.store.live_reads import TailPage

log = structlog.get_logger(__name__)

T = TypeVar("T")

# A cursor past any seq: the tailer's first read returns only where the counters stand.
END = 2**62


class LiveReads(Protocol):
    """What the hub reads from the graph (``tracegraph.store.live_reads.LiveReader``)."""

    async def events_after(
        self,
        after_seq: int,
        *,
        pipeline: str | None = None,
        run: str | None = None,
        types: Collection[str] | None = None,
        limit: int = 1000,
    ) -> list[SequencedEvent]: ...

    async def runs_by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...


class TailReads(LiveReads, Protocol):
    """What the cross-replica tailer reads and writes besides (``LiveReader``)."""

    async def tail(
        self, after_seq: int, after_note: int, limit: int, timeout_s: float | None = None
    ) -> TailPage: ...

    async def write_note(
        self, origin: str, breaches: Sequence[str], alerts: Sequence[str]
    ) -> None: ...


class SubscriberClosed(Exception):
    """The hub ended a subscription (too slow, or the server is shutting down)."""

    def __init__(
        self,
        message: str,
        *,
        code: str,
        resume_after_seq: int | None = None,
        retry_after_s: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.resume_after_seq = resume_after_seq
        self.retry_after_s = retry_after_s


@dataclass(frozen=True, slots=True)
class EventFilter:
    pipeline: str | None = None
    run: str | None = None
    types: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        pipeline: str | None = None,
        run: str | None = None,
        types: Collection[str] | None = None,
    ) -> EventFilter:
        return cls(pipeline, None if run is None else str(run), _types(types))

    def matches(self, payload: dict[str, Any]) -> bool:
        return (
            (self.run is None or payload.get("run") == self.run)
            and (self.pipeline is None or payload.get("pipeline") == self.pipeline)
            and (self.types is None or payload["type"] in self.types)
        )


@dataclass(frozen=True, slots=True)
class RunFilter:
    run: str | None = None
    pipeline: str | None = None

    @classmethod
    def of(cls, run: str | None = None, pipeline: str | None = None) -> RunFilter:
        return cls(None if run is None else str(run), pipeline)

    def matches(self, run_id: str, pipeline: str | None) -> bool:
        return (self.run is None or run_id == self.run) and (
            self.pipeline is None or pipeline == self.pipeline
        )


def _types(types: Collection[str] | None) -> frozenset[str] | None:
    return None if types is None else frozenset(types)


class LiveItem:
    """One committed event as fanned out; the same object goes to every subscriber.

    ``memo`` lets the API layer convert or render the event once per event (keyed by
    whatever identifies the conversion) and share the result across subscribers.
    """

    __slots__ = ("event", "memo", "seq")

    def __init__(self, event: SequencedEvent) -> None:
        self.event = event
        self.seq = event.seq
        self.memo: dict[Hashable, Any] = {}


class RunUpdate:
    """A run's state (its node properties) read after a commit that touched it."""

    __slots__ = ("memo", "pipeline", "run_id", "seq", "state")

    def __init__(self, run_id: str, state: dict[str, Any], seq: int) -> None:
        self.run_id = run_id
        self.state = state
        self.pipeline: str | None = state.get("pipeline")
        self.seq = seq  # the last seq committed when the state was read
        self.memo: dict[Hashable, Any] = {}


class _Subscriber(Generic[T]):
    """A bounded queue with one consumer; pushing never blocks."""

    __slots__ = (
        "_items",
        "_limit",
        "_waiter",
        "_what",
        "batch",
        "batch_whole",
        "buffering",
        "error",
        "last_delivered",
        "lost",
    )

    def __init__(self, limit: int, what: str = "events") -> None:
        self._items: deque[T] = deque()
        self._limit = limit
        self._what = what
        self._waiter: asyncio.Future[None] | None = None
        # While replaying, an overflow only drops the buffer (the replay re-reads it).
        self.buffering = False
        self.lost = False
        self.error: SubscriberClosed | None = None
        self.last_delivered: int | None = None
        self.batch = -1
        self.batch_whole = False

    def push(self, item: T, batch: int) -> bool:
        """Queue an item of commit ``batch``; False when the subscriber is (now) closed.

        A commit that finds the queue empty is taken whole even if it is bigger than the
        limit (one large commit does not make a subscriber slow); otherwise more than
        ``limit`` undelivered items means the subscriber has fallen behind.
        """
        if self.error is not None:
            return False
        if batch != self.batch:
            self.batch = batch
            self.batch_whole = not self._items
        if len(self._items) >= self._limit and not self.batch_whole:
            if self.buffering:
                self._items.clear()
                self.lost = True
            else:
                resume = None
                if self._what == "events":
                    resume = self.last_delivered
                    if resume is None:
                        resume = getattr(self._items[0], "seq", 1) - 1
                hint = "subscribe again" if resume is None else f"resume with afterSeq={resume}"
                if self._what == "deltas":
                    hint = "subscribe again with the versions you hold (afterVersion / known)"
                self.close(
                    SubscriberClosed(
                        f"subscriber fell more than {self._limit} {self._what} behind; {hint}",
                        code="SUBSCRIBER_TOO_SLOW",
                        resume_after_seq=resume,
                    )
                )
                return False
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        return True

    def close(self, error: SubscriberClosed) -> None:
        if self.error is None:
            self.error = error
            self._items.clear()  # free memory now; the consumer gets the error next
            waiter = self._waiter
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    async def get(self) -> T:
        while not self._items:
            if self.error is not None:
                raise self.error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.error is not None:
            raise self.error
        return self._items.popleft()


class _DeltaSubscriber(_Subscriber[Delta]):
    """A delta subscriber: its scope and redaction variant (docs/live-deltas.md)."""

    __slots__ = ("scope", "variant")

    def __init__(self, limit: int, scope: DeltaScope, variant: str) -> None:
        super().__init__(limit, "deltas")
        self.scope = scope
        self.variant = variant


class _Group(Generic[T]):
    """Subscribers that share one filter (evaluated once per event for all of them)."""

    __slots__ = ("filter", "subscribers")

    def __init__(self, flt: Any) -> None:
        self.filter = flt
        self.subscribers: set[_Subscriber[T]] = set()

    def push(self, item: T, batch: int) -> list[_Subscriber[T]]:
        return [s for s in self.subscribers if not s.push(item, batch)]


class _Topics(Generic[T]):
    """Filter groups indexed by their most selective key: run, else pipeline, else all."""

    def __init__(self, run_of: Callable[[Any], str | None], pipe_of: Callable[[Any], str | None]):
        self._run_of = run_of
        self._pipe_of = pipe_of
        self.groups: dict[Hashable, _Group[T]] = {}
        self.by_run: dict[str, dict[Hashable, _Group[T]]] = {}
        self.by_pipeline: dict[str, dict[Hashable, _Group[T]]] = {}
        self.everything: dict[Hashable, _Group[T]] = {}

    def __bool__(self) -> bool:
        return bool(self.groups)

    def _bucket(self, flt: Hashable) -> dict[Hashable, _Group[T]]:
        run, pipe = self._run_of(flt), self._pipe_of(flt)
        if run is not None:
            return self.by_run.setdefault(run, {})
        if pipe is not None:
            return self.by_pipeline.setdefault(pipe, {})
        return self.everything

    def add(self, flt: Hashable, sub: _Subscriber[T]) -> None:
        group = self.groups.get(flt)
        if group is None:
            group = self.groups[flt] = _Group(flt)
            self._bucket(flt)[flt] = group
        group.subscribers.add(sub)

    def remove(self, flt: Hashable, sub: _Subscriber[T]) -> None:
        group = self.groups.get(flt)
        if group is None:
            return
        group.subscribers.discard(sub)
        if not group.subscribers:
            del self.groups[flt]
            run, pipe = self._run_of(flt), self._pipe_of(flt)
            bucket = self._bucket(flt)
            bucket.pop(flt, None)
            if not bucket:
                if run is not None:
                    self.by_run.pop(run, None)
                elif pipe is not None:
                    self.by_pipeline.pop(pipe, None)

    def candidates(self, run: str | None, pipeline: str | None) -> list[_Group[T]]:
        found = list(self.everything.values())
        if pipeline is not None and (g := self.by_pipeline.get(pipeline)):
            found.extend(g.values())
        if run is not None and (g := self.by_run.get(run)):
            found.extend(g.values())
        return found

    def all_subscribers(self) -> list[_Subscriber[T]]:
        return [s for g in self.groups.values() for s in g.subscribers]


class LiveHub:
    """Routes committed events and run states to subscribers (see the module doc)."""

    def __init__(
        self,
        reads: LiveReads,
        *,
        queue_size: int = 1000,
        page_size: int = 1000,
        retry_after_s: int = 1,
        documents: DocumentSource | None = None,
        document_cache_size: int = 2000,
        tail_interval_s: float | None = None,
        gap_hold_s: float = 1.0,
        tail_timeout_s: float = 30.0,
    ):
        self._reads = reads
        # Tail the event log (several replicas): None in hubs fed only by their process.
        self._tail_interval_s = tail_interval_s
        # How long a tailer's read may take. Not the answer timeout of a request's reads
        # (3 s, so a caller hears of a frozen database in time): nobody waits on the
        # tailer, and cutting a slow read off only starts it again from scratch. On a
        # cold server the first read is planned while start-up plans every write
        # statement, and under load that took longer than 3 s: cut off, it was planned
        # again on each retry and the replica followed no other replica for 30-75 s
        # (measured: 22 timeouts in a row at load 22); later ticks timed out the same way
        # whenever the machine stalled.
        self._tail_timeout_s = tail_timeout_s
        self._sequencer = Sequencer(gap_hold_s, read_evidence=tail_interval_s is not None)
        self._tail_wake = asyncio.Event()
        self._tail_task = BackgroundTask("tracegraph-live-tail", self._tail)
        self.origin = uuid.uuid4().hex  # this replica, in the LiveNotes it writes
        self._note_cursor: int | None = None
        self._notes_out: list[tuple[list[str], list[str]]] = []
        # Alert rows (breach states) by breach id, for alerts noted by other replicas
        # (runtime binds SlaStore.breaches).
        self.alert_rows: Callable[[list[str]], Awaitable[list[dict[str, Any]]]] | None = None
        self._notes_wake = asyncio.Event()
        self._notes_task = BackgroundTask("tracegraph-live-notes", self._write_notes)
        # Versioned entity deltas (live/deltas.py); None in hubs built without documents.
        self.deltas = None if documents is None else DeltaFeed(documents, document_cache_size)
        self._retry_after_s = retry_after_s
        self._queue_size = queue_size
        self._page_size = page_size
        self._events: _Topics[LiveItem] = _Topics(lambda f: f.run, lambda f: f.pipeline)
        self._runs: _Topics[RunUpdate] = _Topics(lambda f: f.run, lambda f: f.pipeline)
        self._pending_runs: dict[str, str | None] = {}
        # SLA alerts (new breaches, acknowledgements, resolutions): few, so one flat set.
        self._alerts: set[_Subscriber[dict[str, Any]]] = set()
        self._runs_wanted = asyncio.Event()
        self._run_task = BackgroundTask("tracegraph-live-runs", self._run_states)
        self._closed: SubscriberClosed | None = None
        self.last_seq = 0  # the highest seq fanned out here (committed by any replica)
        self.published = 0
        self.dropped_subscribers = 0
        self._batch = 0  # counts publishes (commits) and run-state rounds
        # Told every event fanned out, whichever replica committed it (the SLA evaluator).
        self._listeners: list[Callable[[Sequence[SequencedEvent]], object]] = []
        self._progress = asyncio.Event()  # set (and replaced) by every fan-out

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._run_task.start()
        if self._tail_interval_s is not None:
            self._tail_task.start()
            self._notes_task.start()

    @property
    def tailing(self) -> bool:
        return self._tail_interval_s is not None

    @property
    def tail_ready(self) -> bool:
        """The tailer knows where the log ends and follows it (always, without one):
        from now on every replica's commits reach this hub's subscribers. /readyz waits
        for it, so a balancer sends no subscriber here before."""
        return not self.tailing or (
            self._sequencer.cursor is not None and self._note_cursor is not None
        )

    async def close(self) -> None:
        self._closed = SubscriberClosed("the server is shutting down", code="SHUTTING_DOWN")
        for topics in (self._events, self._runs):
            for sub in topics.all_subscribers():
                sub.close(self._closed)
        for alert_sub in self._alerts:
            alert_sub.close(self._closed)
        if self.deltas is not None:
            for delta_sub in self.deltas.all_subscribers():
                delta_sub.close(self._closed)
        await self._run_task.stop()
        await self._tail_task.stop()
        await self._notes_task.stop()

    @property
    def subscriber_count(self) -> int:
        deltas = len(self.deltas.all_subscribers()) if self.deltas is not None else 0
        return len(self._events.all_subscribers()) + len(self._runs.all_subscribers()) + deltas

    @property
    def alert_subscriber_count(self) -> int:
        return len(self._alerts)

    # -- publishing (called by the group committer after each commit) -----------------

    def publish(self, committed: Sequence[SequencedEvent]) -> None:
        """Fan out events this process committed (in seq order). Never blocks.

        Fanned out at once when they follow the last seq fanned out; else they wait
        for the tailer to read what precedes them (committed by another replica)."""
        if not committed:
            return
        if not self.tailing and self._sequencer.cursor is None:
            self._sequencer.start(committed[0].seq - 1)
        self._fan_out(self._sequencer.offer(committed))
        if self._sequencer.waiting:
            self._tail_wake.set()

    async def _tail(self) -> None:
        """The replica's one cursor over the event log and the LiveNotes (module doc)."""
        reads: TailReads = self._reads  # type: ignore[assignment]
        interval = self._tail_interval_s or 0.05
        while self._sequencer.cursor is None or self._note_cursor is None:
            try:
                ends = await reads.tail(END, END, 1, timeout_s=self._tail_timeout_s)
            except Exception as exc:
                log.warning("live tail: cannot read where the log ends", error=error_code(exc))
                await asyncio.sleep(min(1.0, interval * 10))
                continue
            self._note_cursor = ends.last_note
            self._fan_out(self._sequencer.start(ends.last_event))
            log.info("live tail: following the event log", after_seq=self._sequencer.cursor)
        while True:
            # asyncio.timeout, not wait_for (which can lose a cancellation on 3.11).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._tail_wake.wait()
            self._tail_wake.clear()
            try:
                await self._tail_once(reads)
            except Exception as exc:
                log.warning("live tail: read failed", error=error_code(exc))
                await asyncio.sleep(min(1.0, interval * 10))

    async def _tail_once(self, reads: TailReads) -> None:
        while True:
            before, notes_before = self._sequencer.cursor, self._note_cursor
            assert before is not None and notes_before is not None
            began = time.monotonic()
            page = await reads.tail(
                before, notes_before, self._page_size, timeout_s=self._tail_timeout_s
            )
            if page.last_event < before or page.last_note < notes_before:
                # The log was wiped (tests, `tracegraph wipe`): start again from its start.
                log.warning("live tail: the event log was reset; following it from 0")
                self._sequencer.reset(0)
                self._note_cursor = 0
                continue
            # A page that reached the end of the log as read shows a seq missing
            # anywhere after the cursor; a full one only up to its last row (a hole
            # followed by more than a page is still shown missing by it). Rows it could
            # not decode count as read (the cursor passes them: never read again).
            whole = page.read < self._page_size
            self._fan_out(
                self._sequencer.offer(
                    page.events,
                    read_began=began,
                    read_through=None if whole else page.last_read,
                    passed=page.skipped_seqs,
                )
            )
            for note in page.notes:
                self._note_cursor = max(self._note_cursor or 0, int(note["seq"]))
                if note["origin"] == self.origin:
                    continue  # applied locally when written
                self._note_breaches_here(note["breaches"])
                if note["alerts"] and self._alerts and self.alert_rows is not None:
                    self._publish_alerts_here(await self.alert_rows(list(note["alerts"])))
            full = page.read >= self._page_size or len(page.notes) == self._page_size
            if not full or (self._sequencer.cursor, self._note_cursor) == (before, notes_before):
                break

    async def caught_up(self, seq: int, timeout_s: float) -> bool:
        """Wait until this hub has fanned out ``seq`` (read-your-writes across replicas:
        the tailer reads the leader, so every statement after it sees that commit too).
        False after ``timeout_s``."""
        if self.last_seq >= seq:
            return True
        self._tail_wake.set()  # read now, not at the next tick
        try:
            async with asyncio.timeout(timeout_s):
                while self.last_seq < seq:
                    await self._progress.wait()
        except TimeoutError:
            return False
        return True

    def add_listener(self, listener: Callable[[Sequence[SequencedEvent]], object]) -> None:
        self._listeners.append(listener)

    def _fan_out(self, committed: Sequence[SequencedEvent]) -> None:
        # The sequencer's cursor may also pass seqs with nothing to fan out (rows the
        # tailer could not decode): this hub has still had everything up to it.
        top = max(committed[-1].seq if committed else 0, self._sequencer.cursor or 0)
        if committed:
            for listener in self._listeners:
                try:
                    listener(committed)
                except Exception:  # a broken listener must never stop the fan-out
                    log.exception("live listener failed")
        if top > self.last_seq:
            self.last_seq = top
            progress, self._progress = self._progress, asyncio.Event()
            progress.set()
        if not committed:
            return
        self.published += len(committed)
        if self._events:
            self._publish_events(committed)
        if self._runs:
            self._note_touched_runs(committed)
        if self.deltas is not None and self.deltas.note_events(committed):
            self._runs_wanted.set()

    def note_breaches(self, ids: Sequence[str]) -> None:
        """Breaches written with a change (SlaStore.on_changed): their deltas, here and
        (through a LiveNote) on the other replicas."""
        self._note_breaches_here(ids)
        self._note_out(list(ids), [])

    def _note_out(self, breaches: list[str], alerts: list[str]) -> None:
        if self.tailing and (breaches or alerts):
            self._notes_out.append((breaches, alerts))
            self._notes_wake.set()

    async def _write_notes(self) -> None:
        """Writes queued LiveNotes, batched (one per round)."""
        reads: TailReads = self._reads  # type: ignore[assignment]
        while True:
            await self._notes_wake.wait()
            self._notes_wake.clear()
            out, self._notes_out = self._notes_out, []
            breaches = sorted({b for bs, _ in out for b in bs})
            alerts = sorted({a for _, al in out for a in al})
            try:
                await reads.write_note(self.origin, breaches, alerts)
            except Exception as exc:
                # Other replicas miss these deltas/alerts; their subscribers still get
                # the next change, and a resubscribe reads the current documents.
                log.warning("live note not written", error=error_code(exc))

    def _note_breaches_here(self, ids: Sequence[str]) -> None:
        if self.deltas is not None and self.deltas.note_breaches(ids):
            self._runs_wanted.set()

    def note_pipelines(self, names: Sequence[str]) -> None:
        """Pipeline cards changed outside ingestion (an admin's owner or SLA)."""
        if self.deltas is not None and self.deltas.note_pipelines(names):
            self._runs_wanted.set()

    def _publish_events(self, committed: Sequence[SequencedEvent]) -> None:
        topics = self._events
        self._batch += 1
        batch = self._batch
        for ev in committed:
            p = ev.payload
            item: LiveItem | None = None
            for group in topics.candidates(p.get("run"), p.get("pipeline")):
                if not group.filter.matches(p):
                    continue
                if item is None:
                    item = LiveItem(ev)
                for sub in group.push(item, batch):
                    self._drop(topics, group.filter, sub)

    def _drop(self, topics: _Topics[Any], flt: Hashable, sub: _Subscriber[Any]) -> None:
        topics.remove(flt, sub)
        self.dropped_subscribers += 1
        log.warning("live subscriber closed", reason=str(sub.error))

    def _note_touched_runs(self, committed: Sequence[SequencedEvent]) -> None:
        topics = self._runs
        for ev in committed:
            run = ev.payload.get("run")
            if run is None or run in self._pending_runs:
                continue
            pipeline = ev.payload.get("pipeline")
            # Read a run's state only if some subscriber could want it.
            if topics.candidates(run, pipeline):
                self._pending_runs[run] = pipeline
        if self._pending_runs:
            self._runs_wanted.set()

    async def _run_states(self) -> None:
        """One reader task: touched runs are read in one batch per round and pushed.

        Commits that land while a read is in flight coalesce into the next round, so
        a burst costs a few reads and every subscriber still ends with the newest state.
        """
        while True:
            await self._runs_wanted.wait()
            self._runs_wanted.clear()
            await self._delta_round()
            pending, self._pending_runs = self._pending_runs, {}
            if not pending:
                continue
            seq = self.last_seq
            try:
                states = await self._reads.runs_by_ids(sorted(pending))
            except Exception as exc:
                log.warning("run states not read; updates skipped", error=str(exc))
                continue
            topics = self._runs
            self._batch += 1
            batch = self._batch
            for run_id, state in states.items():
                update = RunUpdate(run_id, state, seq)
                for group in topics.candidates(run_id, update.pipeline):
                    if group.filter.matches(run_id, update.pipeline):
                        for sub in group.push(update, batch):
                            self._drop(topics, group.filter, sub)

    async def _delta_round(self) -> None:
        """Documents of the touched entities with delta subscribers, diffed and pushed
        (live/deltas.py); one shared delta per entity and redaction variant."""
        feed = self.deltas
        if feed is None or not feed.pending:
            return
        try:
            deltas = await feed.round()
        except Exception as exc:
            # The feed kept the entities (bounded): read them again after a pause, even
            # if nothing else is committed meanwhile.
            log.warning("entity documents not read; retrying", error=str(exc))
            if feed.pending:
                loop = asyncio.get_running_loop()
                loop.call_later(self._retry_after_s, self._runs_wanted.set)
            return
        self._batch += 1
        batch = self._batch
        for delta, subs in deltas:
            for sub in subs:
                if not sub.push(delta, batch):
                    feed.remove(sub.scope, sub)
                    self.dropped_subscribers += 1
                    log.warning("live subscriber closed", reason=str(sub.error))

    def publish_alerts(self, alerts: Sequence[dict[str, Any]]) -> None:
        """Fan out SLA alerts (breach states) to alert subscribers, here and on the
        other replicas. Never blocks."""
        self._publish_alerts_here(alerts)
        self._note_out([], [str(a["id"]) for a in alerts if a.get("id") is not None])

    def _publish_alerts_here(self, alerts: Sequence[dict[str, Any]]) -> None:
        if not alerts or not self._alerts:
            return
        self._batch += 1
        batch = self._batch
        for sub in list(self._alerts):
            for alert in alerts:
                if not sub.push(alert, batch):
                    self._alerts.discard(sub)
                    self.dropped_subscribers += 1
                    break

    async def alerts(self) -> AsyncGenerator[dict[str, Any], None]:
        """SLA alerts published from now on."""
        self._check_open()
        sub: _Subscriber[dict[str, Any]] = _Subscriber(self._queue_size, "alerts")
        self._alerts.add(sub)
        try:
            while True:
                yield await sub.get()
        finally:
            self._alerts.discard(sub)

    # -- subscribing -------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed is not None:
            raise self._closed

    async def events(
        self, flt: EventFilter, after_seq: int | None = None
    ) -> AsyncGenerator[LiveItem, None]:
        """Events matching ``flt``: stored ones with seq > after_seq first (when given),
        then live ones, each exactly once and in seq order."""
        self._check_open()
        sub: _Subscriber[LiveItem] = _Subscriber(self._queue_size)
        # Registered before the replay reads, so nothing committed meanwhile is missed.
        sub.buffering = after_seq is not None
        self._events.add(flt, sub)
        try:
            last = -1
            if after_seq is not None:
                last = after_seq
                sub.last_delivered = after_seq
                while True:
                    sub.lost = False
                    while True:
                        page = await self._replay_page(flt, last)
                        for ev in page:
                            last = ev.seq
                            sub.last_delivered = last
                            yield LiveItem(ev)
                        if len(page) < self._page_size:
                            break
                    # Live items were dropped during this pass: read the gap again.
                    if not sub.lost:
                        break
                if sub.error is not None:
                    raise sub.error
                sub.buffering = False
            while True:
                item = await sub.get()
                if item.seq <= last:
                    continue  # already replayed
                last = item.seq
                sub.last_delivered = last
                yield item
        finally:
            self._events.remove(flt, sub)

    async def _replay_page(self, flt: EventFilter, last: int) -> list[SequencedEvent]:
        """A page of stored events; a failed read ends the subscription with an error
        that says whether to retry and where to resume (never a plain end of stream)."""
        try:
            return await self._reads.events_after(
                last, pipeline=flt.pipeline, run=flt.run, types=flt.types, limit=self._page_size
            )
        except Exception as exc:
            if is_retryable(exc):
                log.warning("replay read failed; subscriber told to retry", error=error_code(exc))
                raise SubscriberClosed(
                    "the graph database is unavailable; subscribe again later with this afterSeq",
                    code="DATABASE_UNAVAILABLE",
                    resume_after_seq=last,
                    retry_after_s=self._retry_after_s,
                ) from exc
            log.exception("replay read failed", exc_info=exc)
            raise SubscriberClosed(
                "the stored events could not be read", code="INTERNAL_SERVER_ERROR"
            ) from exc

    async def run_updates(self, flt: RunFilter) -> AsyncGenerator[RunUpdate, None]:
        """The new state of each matching run after every commit that touches it."""
        self._check_open()
        sub: _Subscriber[RunUpdate] = _Subscriber(self._queue_size, "run updates")
        self._runs.add(flt, sub)
        try:
            while True:
                yield await sub.get()
        finally:
            self._runs.remove(flt, sub)

    async def entity_deltas(
        self, scope: DeltaScope, known: dict[str, int], variant: str
    ) -> AsyncGenerator[DeltaItem, None]:
        """Deltas of the entities in ``scope`` (docs/live-deltas.md): first a whole
        document for each whose version differs from ``known``, then live ones."""
        self._check_open()
        feed = self.deltas
        if feed is None:
            raise SubscriberClosed("entity deltas are not served here", code="UNAVAILABLE")
        sub = _DeltaSubscriber(self._queue_size, scope, variant)
        # Registered before the initial read: a change committed meanwhile is queued,
        # and delivery drops what the initial documents already cover.
        feed.add(scope, sub)
        try:
            try:
                initial = await feed.initial(scope, known, variant)
            except Exception as exc:
                if is_retryable(exc):
                    raise SubscriberClosed(
                        "the graph database is unavailable; subscribe again later",
                        code="DATABASE_UNAVAILABLE",
                        retry_after_s=self._retry_after_s,
                    ) from exc
                raise

            async def queued() -> AsyncGenerator[Delta, None]:
                while True:
                    yield await sub.get()

            async for item in deliver(feed, initial, known, queued()):
                yield item
        finally:
            feed.remove(scope, sub)
