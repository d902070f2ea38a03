"""PAUSED run status (issue 18): run.paused / run.resumed converge in any order."""

from __future__ import annotations

import itertools
from typing import Any

from tests.conftest import RunningService
from tests.support.live import unique

RUN_STATUS = "query($id: ID!) { run(id: $id) { status } }"


def _event(pipeline: str, run: str, n: int, type_: str, minute: int) -> dict[str, Any]:
    return {
        "id": f"{run}-{n}",
        "type": type_,
        "time": f"2026-11-20T02:{minute:02d}:00Z",
        "source": "test/pause",
        "pipeline": pipeline,
        "run": run,
        "data": {"reason": "incident"} if type_ == "run.paused" else {},
    }


def _status_after(service: RunningService, events: list[dict[str, Any]], run: str) -> str:
    with service.client("admin") as http:
        for ev in events:  # one request each: arrival order is the order given
            assert http.post("/v1/events", json=[ev]).status_code == 200
        resp = http.post("/graphql", json={"query": RUN_STATUS, "variables": {"id": run}})
    return str(resp.json()["data"]["run"]["status"])


def test_pause_and_resume_converge_in_every_arrival_order(service: RunningService) -> None:
    pipeline = unique("pause")
    cases = [
        (["run.started", "run.paused"], "PAUSED"),
        (["run.started", "run.paused", "run.resumed"], "RUNNING"),
        (["run.started", "run.paused", "run.cancelled"], "CANCELLED"),
    ]
    for types, expected in cases:
        for order in itertools.permutations(range(len(types))):
            run = unique("run")
            events = [_event(pipeline, run, i, t, i) for i, t in enumerate(types)]
            got = _status_after(service, [events[i] for i in order], run)
            assert got == expected, (types, order, got)
