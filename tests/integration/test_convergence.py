"""Late, duplicated and shuffled streams converge — the graph and its SLA breaches;
replaying the log rebuilds the graph."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from neo4j import Driver

from tests.conftest import RunningService, wipe
from tests.support.graph import breaches, rebuild, snapshot
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.settings import Neo4jSettings


def _post_in_batches(service: RunningService, events: list[dict], sizes: list[int]) -> None:
    with service.client() as client:
        start = 0
        i = 0
        while start < len(events):
            size = sizes[i % len(sizes)] if sizes else len(events)
            resp = client.post("/v1/events", json=events[start : start + size])
            assert resp.status_code == 200, resp.text
            start += size
            i += 1


def _state(service: RunningService, driver: Driver) -> tuple:
    """The graph and the SLA breaches once every committed event has been evaluated
    (touched runs and the timer's checks, by the service's own evaluator)."""
    service.call(service.app.state.services.sla_evaluator.evaluate_now())
    return snapshot(driver), breaches(driver)


def _shuffled_with_duplicates(events: list[dict], seed: int, dup_rate: float) -> list[dict]:
    rng = random.Random(seed)
    stream = list(events) + [e for e in events if rng.random() < dup_rate]
    rng.shuffle(stream)
    return stream


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    dup_rate=st.sampled_from([0.0, 0.2, 0.5]),
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=5),
)
def test_any_order_with_duplicates_gives_the_same_graph(
    service: RunningService,
    clean_graph: Driver,
    example_events: list[dict],
    seed: int,
    dup_rate: float,
    sizes: list[int],
) -> None:
    wipe(clean_graph, keep_governance=True)
    _post_in_batches(service, example_events, [len(example_events)])
    expected = _state(service, clean_graph)

    wipe(clean_graph, keep_governance=True)
    _post_in_batches(service, _shuffled_with_duplicates(example_events, seed, dup_rate), sizes)
    assert _state(service, clean_graph) == expected


def test_shuffled_workload_converges(service: RunningService, clean_graph: Driver) -> None:
    """A bigger stream with retries, failures, late prompts and cross-pipeline lineage."""
    events = WorkloadGenerator(seed=11).events(1500)
    _post_in_batches(service, events, [500])
    expected = _state(service, clean_graph)
    assert expected[1], "the workload breaches SLAs: the comparison must cover breaches"
    for seed in (1, 2):
        wipe(clean_graph, keep_governance=True)
        _post_in_batches(service, _shuffled_with_duplicates(events, seed, 0.1), [7, 130, 61])
        assert _state(service, clean_graph) == expected


def test_replaying_the_event_log_gives_the_same_graph(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    events = WorkloadGenerator(seed=5).events(800)
    _post_in_batches(service, events, [97, 300])
    before = snapshot(clean_graph)

    assert rebuild(neo4j_settings) == 800
    assert snapshot(clean_graph) == before
