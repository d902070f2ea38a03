"""Late, duplicated and shuffled streams converge — the graph and its SLA breaches;
replaying the log rebuilds the graph."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import datetime, timedelta

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


def _wait_ready(service: RunningService, timeout_s: float = 120) -> None:
    """Until /readyz answers 200 (a loaded machine plans the write statements slowly)."""
    deadline = time.monotonic() + timeout_s
    with service.client(None) as client:
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service never became ready"
            time.sleep(0.1)


def _post_resending(service: RunningService, events: list[dict], sizes: list[int]) -> None:
    """As _post_in_batches, sending a batch again after a 503's Retry-After (a loaded
    machine can miss the ingest deadline; duplicates are recognised)."""
    with service.client() as client:
        start, i = 0, 0
        while start < len(events):
            size = sizes[i % len(sizes)]
            for _ in range(20):
                resp = client.post("/v1/events", json=events[start : start + size])
                if resp.status_code != 503:
                    break
                time.sleep(float(resp.headers.get("Retry-After", "1")))
            assert resp.status_code == 200, resp.text
            start, i = start + size, i + 1


def _rate_breaches(state: tuple) -> list[tuple]:
    """The success-rate breaches of a state (property tuples) and their links
    (``(type, breach id, label, key)``)."""
    nodes = [b for b in state[1] if b and not isinstance(b[0], str)]
    rated = [b for b in nodes if dict(b).get("kind") == "min_success_rate"]
    ids = {dict(b)["id"] for b in rated}
    links = [b for b in state[1] if b and isinstance(b[0], str) and b[1] in ids]
    return [*rated, *links]


def test_success_rate_breaches_do_not_depend_on_when_events_arrive(
    make_service: Callable[..., RunningService], clean_graph: Driver
) -> None:
    """Success rates are judged over windows of event time: the same stream arriving a
    month late, shuffled, breaches the same windows as it did live."""
    service = make_service(ingest_deadline_s=60)  # 500-event posts on a loaded machine
    events = WorkloadGenerator(seed=2).events(1500, fail_rate=0.3)
    # Live: the service's clock at the stream's last event (it ran as they happened).
    last = datetime.fromisoformat(max(e["time"] for e in events).replace("Z", "+00:00"))
    service.app.state.services.clock = lambda: last
    _wait_ready(service)
    _post_resending(service, events, [500])
    expected = _rate_breaches(_state(service, clean_graph))
    assert expected, "the workload breaches success rates: the comparison must cover them"
    month_later = last + timedelta(days=30)
    service.app.state.services.clock = lambda: month_later
    wipe(clean_graph, keep_governance=True)
    _post_resending(service, _shuffled_with_duplicates(events, 3, 0.1), [7, 130, 61])
    assert _rate_breaches(_state(service, clean_graph)) == expected
