"""Prometheus collectors of the ingest path (the group committer feeds them).

Each :class:`IngestMetrics` owns its own ``CollectorRegistry``, so several apps (and
committers) in one process — the test suite — never collide on metric names. The API's
``/metrics`` route exposes it together with the request metrics of its app.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram

# Every quarantine reason falls in one of these, so the label's cardinality stays fixed.
REASON_CLASSES = (
    "conflict",
    "not_an_object",
    "type",
    "missing_field",
    "invalid_field",
    "other",
)

_BATCH_BUCKETS = (1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
_COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def reason_class(reason: str) -> str:
    """The class of a rejection reason (``<field path>: <problem>`` or a conflict)."""
    if reason.startswith("conflict"):
        return "conflict"
    if reason.startswith("event must be a JSON object"):
        return "not_an_object"
    field, _, problem = reason.partition(": ")
    if field == "type":
        return "type"
    if not problem:
        return "other"
    if problem.startswith(("required", "field required", "missing")):
        return "missing_field"
    return "invalid_field"


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.events = Counter(
            "tracegraph_ingest_events",
            "Events taken by ingestion, by outcome (accepted, duplicate, rejected, conflict) "
            "and, for rejections, the class of the reason.",
            ["outcome", "reason"],
            registry=self.registry,
        )
        self.batches = Counter(
            "tracegraph_ingest_batches",
            "Write transactions of the group committer, by result.",
            ["result"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "tracegraph_ingest_batch_size_events",
            "Events (stored, duplicate or rejected) per committed write transaction.",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "tracegraph_ingest_commit_seconds",
            "Wall time of a write transaction, including driver retries.",
            buckets=_COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.neo4j_errors = Counter(
            "tracegraph_neo4j_errors",
            "Failed write transactions: 'unavailable' (answered 503) or 'other'.",
            ["kind"],
            registry=self.registry,
        )
        self.overloaded = Counter(
            "tracegraph_ingest_overloaded_requests",
            "Ingest requests answered 429 (queue full, or a principal's event or byte budget).",
            registry=self.registry,
        )
        self.deadline_passed = Counter(
            "tracegraph_ingest_deadline_passed_requests",
            "Requests answered 503 because their commit did not finish within the deadline.",
            registry=self.registry,
        )
        self.writer_restarts = Counter(
            "tracegraph_ingest_writer_restarts",
            "Times the group-commit writer task died and was restarted.",
            registry=self.registry,
        )
        # Pre-create the usual series so dashboards see zeros rather than gaps.
        for outcome in ("accepted", "duplicate"):
            self.events.labels(outcome, "none")
        for result in ("committed", "failed"):
            self.batches.labels(result)
        for kind in ("unavailable", "other"):
            self.neo4j_errors.labels(kind)

    def committed(
        self, *, events: int, accepted: int, duplicates: int, reasons: Iterable[str], seconds: float
    ) -> None:
        self.batches.labels("committed").inc()
        self.batch_size.observe(events)
        self.commit_seconds.observe(seconds)
        if accepted:
            self.events.labels("accepted", "none").inc(accepted)
        if duplicates:
            self.events.labels("duplicate", "none").inc(duplicates)
        for reason in reasons:
            cls = reason_class(reason)
            outcome = "conflict" if cls == "conflict" else "rejected"
            self.events.labels(outcome, cls).inc()

    def failed(self, *, unavailable: bool, seconds: float) -> None:
        self.batches.labels("failed").inc()
        self.commit_seconds.observe(seconds)
        self.neo4j_errors.labels("unavailable" if unavailable else "other").inc()
