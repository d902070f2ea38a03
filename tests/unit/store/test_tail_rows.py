"""The live tailer's read (LiveReader.tail) passes over a row it cannot decode instead of
failing the whole read: a failed read is retried from the same cursor, so one such row
stopped this replica's live view for good (issue 20)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

import orjson
from neo4j.time import DateTime

from tracegraph.store.live_reads import LiveReader


def _row(seq: int, payload: bytes | str | None) -> dict[str, Any]:
    return {
        "seq": seq,
        "payload": payload,
        "fingerprint": f"fp{seq}",
        "received_at": DateTime.from_native(datetime(2026, 12, 1, tzinfo=UTC)),
        "principal": "key:test",
    }


async def test_undecodable_rows_are_skipped_and_counted_as_read() -> None:
    rows = [
        _row(4, orjson.dumps({"type": "log", "id": "a"}).decode()),
        _row(5, "{not json"),
        _row(6, None),
        _row(7, orjson.dumps({"type": "log", "id": "b"}).decode()),
    ]
    record = {"last_event": 9, "last_note": 2, "events": rows, "notes": []}
    reader = LiveReader(cast(Any, None), "neo4j")

    async def read_on_leader(statement: str, /, **params: Any) -> list[dict[str, Any]]:
        assert statement == "live_tail"
        return [record]

    reader.read_on_leader = read_on_leader  # type: ignore[method-assign]
    page = await reader.tail(3, 0, 4)
    assert [e.seq for e in page.events] == [4, 7]
    assert [e.payload["id"] for e in page.events] == ["a", "b"]
    assert page.skipped_seqs == (5, 6) and page.skipped == 2
    assert page.read == 4  # a full page: the tailer reads on after it
    assert (page.last_event, page.last_note) == (9, 2)
