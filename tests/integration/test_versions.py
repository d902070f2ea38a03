"""Entity versions (docs/live-deltas.md): counted in the ingest transaction, so they are a
function of the event set — not of batching, arrival order or duplicates — and a replay
of the log rebuilds them; breaches and admin changes bump theirs on every change."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

from neo4j import Driver

from tests.conftest import RunningService
from tests.integration.test_convergence import _post_resending, _wait_ready
from tests.integration.test_slas import PIPE, definition, ev, ms, set_clock
from tests.support.eventually import eventually
from tests.support.graph import rebuild
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.settings import Neo4jSettings
from tracegraph.store.graph_rows import IN_STEP_TYPES, STEP_STATUS

VERSIONS = """
query V($first: Int) {
  runs(first: $first) { edges { node { id version steps { id version } } } }
  pipelines(first: $first) { edges { node { name cardVersion } } }
}"""


def gql(service: RunningService, query: str, **variables: Any) -> dict[str, Any]:
    with service.client() as c:
        body = c.post("/graphql", json={"query": query, "variables": variables}).json()
    assert "errors" not in body, body
    return body["data"]  # type: ignore[no-any-return]


def _versions(service: RunningService) -> tuple[dict, dict, dict]:
    data = gql(service, VERSIONS, first=500)
    runs = {e["node"]["id"]: e["node"]["version"] for e in data["runs"]["edges"]}
    steps = {s["id"]: s["version"] for e in data["runs"]["edges"] for s in e["node"]["steps"]}
    cards = {e["node"]["name"]: e["node"]["cardVersion"] for e in data["pipelines"]["edges"]}
    return runs, steps, cards


def _expected(events: list[dict]) -> tuple[Counter, Counter, Counter]:
    """Versions as the contract defines them: distinct events per entity."""
    runs: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    cards: Counter[str] = Counter()
    for e in {e["id"]: e for e in events}.values():
        if e.get("run"):
            runs[e["run"]] += 1
        if e.get("pipeline"):
            cards[e["pipeline"]] += 1
        if e.get("step") and (e["type"] in STEP_STATUS or e["type"] in IN_STEP_TYPES):
            steps[f"{e['run']}/{e['step']}#{e.get('attempt', 1)}"] += 1
    return runs, steps, cards


def test_versions_count_events_whatever_the_order_duplicates_or_replay(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    events = WorkloadGenerator(seed=7).events(600)
    assert any(e["type"] == "response.chunk" for e in events)
    rng = random.Random(3)
    stream = events + rng.sample(events, 120)  # duplicates
    rng.shuffle(stream)
    _wait_ready(service)
    _post_resending(service, stream, [1, 37, 150, 9])

    runs, steps, cards = _versions(service)
    want_runs, want_steps, want_cards = _expected(events)
    assert runs == dict(want_runs)
    assert steps == dict(want_steps)
    assert cards == dict(want_cards)

    # Replay through the existing path (wipe the derived graph, re-apply the log).
    assert rebuild(neo4j_settings) == len(events)
    assert _versions(service) == (runs, steps, cards)


ACK = "mutation A($id: ID!) { acknowledgeBreach(id: $id) { id version status } }"
RESOLVE = "mutation R($id: ID!) { resolveBreach(id: $id) { id version status } }"
BREACHES = "{ slaBreaches(first: 50) { id version observed subject } }"
SET_OWNER = """mutation O($p: String!, $step: String, $o: String!) {
  setOwner(pipeline: $p, step: $step, owner: $o) { name cardVersion }
}"""


def test_breach_versions_grow_with_each_change_and_admin_changes_bump_the_card(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(sla_check_interval_s=0.1)
    set_clock(svc, ms(0))
    _wait_ready(svc)
    svc_events = [
        definition(),
        ev("r1", "run.started", 0),
        ev("r1", "run.completed", 100),  # 100 s > max_duration_ms 60 s
    ]
    with svc.client() as c:
        assert c.post("/v1/events", json=svc_events).status_code == 200

    def found() -> list[dict]:
        rows = gql(svc, BREACHES)["slaBreaches"]
        assert [b["subject"] for b in rows] == ["r1"]
        return rows  # type: ignore[no-any-return]

    [breach] = eventually(found)
    assert breach["version"] == 1
    # Evaluating the same facts again writes nothing new: the version stays.
    svc.call(svc.app.state.services.sla_evaluator.evaluate_now())
    assert gql(svc, BREACHES)["slaBreaches"][0]["version"] == 1

    acked = gql(svc, ACK, id=breach["id"])["acknowledgeBreach"]
    assert (acked["version"], acked["status"]) == (2, "ACKNOWLEDGED")
    assert gql(svc, ACK, id=breach["id"])["acknowledgeBreach"]["version"] == 2  # no change
    resolved = gql(svc, RESOLVE, id=breach["id"])["resolveBreach"]
    assert (resolved["version"], resolved["status"]) == (3, "RESOLVED")

    before = gql(svc, VERSIONS, first=10)["pipelines"]["edges"][0]["node"]["cardVersion"]
    assert before == 3  # three events of the pipeline
    card = gql(svc, SET_OWNER, p=PIPE, step=None, o="team:new")["setOwner"]
    assert card["cardVersion"] == before + 1
    card = gql(svc, SET_OWNER, p=PIPE, step="work", o="user:zoe@example.com")["setOwner"]
    assert card["cardVersion"] == before + 2
