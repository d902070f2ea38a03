"""Replaying the event log: it never touches the log, and a replay killed midway is
finished by running it again, ending in the same graph as a clean replay.

``tracegraph replay`` runs as a real subprocess against the real Neo4j and is SIGKILLed
after a few committed pages (it prints one line per page).
"""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
from typing import Any

from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_convergence import _post_in_batches
from tests.support import cypher as statements
from tests.support.cypher import fetch
from tests.support.graph import governance_state, rebuild, snapshot, wipe_all_but_event_log
from tracegraph.auth import SYSTEM
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.redaction import make_policy
from tracegraph.settings import Neo4jSettings

EVENTS = 3000
PAGE = 50


def _replay_command(settings: Neo4jSettings) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "NEO4J_URI": settings.uri,
        "NEO4J_USER": settings.user,
        "NEO4J_PASSWORD": settings.password,
        "PYTHONUNBUFFERED": "1",
    }
    cmd = [sys.executable, "-m", "tracegraph.cli.main", "replay", "--page-size", str(PAGE)]
    return cmd, env


def _seqs(driver: Driver) -> list[int]:
    return [r["seq"] for r in fetch(driver, "event_seqs")]


def test_a_killed_replay_keeps_the_log_and_a_rerun_gives_the_same_graph(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    _post_in_batches(service, WorkloadGenerator(seed=5).events(EVENTS), [500])
    before = snapshot(clean_graph)
    log = _seqs(clean_graph)
    assert len(log) == EVENTS

    cmd, env = _replay_command(neo4j_settings)
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pages = 0
        for line in proc.stdout:
            pages += line.startswith("replayed ")
            if pages == 5:
                break
        assert pages == 5, "the replay ended before five pages"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    # Killed midway: the log is whole, the derived graph half built.
    assert _seqs(clean_graph) == log
    [state] = fetch(clean_graph, "replay_state")
    assert state["phase"] == "applying" and 5 * PAGE <= state["applied_seq"] < log[-1]

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.rstrip().endswith(
        f"replay done: {EVENTS - state['applied_seq']} events applied"
    )
    assert fetch(clean_graph, "replay_state") == []
    assert snapshot(clean_graph) == before

    # A clean replay from there gives the same graph again.
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert snapshot(clean_graph) == before


# --- admin changes are events (issue 19) -----------------------------------------------

SET_OWNER = """mutation($p: String!, $s: String, $o: String!) {
  setOwner(pipeline: $p, step: $s, owner: $o) { name } }"""
SET_SLA = """mutation($p: String!, $s: String, $sla: SLAInput!) {
  setSla(pipeline: $p, step: $s, sla: $sla) { name } }"""
SET_POLICY = """mutation($b: [String!]!, $r: [RedactionRuleInput!]!) {
  setRedactionPolicy(builtins: $b, customRules: $r) { version } }"""


def _gql(service: RunningService, query: str, **variables: Any) -> dict[str, Any]:
    with service.client("admin") as http:
        resp = http.post("/graphql", json={"query": query, "variables": variables})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert "errors" not in body, body
    return body["data"]


def _redefined(example_events: list[dict]) -> dict[str, Any]:
    """rag-nightly defined again an hour later: new owners and SLAs for some of it."""
    [definition] = [e for e in example_events if e["type"] == "pipeline.defined"]
    newer = copy.deepcopy(definition)
    newer.update(id="ev-redefined", time="2026-11-20T03:00:00.000Z")
    newer["data"].update(version="4", owner="team:search-v2", sla={"max_tokens": 5000})
    return newer


def test_owner_sla_and_policy_changes_survive_a_rebuild_from_the_log_alone(
    service: RunningService,
    clean_graph: Driver,
    neo4j_settings: Neo4jSettings,
    example_events: list[dict],
) -> None:
    pipe = "rag-nightly"
    _post_in_batches(service, example_events, [len(example_events)])
    # Changes through the API, with a newer definition between them: the order in the
    # log decides which wins (the definition replaces earlier changes, not later ones).
    _gql(service, SET_OWNER, p=pipe, s=None, o="team:platform")
    _gql(service, SET_OWNER, p=pipe, s="chunk", o="user:lee@example.com")
    _gql(service, SET_SLA, p=pipe, s=None, sla={"maxTokens": 100000})
    _gql(service, SET_SLA, p=pipe, s="embed", sla={})  # removes the step's SLA
    _gql(service, SET_POLICY, b=["email"], r=[{"name": "ticket", "pattern": "TCK-[0-9]+"}])
    _post_in_batches(service, [_redefined(example_events)], [1])
    _gql(service, SET_OWNER, p=pipe, s="fetch-docs", o="team:ingest")
    _gql(service, SET_SLA, p=pipe, s="eval", sla={"maxCostUsd": 3.5})
    _gql(service, SET_POLICY, b=["email", "api_key"], r=[])
    before = snapshot(clean_graph)
    governance_before = governance_state(clean_graph)

    wipe_all_but_event_log(clean_graph)
    assert governance_state(clean_graph) == ([], [])
    # A new database: a service's first start seeds the policy from its settings (not
    # an event), then the replay applies the log, the admins' changes included.
    seed = make_policy(service.settings.redaction_builtins, service.settings.redaction_custom_rules)
    service.call(service.app.state.services.policies.load_or_seed(seed, SYSTEM.actor))
    replayed = rebuild(neo4j_settings)

    assert snapshot(clean_graph) == before
    assert governance_state(clean_graph) == governance_before
    assert replayed == len(example_events) + 1 + 8  # + the admins' changes
    owners, _, _ = clean_graph.execute_query(
        statements.test_cypher("pipeline_owner"), {"name": pipe}
    )
    # The newer definition replaced team:platform, set before it.
    assert [r["owner"] for r in owners] == ["team:search-v2"]

    # The changes are in the log, by the admin who made them.
    events = _gql(service, "{ events(first: 100) { type principal } }")["events"]
    changes = [e for e in events if e["type"] not in {ev["type"] for ev in example_events}]
    assert [e["type"] for e in changes] == [
        "pipeline.owner_set",
        "pipeline.owner_set",
        "pipeline.sla_set",
        "pipeline.sla_set",
        "redaction.policy_set",
        "pipeline.owner_set",
        "pipeline.sla_set",
        "redaction.policy_set",
    ]
    assert {e["principal"] for e in changes} == {"key:" + _admin_name(service)}


def _admin_name(service: RunningService) -> str:
    with service.client("admin") as http:
        me = http.post("/graphql", json={"query": "{ me { actor } }"}).json()["data"]["me"]
    return str(me["actor"]).removeprefix("key:")


def test_emitters_cannot_send_admin_change_events(service: RunningService) -> None:
    change = {
        "id": "forged-owner",
        "type": "pipeline.owner_set",
        "time": "2026-11-20T02:00:00Z",
        "source": "forger",
        "pipeline": "rag-nightly",
        "data": {"owner": "team:forger"},
    }
    with service.client("ingester") as http:
        resp = http.post("/v1/events", json=[change])
    assert resp.status_code == 207
    [rejected] = resp.json()["rejected"]
    assert rejected["error"] == (
        "type: 'pipeline.owner_set' is written by the service itself for setOwner "
        "(an admin change); it cannot be ingested"
    )
