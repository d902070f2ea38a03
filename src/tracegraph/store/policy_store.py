"""The stored redaction policy: a singleton ``:RedactionPolicy`` node with a version.

Changes are events (``redaction.policy_set``), applied by the event writer
(``store.governance_store``); this store seeds the policy on first start and reads it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from tracegraph.events import format_timestamp
from tracegraph.redaction import RedactionPolicy
from tracegraph.store.base import Store

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


__all__ = ["AUDIT_ACTION", "AUDIT_TARGET", "POLICY_ID", "PolicyStore", "policy_of"]
