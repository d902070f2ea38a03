"""The example stream gives exactly the graph the contract describes."""

from __future__ import annotations

from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.graph import counts

EXPECTED_LABELS = {
    "Pipeline": 1,
    "Step": 5,
    "Run": 1,
    "StepRun": 6,  # embed has two attempts
    "LLMCall": 2,
    "PromptVersion": 1,
    "Model": 1,
    "Artifact": 7,
    "ArtifactVersion": 7,
    "Owner": 3,  # team:search, team:data-platform, user:ana@example.com
    "SLA": 3,  # the pipeline's, embed's, eval's
    "Event": 41,
}
EXPECTED_RELATIONSHIPS = {
    "HAS_STEP": 5,
    "DEPENDS_ON": 4,
    "OF": 7,  # run -> pipeline, 6 step runs -> steps
    "HAS": 6,
    "MADE": 2,
    "USED_PROMPT": 2,
    "USED_MODEL": 2,
    "READ": 7,
    "WROTE": 5,
    "VERSION_OF": 7,
    "OWNED_BY": 4,  # pipeline, fetch-docs, eval, vector://support-docs
    "GOVERNED_BY": 3,
    "ABOUT": 41,
    # inferred lineage (docs/lineage.md): each step's transitive dependencies in a chain of
    # five (4 + 3 + 2 + 1), and what later steps wrote from what earlier ones touched
    "DEPENDS_TRANSITIVELY": 10,
    "INFERRED_FLOW": 14,
}


def test_example_stream_gives_the_expected_graph(
    service: RunningService, example_events: list[dict], clean_graph: Driver
) -> None:
    with service.client() as client:
        resp = client.post("/v1/events", json=example_events)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"accepted": 41, "duplicates": 0, "rejected": [], "last_seq": 41}

    labels, rels = counts(clean_graph)
    labels.pop("Sequence", None)
    # The metric buckets (docs/rollups.md): how many depends on the bucket layout, and
    # test_rollups checks their figures against the exact answers.
    assert labels.pop("Rollup", 0) > 0
    assert labels == EXPECTED_LABELS
    assert rels == EXPECTED_RELATIONSHIPS

    run = fetch(clean_graph, "run_by_id", id="run-rag-0001")[0]["r"]
    steps = {rec["id"]: rec for rec in fetch(clean_graph, "step_runs_of_run", id="run-rag-0001")}
    lineage = {(rec["src"], rec["dst"], rec["via"]) for rec in fetch(clean_graph, "lineage_edges")}
    assert run["status"] == "succeeded"
    assert run["input_tokens"] == 122
    assert run["output_tokens"] == 4
    assert abs(run["cost_usd"] - 0.000426) < 1e-12
    assert run["cost_estimated"] is False
    assert run["duration_ms"] == 534_700  # 02:00:01.200 -> 02:08:55.900
    assert run["trigger"] == "schedule"

    assert steps["run-rag-0001/embed#1"]["status"] == "failed"
    assert steps["run-rag-0001/embed#1"]["error"] == "429 Too Many Requests"
    assert steps["run-rag-0001/embed#2"]["status"] == "succeeded"
    assert steps["run-rag-0001/embed#2"]["tokens"] == 23_950_000
    assert steps["run-rag-0001/eval#1"]["tokens"] == 126
    assert steps["run-rag-0001/fetch-docs#1"]["duration_ms"] == 42_000
    assert all(
        st["status"] == "succeeded" for sid, st in steps.items() if sid != "run-rag-0001/embed#1"
    )

    r = "run-rag-0001"
    assert lineage == {
        (
            "s3://support/raw-docs@2026-11-19",
            "s3://support/clean-docs@2026-11-20",
            f"{r}/fetch-docs#1",
        ),
        ("s3://support/clean-docs@2026-11-20", "s3://support/chunks@2026-11-20", f"{r}/chunk#1"),
        ("s3://support/chunks@2026-11-20", "s3://support/embeddings@2026-11-20", f"{r}/embed#2"),
        ("s3://support/embeddings@2026-11-20", "vector://support-docs@2026-11-20", f"{r}/index#1"),
        ("vector://support-docs@2026-11-20", "s3://support/eval-reports@2026-11-20", f"{r}/eval#1"),
        (
            "s3://support/golden-questions@v12",
            "s3://support/eval-reports@2026-11-20",
            f"{r}/eval#1",
        ),
    }
    # The report's raw source, inferred through the steps that fed it (docs/lineage.md).
    inferred = {(rec["src"], rec["dst"]): rec for rec in fetch(clean_graph, "inferred_edges")}
    raw_to_report = inferred[
        ("s3://support/raw-docs@2026-11-19", "s3://support/eval-reports@2026-11-20")
    ]
    assert raw_to_report["run"] == r
    assert raw_to_report["path"] == ["fetch-docs", "chunk", "embed", "index", "eval"]
