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
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

import structlog

from tracegraph.background import BackgroundTask
from tracegraph.events.governance import SLA_SET
from tracegraph.slas.missing_runs import MAX_FIRES, ScheduledPipeline, missing_run_verdicts
from tracegraph.slas.rules import (
    TERMINAL,
    Finding,
    Outcome,
    RateWindow,
    Sla,
    Subject,
    disproved,
    evaluate_subject,
    parse_window_ms,
    rate_window,
    success_rate_verdicts,
    to_ms,
)

log = structlog.get_logger(__name__)

STEP_EVENT_PREFIXES = ("step.", "prompt.", "response.", "artifact.")

BreachHandler = Callable[[list[dict[str, Any]]], Awaitable[None] | None]


Pairs = list[tuple[Subject, Sla]]


class SlaStoreLike(Protocol):
    async def evaluate(
        self,
        decide: Callable[[Pairs], tuple[list[Finding], list[str]]],
        now_ms: int,
        *,
        runs: Sequence[str] | None = None,
        step_runs: Sequence[str] | None = None,
    ) -> tuple[Pairs, list[str], int]: ...
    async def retract(self, ids: Sequence[str]) -> int: ...
    async def scheduled_pipelines(self, since_ms: int) -> list[ScheduledPipeline]: ...
    async def rate_slas(
        self, ids: Sequence[str] | None = None
    ) -> list[tuple[Sla, str, str | None]]: ...
    async def judge_rates(
        self,
        windows: Sequence[RateWindow],
        decide: Callable[
            [Sequence[RateWindow], dict[str, list[Outcome]]], tuple[list[Finding], list[str]]
        ],
        now_ms: int,
    ) -> tuple[list[str], int]: ...
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
        # One evaluation at a time per process (the timer's and evaluate_now's).
        self._busy = asyncio.Lock()
        self._task = BackgroundTask("tracegraph-sla-evaluator", self._loop)
        self._force_sweep = False
        # Success rates are judged through touches; the sweep judges the recent windows
        # again only when touches may have been lost (at start, shed, or failed).
        self._rates_stale = True
        self.dropped = 0
        self.rounds = 0
        self.breaches_found = 0
        self.breaches_retracted = 0

    # -- intake (commit listener) --------------------------------------------------------

    def on_commit(self, events: Sequence[Any]) -> None:
        """Note the runs and step runs of committed events. Never blocks, never awaits.
        An SLA changed by an admin (a ``pipeline.sla_set`` event) starts a round of the
        timer's checks now rather than at its next tick.

        Ignored while the evaluator is not running: a replica without the SLA lease
        (issue 20) does not collect work it will not do; the holder hears every
        replica's commits through its live tailer, and the start-up sweep of a new
        holder covers open work."""
        if not self._task.started:
            return
        for ev in events:
            p = ev.payload
            if p["type"] == SLA_SET:
                self._force_sweep = True
                self._wake.set()
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
            self._rates_stale = True
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
                async with asyncio.timeout(timeout):
                    await self._wake.wait()
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

    @staticmethod
    def _judge(now: int) -> Callable[[Pairs], tuple[list[Finding], list[str]]]:
        """The verdict on subjects as read: their breaches as of ``now``, and the ids of
        the clock-found breaches their facts now disprove (see ``rules.disproved``)."""

        def decide(pairs: Pairs) -> tuple[list[Finding], list[str]]:
            findings: list[Finding] = []
            retract: list[str] = []
            for subj, sla in pairs:
                found = evaluate_subject(sla, subj, now)
                findings += found
                retract += disproved(sla, subj, found)
            return findings, retract

        return decide

    async def evaluate_touched(self) -> list[str]:
        async with self._busy:
            return await self._evaluate_touched()

    async def _evaluate_touched(self) -> list[str]:
        runs, self._runs = list(self._runs), {}
        step_runs, self._step_runs = list(self._step_runs), {}
        if not runs and not step_runs:
            return []
        now = self._now_ms()
        try:
            pairs, fresh, retracted = await self._store.evaluate(
                self._judge(now), now, runs=runs, step_runs=step_runs
            )
        except Exception:
            # Put them back (as far as room allows) so a database blip loses nothing.
            for r in runs:
                self._add(self._runs, r)
            for s in step_runs:
                self._add(self._step_runs, s)
            raise
        self._note_retracted(retracted)
        fresh = await self._alert(fresh)
        return fresh + await self._success_rates(_ended_windows(pairs), now)

    async def sweep(self) -> list[str]:
        """What the clock alone can breach: late starts, missing scheduled runs, overlong
        running work, rates."""
        async with self._busy:
            now = self._now_ms()
            _, fresh, retracted = await self._store.evaluate(self._judge(now), now)
            self._note_retracted(retracted)
            fresh = await self._alert(fresh)
            missing, covered = await self._missing_runs(now)
            self._note_retracted(await self._store.retract(covered))
            fresh += await self._record(missing, now)
            if not self._rates_stale:
                return fresh
            # Only after touches may have been lost (at start, shed or failed): every
            # committed outcome is otherwise judged through its touch.
            self._rates_stale = False
            return fresh + await self._success_rates(await self._recent_windows(now), now)

    async def evaluate_now(self) -> list[str]:
        return await self.evaluate_touched() + await self.sweep()

    def _note_retracted(self, count: int) -> None:
        if count:
            self.breaches_retracted += count
            log.info("SLA breaches retracted: later events disproved them", count=count)

    async def _missing_runs(self, now: int) -> tuple[list[Finding], list[str]]:
        """Missing-run breaches, and the ids of those runs now cover. The cron walking is
        CPU work (cached per schedule, see fire_times): done in a worker thread, never
        on the event loop that serves requests."""
        pipelines = await self._store.scheduled_pipelines(now - self._lookback_ms)
        if not pipelines:
            return [], []
        return await asyncio.to_thread(self._judge_schedules, pipelines, now)

    def _judge_schedules(
        self, pipelines: Sequence[ScheduledPipeline], now: int
    ) -> tuple[list[Finding], list[str]]:
        found: list[Finding] = []
        covered: list[str] = []
        for pipeline in pipelines:
            try:
                missing, ok = missing_run_verdicts(
                    pipeline, now, self._lookback_ms, self._max_fires
                )
            except ValueError as exc:  # a schedule croniter cannot read
                log.warning("schedule not evaluated", pipeline=pipeline.pipeline, error=str(exc))
                continue
            found += missing
            covered += ok
        return found, covered

    async def _recent_windows(self, now: int) -> list[RateWindow]:
        """Every success-rate SLA's windows ending in the last window length: a catch-up
        for outcomes whose touch was shed. The clock only picks which buckets to judge
        again; their verdicts are a function of the events (``success_rate_verdicts``)."""
        windows: list[RateWindow] = []
        for sla, pipeline, step in await self._store.rate_slas():
            try:
                length = parse_window_ms(sla.window)
            except ValueError as exc:
                log.warning("SLA window not evaluated", sla=sla.id, error=str(exc))
                continue
            windows.append(RateWindow(sla, pipeline, step, now - length, now))
        return windows

    async def _success_rates(self, windows: list[RateWindow], now: int) -> list[str]:
        """Judge success-rate windows (event time) and record what they find: breached
        buckets are merged, judged buckets without a breach retracted."""
        if not windows:
            return []
        try:
            fresh, retracted = await self._store.judge_rates(windows, _judge_rates, now)
        except Exception:
            self._rates_stale = True  # the next sweep judges the recent windows again
            raise
        self._note_retracted(retracted)
        return await self._alert(fresh)

    async def _record(self, findings: list[Finding], now: int) -> list[str]:
        if not findings:
            return []
        return await self._alert(await self._store.merge_breaches(findings, now))

    async def _alert(self, fresh: list[str]) -> list[str]:
        if fresh:
            self.breaches_found += len(fresh)
            log.info("SLA breaches", count=len(fresh), ids=fresh[:10])
            if self._on_breaches is not None:
                rows = await self._store.breaches(ids=fresh, limit=len(fresh))
                outcome = self._on_breaches(rows)
                if outcome is not None:
                    await outcome
        return fresh


def _ended_windows(pairs: Pairs) -> list[RateWindow]:
    """The success-rate windows the finished subjects just evaluated may change: per
    SLA, from the earliest of their ends to one window length after the latest."""
    span: dict[str, tuple[Sla, str, str | None, int, int]] = {}
    for subj, sla in pairs:
        ended = subj.ended_at_ms
        if sla.min_success_rate is None or subj.status not in TERMINAL or ended is None:
            continue
        try:
            window = rate_window(sla, subj.pipeline, subj.step, ended)
        except ValueError as exc:
            log.warning("SLA window not evaluated", sla=sla.id, error=str(exc))
            continue
        if window is None:
            continue
        known = span.get(sla.id)
        lo, hi = window.since_ms, window.until_ms
        if known is not None:
            lo, hi = min(lo, known[3]), max(hi, known[4])
        span[sla.id] = (sla, subj.pipeline, subj.step, lo, hi)
    return [RateWindow(sla, p, step, lo, hi) for sla, p, step, lo, hi in span.values()]


def _judge_rates(
    windows: Sequence[RateWindow], outcomes: dict[str, list[Outcome]]
) -> tuple[list[Finding], list[str]]:
    found: list[Finding] = []
    clean: list[str] = []
    for w in windows:
        label = "StepRun" if w.step else "Run"
        f, c = success_rate_verdicts(w, outcomes.get(w.sla.id, []), label)
        found += f
        clean += c
    return found, clean
