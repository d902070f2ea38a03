"""GraphQL queries on the example stream, through a real client over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportQueryError
from gql.transport.httpx import HTTPXTransport

from tests.conftest import RunningService

RUN = "run-rag-0001"


def client_for(service: RunningService) -> Client:
    return Client(
        transport=HTTPXTransport(
            url=f"{service.base_url}/graphql", headers=service.headers(), timeout=60
        ),
        fetch_schema_from_transport=False,
    )


@pytest.fixture
def example(service: RunningService, example_events: list[dict]) -> Iterator[Client]:
    with service.client() as http:
        assert http.post("/v1/events", json=example_events).status_code == 200
    with client_for(service) as session:
        yield session  # type: ignore[misc]


def q(session, text: str, **variables):  # type: ignore[no-untyped-def]
    return session.execute(gql(text), variable_values=variables or None)


def test_overview_and_events(example) -> None:  # type: ignore[no-untyped-def]
    o = q(example, "{ overview { activeRuns tokensToday costTodayUsd healthy lastSeq } }")
    assert o["overview"]["healthy"] is True
    assert o["overview"]["lastSeq"] == 41
    assert o["overview"]["activeRuns"] == 0
    ev = q(example, "{ events(afterSeq: 0, first: 5) { seq id type time pipeline run step data } }")
    assert [e["seq"] for e in ev["events"]] == [1, 2, 3, 4, 5]
    assert ev["events"][0]["type"] == "pipeline.defined"
    assert ev["events"][0]["time"].endswith("Z")
    all_events = q(example, "query($r: ID) { events(first: 500, run: $r) { seq } }", r=RUN)
    assert 30 < len(all_events["events"]) <= 41
    after = q(example, "{ events(afterSeq: 40) { seq } }")
    assert [e["seq"] for e in after["events"]] == [41]


def test_run_detail(example) -> None:  # type: ignore[no-untyped-def]
    data = q(
        example,
        """query($id: ID!) { run(id: $id) {
            id status startedAt endedAt durationMs inputTokens outputTokens costUsd
            costEstimated error pipeline { name owner { id kind name } sla { id } }
            steps { id attempt status tokensUsed tokenBudget provider model error
              step { id key dependsOn { id } owner { id } sla { id maxTokens } }
              llmCalls { id provider model promptTemplate promptVersion prompt response
                         inputTokens outputTokens latencyMs costUsd }
              reads { id uri version } writes { id uri version } } } }""",
        id=RUN,
    )
    run = data["run"]
    assert run["status"] == "SUCCEEDED"
    assert run["durationMs"] == 534_700
    assert run["inputTokens"] == 122 and run["outputTokens"] == 4
    assert run["costEstimated"] is False
    assert run["pipeline"]["name"] == "rag-nightly"
    assert run["pipeline"]["owner"]["id"] == "team:search"
    steps = {s["id"]: s for s in run["steps"]}
    assert len(steps) == 6
    assert steps[f"{RUN}/embed#1"]["status"] == "FAILED"
    assert steps[f"{RUN}/embed#1"]["error"] == "429 Too Many Requests"
    assert steps[f"{RUN}/embed#2"]["tokensUsed"] == 23_950_000
    calls = [c for s in run["steps"] for c in s["llmCalls"]]
    assert len(calls) == 2 and all(c["promptTemplate"] for c in calls)
    assert sum(len(s["reads"]) for s in run["steps"]) >= 6
    assert q(example, '{ run(id: "nope") { id } }') == {"run": None}


def test_pipeline_and_connections(example) -> None:  # type: ignore[no-untyped-def]
    data = q(
        example,
        """{ pipeline(name: "rag-nightly") { name version owner { id } sla { id }
              steps { id key dependsOn { key } } runs(first: 5) { id status } } }""",
    )
    p = data["pipeline"]
    assert p["name"] == "rag-nightly"
    assert len(p["steps"]) == 5
    assert [r["id"] for r in p["runs"]] == [RUN]
    order = [s["key"] for s in p["steps"]]
    for s in p["steps"]:  # upstream first
        assert all(order.index(d["key"]) < order.index(s["key"]) for d in s["dependsOn"])
    assert q(example, '{ pipeline(name: "nope") { name } }') == {"pipeline": None}
    conn = q(
        example,
        "{ pipelines { edges { cursor node { name } } pageInfo { hasNextPage endCursor } } }",
    )
    assert [e["node"]["name"] for e in conn["pipelines"]["edges"]] == ["rag-nightly"]
    assert conn["pipelines"]["pageInfo"]["hasNextPage"] is False
    runs = q(
        example,
        """{ runs(pipeline: "rag-nightly", status: SUCCEEDED) {
              edges { node { id steps { id } } } pageInfo { hasNextPage } } }""",
    )
    assert [e["node"]["id"] for e in runs["runs"]["edges"]] == [RUN]
    assert q(example, "{ runs(status: FAILED) { edges { cursor } } }")["runs"]["edges"] == []


def test_lineage_on_example(example) -> None:  # type: ignore[no-untyped-def]
    text = """query($uri: String!, $v: String, $d: Direction, $depth: Int) {
        lineage(uri: $uri, version: $v, direction: $d, depth: $depth) {
          root { id kind key label depth } nodes { id kind depth }
          edges { from to kind via } truncated } }"""
    up = q(example, text, uri="s3://support/eval-reports", d="UPSTREAM", depth=10)["lineage"]
    assert up["root"]["kind"] == "ARTIFACT"
    ids = {n["id"] for n in up["nodes"]}
    assert "s3://support/raw-docs@2026-11-19" in ids
    assert all(e["kind"] in {"OBSERVED", "INFERRED", "VERSION_OF"} for e in up["edges"])
    assert up["truncated"] is False
    down = q(example, text, uri="s3://support/raw-docs", v="2026-11-19", d="DOWNSTREAM", depth=1)[
        "lineage"
    ]
    assert down["root"] == {
        "id": "s3://support/raw-docs@2026-11-19",
        "kind": "ARTIFACT_VERSION",
        "key": "s3://support/raw-docs@2026-11-19",
        "label": "s3://support/raw-docs @ 2026-11-19",
        "depth": 0,
    }
    raw = "s3://support/raw-docs@2026-11-19"
    # fetch-docs read raw and wrote clean (observed); every later step of the run depends
    # on fetch-docs, so what they wrote derives from raw too (inferred, via the run).
    assert {(e["to"], e["kind"], e["via"]) for e in down["edges"] if e["from"] == raw} == {
        ("s3://support/clean-docs@2026-11-20", "OBSERVED", f"{RUN}/fetch-docs#1"),
        ("s3://support/chunks@2026-11-20", "INFERRED", RUN),
        ("s3://support/embeddings@2026-11-20", "INFERRED", RUN),
        ("vector://support-docs@2026-11-20", "INFERRED", RUN),
        ("s3://support/eval-reports@2026-11-20", "INFERRED", RUN),
    }
    observed = text.replace("depth: $depth)", "depth: $depth, observedOnly: true)")
    down = q(
        example, observed, uri="s3://support/raw-docs", v="2026-11-19", d="DOWNSTREAM", depth=1
    )["lineage"]
    assert [(e["from"], e["to"], e["kind"], e["via"]) for e in down["edges"]] == [
        (raw, "s3://support/clean-docs@2026-11-20", "OBSERVED", f"{RUN}/fetch-docs#1")
    ]


@pytest.mark.parametrize(
    "text, message",
    [
        ('{ lineage(uri: "s3://nope") { truncated } }', "unknown artifact uri"),
        ('{ lineage(uri: "s3://support/raw-docs", version: "x") { truncated } }', "no version"),
        ('{ lineage(uri: "s3://support/raw-docs", depth: -1) { truncated } }', "depth must be"),
        ('{ impact(kind: MODEL, key: "nope/nope") { truncated } }', "unknown MODEL"),
        ('{ impact(kind: RUN, key: "r", depth: -3) { truncated } }', "depth must be"),
        ('{ impact(kind: SLA, key: "x") { truncated } }', "impact roots are"),
        ("{ runs(first: -1) { edges { cursor } } }", "first must be"),
        ('{ runs(after: "!!") { edges { cursor } } }', "invalid cursor"),
    ],
)
def test_clear_errors(example, text: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TransportQueryError) as err:
        q(example, text)
    assert message in str(err.value)


def test_graphiql_on_get(service: RunningService) -> None:
    with service.client() as http:
        resp = http.get("/graphql", headers={"Accept": "text/html"})
    assert resp.status_code == 200
    assert "graphiql" in resp.text.lower()


def test_events_carry_the_step_attempt(example) -> None:  # type: ignore[no-untyped-def]
    # A client that follows step runs live (the dashboard) keys them by attempt: without
    # it a retry's step.started would land on the failed first attempt.
    ev = q(example, "{ events(afterSeq: 12, first: 12) { seq type step attempt } }")
    by_seq = {e["seq"]: (e["type"], e["step"], e["attempt"]) for e in ev["events"]}
    assert by_seq[18] == ("step.failed", "embed", 1)
    assert by_seq[19] == ("step.started", "embed", 2)
    assert by_seq[24] == ("step.started", "index", 1)  # a step event without one: attempt 1
    plain = q(example, "{ events(afterSeq: 0, first: 3) { seq attempt } }")
    assert [e["attempt"] for e in plain["events"]] == [None, None, None]  # not about a step
