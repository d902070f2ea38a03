"""Human approvals inside runs (issue 19), through the real service with a real SDK
executor in real runs: a step waits at ``step.await_approval``; granted, it goes on;
denied, it fails (the pipeline raises ``ApprovalNotGranted``); nobody deciding, the
service expires it. Who may decide (an approver's role, not another reader), bad input,
idempotent repeats, the audit entry, and a rebuild from the log ending in the same graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.commands import gql, ok
from tests.support.eventually import eventually
from tests.support.graph import counts, rebuild, snapshot
from tests.support.live import unique
from tracegraph.sdk import ApprovalNotGranted, ApprovalResult, Executor, Run, Tracegraph
from tracegraph.settings import Neo4jSettings

APPROVALS = """query($run: ID!) { approvals(run: $run) {
  id state question approvers timeoutS step stepRun decidedBy comment waitingMs
  requestedAt decidedAt deadline } }"""
APPROVE = """mutation($a: ID!, $c: String) { approveStep(approvalId: $a, comment: $c) {
  id state decidedBy comment waitingMs } }"""
DENY = """mutation($a: ID!, $c: String) { denyStep(approvalId: $a, comment: $c) {
  id state decidedBy comment } }"""
RUN = "query($id: ID!) { run(id: $id) { status steps { id status } } }"
STEP_RUNS = "query($id: ID!) { run(id: $id) { steps { id awaitingApproval } } }"
EVENTS = "query($run: ID!) { events(run: $run, first: 200) { type principal data } }"
COMMANDS = "query($run: ID!) { commands(run: $run) { kind state params issuedBy } }"
AUDIT = """query($t: String!) { auditTrail(target: $t, first: 5) {
  edges { node { action actor after } } } }"""
SNAPSHOT = """query($e: [String!]!) { snapshots(entities: $e) { doc } }"""


class ApprovalPipeline:
    """A pipeline whose ``gate`` step asks for approval, then ``ship`` runs."""

    def __init__(self, service: RunningService, transport: str) -> None:
        self.name = unique("approve")
        self.tg = Tracegraph(
            url=service.base_url, api_key=service.key("executor"), flush_interval_s=0.02
        )
        self.tg.define_pipeline(self.name, ["gate", "ship"])
        assert self.tg.flush(10)
        self.executor: Executor = self.tg.executor([self.name], transport=transport)
        self.results: dict[str, ApprovalResult] = {}
        self.executor.on_start(self.name)(self.body)
        self.executor.start()

    def body(self, run: Run, params: dict[str, Any], env: dict[str, str]) -> None:
        with run.step("gate") as step:
            result = step.await_approval(
                "Ship the new index?", approvers=["operator"], timeout_s=params["timeout_s"]
            )
            self.results[run.id] = result
            if not result.granted:
                raise ApprovalNotGranted(result)
        with run.step("ship"):
            pass

    def launch(self, timeout_s: float = 60.0) -> str:
        return self.executor.launch(self.name, {"timeout_s": timeout_s}).id

    def close(self) -> None:
        self.executor.close()
        self.tg.close()


@pytest.fixture(params=["websocket", "poll"])
def pipeline(request: Any, service: RunningService) -> Iterator[ApprovalPipeline]:
    p = ApprovalPipeline(service, request.param)
    eventually(lambda: p.executor.connected_by == request.param, what="executor connected")
    yield p
    p.close()


def _approval(service: RunningService, run_id: str, state: str) -> dict[str, Any]:
    return eventually(
        lambda: ok(service, "viewer", APPROVALS, run=run_id)["approvals"],
        until=lambda found: bool(found) and found[0]["state"] == state,
        timeout=20,
        what=f"the approval of {run_id} {state}",
    )[0]


def _run(service: RunningService, run_id: str, status: str) -> dict[str, Any]:
    return eventually(
        lambda: ok(service, "viewer", RUN, id=run_id)["run"] or {},
        until=lambda run: run.get("status") == status,
        timeout=20,
        what=f"run {run_id} {status}",
    )


def _error(service: RunningService, role: str, query: str, **variables: Any) -> dict[str, Any]:
    data, errors = gql(service, role, query, **variables)
    assert errors, data
    return errors[0]


def test_granted_the_step_goes_on_and_only_approvers_decide(
    service: RunningService, pipeline: ApprovalPipeline
) -> None:
    run_id = pipeline.launch()
    waiting = _approval(service, run_id, "PENDING")
    assert waiting["question"] == "Ship the new index?"
    assert waiting["approvers"] == ["operator"] and waiting["timeoutS"] == 60.0
    assert waiting["stepRun"] == f"{run_id}/gate#1" and waiting["decidedBy"] is None
    # The run document shows the step waiting (what the dashboard renders).
    doc = ok(service, "viewer", SNAPSHOT, e=[f"run:{run_id}"])["snapshots"][0]["doc"]
    gate = doc["steps"][f"{run_id}/gate#1"]
    assert gate["awaitingApproval"] == waiting["id"] and gate["status"] == "RUNNING"
    assert gate["approvals"][waiting["id"]]["state"] == "PENDING"
    steps = ok(service, "viewer", STEP_RUNS, id=run_id)["run"]["steps"]
    assert {s["id"]: s["awaitingApproval"] for s in steps} == {f"{run_id}/gate#1": waiting["id"]}

    # A reader who is not an approver: FORBIDDEN with the reason; nothing decided.
    refused = _error(service, "viewer", APPROVE, a=waiting["id"], c=None)
    assert refused["extensions"]["code"] == "FORBIDDEN"
    assert "its approvers are role operator (or an admin)" in refused["message"]
    assert _approval(service, run_id, "PENDING")["id"] == waiting["id"]

    granted = ok(service, "operator", APPROVE, a=waiting["id"], c="looks good")["approveStep"]
    assert granted["state"] == "GRANTED" and granted["comment"] == "looks good"
    operator = granted["decidedBy"]
    assert operator.startswith("key:")
    _run(service, run_id, "SUCCEEDED")
    result = pipeline.results[run_id]
    assert (result.state, result.by, result.comment) == ("granted", operator, "looks good")
    steps = {s["id"]: s["status"] for s in ok(service, "viewer", RUN, id=run_id)["run"]["steps"]}
    assert steps == {f"{run_id}/gate#1": "SUCCEEDED", f"{run_id}/ship#1": "SUCCEEDED"}

    # The same decision again answers the same; another one is bad input.
    again = ok(service, "operator", APPROVE, a=waiting["id"], c="looks good")["approveStep"]
    assert again == granted
    late = _error(service, "admin", DENY, a=waiting["id"], c=None)
    assert late["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"was already granted by {operator}" in late["message"]

    decided = _approval(service, run_id, "GRANTED")
    steps = ok(service, "viewer", STEP_RUNS, id=run_id)["run"]["steps"]
    assert all(s["awaitingApproval"] is None for s in steps)
    assert decided["waitingMs"] is not None and decided["waitingMs"] >= 0
    assert decided["decidedAt"] >= decided["requestedAt"]
    # In the log (with the decider as principal), as a command delivered and done, audited.
    events = ok(service, "admin", EVENTS, run=run_id)["events"]
    decision = [e for e in events if e["type"] == "approval.granted"]
    assert len(decision) == 1 and decision[0]["principal"] == operator
    assert decision[0]["data"] == {
        "approval": waiting["id"],
        "by": operator,
        "comment": "looks good",
    }
    commands = ok(service, "viewer", COMMANDS, run=run_id)["commands"]
    assert [(c["kind"], c["state"], c["issuedBy"]) for c in commands] == [
        ("APPROVAL", "DONE", operator)
    ]
    assert commands[0]["params"]["decision"] == "granted"
    trail = ok(service, "admin", AUDIT, t=f"approval:{waiting['id']}")["auditTrail"]["edges"]
    assert [(e["node"]["action"], e["node"]["actor"]) for e in trail] == [
        ("approval.granted", operator)
    ]


def test_denied_the_step_fails_with_the_decision(service: RunningService) -> None:
    pipeline = ApprovalPipeline(service, "poll")
    try:
        _denied(service, pipeline)
    finally:
        pipeline.close()


def _denied(service: RunningService, pipeline: ApprovalPipeline) -> None:
    run_id = pipeline.launch()
    waiting = _approval(service, run_id, "PENDING")
    denied = ok(service, "admin", DENY, a=waiting["id"], c="not on a Friday")["denyStep"]
    assert denied["state"] == "DENIED"
    _run(service, run_id, "FAILED")
    steps = {s["id"]: s["status"] for s in ok(service, "viewer", RUN, id=run_id)["run"]["steps"]}
    assert steps == {f"{run_id}/gate#1": "FAILED"}
    assert pipeline.results[run_id].comment == "not on a Friday"


def test_nobody_deciding_the_service_expires_it_once_across_replicas(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # Two replicas on one database, both sweeping every 50 ms: one expiry, one command.
    service = make_service(approval_sweep_interval_s=0.05)
    other = make_service(approval_sweep_interval_s=0.05)
    p = ApprovalPipeline(service, "websocket")
    try:
        run_id = p.launch(timeout_s=0.5)
        expired = _approval(other, run_id, "EXPIRED")
        assert expired["decidedBy"] == "system:approvals"
        _run(service, run_id, "FAILED")
        assert p.results[run_id].state == "expired"
        late = _error(other, "operator", APPROVE, a=expired["id"], c=None)
        assert late["extensions"]["code"] == "BAD_USER_INPUT"
        assert "is expired" in late["message"]
        events = [e["type"] for e in ok(service, "admin", EVENTS, run=run_id)["events"]]
        assert events.count("approval.expired") == 1
        commands = ok(service, "viewer", COMMANDS, run=run_id)["commands"]
        assert [(c["kind"], c["state"]) for c in commands] == [("APPROVAL", "DONE")]
        # A sweep that lost the race is not bad input: nothing quarantined.
        assert counts(clean_graph)[0].get("Quarantined", 0) == 0
    finally:
        p.close()


def test_a_cancel_reaches_a_step_waiting_for_approval(service: RunningService) -> None:
    p = ApprovalPipeline(service, "websocket")
    try:
        run_id = p.launch()
        waiting = _approval(service, run_id, "PENDING")
        cancel = 'mutation($r: ID!) { cancelRun(run: $r, idempotencyKey: "c") { id } }'
        ok(service, "operator", cancel, r=run_id)
        _run(service, run_id, "CANCELLED")
        assert run_id not in p.results  # await_approval raised Cancelled: no decision
        # Nothing waits for it any more: deciding it now is bad input.
        late = _error(service, "operator", APPROVE, a=waiting["id"], c=None)
        assert late["extensions"]["code"] == "BAD_USER_INPUT"
        assert "is finished (skipped)" in late["message"]
    finally:
        p.close()


def test_bad_input_and_emitters_cannot_decide(service: RunningService) -> None:
    unknown = _error(service, "operator", APPROVE, a="no-such-approval", c=None)
    assert unknown["extensions"]["code"] == "BAD_USER_INPUT"
    assert "unknown approval 'no-such-approval'" in unknown["message"]
    forged = {
        "id": unique("forged"),
        "type": "approval.granted",
        "time": "2026-11-20T02:00:00Z",
        "source": "test",
        "pipeline": "p",
        "run": "r",
        "step": "s",
        "data": {"approval": "a", "by": "user:me"},
    }
    with service.client("executor") as http:
        resp = http.post("/v1/events", json=[forged])
    body = resp.json()
    assert body["rejected"][0]["error"].startswith("type: 'approval.granted' is written by")


def test_a_rebuild_from_the_log_gives_the_same_approvals(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    p = ApprovalPipeline(service, "poll")
    try:
        granted, denied = p.launch(), p.launch()
        ok(service, "operator", APPROVE, a=_approval(service, granted, "PENDING")["id"], c="ok")
        ok(service, "operator", DENY, a=_approval(service, denied, "PENDING")["id"], c=None)
        _run(service, granted, "SUCCEEDED")
        _run(service, denied, "FAILED")
        pending = p.launch()
        _approval(service, pending, "PENDING")
        assert p.tg.flush(10)
        before = snapshot(clean_graph)
        assert sum(1 for n in before[0] if "Approval" in str(n)) >= 3
        rebuild(neo4j_settings)
        assert snapshot(clean_graph) == before
    finally:
        p.close()
