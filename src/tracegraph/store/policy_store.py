"""The stored redaction policy: a singleton ``:RedactionPolicy`` node with a version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from neo4j import AsyncDriver, AsyncManagedTransaction

from tracegraph.audit import AuditRecord
from tracegraph.events import format_timestamp
from tracegraph.redaction import RedactionPolicy
from tracegraph.store.audit_store import record_in_tx
from tracegraph.store.cypher_files import cypher, query

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


class PolicyStore:
    def __init__(self, driver: AsyncDriver, database: str, timeout_s: float = 10.0) -> None:
        self._driver = driver
        self._database = database
        self._timeout_s = timeout_s

    async def version(self) -> int | None:
        async with self._driver.session(database=self._database) as session:
            result = await session.run(query("policy_version", self._timeout_s), id=POLICY_ID)
            record = await result.single()
        return None if record is None else int(record["version"])

    async def get(self) -> RedactionPolicy | None:
        async with self._driver.session(database=self._database) as session:
            result = await session.run(query("policy_get", self._timeout_s), id=POLICY_ID)
            record = await result.single()
        return None if record is None else policy_of(record)

    async def load_or_seed(self, initial: RedactionPolicy, actor: str) -> RedactionPolicy:
        """The stored policy; ``initial`` (from settings) is stored first when there is none."""
        async with self._driver.session(database=self._database) as session:
            result = await session.run(
                query("policy_seed", self._timeout_s),
                id=POLICY_ID,
                builtins=list(initial.builtins),
                custom_rules=_rules_json(initial),
                at=format_timestamp(datetime.now(UTC)),
                actor=actor,
            )
            record = await result.single()
        assert record is not None
        return policy_of(record)

    async def save(self, policy: RedactionPolicy, actor: str) -> RedactionPolicy:
        """Store ``policy`` (a new version) with its audit entry, in one transaction."""
        async with self._driver.session(database=self._database) as session:
            return await session.execute_write(self._save_tx, policy, actor)

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
