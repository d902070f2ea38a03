"""Reads and writes of the quarantine (``:Quarantined`` nodes) for review and re-submission."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from neo4j import AsyncManagedTransaction

from tracegraph.audit import AuditRecord
from tracegraph.events import format_timestamp
from tracegraph.store.audit_store import record_in_tx
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
    for name in ("resolved_at", "resolved_seq", "resolved_by", "resolution", "discard_reason"):
        entry.setdefault(name, None)
    return entry


def _audit(entry: dict[str, Any], actor: str, at: datetime, after: dict[str, Any]) -> AuditRecord:
    """The audit record of resolving ``entry`` (its stored node, before the change)."""
    return AuditRecord(
        actor=actor,
        action=f"quarantine.{after['resolution']}",
        target=f"quarantine:{entry['id']}",
        before={
            "reason": entry.get("reason"),
            "event_id": entry.get("event_id"),
            "principal": entry.get("principal"),
        },
        after=after,
        at=at,
    )


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
        resolved_by: str,
    ) -> dict[str, Any] | None:
        """Mark an open entry resolved by a re-submission, audited with ``resolved_by``
        in the same transaction; None when it was resolved meanwhile (or is gone)."""

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
            if record is None:
                return None
            node = dict(record["entry"])
            after = {
                "resolution": "resubmitted",
                "event_id": resolved_event_id,
                "seq": resolved_seq,
            }
            await record_in_tx(tx, [_audit(node, resolved_by, resolved_at, after)])
            return node

        node = await self.transaction(tx_fn)
        return entry_of(node) if node else None

    async def discard(
        self, entry_id: str, *, reason: str, at: datetime, actor: str
    ) -> dict[str, Any] | None:
        """Resolve an open entry without storing anything, audited with ``actor`` in the
        same transaction; None when it was resolved meanwhile (or is gone)."""

        async def tx_fn(tx: AsyncManagedTransaction) -> dict[str, Any] | None:
            result = await tx.run(
                cypher("quarantine_discard"),
                id=entry_id,
                resolved_at=format_timestamp(at),
                resolved_by=actor,
                reason=reason,
            )
            record = await result.single()
            if record is None:
                return None
            node = dict(record["entry"])
            after = {"resolution": "discarded", "reason": reason}
            await record_in_tx(tx, [_audit(node, actor, at, after)])
            return node

        node = await self.transaction(tx_fn)
        return entry_of(node) if node else None

    async def open_count(self) -> int:
        records = await self.read("quarantine_open_count")
        return int(records[0]["open"]) if records else 0
