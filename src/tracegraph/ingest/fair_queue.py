"""Round-robin across principals: a queue and a turn-taking lock.

A plain FIFO serves a flood before anything queued after it: one principal's six
5,000-event requests ahead of another's one-event post made that post wait for all of
them. Here each principal (any hashable key) has its own FIFO, and the principals take
turns, one item each, in the order they first had something waiting; within a
principal, order is kept, and no principal is served twice in a row while another one
waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class FairQueue(Generic[T]):
    """An unbounded asyncio queue served round-robin by key (bounds are the callers')."""

    def __init__(self) -> None:
        # Keys with something waiting, in the order of their next turn.
        self._turns: OrderedDict[Hashable, deque[T]] = OrderedDict()
        self._size = 0
        self._ready = asyncio.Event()
        self._last_served: Hashable | None = None

    def __len__(self) -> int:
        return self._size

    def empty(self) -> bool:
        return self._size == 0

    def put_nowait(self, key: Hashable, item: T) -> None:
        waiting = self._turns.get(key)
        if waiting is None:
            waiting = self._turns[key] = deque()  # a newcomer takes the last turn
        waiting.append(item)
        self._size += 1
        self._ready.set()

    def get_nowait(self) -> T:
        """The head item of the key whose turn it is; that key then goes last."""
        if not self._turns:
            raise asyncio.QueueEmpty
        key = next(iter(self._turns))
        if key == self._last_served and len(self._turns) > 1:
            # It emptied its queue when last served and refilled it before the others
            # came: still, the others go first.
            self._turns.move_to_end(key)
            key = next(iter(self._turns))
        waiting = self._turns[key]
        item = waiting.popleft()
        self._last_served = key
        self._size -= 1
        if waiting:
            self._turns.move_to_end(key)
        else:
            del self._turns[key]
        if not self._size:
            self._ready.clear()
        return item

    async def get(self) -> T:
        while not self._size:
            await self._ready.wait()
        return self.get_nowait()

    def note_served(self, key: Hashable) -> None:
        """``key`` was served outside the queue (it found nothing waiting): its next
        item waits for the other keys' turns like one taken from here."""
        self._last_served = key


class FairTurns:
    """A lock whose waiters are granted round-robin by key instead of first come."""

    def __init__(self) -> None:
        self._waiting: FairQueue[asyncio.Future[None]] = FairQueue()
        self._held = False

    @contextlib.asynccontextmanager
    async def turn(self, key: Hashable) -> AsyncIterator[None]:
        if self._held or not self._waiting.empty():
            granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiting.put_nowait(key, granted)
            try:
                await granted
            except asyncio.CancelledError:
                if granted.done() and not granted.cancelled():
                    self._pass_on()  # granted just as it was cancelled: hand the turn on
                raise
        else:
            self._waiting.note_served(key)
        self._held = True
        try:
            yield
        finally:
            self._pass_on()

    def _pass_on(self) -> None:
        while not self._waiting.empty():
            granted = self._waiting.get_nowait()
            if not granted.done():  # skip waiters cancelled meanwhile
                granted.set_result(None)
                return  # _held stays True: the turn passes straight to that waiter
        self._held = False
