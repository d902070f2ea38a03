"""The audit trail (``:AuditEntry``): change records written in the changing transaction.

Anything that changes something auditable records its :class:`AuditRecord` list with
:func:`record_in_tx` inside its own write transaction (both or neither commit), or with
:meth:`AuditStore.record` when it has no transaction of its own. Entries are keyed by id
(recording one twice is one entry) and linked ``(AuditEntry)-[:ON]->(node)`` to the
node their target names, when it exists (``cypher/audit_record.cypher``).

Each entry also keeps ``order_key`` (its time as fixed-width text, ``|``, its id): the
trail is read newest first by walking that key in an index, alone or after an equality
on actor, target or action (``cypher/audit_trail_*.cypher``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from neo4j import AsyncManagedTransaction

from tracegraph.audit import AuditRecord
from tracegraph.audit.definitions import (
    DefinitionEvent,
    Governance,
    PipelineState,
    definition_changes,
    names_of,
    sla_view,
)
from tracegraph.events import format_timestamp
from tracegraph.events.records import SequencedEvent
from tracegraph.store.base import Store
from tracegraph.store.batch_params import RowList
from tracegraph.store.cypher_files import cypher

# Above every order_key (they start with a digit): "no upper bound".
_TOP_KEY = "~"


def _json(value: dict[str, Any] | None) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def order_key(at: datetime, entry_id: str) -> str:
    return f"{format_timestamp(at)}|{entry_id}"


def audit_rows(entries: Sequence[AuditRecord]) -> list[dict[str, Any]]:
    rows = []
    for e in entries:
        kind, _, key = e.target.partition(":")
        rows.append(
            {
                "id": e.id,
                "actor": e.actor,
                "action": e.action,
                "target": e.target,
                "target_kind": kind,
                "target_key": key,
                "before": _json(e.before),
                "after": _json(e.after),
                "at": format_timestamp(e.at),
                "order_key": order_key(e.at, e.id),
            }
        )
    return rows


async def record_in_tx(tx: AsyncManagedTransaction, entries: Sequence[AuditRecord]) -> None:
    """Record entries inside the transaction that makes the change (both or neither)."""
    if entries:
        rows = RowList(audit_rows(entries))
        await (await tx.run(cypher("audit_record"), audit={"entries": rows})).consume()


def _definition_event(ev: SequencedEvent) -> DefinitionEvent:
    p = ev.payload
    return DefinitionEvent(
        id=ev.id,
        seq=ev.seq,
        time=datetime.fromisoformat(p["time"]),
        received_at=ev.received_at,
        principal=ev.principal,
        pipeline=p["pipeline"],
        data=p.get("data") or {},
    )


def _state(rec: Any) -> PipelineState:
    defined_at = rec["defined_at"]
    definition = rec["definition"]
    return PipelineState(
        name=rec["name"],
        defined_at=None if defined_at is None else defined_at.to_native(),
        defined_seq=rec["defined_seq"],
        definition=None if definition is None else orjson.loads(definition),
        governance=Governance(owner=rec["owner"], sla=sla_view(rec["sla"])),
        steps={
            s["key"]: Governance(owner=s["owner"], sla=sla_view(s["sla"])) for s in rec["steps"]
        },
    )


async def definition_changes_in_tx(
    tx: AsyncManagedTransaction, events: Sequence[SequencedEvent]
) -> list[AuditRecord]:
    """The audit records of the ``pipeline.defined`` events among ``events``, computed
    against the stored state; call it BEFORE the batch is applied, record the result
    (``record_in_tx``) after."""
    defs = [_definition_event(ev) for ev in events if ev.type == "pipeline.defined"]
    if not defs:
        return []
    result = await tx.run(cypher("audit_definition_state"), names=names_of(defs))
    states = {rec["name"]: _state(rec) async for rec in result}
    return definition_changes(states, defs)


@dataclass(frozen=True, slots=True)
class TrailFilter:
    """Filters of the trail, combinable; ``since`` inclusive, ``until`` exclusive."""

    actor: str | None = None
    target: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _statement(f: TrailFilter) -> str:
    # Seek on the most selective equality given; the others filter the seek's rows.
    if f.target is not None:
        return "audit_trail_by_target"
    if f.actor is not None:
        return "audit_trail_by_actor"
    if f.action is not None:
        return "audit_trail_by_action"
    return "audit_trail_page"


class AuditStore(Store):
    async def record(self, entries: Sequence[AuditRecord]) -> None:
        """Record entries in a write transaction of their own."""
        if not entries:
            return
        await self.transaction(record_in_tx, entries)

    async def page(
        self, f: TrailFilter, *, after_key: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Entries newest first (by time, then id) older than ``after_key`` (a previous
        row's ``order_key``), at most ``limit``. ``before``/``after`` stay JSON text."""
        upper = _TOP_KEY if f.until is None else format_timestamp(f.until)
        if after_key is not None:
            upper = min(upper, after_key)
        lower = "" if f.since is None else format_timestamp(f.since)
        records = await self.read(
            _statement(f),
            actor=f.actor,
            target=f.target,
            action=f.action,
            lower=lower,
            upper=upper,
            limit=limit,
        )
        return [dict(rec["a"]) for rec in records]
