"""The SLA sweep's CPU work stays off the event loop and is not repeated every tick.

croniter is wrapped to record each step it takes and on which thread; the sweeps run
on the real service's own loop (``RunningService.call``) against the real Neo4j.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from croniter import croniter
from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_sla_missing_runs import definition, when
from tests.integration.test_slas import post, set_clock


@pytest.fixture
def croniter_steps(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The thread id of every croniter step taken while the test runs."""
    steps: list[int] = []
    for name in ("get_prev", "get_next"):
        original = getattr(croniter, name)

        def wrapped(self: croniter, *args: Any, _original: Callable = original) -> Any:
            steps.append(threading.get_ident())
            return _original(self, *args)

        monkeypatch.setattr(croniter, name, wrapped)
    yield steps


def test_sweeps_walk_cron_off_the_loop_and_only_for_new_fire_times(
    clean_graph: Driver,
    make_service: Callable[..., RunningService],
    croniter_steps: list[int],
) -> None:
    # A per-minute schedule (a day of fire times inside the lookback horizon).
    svc = make_service(sla_check_interval_s=3600)  # sweeps only when the test asks
    defined = definition(schedule="* * * * *")
    defined["id"] = "cron-demo-def-every-minute"
    set_clock(svc, when(0))
    post(svc, [defined])
    evaluator = svc.app.state.services.sla_evaluator

    def sweep_at(now: datetime) -> None:
        set_clock(svc, now)
        svc.call(evaluator.sweep())

    # A day later (between two fire times): 1,439 overdue fire times.
    sweep_at(when(24 * 60) + timedelta(seconds=10))
    assert croniter_steps, "the sweep checks the schedule"
    assert svc.thread.ident not in croniter_steps, "croniter ran on the service's loop"

    croniter_steps.clear()
    sweep_at(when(24 * 60) + timedelta(seconds=15))  # the next tick: no new fire time
    assert croniter_steps == []
    sweep_at(when(24 * 60 + 1) + timedelta(seconds=10))  # one more fire time came due
    assert 0 < len(croniter_steps) <= 2
