"""Reads and writes of the quarantine (``:Quarantined`` nodes) for review and re-submission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from neo4j import AsyncManagedTransaction

from tracegraph.events import format_timestamp
from tracegraph.store.base import Store
from tracegraph.store.cypher_files import cypher

STATUSES = ("open", "resolved", "all")


@dataclass(frozen=True)
class QuarantinePage:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _plain(value: Any) -> Any:
    # Neo4j temporal values become RFC 3339 text, the way the API writes every time.
    if hasattr(value, "to_native"):
        value = value.to_native()
    if isinstance(value, datetime):
        return format_timestamp(value)
    return value


def entry_of(node: dict[str, Any]) -> dict[str, Any]:
    """A quarantine entry as the API shows it: the raw text and, when it parses, the JSON."""
    entry = {k: _plain(v) for k, v in node.items()}
    raw = entry.get("raw")
    try:
        entry["payload"] = orjson.loads(raw) if isinstance(raw, str) else None
    except orjson.JSONDecodeError:
        entry["payload"] = None  # the raw body was not JSON (kept as received)
    entry.setdefault("resolved_at", None)
    entry.setdefault("resolved_seq", None)
    return entry


def encode_cursor(entry: dict[str, Any]) -> str:
    return f"{entry['received_at']}|{entry['id']}"


def decode_cursor(cursor: str) -> tuple[str, str]:
    time, sep, entry_id = cursor.partition("|")
    if not sep or not time or not entry_id:
        raise ValueError(f"bad cursor {cursor!r}: expected '<received_at>|<id>'")
    return time, entry_id


class QuarantineStore(Store):
    async def page(
        self, *, limit: int, after: str | None = None, status: str = "open"
    ) -> QuarantinePage:
        after_time, after_id = decode_cursor(after) if after else (None, None)
        records = await self.read(
            "quarantine_page",
            status=status,
            after_time=after_time,
            after_id=after_id,
            limit=limit + 1,  # one extra says whether there is a next page
        )
        rows = [entry_of(dict(rec["entry"])) for rec in records]
        more = len(rows) > limit
        rows = rows[:limit]
        return QuarantinePage(rows, encode_cursor(rows[-1]) if more and rows else None)

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        records = await self.read("quarantine_get", id=entry_id)
        return entry_of(dict(records[0]["entry"])) if records else None

    async def event_seq(self, event_id: str) -> int | None:
        records = await self.read("quarantine_event_seq", event_id=event_id)
        return int(records[0]["seq"]) if records else None

    async def resolve(
        self,
        entry_id: str,
        *,
        resolved_at: datetime,
        resolved_seq: int,
        resolved_event_id: str,
        resolved_by: str | None = None,
    ) -> dict[str, Any] | None:
        """Mark an open entry resolved; None when it was resolved meanwhile (or is gone)."""

        async def tx_fn(tx: AsyncManagedTransaction) -> dict[str, Any] | None:
            result = await tx.run(
                cypher("quarantine_resolve"),
                id=entry_id,
                resolved_at=format_timestamp(resolved_at),
                resolved_seq=resolved_seq,
                resolved_event_id=resolved_event_id,
                resolved_by=resolved_by,
            )
            record = await result.single()
            return dict(record["entry"]) if record else None

        node = await self.transaction(tx_fn)
        return entry_of(node) if node else None

    async def open_count(self) -> int:
        records = await self.read("quarantine_open_count")
        return int(records[0]["open"]) if records else 0
