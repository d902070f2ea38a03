"""Late events: breaches are a function of the events, not of the order they arrive in.

The SLA timer may flag unfinished work by the wall clock (running too long, not started
yet, a cron fire time no run covered). Those breaches are provisional: once events show
the work finished (started, was covered) within its SLA, the breach is retracted, so the
final set of breaches is the one in-order delivery gives. Real service, real Neo4j, the
service's clock replaced per test and the timer ticking every 0.1 s.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

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
