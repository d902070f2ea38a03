"""The SLA evaluator: runs after commit and on a timer, never inside ingestion.

The group committer hands it the committed events (``on_commit``, synchronous and
non-blocking): it only notes which runs and step runs were touched, in a bounded set.
A background task evaluates them against their SLAs, and on every tick of the timer it
also checks work that no event will announce — scheduled runs that never started, cron
fire times of scheduled pipelines that no run covered (``missing_run``), and runs still
running past their duration — plus success rates over their windows.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from tracegraph.background import BackgroundTask
from tracegraph.slas.missing_runs import MAX_FIRES, ScheduledPipeline, evaluate_missing_runs
from tracegraph.slas.rules import (
    TERMINAL,
    Finding,
    RateWindow,
    Sla,
    Subject,
    evaluate_subject,
    evaluate_success_rate,
    rate_window,
    to_ms,
)

log = structlog.get_logger(__name__)

STEP_EVENT_PREFIXES = ("step.", "prompt.", "response.", "artifact.")

BreachHandler = Callable[[list[dict[str, Any]]], Awaitable[None] | None]


class SlaStoreLike(Protocol):
    async def run_subjects(self, ids: Sequence[str]) -> list[tuple[Subject, Sla]]: ...
    async def step_run_subjects(self, ids: Sequence[str]) -> list[tuple[Subject, Sla]]: ...
    async def open_subjects(self) -> list[tuple[Subject, Sla]]: ...
    async def scheduled_pipelines(self, since_ms: int) -> list[ScheduledPipeline]: ...
    async def rate_slas(
        self, ids: Sequence[str] | None = None
    ) -> list[tuple[Sla, str, str | None]]: ...
    async def rate_counts(
        self, windows: Sequence[RateWindow]
    ) -> dict[str, tuple[int, int, str | None]]: ...
    async def merge_breaches(self, findings: Sequence[Finding], now_ms: int) -> list[str]: ...
    async def breaches(
        self, *, ids: Sequence[str] | None = None, limit: int = 100
    ) -> list[dict]: ...


class SlaEvaluator:
    def __init__(
        self,
        store: SlaStoreLike,
        clock: Callable[[], datetime],
        *,
        interval_s: float = 5.0,
        queue_size: int = 100_000,
        on_breaches: BreachHandler | None = None,
        missing_run_lookback_s: float = 86_400.0,
        missing_run_max_fires: int = MAX_FIRES,
        min_gap_s: float = 1.0,
    ) -> None:
        self._store = store
        self._clock = clock
        self._interval = interval_s
        self._limit = queue_size
        self._on_breaches = on_breaches
        self._lookback_ms = int(missing_run_lookback_s * 1000)
        self._max_fires = missing_run_max_fires
        # Under sustained ingest, touched runs pile up for this long and are evaluated
        # together, so SLA reads do not compete with every single commit.
        self._min_gap = min_gap_s
        # Insertion-ordered sets of touched ids; a dict dedups repeated events for free.
        self._runs: dict[str, None] = {}
        self._step_runs: dict[str, None] = {}
        self._wake = asyncio.Event()
        self._task = BackgroundTask("tracegraph-sla-evaluator", self._loop)
        self._force_sweep = False
        self.dropped = 0
        self.rounds = 0
        self.breaches_found = 0

    # -- intake (commit listener) --------------------------------------------------------

    def on_commit(self, events: Sequence[Any]) -> None:
        """Note the runs and step runs of committed events. Never blocks, never awaits."""
        for ev in events:
            p = ev.payload
            run = p.get("run")
            if not run:
                continue
            self._add(self._runs, run)
            step = p.get("step")
            if step and p["type"].startswith(STEP_EVENT_PREFIXES):
                self._add(self._step_runs, f"{run}/{step}#{p.get('attempt', 1)}")
        if self._runs or self._step_runs:
            self._wake.set()

    def _add(self, target: dict[str, None], key: str) -> None:
        if key in target:
            return
        if len(self._runs) + len(self._step_runs) >= self._limit:
            # Bounded: shed load rather than hold ingestion or grow without limit.
            self.dropped += 1
            return
        target[key] = None

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def wake(self) -> None:
        """Run the timer's checks now (e.g. after a test moved the clock)."""
        self._force_sweep = True
        self._wake.set()

    async def _loop(self) -> None:
        next_sweep = time.monotonic()
        while True:
            timeout = max(0.0, next_sweep - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)
            self._wake.clear()
            try:
                if self._runs or self._step_runs:
                    await self.evaluate_touched()
                    if self._min_gap:
                        await asyncio.sleep(self._min_gap)
                if self._force_sweep or time.monotonic() >= next_sweep:
                    self._force_sweep = False
                    await self.sweep()
                    next_sweep = time.monotonic() + self._interval
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be down; try again next tick
                log.warning("SLA evaluation failed", error=str(exc))
                next_sweep = time.monotonic() + self._interval
            self.rounds += 1

    # -- evaluation ----------------------------------------------------------------------

    def _now_ms(self) -> int:
        now = to_ms(self._clock())
        assert now is not None
        return now

    async def evaluate_touched(self) -> list[str]:
        runs, self._runs = list(self._runs), {}
        step_runs, self._step_runs = list(self._step_runs), {}
        now = self._now_ms()
        try:
            pairs = await self._store.run_subjects(runs)
            pairs += await self._store.step_run_subjects(step_runs)
        except Exception:
            # Put them back (as far as room allows) so a database blip loses nothing.
            for r in runs:
                self._add(self._runs, r)
            for s in step_runs:
                self._add(self._step_runs, s)
            raise
        findings = [f for subj, sla in pairs for f in evaluate_subject(sla, subj, now)]
        rated = {
            sla.id
            for subj, sla in pairs
            if subj.status in TERMINAL and sla.min_success_rate is not None
        }
        if rated:
            findings += await self._success_rates(rated, now)
        return await self._record(findings, now)

    async def sweep(self) -> list[str]:
        """What the clock alone can breach: late starts, missing scheduled runs, overlong
        running work, rates."""
        now = self._now_ms()
        pairs = await self._store.open_subjects()
        findings = [f for subj, sla in pairs for f in evaluate_subject(sla, subj, now)]
        findings += await self._missing_runs(now)
        findings += await self._success_rates(None, now)
        return await self._record(findings, now)

    async def evaluate_now(self) -> list[str]:
        return await self.evaluate_touched() + await self.sweep()

    async def _missing_runs(self, now: int) -> list[Finding]:
        found: list[Finding] = []
        for pipeline in await self._store.scheduled_pipelines(now - self._lookback_ms):
            try:
                found += evaluate_missing_runs(pipeline, now, self._lookback_ms, self._max_fires)
            except ValueError as exc:  # a schedule croniter cannot read
                log.warning("schedule not evaluated", pipeline=pipeline.pipeline, error=str(exc))
        return found

    async def _success_rates(self, sla_ids: Collection[str] | None, now: int) -> list[Finding]:
        windows: list[RateWindow] = []
        for sla, pipeline, step in await self._store.rate_slas(
            None if sla_ids is None else sorted(sla_ids)
        ):
            try:
                window = rate_window(sla, pipeline, step, now)
            except ValueError as exc:
                log.warning("SLA window not evaluated", sla=sla.id, error=str(exc))
                continue
            if window is not None:
                windows.append(window)
        counts = await self._store.rate_counts(windows)
        found = []
        for w in windows:
            succeeded, rated, last_failed = counts.get(w.sla.id, (0, 0, None))
            label = "StepRun" if w.step else "Run"
            finding = evaluate_success_rate(w, succeeded, rated, last_failed, label)
            if finding is not None:
                found.append(finding)
        return found

    async def _record(self, findings: list[Finding], now: int) -> list[str]:
        if not findings:
            return []
        fresh = await self._store.merge_breaches(findings, now)
        if fresh:
            self.breaches_found += len(fresh)
            log.info("SLA breaches", count=len(fresh), ids=fresh[:10])
            if self._on_breaches is not None:
                rows = await self._store.breaches(ids=fresh, limit=len(fresh))
                outcome = self._on_breaches(rows)
                if outcome is not None:
                    await outcome
        return fresh
