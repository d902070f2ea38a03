"""Concurrent requests share write transactions; concurrent writers (replicas) never
deadlock and the global seq stays unique and gap-free."""

from __future__ import annotations

import concurrent.futures
from collections.abc import Callable

from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tracegraph.demo.workload import WorkloadGenerator


def _post_all(services: list[RunningService], batches: list[list[dict]]) -> list[int]:
    def post(i: int) -> int:
        with services[i % len(services)].client() as client:
            return client.post("/v1/events", json=batches[i]).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(post, range(len(batches))))


def test_concurrent_requests_are_group_committed(
    service: RunningService, clean_graph: Driver
) -> None:
    events = WorkloadGenerator(seed=3).events(3000)
    batches = [events[i : i + 50] for i in range(0, len(events), 50)]
    committer = service.app.state.services.committer
    before = committer.batches_committed

    assert set(_post_all([service], batches)) == {200}

    transactions = committer.batches_committed - before
    assert transactions < len(batches)  # requests were coalesced
    seqs = [r["seq"] for r in fetch(clean_graph, "event_seqs")]
    assert seqs == list(range(1, 3001))


def test_two_replicas_write_concurrently_without_deadlock_or_seq_gaps(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    replicas = [make_service(), make_service()]
    events = WorkloadGenerator(seed=4).events(4000)
    # Batches of the same runs go to both replicas, so their transactions touch the
    # same nodes at the same time.
    batches = [events[i : i + 25] for i in range(0, len(events), 25)]

    assert set(_post_all(replicas, batches)) == {200}

    seqs = [r["seq"] for r in fetch(clean_graph, "event_seqs")]
    assert seqs == list(range(1, 4001))
