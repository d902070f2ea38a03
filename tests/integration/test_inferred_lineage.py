"""Inferred lineage inside a run (docs/lineage.md), checked against a networkx ground
truth computed from the events alone: generated pipelines with random step DAGs,
random reads and writes, retried attempts, and events sent in shuffled orders (the
definition before or after its runs), through the real service and Neo4j."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import networkx as nx
import pytest
from gql import gql
from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_graphql_queries import client_for
from tests.support.cypher import fetch
from tests.support.graph import rebuild
from tracegraph.settings import Neo4jSettings

LINEAGE = gql(
    """query($uri: String!, $v: String, $d: Direction, $depth: Int, $obs: Boolean) {
      lineage(uri: $uri, version: $v, direction: $d, depth: $depth, observedOnly: $obs) {
        nodes { id depth } edges { from to kind via path } truncated } }"""
)
IMPACT = gql(
    """query($key: String!, $obs: Boolean) {
      impact(kind: ARTIFACT_VERSION, key: $key, depth: 10, observedOnly: $obs) {
        artifacts { id } edges { from to kind via path } } }"""
)

T0 = datetime(2026, 12, 1, tzinfo=UTC)
Edge = tuple[str, str, str]  # (from version id, to version id, run)


class Workload:
    """A pipeline with a random step DAG and runs whose steps read and write random
    artifact versions; some steps are retried (attempt 2 reads and writes too)."""

    def __init__(self, seed: int, pipeline: str, runs: int = 3) -> None:
        rng = random.Random(seed)
        self.pipeline = pipeline
        n = rng.randint(3, 8)
        keys = [f"s{i}" for i in range(n)]
        rng.shuffle(keys)  # keys do not sort in DAG order
        self.depends_on = {
            keys[i]: sorted(rng.sample(keys[:i], rng.randint(0, min(i, 2)))) for i in range(n)
        }
        pool = [f"mem://{pipeline}/d{i}@v{j}" for i in range(6) for j in range(2)]
        self.io: dict[tuple[str, str, int], dict[str, set[str]]] = {}
        self.runs = [f"{pipeline}-run-{r}" for r in range(runs)]
        for run in self.runs:
            for step in keys:
                for attempt in range(1, 3 if rng.random() < 0.3 else 2):
                    self.io[(run, step, attempt)] = {
                        "read": set(rng.sample(pool, rng.randint(0, 2))),
                        "wrote": set(rng.sample(pool, rng.randint(0, 2))),
                    }
        self.rng = rng

    def definition(self, version: str = "1", depends_on: dict | None = None) -> dict[str, Any]:
        dag = depends_on if depends_on is not None else self.depends_on
        return self._event(
            f"{self.pipeline}-def-{version}",
            "pipeline.defined",
            T0 + timedelta(minutes=int(version)),
            data={
                "version": version,
                "steps": [{"key": k, "depends_on": ups} for k, ups in sorted(dag.items())],
            },
        )

    def run_events(self) -> list[dict[str, Any]]:
        out = []
        for (run, step, attempt), io in sorted(self.io.items()):
            base = {"run": run, "step": step, "attempt": attempt}
            at = T0 + timedelta(hours=1)
            out.append(self._event(f"{run}/{step}#{attempt}/start", "step.started", at, **base))
            for kind in ("read", "wrote"):
                for uri_version in sorted(io[kind]):
                    uri, version = uri_version.rsplit("@", 1)
                    out.append(
                        self._event(
                            f"{run}/{step}#{attempt}/{kind}/{uri_version}",
                            "artifact.read" if kind == "read" else "artifact.written",
                            at + timedelta(seconds=1),
                            data={"uri": uri, "version": version},
                            **base,
                        )
                    )
        return out

    def _event(self, eid: str, etype: str, at: datetime, **fields: Any) -> dict[str, Any]:
        return {
            "id": eid,
            "type": etype,
            "time": at.isoformat().replace("+00:00", "Z"),
            "source": "test/inferred",
            "pipeline": self.pipeline,
            **fields,
        }

    def expected(self, depends_on: dict | None = None) -> dict[Edge, list[str]]:
        """The ground truth: for steps A upstream of B (networkx ancestors) in the same
        run, every version A (any attempt) read or wrote -> every version B wrote, with
        the shortest step path, ties to the smaller keys, over every explaining pair."""
        dag = nx.DiGraph()
        deps = depends_on if depends_on is not None else self.depends_on
        dag.add_nodes_from(deps)
        dag.add_edges_from((up, down) for down, ups in deps.items() for up in ups)
        touched: dict[tuple[str, str], dict[str, set[str]]] = {}
        for (run, step, _attempt), io in self.io.items():
            acc = touched.setdefault((run, step), {"read": set(), "wrote": set()})
            acc["read"] |= io["read"]
            acc["wrote"] |= io["wrote"]
        best: dict[Edge, list[str]] = {}
        for (run, b), b_io in touched.items():
            for a in nx.ancestors(dag, b):
                if (run, a) not in touched:
                    continue
                path = min(nx.all_shortest_paths(dag, a, b))
                a_io = touched[(run, a)]
                for x in a_io["read"] | a_io["wrote"]:
                    for y in b_io["wrote"]:
                        if x == y:
                            continue
                        cur = best.get((x, y, run))
                        if cur is None or (len(path), path) < (len(cur), cur):
                            best[(x, y, run)] = path
        return best

    def observed(self) -> set[Edge]:
        """(x, y, step run) for every step run that read x and wrote y."""
        return {
            (x, y, f"{run}/{step}#{attempt}")
            for (run, step, attempt), io in self.io.items()
            for x in io["read"]
            for y in io["wrote"]
        }


def stored(driver: Driver) -> dict[Edge, list[str]]:
    return {(r["src"], r["dst"], r["run"]): r["path"] for r in fetch(driver, "inferred_edges")}


def send(service: RunningService, events: list[dict[str, Any]], batch: int) -> None:
    with service.client() as http:
        for i in range(0, len(events), batch):
            resp = http.post("/v1/events", json=events[i : i + batch])
            assert resp.status_code == 200, resp.text


def orders(seed: int) -> Iterator[tuple[Workload, list[dict[str, Any]], int]]:
    """The same generated workload three times under three names (its own pipeline,
    runs and versions each), sent in three arrival orders and request sizes."""
    w = Workload(seed, f"gen{seed}-a")
    yield w, [w.definition(), *w.run_events()], 50
    w = Workload(seed, f"gen{seed}-b")
    shuffled = w.run_events()
    random.Random(seed).shuffle(shuffled)
    yield w, [*shuffled, w.definition()], 7  # the definition after every run event
    w = Workload(seed, f"gen{seed}-c")
    mixed = [w.definition(), *w.run_events()]
    random.Random(seed + 1).shuffle(mixed)
    yield w, mixed, 1  # one event a request


def renamed(edges: dict[Edge, list[str]], w: Workload) -> dict[Edge, list[str]]:
    """Edges of one of the copies, with its pipeline's name taken out."""
    return {
        tuple(part.replace(w.pipeline, "P") for part in edge): path  # type: ignore[misc]
        for edge, path in edges.items()
        if edge[2].startswith(w.pipeline + "-run-")
    }


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_inferred_edges_match_networkx_in_any_arrival_order(
    service: RunningService, clean_graph: Driver, seed: int
) -> None:
    copies = list(orders(seed))
    for _w, events, batch in copies:
        send(service, events, batch)
    graph = stored(clean_graph)
    first = copies[0][0]
    assert first.expected(), "the generated workload infers nothing: the test is vacuous"
    for w, _events, _batch in copies:
        assert renamed(graph, w) == renamed(w.expected(), w), w.pipeline
    assert len(graph) == 3 * len(first.expected())


def test_retried_attempts_count_once_and_a_redefinition_recomputes(
    service: RunningService, clean_graph: Driver
) -> None:
    w = Workload(7, "retry")
    w.depends_on = {"extract": [], "load": ["extract"], "report": ["load"]}
    w.io = {
        (run, step, attempt): io
        for run in w.runs[:1]
        for (step, attempt), io in {
            ("extract", 1): {"read": {"mem://src@1"}, "wrote": {"mem://partial@1"}},
            ("extract", 2): {"read": {"mem://src@1"}, "wrote": {"mem://raw@1"}},
            ("load", 1): {"read": {"mem://raw@1"}, "wrote": {"mem://table@1"}},
            ("report", 1): {"read": {"mem://table@1"}, "wrote": {"mem://report@1"}},
        }.items()
    }
    send(service, [w.definition(), *w.run_events()], 100)
    run = w.runs[0]
    got = stored(clean_graph)
    assert got == w.expected()
    # mem://src@1 was read by both attempts of extract: one edge to each later write
    assert got[("mem://src@1", "mem://report@1", run)] == ["extract", "load", "report"]
    assert [e for e in got if e[:2] == ("mem://src@1", "mem://table@1")] == [
        ("mem://src@1", "mem://table@1", run)
    ]
    # A new definition where report depends on extract directly: paths get shorter; one
    # where nothing depends on anything removes every inferred edge.
    shortcut = {"extract": [], "load": ["extract"], "report": ["load", "extract"]}
    send(service, [w.definition("2", shortcut)], 1)
    assert stored(clean_graph) == w.expected(shortcut)
    assert stored(clean_graph)[("mem://src@1", "mem://report@1", run)] == ["extract", "report"]
    send(service, [w.definition("3", {k: [] for k in shortcut})], 1)
    assert stored(clean_graph) == {}


def test_replay_rebuilds_the_same_inferred_edges(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    w = Workload(5, "replayed")
    events = w.run_events()
    random.Random(5).shuffle(events)
    send(service, [*events, w.definition()], 13)
    before = stored(clean_graph)
    assert before == w.expected() and before
    rebuild(neo4j_settings)
    assert stored(clean_graph) == before


def _lineage_truth(w: Workload, observed_only: bool) -> nx.DiGraph:
    g = nx.DiGraph()
    for x, y, via in w.observed():
        g.add_edge(x, y)
        g.edges[x, y].setdefault("edges", set()).add((x, y, "OBSERVED", via, None))
    if not observed_only:
        for (x, y, run), path in w.expected().items():
            if g.has_edge(x, y) and any(e[2] == "OBSERVED" for e in g.edges[x, y]["edges"]):
                continue  # an observed edge links them already: the inferred one is left out
            g.add_edge(x, y)
            g.edges[x, y].setdefault("edges", set()).add((x, y, "INFERRED", run, tuple(path)))
    return g


@pytest.mark.parametrize("observed_only", [False, True])
def test_lineage_and_impact_follow_inferred_edges_unless_observed_only(
    service: RunningService, clean_graph: Driver, observed_only: bool
) -> None:
    w = Workload(11, "lineage", runs=2)
    send(service, [w.definition(), *w.run_events()], 40)
    truth = _lineage_truth(w, observed_only)
    versions = sorted({v for io in w.io.values() for k in ("read", "wrote") for v in io[k]})
    kinds_seen = set()
    with client_for(service) as session:
        for version in versions:
            uri, tag = version.rsplit("@", 1)
            for downstream, depth in ((True, 2), (False, 3), (True, 10)):
                g = truth if downstream else truth.reverse(copy=True)
                dist = (
                    nx.single_source_shortest_path_length(g, version, cutoff=depth)
                    if version in g
                    else {version: 0}
                )
                res = session.execute(
                    LINEAGE,
                    variable_values={
                        "uri": uri,
                        "v": tag,
                        "d": "DOWNSTREAM" if downstream else "UPSTREAM",
                        "depth": depth,
                        "obs": observed_only,
                    },
                )["lineage"]
                assert {n["id"]: n["depth"] for n in res["nodes"]} == dist
                want = {
                    e
                    for a, b, data in g.edges(data=True)
                    if a in dist and dist[a] < depth and b in dist
                    for e in data["edges"]
                }
                got = {
                    (e["from"], e["to"], e["kind"], e["via"], tuple(e["path"] or ()) or None)
                    for e in res["edges"]
                }
                assert got == want, (version, downstream, depth)
                kinds_seen |= {e["kind"] for e in res["edges"]}
            impact = session.execute(IMPACT, variable_values={"key": version, "obs": observed_only})
            reach = nx.descendants(truth, version) if version in truth else set()
            assert {a["id"] for a in impact["impact"]["artifacts"]} == reach
            assert all(
                e["kind"] == "OBSERVED" or not observed_only for e in impact["impact"]["edges"]
            )
    assert kinds_seen == ({"OBSERVED"} if observed_only else {"OBSERVED", "INFERRED"})
