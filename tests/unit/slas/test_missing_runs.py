"""Missing scheduled runs, the pure rule: cron fire times no run covered within
max_start_delay_ms (the service side is tests/integration/test_sla_missing_runs.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tracegraph.slas.missing_runs import (
    RunTimes,
    ScheduledPipeline,
    evaluate_missing_runs,
    missed_fires,
    overdue_fire_times,
)
from tracegraph.slas.rules import Sla, to_ms

T = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


MIN = 60_000


HOUR = 60 * MIN


DAY = 24 * HOUR


def at(minutes: float) -> int:
    """Epoch ms of T + minutes."""
    ms = to_ms(T + timedelta(minutes=minutes))
    assert ms is not None
    return ms


def started(minutes: float) -> RunTimes:
    return RunTimes(scheduled_for_ms=None, started_at_ms=at(minutes))


def scheduled(for_minutes: float, started_minutes: float | None = None) -> RunTimes:
    return RunTimes(
        scheduled_for_ms=at(for_minutes),
        started_at_ms=None if started_minutes is None else at(started_minutes),
    )


def fires(misses: list[Any]) -> list[int]:
    return [m.fire_ms for m in misses]


def test_overdue_fire_times_respect_definition_deadline_and_horizon() -> None:
    every10 = "*/10 * * * *"
    # Defined at T (itself a fire time): only fire times strictly after it count.
    assert overdue_fire_times(every10, MIN, at(0), at(11) + 1, DAY) == [at(10)]
    # The deadline is strict: at exactly fire + delay the fire time is not overdue yet.
    assert overdue_fire_times(every10, MIN, at(0), at(11), DAY) == []
    assert overdue_fire_times(every10, MIN, at(0), at(41) + 1, DAY) == [
        at(10),
        at(20),
        at(30),
        at(40),
    ]
    # Fire times before the definition do not count, whatever the horizon.
    assert overdue_fire_times(every10, MIN, at(25), at(41) + 1, DAY) == [at(30), at(40)]
    # The lookback horizon bounds how far back it looks.
    assert overdue_fire_times(every10, MIN, None, at(41) + 1, 25 * MIN) == [at(20), at(30), at(40)]
    # ... and so does max_fires (the most recent ones are kept).
    assert overdue_fire_times(every10, MIN, None, at(41) + 1, DAY, max_fires=2) == [
        at(30),
        at(40),
    ]
    # Hourly at :15, daily at 06:00 (cron in UTC), and a macro.
    assert overdue_fire_times("15 * * * *", 5 * MIN, at(-60), at(140), DAY) == [
        at(-45),
        at(15),
        at(75),
    ]
    daily = overdue_fire_times("0 6 * * *", HOUR, None, at(3 * 24 * 60), 2 * DAY)
    assert [datetime.fromtimestamp(f / 1000, UTC).isoformat() for f in daily] == [
        "2026-11-03T06:00:00+00:00",
        "2026-11-04T06:00:00+00:00",
    ]
    assert overdue_fire_times("@hourly", MIN, at(0), at(121) + 1, DAY) == [at(60), at(120)]


def test_runs_that_cover_fire_times() -> None:
    every10 = "*/10 * * * *"
    now = at(51) + 1  # fire times 10..50 are overdue

    def missing(runs: list[RunTimes]) -> list[int]:
        return fires(missed_fires(every10, MIN, at(0), now, DAY, runs))

    assert missing([]) == [at(10), at(20), at(30), at(40), at(50)]
    # Started on time (at the fire time, inside the delay, at its very end).
    assert missing([started(10), started(20.5), started(31)]) == [at(40), at(50)]
    # Just before the fire time does not count for it.
    assert missing([started(9.99)]) == [at(10), at(20), at(30), at(40), at(50)]
    # Announced for the fire time: covers it even if never started (that is a late start,
    # which the max_start_delay_ms rule on the run reports — not counted twice).
    assert missing([scheduled(10), scheduled(20, 25)]) == [at(30), at(40), at(50)]
    # Each run covers at most one fire time: two starts for one fire window cover one.
    assert missing([started(10.1), started(10.2)]) == [at(20), at(30), at(40), at(50)]
    # Run matching takes fire times in order, so a start usable by two windows (long delay)
    # goes to the earlier one and the later one takes its own.
    long = missed_fires(every10, 15 * MIN, at(0), at(60) + 1, DAY, [started(18), started(22)])
    assert fires(long) == [at(30), at(40)]


def test_unannounced_late_start_is_a_missing_run_with_its_real_lateness() -> None:
    every10 = "*/10 * * * *"
    # The 12:10 run started at 12:13 without a run.scheduled: nothing else reports it, so
    # it is a missing run, and observed stops at the 3 minutes it was late.
    [late] = missed_fires(every10, MIN, at(0), at(15), DAY, [started(13)])
    assert (late.fire_ms, late.deadline_ms, late.late_ms) == (at(10), at(11), 3 * MIN)
    # No run at all: as late as the clock says.
    [miss] = missed_fires(every10, MIN, at(0), at(15), DAY, [])
    assert miss.late_ms == 5 * MIN
    # A run that started after the next fire time belongs to that one, not to this one.
    misses = missed_fires(every10, MIN, at(0), at(20.5), DAY, [started(20.2)])
    assert [(m.fire_ms, m.late_ms) for m in misses] == [(at(10), at(20.5) - at(10))]


def test_findings_ids_and_figures() -> None:
    sla = Sla("pipeline:nightly", max_start_delay_ms=MIN)
    p = ScheduledPipeline("nightly", "*/10 * * * *", sla, at(0), (started(20),))
    [f] = evaluate_missing_runs(p, at(21) + 1, DAY)
    assert f.id == "pipeline:nightly|missing_run|2026-11-01T12:10:00Z"
    assert (f.kind, f.threshold, f.at_ms, f.observed) == (
        "missing_run",
        MIN,
        at(11),
        at(21) + 1 - at(10),
    )
    assert (f.subject, f.subject_label, f.pipeline, f.step) == (None, "Pipeline", "nightly", None)
    assert (
        evaluate_missing_runs(ScheduledPipeline("x", "*/10 * * * *", Sla("s"), at(0)), at(60), DAY)
        == []
    )
    with pytest.raises(ValueError):
        evaluate_missing_runs(ScheduledPipeline("x", "61 * * * *", sla, at(0)), at(60), DAY)
