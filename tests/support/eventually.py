"""Wait for a condition by polling it, never for a fixed time.

A fixed ``sleep`` is either too short (the test flakes on a loaded machine) or too long
(the suite crawls), and it hides what the test waits *for*. ``eventually`` names the
condition, returns as soon as it holds, and on timeout fails with the last value it
observed (or the last assertion that failed), so a timeout says what was wrong.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

T = TypeVar("T")

DEFAULT_TIMEOUT_S = 10.0
DEFAULT_INTERVAL_S = 0.05


class _Polls:
    """One polling session: the deadline, and what the condition said last."""

    def __init__(self, timeout: float, what: str) -> None:
        self.deadline = time.monotonic() + timeout
        self.timeout = timeout
        self.what = what
        self.last: Any = "<never evaluated>"

    def done(self, value: Any, until: Callable[[Any], bool] | None) -> bool:
        self.last = value
        return until(value) if until is not None else bool(value)

    def failed(self, error: BaseException) -> None:
        self.last = error

    def over(self) -> bool:
        return time.monotonic() >= self.deadline

    def timed_out(self) -> AssertionError:
        last = self.last
        shown = f"{type(last).__name__}: {last}" if isinstance(last, BaseException) else repr(last)
        return AssertionError(
            f"{self.what or 'condition'} did not hold within {self.timeout:g} s; "
            f"last observed: {shown}"
        )


def eventually(
    condition: Callable[[], T],
    *,
    until: Callable[[T], bool] | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = DEFAULT_INTERVAL_S,
    what: str = "",
    retry_on: tuple[type[BaseException], ...] = (AssertionError,),
) -> T:
    """Call ``condition`` until its value holds, and return that value.

    The value holds when ``until(value)`` is true, or without ``until`` when it is
    truthy. An exception of ``retry_on`` (by default ``AssertionError``, so a condition
    may be a block of asserts) counts as "not yet"; any other propagates at once. On
    timeout, raises ``AssertionError`` naming ``what`` and the last value or error seen.
    """
    polls = _Polls(timeout, what)
    while True:
        try:
            value = condition()
            if polls.done(value, until):
                return value
        except retry_on as error:
            polls.failed(error)
        if polls.over():
            raise polls.timed_out()
        time.sleep(interval)


async def eventually_async(
    condition: Callable[[], Awaitable[T] | T],
    *,
    until: Callable[[T], bool] | None = None,
    # The same keywords as the sync form; the deadline is checked between polls.
    timeout: float = DEFAULT_TIMEOUT_S,  # noqa: ASYNC109
    interval: float = DEFAULT_INTERVAL_S,
    what: str = "",
    retry_on: tuple[type[BaseException], ...] = (AssertionError,),
) -> T:
    """The async form of :func:`eventually`: ``condition`` may be a coroutine function
    (awaited each time) or a plain callable; waiting yields to the event loop."""
    polls = _Polls(timeout, what)
    while True:
        try:
            value = condition()
            if inspect.isawaitable(value):
                value = await value
            if polls.done(value, until):
                return cast(T, value)
        except retry_on as error:
            polls.failed(error)
        if polls.over():
            raise polls.timed_out()
        await asyncio.sleep(interval)
