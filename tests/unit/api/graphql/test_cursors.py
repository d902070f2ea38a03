"""Relay cursors (api/graphql/pagination.py, the one helper every paged field uses):
opaque, URL-safe, a round trip gives the key back, and a cursor the server did not make
is a clear error."""

from __future__ import annotations

import base64

import orjson
import pytest

from tracegraph.api.graphql.errors import BadArgument
from tracegraph.api.graphql.pagination import connection, decode_cursor, encode_cursor, page_size

KEYS = ["rag-nightly", "2026-11-20T02:00:00.000Z|run-0001", "ünïcode/ключ", ""]


@pytest.mark.parametrize("key", KEYS)
def test_a_cursor_gives_its_key_back(key: str) -> None:
    cursor = encode_cursor(key)
    assert decode_cursor(cursor) == key
    assert key == "" or key not in cursor  # opaque: not the key in plain text
    assert not set(cursor) & set("+/ ")  # safe in a URL or a query string


def test_no_cursor_means_the_first_page() -> None:
    assert decode_cursor(None) is None


def test_distinct_keys_give_distinct_cursors() -> None:
    # A page boundary is never ambiguous.
    assert len({encode_cursor(k) for k in KEYS}) == len(KEYS)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8 JSON
        base64.urlsafe_b64encode(b"{unquoted}").decode(),  # not JSON
        "YQ",  # base64 without its padding
        base64.urlsafe_b64encode(orjson.dumps(42)).decode(),  # JSON, but not a key
    ],
)
def test_a_forged_cursor_is_a_clear_error(cursor: str) -> None:
    with pytest.raises(BadArgument, match=r"^invalid cursor '"):
        decode_cursor(cursor)


def test_a_negative_page_size_is_refused_and_a_large_one_capped() -> None:
    with pytest.raises(BadArgument, match=r"first must be >= 0 \(got -1\)"):
        page_size(-1, 200)
    assert page_size(500, 200) == 200
    assert page_size(0, 200) == 0


def test_a_connection_reads_one_row_more_to_know_of_a_next_page() -> None:
    rows = ["a", "b", "c"]
    edges, info = connection(rows, 2, key=lambda r: r, edge=lambda c, r: (c, r))
    assert [r for _, r in edges] == ["a", "b"]
    assert info.has_next_page is True
    assert decode_cursor(info.end_cursor) == "b"
    edges, info = connection(rows, 3, key=lambda r: r, edge=lambda c, r: (c, r))
    assert info.has_next_page is False and decode_cursor(info.end_cursor) == "c"
    edges, info = connection([], 3, key=lambda r: r, edge=lambda c, r: (c, r))
    assert edges == [] and info.has_next_page is False and info.end_cursor is None
