"""Deciding approvals (``approveStep`` / ``denyStep``) and expiring them.

A decision is, in this order:

1. checked: the approval exists and waits, the step run has not finished, and the
   principal is one of its approvers (:func:`approver_problem`);
2. written as an event (``approval.granted`` / ``approval.denied``, or
   ``approval.expired`` from the sweep) through the same group committer as ingested
   events, with the decider as principal. Every decision of one approval has the same
   event id, so whichever commits first is the only one: a decision that lost (another
   replica's, or the expiry) comes back as a conflict, is not quarantined, and the
   caller is told what happened instead;
3. audited (``approval.granted`` / ``approval.denied`` on ``approval:<id>``);
4. sent to the executor as an ``approval`` command on the step run (the command
   channel: subscription or long poll). Its idempotency key is ``approval:<id>`` under
   the decider, so repeating the decision (the same principal, the same outcome)
   answers the same approval and re-issues nothing — and does issue the command if a
   crash came between the event and the command.

Expiry: every replica sweeps the pending approvals past their deadline
(``TRACEGRAPH_APPROVAL_SWEEP_INTERVAL_S``); the shared event id makes exactly one
``approval.expired`` per approval however many replicas (and deciders) race. The service
expires, not the executor: an executor that died or lost its network would otherwise
leave the step's approval pending for ever, and the service is where decisions and the
clock meet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import structlog

from tracegraph.audit import AuditRecord
from tracegraph.auth import Principal
from tracegraph.auth.roles import Role
from tracegraph.background import BackgroundTask
from tracegraph.commands.model import CommandKind, CommandRequest, InvalidCommand
from tracegraph.commands.service import CommandService
from tracegraph.events import payload_fingerprint
from tracegraph.events.approvals import (
    DENIED,
    EXPIRED,
    EXPIRY_ACTOR,
    GRANTED,
    STATE_OF,
    decision_event,
)
from tracegraph.events.records import PendingEvent, WriteUnit
from tracegraph.ingest.group_commit import GroupCommitter
from tracegraph.store.approval_store import ApprovalStore
from tracegraph.store.audit_store import AuditStore

log = structlog.get_logger(__name__)

# An approver entry that names the pipeline's owner (its principal id: user:<name>…).
OWNER = "owner"
MAX_COMMENT = 2000
FINISHED = frozenset({"succeeded", "failed", "skipped", "cancelled"})


class ApprovalRefused(ValueError):
    """Bad input: unknown approval, decided already, expired, finished step, comment."""


class NotAnApprover(PermissionError):
    """The principal is not one of the approval's approvers (nor an admin)."""


def approver_problem(approval: dict[str, Any], principal: Principal) -> str | None:
    """None when ``principal`` may decide ``approval``, else why not. An approver entry
    is ``owner`` (matches the pipeline's owner as the principal's identity) or a role
    name (matches a role of the principal); admins always may."""
    if Role.ADMIN in principal.roles:
        return None
    approvers = list(approval.get("approvers") or [])
    owner = approval.get("owner")
    for entry in approvers:
        if entry == OWNER and owner is not None and principal.actor == owner:
            return None
        if entry in principal.role_names:
            return None
    named = ", ".join(
        f"owner ({owner or 'the pipeline has none'})" if e == OWNER else f"role {e}"
        for e in approvers
    )
    return (
        f"{principal.actor} may not decide approval {approval['id']!r}: its approvers "
        f"are {named} (or an admin)"
    )


def _decision_params(approval: dict[str, Any]) -> dict[str, Any]:
    return {
        "approval": approval["id"],
        "decision": approval["state"],
        "by": approval.get("decided_by"),
        "comment": approval.get("comment"),
    }


class Approvals:
    def __init__(
        self,
        committer: GroupCommitter,
        store: ApprovalStore,
        commands: CommandService,
        audit: AuditStore,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sweep_every_s: float = 2.0,
    ) -> None:
        self._committer = committer
        self.store = store  # read by the GraphQL approval(s) fields too
        self._commands = commands
        self._audit = audit
        self._clock = clock
        self._sweep_every_s = sweep_every_s
        self._sweeper = BackgroundTask("approval-expiry", self._sweep)

    # -- deciding ----------------------------------------------------------------------

    async def decide(
        self, approval_id: str, grant: bool, comment: str | None, principal: Principal
    ) -> dict[str, Any]:
        """Grant or deny; returns the approval as stored after the decision.
        :class:`ApprovalRefused` (bad input) / :class:`NotAnApprover` (forbidden)."""
        if comment is not None:
            comment = comment.strip() or None
            if comment is not None and len(comment) > MAX_COMMENT:
                raise ApprovalRefused(f"comment: at most {MAX_COMMENT} characters")
        wanted = STATE_OF[GRANTED if grant else DENIED]
        approval = await self._require(approval_id)
        problem = approver_problem(approval, principal)
        if problem is not None:
            raise NotAnApprover(problem)
        if approval["state"] == "pending":
            if (approval.get("step_status") or "") in FINISHED:
                raise ApprovalRefused(
                    f"approval {approval_id!r}: its step run {approval['step_run']!r} is "
                    f"finished ({approval['step_status']}); nothing waits for a decision"
                )
            event = decision_event(
                GRANTED if grant else DENIED, approval, principal.actor, comment, self._clock()
            )
            if await self._submit(event, principal.actor):
                approval = await self._require(approval_id)
                await self._audit.record(
                    [
                        AuditRecord(
                            actor=principal.actor,
                            action=f"approval.{wanted}",
                            target=f"approval:{approval_id}",
                            before={"state": "pending"},
                            after={"state": wanted, "comment": comment},
                        )
                    ]
                )
            else:
                approval = await self._require(approval_id)
        if approval["state"] != wanted or approval.get("decided_by") != principal.actor:
            raise ApprovalRefused(_decided_message(approval))
        # Decided by this principal this way: now, or before (an idempotent repeat).
        await self._notify(approval, principal.actor)
        return approval

    async def _require(self, approval_id: str) -> dict[str, Any]:
        approval = await self.store.get(approval_id)
        if approval is None:
            raise ApprovalRefused(f"unknown approval {approval_id!r}")
        return approval

    async def _submit(self, payload: dict[str, Any], actor: str) -> bool:
        """Write one decision event; False when another decision of the approval was
        stored first (the shared event id), which is not quarantined."""
        pending = PendingEvent(index=0, payload=payload, fingerprint=payload_fingerprint(payload))
        unit = WriteUnit(
            events=[pending],
            rejected=[],
            received_at=self._clock(),
            principal=actor,
            quarantine_conflicts=False,
        )
        result, _ = await self._committer.submit(unit)
        return result.accepted == 1

    async def _notify(self, approval: dict[str, Any], actor: str) -> None:
        """The decision to the executor waiting for it: an ``approval`` command."""
        request = CommandRequest(
            CommandKind.APPROVAL,
            f"approval:{approval['id']}",
            step_run=approval["step_run"],
            params=_decision_params(approval),
            reason=approval.get("comment"),
        )
        try:
            await self._commands.issue([request], actor)
        except InvalidCommand as exc:  # the step run vanished (a replay under way)
            log.warning("approval command not issued", approval=approval["id"], error=str(exc))

    # -- expiry ------------------------------------------------------------------------

    async def expire_due(self) -> int:
        """Expire every pending approval past its deadline; returns how many this call
        expired (another replica's sweep, or a decision, may win some)."""
        expired = 0
        for approval in await self.store.due(self._clock()):
            event = decision_event(EXPIRED, approval, EXPIRY_ACTOR, None, self._clock())
            if not await self._submit(event, EXPIRY_ACTOR):
                continue
            expired += 1
            stored = await self.store.get(approval["id"])
            if stored is not None and stored["state"] == "expired":
                await self._notify(stored, EXPIRY_ACTOR)
        return expired

    def start(self) -> None:
        self._sweeper.start()

    async def stop(self) -> None:
        await self._sweeper.stop()

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self._sweep_every_s)
            try:
                await self.expire_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database away: the next round tries again
                log.warning("approval expiry failed", error=repr(exc))


def _decided_message(approval: dict[str, Any]) -> str:
    state = approval["state"]
    if state == "expired":
        return (
            f"approval {approval['id']!r} is expired (nobody decided within "
            f"{approval.get('timeout_s')} s); it cannot be decided any more"
        )
    return (
        f"approval {approval['id']!r} was already {state} by {approval.get('decided_by')}"
        f"{' at ' + approval['decided_at'].isoformat() if approval.get('decided_at') else ''}"
    )
