"""A sample of every write the ingest path makes, for planning the statements at start.

Neo4j plans a statement the first time it runs it; on a cold server planning the batch
statements takes longer than an ingest request may wait (4.5 s). The sample is written
in a transaction that is rolled back (``EventWriter.plan_ahead``): the plans stay, the
data does not.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events import payload_fingerprint
from tracegraph.events.governance import (
    change_decided_event,
    change_requested_event,
    gate_policy_set_event,
    owner_set_event,
    policy_set_event,
    sla_set_event,
)
from tracegraph.events.records import PendingEvent, WriteUnit
from tracegraph.ingest.service import IngestService

# Enough of the demo stream to hold every event type (runs, steps, LLM calls, artifacts,
# retries and failures) of every pipeline; generated in a few milliseconds.
SAMPLE_EVENTS = 400


def sample_events() -> list[Any]:
    """Definitions, interleaved runs, and one invalid event (the quarantine write)."""
    events: list[Any] = WorkloadGenerator(seed=1).events(SAMPLE_EVENTS, fail_rate=0.3)
    events.append({"type": "not.an.event"})
    return events


def admin_change_events(events: list[Any]) -> list[dict[str, Any]]:
    """One of each admin change (owner, SLA set and removed, policy) on the sample's first
    pipeline and step: their statements (and the extra apply_batch of the segment they
    end) are planned too, not on an admin's first change."""
    definition = next(e for e in events if e.get("type") == "pipeline.defined")
    pipeline, step = definition["pipeline"], definition["data"]["steps"][0]["key"]
    at = datetime.now(UTC)
    return [
        owner_set_event(pipeline, None, "team:tracegraph-warmup", at),
        owner_set_event(pipeline, step, "team:tracegraph-warmup", at),
        sla_set_event(pipeline, None, {"max_duration_ms": 1000}, at),
        sla_set_event(pipeline, step, None, at),
        policy_set_event(["email"], [], at),
        # The governance gate's (docs/governance.md): a policy, a request, its decision.
        gate_policy_set_event(pipeline, ["owners"], at),
        change_requested_event(_WARMUP_REQUEST | {"pipeline": pipeline}, at),
        change_decided_event(_WARMUP_REQUEST["id"], True, "warmup", None, at),
    ]


_WARMUP_REQUEST: dict[str, Any] = {
    "id": "cr-tracegraph-warmup",
    "kind": "owner",
    "step": None,
    "payload": {"owner": "team:tracegraph-warmup"},
    "diff": {"from_version": None, "to_version": None, "text": "", "changes": []},
    "base_version": None,
    "base_digest": "",
}


def columns_event(events: list[Any]) -> dict[str, Any]:
    """An artifact write with a schema and column lineage (issue 22), made from the
    sample's first write: apply_columns is planned too, not on the first such batch."""
    written = next(e for e in events if e.get("type") == "artifact.written")
    data = {
        **written["data"],
        "version": "tracegraph-warmup",
        "schema": {"fields": [{"name": "id", "type": "BIGINT"}]},
        "column_lineage": [
            {"field": "id", "inputs": [{"uri": "tracegraph/warmup", "field": "id"}]}
        ],
    }
    return {**written, "id": "tracegraph-warmup-columns", "data": data}


def warmup_unit(ingest: IngestService) -> WriteUnit:
    events = sample_events()
    events.append(columns_event(events))
    unit = ingest.prepare(events, principal="tracegraph:warmup")
    # Written by the service, never ingested (parse_event refuses them): added as the
    # admin changes service (ingest/admin_changes.py) submits them.
    unit.events.extend(
        PendingEvent(index=len(events) + i, payload=p, fingerprint=payload_fingerprint(p))
        for i, p in enumerate(admin_change_events(events))
    )
    return unit


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
