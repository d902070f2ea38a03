"""Issuing under concurrency (issue 18): a replica keeps several issuing transactions in
flight (TRACEGRAPH_COMMAND_ISSUE_TRANSACTIONS), two replicas issue at once, and still
every request gets exactly its command, an idempotency key repeated at the same moment
gives one command, and the seqs are unique and gap-free (the tailer relies on that)."""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx
from neo4j import Driver

from tests.support.commands import event, ok
from tests.support.eventually import eventually
from tests.support.live import unique

START = """mutation($p: String!, $key: String!) {
  startRun(pipeline: $p, idempotencyKey: $key, params: {n: 1}) { id seq pipeline }
}"""
COMMANDS = """query($p: String!) { commands(pipeline: $p, first: 500) { id seq } }"""


def test_concurrent_issues_on_two_replicas_give_one_command_each_with_gap_free_seqs(
    clean_graph: Driver, make_service: Any
) -> None:
    replicas = [make_service(command_issue_transactions=3), make_service()]
    pipelines = [unique(f"issue-{i}") for i in range(6)]
    with replicas[0].client("admin") as http:
        definitions = [event(p, None, "pipeline.defined", 0) for p in pipelines]
        for d in definitions:
            d["data"] = {"steps": [{"key": "work"}]}
        assert http.post("/v1/events", json=definitions).status_code == 200
    # 120 requests from 24 threads over both replicas; keys k0..k79 once, k80..k99 twice
    # (on both replicas at once), so 100 distinct commands.
    jobs = [(i % 2, pipelines[i % 6], f"k{i}") for i in range(100)]
    jobs += [(1 - i % 2, pipelines[i % 6], f"k{i}") for i in range(80, 100)]

    # One operator (idempotency keys are per principal): replica 0's key on both.
    operator = replicas[0].headers("operator")

    def issue(job: tuple[int, str, str]) -> dict[str, Any]:
        replica, pipeline, key = job
        with httpx.Client(base_url=replicas[replica].base_url, headers=operator) as http:
            resp = http.post(
                "/graphql", json={"query": START, "variables": {"p": pipeline, "key": key}}
            )
        body = resp.json()
        assert resp.status_code == 200 and not body.get("errors"), body
        return body["data"]["startRun"]  # type: ignore[no-any-return]

    with concurrent.futures.ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(issue, jobs))

    by_key: dict[str, set[str]] = {}
    for (_, _, key), answer in zip(jobs, answers, strict=True):
        by_key.setdefault(key, set()).add(answer["id"])
    assert all(len(ids) == 1 for ids in by_key.values())  # one command per key
    assert len({a["id"] for a in answers}) == 100
    stored = [c for p in pipelines for c in ok(replicas[0], "operator", COMMANDS, p=p)["commands"]]
    seqs = sorted(c["seq"] for c in stored)
    assert seqs == list(range(1, 101))  # unique, no gap
    assert {a["id"]: a["seq"] for a in answers} == {c["id"]: c["seq"] for c in stored}


def _metrics(service: Any) -> dict[str, float]:
    with service.client("admin") as http:
        text = http.get("/metrics").text
    return {
        line.split()[0]: float(line.split()[1])
        for line in text.splitlines()
        if line.startswith("tracegraph_command_issue_") and "_created" not in line
    }


def test_metrics_split_each_issuing_transaction_into_read_write_and_commit(
    clean_graph: Driver, service: Any
) -> None:
    pipeline = unique("issue-metrics")
    with service.client("admin") as http:
        definition = event(pipeline, None, "pipeline.defined", 0)
        definition["data"] = {"steps": [{"key": "work"}]}
        # A cold, loaded server may answer 503 while it plans its statements: a client
        # honouring Retry-After sends again (duplicates are recognised).
        eventually(
            lambda: http.post("/v1/events", json=[definition]),
            until=lambda r: r.status_code == 200,
            timeout=120,
            interval=1.0,
            what="the definition stored",
        )
    before = _metrics(service)
    for i in range(3):
        ok(service, "operator", START, p=pipeline, key=f"m{i}")
    after = _metrics(service)
    delta = {name: after[name] - before.get(name, 0.0) for name in after}
    assert delta["tracegraph_command_issue_transactions_total"] >= 1
    # Every part of a transaction that ran is timed, and the parts fit in its wall time.
    parts = ("read", "write", "commit")
    for part in parts:
        assert delta[f"tracegraph_command_issue_{part}_seconds_total"] > 0, part
    assert (
        sum(delta[f"tracegraph_command_issue_{p}_seconds_total"] for p in parts)
        <= delta["tracegraph_command_issue_transaction_seconds_total"]
    )
    # The slow ones are counted (how many depends on the machine: present, and no more
    # than the transactions that ran).
    slow = delta["tracegraph_command_issue_slow_transactions_total"]
    assert 0 <= slow <= delta["tracegraph_command_issue_transactions_total"]
    assert delta["tracegraph_command_issue_slow_commits_total"] <= slow
