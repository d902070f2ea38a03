"""Run-anchored reads of the event log behind point-in-time views (history/)."""

from __future__ import annotations

from typing import Any

from tracegraph.history.fold import StoredEvent
from tracegraph.store.base import Store


class HistoryReads(Store):
    async def run_events(
        self, run_id: str, as_of_seq: int, received_before: str | None, limit: int
    ) -> list[StoredEvent]:
        """The run's events with seq <= ``as_of_seq`` (and received at or before
        ``received_before`` when given), seq order, at most ``limit``."""
        records = await self.read(
            "run_events_up_to_seq",
            run=run_id,
            as_of_seq=as_of_seq,
            received_before=received_before,
            limit=limit,
        )
        return [StoredEvent.from_record(rec) for rec in records]

    async def run_event_seqs(self, run_id: str, limit: int) -> list[dict[str, Any]]:
        """(seq, received_at, type) of the run's events, seq order, at most ``limit``."""
        records = await self.read("run_event_seqs", run=run_id, limit=limit)
        return [dict(rec) for rec in records]

    async def pipeline_events(
        self, pipeline: str, as_of_seq: int, limit: int
    ) -> tuple[list[StoredEvent], int]:
        """The pipeline's own definition / owner / SLA events with seq <= ``as_of_seq``
        (seq order, at most ``limit``) and how many events of it the log held then."""
        records = await self.read(
            "pipeline_events_up_to_seq", pipeline=pipeline, as_of_seq=as_of_seq, limit=limit
        )
        counted = await self.read(
            "pipeline_card_version_at_seq", pipeline=pipeline, as_of_seq=as_of_seq
        )
        return [StoredEvent.from_record(rec) for rec in records], int(counted[0]["events"])
