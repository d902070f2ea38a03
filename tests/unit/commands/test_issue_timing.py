"""The issuer counts where its transactions' time went and the slow ones (/metrics):
the store fills an IssueTiming per transaction; the service sums it and counts the
transactions and commits over 100 ms (the tail of issue-to-executor latency)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from tracegraph.commands.feed import CommandFeed
from tracegraph.commands.model import CommandKind, CommandRequest, IssueTiming
from tracegraph.commands.service import CommandService


class _Store:
    """Issues each request as one command; its transactions take what it is told."""

    def __init__(self) -> None:
        self.seq = 0
        self.next_timing = IssueTiming(reads_s=0.001, write_s=0.002, commit_s=0.003)

    async def issue_units(
        self,
        units: Sequence[tuple[Sequence[CommandRequest], str]],
        now: datetime,
        ttl_s: float,
        timing: IssueTiming | None = None,
    ) -> list[Any]:
        assert timing is not None  # the service always asks where the time went
        told = self.next_timing
        await asyncio.sleep(told.reads_s + told.write_s + told.commit_s)
        timing.reads_s, timing.write_s, timing.commit_s = told.reads_s, told.write_s, told.commit_s
        answers = []
        for _ in units:
            self.seq += 1
            answers.append([{"id": f"c{self.seq}", "seq": self.seq, "pipeline": "p"}])
        return answers

    async def acknowledge(self, *args: Any) -> None:
        return None

    async def settle(self, *args: Any) -> None:
        return None


async def test_the_issuer_sums_the_split_and_counts_slow_transactions_and_commits() -> None:
    store = _Store()
    feed = CommandFeed(store, lambda: datetime.now(UTC), ttl_s=600)  # type: ignore[arg-type]
    service = CommandService(store, feed, lambda: datetime.now(UTC), 600, transactions=1)
    service.start()
    try:
        request = CommandRequest(kind=CommandKind.START, idempotency_key="k", pipeline="p")
        await service.issue([request], "key:op")
        assert (service.slow_groups, service.slow_commits) == (0, 0)
        # A transaction whose commit alone takes 150 ms: slow, and a slow commit.
        store.next_timing = IssueTiming(reads_s=0.001, write_s=0.002, commit_s=0.15)
        await service.issue([request], "key:op")
        # One whose write waits 150 ms for the counter's lock: slow, its commit is not.
        store.next_timing = IssueTiming(reads_s=0.001, write_s=0.15, commit_s=0.003)
        await service.issue([request], "key:op")
        assert service.groups == 3
        assert (service.slow_groups, service.slow_commits) == (2, 1)
        assert round(service.commit_seconds, 3) == 0.156
        assert round(service.write_seconds, 3) == 0.154
        assert round(service.reads_seconds, 3) == 0.003
    finally:
        await service.stop()
