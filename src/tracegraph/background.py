"""A long-running task of the service (the writer, the SLA timer, the policy refresher…):
started at most once, and on stop cancelled and awaited, so nothing outlives shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger(__name__)

# How long stop() waits for a cancelled task before cancelling it again.
STOP_RECANCEL_S = 1.0


class BackgroundTask:
    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def started(self) -> bool:
        """Started and not stopped since (it may have finished on its own)."""
        return self._task is not None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Cancel the task and wait until it ended. A cancellation the task lost (a
        library that swallowed it) is repeated, so shutdown never hangs on it; a
        cancellation of the caller still propagates."""
        task, self._task = self._task, None
        if task is None:
            return
        while not task.done():
            task.cancel()
            await asyncio.wait({task}, timeout=STOP_RECANCEL_S)
        if not task.cancelled() and task.exception() is not None:
            log.warning(
                "background task had failed before it was stopped",
                task=self._name,
                error=repr(task.exception()),
            )
