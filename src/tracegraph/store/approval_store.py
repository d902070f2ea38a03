"""Approvals in the graph (issue 19): read only. They are written by the event writer
from ``approval.*`` events (``cypher/apply_batch.cypher``), never here, so a rebuild from
the log gives the same nodes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracegraph.events import format_timestamp
from tracegraph.store.base import Store


def approval_of(props: dict[str, Any]) -> dict[str, Any]:
    """A stored approval as plain values (temporals native)."""
    return {k: v.to_native() if hasattr(v, "to_native") else v for k, v in props.items()}


class ApprovalStore(Store):
    async def get(self, approval_id: str) -> dict[str, Any] | None:
        """The approval with ``owner`` (its pipeline's) and ``step_status``, or None."""
        records = await self.read("approval_by_id", id=approval_id)
        if not records:
            return None
        rec = records[0]
        return {
            **approval_of(rec["approval"]),
            "owner": rec["owner"],
            "step_status": rec["step_status"],
        }

    async def due(self, now: datetime, limit: int = 100) -> list[dict[str, Any]]:
        records = await self.read("approvals_due", now=format_timestamp(now), limit=limit)
        return [approval_of(r["approval"]) for r in records]

    async def page(
        self, run: str | None, pipeline: str | None, states: list[str], first: int
    ) -> list[dict[str, Any]]:
        records = await self.read(
            "approvals_page", run=run, pipeline=pipeline, states=states, first=first
        )
        return [approval_of(r["approval"]) for r in records]
