"""GraphQL for the governance gate (docs/governance.md, "The gate"): gate policies,
change requests (list, approve, reject, live), definition versions and rollback.

Resolvers are thin: ``services.gate`` (``definitions/gate.py``) decides and writes
everything as events, so a replay of the log reproduces policies, requests, decisions
and the changes they let through.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator, Awaitable
from datetime import datetime
from typing import Any, TypeVar

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.definitions import DefinitionDiff, DefinitionSubmission, guarded
from tracegraph.api.graphql.errors import BadArgument, Forbidden, subscription_closed
from tracegraph.api.graphql.permissions import allow, can, principal_of
from tracegraph.api.graphql.subscriptions import live_hub
from tracegraph.auth import Permission
from tracegraph.definitions.gate import GateError, GatePolicy, OwnChange, diff_from_json
from tracegraph.events.governance import CHANGE_DECIDED, CHANGE_REQUESTED
from tracegraph.live.hub import EventFilter, SubscriberClosed

T = TypeVar("T")


@strawberry.enum(description="A kind of change a gate policy can hold for approval.")
class GateKind(enum.Enum):
    DEFINITIONS = "definitions"
    OWNERS = "owners"
    SLAS = "slas"


@strawberry.enum
class ChangeRequestState(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


@strawberry.enum
class ChangeRequestKind(enum.Enum):
    DEFINITION = "definition"
    ROLLBACK = "rollback"
    OWNER = "owner"
    SLA = "sla"


@strawberry.type(name="GatePolicy", description="Which changes of a pipeline need approval.")
class GatePolicyType:
    pipeline: str | None = strawberry.field(description="Null: the default policy.")
    gated: list[GateKind]
    inherited: bool = strawberry.field(
        description="The pipeline has no policy of its own: the default's applies."
    )
    updated_by: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, p: GatePolicy) -> GatePolicyType:
        return cls(
            pipeline=p.pipeline,
            gated=[GateKind(k) for k in p.gated],
            inherited=p.inherited,
            updated_by=p.updated_by,
            updated_at=p.updated_at,
        )


_NEEDS_REVIEW = "Needs the changes:review permission (reviewer or admin role)"
_OWN = "You proposed this change: another reviewer must approve or reject it"


@strawberry.type(description="A gated change held for review (four-eyes).")
class ChangeRequest:
    id: strawberry.ID
    kind: ChangeRequestKind
    state: ChangeRequestState
    pipeline: str
    step: str | None
    author: str
    created_at: datetime | None
    payload: JSON = strawberry.field(
        description="The proposed change: {definition} (and rollback_of), {owner} or {sla}."
    )
    diff: DefinitionDiff
    base_version: str | None = strawberry.field(
        description="The definition version it was proposed against."
    )
    reviewer: str | None
    comment: str | None
    decided_at: datetime | None
    applied_seq: int | None = strawberry.field(
        description="Seq of the change's own event once approved and live."
    )
    review_blocked: str | None = strawberry.field(
        description="Why the caller cannot approve or reject it now; null if they can."
    )

    @classmethod
    def of(cls, row: dict[str, Any], info: Info[Context, None]) -> ChangeRequest:
        blocked = None
        if row["state"] != "pending":
            blocked = f"Already {row['state']}"
        elif not can(info, Permission.REVIEW_CHANGES):
            blocked = _NEEDS_REVIEW
        elif row["author"] == info.context.actor:
            blocked = _OWN
        return cls(
            id=strawberry.ID(row["id"]),
            kind=ChangeRequestKind(row["kind"]),
            state=ChangeRequestState(row["state"]),
            pipeline=row["pipeline"],
            step=row.get("step"),
            author=row["author"],
            created_at=row.get("created_at"),
            payload=row["payload"],
            diff=DefinitionDiff.of(diff_from_json(row["diff"])),
            base_version=row.get("base_version"),
            reviewer=row.get("reviewer"),
            comment=row.get("comment"),
            decided_at=row.get("decided_at"),
            applied_seq=row.get("applied_seq"),
            review_blocked=blocked,
        )


@strawberry.type(description="One definition version of a pipeline, from its event log.")
class PipelineVersion:
    version: str
    author: str | None = strawberry.field(description="Who submitted it (the event's principal).")
    created_at: datetime
    seq: int
    approved_by: str | None = strawberry.field(description="The reviewer, when gated.")
    change_request: strawberry.ID | None


async def _gated(info: Info[Context, None], call: Awaitable[T]) -> T:
    try:
        return await guarded(info, call)
    except GateError as exc:
        raise BadArgument(str(exc)) from exc
    except OwnChange as exc:
        raise Forbidden(str(exc), permission=exc.permission) from exc


def publish_change(info: Info[Context, None], row: dict[str, Any]) -> None:
    """Tell the pipeline's owners (alerts subscription, webhooks) on this replica."""
    info.context.services.publish_change_request(row)


def submission(info: Info[Context, None], result: Any) -> DefinitionSubmission:
    if isinstance(result, dict):
        publish_change(info, result)
        return DefinitionSubmission.pending(ChangeRequest.of(result, info))
    return DefinitionSubmission.of(result)


async def pipeline_versions(info: Info[Context, None], pipeline: str) -> list[PipelineVersion]:
    rows = await _gated(info, info.context.services.gate.versions(pipeline))
    return [
        PipelineVersion(
            version=str(r["data"].get("version")),
            author=r["author"],
            created_at=r["time"],
            seq=r["seq"],
            approved_by=r["approved_by"],
            change_request=None
            if r["change_request"] is None
            else strawberry.ID(r["change_request"]),
        )
        for r in rows
    ]


async def pipeline_diff(
    info: Info[Context, None], pipeline: str, from_version: str, to_version: str
) -> DefinitionDiff:
    diff = await _gated(info, info.context.services.gate.diff(pipeline, from_version, to_version))
    return DefinitionDiff.of(diff)


async def pending_changes(info: Info[Context, None], pipeline: str) -> list[ChangeRequest]:
    rows = await _gated(info, info.context.services.gate.requests("pending", pipeline, 50))
    return [ChangeRequest.of(r, info) for r in rows]


@strawberry.type
class GateQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="The gate policy in force for a pipeline (its own or the default), or "
        "the default itself when pipeline is null.",
    )
    async def gate_policy(
        self, info: Info[Context, None], pipeline: str | None = None
    ) -> GatePolicyType:
        return GatePolicyType.of(await _gated(info, info.context.services.gate.policy(pipeline)))

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Change requests newest first, by state and pipeline when given.",
    )
    async def change_requests(
        self,
        info: Info[Context, None],
        state: ChangeRequestState | None = None,
        pipeline: str | None = None,
        first: int | None = 50,
    ) -> list[ChangeRequest]:
        limit = info.context.page_size(50 if first is None else first)
        gate = info.context.services.gate
        rows = await _gated(
            info, gate.requests(None if state is None else state.value, pipeline, limit)
        )
        return [ChangeRequest.of(r, info) for r in rows]


@strawberry.type
class GateMutation:
    @strawberry.mutation(
        permission_classes=[allow(Permission.MANAGE_POLICY)],
        description="Set which changes of a pipeline (null: the default for every pipeline "
        "without its own) need a reviewer's approval. Written to the event log "
        "(gate.policy_set) and audited (gate.policy_changed).",
    )
    async def set_gate_policy(
        self, info: Info[Context, None], gated: list[GateKind], pipeline: str | None = None
    ) -> GatePolicyType:
        gate = info.context.services.gate
        kinds = [k.value for k in gated]
        return GatePolicyType.of(
            await _gated(info, gate.set_policy(pipeline, kinds, info.context.actor))
        )

    @strawberry.mutation(
        permission_classes=[allow(Permission.REVIEW_CHANGES)],
        description="Approve a pending change request (not one's own): the change goes live "
        "as its event; a request whose pipeline changed since is refused as stale.",
    )
    async def approve_change(
        self, info: Info[Context, None], id: strawberry.ID, comment: str | None = None
    ) -> ChangeRequest:
        gate = info.context.services.gate
        row = await _gated(info, gate.decide(str(id), True, comment, info.context.actor))
        info.context.services.hub.note_pipelines([row["pipeline"]])  # pipelineChanged
        publish_change(info, row)
        return ChangeRequest.of(row, info)

    @strawberry.mutation(
        permission_classes=[allow(Permission.REVIEW_CHANGES)],
        description="Reject a pending change request (not one's own), saying why: nothing changes.",
    )
    async def reject_change(
        self, info: Info[Context, None], id: strawberry.ID, comment: str
    ) -> ChangeRequest:
        if not comment.strip():
            raise BadArgument("comment: say why the change is rejected")
        gate = info.context.services.gate
        row = await _gated(info, gate.decide(str(id), False, comment, info.context.actor))
        publish_change(info, row)
        return ChangeRequest.of(row, info)

    @strawberry.mutation(
        permission_classes=[allow(Permission.OPERATE)],
        description="Propose an earlier definition version again, as a new version: live at "
        "once when definitions are not gated, else a pending change request.",
    )
    async def rollback_pipeline(
        self, info: Info[Context, None], name: str, to_version: str
    ) -> DefinitionSubmission:
        principal = principal_of(info)
        permissions = frozenset() if principal is None else principal.permissions
        gate = info.context.services.gate
        result = await _gated(
            info, gate.rollback(name, to_version, info.context.actor, permissions)
        )
        return submission(info, result)


@strawberry.type
class GateSubscription:
    @strawberry.subscription(
        permission_classes=[allow(Permission.READ)],
        description="Change requests as they are proposed and decided (from committed "
        "events: any replica's).",
    )
    async def change_request_changed(
        self, info: Info[Context, None], pipeline: str | None = None
    ) -> AsyncGenerator[ChangeRequest, None]:
        flt = EventFilter.of(types=[CHANGE_REQUESTED, CHANGE_DECIDED])
        stream = live_hub(info.context).events(flt)
        gate = info.context.services.gate
        try:
            async for item in stream:
                row = await gate.request(str(item.event.payload["data"]["id"]))
                if pipeline is None or row["pipeline"] == pipeline:
                    yield ChangeRequest.of(row, info)
        except SubscriberClosed as exc:
            raise subscription_closed(exc) from exc
        finally:
            await stream.aclose()
