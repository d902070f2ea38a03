"""Stopping a task that is in a timed database call stops it, whenever the stop comes.

Python 3.11's ``asyncio.wait_for`` returns the call's result when the call finished in
the same loop turn as the cancellation, and the cancellation is lost: the command feed's
tailer (a database read every poll) then ran on after shutdown had cancelled it, and the
service never stopped (CI: "the service … did not stop", stuck in ``CommandFeed.stop``)."""

from __future__ import annotations

import asyncio

import pytest

from tracegraph.background import BackgroundTask
from tracegraph.store.errors import within


async def _quick() -> int:
    return 42


@pytest.mark.parametrize("turns", range(8))
async def test_a_cancel_in_the_turn_the_call_finishes_is_not_lost(turns: int) -> None:
    # Cancel after 0..7 loop turns: one of them is the turn in which the call has
    # finished but the caller has not resumed yet.
    async def caller() -> None:
        await within(5, _quick())
        await asyncio.Event().wait()  # like a loop's next wait: only a cancel ends it

    task = asyncio.create_task(caller())
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    await asyncio.wait({task}, timeout=2)
    lost = not task.done()
    task.cancel()  # clean up a task that lost it
    await asyncio.wait({task})
    assert not lost, "the cancellation was lost: the task ran on"
    assert task.cancelled()


async def test_stop_ends_a_task_that_swallowed_one_cancellation() -> None:
    # Whatever a library does with one cancellation, stop() ends the task.
    swallowed = asyncio.Event()

    async def body() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            swallowed.set()
        await asyncio.Event().wait()  # on, as if nothing happened

    background = BackgroundTask("swallower", body)
    background.start()
    await asyncio.sleep(0)
    running = asyncio.all_tasks() - {asyncio.current_task()}
    stopping = asyncio.create_task(background.stop())
    await asyncio.wait({stopping}, timeout=5)
    stopped = stopping.done()
    for task in running | {stopping}:
        task.cancel()
    assert stopped, "stop() did not return"
    assert swallowed.is_set()
    assert all(task.done() for task in running), "the task ran on after stop()"
