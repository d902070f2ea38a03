"""Issuing and settling commands: the store's transitions with precise refusals, and the
hand-over of the commands issued here to the delivery feed at once after their commit.

Issuing is group-committed: every command takes the counter's lock until its commit
(seq order is commit order), so one transaction per request would cap a replica at one
commit's latency per command. A writer task takes every request waiting and issues them
in one transaction (each still all-or-nothing on its own). A replica runs
``transactions`` writers (2 by default): while one transaction runs, the requests that
arrive meanwhile start the next instead of waiting for the whole of it; the counter is
touched only by a transaction's last statement, so the transactions of one replica, like
those of several replicas, never deadlock and commit one at a time in seq order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from tracegraph.background import BackgroundTask
from tracegraph.commands.feed import CommandFeed
from tracegraph.commands.model import (
    OPEN_STATES,
    CommandRequest,
    CommandState,
    InvalidCommand,
    IssueTiming,
    Outcome,
)

log = structlog.get_logger(__name__)


class UnknownCommand(InvalidCommand):
    """No command with that id."""


class CommandClosed(InvalidCommand):
    """The command cannot move that way any more (finished, expired, or another
    executor's); ``state`` is where it is."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


class NotYours(CommandClosed):
    """Another principal acknowledged the command: only it may act on it further (the
    executor id is only what a client says; the principal is who signed in)."""


Transition = tuple[str, str | None, dict[str, Any]] | None
Unit = tuple[Sequence[CommandRequest], str]
Answer = list[dict[str, Any]] | InvalidCommand
# Requests issued in one transaction at most (their commands are far fewer than a
# statement can take; the cap bounds one transaction's time).
MAX_GROUP = 200
# An issuing transaction (or its commit) slower than this is counted on /metrics and
# logged with where its time went: the tail of issue-to-executor latency (issue 18's
# target is p99 < 200 ms, and such a transaction alone spends half of it).
SLOW_TRANSACTION_S = 0.1


class CommandWrites(Protocol):
    async def issue_units(
        self,
        units: Sequence[tuple[Sequence[CommandRequest], str]],
        now: datetime,
        ttl_s: float,
        timing: IssueTiming | None = None,
    ) -> list[list[dict[str, Any]] | InvalidCommand]: ...

    async def acknowledge(
        self, command_id: str, executor: str, actor: str, now: datetime
    ) -> Transition: ...

    async def settle(
        self,
        command_id: str,
        outcome: str,
        reason: str | None,
        run: str | None,
        executor: str,
        actor: str,
        now: datetime,
    ) -> Transition: ...


class CommandService:
    def __init__(
        self,
        store: CommandWrites,
        feed: CommandFeed,
        clock: Callable[[], datetime],
        ttl_s: float,
        *,
        transactions: int = 2,
    ) -> None:
        self._store = store
        self._feed = feed
        self._clock = clock
        self.ttl_s = ttl_s
        self._waiting: list[tuple[Unit, asyncio.Future[Answer], float]] = []
        self._wake = asyncio.Event()
        self._writers = [
            BackgroundTask(f"command-issuer-{i}", self._write) for i in range(transactions)
        ]
        # What the issuing costs (GET /metrics): its transactions, the requests they took,
        # their wall time and how long requests waited for one to begin.
        self.groups = 0
        self.grouped_requests = 0
        self.group_seconds = 0.0
        self.queue_wait_seconds = 0.0
        # Where the transactions' time went (IssueTiming, summed), and the slow ones:
        # transactions over SLOW_TRANSACTION_S, and commits over it.
        self.reads_seconds = 0.0
        self.write_seconds = 0.0
        self.commit_seconds = 0.0
        self.slow_groups = 0
        self.slow_commits = 0

    def start(self) -> None:
        for writer in self._writers:
            writer.start()

    async def stop(self) -> None:
        for writer in self._writers:
            await writer.stop()
        for _, future, _ in self._waiting:
            if not future.done():
                future.cancel()
        self._waiting.clear()

    async def issue(
        self, requests: Sequence[CommandRequest], principal: str
    ) -> list[dict[str, Any]]:
        """Issue ``requests`` (all or none) with the others waiting now, in one commit."""
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._waiting.append(((requests, principal), future, time.monotonic()))
        self._wake.set()
        answer = await future
        if isinstance(answer, InvalidCommand):
            raise answer
        return answer

    async def _write(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._waiting:
                group = self._waiting[:MAX_GROUP]
                del self._waiting[:MAX_GROUP]
                group = [(unit, f, t) for unit, f, t in group if not f.done()]  # callers gone
                if not group:
                    continue
                began = time.monotonic()
                self.groups += 1
                self.grouped_requests += len(group)
                self.queue_wait_seconds += sum(began - t for _, _, t in group)
                timing = IssueTiming()
                try:
                    answers = await self._store.issue_units(
                        [unit for unit, _, _ in group], self._clock(), self.ttl_s, timing
                    )
                except Exception as exc:
                    for _, future, _ in group:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                finally:
                    self._account(time.monotonic() - began, timing, len(group))
                # Handed to this replica's executors now, not after the tailer's read.
                self._feed.committed(
                    [c for answer in answers if isinstance(answer, list) for c in answer]
                )
                for (_, future, _), answer in zip(group, answers, strict=True):
                    if not future.done():
                        future.set_result(answer)

    def _account(self, seconds: float, timing: IssueTiming, requests: int) -> None:
        self.group_seconds += seconds
        self.reads_seconds += timing.reads_s
        self.write_seconds += timing.write_s
        self.commit_seconds += timing.commit_s
        if timing.commit_s > SLOW_TRANSACTION_S:
            self.slow_commits += 1
        if seconds > SLOW_TRANSACTION_S:
            self.slow_groups += 1
            log.info(
                "slow issuing transaction",
                ms=round(seconds * 1000, 1),
                reads_ms=round(timing.reads_s * 1000, 1),
                write_ms=round(timing.write_s * 1000, 1),
                commit_ms=round(timing.commit_s * 1000, 1),
                requests=requests,
            )

    async def acknowledge(self, command_id: str, executor: str, actor: str) -> dict[str, Any]:
        moved = await self._store.acknowledge(command_id, executor, actor, self._clock())
        if moved is None:
            raise UnknownCommand(f"unknown command {command_id!r}")
        before, holder, command = moved
        if before in OPEN_STATES:
            return command
        if before == CommandState.ACKNOWLEDGED:
            _check_principal(command_id, before, command, actor)
            if holder == executor:
                return command  # at-least-once delivery: the same executor again
        raise CommandClosed(_closed_message(command_id, before, holder, command), before)

    async def settle(
        self,
        command_id: str,
        outcome: Outcome,
        reason: str | None,
        run: str | None,
        executor: str,
        actor: str,
    ) -> dict[str, Any]:
        moved = await self._store.settle(
            command_id, outcome.value, reason, run, executor, actor, self._clock()
        )
        if moved is None:
            raise UnknownCommand(f"unknown command {command_id!r}")
        before, holder, command = moved
        if before in OPEN_STATES:
            return command
        if before == CommandState.ACKNOWLEDGED or (before == outcome.value and holder):
            _check_principal(command_id, before, command, actor)
            if holder == executor:
                return command  # settled now, or the same report again
        raise CommandClosed(_closed_message(command_id, before, holder, command), before)


def _check_principal(command_id: str, state: str, command: dict[str, Any], actor: str) -> None:
    """Only the principal that acknowledged a command acts on it further."""
    by = command.get("acknowledged_by")
    if by is not None and by != actor:
        raise NotYours(
            f"command {command_id!r} was acknowledged by another principal: only the key "
            "that acknowledged it may report its outcome",
            state,
        )


def _closed_message(command_id: str, state: str, holder: str | None, cmd: dict[str, Any]) -> str:
    if state == CommandState.ACKNOWLEDGED:
        return f"command {command_id!r} was already acknowledged by executor {holder!r}"
    reason = cmd.get("state_reason")
    return f"command {command_id!r} is {state}" + (f" ({reason})" if reason else "")
