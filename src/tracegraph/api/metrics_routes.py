"""``GET /metrics``: the service's own health in the Prometheus text format.

One ``CollectorRegistry`` per app (several apps share a test process). It holds the
request metrics of this module, a collector that reads the running services at scrape
time (pending events, subscribers) and re-exports the ingest collectors owned by the
group committer (``tracegraph.ingest.metrics``), and the open-quarantine gauge that the
route refreshes before each scrape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracegraph.api.authentication import require
from tracegraph.auth import Permission

log = structlog.get_logger(__name__)

router = APIRouter(tags=["health"])

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_QUARANTINE_COUNT_TIMEOUT_S = 2.0


class AppMetrics:
    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tracegraph_http_requests",
            "HTTP requests by route template, method and status.",
            ["endpoint", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "tracegraph_http_request_seconds",
            "HTTP request duration by route template.",
            ["endpoint"],
            buckets=_DURATION_BUCKETS,
            registry=self.registry,
        )
        self.quarantine_open = Gauge(
            "tracegraph_quarantine_open",
            "Quarantined events not resolved yet (refreshed at each scrape).",
            registry=self.registry,
        )
        self.registry.register(_ServicesCollector(app))


class _ServicesCollector(Collector):
    """Reads the live services at scrape time; nothing to keep in sync."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        services = getattr(self._app.state, "services", None)
        if services is None:
            return
        committer = services.committer
        pending = GaugeMetricFamily(
            "tracegraph_ingest_pending_events", "Events queued for the group committer."
        )
        pending.add_metric([], committer.pending_events)
        yield pending
        hub = getattr(services, "hub", None)
        count = getattr(hub, "subscriber_count", None)
        if count is not None:
            subs = GaugeMetricFamily(
                "tracegraph_live_subscribers", "Open live subscriptions on this replica."
            )
            subs.add_metric([], float(count))
            yield subs
        ready = GaugeMetricFamily(
            "tracegraph_schema_ready", "1 once the graph schema is applied (the service is ready)."
        )
        ready.add_metric([], 1.0 if services.schema_ready.is_set() else 0.0)
        yield ready
        yield from _dropped(services)
        yield from _commands(getattr(services, "command_service", None))
        yield from _live_deltas(getattr(hub, "deltas", None))
        ingest_metrics = getattr(committer, "metrics", None)
        if ingest_metrics is not None:
            yield from ingest_metrics.registry.collect()


_DROPPED = (
    # (metric, help, service attribute, counter attribute)
    (
        "tracegraph_live_subscribers_dropped",
        "Live subscribers closed because they fell too far behind.",
        "hub",
        "dropped_subscribers",
    ),
    (
        "tracegraph_sla_work_dropped",
        "Touched runs/step runs not queued for SLA evaluation (queue full).",
        "sla_evaluator",
        "dropped",
    ),
    (
        "tracegraph_webhook_alerts_dropped",
        "Alerts not queued for webhook delivery (queue full).",
        "webhooks",
        "dropped",
    ),
    (
        "tracegraph_webhook_alerts_failed",
        "Alerts whose webhook delivery failed after every attempt.",
        "webhooks",
        "failed",
    ),
)


def _commands(service: Any) -> Iterator[Metric]:
    """The command issuer's group commits (commands/service.py): transactions, the
    requests they took, their wall time split into read, write and commit, the slow ones
    (the tail of issue-to-executor latency), and the requests' wait for one to begin."""
    if service is None:
        return
    for name, help_text, attr in (
        ("tracegraph_command_issue_transactions", "Issuing transactions run.", "groups"),
        (
            "tracegraph_command_issue_requests",
            "Issuing requests taken by those transactions.",
            "grouped_requests",
        ),
        (
            "tracegraph_command_issue_transaction_seconds",
            "Wall time of the issuing transactions, summed.",
            "group_seconds",
        ),
        (
            "tracegraph_command_issue_queue_seconds",
            "Time requests waited for their issuing transaction to begin, summed.",
            "queue_wait_seconds",
        ),
        (
            "tracegraph_command_issue_read_seconds",
            "Time of the issuing transactions' read statement, summed.",
            "reads_seconds",
        ),
        (
            "tracegraph_command_issue_write_seconds",
            "Time of the issuing transactions' write statement (with its wait for the "
            "command counter's lock), summed.",
            "write_seconds",
        ),
        (
            "tracegraph_command_issue_commit_seconds",
            "Time of the issuing transactions' commits, summed.",
            "commit_seconds",
        ),
        (
            "tracegraph_command_issue_slow_transactions",
            "Issuing transactions that took over 100 ms (each also logged with its split).",
            "slow_groups",
        ),
        (
            "tracegraph_command_issue_slow_commits",
            "Issuing transactions whose commit alone took over 100 ms.",
            "slow_commits",
        ),
    ):
        counter = CounterMetricFamily(name, help_text)
        counter.add_metric([], float(getattr(service, attr)))
        yield counter


def _live_deltas(feed: Any) -> Iterator[Metric]:
    """Per-replica counters of the delta subscriptions (docs/live-deltas.md)."""
    stats = getattr(feed, "stats", None)
    if stats is None:
        return
    resyncs = CounterMetricFamily(
        "tracegraph_live_resyncs",
        "Entities clients re-read with snapshots, by reason (INITIAL, GAP, RECONNECT, "
        "OVERFLOW, MISMATCH).",
        labels=["reason"],
    )
    for reason in ("INITIAL", "GAP", "RECONNECT", "OVERFLOW", "MISMATCH"):
        resyncs.add_metric([reason], float(stats.resyncs.get(reason, 0)))
    yield resyncs
    for name, help_text, value in (
        (
            "tracegraph_live_digest_mismatches",
            "digestCheck verdicts that were MISMATCH (a client's document drifted).",
            stats.digest_mismatches,
        ),
        ("tracegraph_live_deltas_sent", "Entity deltas sent to subscribers.", stats.deltas_sent),
        (
            "tracegraph_live_delta_bytes",
            "JSON bytes of the patches of the entity deltas sent.",
            stats.delta_bytes,
        ),
        (
            "tracegraph_live_full_documents_sent",
            "Entity deltas sent as whole documents (initial, or base version not held).",
            stats.full_documents_sent,
        ),
        (
            "tracegraph_live_snapshot_bytes_avoided",
            "Whole-document bytes that patches replaced.",
            stats.snapshot_bytes_avoided,
        ),
    ):
        counter = CounterMetricFamily(name, help_text)
        counter.add_metric([], float(value))
        yield counter


def _dropped(services: Any) -> Iterator[Metric]:
    """Work shed to protect ingestion: counted, so an operator sees what was lost."""
    for name, help_text, owner_name, attr in _DROPPED:
        owner = getattr(services, owner_name, None)
        value = getattr(owner, attr, None)
        if isinstance(value, int):
            family = CounterMetricFamily(name, help_text)
            family.add_metric([], float(value))
            yield family


class RequestMetricsMiddleware:
    """Pure ASGI (no body buffering, WebSockets pass through untouched)."""

    def __init__(self, app: ASGIApp, metrics: AppMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # The route template, not the path: ids in paths would explode cardinality.
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.requests.labels(endpoint, scope.get("method", ""), str(status)).inc()
            self.metrics.request_seconds.labels(endpoint).observe(time.perf_counter() - started)


def install_metrics(app: FastAPI) -> None:
    """Add ``/metrics`` and the request middleware to an app (call once in create_app)."""
    metrics = AppMetrics(app)
    app.state.metrics = metrics
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.include_router(router)


async def _refresh_quarantine(request: Request, metrics: AppMetrics) -> None:
    services: Any = getattr(request.app.state, "services", None)
    if services is None or not services.schema_ready.is_set():
        return
    try:
        count = await asyncio.wait_for(
            services.quarantine.open_count(), _QUARANTINE_COUNT_TIMEOUT_S
        )
    except Exception as exc:
        # A scrape must answer even when Neo4j does not; the gauge keeps its last value.
        log.debug("quarantine count unavailable for /metrics", error=str(exc))
        return
    metrics.quarantine_open.set(count)


@router.get("/metrics", include_in_schema=False, dependencies=[Depends(require(Permission.READ))])
async def get_metrics(request: Request) -> Response:
    metrics: AppMetrics = request.app.state.metrics
    await _refresh_quarantine(request, metrics)
    return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)
