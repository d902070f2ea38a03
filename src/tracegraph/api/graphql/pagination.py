"""Relay cursors and connections, one way for every paged field.

A cursor is the URL-safe base64 of the JSON of a row's sort key (a pipeline name, a
run's or an audit entry's order key): opaque to clients, and a malformed one is a
``BadArgument`` naming it. Pages are read one row longer than asked: that extra row
says whether there is a next page.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import TypeVar

import orjson

from tracegraph.api.graphql.errors import BadArgument
from tracegraph.api.graphql.types import PageInfo

R = TypeVar("R")
E = TypeVar("E")


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def decode_cursor(cursor: str | None) -> str | None:
    """The sort key in ``cursor`` (None: from the start)."""
    if cursor is None:
        return None
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception as exc:
        raise BadArgument(f"invalid cursor {cursor!r}") from exc
    if not isinstance(key, str):
        raise BadArgument(f"invalid cursor {cursor!r}")
    return key


def page_size(first: int, cap: int) -> int:
    """``first`` checked and capped at ``cap`` (``max_page_size``)."""
    if first < 0:
        raise BadArgument(f"first must be >= 0 (got {first})")
    return min(first, cap)


def connection(
    rows: Sequence[R],
    limit: int,
    key: Callable[[R], str],
    edge: Callable[[str, R], E],
) -> tuple[list[E], PageInfo]:
    """The edges of the first ``limit`` rows (``rows`` read ``limit + 1`` long) and the
    page info: ``edge(cursor, row)`` builds each edge, ``key(row)`` is its sort key."""
    page = rows[:limit]
    cursors = [encode_cursor(key(row)) for row in page]
    edges = [edge(cursor, row) for cursor, row in zip(cursors, page, strict=True)]
    info = PageInfo(has_next_page=len(rows) > limit, end_cursor=cursors[-1] if cursors else None)
    return edges, info
