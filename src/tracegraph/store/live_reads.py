"""Reads behind live subscriptions: filtered event-log pages and run states by id."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from tracegraph.events.records import SequencedEvent
from tracegraph.store.base import Store
from tracegraph.store.event_reads import events_statement

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class TailPage:
    last_event: int  # the event counter now
    last_note: int  # the LiveNote counter now
    events: list[SequencedEvent]  # the rows read, decoded (in seq order)
    notes: list[dict[str, Any]]
    # Seqs of rows read that could not be decoded (logged): nothing to deliver, but read,
    # so the tailer's cursor passes them instead of reading them again forever.
    skipped_seqs: tuple[int, ...] = ()

    @property
    def skipped(self) -> int:
        """Rows read and passed over (undecodable)."""
        return len(self.skipped_seqs)

    @property
    def read(self) -> int:
        """Event rows the read returned: whether the page was full (more may follow)
        counts these, not only the events that decoded."""
        return len(self.events) + len(self.skipped_seqs)

    @property
    def last_read(self) -> int | None:
        """The highest seq among the rows read (None: no row). A full page covered the
        log only up to it: a seq missing beyond it may still be there."""
        seqs = [*self.skipped_seqs, *(e.seq for e in self.events[-1:])]
        return max(seqs, default=None)


def _event_of(row: Any) -> SequencedEvent:
    return SequencedEvent(
        seq=row["seq"],
        payload=orjson.loads(row["payload"]),
        fingerprint=row["fingerprint"],
        received_at=row["received_at"].to_native(),
        principal=row["principal"],
    )


# LiveNotes kept (a relay between live hubs, read within a tick: a generous margin).
NOTES_KEPT = 10_000


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
        return [_event_of(rec) for rec in records]

    async def runs_by_ids(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Run node properties by id (one round trip for all of them)."""
        if not ids:
            return {}
        records = await self.read("runs_by_ids", ids=list(ids))
        runs = [dict(rec["run"]) for rec in records]
        return {str(r["id"]): r for r in runs}

    # -- the cross-replica tailer (live/hub.py) -----------------------------------------

    async def tail(
        self, after_seq: int, after_note: int, limit: int, timeout_s: float | None = None
    ) -> TailPage:
        """One tick of the tailer: events and LiveNotes after its cursors, and where the
        counters stand (read on the leader: it has every commit). ``timeout_s``: how
        long to wait for the answer (default: the store's answer timeout)."""
        [rec] = await self.read_on_leader(
            "live_tail",
            answer_timeout_s=timeout_s,
            after_seq=after_seq,
            after_note=after_note,
            limit=limit,
        )
        events: list[SequencedEvent] = []
        skipped: list[int] = []
        for row in rec["events"]:
            try:
                events.append(_event_of(row))
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # One row the tailer cannot decode must not stall it (it would read the
                # same row on every tick, and every replica's subscribers wait behind it).
                skipped.append(int(row["seq"]))
                log.warning(
                    "live tail: event not decodable; passed over",
                    seq=row["seq"],
                    error=type(exc).__name__,
                )
        return TailPage(
            int(rec["last_event"]),
            int(rec["last_note"]),
            events,
            [dict(n) for n in rec["notes"]],
            tuple(skipped),
        )

    async def write_note(self, origin: str, breaches: Sequence[str], alerts: Sequence[str]) -> None:
        await self.write(
            "live_note_write",
            origin=origin,
            breaches=list(breaches),
            alerts=list(alerts),
            keep=NOTES_KEPT,
        )
