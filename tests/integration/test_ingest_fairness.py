"""Ingest fairness: budgets in events and bytes per principal, answered 429 before the
work, and a writer that serves principals in turns, so one key's flood neither starves
another's single events nor fills the service's memory."""

from __future__ import annotations

import asyncio
import concurrent.futures
import socket
from collections.abc import Callable
from typing import Any

import httpx
import orjson
from neo4j import Driver

from tests.conftest import RunningService
from tests.support.cypher import fetch
from tests.support.eventually import eventually


def _log_event(pipeline: str, i: int) -> dict[str, Any]:
    return {
        "id": f"{pipeline}-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "test/fairness",
        "pipeline": pipeline,
        "data": {"level": "info", "message": f"event {i}"},
    }


def _batch(pipeline: str, start: int, count: int) -> list[dict[str, Any]]:
    return [_log_event(pipeline, i) for i in range(start, start + count)]


def _poll(condition: Callable[[], bool], what: str, timeout_s: float = 30) -> None:
    eventually(condition, timeout=timeout_s, interval=0.02, what=what)


def _seqs(driver: Driver, pipeline: str) -> list[int]:
    return [r["seq"] for r in fetch(driver, "event_seqs_of_pipeline", pipeline=pipeline)]


def _bytes_in_flight(svc: RunningService) -> int | None:
    """Request bytes the service holds in flight (None: it keeps no such budget)."""
    admission = getattr(svc.app.state.services, "admission", None)
    return None if admission is None else int(admission.bytes_in_flight)


def test_a_flood_gets_429_while_another_principals_event_is_committed_first(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(
        max_batch_events=500,
        commit_max_events=500,
        max_pending_events_per_principal=1000,
        retry_after_s=2,
    )
    services = svc.app.state.services
    committer = services.committer
    flood_headers, other_headers = svc.headers("ingester"), svc.headers("admin")

    # Hold the writer with a write of its own (as an SLA write would), so the flood and
    # the single event all wait for it together and the order they are served in shows.
    gate = asyncio.Event()
    holding: list[bool] = []

    async def hold_writer() -> None:
        holding.append(True)
        await gate.wait()

    held = asyncio.run_coroutine_threadsafe(committer.run_exclusive(hold_writer), svc.loop)
    _poll(lambda: bool(holding), "the writer is held")

    def post(headers: dict[str, str], events: list[dict[str, Any]]) -> httpx.Response:
        with httpx.Client(base_url=svc.base_url, headers=headers, timeout=60) as client:
            return client.post("/v1/events", json=events)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        flood = [pool.submit(post, flood_headers, _batch("flood", n * 500, 500)) for n in range(6)]
        # Every flood request has been answered or is waiting for the writer.
        _poll(
            lambda: sum(f.done() for f in flood) + committer.pending_events // 500 == 6,
            "each flood request is answered or queued",
        )
        queued = committer.pending_events
        other = pool.submit(post, other_headers, [_log_event("other", 0)])
        _poll(
            lambda: committer.pending_events == queued + 1 or other.done(),
            "the single event is queued",
        )
        assert not other.done(), other.result().text  # it waits for the held writer
        svc.loop.call_soon_threadsafe(gate.set)
        held.result(timeout=30)
        flood_answers = [f.result() for f in flood]
        other_answer = other.result()

    assert other_answer.status_code == 200, other_answer.text
    flood_seqs = _seqs(clean_graph, "flood")
    (other_seq,) = _seqs(clean_graph, "other")
    # The other principal's event went in before the flood's backlog had drained.
    assert other_seq < max(flood_seqs), (other_seq, max(flood_seqs))

    statuses = sorted(r.status_code for r in flood_answers)
    assert statuses == [200, 200, 429, 429, 429, 429], statuses
    for resp in flood_answers:
        if resp.status_code == 429:
            assert resp.headers["Retry-After"] == "2"
            assert "in flight" in resp.json()["error"]
    # Nothing of a refused request was stored, nor quarantined.
    assert len(flood_seqs) == 1000
    assert fetch(clean_graph, "quarantined") == []


def test_the_event_rate_counts_events_not_requests(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(max_batch_events=500, ingest_event_rate_limit="600/minute")
    with svc.client("ingester") as flood, svc.client("admin") as other:
        assert flood.post("/v1/events", json=_batch("flood", 0, 500)).status_code == 200
        # The second request of this principal would take it to 700 events this minute.
        over = flood.post("/v1/events", json=_batch("flood", 500, 200))
        assert over.status_code == 429, over.text
        retry_after = int(over.headers["Retry-After"])
        # 100 events short at 600/minute: the window frees them in about 10 s.
        assert 1 <= retry_after <= 60, retry_after
        assert "event rate limit exceeded" in over.json()["error"]
        assert "this request has 200" in over.json()["error"]
        # Another principal's budget is its own.
        assert other.post("/v1/events", json=_batch("other", 0, 200)).status_code == 200
        # What still fits in the window is taken.
        assert flood.post("/v1/events", json=_batch("flood", 500, 50)).status_code == 200
    assert len(_seqs(clean_graph, "flood")) == 550
    assert len(_seqs(clean_graph, "other")) == 200


def _holds_at_least(svc: RunningService, nbytes: int) -> bool:
    """The service holds ``nbytes`` in flight (or keeps no such budget: nothing to wait for)."""
    held = _bytes_in_flight(svc)
    return held is None or held >= nbytes


def _send_head(port: int, key: str, length: int | None, body_start: bytes = b"") -> socket.socket:
    """A request's head (``length`` None: a chunked body) and the start of its body."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    framing = "Transfer-Encoding: chunked" if length is None else f"Content-Length: {length}"
    head = (
        "POST /v1/events HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {key}\r\n"
        "Content-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    )
    sock.sendall(head.encode() + body_start)
    return sock


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed without a response: {data!r}"
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = {
        name.strip().lower(): value.strip()
        for name, _, value in (line.partition(":") for line in header_lines)
    }
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-response"
        rest += chunk
    return int(status_line.split()[1]), headers, orjson.loads(rest[:length])


def test_a_body_over_the_in_flight_budget_gets_429_before_it_is_read(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(
        max_body_bytes=100_000,
        max_inflight_bytes_per_principal=150_000,
        max_inflight_bytes=250_000,
        retry_after_s=3,
    )
    flood_key = svc.key("ingester")
    events = _batch("flood", 0, 100)
    body = orjson.dumps(events)
    body += b" " * (100_000 - len(body))  # JSON may end in whitespace: exactly 100,000 bytes

    # A first request is admitted and its body is still arriving: 100,000 bytes held.
    first = _send_head(svc.port, flood_key, len(body), body[:10])
    try:
        _poll(lambda: _holds_at_least(svc, 100_000), "the first body is held")
        # A second one of the same principal would hold 200,000 > 150,000 bytes: it is
        # refused on its headers; not a byte of its body is ever sent.
        second = _send_head(svc.port, flood_key, len(body))
        try:
            try:
                status, headers, answer = _read_response(second)
            except TimeoutError:
                raise AssertionError(
                    "no answer before the body was sent: the service waited to read it"
                ) from None
        finally:
            second.close()
        assert status == 429, answer
        assert headers["retry-after"] == "3"
        assert "request bytes in flight" in answer["error"]
        assert "at most 150000 per principal" in answer["error"]

        # Another principal still has room (the service-wide budget is 250,000).
        with svc.client("admin") as other:
            assert other.post("/v1/events", json=[_log_event("other", 0)]).status_code == 200

        first.sendall(body[10:])
        status, _, answer = _read_response(first)
        assert status == 200, answer
        assert answer["accepted"] == 100
    finally:
        first.close()
    _poll(lambda: _bytes_in_flight(svc) == 0, "every byte is released")
    assert len(_seqs(clean_graph, "flood")) == 100


def test_the_ingest_mutation_over_the_event_rate_is_a_retryable_error(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(max_batch_events=500, ingest_event_rate_limit="500/minute")
    mutation = "mutation($e: [JSON!]!) { ingestEvents(events: $e) { accepted } }"
    with svc.client("ingester") as client:
        first = client.post(
            "/graphql", json={"query": mutation, "variables": {"e": _batch("gql", 0, 400)}}
        )
        assert first.json()["data"]["ingestEvents"]["accepted"] == 400, first.text
        over = client.post(
            "/graphql", json={"query": mutation, "variables": {"e": _batch("gql", 400, 200)}}
        ).json()
    (error,) = over["errors"]
    assert error["extensions"]["code"] == "OVERLOADED", error
    assert error["extensions"]["retryAfter"] >= 1
    assert "event rate limit exceeded" in error["message"]
    assert len(_seqs(clean_graph, "gql")) == 400


def test_the_idle_writer_keeps_no_batch_alive(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # After a burst the writer waits for more work; what it committed last must be
    # collectable then, not held (with all its rows) until the next request comes.
    import gc
    import weakref

    svc = make_service()
    services = svc.app.state.services

    async def submit_and_watch() -> weakref.ref[Any]:
        unit = await services.ingest.prepare_cooperatively(_batch("idle", 0, 200), "key:test")
        ref = weakref.ref(unit)
        await services.committer.submit(unit)
        return ref

    ref = svc.call(submit_and_watch())

    def collected() -> bool:
        svc.call(asyncio.sleep(0))  # one loop turn, not a wait: the writer goes back to waiting
        gc.collect()
        return ref() is None

    _poll(collected, "the committed batch is collectable", 10)
    assert len(_seqs(clean_graph, "idle")) == 200


def test_memory_is_trimmed_once_a_burst_is_over(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    svc = make_service(memory_trim_delay_s=0.2, memory_trim_min_bytes=50_000)
    trimmer = getattr(svc.app.state.services, "heap_trimmer", None)
    assert trimmer is not None and trimmer.enabled, "no heap trimming in this service"
    with svc.client("ingester") as client:
        assert client.post("/v1/events", json=_batch("burst", 0, 400)).status_code == 200
    _poll(lambda: trimmer.trims == 1, "the heap is trimmed after the burst", 10)


def test_a_chunked_body_is_charged_as_it_arrives(
    clean_graph: Driver, make_service: Callable[..., RunningService]
) -> None:
    # Without a Content-Length the bytes are charged chunk by chunk: the request is
    # refused once what arrived no longer fits, without waiting for the rest.
    svc = make_service(
        max_body_bytes=100_000,
        max_inflight_bytes_per_principal=150_000,
        max_inflight_bytes=250_000,
    )
    flood_key = svc.key("ingester")
    first = _send_head(svc.port, flood_key, 100_000, b"[")
    try:
        _poll(lambda: _holds_at_least(svc, 100_000), "the first body is held")
        chunk = b" " * 60_000
        chunked = _send_head(svc.port, flood_key, None, b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        try:
            try:
                status, headers, answer = _read_response(chunked)
            except TimeoutError:
                raise AssertionError("no answer before the chunked body ended") from None
        finally:
            chunked.close()
        assert status == 429, answer
        assert "retry-after" in headers
        assert "request bytes in flight" in answer["error"]
    finally:
        first.close()
    _poll(lambda: _bytes_in_flight(svc) == 0, "every byte is released")
