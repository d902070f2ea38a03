"""POST /v1/events: every status code of the contract, the quarantine, and recovery."""

from __future__ import annotations

import time
from typing import Any

import orjson
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.eventually import eventually
from tests.support.graph import counts


def _event(i: int, **extra: object) -> dict:
    return {
        "id": f"log-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "test",
        "data": {"level": "info", "message": f"hello {i}"},
        **extra,
    }


def test_json_array_single_object_and_ndjson(service: RunningService) -> None:
    with service.client() as client:
        one = client.post("/v1/events", json=_event(1))
        assert one.status_code == 200
        assert one.json() == {"accepted": 1, "duplicates": 0, "rejected": [], "last_seq": 1}

        many = client.post("/v1/events", json=[_event(2), _event(3)])
        assert many.json() == {"accepted": 2, "duplicates": 0, "rejected": [], "last_seq": 3}

        ndjson = b"\n".join(orjson.dumps(_event(i)) for i in (4, 5, 1)) + b"\n"
        nd = client.post(
            "/v1/events", content=ndjson, headers={"content-type": "application/x-ndjson"}
        )
        assert nd.status_code == 200
        assert nd.json() == {"accepted": 2, "duplicates": 1, "rejected": [], "last_seq": 5}


def test_duplicates_are_noops_and_conflicts_are_rejected(
    service: RunningService, clean_graph: Driver
) -> None:
    with service.client() as client:
        assert client.post("/v1/events", json=[_event(1)]).status_code == 200
        same = client.post("/v1/events", json=[_event(1), _event(1)])
        assert same.json() == {"accepted": 0, "duplicates": 2, "rejected": [], "last_seq": 1}

        changed = _event(1)
        changed["data"]["message"] = "other content"
        resp = client.post("/v1/events", json=[_event(2), changed])
    assert resp.status_code == 207
    body = resp.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {
            "index": 1,
            "id": "log-1",
            "error": "conflict: event id 'log-1' was already accepted with different content",
        }
    ]
    quarantined = fetch(clean_graph, "quarantined")
    assert [q["event_id"] for q in quarantined] == ["log-1"]
    assert orjson.loads(quarantined[0]["raw"])["data"]["message"] == "other content"


def test_invalid_events_are_rejected_precisely_and_quarantined_others_stored(
    service: RunningService, clean_graph: Driver
) -> None:
    bad_time = _event(2, time="2026-11-20T02:00:00")
    unknown = {**_event(3), "type": "run.exploded"}
    with service.client() as client:
        resp = client.post("/v1/events", json=[_event(1), bad_time, 42, unknown, _event(4)])
    assert resp.status_code == 207
    body = resp.json()
    assert body["accepted"] == 2
    assert body["last_seq"] == 2
    rejected = {r["index"]: r for r in body["rejected"]}
    assert set(rejected) == {1, 2, 3}
    assert rejected[1]["id"] == "log-2"
    assert rejected[1]["error"].startswith("time: timestamp must include a UTC offset")
    assert rejected[2] == {"index": 2, "id": None, "error": "event must be a JSON object"}
    assert rejected[3]["error"].startswith("type: unknown event type 'run.exploded'")

    quarantined = fetch(clean_graph, "quarantined")
    assert len(quarantined) == 3
    reasons = {q["reason"] for q in quarantined}
    assert "event must be a JSON object" in reasons
    assert {q["raw"] for q in quarantined} >= {"42"}
    labels, _ = counts(clean_graph)
    assert labels["Event"] == 2


def test_bad_bodies_get_400(service: RunningService) -> None:
    with service.client() as client:
        cases = [
            (b"{not json", "application/json", "body is not valid JSON"),
            (b"", "application/json", "request body is empty"),
            (b'"a string"', "application/json", "body must be a JSON array"),
            (b'{"id": 1}\n{oops\n', "application/x-ndjson", "NDJSON line 2 is not valid JSON"),
        ]
        for body, ctype, message in cases:
            resp = client.post("/v1/events", content=body, headers={"content-type": ctype})
            assert resp.status_code == 400, body
            assert message in resp.json()["error"]


def test_over_the_limits_gets_413_and_stores_nothing(clean_graph: Driver, make_service) -> None:
    svc = make_service(max_batch_events=10, max_body_bytes=4096)
    with svc.client() as client:
        too_many = client.post("/v1/events", json=[_event(i) for i in range(11)])
        assert too_many.status_code == 413
        assert "11 events; the limit is 10" in too_many.json()["error"]
        big = _event(1)
        big["data"]["message"] = "x" * 5000
        too_big = client.post("/v1/events", json=[big])
        assert too_big.status_code == 413
        assert "limit of 4096 bytes" in too_big.json()["error"] or "4096" in too_big.json()["error"]
    labels, _ = counts(clean_graph)
    assert labels.get("Event", 0) == 0


def test_overload_gets_429_with_retry_after(clean_graph: Driver, make_service) -> None:
    # With room for only a few waiting events, a burst of concurrent requests overflows.
    import concurrent.futures

    svc = make_service(max_pending_events=3, retry_after_s=2)
    batch = [_event(i) for i in range(3)]

    def post(n: int) -> tuple[int, str | None]:
        with svc.client() as client:
            events = [{**e, "id": f"{e['id']}-{n}"} for e in batch]
            r = client.post("/v1/events", json=events)
            return r.status_code, r.headers.get("retry-after")

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(post, range(64)))
    statuses = {s for s, _ in results}
    assert statuses <= {200, 429}
    assert 429 in statuses
    assert all(ra == "2" for s, ra in results if s == 429)
    accepted = sum(1 for s, _ in results if s == 200)
    labels, _ = counts(clean_graph)
    assert labels["Event"] == 3 * accepted  # every 200 stored, nothing from a 429


def test_neo4j_down_gives_503_then_recovers_without_restart(
    service: RunningService, clean_graph: Driver, stoppable_neo4j: Any
) -> None:
    local = stoppable_neo4j
    with service.client() as client:
        assert client.post("/v1/events", json=[_event(1)]).status_code == 200
        local.stop()
        try:
            down = client.post("/v1/events", json=[_event(2), _event(3)])
            assert down.status_code == 503
            assert down.headers["retry-after"] == "1"
            assert "nothing was stored" in down.json()["error"]
            assert client.get("/readyz").status_code == 503
            assert client.get("/healthz").status_code == 200
        finally:
            local.start()
        eventually(
            lambda: client.get("/readyz"),
            until=lambda r: r.status_code == 200,
            timeout=60,
            interval=0.5,
            what="the service ready again",
        )
        deadline = time.monotonic() + 60
        # A restarted database plans the write statements cold: until it has, a write
        # answers 503 within the ingest deadline, and a client sends it again (an
        # attempt whose batch committed meanwhile comes back as duplicates).
        while (again := client.post("/v1/events", json=[_event(2), _event(3)])).status_code == 503:
            assert time.monotonic() < deadline, "no write stored after the restart"
            time.sleep(float(again.headers["retry-after"]))  # as a client honouring it does
        assert again.status_code == 200
        assert again.json()["accepted"] + again.json()["duplicates"] == 2
        assert again.json()["last_seq"] == 3
    labels, _ = counts(clean_graph)
    assert labels["Event"] == 3


def test_health_endpoints(service: RunningService) -> None:
    with service.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        # The fixture waits for the schema; the tailers' first reads may still be due.
        ready = eventually(
            lambda: client.get("/readyz"), until=lambda r: r.status_code == 200, what="ready"
        )
        assert ready.json() == {
            "ready": True,
            "neo4j": "reachable",
            "schema_applied": True,
            "writer": "running",
            "live_tail": "following",
            "commands": "following",
        }


def test_a_response_chunk_index_beyond_the_bound_is_rejected_and_quarantined(
    service: RunningService, clean_graph: Driver
) -> None:
    # Review finding 3 (issue 17): one such chunk would make the run's document a
    # two-billion-entry list; it is refused like any invalid event, the rest stored.
    run = {
        "id": "run-1",
        "type": "run.started",
        "time": "2026-11-20T02:00:00Z",
        "source": "test",
        "pipeline": "p",
        "run": "r1",
        "data": {},
    }
    chunk = {
        **run,
        "id": "chunk-1",
        "type": "response.chunk",
        "step": "gen",
        "data": {"call": "c1", "index": 2_000_000_000, "delta": "x"},
    }
    with service.client() as client:
        resp = client.post("/v1/events", json=[run, chunk])
    assert resp.status_code == 207, resp.text
    body = resp.json()
    assert body["accepted"] == 1
    assert body["rejected"] == [
        {"index": 1, "id": "chunk-1", "error": "data.index: must be <= 100000 (got 2000000000)"}
    ]
    assert [q["event_id"] for q in fetch(clean_graph, "quarantined")] == ["chunk-1"]
