"""The one exception type the launcher raises."""

from __future__ import annotations


class LocalNeo4jError(RuntimeError):
    """The local Neo4j server could not be fetched, started or reached.

    The message is meant for a person: it says what is missing or what the
    server logged last, so callers can print it as is.
    """
