"""Human approvals inside runs (issue 19): the decision events the service writes.

A step asks with ``approval.requested`` (an ordinary, ingested event: the SDK's
``step.await_approval``). The decision is written by the service only — emitters cannot
send these types (``parse_event`` refuses them), so an ingest key can never approve
anything: ``approval.granted`` / ``approval.denied`` from ``approveStep`` / ``denyStep``,
``approval.expired`` from the service's expiry sweep once the request's timeout passed.

Every decision of one approval has the same event id (:func:`decision_event_id`): the
event log accepts one event per id (the claim runs under the seq counter's lock), so
whichever decision commits first — a grant on one replica, a denial on another, the
expiry sweep of a third — is the only one, and the others learn they lost from the
write's answer (a conflict). Exactly once across replicas, with nothing held in one
process. The actor is the log row's ``principal``; ``data.by`` repeats it for readers of
the event alone. docs/approvals.md describes the payloads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tracegraph.events.fields import format_timestamp

REQUESTED = "approval.requested"
GRANTED = "approval.granted"
DENIED = "approval.denied"
EXPIRED = "approval.expired"
DECISION_TYPES = frozenset({GRANTED, DENIED, EXPIRED})
APPROVAL_TYPES = DECISION_TYPES | {REQUESTED}
# The envelope's `source` of every decision.
SOURCE = "tracegraph/approvals"
# Who an expiry is attributed to (the log row's principal and `data.by`).
EXPIRY_ACTOR = "system:approvals"
# Graph state each decision leaves (the request leaves 'pending').
STATE_OF = {GRANTED: "granted", DENIED: "denied", EXPIRED: "expired"}


def decision_event_id(approval: str) -> str:
    """The one event id every decision of ``approval`` has (first committed wins)."""
    return f"approval-decision:{approval}"


def decision_event(
    event_type: str,
    approval: dict[str, Any],
    by: str,
    comment: str | None,
    at: datetime,
) -> dict[str, Any]:
    """A decision about ``approval`` (as the store reads it: pipeline, run, step,
    attempt), canonical like an ingested payload (None fields dropped)."""
    assert event_type in DECISION_TYPES
    data: dict[str, Any] = {"approval": approval["id"], "by": by}
    if comment:
        data["comment"] = comment
    return {
        "id": decision_event_id(approval["id"]),
        "type": event_type,
        "time": format_timestamp(at),
        "source": SOURCE,
        "pipeline": approval["pipeline"],
        "run": approval["run"],
        "step": approval["step"],
        "attempt": int(approval.get("attempt") or 1),
        "data": data,
    }
