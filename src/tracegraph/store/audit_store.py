"""The audit trail (``:AuditEntry``): change records written in the changing transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from neo4j import AsyncDriver, AsyncManagedTransaction

from tracegraph.audit import AuditRecord
from tracegraph.events import format_timestamp
from tracegraph.store.cypher_files import cypher


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def audit_rows(entries: Sequence[AuditRecord]) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        kind, _, key = e.target.partition(":")
        rows.append(
            {
                "id": e.id,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "target_kind": kind,
                "target_key": key,
                "before": _json(e.before),
                "after": _json(e.after),
                "at": format_timestamp(e.at),
            }
        )
    return rows


async def record_in_tx(tx: AsyncManagedTransaction, entries: Sequence[AuditRecord]) -> None:
    """Record entries inside the transaction that makes the change (both or neither)."""
    if entries:
        await (await tx.run(cypher("audit_record"), entries=audit_rows(entries))).consume()


class AuditStore:
    def __init__(self, driver: AsyncDriver, database: str) -> None:
        self._driver = driver
        self._database = database

    async def record(self, entries: Sequence[AuditRecord]) -> None:
        async with self._driver.session(database=self._database) as session:
            await session.execute_write(record_in_tx, entries)
