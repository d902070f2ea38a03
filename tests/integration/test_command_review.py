"""Review findings on the control plane (issue 18), each pinned by a test that failed on
the code before the fix: the long poll's catch-up paging, a lease on acknowledged
commands, the principal that settles a command, superseded retries, and unambiguous
idempotency scopes. Real Neo4j, real service, real clients."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.conftest import RunningService
from tests.support.commands import command, event, gql, key, ok, seed_runs
from tests.support.eventually import eventually
from tests.support.live import unique

FIELDS = "id seq kind state stateReason run stepRun executor"
START_MANY = f"""mutation($p: String!, $sets: [JSON!]!, $key: String!) {{
  startRuns(pipeline: $p, paramSets: $sets, idempotencyKey: $key) {{ {FIELDS} }} }}"""
CANCEL = f"""mutation($run: ID!, $key: String!) {{
  cancelRun(run: $run, idempotencyKey: $key) {{ {FIELDS} }} }}"""
RETRY = f"""mutation($stepRun: ID, $run: ID, $key: String!) {{
  retry(stepRun: $stepRun, run: $run, idempotencyKey: $key) {{ {FIELDS} }} }}"""
ACK = f"""mutation($id: ID!, $ex: String!) {{
  acknowledgeCommand(id: $id, executor: $ex) {{ {FIELDS} }} }}"""
OUTCOME = f"""mutation($id: ID!, $ex: String!, $o: CommandOutcome!, $r: String) {{
  reportCommandOutcome(id: $id, executor: $ex, outcome: $o, reason: $r) {{ {FIELDS} }} }}"""


def _new_key(service: RunningService, name: str, role: str) -> str:
    from tracegraph.auth.roles import parse_role

    keys = service.app.state.services.keys
    _, text = service.call(keys.create(name, parse_role(role), "system:tests"))
    return str(text)


def _as(service: RunningService, api_key: str, query: str, **variables: Any) -> tuple[Any, list]:
    with httpx.Client(
        base_url=service.base_url, timeout=60, headers={"Authorization": f"Bearer {api_key}"}
    ) as http:
        body = http.post("/graphql", json={"query": query, "variables": variables}).json()
    return body.get("data"), body.get("errors") or []


def test_a_long_poll_catch_up_larger_than_a_page_loses_no_command(
    clean_graph: Any, make_service: Any
) -> None:
    first = make_service()
    pipeline = unique("page")
    seed_runs(first, pipeline)
    issued = ok(
        first, "operator", START_MANY, p=pipeline, sets=[{"i": i} for i in range(12)], key=key()
    )["startRuns"]
    # A replica started after they were issued catches up from the database, in pages.
    second = make_service(command_catchup_page=5)
    got: list[str] = []
    after = 0
    with second.client("executor") as http:
        for _ in range(10):
            body = http.get(
                "/api/commands", params={"pipelines": pipeline, "after": after, "wait": 0}
            ).json()
            got += [c["id"] for c in body["commands"]]
            after = body["after"]
            if not body["commands"]:
                break
    assert got == [c["id"] for c in issued]


def test_an_acknowledged_command_whose_executor_went_silent_expires(
    clean_graph: Any, make_service: Any
) -> None:
    svc = make_service(command_ack_lease_s=1.0, command_expiry_interval_s=0.1)
    pipeline = unique("lease")
    runs = seed_runs(svc, pipeline)
    cmd = ok(svc, "operator", CANCEL, run=runs["r1"], key=key())["cancelRun"]
    ok(svc, "executor", ACK, id=cmd["id"], ex="ex-gone")
    expired = eventually(
        lambda: command(svc, cmd["id"]),
        until=lambda c: c["state"] == "EXPIRED",
        timeout=15,
        what="the acknowledged command expired",
    )
    assert "executor 'ex-gone' acknowledged it but reported no outcome" in expired["stateReason"]
    # A late report from the silent executor is refused, precisely.
    _, errors = gql(svc, "executor", OUTCOME, id=cmd["id"], ex="ex-gone", o="DONE")
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "is expired" in errors[0]["message"]


def test_only_the_principal_that_acknowledged_a_command_may_settle_it(
    service: RunningService,
) -> None:
    pipeline = unique("who")
    runs = seed_runs(service, pipeline)
    mine = _new_key(service, f"exec-a-{uuid.uuid4().hex[:6]}", "executor")
    other = _new_key(service, f"exec-b-{uuid.uuid4().hex[:6]}", "executor")
    cmd = ok(service, "operator", CANCEL, run=runs["r1"], key=key())["cancelRun"]
    data, errors = _as(service, mine, ACK, id=cmd["id"], ex="worker-1")
    assert not errors, errors
    # Another key passing the same executor id may neither settle nor re-acknowledge it.
    for query, extra in ((OUTCOME, {"o": "DONE"}), (ACK, {})):
        data, errors = _as(service, other, query, id=cmd["id"], ex="worker-1", **extra)
        assert data is None or not any(data.values()), data
        assert errors[0]["extensions"]["code"] == "FORBIDDEN", errors
        assert "acknowledged by another principal" in errors[0]["message"]
    assert command(service, cmd["id"])["state"] == "ACKNOWLEDGED"
    data, errors = _as(service, mine, OUTCOME, id=cmd["id"], ex="worker-1", o="DONE", r="ok")
    assert not errors and data["reportCommandOutcome"]["state"] == "DONE"


def test_a_retry_of_a_superseded_or_already_retried_attempt_is_refused(
    service: RunningService,
) -> None:
    pipeline = unique("retry")
    runs = seed_runs(service, pipeline)
    failed = runs["failed"]
    first = ok(
        service, "viewer", "query($id: ID!) { run(id: $id) { steps { id attempt } } }", id=failed
    )["run"]["steps"][0]["id"]
    # An operator retries attempt 1; a second retry of it while that one is open is refused.
    ok(service, "operator", RETRY, stepRun=first, key=key())
    _, errors = gql(service, "operator", RETRY, stepRun=first, key=key())
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "a retry of step run" in errors[0]["message"] and "is already" in errors[0]["message"]
    # Attempt 2 ran (and failed too): attempt 1 is superseded and cannot be retried.
    second_attempt = [
        event(pipeline, failed, "step.started", 30, step="embed", attempt=2),
        event(
            pipeline,
            failed,
            "step.failed",
            31,
            step="embed",
            attempt=2,
            data={"error": {"message": "again"}, "retryable": True},
        ),
    ]
    with service.client("admin") as http:
        assert http.post("/v1/events", json=second_attempt).status_code == 200
    _, errors = gql(service, "operator", RETRY, stepRun=first, key=key())
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "superseded by attempt 2" in errors[0]["message"], errors


def test_idempotency_scopes_of_principals_with_a_bar_do_not_collide(
    service: RunningService,
) -> None:
    pipeline = unique("bar")
    runs = seed_runs(service, pipeline)
    base = f"ops-{uuid.uuid4().hex[:6]}"
    # Principals key:<base>|x and key:<base>: key 'k' of the first, 'x|k' of the second
    # joined with '|' both read 'key:<base>|x|k'.
    barred = _new_key(service, f"{base}|x", "operator")
    plain = _new_key(service, base, "operator")
    a, errors = _as(service, barred, CANCEL, run=runs["r1"], key="k")
    assert not errors, errors
    b, errors = _as(service, plain, CANCEL, run=runs["r2"], key="x|k")
    assert not errors, errors
    assert b["cancelRun"]["id"] != a["cancelRun"]["id"]
    assert b["cancelRun"]["run"] == runs["r2"]
