"""The round-robin queue the writer takes work from: principals take turns, one item
each, and each principal's own items keep their order."""

from __future__ import annotations

import asyncio

import pytest

from tracegraph.ingest.fair_queue import FairQueue


def test_keys_take_turns_and_keep_their_own_order() -> None:
    queue: FairQueue[str] = FairQueue()
    for item in ("a1", "a2", "a3"):
        queue.put_nowait("a", item)
    queue.put_nowait("b", "b1")
    queue.put_nowait("c", "c1")
    queue.put_nowait("b", "b2")
    assert len(queue) == 6
    taken = [queue.get_nowait() for _ in range(6)]
    assert taken == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert queue.empty()
    with pytest.raises(asyncio.QueueEmpty):
        queue.get_nowait()


def test_the_key_just_served_waits_for_the_others() -> None:
    queue: FairQueue[str] = FairQueue()
    queue.put_nowait("a", "a1")
    queue.put_nowait("a", "a2")
    assert queue.get_nowait() == "a1"
    queue.put_nowait("b", "b1")
    # a was just served: b goes first although a's next item came before it.
    assert [queue.get_nowait(), queue.get_nowait()] == ["b1", "a2"]


def test_a_key_served_twice_in_a_row_only_when_alone() -> None:
    queue: FairQueue[str] = FairQueue()
    queue.put_nowait("a", "a1")
    assert queue.get_nowait() == "a1"  # the queue is empty again; a's key is gone
    queue.put_nowait("a", "a2")
    queue.put_nowait("b", "b1")
    assert [queue.get_nowait(), queue.get_nowait()] == ["b1", "a2"]
    queue.put_nowait("a", "a3")
    assert queue.get_nowait() == "a3"  # alone: served again at once


async def test_get_waits_for_an_item() -> None:
    queue: FairQueue[str] = FairQueue()
    getter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)  # one loop turn, not a wait: the getter runs up to its wait
    assert not getter.done()
    queue.put_nowait("a", "a1")
    assert await asyncio.wait_for(getter, timeout=5) == "a1"
