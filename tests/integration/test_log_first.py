"""Log-first after an outage (docs/governance.md, "Outages"): while a restarted Neo4j
has not planned apply_batch again, a batch is acknowledged once its events are in the
log; the catch-up derives them later, in seq order, to the graph a normal write gives."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from typing import Any

from neo4j import Driver

from tests.conftest import RunningService, wipe
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tests.support.graph import rebuild, snapshot
from tracegraph.events.records import BatchResult, SequencedEvent
from tracegraph.ingest.pricing import DEFAULT_PRICES
from tracegraph.ingest.service import IngestService
from tracegraph.settings import Neo4jSettings
from tracegraph.store.driver import open_driver
from tracegraph.store.event_writer import EventWriter

# (chunk of the example stream, derive?): the second is logged first, the third is
# written while it waits (so logged first too), the last one after the catch-up.
_CHUNKS = ((0, 10, True), (10, 22, False), (22, 30, True))


def _graph(driver: Driver) -> tuple[list, list]:
    # The derivation's lock node is bookkeeping of the catch-up, not graph state.
    nodes, rels = snapshot(driver)
    kept = [n for n in nodes if not (n[0] == ("Sequence",) and ("name", "derivation") in n[1])]
    return kept, rels


def _write(
    settings: Neo4jSettings,
    events: list[dict],
    chunks: Sequence[tuple[int, int, bool]],
    derive_page: int | None,
) -> list[BatchResult]:
    async def run() -> list[BatchResult]:
        driver = open_driver(settings)
        writer = EventWriter(driver, settings.database, DEFAULT_PRICES)
        ingest = IngestService(None)  # type: ignore[arg-type]  # prepare() only
        try:
            results = []
            for start, end, derive in chunks:
                unit = ingest.prepare(events[start:end], principal="t")
                results.append(await writer.write([unit], derive=derive))
            while derive_page is not None and await writer.derive_underived(derive_page):
                pass
            return results
        finally:
            await driver.close()

    return asyncio.run(run())


def test_events_logged_first_then_derived_give_the_graph_of_a_normal_write(
    clean_graph: Driver, neo4j_settings: Neo4jSettings, example_events: list[dict]
) -> None:
    # Versions included (counted per event about the entity, issue 17): the catch-up
    # counts as the batch apply would have.
    events = example_events
    normal = _write(neo4j_settings, events, [(0, len(events), True)], None)
    assert normal[0].derived
    expected = _graph(clean_graph)

    wipe(clean_graph)
    logged = _write(neo4j_settings, events, [*_CHUNKS, (30, len(events), True)], derive_page=None)
    assert [r.derived for r in logged] == [True, False, False, False]
    assert [r["seq"] for r in fetch(clean_graph, "underived_seqs")] == list(range(11, 42))
    assert _graph(clean_graph) != expected
    _write(neo4j_settings, events, [], derive_page=7)  # bounded pages, in seq order
    assert fetch(clean_graph, "underived_seqs") == []
    assert _graph(clean_graph) == expected

    # Replay (rebuild_from_log) derives events logged first too, and clears their mark:
    # no catch-up after it counts them again.
    wipe(clean_graph)
    _write(neo4j_settings, events, [(0, len(events), False)], derive_page=None)
    rebuild(neo4j_settings)
    assert fetch(clean_graph, "underived_seqs") == []
    _write(neo4j_settings, events, [], derive_page=50)
    assert _graph(clean_graph) == expected


def _post(service: RunningService, events: list[dict]) -> int:
    with service.client() as client:
        return client.post("/v1/events", json=events).status_code


def _run_events(run: str, n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"{run}-{i}",
            "type": "log",
            "time": "2026-11-20T02:00:00Z",
            "source": "t",
            "pipeline": "p",
            "run": run,
            "data": {"message": f"line {i}"},
        }
        for i in range(n)
    ]


def test_after_an_outage_a_batch_is_acknowledged_before_apply_batch_is_planned(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # The planning after an outage is held (a restarted Neo4j planning apply_batch cold:
    # 6 s quiet, 20-48 s under load); the database itself answers.
    service = make_service()
    services = service.app.state.services
    with service.client(None) as client:
        eventually(lambda: client.get("/readyz").status_code == 200, timeout=120, what="ready")
    committer, writer = services.committer, services.committer._writer
    published: list[SequencedEvent] = []
    committer.add_listener(published.extend)
    fanned_out: list[SequencedEvent] = []  # what the live hub sent on, tailer included
    services.hub.add_listener(fanned_out.extend)
    assert _post(service, _run_events("before", 1)) == 200

    planning = asyncio.Event()  # set on the service's loop
    real_replan = writer.replan

    async def held_replan(*args: Any, **kwargs: Any) -> None:
        await planning.wait()
        await real_replan(*args, **kwargs)

    writer.replan = held_replan
    real = writer._driver
    with socket.socket() as s:  # a port nothing listens on: the database is "down"
        s.bind(("127.0.0.1", 0))
        down = open_driver(Neo4jSettings(uri=f"bolt://127.0.0.1:{s.getsockname()[1]}"))
    writer._driver = down
    try:
        assert _post(service, _run_events("during", 1)) == 503
    finally:
        writer._driver = real
        service.call(down.close())

    assert _post(service, _run_events("r", 3)) == 200  # acknowledged: in the log
    assert _post(service, _run_events("r2", 2)) == 200
    assert committer.replans == 0
    stored = {r["id"] for r in fetch(clean_graph, "event_ids")}
    assert {"r-0", "r-1", "r-2", "r2-0", "r2-1"} <= stored and "during-0" not in stored
    assert len(fetch(clean_graph, "underived_seqs")) == 5
    assert fetch(clean_graph, "run_by_id", id="r") == []  # not derived yet
    assert [e.id for e in published] == ["before-0"]  # nor published
    # Nor read by the replicas' live tailers (issue 20): they follow the derived log only.
    tail = service.call(services.hub._reads.tail(0, 0, 100))
    assert [e.payload["id"] for e in tail.events] == ["before-0"]

    service.loop.call_soon_threadsafe(planning.set)
    eventually(lambda: fetch(clean_graph, "underived_seqs") == [], timeout=60, what="derived")
    eventually(lambda: len(published) == 6, timeout=10, what="published")
    assert [e.id for e in published] == ["before-0", "r-0", "r-1", "r-2", "r2-0", "r2-1"]
    assert [e.seq for e in published] == sorted(e.seq for e in published)
    assert committer.replans == 1
    eventually(lambda: len(fanned_out) == 6, timeout=10, what="fanned out")
    assert [e.payload["id"] for e in fanned_out] == [e.id for e in published]
    [run] = fetch(clean_graph, "run_by_id", id="r")
    assert run["r"]["version"] == 3  # one per event about it, as a normal write counts
    assert _post(service, _run_events("r", 4)) == 200  # a normal write again
    eventually(lambda: len(published) == 7, timeout=10, what="published at once")
    [run] = fetch(clean_graph, "run_by_id", id="r")
    assert run["r"]["version"] == 4


def test_a_service_started_with_events_logged_first_derives_them(
    clean_graph: Driver,
    neo4j_settings: Neo4jSettings,
    make_service: Callable[..., RunningService],
) -> None:
    # A process that stopped before its catch-up (a crash right after the outage).
    _write(neo4j_settings, _run_events("left", 2), [(0, 2, False)], derive_page=None)
    assert len(fetch(clean_graph, "underived_seqs")) == 2
    make_service()
    eventually(lambda: fetch(clean_graph, "underived_seqs") == [], timeout=60, what="derived")
    [run] = fetch(clean_graph, "run_by_id", id="left")
    assert run["r"]["version"] == 2
