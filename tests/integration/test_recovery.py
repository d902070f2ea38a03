"""Recovery after an outage: what stands between Neo4j answering again and the first
commit, as far as the service decides it (no timings: the schedule itself)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from itertools import islice

from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tracegraph.runtime import schema_retry_delays
from tracegraph.settings import Neo4jSettings, Settings
from tracegraph.store.driver import open_driver


def test_a_service_started_during_an_outage_retries_the_schema_at_least_every_2_s() -> None:
    # Doubling without a low cap waited up to 10 s after Neo4j came back, the whole
    # recovery budget; the cap is a setting, 2 s by default.
    cap = Settings().schema_retry_max_delay_s
    delays = list(islice(schema_retry_delays(cap), 12))
    assert delays[:3] == [0.5, 1.0, 2.0]
    assert max(delays) == cap == 2.0
    assert list(islice(schema_retry_delays(0.2), 3)) == [0.2, 0.2, 0.2]


def _post(service: RunningService, event_id: str) -> int:
    event = {"id": event_id, "type": "log", "time": "2026-11-20T02:00:00Z", "source": "t"}
    with service.client() as client:
        status = client.post("/v1/events", json=[{**event, "data": {"message": "x"}}])
        return status.status_code


def test_after_an_outage_the_writer_plans_again_before_its_next_batch(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # A restarted Neo4j plans the write statements cold; the write timeout must not cut
    # that planning (the batch ended by it lost its planning, and the next started
    # over), so after an outage they are planned first, in a transaction of their own.
    service = make_service(ingest_deadline_s=60)
    services = service.app.state.services
    with service.client(None) as client:
        deadline = time.monotonic() + 120
        while client.get("/readyz").status_code != 200:
            assert time.monotonic() < deadline, "the service never became ready"
            time.sleep(0.1)
    committer, writer = services.committer, services.committer._writer
    assert _post(service, "before") == 200 and committer.replans == 0

    real = writer._driver
    with socket.socket() as s:  # a port nothing listens on: the database is "down"
        s.bind(("127.0.0.1", 0))
        down = open_driver(Neo4jSettings(uri=f"bolt://127.0.0.1:{s.getsockname()[1]}"))
    writer._driver = down
    try:
        assert _post(service, "during") == 503
        assert committer.replans == 0
    finally:
        writer._driver = real
        service.call(down.close())

    assert _post(service, "after") == 200
    assert committer.replans == 1  # planned once, before the first batch after it
    assert _post(service, "later") == 200
    assert committer.replans == 1
    stored = {r["id"] for r in fetch(clean_graph, "event_ids")}
    assert {"before", "after", "later"} <= stored and "during" not in stored
