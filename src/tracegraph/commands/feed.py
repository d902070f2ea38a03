"""Delivery of commands to executors, equal on every replica (issue 18).

One tailer per process reads the commands after the last seq it saw from the database
(every ``poll_s``, ~50 ms) and hands each to the executors subscribed here for its
pipeline. Because it reads the database, a command issued on replica B reaches an
executor connected to replica A; no list held by one process decides what is delivered.

The commands this process issues it hands over itself as soon as their transaction
committed (:meth:`committed`), without the tailer's read: in seq order, and only while
they follow on from the last seq handed over. A gap (another replica's commands, or a
transaction of this one whose commit is not handed over yet) wakes the tailer, which
reads the gap from the database; every seq is handed over once (the position is the
last seq handed over, by either way).

Resume without gap (:meth:`CommandFeed.stream`): an executor's queue is registered
before the database is read for what it missed (open commands of its pipelines with
``after`` < seq <= the tailer's position at registration); everything later arrives
through the queue. Seqs are allocated under a lock held until commit, so seq order is
commit order and the tailer never skips a command. Delivery is at least once: an
executor that reconnects with the last seq it saw gets exactly what it missed that still
waits for an executor (pending or delivered), and dedupes by command id.

The same process also marks received commands ``delivered`` (batched) and expires
commands nobody acknowledged in time (a query safe to run on every replica at once).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from tracegraph.background import BackgroundTask
from tracegraph.live.hub import SubscriberClosed
from tracegraph.store.errors import error_code

log = structlog.get_logger(__name__)

# Commands the recent cache keeps (a minute at 150 commands/s).
RECENT = 10_000
_OPEN = ("pending", "delivered")


class CommandSource(Protocol):
    """What the feed reads and writes (``store.command_store.CommandStore``)."""

    async def last_seq(self) -> int: ...

    async def after(self, after: int, limit: int = 1000) -> list[dict[str, Any]]: ...

    async def open_after(
        self, pipelines: Sequence[str], after: int, upto: int, limit: int = 1000
    ) -> list[dict[str, Any]]: ...

    async def mark_delivered(self, ids: Sequence[str], now: datetime) -> int: ...

    async def by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]: ...

    async def expire(
        self, now: datetime, ttl_s: float, ack_lease_s: float, limit: int = 1000
    ) -> list[dict[str, Any]]: ...


class _Receiver:
    """One executor's bounded queue of commands for its pipelines."""

    __slots__ = ("error", "items", "limit", "pipelines", "position", "wakeup")

    def __init__(self, pipelines: frozenset[str], limit: int, position: int) -> None:
        self.pipelines = pipelines
        self.items: deque[dict[str, Any]] = deque()
        self.limit = limit
        self.position = position  # the tailer's seq when registered
        self.wakeup = asyncio.Event()
        self.error: SubscriberClosed | None = None

    def push(self, command: dict[str, Any]) -> None:
        if self.error is not None:
            return
        if len(self.items) >= self.limit:
            resume = self.items[0]["seq"] - 1
            self.error = SubscriberClosed(
                f"too far behind: resume with afterSeq={resume}",
                code="SUBSCRIBER_TOO_SLOW",
                resume_after_seq=resume,
            )
            self.items.clear()
        else:
            self.items.append(command)
        self.wakeup.set()


class CommandFeed:
    def __init__(
        self,
        source: CommandSource,
        clock: Callable[[], datetime],
        *,
        ttl_s: float,
        poll_s: float = 0.05,
        expire_every_s: float = 1.0,
        queue_size: int = 1000,
        ack_lease_s: float = 3600.0,
        page: int = 1000,
    ) -> None:
        self._source = source
        self._clock = clock
        self._ttl_s = ttl_s
        self._poll_s = poll_s
        self._expire_every_s = expire_every_s
        self._queue_size = queue_size
        self._ack_lease_s = ack_lease_s
        self._page = page
        # Executors by pipeline: the tailer hands a command to its pipeline's receivers
        # only, not by testing every receiver (1,000 executors x every command).
        self._receivers: dict[str, set[_Receiver]] = {}
        self._receiver_count = 0
        self._wake = asyncio.Event()
        self._delivered: set[str] = set()
        self._delivered_wake = asyncio.Event()
        self.position = 0  # the last seq the tailer read
        # The commands the tailer read lately (only a cache: a catch-up after `_floor`
        # picks its candidates here and reads just their states, instead of scanning the
        # database; long-polling executors catch up on every poll).
        self._recent: deque[dict[str, Any]] = deque()
        self._floor = 0
        # Commands this process committed, by seq, until the seqs before them are handed
        # over (committed); the tailer reads those from the database.
        self._committed: dict[int, dict[str, Any]] = {}
        self._started = asyncio.Event()
        self._tasks = [
            BackgroundTask("command-tailer", self._tail),
            BackgroundTask("command-delivered", self._mark_delivered),
            BackgroundTask("command-expiry", self._expire),
        ]

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        for task in self._tasks:
            task.start()

    async def stop(self) -> None:
        for task in self._tasks:
            await task.stop()
        closed = SubscriberClosed(
            "the server is shutting down; reconnect with the last seq", code="SHUTTING_DOWN"
        )
        for receiver in {r for group in self._receivers.values() for r in group}:
            receiver.error = closed
            receiver.wakeup.set()

    def wake(self) -> None:
        """Read the database now, not at the next poll."""
        self._wake.set()

    def committed(self, commands: Sequence[dict[str, Any]]) -> None:
        """Commands whose issuing transaction in this process committed: handed over at
        once if they follow on from the last seq handed over, else as soon as the tailer
        read the seqs before them (woken now). Those already handed over are dropped."""
        if not self._started.is_set():
            return  # the tailer reads them with the rest
        for command in commands:
            if int(command["seq"]) > self.position:
                self._committed[int(command["seq"])] = command
        self._hand_over_committed()
        if self._committed:
            if len(self._committed) > RECENT:  # the tailer is stuck: it reads them later
                self._committed.clear()
            self._wake.set()

    def _hand_over_committed(self) -> None:
        while (command := self._committed.pop(self.position + 1, None)) is not None:
            self._hand_over(command)
        if self._committed and min(self._committed) <= self.position:
            self._committed = {k: v for k, v in self._committed.items() if k > self.position}

    def _hand_over(self, command: dict[str, Any]) -> None:
        self._dispatch(command)
        self.position = int(command["seq"])
        self._remember(command)

    @property
    def started(self) -> bool:
        """The tailer knows where the commands end (/readyz waits for it)."""
        return self._started.is_set()

    @property
    def receivers(self) -> int:
        return self._receiver_count

    # -- the tailer ------------------------------------------------------------------------

    async def _tail(self) -> None:
        while not self._started.is_set():
            try:
                self.position = self._floor = await self._source.last_seq()
                self._started.set()
            except Exception as exc:
                log.warning("command feed: cannot read the command seq", error=error_code(exc))
                await asyncio.sleep(1.0)
        while True:
            # asyncio.timeout, not wait_for (which can lose a cancellation on 3.11).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                while True:
                    commands = await self._source.after(self.position, self._page)
                    for command in commands:
                        # Handed over meanwhile by `committed` (seqs come without gaps:
                        # seq order is commit order).
                        if int(command["seq"]) > self.position:
                            self._hand_over(command)
                    if len(commands) < self._page:
                        break
                self._hand_over_committed()
            except Exception as exc:
                log.warning("command feed: tail read failed", error=error_code(exc))
                await asyncio.sleep(min(1.0, self._poll_s * 10))

    def _remember(self, command: dict[str, Any]) -> None:
        self._recent.append(command)
        if len(self._recent) > RECENT:
            self._floor = int(self._recent.popleft()["seq"])

    async def _missed(
        self, pipelines: frozenset[str], after: int, upto: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """What an executor missed: open commands of ``pipelines`` with seq in
        (``after``, ``upto``], from the recent cache (their states read again) or else
        from the database, in seq order."""
        if after >= self._floor:
            # The cache is in seq order: walk back from its end to `after` (a long poll
            # that got a command polls again with its seq: a few commands to look at,
            # not the whole cache, on every poll of every executor).
            candidates = []
            for c in reversed(self._recent):
                if c["seq"] <= after:
                    break
                if c["seq"] <= upto and c.get("pipeline") in pipelines:
                    candidates.append(c["id"])
            candidates.reverse()
            if candidates:
                now = await self._source.by_ids(candidates)
                still = [now[i] for i in candidates if i in now and now[i]["state"] in _OPEN]
                if still:
                    yield still
            return
        last = after
        while last < upto:
            missed = await self._source.open_after(sorted(pipelines), last, upto, self._page)
            if missed:
                last = int(missed[-1]["seq"])
                yield missed
            if len(missed) < self._page:
                break

    def _dispatch(self, command: dict[str, Any]) -> None:
        for receiver in self._receivers.get(command.get("pipeline") or "", ()):
            receiver.push(command)

    def _register(self, receiver: _Receiver) -> None:
        for pipeline in receiver.pipelines:
            self._receivers.setdefault(pipeline, set()).add(receiver)
        self._receiver_count += 1

    def _unregister(self, receiver: _Receiver) -> None:
        for pipeline in receiver.pipelines:
            group = self._receivers.get(pipeline)
            if group is not None and receiver in group:
                group.discard(receiver)
                if not group:
                    del self._receivers[pipeline]
        self._receiver_count -= 1

    # -- executors -------------------------------------------------------------------------

    async def ready(self) -> None:
        """Until the tailer knows where the log ends (it reads that first)."""
        await self._started.wait()

    async def stream(
        self, pipelines: Collection[str], after: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Batches of commands of ``pipelines`` with seq > ``after``: first what is stored
        and still open, then live ones as the tailer reads them. Ends with
        :class:`SubscriberClosed` when the executor falls too far behind or on shutdown.
        One empty batch marks the end of the catch-up (a long poll waits only after it)."""
        await self.ready()
        receiver = _Receiver(frozenset(pipelines), self._queue_size, self.position)
        self._register(receiver)
        try:
            async for missed in self._missed(receiver.pipelines, after, receiver.position):
                yield missed
            last = max(after, receiver.position)
            yield []  # caught up: everything after this is live
            while True:
                await receiver.wakeup.wait()
                receiver.wakeup.clear()
                if receiver.error is not None:
                    raise receiver.error
                batch = [c for c in receiver.items if c["seq"] > last]
                receiver.items.clear()
                if batch:
                    last = int(batch[-1]["seq"])
                    yield batch
        finally:
            self._unregister(receiver)

    def delivered(self, commands: Sequence[dict[str, Any]]) -> None:
        """These were sent to an executor: marked ``delivered`` shortly (batched)."""
        fresh = [c["id"] for c in commands if c.get("state") == "pending"]
        if fresh:
            self._delivered.update(fresh)
            self._delivered_wake.set()

    async def _mark_delivered(self) -> None:
        while True:
            await self._delivered_wake.wait()
            await asyncio.sleep(0.1)  # gather a batch
            self._delivered_wake.clear()
            ids, self._delivered = sorted(self._delivered), set()
            try:
                await self._source.mark_delivered(ids, self._clock())
            except Exception as exc:
                # Only a visible state is lost: the commands stay open and deliverable.
                log.warning("command feed: marking delivered failed", error=error_code(exc))

    async def _expire(self) -> None:
        while True:
            await asyncio.sleep(self._expire_every_s)
            try:
                now, page = self._clock(), self._page
                while (
                    len(await self._source.expire(now, self._ttl_s, self._ack_lease_s, page))
                    == page
                ):
                    pass
            except Exception as exc:
                log.warning("command feed: expiry failed", error=error_code(exc))
