"""How a failed database call is classified, and deadlines for calls that may never end.

Two kinds of failure, answered differently:

- *retryable*: the database is down, unreachable, did not answer in time, or the driver
  classifies the error as transient (deadlock, leader switch). Nothing is wrong with
  the request; clients get 503 + ``Retry-After`` (GraphQL: code ``DATABASE_UNAVAILABLE``).
- everything else (a statement error, a constraint the data breaks, a bug): retrying
  gives the same answer, so it is reported precisely and never retried.

A frozen server (a long GC pause, a network partition) keeps its sockets open and never
answers; server-side transaction timeouts cannot fire then, so calls on a request's path
run under :func:`within`, an asyncio deadline. Cancelling the call makes the driver
drop that connection (it never goes back to the pool).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from neo4j.exceptions import DriverError, Neo4jError, ServiceUnavailable, SessionExpired

T = TypeVar("T")


class DatabaseUnresponsive(Exception):
    """The database did not answer within our deadline (frozen, partitioned, overloaded)."""


class LeaseLost(Exception):
    """A fenced write was refused: the lease it carried is no longer this replica's
    (another took over while it was paused). The duty stops; it writes nothing more."""


def is_retryable(exc: BaseException) -> bool:
    """True when the same call may well succeed later: answer 503, or retry."""
    if isinstance(exc, DatabaseUnresponsive | ServiceUnavailable | SessionExpired):
        return True
    if isinstance(exc, Neo4jError):
        return exc.is_retryable() or _is_pool_exhausted(exc)
    # Pool acquisition timeouts and broken connections surface as plain DriverErrors.
    return isinstance(exc, DriverError)


def _is_pool_exhausted(exc: Neo4jError) -> bool:
    """The driver (5.x) reports a full connection pool as a code-less ``ClientError``
    (its own TODO moves it to ``DriverError`` in 6.0); the server never sent it."""
    return exc.code is None and "failed to obtain a connection from the pool" in str(exc)


def is_timed_out(exc: BaseException) -> bool:
    """The server ended a transaction at its timeout (for a write: unresponsive). One
    stopped while it waited for a lock says ``LockClientStopped`` ("retry your operation
    in a new transaction"): the same timeout, met in a lock queue."""
    code = exc.code or "" if isinstance(exc, Neo4jError) else ""
    return "TransactionTimedOut" in code or code.endswith("Transaction.LockClientStopped")


def error_code(exc: BaseException) -> str:
    """A short, safe name for a failure: the Neo4j status code or the exception type
    (never its message, which may hold hosts, ports or query text)."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else type(exc).__name__


async def within(seconds: float, call: Awaitable[T], what: str = "the call") -> T:
    """``call``, or :class:`DatabaseUnresponsive` once ``seconds`` have passed."""
    # asyncio.timeout, not wait_for: Python 3.11's wait_for returns the result of a call
    # that finished in the same loop turn as a cancellation and loses the cancellation
    # (a stopped background loop then ran on and the service never stopped).
    try:
        async with asyncio.timeout(seconds):
            return await call
    except TimeoutError:
        raise DatabaseUnresponsive(
            f"the graph database did not answer {what} within {seconds:g} s"
        ) from None
