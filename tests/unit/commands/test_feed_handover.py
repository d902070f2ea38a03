"""The feed hands the commands this process committed to its executors at once, in seq
order, each once, and reads what other replicas committed in between (issue 18 item 9).

The source is an in-memory command log (the feed's own protocol, not the driver): what
the database would answer after the commits. The tailer's poll is an hour, so anything
that arrives came by the hand-over or by the wake-up a gap causes, never by a poll.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

from tracegraph.commands.feed import CommandFeed


class _Log:
    """Committed commands, as commands_after_seq reads them; counts the tailer's reads."""

    def __init__(self) -> None:
        self.commands: list[dict[str, Any]] = []
        self.reads = 0

    def commit(self, *seqs: int, pipeline: str = "p") -> list[dict[str, Any]]:
        made = [
            {"id": f"c{seq}", "seq": seq, "pipeline": pipeline, "state": "pending"} for seq in seqs
        ]
        self.commands.extend(made)
        return made

    async def last_seq(self) -> int:
        return 0

    async def after(self, after: int, limit: int = 1000) -> list[dict[str, Any]]:
        self.reads += 1
        return [c for c in self.commands if c["seq"] > after][:limit]

    async def open_after(
        self, pipelines: Sequence[str], after: int, upto: int, limit: int = 1000
    ) -> list[dict[str, Any]]:
        return []

    async def mark_delivered(self, ids: Sequence[str], now: datetime) -> int:
        return len(ids)

    async def by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return {c["id"]: c for c in self.commands if c["id"] in ids}

    async def expire(
        self, now: datetime, ttl_s: float, ack_lease_s: float, limit: int = 1000
    ) -> list[dict[str, Any]]:
        return []


async def _started(log: _Log) -> tuple[CommandFeed, AsyncIterator[list[dict[str, Any]]]]:
    feed = CommandFeed(log, lambda: datetime.now(UTC), ttl_s=600, poll_s=3600)
    feed.start()
    stream = feed.stream(["p"], 0)
    assert await anext(stream) == []  # caught up: the rest is live
    return feed, stream


async def _received(stream: AsyncIterator[list[dict[str, Any]]], n: int) -> list[int]:
    seqs: list[int] = []
    async with asyncio.timeout(5):
        while len(seqs) < n:
            seqs += [c["seq"] for c in await anext(stream)]
    return seqs


async def test_a_command_committed_here_reaches_the_executor_without_a_read() -> None:
    log = _Log()
    feed, stream = await _started(log)
    try:
        reads = log.reads
        feed.committed(log.commit(1, 2))
        assert await _received(stream, 2) == [1, 2]
        assert log.reads == reads  # not through the database
        assert feed.position == 2
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await feed.stop()


async def test_a_gap_is_read_from_the_database_and_every_seq_arrives_once_in_order() -> None:
    log = _Log()
    feed, stream = await _started(log)
    try:
        log.commit(1, 2)  # another replica's commands
        mine = log.commit(3)
        feed.committed(mine)  # follows seq 2, not handed over yet: the tailer reads 1-3
        assert await _received(stream, 3) == [1, 2, 3]
        feed.committed(mine)  # handed over already: dropped
        feed.committed(log.commit(4))
        assert await _received(stream, 1) == [4]
        assert feed.position == 4
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await feed.stop()


async def test_two_writers_handing_over_out_of_commit_order_deliver_in_seq_order() -> None:
    log = _Log()
    feed, stream = await _started(log)
    try:
        first, second = log.commit(1, 2), log.commit(3, 4)
        # The second transaction's writer resumes first: its seqs wait for 1-2 (or for the
        # tailer, which the gap woke); then the first one's arrive.
        feed.committed(second)
        feed.committed(first)
        assert await _received(stream, 4) == [1, 2, 3, 4]
        feed.committed(second)
        feed.committed(log.commit(5))
        assert await _received(stream, 1) == [5]
    finally:
        await stream.aclose()  # type: ignore[attr-defined]
        await feed.stop()
