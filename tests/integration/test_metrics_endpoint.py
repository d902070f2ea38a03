"""GET /metrics: Prometheus text whose counters move with ingestion."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import RunningService


def _event(i: int, **extra: object) -> dict:
    return {
        "id": f"metrics-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "test",
        "data": {"level": "info", "message": f"hello {i}"},
        **extra,
    }


def _samples(svc: RunningService) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with svc.client() as client:
        resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _get(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_counters_move_after_ingesting(service: RunningService) -> None:
    before = _samples(service)
    assert _get(before, "tracegraph_ingest_pending_events") == 0
    assert _get(before, "tracegraph_schema_ready") == 1
    assert ("tracegraph_live_subscribers", ()) in before

    with service.client() as client:
        assert client.post("/v1/events", json=[_event(1), _event(2)]).status_code == 200
        assert client.post("/v1/events", json=[_event(1)]).status_code == 200  # duplicate
        conflict = {**_event(2), "data": {"level": "info", "message": "changed"}}
        bad = {"id": "metrics-bad", "type": "log", "source": "test", "data": {}}  # no time
        resp = client.post("/v1/events", json=[conflict, bad, {"type": "nope"}])
        assert resp.status_code == 207

    after = _samples(service)

    def delta(name: str, **labels: str) -> float:
        return _get(after, name, **labels) - _get(before, name, **labels)

    assert delta("tracegraph_ingest_events_total", outcome="accepted", reason="none") == 2
    assert delta("tracegraph_ingest_events_total", outcome="duplicate", reason="none") == 1
    assert delta("tracegraph_ingest_events_total", outcome="conflict", reason="conflict") == 1
    assert delta("tracegraph_ingest_events_total", outcome="rejected", reason="missing_field") == 1
    assert delta("tracegraph_ingest_events_total", outcome="rejected", reason="type") == 1
    assert delta("tracegraph_ingest_batches_total", result="committed") == 3
    assert delta("tracegraph_ingest_batch_size_events_count") == 3
    assert delta("tracegraph_ingest_batch_size_events_sum") == 2 + 1 + 3
    assert delta("tracegraph_ingest_commit_seconds_count") == 3
    assert _get(after, "tracegraph_quarantine_open") == 3
    assert (
        delta("tracegraph_http_requests_total", endpoint="/v1/events", method="POST", status="200")
        == 2
    )
    assert (
        delta("tracegraph_http_requests_total", endpoint="/v1/events", method="POST", status="207")
        == 1
    )
    assert _get(after, "tracegraph_neo4j_errors_total", kind="unavailable") == 0


def test_each_app_has_its_own_registry(
    service: RunningService, make_service: Callable[..., RunningService]
) -> None:
    other = make_service()
    with service.client() as client:
        assert client.post("/v1/events", json=[_event(10)]).status_code == 200
    mine, theirs = _samples(service), _samples(other)
    assert _get(mine, "tracegraph_ingest_events_total", outcome="accepted", reason="none") == 1
    assert _get(theirs, "tracegraph_ingest_events_total", outcome="accepted", reason="none") == 0
    # Unmatched paths are one label value, not one per path.
    with other.client() as client:
        client.get("/no/such/path/123")
    assert (
        _get(
            _samples(other),
            "tracegraph_http_requests_total",
            endpoint="unmatched",
            method="GET",
            status="404",
        )
        == 1
    )
