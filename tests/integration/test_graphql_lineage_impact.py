"""Lineage and impact through GraphQL, checked against a networkx ground truth."""

from __future__ import annotations

import itertools
import random

import networkx as nx
import pytest
from gql import gql
from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_graphql_queries import client_for
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.store.cypher_files import cypher

LINEAGE = gql(
    """query($uri: String!, $v: String, $d: Direction, $depth: Int) {
      lineage(uri: $uri, version: $v, direction: $d, depth: $depth) {
        root { id kind } nodes { id kind depth } edges { from to kind via } truncated } }"""
)
IMPACT = gql(
    """query($kind: NodeKind!, $key: String!, $depth: Int) {
      impact(kind: $kind, key: $key, depth: $depth) {
        root { id kind key } artifacts { id } steps { id } pipelines { name } runs { id }
        owners { id } slas { id } paths truncated } }"""
)


def snapshot(driver: Driver) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for rec in driver.execute_query(cypher("graph_snapshot_relationships")).records:
        a, b = (rec["from_label"], rec["from_key"]), (rec["to_label"], rec["to_key"])
        g.add_edge(a, b, key=rec["type"])
    return g


def out(g: nx.MultiDiGraph, n: tuple, rel: str, label: str | None = None) -> set:
    return {
        b for _, b, k in g.out_edges(n, keys=True) if k == rel and (label is None or b[0] == label)
    }


def into(g: nx.MultiDiGraph, n: tuple, rel: str, label: str | None = None) -> set:
    return {
        a for a, _, k in g.in_edges(n, keys=True) if k == rel and (label is None or a[0] == label)
    }


def derived(g: nx.MultiDiGraph) -> nx.DiGraph:
    """Artifact-version data flow: A -> B via x when x READ A and WROTE B."""
    d = nx.DiGraph()
    for x in [n for n in g if n[0] in ("StepRun", "Run")]:
        for a in out(g, x, "READ"):
            for b in out(g, x, "WROTE"):
                d.add_edge(a[1], b[1])
                d.edges[a[1], b[1]].setdefault("via", set()).add(x[1])
    return d


def inferred(g: nx.MultiDiGraph) -> dict[tuple[str, str], set[str]]:
    """Inferred lineage from the snapshot's observed facts alone: inside a run, when
    step run B's step depends (networkx descendants of the DEPENDS_ON graph) on step run
    A's, every version A read or wrote -> every version B wrote; {(a, b): {runs}}."""
    dag = nx.DiGraph([(b, a) for a, b, k in g.edges(keys=True) if k == "DEPENDS_ON"])
    out_edges: dict[tuple[str, str], set[str]] = {}
    for run in [n for n in g if n[0] == "Run"]:
        srs = out(g, run, "HAS", "StepRun")
        for sa in srs:
            for sb in srs:
                [step_a], [step_b] = out(g, sa, "OF", "Step"), out(g, sb, "OF", "Step")
                if step_a not in dag or step_b not in nx.descendants(dag, step_a):
                    continue
                for x in out(g, sa, "READ") | out(g, sa, "WROTE"):
                    for y in out(g, sb, "WROTE"):
                        if x != y:
                            out_edges.setdefault((x[1], y[1]), set()).add(run[1])
    return out_edges


def expected_impact(g: nx.MultiDiGraph, root: tuple, depth: int) -> dict[str, set]:
    # seeds as the structural expansion does it, then 2*depth half-steps of data flow
    frontier = {root}
    seen = {root}
    for _ in range(4):
        nxt = set()
        for f in frontier:
            lab = f[0]
            if lab == "Owner":
                nxt |= {
                    x for x in into(g, f, "OWNED_BY") if x[0] in ("Pipeline", "Step", "Artifact")
                }
            if lab == "Pipeline":
                nxt |= out(g, f, "HAS_STEP", "Step") | into(g, f, "OF", "Run")
            if lab == "Step":
                nxt |= into(g, f, "OF", "StepRun")
            if lab == "Run":
                nxt |= out(g, f, "HAS", "StepRun")
            if lab == "Artifact":
                nxt |= into(g, f, "VERSION_OF")
            if lab in ("PromptVersion", "Model"):
                nxt |= into(g, f, "USED_PROMPT") | into(g, f, "USED_MODEL")
            if lab == "LLMCall":
                nxt |= into(g, f, "MADE")
        frontier = nxt - seen
        seen |= frontier
    frontier = set(seen)
    flows = inferred(g)
    for _ in range(2 * depth):
        nxt = set()
        for f in frontier:
            if f[0] == "ArtifactVersion":
                nxt |= into(g, f, "READ")
                nxt |= {("ArtifactVersion", b) for a, b in flows if a == f[1]}
            if f[0] in ("StepRun", "Run"):
                nxt |= out(g, f, "WROTE", "ArtifactVersion")
        frontier = nxt - seen
        seen |= frontier
    srs = {n for n in seen if n[0] == "StepRun"}
    steps = {n for n in seen if n[0] == "Step"} | {
        s for sr in srs for s in out(g, sr, "OF", "Step")
    }
    dag = nx.DiGraph([(b, a) for a, b, k in g.edges(keys=True) if k == "DEPENDS_ON"])
    steps |= {d for s in set(steps) if s in dag for d in nx.descendants(dag, s)}
    runs = {n for n in seen if n[0] == "Run"} | {r for sr in srs for r in into(g, sr, "HAS", "Run")}
    pipes = {n for n in seen if n[0] == "Pipeline"}
    pipes |= {p for s in steps for p in into(g, s, "HAS_STEP")}
    pipes |= {p for r in runs for p in out(g, r, "OF", "Pipeline")}
    avs = {n for n in seen if n[0] == "ArtifactVersion"}
    arts = {n for n in seen if n[0] == "Artifact"} | {
        a for v in avs for a in out(g, v, "VERSION_OF")
    }
    owners = {o for x in pipes | steps | arts for o in out(g, x, "OWNED_BY")}
    slas = {s for x in pipes | steps for s in out(g, x, "GOVERNED_BY")}

    def keys(nodes: set) -> set:
        return {n[1] for n in nodes if n != root}

    return {
        "artifacts": keys(avs),
        "steps": keys(steps),
        "pipelines": keys(pipes),
        "runs": keys(runs),
        "owners": keys(owners),
        "slas": keys(slas),
    }


def actual_impact(result: dict) -> dict[str, set]:
    i = result["impact"]
    return {
        "artifacts": {x["id"] for x in i["artifacts"]},
        "steps": {x["id"] for x in i["steps"]},
        "pipelines": {x["name"] for x in i["pipelines"]},
        "runs": {x["id"] for x in i["runs"]},
        "owners": {x["id"] for x in i["owners"]},
        "slas": {x["id"] for x in i["slas"]},
    }


def check_paths(g: nx.MultiDiGraph, result: dict, root_key: str) -> None:
    undirected = nx.Graph()
    undirected.add_edges_from((a[1], b[1]) for a, b in g.edges())
    i = result["impact"]
    affected = (
        [x["id"] for x in i["artifacts"]]
        + [x["id"] for x in i["steps"]]
        + [x["name"] for x in i["pipelines"]]
        + [x["id"] for x in i["runs"]]
        + [x["id"] for x in i["owners"]]
        + [x["id"] for x in i["slas"]]
    )
    assert len(i["paths"]) == len(affected)
    for node, path in zip(affected, i["paths"], strict=True):
        assert path[0] == root_key and path[-1] == node
        for a, b in itertools.pairwise(path):
            assert undirected.has_edge(a, b), (a, b, path)


def check_lineage(
    g: nx.MultiDiGraph, session, uri_version: str, downstream: bool, depth: int
) -> None:  # type: ignore[no-untyped-def]
    uri, version = uri_version.rsplit("@", 1)
    res = session.execute(
        LINEAGE,
        variable_values={
            "uri": uri,
            "v": version,
            "d": "DOWNSTREAM" if downstream else "UPSTREAM",
            "depth": depth,
        },
    )["lineage"]
    d = derived(g)
    for (a, b), runs in inferred(g).items():
        d.add_edge(a, b)
        d.edges[a, b].setdefault("inferred", set()).update(runs)
    if not downstream:
        d = d.reverse(copy=True)
    dist = (
        nx.single_source_shortest_path_length(d, uri_version, cutoff=depth)
        if uri_version in d
        else {uri_version: 0}
    )
    assert {n["id"]: n["depth"] for n in res["nodes"]} == dist
    want_edges = set()
    for a, b in d.edges():
        if a in dist and dist[a] < depth and b in dist:
            observed = d.edges[a, b].get("via", set())
            # an inferred edge is left out where an observed one links the same versions
            vias = [(via, "OBSERVED") for via in observed] + [
                (run, "INFERRED") for run in d.edges[a, b].get("inferred", ()) if not observed
            ]
            for via, kind in vias:
                want_edges.add((b, a, via, kind) if not downstream else (a, b, via, kind))
    got = {(e["from"], e["to"], e["via"], e["kind"]) for e in res["edges"]}
    assert got == want_edges


@pytest.fixture
def example_graph(service: RunningService, example_events: list[dict], clean_graph: Driver):  # type: ignore[no-untyped-def]
    with service.client() as http:
        assert http.post("/v1/events", json=example_events).status_code == 200
    with client_for(service) as session:
        yield snapshot(clean_graph), session


ROOTS = [
    ("ARTIFACT_VERSION", "s3://support/raw-docs@2026-11-19"),
    ("ARTIFACT", "s3://support/chunks"),
    ("STEP", "rag-nightly/chunk"),
    ("PIPELINE", "rag-nightly"),
    ("RUN", "run-rag-0001"),
    ("OWNER", "team:data-platform"),
]


def test_impact_on_example(example_graph) -> None:  # type: ignore[no-untyped-def]
    g, session = example_graph
    roots = list(ROOTS)
    roots += [("PROMPT_VERSION", n[1]) for n in g if n[0] == "PromptVersion"]
    roots += [("MODEL", n[1]) for n in g if n[0] == "Model"]
    for kind, key in roots:
        label = {"ARTIFACT_VERSION": "ArtifactVersion", "PROMPT_VERSION": "PromptVersion"}.get(
            kind, kind.title()
        )
        res = session.execute(IMPACT, variable_values={"kind": kind, "key": key, "depth": 10})
        assert res["impact"]["root"]["key"] == key
        assert actual_impact(res) == expected_impact(g, (label, key), 10), (kind, key)
        check_paths(g, res, key)
    raw = session.execute(
        IMPACT, variable_values={"kind": "ARTIFACT_VERSION", "key": ROOTS[0][1], "depth": 10}
    )["impact"]
    assert "vector://support-docs@2026-11-20" in {a["id"] for a in raw["artifacts"]}
    assert "team:search" in {o["id"] for o in raw["owners"]}


def test_lineage_on_example_matches_networkx(example_graph) -> None:  # type: ignore[no-untyped-def]
    g, session = example_graph
    for n in [n for n in g if n[0] == "ArtifactVersion"]:
        for downstream in (True, False):
            for depth in (0, 1, 3, 10):
                check_lineage(g, session, n[1], downstream, depth)


def test_generated_workload_matches_networkx(
    make_service,
    clean_graph: Driver,  # type: ignore[no-untyped-def]
) -> None:
    service = make_service()
    events = WorkloadGenerator(seed=11).events(3000)
    with service.client() as http:
        for i in range(0, len(events), 1000):
            assert http.post("/v1/events", json=events[i : i + 1000]).status_code == 200
    g = snapshot(clean_graph)
    rng = random.Random(3)
    avs = sorted(n for n in g if n[0] == "ArtifactVersion")
    with client_for(service) as session:
        for av in rng.sample(avs, min(8, len(avs))):
            check_lineage(g, session, av[1], True, 4)
            check_lineage(g, session, av[1], False, 4)
            res = session.execute(
                IMPACT, variable_values={"kind": "ARTIFACT_VERSION", "key": av[1], "depth": 3}
            )
            assert actual_impact(res) == expected_impact(g, av, 3)
            check_paths(g, res, av[1])
        for kind, label in (
            ("MODEL", "Model"),
            ("STEP", "Step"),
            ("PROMPT_VERSION", "PromptVersion"),
        ):
            nodes = sorted(n for n in g if n[0] == label)
            for node in rng.sample(nodes, min(2, len(nodes))):
                res = session.execute(
                    IMPACT, variable_values={"kind": kind, "key": node[1], "depth": 2}
                )
                assert actual_impact(res) == expected_impact(g, node, 2), (kind, node)
                check_paths(g, res, node[1])


def test_depth_cap_and_node_limit(
    make_service, clean_graph: Driver, example_events: list[dict]
) -> None:  # type: ignore[no-untyped-def]
    service = make_service(lineage_max_depth=1, lineage_max_nodes=2)
    with service.client() as http:
        assert http.post("/v1/events", json=example_events).status_code == 200
    with client_for(service) as session:
        res = session.execute(
            LINEAGE,
            variable_values={
                "uri": "s3://support/raw-docs",
                "v": "2026-11-19",
                "d": "DOWNSTREAM",
                "depth": 10,
            },
        )["lineage"]
        assert res["truncated"] is True
        assert len(res["nodes"]) <= 2
        assert max(n["depth"] for n in res["nodes"]) <= 1


FIELD_LINEAGE = gql(
    """query($uri: String!, $f: String) {
      lineage(uri: $uri, direction: UPSTREAM, depth: 6, field: $f) {
        nodes { id kind key label } edges { from to kind } } }"""
)


def test_the_demos_eval_report_reaches_its_sources_through_steps_and_columns(
    make_service,
    clean_graph: Driver,  # type: ignore[no-untyped-def]
) -> None:
    # Issue 22's "tried as a new user would", on what `make demo` sends: the report's
    # upstream reaches the golden set (read two steps earlier: inferred lineage), and the
    # scores' verdict column names the fields it was computed from.
    service = make_service()
    gen = WorkloadGenerator(seed=5)
    events = gen.definitions() + gen.run_events("eval-suite", fail_rate=0)
    with service.client() as http:
        assert http.post("/v1/events", json=events).status_code == 200
    with client_for(service) as session:
        report = session.execute(
            LINEAGE,
            variable_values={"uri": "s3://evals/reports/eval-suite.html", "depth": 6},
        )["lineage"]
        keys = {n["id"]: n for n in report["nodes"]}
        assert any("golden-questions" in i for i in keys), sorted(keys)
        assert any(e["kind"] == "INFERRED" for e in report["edges"])
        verdict = session.execute(
            FIELD_LINEAGE,
            variable_values={"uri": "postgres://analytics/public.eval_scores", "f": "verdict"},
        )["lineage"]
        sources = {n["label"] for n in verdict["nodes"]}
        assert any("candidate-answers" in s and "answer" in s for s in sources), sources
        assert any("golden-questions" in s and "reference_answer" in s for s in sources), sources
        question = session.execute(
            FIELD_LINEAGE,
            variable_values={"uri": "postgres://analytics/public.eval_scores", "f": "question"},
        )["lineage"]
        # Two hops: scores.question <- candidate-answers.question <- golden-questions.question
        labels = {n["label"] for n in question["nodes"]}
        assert any("golden-questions" in s and "question" in s for s in labels), labels
