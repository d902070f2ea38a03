"""Late events: breaches are a function of the events, not of the order they arrive in.

The SLA timer may flag unfinished work by the wall clock (running too long, not started
yet, a cron fire time no run covered). Those breaches are provisional: once events show
the work finished (started, was covered) within its SLA, the breach is retracted, so the
final set of breaches is the one in-order delivery gives. Real service, real Neo4j, the
service's clock replaced per test and the timer ticking every 0.1 s.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from neo4j import Driver

from tests.conftest import RunningService, wipe
from tests.integration.test_sla_missing_runs import PIPE as CRON_PIPE
from tests.integration.test_sla_missing_runs import definition as cron_definition
from tests.integration.test_sla_missing_runs import ev as cron_ev
from tests.integration.test_sla_missing_runs import when
from tests.integration.test_slas import breaches, definition, ev, kinds, ms, post, set_clock, ts
from tests.support.eventually import eventually

DAY_S = 86_400


def from_ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.fixture
def svc(clean_graph: Driver, make_service: Callable[..., RunningService]) -> RunningService:
    s = make_service(sla_check_interval_s=0.1)
    set_clock(s, ms(0))
    return s


def until(
    service: RunningService, pred: Callable[[list[dict]], bool], timeout: float = 10
) -> list[dict]:
    """Poll the breaches (all pipelines) until ``pred`` holds."""
    return eventually(lambda: breaches(service), until=pred, timeout=timeout, what="breaches")


def settled(service: RunningService) -> list[dict]:
    """Every touched run and the timer's checks evaluated now, then the breaches."""
    evaluator = service.app.state.services.sla_evaluator
    service.call(evaluator.evaluate_now())
    return breaches(service)


def test_a_late_completion_retracts_the_running_too_long_breach(svc: RunningService) -> None:
    # A run that started 13 days ago by its events; the timer sees it "running" for
    # 13 days against a 60 s SLA ...
    set_clock(svc, ms(13 * DAY_S))
    post(svc, [definition(max_duration_ms=60_000), ev("late", "run.started", 0)])
    [b] = until(svc, lambda b: len(b) == 1)
    assert (b["kind"], b["subject"]) == ("MAX_DURATION_MS", "late")
    # ... until its completion arrives: it took 22 s, so nothing was breached.
    post(svc, [ev("late", "run.completed", 22)])
    until(svc, lambda b: b == [])
    assert settled(svc) == []


def test_a_late_start_event_retracts_the_start_delay_breach(svc: RunningService) -> None:
    post(
        svc,
        [
            definition(max_start_delay_ms=30_000),
            ev("r", "run.scheduled", 0, scheduled_for=ts(ms(0))),
        ],
    )
    set_clock(svc, ms(40))
    [b] = until(svc, lambda b: len(b) == 1)
    assert (b["kind"], b["subject"]) == ("MAX_START_DELAY_MS", "r")
    # The start (at 10 s, within the 30 s allowed) arrives late: no breach after all.
    post(svc, [ev("r", "run.started", 10)])
    until(svc, lambda b: b == [])


def test_a_real_breach_found_while_running_stays(svc: RunningService) -> None:
    set_clock(svc, ms(13 * DAY_S))
    post(svc, [definition(max_duration_ms=60_000), ev("slow", "run.started", 0)])
    until(svc, lambda b: len(b) == 1)
    post(svc, [ev("slow", "run.completed", 90)])
    [b] = until(svc, lambda b: len(b) == 1 and b[0]["observed"] == 90_000)
    assert kinds([b]) == [("MAX_DURATION_MS", "slow")]
    assert b["at"] == ts(ms(60) + timedelta(milliseconds=1)).replace("Z", "000Z")


def test_the_same_events_in_any_order_give_the_same_breaches(
    svc: RunningService, clean_graph: Driver
) -> None:
    set_clock(svc, ms(13 * DAY_S))
    runs = [(f"r{i}", 20 + 20 * i) for i in range(5)]  # durations 20..100 s vs 60 s
    starts = [ev(r, "run.started", 0) for r, _ in runs]
    ends = [ev(r, "run.completed", d) for r, d in runs]
    sla = definition(max_duration_ms=60_000)
    results = []
    for order in ([sla, *starts, *ends], [sla, *ends, *starts]):
        for e in order:
            post(svc, [e])
            settled(svc)  # the evaluator judges every intermediate state
        results.append(sorted((b["id"], b["observed"], b["at"]) for b in settled(svc)))
        wipe(clean_graph, keep_governance=True)  # for the next order
    assert results[0] == results[1]
    assert [r[0].rsplit("|", 1)[1] for r in results[0]] == ["r3", "r4"]


def test_a_run_that_arrives_late_retracts_the_missing_run(svc: RunningService) -> None:
    post(svc, [cron_definition()])
    set_clock(svc, when(12))  # 12:10 fired, its deadline (12:11) passed, no run yet
    found = until(svc, lambda b: len(b) == 1)
    assert found[0]["kind"] == "MISSING_RUN" and found[0]["pipeline"] == CRON_PIPE
    # The run that covered it (started 12:10:30) arrives late.
    post(svc, [cron_ev("on-time", "run.started", 10.5, trigger="schedule")])
    until(svc, lambda b: b == [])


# -- success rates: judged on event time ------------------------------------------------

HOUR_S = 3600
# Outcomes (run, started s, ended s, ok) of a pipeline rated at >= 75 % per hour: hour 0
# dips to 50 % once r1 fails; hour 1 stays at or above 75 %; hour 2 falls to 33 % (its
# window reaches back into hour 1's last success).
RATED_RUNS = [
    ("r0", 0, 600, True),
    ("r1", 700, 1200, False),
    ("r2", 1300, 2400, True),
    ("r3", 2500, 3000, True),
    ("r4", 4000, 4200, True),
    ("r5", 4300, 4800, True),
    ("r6", 7300, 7400, False),
    ("r7", 7500, 8000, False),
]


def rate_events() -> list[dict]:
    out = []
    for run, started, ended, ok in RATED_RUNS:
        out.append(ev(run, "run.started", started))
        if ok:
            out.append(ev(run, "run.completed", ended))
        else:
            out.append(ev(run, "run.failed", ended, error={"message": "boom"}))
    return out


def graph_breaches(driver: Driver) -> list[tuple]:
    from tests.support.graph import breaches as snapshot_breaches

    return snapshot_breaches(driver)


def test_success_rate_breaches_are_the_same_for_any_order_and_arrival_time(
    svc: RunningService, clean_graph: Driver
) -> None:
    sla = definition(min_success_rate=0.75, window="PT1H")
    events = rate_events()
    results = []
    # 1. live: every event arrives when it happens, the clock following event time;
    # 2. the same events three days late, shuffled; 3. three days late, reversed.
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    for arrival in ("live", "late-shuffled", "late-reversed"):
        set_clock(svc, ms(0))
        post(svc, [sla])
        if arrival == "live":
            stream = [(e, e["time"]) for e in events]
        else:
            order = shuffled if arrival == "late-shuffled" else events[::-1]
            stream = [(e, None) for e in order]
        for e, at in stream:
            set_clock(svc, from_ts(at) if at else ms(3 * DAY_S))
            post(svc, [e])
            settled(svc)  # every intermediate state is judged
        results.append(graph_breaches(clean_graph))
        found = settled(svc)
        wipe(clean_graph, keep_governance=True)  # for the next arrival
    assert results[0] == results[1] == results[2], results
    # The hours whose windows fell below 75 %: hour 0 (r1 failed) and hour 2.
    rate = sorted((b["id"].rsplit("|", 1)[1], b["observed"], b["subject"]) for b in found)
    assert rate == [
        ("2026-11-01T12:00:00Z", 0.5, "r1"),
        ("2026-11-01T14:00:00Z", pytest.approx(1 / 3), "r7"),
    ]


def test_a_late_success_retracts_a_success_rate_breach(svc: RunningService) -> None:
    set_clock(svc, ms(120))
    post(svc, [definition(min_success_rate=0.5, window="PT1H")])
    post(svc, [ev("a", "run.started", 0), ev("a", "run.failed", 60, error={"message": "x"})])
    [b] = until(svc, lambda b: len(b) == 1)
    assert (b["kind"], b["observed"], b["provisional"]) == ("MIN_SUCCESS_RATE", 0.0, False)
    # A success earlier in the same hour arrives late: the rate was 50 %, within the SLA.
    post(svc, [ev("b", "run.started", 0), ev("b", "run.completed", 30)])
    until(svc, lambda b: b == [])


def test_breaches_say_whether_they_are_provisional(svc: RunningService) -> None:
    set_clock(svc, ms(13 * DAY_S))
    post(svc, [definition(max_duration_ms=60_000), ev("open", "run.started", 0)])
    post(svc, [ev("done", "run.started", 0), ev("done", "run.completed", 90)])
    found = until(svc, lambda b: len(b) == 2)
    assert sorted((b["subject"], b["provisional"]) for b in found) == [
        ("done", False),  # finished: its events prove it
        ("open", True),  # still running: found by the clock, later events may retract it
    ]
