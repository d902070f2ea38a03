"""Reads behind live subscriptions: filtered event-log pages and run states by id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import orjson
from neo4j import AsyncDriver

from tracegraph.events.records import SequencedEvent
from tracegraph.store.cypher_files import query
from tracegraph.store.errors import within
from tracegraph.store.event_reads import events_statement


class LiveReader:
    """The two statements the live hub needs, bound to one driver and database."""

    def __init__(
        self,
        driver: AsyncDriver,
        database: str,
        timeout_s: float = 30.0,
        answer_timeout_s: float | None = None,
    ) -> None:
        self._driver = driver
        self._database = database
        self._timeout_s = timeout_s
        # Replay pages are read while a subscriber waits: a frozen database must end
        # the subscription with a retryable error, not hang it (store.errors.within).
        self._answer_timeout_s = answer_timeout_s

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
        page = self._events_after(after_seq, pipeline, run, types, limit)
        if self._answer_timeout_s is None:
            return await page
        return await within(self._answer_timeout_s, page, "the replay read")

    async def _events_after(
        self,
        after_seq: int,
        pipeline: str | None,
        run: str | None,
        types: Collection[str] | None,
        limit: int,
    ) -> list[SequencedEvent]:
        async with self._driver.session(database=self._database) as session:
            result = await session.run(
                query(events_statement("after", run), self._timeout_s),
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
                async for rec in result
            ]

    async def runs_by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Run node properties by id (one round trip for all of them)."""
        if not ids:
            return {}
        async with self._driver.session(database=self._database) as session:
            result = await session.run(query("runs_by_ids", self._timeout_s), ids=list(ids))
            runs = [dict(rec["run"]) async for rec in result]
        return {str(r["id"]): r for r in runs}
