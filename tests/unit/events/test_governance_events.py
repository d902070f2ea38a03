"""Admin changes as events (issue 19): the payloads the service writes, and emitters
being refused when they send one."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracegraph.events import InvalidEvent, parse_event
from tracegraph.events.governance import (
    GOVERNANCE_TYPES,
    owner_set_event,
    policy_set_event,
    sla_set_event,
)
from tracegraph.store.graph_rows import build_event_rows

AT = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


def test_payloads_are_canonical_envelopes() -> None:
    owner = owner_set_event("rag-nightly", "chunk", "team:search", AT)
    assert owner["id"].startswith("admin-")
    assert {k: v for k, v in owner.items() if k != "id"} == {
        "type": "pipeline.owner_set",
        "time": "2026-11-20T02:00:00.000000Z",
        "source": "tracegraph/admin",
        "attempt": 1,
        "pipeline": "rag-nightly",
        "step": "chunk",
        "data": {"owner": "team:search"},
    }
    sla = sla_set_event("rag-nightly", None, None, AT)
    assert "step" not in sla and sla["data"] == {"sla": None}
    policy = policy_set_event(["email"], [("ticket", "TCK-[0-9]+")], AT)
    assert "pipeline" not in policy
    assert policy["data"] == {
        "builtins": ["email"],
        "custom_rules": [{"name": "ticket", "pattern": "TCK-[0-9]+"}],
    }
    assert owner_set_event("p", None, "team:x", AT)["id"] != owner["id"]


def test_their_log_rows_name_the_pipeline_and_no_family() -> None:
    # The log row carries the pipeline (the card's version counts it); no statement
    # family applies them (the writer applies each on its own, in seq order).
    rows = build_event_rows(
        owner_set_event("rag-nightly", None, "team:x", AT), "fp", "t", "key:admin", None
    )
    assert rows.log["pipeline"] == "rag-nightly" and rows.log["principal"] == "key:admin"
    assert rows.family == []


@pytest.mark.parametrize(
    ("event_type", "mutation"),
    [
        ("pipeline.owner_set", "setOwner"),
        ("pipeline.sla_set", "setSla"),
        ("redaction.policy_set", "setRedactionPolicy"),
        # The governance gate's: an emitter can neither gate nor approve anything.
        ("gate.policy_set", "setGatePolicy"),
        ("change.requested", "a gated change"),
        ("change.decided", "approveChange / rejectChange"),
    ],
)
def test_emitters_cannot_send_them(event_type: str, mutation: str) -> None:
    assert event_type in GOVERNANCE_TYPES
    raw = {
        "id": "forged",
        "type": event_type,
        "time": "2026-11-20T02:00:00Z",
        "source": "forger",
        "pipeline": "rag-nightly",
        "data": {},
    }
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    assert str(caught.value) == (
        f"type: '{event_type}' is written by the service itself for {mutation} "
        "(an admin change); it cannot be ingested"
    )
