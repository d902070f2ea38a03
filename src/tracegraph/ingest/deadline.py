"""The time by which the current request must be answered (a context variable).

Set by the API when a request arrives (``tracegraph.api.request_deadline``); the group
committer waits for a commit only until then, so the time spent authenticating and
validating counts against the same budget and a request answers 503 on time.
"""

from __future__ import annotations

import time
from contextvars import ContextVar, Token

_deadline: ContextVar[float | None] = ContextVar("tracegraph_request_deadline", default=None)


def start(seconds: float) -> Token[float | None]:
    """The current request must be answered within ``seconds`` from now."""
    return _deadline.set(time.monotonic() + seconds)


def reset(token: Token[float | None]) -> None:
    _deadline.reset(token)


def remaining(default: float) -> float:
    """Seconds left for the current request (``default`` when no deadline is set)."""
    at = _deadline.get()
    return default if at is None else min(default, at - time.monotonic())
