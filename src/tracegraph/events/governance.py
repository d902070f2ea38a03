"""Admin changes as events: owners, SLAs and the redaction policy (issue 19).

``setOwner``, ``setSla`` and ``setRedactionPolicy`` do not write the graph themselves:
each becomes one of these events, stored in the event log and applied by the same
writer as ingested events (``store.event_writer``), so a rebuild from the log
(``tracegraph replay``) reproduces them. Only the service writes them, from admin input
it has already checked; emitters cannot send them (``parse_event`` refuses the types),
so an ingest key can never change an owner, an SLA or the policy. The actor is the log
row's ``principal``, as for every event. docs/governance.md describes the payloads as an
extension of the event contract.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from tracegraph.events.fields import format_timestamp

OWNER_SET = "pipeline.owner_set"
SLA_SET = "pipeline.sla_set"
POLICY_SET = "redaction.policy_set"
# The governance gate (docs/governance.md, "The gate"): which changes need approval, a
# change proposed for review, and a reviewer's decision on it. Their pipeline is in
# `data`, not the envelope: they change no pipeline (nor its card) by themselves.
GATE_POLICY_SET = "gate.policy_set"
CHANGE_REQUESTED = "change.requested"
CHANGE_DECIDED = "change.decided"
GOVERNANCE_TYPES = frozenset(
    {OWNER_SET, SLA_SET, POLICY_SET, GATE_POLICY_SET, CHANGE_REQUESTED, CHANGE_DECIDED}
)
# The envelope's `source` of every admin change.
SOURCE = "tracegraph/admin"
# Which mutation writes each type (for the refusal an emitter gets).
WRITTEN_BY = {
    OWNER_SET: "setOwner",
    SLA_SET: "setSla",
    POLICY_SET: "setRedactionPolicy",
    GATE_POLICY_SET: "setGatePolicy",
    CHANGE_REQUESTED: "a gated change",
    CHANGE_DECIDED: "approveChange / rejectChange",
}


def is_governance(event_type: str) -> bool:
    return event_type in GOVERNANCE_TYPES


def _envelope(
    event_type: str, at: datetime, pipeline: str | None, step: str | None, data: dict[str, Any]
) -> dict[str, Any]:
    # Canonical like an ingested event's payload (tracegraph.events.canonical_payload):
    # None fields dropped, `attempt` filled in.
    payload: dict[str, Any] = {
        "id": f"admin-{uuid.uuid4()}",
        "type": event_type,
        "time": format_timestamp(at),
        "source": SOURCE,
        "attempt": 1,
        "data": data,
    }
    if pipeline is not None:
        payload["pipeline"] = pipeline
    if step is not None:
        payload["step"] = step
    return payload


def owner_set_event(pipeline: str, step: str | None, owner: str, at: datetime) -> dict[str, Any]:
    """The owner of a pipeline (``step`` None) or of one of its steps (already checked)."""
    return _envelope(OWNER_SET, at, pipeline, step, {"owner": owner})


def sla_set_event(
    pipeline: str, step: str | None, sla: dict[str, Any] | None, at: datetime
) -> dict[str, Any]:
    """The SLA of a pipeline or step (already checked); ``sla`` None removes it."""
    return _envelope(SLA_SET, at, pipeline, step, {"sla": sla})


def policy_set_event(
    builtins: Sequence[str], custom_rules: Sequence[tuple[str, str]], at: datetime
) -> dict[str, Any]:
    """The whole redaction policy (already compiled); about no pipeline."""
    rules = [{"name": name, "pattern": pattern} for name, pattern in custom_rules]
    return _envelope(
        POLICY_SET, at, None, None, {"builtins": list(builtins), "custom_rules": rules}
    )


def gate_policy_set_event(
    pipeline: str | None, gated: Sequence[str], at: datetime
) -> dict[str, Any]:
    """Which change kinds of ``pipeline`` (None: the default) need approval."""
    return _envelope(GATE_POLICY_SET, at, None, None, {"pipeline": pipeline, "gated": list(gated)})


def change_requested_event(request: dict[str, Any], at: datetime) -> dict[str, Any]:
    """A gated change held for review: ``request`` has its ``id``, ``kind``,
    ``pipeline``, ``step``, ``payload``, ``diff`` and the ``base`` it was made against."""
    return _envelope(CHANGE_REQUESTED, at, None, None, request)


def change_decided_event(
    request_id: str, approved: bool, comment: str | None, applied_event: str | None, at: datetime
) -> dict[str, Any]:
    """A reviewer's decision (the reviewer is the event's principal); ``applied_event``
    is the id of the change's own event, committed with it when approved."""
    data = {
        "id": request_id,
        "decision": "approved" if approved else "rejected",
        "comment": comment,
        "applied_event": applied_event,
    }
    return _envelope(CHANGE_DECIDED, at, None, None, data)
