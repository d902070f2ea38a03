"""Relay cursors (the helpers in api/graphql/schema.py and audit.py): opaque, URL-safe,
a round trip gives the key back, and a cursor the server did not make is a clear error."""

from __future__ import annotations

import base64

import pytest

from tracegraph.api.graphql import audit, schema
from tracegraph.api.graphql.views import BadArgument

KEYS = ["rag-nightly", "2026-11-20T02:00:00.000Z|run-0001", "ünïcode/ключ", ""]


@pytest.mark.parametrize("key", KEYS)
def test_a_cursor_gives_its_key_back(key: str) -> None:
    for encode, decode in (
        (schema._encode_cursor, schema._decode_cursor),
        (audit._encode_cursor, audit._decode_cursor),
    ):
        cursor = encode(key)
        assert decode(cursor) == key
        assert key == "" or key not in cursor  # opaque: not the key in plain text
        assert not set(cursor) & set("+/ ")  # safe in a URL or a query string


def test_no_cursor_means_the_first_page() -> None:
    assert schema._decode_cursor(None) is None
    assert audit._decode_cursor(None) is None


def test_cursors_keep_the_order_of_nothing_but_their_keys() -> None:
    # Distinct keys, distinct cursors (a page boundary is never ambiguous).
    cursors = {schema._encode_cursor(k) for k in KEYS}
    assert len(cursors) == len(KEYS)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64!",
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),  # not UTF-8 JSON
        base64.urlsafe_b64encode(b"{unquoted}").decode(),  # not JSON
        "YQ",  # base64 without its padding
    ],
)
def test_a_forged_cursor_is_a_clear_error(cursor: str) -> None:
    for decode in (schema._decode_cursor, audit._decode_cursor):
        with pytest.raises(BadArgument, match=r"^invalid cursor '"):
            decode(cursor)


def test_the_audit_trail_takes_only_its_own_kind_of_cursor() -> None:
    numeric = schema._encode_cursor(42)
    assert schema._decode_cursor(numeric) == 42  # the generic helper decodes any JSON
    with pytest.raises(BadArgument, match="invalid cursor"):
        audit._decode_cursor(numeric)
