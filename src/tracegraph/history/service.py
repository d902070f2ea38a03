"""Runs as of a seq (or an instant): read the run's events, fold them (history/fold.py).

Nothing is written and nothing is cached: the answer is a pure function of the stored
events with seq <= the asked seq, which never change once committed (the log is
append-only and seqs are assigned in commit order), so the same seq gives the same
answer every time, on every replica.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracegraph.events import format_timestamp
from tracegraph.history.fold import FoldedPipeline, FoldedRun, fold_pipeline, fold_run
from tracegraph.store.history_reads import HistoryReads

# A point-in-time view folds at most this many events of one run (the read asks for one
# more, to refuse longer runs with a clear error instead of a wrong partial answer).
MAX_RUN_EVENTS = 50_000
MAX_SLIDER_STOPS = 5_000


class RunTooLong(ValueError):
    """The run has more events up to the asked seq than a point-in-time view folds."""


class RunHistory:
    def __init__(self, reads: HistoryReads, prices: dict[str, Any]) -> None:
        self._reads = reads
        self._prices = prices

    async def run_as_of(
        self, run_id: str, as_of_seq: int | None, as_of: datetime | None
    ) -> FoldedRun | None:
        """The run folded from its events with seq <= ``as_of_seq`` (and, with ``as_of``,
        received by then; no seq: every seq); None when it had no event by then."""
        seq = as_of_seq if as_of_seq is not None else 2**62
        events = await self._reads.run_events(
            run_id,
            seq,
            None if as_of is None else format_timestamp(as_of),
            MAX_RUN_EVENTS + 1,
        )
        if len(events) > MAX_RUN_EVENTS:
            raise RunTooLong(
                f"run {run_id!r} has more than {MAX_RUN_EVENTS} events up to that point; "
                "a point-in-time view folds at most that many"
            )
        folded = fold_run(run_id, seq, events, self._prices)
        if folded is not None and as_of_seq is None:
            folded.as_of_seq = folded.last_seq  # an instant maps to the last seq known then
        return folded

    async def stops(self, run_id: str) -> list[dict[str, Any]]:
        """The run's seqs with the time each was received (the slider's stops)."""
        return await self._reads.run_event_seqs(run_id, MAX_SLIDER_STOPS)

    async def pipeline_as_of(self, name: str, as_of_seq: int) -> FoldedPipeline | None:
        """The pipeline's card (version, owners, SLAs, steps, card version) as of the seq."""
        events, card_version = await self._reads.pipeline_events(
            name, as_of_seq, MAX_RUN_EVENTS + 1
        )
        if len(events) > MAX_RUN_EVENTS:
            raise RunTooLong(
                f"pipeline {name!r} has more than {MAX_RUN_EVENTS} definition and admin "
                "events up to that point"
            )
        return fold_pipeline(name, as_of_seq, events, card_version)
