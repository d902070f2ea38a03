"""Rows built before the seq is known, once stamped, equal the rows built with it: the
ingest path (prebuilt rows) and the replay path (rows built when written) write the
same graph."""

from __future__ import annotations

from datetime import UTC, datetime

from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events import format_timestamp
from tracegraph.events.records import SequencedEvent
from tracegraph.ingest.service import IngestService
from tracegraph.store.graph_rows import event_log_rows, plan_statements, stamp


def test_stamped_prebuilt_rows_equal_rows_built_with_the_seq() -> None:
    events = WorkloadGenerator(seed=9).events(3000)
    unit = IngestService(None, None).prepare(events, principal="key:test")  # type: ignore[arg-type]
    types = {p.payload["type"] for p in unit.events}
    assert {"run.completed", "step.progress", "prompt.sent", "artifact.written"} <= types

    prebuilt, inline = [], []
    for seq, pending in enumerate(unit.events, start=41):
        assert pending.rows is not None
        stamp(pending.rows, seq)
        common = (seq, pending.payload, pending.fingerprint, unit.received_at, "key:test")
        prebuilt.append(SequencedEvent(*common, pending.redactions, pending.rows))
        inline.append(SequencedEvent(*common, pending.redactions))

    assert event_log_rows(prebuilt) == event_log_rows(inline)
    assert event_log_rows(prebuilt)[0]["received_at"] == format_timestamp(unit.received_at)
    assert plan_statements(prebuilt, {}) == plan_statements(inline, {})


def test_a_definition_carries_its_step_paths_and_a_batch_its_linked_step_runs() -> None:
    """Inferred lineage's inputs (docs/lineage.md): the winning definition's transitive
    dependencies with their paths, and the step runs that read or wrote."""

    def event(seq: int, payload: dict) -> SequencedEvent:
        base = {"time": "2026-12-01T00:00:00Z", "source": "t", "pipeline": "p", "id": str(seq)}
        return SequencedEvent(seq, base | payload, "", datetime.now(UTC))

    steps = [
        {"key": "extract"},
        {"key": "load", "depends_on": ["extract"]},
        {"key": "report", "depends_on": ["load"]},
    ]
    plan = plan_statements(
        [
            event(1, {"type": "pipeline.defined", "data": {"version": "1", "steps": steps}}),
            event(2, {"type": "artifact.read", "run": "r", "step": "load", "data": {"uri": "a"}}),
            event(3, {"type": "artifact.written", "run": "r", "data": {"uri": "b"}}),  # no step
        ],
        {},
    )
    paths = plan.pipeline_steps["p"]["paths"]
    assert paths["pipeline"] == "p"
    assert paths["paths"] == [
        {"from": "p/load", "to": "p/extract", "path": ["extract", "load"]},
        {"from": "p/report", "to": "p/extract", "path": ["extract", "load", "report"]},
        {"from": "p/report", "to": "p/load", "path": ["load", "report"]},
    ]
    assert paths["signature"] == "extract load\nextract load report\nload report"
    assert plan.linked_step_runs == ["r/load#1"]
