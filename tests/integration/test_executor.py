"""SDK executors honour commands (issue 18): pause (no step events while paused, status
PAUSED), resume, cancel (CANCELLED), retry of a failed step (a new attempt), start with
parameters and environment overrides, batch cancel — through the real service, over the
subscription and over the long poll."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RunningService
from tests.support.commands import command, key, ok
from tests.support.eventually import eventually
from tests.support.executors import Pipeline

RUN = "query($id: ID!) { run(id: $id) { status steps { id attempt status } } }"
EVENTS = "query($run: ID!) { events(run: $run, first: 200) { seq type step data } }"
PAUSE = "mutation($r: ID!, $k: String!) { pauseRun(run: $r, idempotencyKey: $k) { id } }"
RESUME = "mutation($r: ID!, $k: String!) { resumeRun(run: $r, idempotencyKey: $k) { id } }"
CANCEL = "mutation($r: ID!, $k: String!) { cancelRun(run: $r, idempotencyKey: $k) { id } }"
CANCEL_MANY = (
    "mutation($r: [ID!]!, $k: String!) { cancelRuns(runs: $r, idempotencyKey: $k) { id } }"
)
RETRY = "mutation($s: ID!, $k: String!) { retry(stepRun: $s, idempotencyKey: $k) { id } }"
START = """mutation($p: String!, $params: JSON, $env: JSON, $k: String!) {
  startRun(pipeline: $p, params: $params, env: $env, idempotencyKey: $k) { id } }"""


def _run(service: RunningService, run_id: str) -> dict[str, Any]:
    return ok(service, "viewer", RUN, id=run_id)["run"] or {}  # type: ignore[no-any-return]


def _events(service: RunningService, run_id: str) -> list[dict[str, Any]]:
    return ok(service, "viewer", EVENTS, run=run_id)["events"]  # type: ignore[no-any-return]


def _step_events(service: RunningService, run_id: str) -> int:
    return sum(1 for e in _events(service, run_id) if e["type"].startswith("step."))


def _done(service: RunningService, command_id: str) -> dict[str, Any]:
    return eventually(
        lambda: command(service, command_id),
        until=lambda c: c["state"] in ("DONE", "REJECTED"),
        timeout=20,
        what=f"command {command_id} settled",
    )


@pytest.fixture(params=["websocket", "poll"])
def pipeline(request: Any, service: RunningService) -> Iterator[Pipeline]:
    p = Pipeline(service, request.param)
    eventually(lambda: p.executor.connected_by == request.param, what="executor connected")
    yield p
    p.close()


def _start(service: RunningService, p: Pipeline, **params: Any) -> str:
    cmd = ok(service, "operator", START, p=p.name, params=params, env=None, k=key())["startRun"]
    done = _done(service, cmd["id"])
    assert done["state"] == "DONE", done
    run_id: str = done["resultRun"]
    eventually(lambda: _run(service, run_id).get("status") == "RUNNING", what="run running")
    return run_id


def test_pause_stops_step_events_and_resume_goes_on(
    service: RunningService, pipeline: Pipeline
) -> None:
    run_id = _start(service, pipeline, steps=400, step_s=0.02)
    eventually(lambda: _step_events(service, run_id) >= 4, what="steps running")
    paused = ok(service, "operator", PAUSE, r=run_id, k=key())["pauseRun"]
    eventually(lambda: _run(service, run_id)["status"] == "PAUSED", what="status PAUSED")
    assert _done(service, paused["id"])["stateReason"] == "paused at a checkpoint"
    # Paused: no new step event for as long as we watch (the flush interval is 20 ms and
    # a step takes 20 ms: a running run would add dozens in this time).
    pipeline.tg.flush(5)
    before = _step_events(service, run_id)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        assert _step_events(service, run_id) == before
    types = [e["type"] for e in _events(service, run_id)]
    assert types.count("run.paused") == 1
    resumed = ok(service, "operator", RESUME, r=run_id, k=key())["resumeRun"]
    eventually(lambda: _step_events(service, run_id) > before + 4, what="steps again")
    assert _run(service, run_id)["status"] == "RUNNING"
    assert _done(service, resumed["id"])["state"] == "DONE"
    paused_event = next(e for e in _events(service, run_id) if e["type"] == "run.paused")
    assert paused_event["data"]["command"] == paused["id"]


def test_cancel_ends_the_run_cancelled(service: RunningService, pipeline: Pipeline) -> None:
    run_id = _start(service, pipeline, steps=400, step_s=0.02)
    cancel = ok(service, "operator", CANCEL, r=run_id, k=key())["cancelRun"]
    eventually(lambda: _run(service, run_id)["status"] == "CANCELLED", what="CANCELLED")
    assert _done(service, cancel["id"])["stateReason"] == "cancelled at a checkpoint"


def test_a_paused_run_can_be_cancelled(service: RunningService, pipeline: Pipeline) -> None:
    run_id = _start(service, pipeline, steps=400, step_s=0.02)
    ok(service, "operator", PAUSE, r=run_id, k=key())
    eventually(lambda: _run(service, run_id)["status"] == "PAUSED", what="PAUSED")
    ok(service, "operator", CANCEL, r=run_id, k=key())
    eventually(lambda: _run(service, run_id)["status"] == "CANCELLED", what="CANCELLED")


def test_retry_of_a_failed_step_runs_a_new_attempt(
    service: RunningService, pipeline: Pipeline
) -> None:
    run_id = _start(service, pipeline, flaky=True)
    first = f"{run_id}/flaky#1"
    eventually(
        lambda: [(s["id"], s["status"]) for s in _run(service, run_id)["steps"]],
        until=lambda steps: (first, "FAILED") in steps,
        what="the first attempt failed",
    )
    retry = ok(service, "operator", RETRY, s=first, k=key())["retry"]
    eventually(lambda: _run(service, run_id)["status"] == "SUCCEEDED", what="run succeeded")
    steps = {s["attempt"]: s["status"] for s in _run(service, run_id)["steps"]}
    assert steps == {1: "FAILED", 2: "SUCCEEDED"}
    assert _done(service, retry["id"])["stateReason"] == "attempt 2 of flaky"


def test_start_passes_parameters_and_resolves_secret_references(
    service: RunningService, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TG_TEST_TOKEN", "s3cr3t-value")
    env = {"MODE": "fast", "TOKEN": {"secret": "TG_TEST_TOKEN"}}
    cmd = ok(
        service,
        "operator",
        START,
        p=pipeline.name,
        params={"corpus": "kb", "steps": 1},
        env=env,
        k=key(),
    )["startRun"]
    run_id = _done(service, cmd["id"])["resultRun"]
    eventually(lambda: _run(service, run_id)["status"] == "SUCCEEDED", what="run done")
    assert pipeline.seen == [
        ({"corpus": "kb", "steps": 1}, {"MODE": "fast", "TOKEN": "s3cr3t-value"})
    ]
    evs = _events(service, run_id)
    started = next(e for e in evs if e["type"] == "run.started")
    assert started["data"]["params"] == {"corpus": "kb", "steps": 1}
    assert started["data"]["trigger"] == "api"
    # The secret's value never reached the service: only its name is stored.
    assert command(service, cmd["id"])["env"] == env


def test_batch_cancel_of_three_runs(service: RunningService, pipeline: Pipeline) -> None:
    runs = [_start(service, pipeline, steps=400, step_s=0.02) for _ in range(3)]
    ok(service, "operator", CANCEL_MANY, r=runs, k=key())
    for run_id in runs:
        eventually(lambda r=run_id: _run(service, r)["status"] == "CANCELLED", what=run_id)


def test_two_executors_of_one_pipeline_start_a_run_once(service: RunningService) -> None:
    a, b = Pipeline(service, "websocket"), Pipeline(service, "poll")
    b.close()
    b = Pipeline.__new__(Pipeline)  # a second executor of a's pipeline
    b.name, b.tg, b.seen = a.name, a.tg, []
    b.executor = a.tg.executor([a.name], transport="poll")
    b.executor.on_start(a.name)(b.body)
    b.executor.start()
    try:
        eventually(lambda: b.executor.connected_by == "poll", what="second executor")
        eventually(lambda: a.executor.connected_by == "websocket", what="first executor")
        cmd = ok(service, "operator", START, p=a.name, params={"steps": 1}, env=None, k=key())
        _done(service, cmd["startRun"]["id"])
        eventually(
            lambda: len(a.executor.received) == 1 and len(b.executor.received) == 1,
            what="both received it",
        )
        assert len(a.seen) + len(b.seen) == 1  # one claim won
    finally:
        b.executor.close()
        a.close()


def test_executor_threads_end_on_close(service: RunningService) -> None:
    p = Pipeline(service, "websocket")
    eventually(lambda: p.executor.connected_by == "websocket", what="connected")
    p.close()
    assert not any(t.name == "tg-executor" and t.is_alive() for t in threading.enumerate())
