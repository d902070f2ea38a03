"""Issuing and settling commands: the store's transitions with precise refusals, and a
local wake-up of the delivery tailer so a command issued here goes out at once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from tracegraph.commands.feed import CommandFeed
from tracegraph.commands.model import (
    OPEN_STATES,
    CommandRequest,
    CommandState,
    InvalidCommand,
    Outcome,
)


class UnknownCommand(InvalidCommand):
    """No command with that id."""


class CommandClosed(InvalidCommand):
    """The command cannot move that way any more (finished, expired, or another
    executor's); ``state`` is where it is."""

    def __init__(self, message: str, state: str) -> None:
        super().__init__(message)
        self.state = state


Transition = tuple[str, str | None, dict[str, Any]] | None


class CommandWrites(Protocol):
    async def issue(
        self, requests: Sequence[CommandRequest], principal: str, now: datetime, ttl_s: float
    ) -> list[dict[str, Any]]: ...

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
    ) -> None:
        self._store = store
        self._feed = feed
        self._clock = clock
        self.ttl_s = ttl_s

    async def issue(
        self, requests: Sequence[CommandRequest], principal: str
    ) -> list[dict[str, Any]]:
        commands = await self._store.issue(requests, principal, self._clock(), self.ttl_s)
        self._feed.wake()
        return commands

    async def acknowledge(self, command_id: str, executor: str, actor: str) -> dict[str, Any]:
        moved = await self._store.acknowledge(command_id, executor, actor, self._clock())
        if moved is None:
            raise UnknownCommand(f"unknown command {command_id!r}")
        before, holder, command = moved
        if before in OPEN_STATES:
            return command
        if before == CommandState.ACKNOWLEDGED and holder == executor:
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
        if before in OPEN_STATES or (before == CommandState.ACKNOWLEDGED and holder == executor):
            return command
        if before == outcome.value and holder == executor:
            return command  # the same report again
        raise CommandClosed(_closed_message(command_id, before, holder, command), before)


def _closed_message(command_id: str, state: str, holder: str | None, cmd: dict[str, Any]) -> str:
    if state == CommandState.ACKNOWLEDGED:
        return f"command {command_id!r} was already acknowledged by executor {holder!r}"
    reason = cmd.get("state_reason")
    return f"command {command_id!r} is {state}" + (f" ({reason})" if reason else "")
