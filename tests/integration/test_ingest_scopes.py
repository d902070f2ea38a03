"""Write scopes of ingest keys, on every ingest route of a running service.

A key created with ``scopes`` (glob patterns of pipeline names) may write events only
for pipelines matching one of them: an event for another pipeline (or for none) is
refused with the reason in the 207 answer and quarantined, the others are stored. Keys
without a scope write anywhere, as before. Keys are created and listed through the
admin's GraphQL API and through ``tracegraph keys``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import httpx
import orjson

from tests.conftest import RunningService
from tests.support.live import log_event, run_event, unique
from tests.support.otlp import hex_span, json_export
from tracegraph.settings import Neo4jSettings

CREATE_KEY = """mutation($n: String!, $r: String!, $s: [String!]) {
  createApiKey(name: $n, role: $r, scopes: $s) { key record { id name role scopes } }
}"""


def gql(
    service: RunningService, query: str, role: str = "admin", key: str | None = None, **v: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else service.headers(role)
    resp = httpx.post(
        f"{service.base_url}/graphql",
        json={"query": query, "variables": v},
        headers=headers,
        timeout=30,
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


def scoped_key(service: RunningService, *patterns: str, role: str = "ingester") -> str:
    body = gql(service, CREATE_KEY, n=unique("scoped"), r=role, s=list(patterns))
    assert "errors" not in body, body
    created = body["data"]["createApiKey"]
    assert created["record"]["scopes"] == list(patterns)
    return str(created["key"])


def client(service: RunningService, key: str) -> httpx.Client:
    return httpx.Client(
        base_url=service.base_url, timeout=60, headers={"Authorization": f"Bearer {key}"}
    )


def quarantined(service: RunningService) -> dict[str, dict[str, Any]]:
    """Open quarantine entries by event id, read through the reviewers' route."""
    with service.client("reviewer") as http:
        resp = http.get("/v1/quarantine", params={"limit": 500})
    assert resp.status_code == 200, resp.text
    return {e["event_id"]: e for e in resp.json()["items"]}


def stored_pipelines(service: RunningService) -> set[str]:
    events = gql(service, "{ events(first: 500) { pipeline } }")["data"]["events"]
    return {e["pipeline"] for e in events}


def test_http_events_outside_the_scope_are_refused_in_the_207_and_quarantined(
    service: RunningService,
) -> None:
    key = scoped_key(service, "rag-*", "eval-nightly")
    inside, exact, outside = unique("rag-"), "eval-nightly", unique("billing-")
    no_pipeline = log_event("x", 9)
    del no_pipeline["pipeline"]
    no_pipeline["id"] = unique("no-pipeline")
    events = [log_event(inside, 0), log_event(outside, 1), log_event(exact, 2), no_pipeline]

    with client(service, key) as http:
        resp = http.post("/v1/events", json=events)

    assert resp.status_code == 207, resp.text
    body = resp.json()
    assert body["accepted"] == 2 and body["duplicates"] == 0
    assert body["rejected"] == [
        {
            "index": 1,
            "id": f"{outside}-log-1",
            "error": f"pipeline: '{outside}' is outside this key's write scope "
            "(pipelines matching rag-*, eval-nightly)",
        },
        {
            "index": 3,
            "id": no_pipeline["id"],
            "error": "pipeline: required for this key, whose write scope is limited to "
            "pipelines matching rag-*, eval-nightly",
        },
    ]
    assert stored_pipelines(service) == {inside, exact}

    entries = quarantined(service)
    entry = entries[f"{outside}-log-1"]
    assert entry["reason"] == body["rejected"][0]["error"]
    assert entry["principal"].startswith("key:scoped-")
    assert orjson.loads(entry["raw"])["pipeline"] == outside
    assert no_pipeline["id"] in entries


def test_keys_without_a_scope_write_to_any_pipeline(service: RunningService) -> None:
    pipelines = [unique("rag-"), unique("billing-")]
    with service.client("ingester") as http:
        resp = http.post("/v1/events", json=[log_event(p, 0) for p in pipelines])
    assert resp.status_code == 200, resp.text
    assert resp.json()["accepted"] == 2
    assert stored_pipelines(service) == set(pipelines)


def test_graphql_ingest_events_applies_the_scope(service: RunningService) -> None:
    key = scoped_key(service, "rag-*")
    inside, outside = unique("rag-"), unique("eval-")
    body = gql(
        service,
        "mutation($e: [JSON!]!) { ingestEvents(events: $e) { accepted rejected { index error } } }",
        key=key,
        e=[log_event(outside, 0), log_event(inside, 1)],
    )
    assert "errors" not in body, body
    result = body["data"]["ingestEvents"]
    assert result["accepted"] == 1
    assert result["rejected"] == [
        {
            "index": 0,
            "error": f"pipeline: '{outside}' is outside this key's write scope "
            "(pipelines matching rag-*)",
        }
    ]
    assert stored_pipelines(service) == {inside}
    assert f"{outside}-log-0" in quarantined(service)


def _openlineage_start(namespace: str, name: str, run_id: str) -> dict[str, Any]:
    return {
        "eventType": "START",
        "eventTime": "2026-11-20T02:00:00.000Z",
        "run": {"runId": run_id},
        "job": {"namespace": namespace, "name": name},
        "producer": "https://example.com/scopes",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }


def test_openlineage_events_outside_the_scope_are_refused(service: RunningService) -> None:
    key = scoped_key(service, "rag/*")
    inside = _openlineage_start("rag", "nightly", "0191f1f0-0000-7000-8000-0000000000a1")
    outside = _openlineage_start("billing", "nightly", "0191f1f0-0000-7000-8000-0000000000a2")
    with client(service, key) as http:
        resp = http.post("/api/v1/lineage", json=[outside, inside])
    assert resp.status_code == 207, resp.text
    body = resp.json()
    assert body["accepted"] == 1
    [rejected] = body["rejected"]
    assert rejected["index"] == 0  # the OpenLineage event as sent
    assert rejected["error"] == (
        "pipeline: 'billing/nightly' is outside this key's write scope (pipelines matching rag/*)"
    )
    assert stored_pipelines(service) == {"rag/nightly"}
    assert rejected["id"] in quarantined(service)


def test_otlp_spans_outside_the_scope_are_a_partial_success(service: RunningService) -> None:
    key = scoped_key(service, "support-*")
    root = hex_span("aaa19b7ec3c1b174", "agent", attrs={"tracegraph.pipeline": "billing-bot"})
    with client(service, key) as http:
        resp = http.post("/v1/traces", json=json_export(root))
    assert resp.status_code == 200, resp.text
    partial = resp.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 1
    assert "'billing-bot' is outside this key's write scope" in partial["errorMessage"]
    assert stored_pipelines(service) == set()
    assert any(
        e["reason"].startswith("pipeline: 'billing-bot' is outside")
        for e in quarantined(service).values()
    )

    inside = hex_span("aaa19b7ec3c1b175", "agent", attrs={"tracegraph.pipeline": "support-bot"})
    with client(service, key) as http:
        resp = http.post("/v1/traces", json=json_export(inside))
    assert resp.status_code == 200 and resp.json() == {}
    assert stored_pipelines(service) == {"support-bot"}


def test_scopes_are_listed_and_bad_scopes_refused(service: RunningService) -> None:
    scoped_key(service, "rag-*")
    listed = gql(service, "{ apiKeys { name role scopes } }")["data"]["apiKeys"]
    by_scope = {k["name"]: k["scopes"] for k in listed}
    assert ["rag-*"] in by_scope.values()
    assert None in by_scope.values()  # the test's own unscoped admin key

    for scopes, role, message in [
        (["rag nightly"], "ingester", "scope 'rag nightly': ' ' cannot occur in a pipeline name"),
        ([], "ingester", "a write scope needs at least one pattern"),
        (["rag-*"], "viewer", "a write scope limits what a key may ingest"),
    ]:
        body = gql(service, CREATE_KEY, n=unique("bad"), r=role, s=scopes)
        [error] = body["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert message in error["message"], error


def test_cli_creates_and_lists_scoped_keys(
    service: RunningService, neo4j_settings: Neo4jSettings
) -> None:
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
        "COLUMNS": "250",
    }
    name = unique("cli-scoped")
    cli = [sys.executable, "-m", "tracegraph.cli.main", "keys"]
    made = subprocess.run(
        [*cli, "create", "--role", "ingester", "--name", name, "--scope", "rag-*", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()

    listed = subprocess.run([*cli, "list"], env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    [row] = [line for line in listed.stdout.splitlines() if name in line]
    assert "rag-*" in row

    with client(service, key) as http:
        resp = http.post("/v1/events", json=[log_event(unique("eval-"), 0)])
    assert resp.status_code == 207 and "outside this key's write scope" in resp.text

    bad = subprocess.run(
        [*cli, "create", "--role", "ingester", "--name", unique("x"), "--scope", "a b"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "cannot occur in a pipeline name" in bad.stderr


def run_state(service: RunningService, run: str) -> dict[str, Any]:
    body = gql(service, "query($r: ID!) { run(id: $r) { status pipeline { name } } }", r=run)
    assert "errors" not in body, body
    found = body["data"]["run"]
    return {"status": found["status"], "pipeline": found["pipeline"]["name"]}


def test_a_scoped_key_cannot_write_to_a_run_of_a_pipeline_outside_its_scope(
    service: RunningService,
) -> None:
    """The scope is checked against the pipeline a run belongs to, not only the one the
    event claims: a ``rag-*`` key naming a billing run fails neither the run nor moves it."""
    billing, billing_run = unique("billing-"), unique("run")
    with service.client("ingester") as http:
        resp = http.post("/v1/events", json=[run_event(billing, billing_run, "started")])
    assert resp.status_code == 200, resp.text

    key = scoped_key(service, "rag-*")
    claimed = unique("rag-")
    failed = run_event(claimed, billing_run, "failed", error="hijacked")
    step = {
        "id": unique("step"),
        "type": "step.started",
        "time": "2026-11-20T02:01:00Z",
        "source": "test/live",
        "pipeline": claimed,
        "run": billing_run,
        "step": "embed",
        "data": {},
    }
    own_run = unique("run")
    inside = run_event(claimed, own_run, "started")  # a new run: stored
    with client(service, key) as http:
        resp = http.post("/v1/events", json=[failed, step, inside])

    assert resp.status_code == 207, resp.text
    body = resp.json()
    assert body["accepted"] == 1
    reason = (
        f"run: {billing_run!r} belongs to pipeline {billing!r}, "
        "outside this key's write scope (pipelines matching rag-*)"
    )
    assert body["rejected"] == [
        {"index": 0, "id": failed["id"], "error": reason},
        {"index": 1, "id": step["id"], "error": reason},
    ]
    assert run_state(service, billing_run) == {"status": "RUNNING", "pipeline": billing}
    assert run_state(service, own_run) == {"status": "RUNNING", "pipeline": claimed}
    entries = quarantined(service)
    assert entries[failed["id"]]["reason"] == reason
    assert step["id"] in entries


def test_a_scoped_key_cannot_move_a_run_between_pipelines_of_its_scope(
    service: RunningService,
) -> None:
    key = scoped_key(service, "rag-*")
    first, other, run = unique("rag-"), unique("rag-"), unique("run")
    with client(service, key) as http:
        assert http.post("/v1/events", json=[run_event(first, run, "started")]).status_code == 200
        resp = http.post("/v1/events", json=[run_event(other, run, "completed")])
    assert resp.status_code == 207, resp.text
    [rejected] = resp.json()["rejected"]
    assert rejected["error"] == (f"run: {run!r} belongs to pipeline {first!r}, not {other!r}")
    assert run_state(service, run) == {"status": "RUNNING", "pipeline": first}
