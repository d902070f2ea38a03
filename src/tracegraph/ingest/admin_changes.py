"""Admin changes written as events: owners, SLAs and the redaction policy.

``setOwner`` / ``setSla`` / ``setRedactionPolicy`` come here with input the API has
checked. Each change becomes an event (``events/governance.py``) submitted to the same
group committer as ingested events, with the admin as its principal: it is stored in
the log, sequenced, applied in the writer's transaction (``store.event_writer``) and
fanned out to subscribers like any other event, so a rebuild from the log reproduces it.

The governance gate (``definitions/gate.py``) decides before these are called whether a
change is held as a change request; its own events (policies, requests, decisions) are
submitted through :meth:`AdminChanges.submit_event`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from tracegraph.events import payload_fingerprint
from tracegraph.events.governance import owner_set_event, policy_set_event, sla_set_event
from tracegraph.events.records import PendingEvent, WriteUnit
from tracegraph.ingest import deadline
from tracegraph.ingest.group_commit import GroupCommitter
from tracegraph.redaction import RedactionPolicy
from tracegraph.store.errors import within
from tracegraph.store.governance_store import GovernanceStore
from tracegraph.store.policy_store import PolicyStore


class ChangeRefused(RuntimeError):
    """The database refused the change's write (its event is quarantined with the reason)."""


class AdminChanges:
    def __init__(
        self,
        committer: GroupCommitter,
        governance: GovernanceStore,
        policies: PolicyStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._committer = committer
        self._governance = governance
        self._policies = policies
        self._clock = clock

    async def _require_target(self, pipeline: str, step: str | None) -> None:
        # Within the request's answer budget (RequestDeadline), not only the query
        # timeout: a frozen database then costs the mutation 4.5 s, not 12 s.
        budget = deadline.remaining(math.inf)
        check = self._governance.require_target(pipeline, step)
        if math.isinf(budget):
            await check
        else:
            await within(max(budget, 0.0), check, "the target check")

    async def require_target(self, pipeline: str, step: str | None) -> None:
        """``UnknownTarget`` unless the pipeline (or its step) exists."""
        await self._require_target(pipeline, step)

    async def set_owner(self, pipeline: str, step: str | None, owner: str, actor: str) -> int:
        """Set the owner (already validated); returns the seq of its event.
        ``UnknownTarget`` when there is no such pipeline or step (nothing is written)."""
        await self._require_target(pipeline, step)
        return await self._submit(owner_set_event(pipeline, step, owner, self._clock()), actor)

    async def set_sla(
        self, pipeline: str, step: str | None, sla: dict[str, Any] | None, actor: str
    ) -> int:
        """Set the SLA (already validated; None removes it); returns its event's seq."""
        await self._require_target(pipeline, step)
        return await self._submit(sla_set_event(pipeline, step, sla, self._clock()), actor)

    async def set_policy(self, policy: RedactionPolicy, actor: str) -> RedactionPolicy:
        """Store ``policy`` (already compiled) as the new version; returns it as stored."""
        event = policy_set_event(policy.builtins, policy.custom_rules, self._clock())
        await self._submit(event, actor)
        stored = await self._policies.get()
        assert stored is not None  # the event just committed created or updated it
        return stored

    async def submit_event(self, payload: dict[str, Any], *more: dict[str, Any], actor: str) -> int:
        """Commit service-written governance events (``events/governance.py``) in one
        transaction (an approved change and its decision: both or neither); returns the
        seq of the first."""
        return await self._submit(payload, actor, more)

    async def _submit(
        self, payload: dict[str, Any], actor: str, more: Sequence[dict[str, Any]] = ()
    ) -> int:
        now = self._clock()
        pending = [
            PendingEvent(index=i, payload=p, fingerprint=payload_fingerprint(p))
            for i, p in enumerate([payload, *more])
        ]
        unit = WriteUnit(events=pending, rejected=[], received_at=now, principal=actor)
        # Overloaded / DatabaseUnavailable (IngestError) propagate: the API maps them.
        result, _ = await self._committer.submit(unit)
        if result.rejected:
            raise ChangeRefused(result.rejected[0].reason)
        return result.committed[0].seq
