"""Commands are not built from events, so a replay of the log keeps them: and it keeps
them linked to what they act on (their run or step run, TARGETS) and to their pipeline
(FOR), which the replay recreates. It lost those edges (they went with the derived
nodes), so a replayed graph showed no commands on runs or pipelines."""

from __future__ import annotations

from neo4j import Driver

from tests.conftest import RunningService
from tests.support.commands import key, ok, seed_runs
from tests.support.graph import rebuild, snapshot
from tracegraph.settings import Neo4jSettings

CANCEL = "mutation($r: ID!, $k: String!) { cancelRun(run: $r, idempotencyKey: $k) { id } }"
RETRY = "mutation($s: ID!, $k: String!) { retry(stepRun: $s, idempotencyKey: $k) { id } }"
START = """mutation($p: String!, $k: String!) {
  startRun(pipeline: $p, params: {n: 1}, idempotencyKey: $k) { id } }"""


def test_a_replay_keeps_commands_linked_to_their_runs_and_pipelines(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    runs = seed_runs(service, "replayed-commands")
    ok(service, "operator", CANCEL, r=runs["r1"], k=key())
    ok(service, "operator", RETRY, s=f"{runs['failed']}/embed#1", k=key())
    ok(service, "operator", START, p="replayed-commands", k=key())
    before = snapshot(clean_graph)
    linked = [r for r in before[1] if r[1] == "Command"]
    # cancel: FOR + TARGETS run; retry: FOR + TARGETS step run; start: FOR.
    assert sorted((r[0], r[3]) for r in linked) == [
        ("FOR", "Pipeline"),
        ("FOR", "Pipeline"),
        ("FOR", "Pipeline"),
        ("TARGETS", "Run"),
        ("TARGETS", "StepRun"),
    ]

    rebuild(neo4j_settings)

    assert snapshot(clean_graph) == before
