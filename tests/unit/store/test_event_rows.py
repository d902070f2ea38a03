"""Rows built before the seq is known, once stamped, equal the rows built with it: the
ingest path (prebuilt rows) and the replay path (rows built when written) write the
same graph."""

from __future__ import annotations

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
