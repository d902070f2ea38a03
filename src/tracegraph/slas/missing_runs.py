"""Missing scheduled runs, as pure functions (no I/O).

A pipeline whose definition has a cron ``schedule`` and whose SLA has a
``max_start_delay_ms`` is expected to start a run at every fire time. No event
announces a run that never happened, so the SLA timer asks, at ``now``: which fire
times have passed their deadline (fire + max_start_delay_ms) without a run covering
them?

Rules (times in epoch ms, cron in UTC):

- Only fire times strictly after the pipeline's ``defined_at`` count (the schedule did
  not exist before), and only those inside the lookback horizon ``[now - lookback,
  now)``; at most ``max_fires`` of the most recent ones are checked per evaluation, so a
  per-second cron costs a bounded amount of work.
- A fire time is overdue once ``now > fire + max_start_delay_ms`` (the same strict
  comparison as the late-start rule).
- A run covers a fire time when its ``scheduled_for`` equals it, or (when it was not
  scheduled for another fire time) it started within ``[fire, fire + delay]``. Each
  run covers at most one fire time; runs are matched to fire times in time order, which
  covers as many fire times as possible.
- **Late starts are not missing runs.** A run announced for the fire time
  (``run.scheduled`` with that ``scheduled_for``) covers it whenever it starts, or even
  if it never does: the late-start rule (``max_start_delay_ms`` on the run) already
  breaches it, so it is not counted twice. A run that was *not* announced and started
  after the deadline does not cover the fire time (nothing else would report it), but it
  stops the breach's figure from growing: ``observed`` is how late that run started
  rather than how long ago the fire time was.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tracegraph.slas.fire_times import FIRE_TIMES
from tracegraph.slas.rules import Finding, Sla, breach_id

KIND = "missing_run"
# Most recent fire times checked per pipeline per evaluation (one a minute for a day).
MAX_FIRES = 1440


@dataclass(frozen=True, slots=True)
class RunTimes:
    """What matters about one run of a scheduled pipeline."""

    scheduled_for_ms: int | None
    started_at_ms: int | None


@dataclass(frozen=True, slots=True)
class ScheduledPipeline:
    pipeline: str
    schedule: str
    sla: Sla
    defined_at_ms: int | None
    runs: tuple[RunTimes, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class MissedFire:
    fire_ms: int
    deadline_ms: int
    late_ms: int  # how late so far (or how late an unannounced late run started)


def fire_iso(fire_ms: int) -> str:
    return datetime.fromtimestamp(fire_ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def overdue_fire_times(
    schedule: str,
    max_start_delay_ms: int,
    defined_at_ms: int | None,
    now_ms: int,
    lookback_ms: int,
    max_fires: int = MAX_FIRES,
) -> list[int]:
    """Fire times (ascending) after ``defined_at`` and inside the horizon whose deadline
    has passed. Raises ``croniter.CroniterError`` (a ValueError) for a bad expression."""
    cutoff = now_ms - max_start_delay_ms  # overdue: fire < now - delay
    floor = now_ms - lookback_ms
    if defined_at_ms is not None:
        floor = max(floor, defined_at_ms + 1)  # strictly after the definition
    return FIRE_TIMES.recent(schedule, floor, cutoff, max_fires)


def missed_fires(
    schedule: str,
    max_start_delay_ms: int,
    defined_at_ms: int | None,
    now_ms: int,
    lookback_ms: int,
    runs: Iterable[RunTimes],
    max_fires: int = MAX_FIRES,
    fires: list[int] | None = None,
) -> list[MissedFire]:
    """The overdue fire times that no run covers (see the module docstring); ``fires``:
    the overdue fire times when the caller has them already."""
    delay = int(max_start_delay_ms)
    if fires is None:
        fires = overdue_fire_times(schedule, delay, defined_at_ms, now_ms, lookback_ms, max_fires)
    if not fires:
        return []
    fire_set = set(fires)
    covered: set[int] = set()
    starts: list[int] = []
    # 1. A run announced for a fire time covers that one (late or not: see above).
    for run in runs:
        announced = run.scheduled_for_ms
        if announced is not None and announced in fire_set and announced not in covered:
            covered.add(announced)
            continue
        if run.started_at_ms is not None:
            starts.append(run.started_at_ms)
    starts.sort()
    used = [False] * len(starts)
    # 2. Other runs by start time, earliest fire first: each fire takes the earliest unused
    # start in [fire, fire + delay] (optimal, as every window has the same length).
    missing: list[int] = []
    for fire in fires:
        if fire in covered:
            continue
        i = bisect.bisect_left(starts, fire)
        while i < len(starts) and used[i]:
            i += 1
        if i < len(starts) and starts[i] <= fire + delay:
            used[i] = True
        else:
            missing.append(fire)
    # 3. An unannounced run that started after the deadline (up to the next fire time)
    # fixes how late it was; otherwise the fire time is as late as the clock says.
    result = []
    for fire in missing:
        nxt = bisect.bisect_right(fires, fire)
        until = fires[nxt] if nxt < len(fires) else _next_fire(schedule, fire)
        late = now_ms - fire
        i = bisect.bisect_right(starts, fire + delay)
        while i < len(starts) and used[i]:
            i += 1
        if i < len(starts) and starts[i] <= min(until, now_ms):
            used[i] = True
            late = starts[i] - fire
        result.append(MissedFire(fire, fire + delay, late))
    return result


def _next_fire(schedule: str, fire_ms: int) -> int:
    return FIRE_TIMES.following(schedule, fire_ms)


def evaluate_missing_runs(
    p: ScheduledPipeline, now_ms: int, lookback_ms: int, max_fires: int = MAX_FIRES
) -> list[Finding]:
    """``missing_run`` breaches of one scheduled pipeline, one per uncovered fire time.
    Raises ValueError (``croniter.CroniterError``) when its schedule cannot be read."""
    return missing_run_verdicts(p, now_ms, lookback_ms, max_fires)[0]


def missing_run_verdicts(
    p: ScheduledPipeline, now_ms: int, lookback_ms: int, max_fires: int = MAX_FIRES
) -> tuple[list[Finding], list[str]]:
    """The ``missing_run`` breaches of one scheduled pipeline, and the ids of those its
    runs now cover: a run whose events arrived after the timer flagged its fire time
    retracts that breach (in-order delivery would never have opened it). Only fire
    times inside the evaluated horizon are decided either way."""
    if p.sla.max_start_delay_ms is None:
        return [], []
    delay = int(p.sla.max_start_delay_ms)
    fires = overdue_fire_times(p.schedule, delay, p.defined_at_ms, now_ms, lookback_ms, max_fires)
    misses = missed_fires(
        p.schedule, delay, p.defined_at_ms, now_ms, lookback_ms, p.runs, max_fires, fires
    )
    missed = {m.fire_ms for m in misses}
    covered = [breach_id(p.sla.id, KIND, fire_iso(f)) for f in fires if f not in missed]
    findings = [
        Finding(
            id=breach_id(p.sla.id, KIND, fire_iso(miss.fire_ms)),
            sla_id=p.sla.id,
            kind=KIND,
            observed=miss.late_ms,
            threshold=delay,
            at_ms=miss.deadline_ms,
            # No run to point at: the breach is linked (SLABreach)-[:ON]->(Pipeline).
            subject=None,
            subject_label="Pipeline",
            pipeline=p.pipeline,
            step=None,
            # Found by the clock, and a run whose events arrive later may cover it.
            provisional=True,
        )
        for miss in misses
    ]
    return findings, covered
