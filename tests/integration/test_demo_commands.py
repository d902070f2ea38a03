"""The demo honours commands (issue 18, item 6): its workload runs through an SDK
executor, so runs of the live demo stream pause, resume, cancel, retry and start."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import RunningService
from tests.support.commands import command, gql, key, ok
from tests.support.eventually import eventually
from tracegraph.cli.demo_command import _emit, _Stats
from tracegraph.demo.governance import PROPOSAL, seed_gate

RUNS = """query($p: String) { runs(first: 100, pipeline: $p) {
  edges { node { id status pipeline { name } steps { id status } } } } }"""
RUN = "query($id: ID!) { run(id: $id) { status } }"
EVENTS = "query($run: ID!) { events(run: $run, first: 500) { type } }"


@pytest.fixture
def demo(service: RunningService) -> Iterator[RunningService]:
    """The demo's workload (executor and all) streaming into the service, fast."""
    loop = asyncio.new_event_loop()
    task: asyncio.Task[None] | None = None

    def run() -> None:
        nonlocal task
        asyncio.set_event_loop(loop)
        task = loop.create_task(
            _emit(service.base_url, service.key("executor"), 2.0, _Stats(), 300)
        )
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    yield service
    loop.call_soon_threadsafe(lambda: task.cancel() if task else None)
    thread.join(30)
    loop.close()


def _runs(service: RunningService) -> list[dict[str, Any]]:
    edges = ok(service, "viewer", RUNS, p=None)["runs"]["edges"]
    return [e["node"] for e in edges]


def _status(service: RunningService, run_id: str) -> str | None:
    """The run's status; None while none of its events is stored (a start command is
    settled when the executor launched the run, before its first event is ingested)."""
    run = ok(service, "viewer", RUN, id=run_id)["run"]
    return None if run is None else str(run["status"])


def _settled(service: RunningService, command_id: str) -> dict[str, Any]:
    return eventually(
        lambda: command(service, command_id),
        until=lambda c: c["state"] in ("DONE", "REJECTED"),
        timeout=20,
        what="settled",
    )


def _running(service: RunningService, n: int) -> list[str]:
    found = eventually(
        lambda: [r["id"] for r in _runs(service) if r["status"] == "RUNNING"],
        until=lambda ids: len(ids) >= n,
        timeout=60,
        what=f"{n} running demo runs",
    )
    return found[:n]


PAUSE = "mutation($r: ID!, $k: String!) { pauseRun(run: $r, idempotencyKey: $k) { id } }"
CANCEL = "mutation($r: ID!, $k: String!) { cancelRun(run: $r, idempotencyKey: $k) { id } }"


def _on_a_running_run(
    service: RunningService, mutation: str, other_than: str | None = None
) -> tuple[str, dict[str, Any]]:
    """Issue ``mutation`` on some running demo run: (the run, the data). Demo runs are
    short: one listed as running may end before the command is issued, which is refused
    as a command on a finished run — then the next running one is taken."""
    refusals = []
    for _ in range(5):
        run = next(r for r in _running(service, 2) if r != other_than)
        data, errors = gql(service, "operator", mutation, r=run, k=key())
        if not errors and data is not None:
            return run, data
        refusals.append(errors)
        assert all("finished" in e["message"] for e in errors), errors
    raise AssertionError(f"every running run finished before its command: {refusals}")


def test_the_demo_pauses_resumes_cancels_and_starts(demo: RunningService) -> None:
    paused_run, data = _on_a_running_run(demo, PAUSE)
    cmd = data["pauseRun"]
    assert _settled(demo, cmd["id"])["state"] == "DONE"
    eventually(lambda: _status(demo, paused_run) == "PAUSED", what="PAUSED")
    count = len(ok(demo, "viewer", EVENTS, run=paused_run)["events"])
    resume = "mutation($r: ID!, $k: String!) { resumeRun(run: $r, idempotencyKey: $k) { id } }"
    cmd = ok(demo, "operator", resume, r=paused_run, k=key())["resumeRun"]
    assert _settled(demo, cmd["id"])["state"] == "DONE"
    eventually(
        lambda: len(ok(demo, "viewer", EVENTS, run=paused_run)["events"]) > count + 1,
        timeout=30,
        what="the resumed run goes on",
    )
    cancelled_run, _ = _on_a_running_run(demo, CANCEL, other_than=paused_run)
    eventually(lambda: _status(demo, cancelled_run) == "CANCELLED", what="CANCELLED")
    start = """mutation($p: String!, $k: String!) {
      startRun(pipeline: $p, params: {corpus: "from-the-test"}, idempotencyKey: $k) { id } }"""
    cmd = ok(demo, "operator", start, p="rag-nightly", k=key())["startRun"]
    started = _settled(demo, cmd["id"])
    assert started["state"] == "DONE" and started["resultRun"]
    eventually(
        lambda: _status(demo, started["resultRun"]) in ("RUNNING", "SUCCEEDED", "FAILED"),
        timeout=30,
        what="the started run runs",
    )


PENDING = """{ approvals(pipeline: "rag-nightly", states: [PENDING]) {
  id run stepRun question approvers } }"""
APPROVAL = "query($a: ID!) { approval(id: $a) { state decidedBy } }"
APPROVE = 'mutation($a: ID!) { approveStep(approvalId: $a, comment: "ship it") { state } }'
STEPS = "query($id: ID!) { run(id: $id) { steps { id status } } }"


def test_a_demo_step_waits_for_approval_and_goes_on_once_approved(demo: RunningService) -> None:
    """Issue 19: a rag-nightly run of the live demo asks before its index step completes
    (the first one that gets there always does) and holds until someone decides."""
    waiting = eventually(
        lambda: ok(demo, "viewer", PENDING)["approvals"],
        until=bool,
        timeout=60,
        what="a demo step waiting for approval",
    )[0]
    assert waiting["question"] == "Publish the rebuilt rag-nightly index?"
    assert waiting["approvers"] == ["owner", "operator"]
    assert waiting["stepRun"].startswith(f"{waiting['run']}/index#")
    assert _status(demo, waiting["run"]) == "RUNNING"
    assert ok(demo, "operator", APPROVE, a=waiting["id"])["approveStep"]["state"] == "GRANTED"
    eventually(
        lambda: {
            s["id"]: s["status"]
            for s in ok(demo, "viewer", STEPS, id=waiting["run"])["run"]["steps"]
        },
        until=lambda steps: steps.get(waiting["stepRun"]) == "SUCCEEDED",
        timeout=30,
        what="the approved step completes",
    )


CHANGES = """query { gatePolicy { gated }
  changeRequests(state: PENDING, pipeline: "rag-nightly") { id author kind } }"""
APPROVE_CHANGE = 'mutation($id: ID!) { approveChange(id: $id, comment: "ok") { state } }'
DESCRIPTION = 'query { pipelineDefinition(pipeline: "rag-nightly") { version yaml } }'


def test_the_demo_gates_definition_changes_and_leaves_one_for_a_reviewer(
    demo: RunningService,
) -> None:
    """Issue 19 "done when": a reviewer in the demo finds a definition change to decide."""
    services = demo.app.state.services
    operator = "key:demo-operator-test"
    try:
        assert demo.call(seed_gate(services, operator, "system:demo"))
        data = ok(demo, "reviewer", CHANGES)
        assert data["gatePolicy"]["gated"] == ["DEFINITIONS"]
        [request] = data["changeRequests"]
        assert (request["author"], request["kind"]) == (operator, "DEFINITION")
        # Started again (a second demo on the same database): still one waiting.
        assert demo.call(seed_gate(services, operator, "system:demo"))
        assert len(ok(demo, "reviewer", CHANGES)["changeRequests"]) == 1
        approved = ok(demo, "reviewer", APPROVE_CHANGE, id=request["id"])["approveChange"]
        assert approved["state"] == "APPROVED"
        yaml = ok(demo, "viewer", DESCRIPTION)["pipelineDefinition"]["yaml"]
        assert PROPOSAL in yaml
    finally:  # other tests on this database expect no gate
        demo.call(services.gate.set_policy(None, [], actor="system:tests"))
