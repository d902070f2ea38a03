"""GraphQL for human approvals inside runs (issue 19): read them, decide them.

Deciding needs ``read`` and being one of the approval's approvers (``owner``: the
pipeline's owner; a role name: a role of the caller) or an admin; anyone else gets
``FORBIDDEN`` with the reason. Deciding on a decided or expired approval is
``BAD_USER_INPUT``; the same decision again by the same principal answers the same
approval. The service writes the decision as an event and sends it to the executor as an
``approval`` command (``tracegraph.approvals``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument, Forbidden
from tracegraph.api.graphql.permissions import allow
from tracegraph.approvals import ApprovalRefused, NotAnApprover
from tracegraph.auth import Permission


@strawberry.enum(description="pending → granted | denied | expired (the timeout passed).")
class ApprovalState(enum.Enum):
    PENDING = "pending"
    GRANTED = "granted"
    DENIED = "denied"
    EXPIRED = "expired"


@strawberry.type(description="A step run's request for a human decision (issue 19).")
class Approval:
    id: strawberry.ID
    state: ApprovalState
    question: str | None
    approvers: list[str] = strawberry.field(
        description='Who may decide: "owner" (the pipeline\'s owner) or role names; admins too.'
    )
    timeout_s: float | None
    pipeline: str
    run: strawberry.ID
    step: str
    step_run: strawberry.ID
    requested_at: datetime | None
    deadline: datetime | None = strawberry.field(description="When it expires if undecided.")
    decided_at: datetime | None
    decided_by: str | None
    comment: str | None
    waiting_ms: int | None = strawberry.field(
        description="decidedAt minus requestedAt, in milliseconds."
    )

    @classmethod
    def of(cls, a: dict[str, Any]) -> Approval:
        return cls(
            id=strawberry.ID(a["id"]),
            state=ApprovalState(a.get("state") or "pending"),
            question=a.get("question"),
            approvers=list(a.get("approvers") or []),
            timeout_s=a.get("timeout_s"),
            pipeline=a["pipeline"],
            run=strawberry.ID(a["run"]),
            step=a["step"],
            step_run=strawberry.ID(a["step_run"]),
            requested_at=a.get("requested_at"),
            deadline=a.get("deadline"),
            decided_at=a.get("decided_at"),
            decided_by=a.get("decided_by"),
            comment=a.get("comment"),
            waiting_ms=None if a.get("waiting_ms") is None else int(a["waiting_ms"]),
        )


_READ = [allow(Permission.READ)]


async def _decide(
    info: Info[Context, None], approval_id: strawberry.ID, grant: bool, comment: str | None
) -> Approval:
    try:
        approval = await info.context.services.approvals.decide(
            str(approval_id), grant, comment, info.context.signed_in
        )
    except NotAnApprover as exc:
        raise Forbidden(str(exc)) from exc
    except ApprovalRefused as exc:
        raise BadArgument(str(exc)) from exc
    return Approval.of(approval)


@strawberry.type
class ApprovalsQuery:
    @strawberry.field(permission_classes=_READ, description="One approval.")
    async def approval(self, info: Info[Context, None], id: strawberry.ID) -> Approval | None:
        found = await info.context.services.approvals.store.get(str(id))
        return None if found is None else Approval.of(found)

    @strawberry.field(
        permission_classes=_READ,
        description="Approvals newest request first, optionally of a run, pipeline or states.",
    )
    async def approvals(
        self,
        info: Info[Context, None],
        run: strawberry.ID | None = None,
        pipeline: str | None = None,
        states: list[ApprovalState] | None = None,
        first: int = 50,
    ) -> list[Approval]:
        rows = await info.context.services.approvals.store.page(
            None if run is None else str(run),
            pipeline,
            [s.value for s in states or []],
            info.context.page_size(first),
        )
        return [Approval.of(a) for a in rows]


@strawberry.type
class ApprovalsMutation:
    @strawberry.mutation(
        permission_classes=_READ,
        description="Grant an approval a step run waits for (its approvers or an admin).",
    )
    async def approve_step(
        self, info: Info[Context, None], approval_id: strawberry.ID, comment: str | None = None
    ) -> Approval:
        return await _decide(info, approval_id, True, comment)

    @strawberry.mutation(
        permission_classes=_READ,
        description="Deny an approval a step run waits for (its approvers or an admin).",
    )
    async def deny_step(
        self, info: Info[Context, None], approval_id: strawberry.ID, comment: str | None = None
    ) -> Approval:
        return await _decide(info, approval_id, False, comment)
