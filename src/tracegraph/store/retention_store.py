"""Neo4j access of retention, replay from the archive and erasure (docs/retention.md):
the range scans that find expired data, and the bounded deletes and rewrites."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from neo4j import AsyncDriver

from tracegraph.events import format_timestamp
from tracegraph.store.base import Store
from tracegraph.store.batch_params import RowList
from tracegraph.store.errors import LeaseLost


def _cutoff(at: datetime) -> str:
    return format_timestamp(at)


class RetentionStore(Store):
    def __init__(self, driver: AsyncDriver, database: str, timeout_s: float) -> None:
        super().__init__(driver, database, timeout_s)
        # The retention lease's holder and token (leases.DutyLease.fence), checked by
        # every delete and strip of a pass: a replica that lost the lease removes
        # nothing. None (the CLI, a test): unfenced. Set by runtime.
        self.fence: Callable[[], dict[str, Any] | None] = lambda: None

    async def _fenced(self, name: str, result: str, **params: Any) -> int:
        [record] = await self.write(name, fence=self.fence(), **params)
        if not record["current"]:
            raise LeaseLost(f"retention: the lease was taken over; {name} refused")
        return int(record[result])

    # -- events (raw payloads, logs) -------------------------------------------------

    async def expired_events(
        self, cutoff: datetime, types: list[str], limit: int
    ) -> list[dict[str, Any]]:
        records = await self.read(
            "retention_events_expired", cutoff=_cutoff(cutoff), types=types, limit=limit
        )
        return [dict(r) for r in records]

    async def count_expired_events(self, cutoff: datetime, types: list[str]) -> int:
        [record] = await self.read("retention_events_count", cutoff=_cutoff(cutoff), types=types)
        return int(record["count"])

    async def delete_events(self, seqs: list[int]) -> int:
        return await self._fenced(
            "retention_events_delete", "deleted", batch={"seqs": RowList(seqs)}
        )

    # -- text ------------------------------------------------------------------------

    async def text_events(
        self, cutoff: datetime, types: list[str], limit: int
    ) -> list[dict[str, Any]]:
        records = await self.read(
            "retention_text_events", cutoff=_cutoff(cutoff), types=types, limit=limit
        )
        return [dict(r) for r in records]

    async def count_text_events(self, cutoff: datetime, types: list[str]) -> int:
        [record] = await self.read(
            "retention_text_events_count", cutoff=_cutoff(cutoff), types=types
        )
        return int(record["count"])

    async def strip_event_text(self, rows: list[dict[str, Any]]) -> int:
        """Rows of ``{seq, payload}``: the payloads without their text."""
        return await self._fenced(
            "retention_text_events_strip", "stripped", batch={"rows": RowList(rows)}
        )

    async def text_calls(self, cutoff: datetime, limit: int) -> list[dict[str, Any]]:
        records = await self.read("retention_text_calls", cutoff=_cutoff(cutoff), limit=limit)
        return [dict(r) for r in records]

    async def count_text_calls(self, cutoff: datetime) -> int:
        [record] = await self.read("retention_text_calls_count", cutoff=_cutoff(cutoff))
        return int(record["count"])

    async def strip_call_text(self, ids: list[str]) -> int:
        return await self._fenced(
            "retention_text_calls_strip", "stripped", batch={"ids": RowList(ids)}
        )

    # -- runs ------------------------------------------------------------------------

    async def expired_runs(self, cutoff: datetime, limit: int) -> list[str]:
        records = await self.read("retention_runs_expired", cutoff=_cutoff(cutoff), limit=limit)
        return [str(r["id"]) for r in records]

    async def count_expired_runs(self, cutoff: datetime) -> int:
        [record] = await self.read("retention_runs_count", cutoff=_cutoff(cutoff))
        return int(record["count"])

    async def run_nodes(self, run_ids: list[str]) -> list[dict[str, Any]]:
        records = await self.read("retention_runs_nodes", batch={"ids": RowList(run_ids)})
        return [dict(r) for r in records]

    async def run_relationships(self, element_ids: list[str]) -> list[dict[str, Any]]:
        records = await self.read(
            "retention_runs_relationships", batch={"element_ids": RowList(element_ids)}
        )
        return [dict(r) for r in records]

    async def prune_runs(self, delete: list[str], keep_runs: list[str]) -> int:
        return await self._fenced(
            "retention_runs_prune",
            "deleted",
            batch={"delete": RowList(delete), "keep_runs": RowList(keep_runs)},
        )

    # -- replay from the archive -----------------------------------------------------

    async def restore_events(self, rows: list[dict[str, Any]]) -> int:
        [record] = await self.write("replay_restore_events", batch={"rows": RowList(rows)})
        return int(record["restored"])

    # -- erasure ---------------------------------------------------------------------

    async def nodes_mentioning(
        self, needle: str, kept_keys: list[str], limit: int
    ) -> list[dict[str, Any]]:
        records = await self.read(
            "erase_matching_nodes", needle=needle.lower(), keys=kept_keys, limit=limit
        )
        return [dict(r) for r in records]

    async def rewrite_nodes(self, rows: list[dict[str, Any]]) -> int:
        """Rows of ``{element_id, props}``: the changed properties of each node."""
        [record] = await self.write("erase_rewrite_nodes", batch={"rows": RowList(rows)})
        return int(record["rewritten"])
