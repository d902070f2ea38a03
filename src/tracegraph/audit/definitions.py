"""What a ``pipeline.defined`` event changed, as audit records.

The ingest transaction reads the stored state of the pipelines a batch defines
(:class:`PipelineState`), then :func:`definition_changes` walks the batch's definitions in
seq order applying the same rule as ``cypher/apply_pipeline_defined.cypher`` (a
definition wins over the stored one when its time is later, ties going to the later seq).
Every definition that wins and differs from the state it replaces gives records, so the
trail does not depend on how events were grouped into batches, and replaying the event
log reproduces it exactly (ids, times and actors all come from the event).

Actions: ``pipeline.defined`` (version, description, schedule and steps changed; target
``pipeline:<name>``), ``owner.changed`` and ``sla.changed`` (target ``pipeline:<name>``
or ``step:<pipeline>/<key>``) — separate so that a reviewer can filter by action.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tracegraph.audit.record import AuditRecord

# The actor of an ingest whose principal is unknown (events stored before authentication).
UNKNOWN_ACTOR = "system:unknown"
SLA_FIELDS = (
    "max_duration_ms",
    "max_tokens",
    "max_cost_usd",
    "min_success_rate",
    "window",
    "max_start_delay_ms",
)
_STEP_SHAPE = ("name", "kind", "description")
_IDS = uuid.UUID("6f1d8a52-3c1e-4d8e-9a57-0c1f2d3e4b5a")


def sla_view(sla: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An SLA as the trail shows it: the set fields only; None when nothing is set."""
    if not sla:
        return None
    view = {k: sla[k] for k in SLA_FIELDS if sla.get(k) is not None}
    return view or None


def pipeline_target(pipeline: str) -> str:
    return f"pipeline:{pipeline}"


def step_target(pipeline: str, step: str) -> str:
    return f"step:{pipeline}/{step}"


@dataclass(frozen=True, slots=True)
class Governance:
    """Who owns a pipeline or step and what SLA governs it."""

    owner: str | None = None
    sla: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class PipelineState:
    """A pipeline as stored: its winning definition (None before the first one) and the
    owners and SLAs in the graph (which admins may have changed since)."""

    name: str
    defined_at: datetime | None = None
    defined_seq: int | None = None
    definition: dict[str, Any] | None = None
    governance: Governance = field(default_factory=Governance)
    steps: Mapping[str, Governance] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DefinitionEvent:
    """The parts of a stored ``pipeline.defined`` event the trail needs."""

    id: str
    seq: int
    time: datetime
    received_at: datetime
    principal: str | None
    pipeline: str
    data: dict[str, Any]


def record_id(ev: DefinitionEvent, n: int, action: str, target: str) -> str:
    """Deterministic, so recording the same change twice (replay) is one entry. It starts
    with the event's seq and the record's rank within the event: the records of one
    ingest share a time, and the trail orders equal times by id."""
    digest = uuid.uuid5(_IDS, f"{ev.id}\x1f{action}\x1f{target}").hex[:16]
    return f"{ev.seq:012d}-{n:03d}-{digest}"


def definition_view(data: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A definition minus owners and SLAs (which have their own actions)."""
    if data is None:
        return None
    steps = []
    for st in data.get("steps") or []:
        step: dict[str, Any] = {"key": st["key"]}
        step.update({k: st[k] for k in _STEP_SHAPE if st.get(k) is not None})
        if st.get("depends_on"):
            step["depends_on"] = list(st["depends_on"])
        steps.append(step)
    return {
        "version": data.get("version"),
        "description": data.get("description"),
        "schedule": data.get("schedule"),
        "steps": steps,
    }


def _governance_of(data: Mapping[str, Any]) -> Governance:
    return Governance(owner=data.get("owner"), sla=sla_view(data.get("sla")))


def _wins(ev: DefinitionEvent, state: PipelineState) -> bool:
    if state.defined_at is None:
        return True
    if ev.time != state.defined_at:
        return ev.time > state.defined_at
    return ev.seq > (state.defined_seq or 0)


def _governance_changes(
    ev: DefinitionEvent, target: str, old: Governance, new: Governance
) -> list[AuditRecord]:
    out = []
    if old.owner != new.owner:
        out.append(_record(ev, "owner.changed", target, {"owner": old.owner}, {"owner": new.owner}))
    if old.sla != new.sla:
        out.append(_record(ev, "sla.changed", target, {"sla": old.sla}, {"sla": new.sla}))
    return out


def _record(
    ev: DefinitionEvent,
    action: str,
    target: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> AuditRecord:
    return AuditRecord(
        actor=ev.principal or UNKNOWN_ACTOR,
        action=action,
        target=target,
        before=before,
        after=after,
        at=ev.received_at,
    )  # its id is set by definition_changes, from its rank


def _changes(ev: DefinitionEvent, state: PipelineState) -> list[AuditRecord]:
    out = []
    target = pipeline_target(ev.pipeline)
    before, after = definition_view(state.definition), definition_view(ev.data)
    if before != after:
        out.append(_record(ev, "pipeline.defined", target, before, after))
    out.extend(_governance_changes(ev, target, state.governance, _governance_of(ev.data)))
    for st in ev.data.get("steps") or []:
        old = state.steps.get(st["key"], Governance())
        out.extend(
            _governance_changes(ev, step_target(ev.pipeline, st["key"]), old, _governance_of(st))
        )
    return out


def _applied(ev: DefinitionEvent) -> PipelineState:
    return PipelineState(
        name=ev.pipeline,
        defined_at=ev.time,
        defined_seq=ev.seq,
        definition=ev.data,
        governance=_governance_of(ev.data),
        steps={st["key"]: _governance_of(st) for st in ev.data.get("steps") or []},
    )


def definition_changes(
    states: Mapping[str, PipelineState], events: Iterable[DefinitionEvent]
) -> list[AuditRecord]:
    """The records of the definitions in ``events`` that win, against ``states`` (the
    stored pipelines; a missing one has never been defined)."""
    current = dict(states)
    out: list[AuditRecord] = []
    for ev in sorted(events, key=lambda e: e.seq):
        state = current.get(ev.pipeline) or PipelineState(name=ev.pipeline)
        if not _wins(ev, state):
            continue
        # Ranked in the order they were found (pipeline first, then steps in order).
        out.extend(
            dataclasses.replace(r, id=record_id(ev, n, r.action, r.target))
            for n, r in enumerate(_changes(ev, state))
        )
        current[ev.pipeline] = _applied(ev)
    return out


def names_of(events: Sequence[DefinitionEvent]) -> list[str]:
    return sorted({ev.pipeline for ev in events})
