"""The control plane's API (issue 18): issuing commands, their states, idempotency, bad
input, all-or-nothing batches, delivery by subscription and long poll on any replica,
resume after a restart, and expiry. Real Neo4j, real service, real clients."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
from gql import gql as gql_doc

from tests.conftest import RunningService
from tests.support.commands import (
    COMMAND_FIELDS,
    command,
    commands_of,
    gql,
    key,
    ok,
    seed_runs,
)
from tests.support.eventually import eventually
from tests.support.live import session, unique

PAUSE = f"""mutation($run: ID!, $key: String!, $reason: String) {{
  pauseRun(run: $run, idempotencyKey: $key, reason: $reason) {{ {COMMAND_FIELDS} }} }}"""
RESUME = f"""mutation($run: ID!, $key: String!) {{
  resumeRun(run: $run, idempotencyKey: $key) {{ {COMMAND_FIELDS} }} }}"""
CANCEL = f"""mutation($run: ID!, $key: String!) {{
  cancelRun(run: $run, idempotencyKey: $key) {{ {COMMAND_FIELDS} }} }}"""
CANCEL_MANY = f"""mutation($runs: [ID!]!, $key: String!) {{
  cancelRuns(runs: $runs, idempotencyKey: $key) {{ {COMMAND_FIELDS} }} }}"""
RETRY = f"""mutation($run: ID, $stepRun: ID, $key: String!) {{
  retry(run: $run, stepRun: $stepRun, idempotencyKey: $key) {{ {COMMAND_FIELDS} }} }}"""
START = f"""mutation($p: String!, $params: JSON, $env: JSON, $key: String!) {{
  startRun(pipeline: $p, params: $params, env: $env, idempotencyKey: $key) {{
    {COMMAND_FIELDS} }} }}"""
START_MANY = f"""mutation($p: String!, $sets: [JSON!]!, $key: String!) {{
  startRuns(pipeline: $p, paramSets: $sets, idempotencyKey: $key) {{ {COMMAND_FIELDS} }} }}"""
ACK = f"""mutation($id: ID!, $ex: String!) {{
  acknowledgeCommand(id: $id, executor: $ex) {{ {COMMAND_FIELDS} }} }}"""
OUTCOME = f"""mutation($id: ID!, $ex: String!, $o: CommandOutcome!, $r: String, $run: ID) {{
  reportCommandOutcome(id: $id, executor: $ex, outcome: $o, reason: $r, run: $run) {{
    {COMMAND_FIELDS} }} }}"""
SUBSCRIBE = gql_doc(
    f"""subscription($p: [String!]!, $after: Int) {{
  commands(pipelines: $p, afterSeq: $after) {{ {COMMAND_FIELDS} }} }}"""
)
AUDIT = """query($t: String) { auditTrail(target: $t, first: 5) {
  edges { node { action actor target after } } } }"""


def _error(errors: list[dict[str, Any]]) -> tuple[str, str]:
    assert len(errors) == 1, errors
    return errors[0]["extensions"]["code"], errors[0]["message"]


def test_a_command_goes_pending_delivered_acknowledged_done_and_is_audited(
    service: RunningService,
) -> None:
    pipeline = unique("cmd")
    runs = seed_runs(service, pipeline)
    issued = ok(service, "operator", PAUSE, run=runs["r1"], key=key(), reason="runaway")
    cmd = issued["pauseRun"]
    assert (cmd["kind"], cmd["state"], cmd["pipeline"], cmd["run"]) == (
        "PAUSE",
        "PENDING",
        pipeline,
        runs["r1"],
    )
    assert cmd["issuedBy"].startswith("key:test-operator-") and cmd["note"] == "runaway"

    async def receive() -> list[dict[str, Any]]:
        async with session(service, role="executor") as s:
            got = []
            async for item in s.subscribe(SUBSCRIBE, variable_values={"p": [pipeline], "after": 0}):
                got.append(item["commands"])
                return got
        return got

    received = asyncio.run(asyncio.wait_for(receive(), 30))
    assert [c["id"] for c in received] == [cmd["id"]]
    eventually(lambda: command(service, cmd["id"])["state"] == "DELIVERED", what="delivered")
    acked = ok(service, "executor", ACK, id=cmd["id"], ex="ex-1")["acknowledgeCommand"]
    assert (acked["state"], acked["executor"]) == ("ACKNOWLEDGED", "ex-1")
    # At least once: the same executor acknowledging again is answered the same.
    assert ok(service, "executor", ACK, id=cmd["id"], ex="ex-1")["acknowledgeCommand"]
    code, message = _error(gql(service, "executor", ACK, id=cmd["id"], ex="ex-2")[1])
    assert code == "BAD_USER_INPUT" and "already acknowledged by executor 'ex-1'" in message
    done = ok(service, "executor", OUTCOME, id=cmd["id"], ex="ex-1", o="DONE", r="paused")
    assert done["reportCommandOutcome"]["state"] == "DONE"
    assert done["reportCommandOutcome"]["stateReason"] == "paused"
    trail = ok(service, "reviewer", AUDIT, t=f"command:{cmd['id']}")["auditTrail"]["edges"]
    assert [e["node"]["action"] for e in trail] == ["command.pause"]
    assert trail[0]["node"]["actor"] == cmd["issuedBy"]


def test_an_idempotency_key_returns_the_same_command_and_refuses_another(
    service: RunningService,
) -> None:
    pipeline = unique("idem")
    runs = seed_runs(service, pipeline)
    k = key()
    first = ok(service, "operator", CANCEL, run=runs["r1"], key=k)["cancelRun"]
    again = ok(service, "operator", CANCEL, run=runs["r1"], key=k)["cancelRun"]
    assert again["id"] == first["id"] and again["seq"] == first["seq"]
    code, message = _error(gql(service, "operator", CANCEL, run=runs["r2"], key=k)[1])
    assert code == "BAD_USER_INPUT"
    assert f"idempotency key '{k}' was already used for another command" in message
    # Keys are per principal: another principal's same key is its own command.
    other = ok(service, "admin", CANCEL, run=runs["r1"], key=k)["cancelRun"]
    assert other["id"] != first["id"]
    many = ok(service, "operator", CANCEL_MANY, runs=[runs["r2"], runs["r3"]], key=k + "b")
    many_again = ok(service, "operator", CANCEL_MANY, runs=[runs["r2"], runs["r3"]], key=k + "b")
    assert [c["id"] for c in many["cancelRuns"]] == [c["id"] for c in many_again["cancelRuns"]]
    assert len(commands_of(service, pipeline)) == 4


def test_bad_input_gets_a_precise_error_and_nothing_is_stored(service: RunningService) -> None:
    pipeline = unique("bad")
    runs = seed_runs(service, pipeline)
    cases: list[tuple[str, dict[str, Any], str]] = [
        (PAUSE, {"run": runs["done"]}, f"cannot pause run '{runs['done']}': it is finished"),
        (CANCEL, {"run": runs["failed"]}, "it is finished (failed)"),
        (RESUME, {"run": runs["r1"]}, "resume needs a run that is paused"),
        (PAUSE, {"run": "no-such-run"}, "unknown run 'no-such-run'"),
        (START, {"p": "no-such-pipeline"}, "unknown pipeline 'no-such-pipeline'"),
        (RETRY, {"run": runs["r1"]}, "has no failed step and did not fail"),
        (RETRY, {"stepRun": f"{runs['done']}/embed#1"}, "unknown step run"),
        (RETRY, {}, "retry needs exactly one of run or stepRun"),
        (START, {"p": pipeline, "params": [1, 2]}, "params: must be a JSON object, not list"),
        (
            START,
            {"p": pipeline, "env": {"OPENAI_API_KEY": "sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXyZ0"}},
            'reference it by name, {"secret": "OPENAI_API_KEY"}',
        ),
        (START, {"p": pipeline, "env": {"1BAD": "x"}}, "env.1BAD: not a variable name"),
        (PAUSE, {"run": runs["r1"], "key": "  "}, "idempotencyKey: must not be empty"),
    ]
    for document, variables, expected in cases:
        variables = {"key": key(), **variables}
        code, message = _error(gql(service, "operator", document, **variables)[1])
        assert code == "BAD_USER_INPUT", (variables, message)
        assert expected in message, (variables, message)
    for document, variables, expected in [
        (ACK, {"id": "no-such-command", "ex": "e"}, "unknown command 'no-such-command'"),
        (OUTCOME, {"id": "nope", "ex": "e", "o": "DONE"}, "unknown command 'nope'"),
    ]:
        code, message = _error(gql(service, "executor", document, **variables)[1])
        assert (code, message) == ("BAD_USER_INPUT", expected)
    assert commands_of(service, pipeline) == []


def test_a_retry_of_a_failed_step_or_run_names_the_failed_step(service: RunningService) -> None:
    pipeline = unique("retry")
    runs = seed_runs(service, pipeline)
    by_run = ok(service, "operator", RETRY, run=runs["failed"], key=key())["retry"]
    assert (by_run["stepRun"], by_run["step"]) == (f"{runs['failed']}/embed#1", "embed")
    # One retry of a failed attempt at a time: once that one is settled, a retry by step.
    ok(service, "executor", OUTCOME, id=by_run["id"], ex="ex-1", o="REJECTED", r="not mine")
    by_step = ok(service, "operator", RETRY, stepRun=f"{runs['failed']}/embed#1", key=key())
    assert by_step["retry"]["pipeline"] == pipeline


def test_a_batch_with_one_bad_target_issues_nothing(service: RunningService) -> None:
    pipeline = unique("batch")
    runs = seed_runs(service, pipeline)
    targets = [runs["r1"], runs["r2"], runs["done"], "ghost"]
    data, errors = gql(service, "operator", CANCEL_MANY, runs=targets, key=key())
    assert data is None
    code, message = _error(errors)
    assert code == "BAD_USER_INPUT" and message.startswith("2 bad items")
    problems = errors[0]["extensions"]["problems"]
    assert [p["index"] for p in problems] == [2, 3]
    assert "unknown run 'ghost'" in problems[1]["message"]
    assert commands_of(service, pipeline) == []
    trail = ok(service, "reviewer", AUDIT, t=None)["auditTrail"]["edges"]
    assert not [e for e in trail if e["node"]["action"].startswith("command.")]
    good = ok(service, "operator", CANCEL_MANY, runs=[*targets[:2], runs["r3"]], key=key())
    assert [c["run"] for c in good["cancelRuns"]] == [runs["r1"], runs["r2"], runs["r3"]]
    seqs = [c["seq"] for c in good["cancelRuns"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    starts = ok(service, "operator", START_MANY, p=pipeline, sets=[{"n": 1}, {"n": 2}], key=key())
    assert [c["params"] for c in starts["startRuns"]] == [{"n": 1}, {"n": 2}]
    data, errors = gql(service, "operator", START_MANY, p=pipeline, sets=[{"n": 3}, 7], key=key())
    assert errors[0]["extensions"]["problems"] == [
        {"index": 1, "message": "params: must be a JSON object, not int"}
    ]
    assert len(commands_of(service, pipeline)) == 5


def _poll(service: RunningService, pipeline: str, after: int, wait: float) -> httpx.Response:
    with service.client("executor") as http:
        return http.get(
            "/api/commands", params={"pipelines": pipeline, "after": after, "wait": wait}
        )


def test_a_long_poll_answers_at_once_with_what_was_missed_and_waits_for_the_next(
    clean_graph: Any, make_service: Any
) -> None:
    a, b = make_service(), make_service()  # two replicas on one database
    pipeline = unique("poll")
    runs = seed_runs(a, pipeline)
    first = ok(a, "operator", PAUSE, run=runs["r1"], key=key())["pauseRun"]
    answer = _poll(a, pipeline, 0, 10).json()
    assert [c["id"] for c in answer["commands"]] == [first["id"]]
    assert answer["commands"][0]["kind"] == "pause" and answer["after"] == first["seq"]
    # Nothing new: the poll waits its time and answers empty, with where to go on from.
    empty = _poll(a, pipeline, answer["after"], 0.3).json()
    assert empty == {"commands": [], "after": answer["after"]}
    # A command issued on replica B reaches an executor waiting on replica A.
    with httpx.Client(base_url=a.base_url, headers=a.headers("executor"), timeout=60) as http:
        import threading

        result: dict[str, Any] = {}

        def wait_on_a() -> None:
            params = {"pipelines": pipeline, "after": answer["after"], "wait": 20}
            result["resp"] = http.get("/api/commands", params=params)

        waiter = threading.Thread(target=wait_on_a)
        waiter.start()
        eventually(lambda: a.call(_receivers(a)) >= 1, what="the poll is waiting")
        second = ok(b, "operator", CANCEL, run=runs["r2"], key=key())["cancelRun"]
        waiter.join(30)
    got = result["resp"].json()
    assert [c["id"] for c in got["commands"]] == [second["id"]]
    assert got["after"] == second["seq"]
    bad = _poll(a, "", 0, 0)
    assert bad.status_code == 400 and "pipelines" in bad.json()["error"]


async def _receivers(service: RunningService) -> int:
    return service.app.state.services.command_feed.receivers  # type: ignore[no-any-return]


def test_exactly_the_missed_commands_arrive_after_a_restart_and_a_reconnect(
    clean_graph: Any, make_service: Any
) -> None:
    first_service = make_service()
    pipeline = unique("resume")
    runs = seed_runs(first_service, pipeline)
    other = unique("other")
    seed_runs(first_service, other)
    seen = ok(first_service, "operator", PAUSE, run=runs["r1"], key=key())["pauseRun"]

    async def take(svc: RunningService, after: int, n: int) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        async with session(svc, role="executor") as s:
            async for item in s.subscribe(
                SUBSCRIBE, variable_values={"p": [pipeline], "after": after}
            ):
                got.append(item["commands"])
                if len(got) >= n:
                    return got
        return got

    assert [c["id"] for c in asyncio.run(asyncio.wait_for(take(first_service, 0, 1), 30))] == [
        seen["id"]
    ]
    # The executor is gone and the service restarts; commands are issued meanwhile (one of
    # another pipeline, which this executor must not get).
    first_service.__exit__(None, None, None)
    restarted = make_service()
    missed = [
        ok(restarted, "operator", CANCEL, run=runs["r2"], key=key())["cancelRun"],
        ok(restarted, "operator", PAUSE, run=runs["r3"], key=key())["pauseRun"],
    ]
    ok(restarted, "operator", CANCEL, run=f"{other}-r1", key=key())
    got = asyncio.run(asyncio.wait_for(take(restarted, seen["seq"], 2), 30))
    assert [c["id"] for c in got] == [c["id"] for c in missed]
    # The long poll resumes the same way.
    answer = _poll(restarted, pipeline, seen["seq"], 0).json()
    assert [c["id"] for c in answer["commands"]] == [c["id"] for c in missed]


def test_a_command_nobody_acknowledges_expires_once_with_a_reason_on_every_replica(
    clean_graph: Any, make_service: Any
) -> None:
    fast = {"command_ttl_s": 1.0, "command_expiry_interval_s": 0.1}
    a, b = make_service(**fast), make_service(**fast)
    pipeline = unique("expire")
    runs = seed_runs(a, pipeline)
    cmds = ok(a, "operator", CANCEL_MANY, runs=[runs["r1"], runs["r2"]], key=key())["cancelRuns"]
    ok(b, "executor", ACK, id=cmds[1]["id"], ex="ex-1")  # taken on: never expires
    expired = eventually(
        lambda: command(b, cmds[0]["id"]),
        until=lambda c: c["state"] == "EXPIRED",
        timeout=15,
        what="expired",
    )
    assert "expired: no executor of pipeline" in expired["stateReason"]
    assert command(a, cmds[1]["id"])["state"] == "ACKNOWLEDGED"
    code, message = _error(gql(a, "executor", ACK, id=cmds[0]["id"], ex="ex-1")[1])
    assert code == "BAD_USER_INPUT" and f"command '{cmds[0]['id']}' is expired" in message
    # Expired commands are not delivered to an executor that connects later.
    assert _poll(a, pipeline, 0, 0).json()["commands"] == []
