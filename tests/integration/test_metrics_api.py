"""Metrics over GraphQL checked against figures computed by hand from rag-nightly.json.

The example: one run (02:00:01.2 → 02:08:55.9, succeeded, 534,700 ms), six step runs
(fetch-docs 42 s, chunk 65 s, embed#1 125 s failed, embed#2 240 s, index 31 s, eval
1.2 s), 41 events, two judge calls (61 in / 2 out tokens, 612 ms, $0.000213 each).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import RunningService

FROM, TO = "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z"

POINT = """
  start end runs runsSucceeded runsFailed runDurationP50Ms stepRuns stepRunsSucceeded
  stepRunsFailed stepDurationP50Ms stepDurationP99Ms errorRate events llmCalls llmCallErrors
  latencyP50Ms latencyP95Ms latencyP99Ms inputTokens outputTokens costUsd estimatedCostUsd
  estimatedCostShare
"""
METRICS = f"""
query M($from: DateTime!, $to: DateTime!, $pipeline: String, $step: String,
        $provider: String, $model: String, $bucket: Int!) {{
  metrics(from: $from, to: $to, pipeline: $pipeline, step: $step, provider: $provider,
          model: $model, bucketSeconds: $bucket) {{
    bucketSeconds
    totals {{ {POINT} }}
    series {{ {POINT} }}
  }}
}}
"""


# The rollups' sketch: a percentile within 1 % of the exact one.
SKETCH = 0.01


def metrics(service: RunningService, **variables: Any) -> dict[str, Any]:
    variables = {"from": FROM, "to": TO, "bucket": 3600, **variables}
    with service.client() as c:
        body = c.post("/graphql", json={"query": METRICS, "variables": variables}).json()
    assert "errors" not in body, body
    return body["data"]["metrics"]  # type: ignore[no-any-return]


@pytest.fixture
def loaded(service: RunningService, example_events: list[dict]) -> RunningService:
    with service.client() as c:
        assert c.post("/v1/events", json=example_events).status_code == 200
    return service


def test_pipeline_totals_and_series(loaded: RunningService) -> None:
    m = metrics(loaded, pipeline="rag-nightly")
    t = m["totals"]
    assert (t["runs"], t["runsSucceeded"], t["runsFailed"]) == (1, 1, 0)
    assert t["runDurationP50Ms"] == pytest.approx(534_700, rel=SKETCH)
    assert (t["stepRuns"], t["stepRunsSucceeded"], t["stepRunsFailed"]) == (6, 5, 1)
    assert t["errorRate"] == pytest.approx(1 / 6)
    # percentileDisc over [1200, 31000, 42000, 65000, 125000, 240000]
    assert t["stepDurationP50Ms"] == pytest.approx(42_000, rel=SKETCH)
    assert t["stepDurationP99Ms"] == pytest.approx(240_000, rel=SKETCH)
    assert t["events"] == 41
    assert (t["llmCalls"], t["llmCallErrors"]) == (2, 0)
    assert t["latencyP50Ms"] == t["latencyP95Ms"] == t["latencyP99Ms"]
    assert t["latencyP50Ms"] == pytest.approx(612, rel=SKETCH)
    assert (t["inputTokens"], t["outputTokens"]) == (122, 4)
    assert t["costUsd"] == pytest.approx(0.000426)
    assert t["estimatedCostUsd"] == 0 and t["estimatedCostShare"] == 0

    series = m["series"]
    assert len(series) == 24 and m["bucketSeconds"] == 3600
    assert (
        series[2]["start"] == "2026-11-20T02:00:00Z" and series[2]["end"] == "2026-11-20T03:00:00Z"
    )
    busy = [p for p in series if p["stepRuns"]]
    assert busy == [series[2]]
    assert series[2]["stepRuns"] == 6 and series[2]["costUsd"] == pytest.approx(0.000426)
    assert series[3]["runs"] == 0 and series[3]["latencyP50Ms"] is None


def test_series_and_totals_alone_with_fragments_and_aliases(loaded: RunningService) -> None:
    """Series and totals share one read; each alone, through fragments and aliases, the
    figures are the same, and percentiles are filled exactly where selected."""
    both = metrics(loaded, pipeline="rag-nightly")
    variables = {"from": FROM, "to": TO, "p": "rag-nightly"}
    queries = {
        "totals only": """query($from: DateTime!, $to: DateTime!, $p: String) {
            metrics(from: $from, to: $to, pipeline: $p) { totals { stepRuns latencyP95Ms } } }""",
        "series only": """query($from: DateTime!, $to: DateTime!, $p: String) {
            metrics(from: $from, to: $to, pipeline: $p) { series { stepRuns latencyP95Ms } } }""",
        "fragment": """query($from: DateTime!, $to: DateTime!, $p: String) {
            metrics(from: $from, to: $to, pipeline: $p) { ...M } }
            fragment M on Metrics { series { stepRuns latencyP95Ms } totals { ...P } }
            fragment P on MetricPoint { stepRuns latencyP95Ms }""",
        "aliases": """query($from: DateTime!, $to: DateTime!, $p: String) {
            metrics(from: $from, to: $to, pipeline: $p) {
              a: totals { stepRuns latencyP95Ms } b: series { stepRuns latencyP95Ms } } }""",
        "no percentiles": """query($from: DateTime!, $to: DateTime!, $p: String) {
            metrics(from: $from, to: $to, pipeline: $p) {
              totals { stepRuns costUsd } series { stepRuns } } }""",
    }
    want_totals = {"stepRuns": 6, "latencyP95Ms": both["totals"]["latencyP95Ms"]}
    want_series = [{"stepRuns": p["stepRuns"], "latencyP95Ms": p["latencyP95Ms"]}
                   for p in both["series"]]  # fmt: skip
    assert want_totals["latencyP95Ms"] == pytest.approx(612, rel=SKETCH)
    with loaded.client() as c:
        got = {
            name: c.post("/graphql", json={"query": q, "variables": variables}).json()
            for name, q in queries.items()
        }
    for name, body in got.items():
        assert "errors" not in body, (name, body)
    assert got["totals only"]["data"]["metrics"]["totals"] == want_totals
    assert got["series only"]["data"]["metrics"]["series"] == want_series
    frag = got["fragment"]["data"]["metrics"]
    assert frag["totals"] == want_totals and frag["series"] == want_series
    aliased = got["aliases"]["data"]["metrics"]
    assert aliased["a"] == want_totals and aliased["b"] == want_series
    plain = got["no percentiles"]["data"]["metrics"]
    assert plain["totals"]["stepRuns"] == 6 and plain["totals"]["costUsd"] == pytest.approx(
        0.000426
    )


def test_step_model_and_provider_scopes(loaded: RunningService) -> None:
    embed = metrics(loaded, pipeline="rag-nightly", step="embed")["totals"]
    assert (embed["stepRuns"], embed["stepRunsFailed"], embed["errorRate"]) == (2, 1, 0.5)
    assert embed["runs"] is None and embed["llmCalls"] == 0
    assert embed["events"] == 11  # ev-00013 .. ev-00023 (both attempts, logs included)
    judge = metrics(loaded, provider="anthropic", model="claude-sonnet-4-5")["totals"]
    assert (judge["llmCalls"], judge["inputTokens"], judge["outputTokens"]) == (2, 122, 4)
    assert judge["stepRuns"] == 1 and judge["events"] is None
    openai = metrics(loaded, provider="openai")["totals"]
    assert openai["llmCalls"] == 0 and openai["stepRuns"] == 2
    everything = metrics(loaded, bucket=86_400)
    assert len(everything["series"]) == 1 and everything["totals"]["runs"] == 1


def test_edges_inside_a_minute_read_the_graph_exactly(loaded: RunningService) -> None:
    # Not on whole minutes: the rollups cannot cut there, the graph answers (exact).
    m = metrics(loaded, pipeline="rag-nightly", **{"from": "2026-11-20T00:00:00.5Z"})
    t = m["totals"]
    assert t["runDurationP50Ms"] == 534_700 and t["stepDurationP99Ms"] == 240_000
    assert t["latencyP50Ms"] == 612 and (t["inputTokens"], t["outputTokens"]) == (122, 4)
    assert (t["stepRuns"], t["events"]) == (6, 41)


def test_cost_breakdown_and_model_comparison(loaded: RunningService) -> None:
    q = """
    query($from: DateTime!, $to: DateTime!) {
      byPipeline: costBreakdown(by: PIPELINE, from: $from, to: $to) { key costUsd llmCalls }
      byStep: costBreakdown(by: STEP, from: $from, to: $to) { key costUsd }
      byProvider: costBreakdown(by: PROVIDER, from: $from, to: $to) { key inputTokens }
      models: modelComparison(from: $from, to: $to) {
        key llmCalls errorRate latencyP50Ms latencyP99Ms costUsd estimatedCostShare
      }
    }
    """
    with loaded.client() as c:
        body = c.post("/graphql", json={"query": q, "variables": {"from": FROM, "to": TO}}).json()
    assert "errors" not in body, body
    d = body["data"]
    assert d["byPipeline"] == [
        {"key": "rag-nightly", "costUsd": pytest.approx(0.000426), "llmCalls": 2}
    ]
    assert d["byStep"] == [{"key": "rag-nightly/eval", "costUsd": pytest.approx(0.000426)}]
    assert d["byProvider"] == [{"key": "anthropic", "inputTokens": 122}]
    assert d["models"] == [
        {
            "key": "anthropic/claude-sonnet-4-5",
            "llmCalls": 2,
            "errorRate": 0.0,
            "latencyP50Ms": pytest.approx(612.0, rel=SKETCH),
            "latencyP99Ms": pytest.approx(612.0, rel=SKETCH),
            "costUsd": pytest.approx(0.000426),
            "estimatedCostShare": 0.0,
        }
    ]


def test_estimated_cost_share(service: RunningService, example_events: list[dict]) -> None:
    # Without reported cost the price table estimates it: claude-sonnet-4-5 has no entry,
    # so use a model that has one.
    events = []
    for e in example_events:
        e = {**e, "data": dict(e.get("data") or {})}
        if e["type"] == "response.received":
            e["data"].pop("cost_usd")
        if e["type"] == "prompt.sent":
            e["data"]["provider"], e["data"]["model"] = "openai", "gpt-4o"
        events.append(e)
    with service.client() as c:
        assert c.post("/v1/events", json=events).status_code == 200
    t = metrics(service, pipeline="rag-nightly")["totals"]
    # 2 calls x (61 x 0.0025 + 2 x 0.01) / 1000
    assert t["costUsd"] == pytest.approx(2 * (61 * 0.0025 + 2 * 0.01) / 1000)
    assert t["estimatedCostUsd"] == pytest.approx(t["costUsd"]) and t["estimatedCostShare"] == 1.0


def test_bad_ranges_are_rejected(service: RunningService) -> None:
    with service.client() as c:
        for variables in (
            {"from": TO, "to": FROM, "bucket": 60},
            {"from": FROM, "to": TO, "bucket": 1},
            {"from": FROM, "to": TO, "bucket": 60, "step": "x"},
        ):
            body = c.post("/graphql", json={"query": METRICS, "variables": variables}).json()
            assert body["errors"], variables
