"""The answer builders (api/graphql/views.py): lineage and impact records as collected
from the graph, turned into the contract's answers without any I/O."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tracegraph.api.graphql.types import NodeKind
from tracegraph.api.graphql.views import BadArgument, impact_answer, lineage_graph, node_key
from tracegraph.store.graph_reads import LineageRows


def av(uri: str, version: str) -> dict[str, Any]:
    return {"id": f"{uri}@{version}", "uri": uri, "version": version}


RAW, CLEAN, CHUNKS = av("s3://raw", "1"), av("s3://clean", "1"), av("s3://chunks", "7")


def rows(
    *levels: list[dict[str, Any]],
    edges: Sequence[tuple[str, str, str]] = (),
    more: bool = False,
    inferred: Sequence[dict[str, Any]] = (),
) -> LineageRows:
    return LineageRows(
        artifact={"uri": levels[0][0]["uri"]} if levels and levels[0] else {"uri": "x"},
        levels=list(levels),
        edges=[
            {"from": a, "to": b, "via": via, "kind": "OBSERVED", "path": None}
            for a, b, via in edges
        ]
        + list(inferred),
        more=more,
    )


def ids(graph: Any) -> list[str]:
    return [str(n.id) for n in graph.nodes]


def test_lineage_of_a_version_is_rooted_at_it_with_depths_and_derived_edges() -> None:
    found = rows(
        [CHUNKS],
        [CLEAN],
        [RAW],
        edges=[
            (CLEAN["id"], CHUNKS["id"], "run-2"),
            (RAW["id"], CLEAN["id"], "run-1"),
            (RAW["id"], CLEAN["id"], "run-1"),
        ],  # the same edge twice: once in the answer
    )
    graph = lineage_graph(
        found, "s3://chunks", "7", requested_depth=5, applied_depth=5, max_nodes=100
    )
    assert str(graph.root.id) == CHUNKS["id"]
    assert ids(graph) == [CHUNKS["id"], CLEAN["id"], RAW["id"]]
    assert [n.depth for n in graph.nodes] == [0, 1, 2]
    assert graph.nodes[0].label == "s3://chunks @ 7"
    assert [(str(e.from_), str(e.to), e.kind, str(e.via)) for e in graph.edges] == [
        (CLEAN["id"], CHUNKS["id"], "OBSERVED", "run-2"),
        (RAW["id"], CLEAN["id"], "OBSERVED", "run-1"),
    ]
    assert graph.truncated is False


def test_inferred_edges_carry_their_path_and_give_way_to_observed_ones() -> None:
    def inferred(a: str, b: str) -> dict[str, Any]:
        return {"from": a, "to": b, "via": "run-1", "kind": "INFERRED", "path": ["a", "b"]}

    found = rows(
        [CHUNKS],
        [CLEAN, RAW],
        edges=[(CLEAN["id"], CHUNKS["id"], "run-1/b#1")],
        inferred=[
            inferred(CLEAN["id"], CHUNKS["id"]),  # observed too: left out
            inferred(RAW["id"], CHUNKS["id"]),
            inferred(RAW["id"], CHUNKS["id"]),  # twice: once in the answer
        ],
    )
    graph = lineage_graph(found, "s3://chunks", "7", 5, 5, 100)
    assert [(str(e.from_), e.kind, str(e.via), e.path) for e in graph.edges] == [
        (CLEAN["id"], "OBSERVED", "run-1/b#1", None),
        (RAW["id"], "INFERRED", "run-1", ["a", "b"]),
    ]


def test_lineage_of_an_artifact_roots_at_the_artifact_over_all_its_versions() -> None:
    v1, v2 = av("s3://chunks", "1"), av("s3://chunks", "2")
    graph = lineage_graph(rows([v1, v2]), "s3://chunks", None, 5, 5, 100)
    assert (graph.root.kind, graph.root.key) == (NodeKind.ARTIFACT, "s3://chunks")
    assert ids(graph) == ["s3://chunks", v1["id"], v2["id"]]
    assert [(str(e.from_), e.kind) for e in graph.edges] == [
        (v1["id"], "VERSION_OF"),
        (v2["id"], "VERSION_OF"),
    ]


def test_lineage_cut_at_max_nodes_keeps_only_edges_between_kept_nodes() -> None:
    edges = [(CLEAN["id"], CHUNKS["id"], "r2"), (RAW["id"], CLEAN["id"], "r1")]
    found = rows([CHUNKS], [CLEAN], [RAW], edges=edges)
    graph = lineage_graph(found, "s3://chunks", "7", 5, 5, max_nodes=2)
    assert ids(graph) == [CHUNKS["id"], CLEAN["id"]]
    assert [str(e.from_) for e in graph.edges] == [CLEAN["id"]]
    assert graph.truncated is True


def test_lineage_says_truncated_when_the_depth_cap_cut_it() -> None:
    found = rows([CHUNKS], [CLEAN], more=True)
    assert lineage_graph(found, "s3://chunks", "7", 50, 20, 100).truncated is True
    # More beyond the depth the caller asked for is not a cut: it asked for less.
    assert lineage_graph(found, "s3://chunks", "7", 1, 1, 100).truncated is False


def test_lineage_of_unknown_artifacts_and_versions_is_a_clear_error() -> None:
    unknown = LineageRows(artifact=None, levels=[], edges=[], more=False)
    with pytest.raises(BadArgument, match="unknown artifact uri 's3://nope'"):
        lineage_graph(unknown, "s3://nope", None, 5, 5, 100)
    no_version = LineageRows(artifact={"uri": "s3://raw"}, levels=[[]], edges=[], more=False)
    with pytest.raises(BadArgument, match="artifact 's3://raw' has no version '9'"):
        lineage_graph(no_version, "s3://raw", "9", 5, 5, 100)


def node(eid: str, label: str, **props: Any) -> dict[str, Any]:
    return {"eid": eid, "labels": [label], **props}


def impact_record(**overrides: Any) -> dict[str, Any]:
    """The raw artifact's blast radius: its clean version, the step and run that made
    it, that run's pipeline and owner; one edge more than needed (a longer path)."""
    record: dict[str, Any] = {
        "root": node("e0", "ArtifactVersion", **RAW),
        "flow_nodes": [
            node("e1", "ArtifactVersion", **CLEAN),
            node("e0", "ArtifactVersion", **RAW),
        ],
        "steps": [node("e2", "Step", id="rag/clean", key="clean")],
        "runs": [node("e3", "Run", id="run-1", status="succeeded")],
        "pipelines": [node("e4", "Pipeline", name="rag")],
        "artifacts": [],
        "owners": [node("e5", "Owner", id="team:search")],
        "slas": [node("e9", "SLA", id="pipeline:unrelated")],  # not reachable: left out
        "edges": [
            ("e0", "e2", "READ_BY"),
            ("e2", "e1", "WROTE"),
            ("e0", "e3", "READ_BY"),
            ("e3", "e4", "OF"),
            ("e4", "e5", "OWNED_BY"),
            ("e2", "e4", "IN"),
        ],
        "more": False,
    }
    record.update(overrides)
    return record


def test_impact_lists_what_is_reachable_with_one_shortest_path_each() -> None:
    answer = impact_answer(impact_record(), requested_depth=5, applied_depth=5, max_nodes=100)
    assert (answer.root.kind, answer.root.key) == (NodeKind.ARTIFACT_VERSION, RAW["id"])
    assert [str(a.id) for a in answer.artifacts] == [CLEAN["id"]]  # not the root itself
    assert [str(s.id) for s in answer.steps] == ["rag/clean"]
    assert [str(r.id) for r in answer.runs] == ["run-1"]
    assert [p.name for p in answer.pipelines] == ["rag"]
    assert [str(o.id) for o in answer.owners] == ["team:search"]
    assert answer.slas == []  # nothing leads to it
    paths = [[str(i) for i in p] for p in answer.paths]
    assert paths == [
        [RAW["id"], "rag/clean", CLEAN["id"]],
        [RAW["id"], "rag/clean"],
        [RAW["id"], "rag/clean", "rag"],  # breadth first: the first shortest path found
        [RAW["id"], "run-1"],
        [RAW["id"], "rag/clean", "rag", "team:search"],
    ]
    assert answer.truncated is False


def test_impact_says_truncated_at_the_node_cap_or_the_depth_cap() -> None:
    assert impact_answer(impact_record(), 5, 5, max_nodes=2).truncated is True
    assert impact_answer(impact_record(more=True), 30, 20, 100).truncated is True
    assert impact_answer(impact_record(more=True), 3, 3, 100).truncated is False


def test_node_keys_follow_the_contract() -> None:
    assert node_key({"labels": ["Pipeline"], "name": "rag", "id": "x"}) == "rag"
    assert node_key({"labels": ["Artifact"], "uri": "s3://a", "id": "x"}) == "s3://a"
    assert node_key({"labels": ["Run"], "id": "run-1"}) == "run-1"
