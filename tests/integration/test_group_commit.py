"""Concurrent requests share write transactions; concurrent writers (replicas) never
deadlock and the global seq stays unique and gap-free."""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Callable

from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tests.support.graph import counts, snapshot
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.ingest.pricing import DEFAULT_PRICES
from tracegraph.ingest.warmup import warmup_unit
from tracegraph.settings import Neo4jSettings
from tracegraph.store.driver import open_driver
from tracegraph.store.event_writer import EventWriter


def _post_all(services: list[RunningService], batches: list[list[dict]]) -> list[int]:
    def post(i: int) -> int:
        with services[i % len(services)].client() as client:
            return client.post("/v1/events", json=batches[i]).status_code

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        return list(pool.map(post, range(len(batches))))


def test_concurrent_requests_are_group_committed(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # Coalescing, not the outage deadline, is under test: a burst on a busy two-core
    # machine may wait longer than the 4.5 s after which a request answers 503.
    service = make_service(ingest_deadline_s=60)
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
    # Deadlock-free concurrency, not the outage deadline, is under test (as above).
    replicas = [make_service(ingest_deadline_s=60), make_service(ingest_deadline_s=60)]
    events = WorkloadGenerator(seed=4).events(4000)
    # Batches of the same runs go to both replicas, so their transactions touch the
    # same nodes at the same time.
    batches = [events[i : i + 25] for i in range(0, len(events), 25)]

    assert set(_post_all(replicas, batches)) == {200}

    seqs = [r["seq"] for r in fetch(clean_graph, "event_seqs")]
    assert seqs == list(range(1, 4001))


def test_exclusive_writes_run_between_batches_never_beside_them(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # SLA breach merges share nodes with ingestion; on the writer they cannot interleave
    # with a batch's transaction (no lock waits, no deadlocks between the two). The
    # ordering is under test, not the outage deadline (see the first test).
    service = make_service(ingest_deadline_s=60)
    committer = service.app.state.services.committer
    writer = committer._writer
    spans: list[tuple[str, float, float]] = []
    original_write = writer.write

    async def timed_write(units, derive=True):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        try:
            return await original_write(units, derive)
        finally:
            spans.append(("batch", started, time.perf_counter()))

    async def exclusive(n: int) -> int:
        started = time.perf_counter()
        await asyncio.sleep(0.005)  # a round trip's worth: a batch could start meanwhile
        spans.append(("exclusive", started, time.perf_counter()))
        return n

    async def failing() -> None:
        raise RuntimeError("breach merge failed")

    async def scenario() -> tuple[list[int], str]:
        submits = [
            asyncio.ensure_future(service.app.state.services.ingest.ingest(batch))
            for batch in batches
        ]
        results = await asyncio.gather(
            *(committer.run_exclusive(lambda n=n: exclusive(n)) for n in range(20))
        )
        try:
            await committer.run_exclusive(failing)
            error = ""
        except RuntimeError as exc:
            error = str(exc)
        await asyncio.gather(*submits)
        return list(results), error

    events = WorkloadGenerator(seed=5).events(2000)
    batches = [events[i : i + 50] for i in range(0, len(events), 50)]
    writer.write = timed_write
    try:
        results, error = service.call(scenario())
    finally:
        writer.write = original_write

    assert results == list(range(20))  # each caller gets its own result
    assert error == "breach merge failed"  # and its own error; the writer goes on
    batches_run = [s for s in spans if s[0] == "batch"]
    exclusives = [s for s in spans if s[0] == "exclusive"]
    assert batches_run and len(exclusives) == 20
    for _, start, end in exclusives:
        for _, b_start, b_end in batches_run:
            assert end <= b_start or start >= b_end, "an exclusive write overlapped a batch"
    seqs = [r["seq"] for r in fetch(clean_graph, "event_seqs")]
    assert seqs == list(range(1, 2001))


def test_planning_ahead_changes_nothing_in_the_graph(
    service: RunningService, clean_graph: Driver, neo4j_settings: Neo4jSettings
) -> None:
    events = WorkloadGenerator(seed=5).events(300)
    with service.client() as client:
        assert client.post("/v1/events", json=events).status_code == 200
    before = snapshot(clean_graph)

    # The start-up sample: new definitions, runs and a quarantined event.
    sample = warmup_unit(service.app.state.services.ingest)
    assert sample.events and sample.rejected

    async def plan_ahead() -> None:
        driver = open_driver(neo4j_settings)
        try:
            writer = EventWriter(driver, neo4j_settings.database, DEFAULT_PRICES)
            await writer.plan_ahead([sample])
        finally:
            await driver.close()

    asyncio.run(plan_ahead())

    assert snapshot(clean_graph) == before
    assert [r["seq"] for r in fetch(clean_graph, "event_seqs")] == list(range(1, 301))
    assert fetch(clean_graph, "quarantined") == []


def test_a_started_service_has_planned_but_stored_nothing(
    service: RunningService, clean_graph: Driver
) -> None:
    # Ready comes a moment after the schema (the live tailer and the command feed
    # first read where their logs end), so poll it as a readiness probe would.
    with service.client() as client:
        eventually(
            lambda: client.get("/readyz").status_code,
            until=lambda code: code == 200,
            timeout=30,
            what="/readyz answers 200",
        )
    # The warm-up sample (definitions, runs, an invalid event) was rolled back.
    labels, rels = counts(clean_graph)
    assert not set(labels) & {"Event", "Pipeline", "Run", "Step", "LLMCall", "Artifact"}
    assert rels == {}
    assert fetch(clean_graph, "quarantined") == []
    assert fetch(clean_graph, "event_seqs") == []
