"""Internal errors masked: clients see ``Unexpected error.`` and an ``errorId``.

Deliberate client errors pass unchanged: GraphQL syntax and validation errors, errors
raised as ``GraphQLError`` (permission ``FORBIDDEN``, rate limits, closed subscriptions),
typed :class:`~tracegraph.api.graphql.errors.TypedError` (``BAD_USER_INPUT`` …) and
ingest refusals. Anything else
(a Neo4j failure, a bug) is logged with its traceback under a fresh ``errorId`` that the
client gets in ``extensions``, so an operator can find the real cause. A Cypher
transaction timeout gets its own plain message (code ``QUERY_TIMEOUT``), still with no
internals; so does a change stopped at that timeout while it waited for a lock. A
failure that retrying may well get past (the database down or unresponsive, a deadlock
the driver's own retries did not get past) is ``DATABASE_UNAVAILABLE`` with
``retryAfter``: no bug, and the client should retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import structlog
from graphql import GraphQLError, GraphQLFormattedError
from neo4j.exceptions import ClientError
from strawberry.extensions import MaskErrors

from tracegraph.api.graphql.errors import (
    DATABASE_UNAVAILABLE,
    INTERNAL_SERVER_ERROR,
    QUERY_TIMEOUT,
    TypedError,
)
from tracegraph.ingest.errors import IngestError
from tracegraph.store.errors import is_retryable

UNEXPECTED = "Unexpected error."
_CLIENT_ERRORS: tuple[type[BaseException], ...] = (GraphQLError, TypedError, IngestError)


def is_client_error(error: GraphQLError) -> bool:
    """True when the error is meant for the client as it stands."""
    original = error.original_error
    if original is None:
        return True  # syntax, validation and GraphQL-level errors carry no cause
    if isinstance(original, _CLIENT_ERRORS):
        return True
    # Literal and variable values the scalars refused are reported during validation
    # and coercion (no path), with the scalar's ValueError as the cause.
    return error.path is None and isinstance(original, ValueError | TypeError)


def is_timeout(exc: BaseException | None) -> bool:
    return isinstance(exc, ClientError) and "TransactionTimedOut" in (exc.code or "")


def is_lock_wait_timeout(exc: BaseException | None) -> bool:
    # A transaction waiting for a lock that reaches its timeout is stopped with this code
    # (the service never terminates transactions otherwise).
    return isinstance(exc, ClientError) and "LockClientStopped" in (exc.code or "")


def masked(error: GraphQLError, timeout_s: float, retry_after_s: int) -> GraphQLError:
    """The client's view of an internal error; the real one is logged under its id."""
    error_id = uuid.uuid4().hex[:16]
    original = error.original_error
    extensions: dict[str, object] = {}
    if is_timeout(original):
        message = (
            f"The query ran longer than the {timeout_s:g} s limit and was cancelled; "
            "ask for less (smaller first, depth or time range) and retry."
        )
        code = QUERY_TIMEOUT
    elif is_lock_wait_timeout(original):
        message = (
            f"The change waited longer than the {timeout_s:g} s limit for data another "
            "change holds, and was cancelled; nothing was changed; retry."
        )
        code = QUERY_TIMEOUT
    elif original is not None and is_retryable(original):
        message = (
            "The graph database is unavailable or busy (a transient failure); "
            f"retry in {retry_after_s} s."
        )
        code = DATABASE_UNAVAILABLE
        extensions["retryAfter"] = retry_after_s
    else:
        message, code = UNEXPECTED, INTERNAL_SERVER_ERROR
    # A fresh logger: the module-level one is cached on first use and would keep the
    # processors of that moment (internal errors are rare; the lookup is cheap).
    structlog.get_logger(__name__).error(
        "graphql.internal_error",
        error_id=error_id,
        code=code,
        path=error.path,
        error=repr(original),
        exc_info=original,
    )
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions={"code": code, **extensions, "errorId": error_id},
    )


def mask_all(
    errors: Iterable[GraphQLError], timeout_s: float, retry_after_s: int
) -> list[GraphQLError]:
    return [e if is_client_error(e) else masked(e, timeout_s, retry_after_s) for e in errors]


class MaskInternalErrors(MaskErrors):
    """strawberry's ``MaskErrors`` with the predicate above and a correlation id."""

    def __init__(self, timeout_s: float, retry_after_s: int) -> None:
        super().__init__(should_mask_error=lambda e: not is_client_error(e))
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return masked(error, self.timeout_s, self.retry_after_s)


def formatted_errors(
    errors: Iterable[GraphQLError], timeout_s: float, retry_after_s: int
) -> list[GraphQLFormattedError]:
    """Masked errors as JSON-ready dicts (for paths that format results themselves)."""
    return [e.formatted for e in mask_all(errors, timeout_s, retry_after_s)]
