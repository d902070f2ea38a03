"""The policy in force on this replica, swapped atomically, and the refresh timer that
makes every replica converge on the stored policy (by version)."""

from __future__ import annotations

import asyncio
from typing import Protocol

import structlog

from tracegraph.background import BackgroundTask
from tracegraph.redaction.policy import RedactionPolicy
from tracegraph.redaction.scrubber import Scrubber

log = structlog.get_logger(__name__)


class ActivePolicy:
    """The current policy and its compiled scrubber (replaced together, never mutated)."""

    def __init__(self, policy: RedactionPolicy) -> None:
        self._state = (policy, policy.scrubber())

    @property
    def policy(self) -> RedactionPolicy:
        return self._state[0]

    @property
    def scrubber(self) -> Scrubber:
        return self._state[1]

    def apply(self, policy: RedactionPolicy) -> None:
        """Take ``policy`` into force (compiles first: a bad policy changes nothing)."""
        self._state = (policy, policy.scrubber())


class PolicySource(Protocol):
    async def version(self) -> int | None: ...

    async def get(self) -> RedactionPolicy | None: ...


class PolicyRefresher:
    """Every ``interval_s``: if the stored version differs, load and apply it."""

    def __init__(self, source: PolicySource, active: ActivePolicy, interval_s: float) -> None:
        self._source = source
        self._active = active
        self._interval_s = interval_s
        self._task = BackgroundTask("redaction-policy-refresh", self._loop)

    async def refresh(self) -> bool:
        """One check; True when a newer policy was applied."""
        version = await self._source.version()
        if version is None or version == self._active.policy.version:
            return False
        policy = await self._source.get()
        if policy is None:
            return False
        self._active.apply(policy)
        log.info("redaction policy refreshed", version=policy.version)
        return True

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                await self.refresh()
            except Exception as exc:  # the database is down, or a stored rule is bad
                log.warning("redaction policy not refreshed", error=str(exc))

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()


__all__ = ["ActivePolicy", "PolicyRefresher", "PolicySource"]
