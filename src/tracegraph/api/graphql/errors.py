"""The errors a GraphQL client is meant to see, and their ``extensions.code`` (one table).

Resolvers raise a :class:`TypedError` subclass; its ``extensions`` (the class's
``code`` first, then any detail such as ``retryAfter``) reach the client unchanged,
because graphql-core copies an original error's ``extensions`` onto the located error.
Everything else is internal and masked (``masking``: ``INTERNAL_SERVER_ERROR`` or
``QUERY_TIMEOUT``, with an ``errorId``). Permission refusals carry ``FORBIDDEN``
(``permissions``); closed subscriptions the hub's reason (:func:`subscription_closed`).

``ingestEvents`` answers what ``POST /v1/events`` answers with a status as an error whose
code says which (``BAD_REQUEST``, ``TOO_LARGE``, ``OVERLOADED``,
``DATABASE_UNAVAILABLE``) and, when retrying makes sense, ``retryAfter`` in seconds.
"""

from __future__ import annotations

from typing import Any, ClassVar

from graphql import GraphQLError

from tracegraph.ingest.errors import IngestError
from tracegraph.live.hub import SubscriberClosed

# Every extensions.code the API answers with (the hub's subscription codes aside:
# tracegraph.live.hub names why it closed a subscriber).
BAD_USER_INPUT = "BAD_USER_INPUT"
UNAUTHENTICATED = "UNAUTHENTICATED"
FORBIDDEN = "FORBIDDEN"
DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
QUERY_TIMEOUT = "QUERY_TIMEOUT"
INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
RATE_LIMITED = "RATE_LIMITED"
# Document limits (hardening): refused before execution.
QUERY_TOO_DEEP = "QUERY_TOO_DEEP"
TOO_MANY_ALIASES = "TOO_MANY_ALIASES"
QUERY_TOO_COSTLY = "QUERY_TOO_COSTLY"
TOO_MANY_FIELDS = "TOO_MANY_FIELDS"
# POST /v1/events statuses and the codes ingestEvents answers in their place.
INGEST_CODES = {400: "BAD_REQUEST", 413: "TOO_LARGE", 429: "OVERLOADED", 503: DATABASE_UNAVAILABLE}


class TypedError(Exception):
    """An error meant for the client as it stands: its message and ``extensions``."""

    code: ClassVar[str]

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.extensions: dict[str, Any] = {"code": self.code, **details}


class BadArgument(TypedError, ValueError):
    """A query argument that cannot be answered (out of range, unknown, malformed)."""

    code = BAD_USER_INPUT


class Forbidden(TypedError):
    """The caller's principal may not do this to this object (another one holds it)."""

    code = FORBIDDEN


class Unauthenticated(TypedError):
    """No principal: the operation ran without an accepted credential."""

    code = UNAUTHENTICATED


class DatabaseUnavailable(TypedError):
    """The graph database is down or did not answer: retry after ``retryAfter`` s."""

    code = DATABASE_UNAVAILABLE

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            "The graph database is unavailable; retry later.", retryAfter=retry_after_s
        )


def refused_change(exc: Exception) -> BadArgument:
    """An admin change the database refused (``ChangeRefused``: a non-retryable statement
    error; outages come as IngestError). Its event is in the quarantine, which can only
    discard it: resubmitting refuses the service's own governance types."""
    return BadArgument(f"the change was not applied: {exc}")


def ingest_error(exc: IngestError) -> GraphQLError:
    extensions: dict[str, Any] = {"code": INGEST_CODES.get(exc.status, INTERNAL_SERVER_ERROR)}
    if exc.retry_after_s is not None:
        extensions["retryAfter"] = exc.retry_after_s
    return GraphQLError(str(exc), extensions=extensions)


def database_unavailable(retry_after_s: int) -> GraphQLError:
    error = DatabaseUnavailable(retry_after_s)
    return GraphQLError(str(error), extensions=error.extensions)


def subscription_closed(exc: SubscriberClosed) -> GraphQLError:
    """What a client sees when the hub ends its subscription (too slow, shutdown)."""
    extensions: dict[str, Any] = {"code": exc.code}
    if exc.resume_after_seq is not None:
        extensions["resumeAfterSeq"] = exc.resume_after_seq
    if exc.retry_after_s is not None:
        extensions["retryAfter"] = exc.retry_after_s
    return GraphQLError(exc.message, extensions=extensions)
