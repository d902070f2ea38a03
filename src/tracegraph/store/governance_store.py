"""Admin changes as the event writer applies them: owners, SLAs, the redaction policy.

``setOwner`` / ``setSla`` / ``setRedactionPolicy`` are events (``events/governance.py``)
written to the log like ingested ones; :func:`apply_change_in_tx` applies one inside the
writer's transaction, in seq order with the batch's other events (``EventWriter``), live
and in a replay alike. The graph is written exactly as a ``pipeline.defined`` event
writes it (``Owner`` nodes, ``SLA`` nodes keyed ``pipeline:<name>`` /
``step:<pipeline>/<key>``), so SLA evaluation reads a new SLA the same way; a later
definition of the pipeline replaces both, as definitions do.

Audit entries are recorded in the same transaction when something changed, with the
event's principal as the actor, its time, and an id derived from the event: a replay
re-merges the same entry instead of adding one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import orjson
from neo4j import AsyncManagedTransaction

from tracegraph.audit import AuditRecord
from tracegraph.audit.definitions import SLA_FIELDS, pipeline_target, sla_view, step_target
from tracegraph.events.governance import (
    CHANGE_DECIDED,
    CHANGE_REQUESTED,
    GATE_POLICY_SET,
    OWNER_SET,
    POLICY_SET,
    SLA_SET,
)
from tracegraph.events.records import SequencedEvent
from tracegraph.redaction import RedactionPolicy
from tracegraph.store.audit_store import record_in_tx
from tracegraph.store.base import Store
from tracegraph.store.cypher_files import cypher
from tracegraph.store.policy_store import AUDIT_ACTION, AUDIT_TARGET, POLICY_ID

_IDS = uuid.UUID("2b8c7e61-4f0a-4c2d-8d1e-9a6b3c5d7e80")
# Who an admin change is attributed to when its log row names nobody (never, from the API).
_UNKNOWN_ACTOR = "system:unknown"


class UnknownTarget(LookupError):
    """No such pipeline, or no such step in the pipeline's definition."""


def _target(pipeline: str, step: str | None) -> str:
    return pipeline_target(pipeline) if step is None else step_target(pipeline, step)


def unknown_target(pipeline: str, step: str | None) -> UnknownTarget:
    if step is None:
        return UnknownTarget(f"unknown pipeline {pipeline!r}")
    return UnknownTarget(f"unknown step {step!r} of pipeline {pipeline!r} (or unknown pipeline)")


def _entry(
    ev: SequencedEvent,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditRecord:
    # Starts with the seq like a definition's entries (audit.definitions.record_id).
    digest = uuid.uuid5(_IDS, f"{ev.id}\x1f{action}\x1f{target}").hex[:16]
    return AuditRecord(
        actor=ev.principal or _UNKNOWN_ACTOR,
        action=action,
        target=target,
        before=before,
        after=after,
        at=datetime.fromisoformat(ev.payload["time"]),
        id=f"{ev.seq:012d}-000-{digest}",
    )


async def _apply_owner(tx: AsyncManagedTransaction, ev: SequencedEvent) -> list[AuditRecord]:
    p = ev.payload
    pipeline, step, owner = p["pipeline"], p.get("step"), p["data"]["owner"]
    kind, _, name = owner.partition(":")
    result = await tx.run(
        cypher("apply_owner_set"),
        pipeline=pipeline,
        step=step,
        owner={"id": owner, "kind": kind, "name": name},
    )
    rec = await result.single()
    if rec is None or rec["before"] == owner:  # unknown target, or no change
        return []
    target = _target(pipeline, step)
    return [_entry(ev, "owner.changed", target, {"owner": rec["before"]}, {"owner": owner})]


async def _apply_sla(tx: AsyncManagedTransaction, ev: SequencedEvent) -> list[AuditRecord]:
    p = ev.payload
    pipeline, step = p["pipeline"], p.get("step")
    after = sla_view(p["data"].get("sla"))
    sla_id = f"pipeline:{pipeline}" if step is None else f"step:{pipeline}/{step}"
    row = None if after is None else {"id": sla_id, **{k: after.get(k) for k in SLA_FIELDS}}
    result = await tx.run(cypher("apply_sla_set"), pipeline=pipeline, step=step, sla=row)
    rec = await result.single()
    if rec is None:
        return []
    before = sla_view(rec["before"])
    if before == after:
        return []
    return [_entry(ev, "sla.changed", _target(pipeline, step), {"sla": before}, {"sla": after})]


def _rules(rows: list[dict[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((r["name"], r["pattern"]) for r in rows)


async def _apply_policy(tx: AsyncManagedTransaction, ev: SequencedEvent) -> list[AuditRecord]:
    data = ev.payload["data"]
    result = await tx.run(
        cypher("apply_policy_set"),
        id=POLICY_ID,
        seq=ev.seq,
        builtins=list(data["builtins"]),
        custom_rules=orjson.dumps(data["custom_rules"]).decode(),
        at=ev.payload["time"],
        actor=ev.principal,
    )
    rec = await result.single(strict=True)
    if not rec["applies"]:
        return []
    version = int(rec["version"])
    after = RedactionPolicy(
        builtins=tuple(data["builtins"]), custom_rules=_rules(data["custom_rules"]), version=version
    )
    before = None
    if rec["old_builtins"] is not None:
        before = RedactionPolicy(
            builtins=tuple(rec["old_builtins"]),
            custom_rules=_rules(orjson.loads(rec["old_custom_rules"] or "[]")),
            version=version - 1,
        ).snapshot()
    return [_entry(ev, AUDIT_ACTION, AUDIT_TARGET, before, after.snapshot())]


def gate_policy_id(pipeline: str | None) -> str:
    return "default" if pipeline is None else f"pipeline:{pipeline}"


async def _apply_gate_policy(tx: AsyncManagedTransaction, ev: SequencedEvent) -> list[AuditRecord]:
    data = ev.payload["data"]
    pipeline, gated = data.get("pipeline"), list(data["gated"])
    policy_id = gate_policy_id(pipeline)
    result = await tx.run(
        cypher("apply_gate_policy_set"),
        id=policy_id,
        pipeline=pipeline,
        gated=gated,
        actor=ev.principal,
        at=ev.payload["time"],
        seq=ev.seq,
    )
    rec = await result.single(strict=True)
    before = None if rec["before"] is None else {"gated": list(rec["before"])}
    if before == {"gated": gated}:
        return []
    return [_entry(ev, "gate.policy_changed", f"gate:{policy_id}", before, {"gated": gated})]


async def _apply_change_requested(
    tx: AsyncManagedTransaction, ev: SequencedEvent
) -> list[AuditRecord]:
    data = ev.payload["data"]
    request = {
        "id": data["id"],
        "kind": data["kind"],
        "pipeline": data["pipeline"],
        "step": data.get("step"),
        "payload": orjson.dumps(data["payload"]).decode(),
        "diff": orjson.dumps(data["diff"]).decode(),
        "base_version": data.get("base_version"),
        "base_digest": data["base_digest"],
        "author": ev.principal or _UNKNOWN_ACTOR,
        "requested_seq": ev.seq,
    }
    await (
        await tx.run(cypher("apply_change_requested"), request=request, at=ev.payload["time"])
    ).consume()
    after = {"kind": data["kind"], "pipeline": data["pipeline"], "step": data.get("step")}
    return [_entry(ev, "change.requested", f"change:{data['id']}", None, after)]


async def _apply_change_decided(
    tx: AsyncManagedTransaction, ev: SequencedEvent
) -> list[AuditRecord]:
    data = ev.payload["data"]
    result = await tx.run(
        cypher("apply_change_decided"),
        id=data["id"],
        decision=data["decision"],
        comment=data.get("comment"),
        applied_event=data.get("applied_event"),
        actor=ev.principal or _UNKNOWN_ACTOR,
        at=ev.payload["time"],
    )
    if await result.single() is None:  # unknown, or decided already
        return []
    after = {"state": data["decision"], "comment": data.get("comment")}
    return [
        _entry(
            ev, f"change.{data['decision']}", f"change:{data['id']}", {"state": "pending"}, after
        )
    ]


_APPLY = {
    OWNER_SET: _apply_owner,
    SLA_SET: _apply_sla,
    POLICY_SET: _apply_policy,
    GATE_POLICY_SET: _apply_gate_policy,
    CHANGE_REQUESTED: _apply_change_requested,
    CHANGE_DECIDED: _apply_change_decided,
}


async def apply_change_in_tx(tx: AsyncManagedTransaction, ev: SequencedEvent) -> None:
    """Apply one admin-change event (its log row is written with the batch) and record
    its audit entry when it changed something."""
    entries = await _APPLY[ev.type](tx, ev)
    await record_in_tx(tx, entries)


class GovernanceStore(Store):
    async def require_target(self, pipeline: str, step: str | None) -> None:
        """Raise :class:`UnknownTarget` unless the pipeline (or its step) exists."""
        [rec] = await self.read("governance_target", pipeline=pipeline, step=step)
        if not rec["exists"]:
            raise unknown_target(pipeline, step)
