"""The stored redaction policy: a singleton ``:RedactionPolicy`` node with a version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from neo4j import AsyncManagedTransaction

from tracegraph.audit import AuditRecord
from tracegraph.events import format_timestamp
from tracegraph.redaction import RedactionPolicy
from tracegraph.store.audit_store import record_in_tx
from tracegraph.store.base import Store
from tracegraph.store.cypher_files import cypher

POLICY_ID = "redaction"
AUDIT_TARGET = "policy:redaction"
AUDIT_ACTION = "policy.changed"


def _rules_json(policy: RedactionPolicy) -> str:
    return orjson.dumps([{"name": n, "pattern": p} for n, p in policy.custom_rules]).decode()


def _rules_of(text: str | None) -> tuple[tuple[str, str], ...]:
    return tuple((r["name"], r["pattern"]) for r in orjson.loads(text or "[]"))


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def policy_of(record: Any) -> RedactionPolicy:
    """A stored policy as read (not re-validated: compiling it is the caller's check)."""
    return RedactionPolicy(
        builtins=tuple(record["builtins"] or ()),
        custom_rules=_rules_of(record["custom_rules"]),
        version=int(record["version"] or 0),
        updated_at=_time(record["updated_at"]),
        updated_by=record["updated_by"],
    )


class PolicyStore(Store):
    async def version(self) -> int | None:
        records = await self.read("policy_version", id=POLICY_ID)
        return int(records[0]["version"]) if records else None

    async def get(self) -> RedactionPolicy | None:
        records = await self.read("policy_get", id=POLICY_ID)
        return policy_of(records[0]) if records else None

    async def load_or_seed(self, initial: RedactionPolicy, actor: str) -> RedactionPolicy:
        """The stored policy; ``initial`` (from settings) is stored first when there is none."""
        [record] = await self.write(
            "policy_seed",
            id=POLICY_ID,
            builtins=list(initial.builtins),
            custom_rules=_rules_json(initial),
            at=format_timestamp(datetime.now(UTC)),
            actor=actor,
        )
        return policy_of(record)

    async def save(self, policy: RedactionPolicy, actor: str) -> RedactionPolicy:
        """Store ``policy`` (a new version) with its audit entry, in one transaction."""
        return await self.transaction(self._save_tx, policy, actor)

    async def _save_tx(
        self, tx: AsyncManagedTransaction, policy: RedactionPolicy, actor: str
    ) -> RedactionPolicy:
        now = datetime.now(UTC)
        result = await tx.run(
            cypher("policy_save"),
            id=POLICY_ID,
            builtins=list(policy.builtins),
            custom_rules=_rules_json(policy),
            at=format_timestamp(now),
            actor=actor,
        )
        record = await result.single()
        assert record is not None
        version = int(record["version"])
        stored = RedactionPolicy(
            builtins=policy.builtins,
            custom_rules=policy.custom_rules,
            version=version,
            updated_at=_time(record["updated_at"]),
            updated_by=actor,
        )
        before = None
        if record["old_builtins"] is not None:
            before = RedactionPolicy(
                builtins=tuple(record["old_builtins"]),
                custom_rules=_rules_of(record["old_custom_rules"]),
                version=version - 1,
            ).snapshot()
        entry = AuditRecord(
            actor=actor,
            action=AUDIT_ACTION,
            target=AUDIT_TARGET,
            before=before,
            after=stored.snapshot(),
            at=now,
        )
        await record_in_tx(tx, [entry])
        return stored


__all__ = ["AUDIT_ACTION", "AUDIT_TARGET", "POLICY_ID", "PolicyStore", "policy_of"]
