"""A sample of every write the ingest path makes, for planning the statements at start.

Neo4j plans a statement the first time it runs it; on a cold server planning the batch
statements takes longer than an ingest request may wait (4.5 s). The sample is written
in a transaction that is rolled back (``EventWriter.plan_ahead``): the plans stay, the
data does not.
"""

from __future__ import annotations

from typing import Any

from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events.records import WriteUnit
from tracegraph.ingest.service import IngestService

# Enough of the demo stream to hold every event type (runs, steps, LLM calls, artifacts,
# retries and failures) of every pipeline; generated in a few milliseconds.
SAMPLE_EVENTS = 400


def sample_events() -> list[Any]:
    """Definitions, interleaved runs, and one invalid event (the quarantine write)."""
    events: list[Any] = WorkloadGenerator(seed=1).events(SAMPLE_EVENTS, fail_rate=0.3)
    events.append({"type": "not.an.event"})
    return events


def warmup_unit(ingest: IngestService) -> WriteUnit:
    return ingest.prepare(sample_events(), principal="tracegraph:warmup")


def replan_unit(ingest: IngestService) -> WriteUnit:
    """What the writer plans again after an outage: one event, so the statements every
    batch runs (the claim and ``apply_batch``, whose one map parameter gives one plan
    whatever the batch holds) and nothing rarer, which the first batch needing it plans."""
    event = {
        "id": "tracegraph-replan",
        "type": "log",
        "time": "2026-01-01T00:00:00Z",
        "source": "tracegraph/warmup",
        "data": {"level": "info", "message": "planning after an outage"},
    }
    return ingest.prepare([event], principal="tracegraph:warmup")
