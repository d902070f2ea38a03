"""Admin changes to who owns a pipeline or step and which SLA governs it.

Each change and its audit entry commit in one transaction. The graph is written exactly
as a ``pipeline.defined`` event writes it (``Owner`` nodes, ``SLA`` nodes keyed
``pipeline:<name>`` / ``step:<pipeline>/<key>``), so SLA evaluation picks a new SLA up on
its next round; a later definition of the pipeline replaces both, as definitions do.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from neo4j import AsyncManagedTransaction

from tracegraph.audit import AuditRecord
from tracegraph.audit.definitions import SLA_FIELDS, pipeline_target, sla_view, step_target
from tracegraph.store.audit_store import record_in_tx
from tracegraph.store.base import Store
from tracegraph.store.cypher_files import cypher


class UnknownTarget(LookupError):
    """No such pipeline, or no such step in the pipeline's definition."""


def _target(pipeline: str, step: str | None) -> str:
    return pipeline_target(pipeline) if step is None else step_target(pipeline, step)


def _unknown(pipeline: str, step: str | None) -> UnknownTarget:
    if step is None:
        return UnknownTarget(f"unknown pipeline {pipeline!r}")
    return UnknownTarget(f"unknown step {step!r} of pipeline {pipeline!r} (or unknown pipeline)")


class GovernanceStore(Store):
    async def set_owner(self, pipeline: str, step: str | None, owner: str, actor: str) -> bool:
        """Set the owner (already validated); True when it changed (and was audited)."""
        kind, _, name = owner.partition(":")
        params: dict[str, Any] = {
            "pipeline": pipeline,
            "step": step,
            "owner": {"id": owner, "kind": kind, "name": name},
        }

        async def work(tx: AsyncManagedTransaction) -> bool:
            rec = await (await tx.run(cypher("admin_set_owner"), **params)).single()
            if rec is None:
                raise _unknown(pipeline, step)
            if rec["before"] == owner:
                return False
            entry = AuditRecord(
                actor,
                "owner.changed",
                _target(pipeline, step),
                {"owner": rec["before"]},
                {"owner": owner},
                at=datetime.now(UTC),
            )
            await record_in_tx(tx, [entry])
            return True

        return await self.transaction(work)

    async def set_sla(
        self, pipeline: str, step: str | None, sla: dict[str, Any] | None, actor: str
    ) -> bool:
        """Set the SLA (already validated; None or no field set removes it); True when
        it changed (and was audited)."""
        after = sla_view(sla)
        sla_id = f"pipeline:{pipeline}" if step is None else f"step:{pipeline}/{step}"
        row = None if after is None else {"id": sla_id, **{k: after.get(k) for k in SLA_FIELDS}}

        async def work(tx: AsyncManagedTransaction) -> bool:
            result = await tx.run(cypher("admin_set_sla"), pipeline=pipeline, step=step, sla=row)
            rec = await result.single()
            if rec is None:
                raise _unknown(pipeline, step)
            before = sla_view(rec["before"])
            if before == after:
                return False
            entry = AuditRecord(
                actor,
                "sla.changed",
                _target(pipeline, step),
                {"sla": before},
                {"sla": after},
                at=datetime.now(UTC),
            )
            await record_in_tx(tx, [entry])
            return True

        return await self.transaction(work)
