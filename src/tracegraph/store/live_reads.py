"""Reads behind live subscriptions: filtered event-log pages and run states by id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import orjson

from tracegraph.events.records import SequencedEvent
from tracegraph.store.base import Store
from tracegraph.store.event_reads import events_statement


class LiveReader(Store):
    """The two statements the live hub needs. Replay pages are read while a subscriber
    waits: ``answer_timeout_s`` bounds them, so a frozen database ends the subscription
    with a retryable error instead of hanging it (store.errors.within)."""

    async def events_after(
        self,
        after_seq: int,
        *,
        pipeline: str | None = None,
        run: str | None = None,
        types: Collection[str] | None = None,
        limit: int = 1000,
    ) -> list[SequencedEvent]:
        """Stored events with seq > after_seq matching the filters, in seq order."""
        records = await self.read(
            events_statement("after", run),
            after_seq=after_seq,
            pipeline=pipeline,
            run=run,
            types=None if types is None else list(types),
            limit=limit,
        )
        return [
            SequencedEvent(
                seq=rec["seq"],
                payload=orjson.loads(rec["payload"]),
                fingerprint=rec["fingerprint"],
                received_at=rec["received_at"].to_native(),
                principal=rec["principal"],
            )
            for rec in records
        ]

    async def runs_by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Run node properties by id (one round trip for all of them)."""
        if not ids:
            return {}
        records = await self.read("runs_by_ids", ids=list(ids))
        runs = [dict(rec["run"]) for rec in records]
        return {str(r["id"]): r for r in runs}
