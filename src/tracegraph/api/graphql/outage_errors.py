"""GraphQL errors for refusals a client should retry: a code and ``retryAfter``.

``ingestEvents`` answers what ``POST /v1/events`` answers with a status as an error
whose ``extensions.code`` says which (``BAD_REQUEST``, ``TOO_LARGE``, ``OVERLOADED``,
``DATABASE_UNAVAILABLE``) and, when retrying makes sense, ``retryAfter`` in seconds.
"""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError

from tracegraph.ingest.errors import IngestError

DATABASE_UNAVAILABLE = "DATABASE_UNAVAILABLE"
_CODES = {400: "BAD_REQUEST", 413: "TOO_LARGE", 429: "OVERLOADED", 503: DATABASE_UNAVAILABLE}


def ingest_error(exc: IngestError) -> GraphQLError:
    extensions: dict[str, Any] = {"code": _CODES.get(exc.status, "INTERNAL_SERVER_ERROR")}
    if exc.retry_after_s is not None:
        extensions["retryAfter"] = exc.retry_after_s
    return GraphQLError(str(exc), extensions=extensions)


def database_unavailable(retry_after_s: int) -> GraphQLError:
    return GraphQLError(
        "The graph database is unavailable; retry later.",
        extensions={"code": DATABASE_UNAVAILABLE, "retryAfter": retry_after_s},
    )
