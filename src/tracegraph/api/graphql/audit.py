"""GraphQL audit trail (reviewers) and the admin changes it records: owners and SLAs.

``auditTrail`` reads the audit store (``services.audit``) newest first with Relay
cursors; ``setOwner`` / ``setSla`` are written as events (``services.admin_changes``:
``pipeline.owner_set`` / ``pipeline.sla_set``, with the authenticated principal as the
actor), applied with their audit entry in the writer's transaction, so a replay of the
log reproduces them.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import strawberry
from pydantic import TypeAdapter, ValidationError
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument, ingest_error, refused_change
from tracegraph.api.graphql.pagination import connection, decode_cursor
from tracegraph.api.graphql.permissions import allow
from tracegraph.api.graphql.scalars import JSON, DateTime, to_required_datetime
from tracegraph.api.graphql.types import PageInfo, Pipeline
from tracegraph.auth import Permission
from tracegraph.events.errors import render_error
from tracegraph.events.fields import Owner
from tracegraph.events.sla import Sla
from tracegraph.ingest.admin_changes import ChangeRefused
from tracegraph.ingest.errors import IngestError
from tracegraph.store.audit_store import TrailFilter
from tracegraph.store.governance_store import UnknownTarget

_OWNER = TypeAdapter(Owner)


@strawberry.type(description="One change: who (actor) did what (action) to which thing (target).")
class AuditEntry:
    id: strawberry.ID
    actor: str = strawberry.field(description="key:<name>, user:<email>, system:<component>.")
    action: str = strawberry.field(
        description="pipeline.defined, owner.changed, sla.changed, breach.acknowledged, "
        "breach.resolved, key.created, key.revoked, policy.changed, command.<kind>, "
        "quarantine.resubmitted, quarantine.discarded."
    )
    target: str = strawberry.field(
        description="<kind>:<key>: pipeline:<name>, step:<pipeline>/<key>, breach:<id>, "
        "api_key:<id>, policy:redaction, command:<id>, quarantine:<id>."
    )
    before: JSON | None = strawberry.field(description="The state before (null: created).")
    after: JSON | None = strawberry.field(description="The state after (null: deleted).")
    at: DateTime

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> AuditEntry:
        return cls(
            id=strawberry.ID(r["id"]),
            actor=r["actor"],
            action=r["action"],
            target=r["target"],
            before=None if r.get("before") is None else orjson.loads(r["before"]),
            after=None if r.get("after") is None else orjson.loads(r["after"]),
            at=to_required_datetime(r["at"]),
        )


@strawberry.type
class AuditEntryEdge:
    cursor: str
    node: AuditEntry


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo


@strawberry.input(
    name="SLAInput",
    description="The fields of a definition's `sla` object (events contract); leave all "
    "null to remove the SLA.",
)
class SLAInput:
    max_duration_ms: int | None = None
    max_tokens: int | None = None
    max_cost_usd: float | None = None
    min_success_rate: float | None = None
    window: str | None = None
    max_start_delay_ms: int | None = None


def _problems(exc: ValidationError, root: str) -> str:
    # The event model's own wording: `sla.window: required when min_success_rate is set`.
    return "; ".join(f"{root}.{render_error(e, 'pipeline.defined', ())}" for e in exc.errors())


def _check_owner(owner: str) -> str:
    try:
        return _OWNER.validate_python(owner)
    except ValidationError as exc:
        raise BadArgument(
            f"owner: {owner!r} is not a valid owner (expected team:<name> or user:<name>)"
        ) from exc


def _check_sla(sla: SLAInput) -> dict[str, Any] | None:
    given = {k: v for k, v in vars(sla).items() if v is not None}
    if not given:
        return None
    try:
        return Sla.model_validate(given).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise BadArgument(_problems(exc, "sla")) from exc


async def _pipeline(info: Info[Context, None], name: str) -> Pipeline:
    node = await info.context.loaders.pipeline_by_name.load(name)
    if node is None:
        raise BadArgument(f"unknown pipeline {name!r}")
    return Pipeline.from_node(node)


def _changed_or_requested(
    info: Info[Context, None], pipeline: str, request: dict[str, Any] | None
) -> None:
    if request is None:
        info.context.services.hub.note_pipelines([pipeline])  # pipelineChanged
    else:  # gated: held as a change request (Pipeline.pendingChanges shows it)
        info.context.services.publish_change_request(request)


@strawberry.type
class AuditQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.READ_AUDIT)],
        description="Audit entries newest first; filters combine (from inclusive, to "
        "exclusive); page size capped.",
    )
    async def audit_trail(
        self,
        info: Info[Context, None],
        actor: str | None = None,
        target: str | None = None,
        action: str | None = None,
        from_: Annotated[DateTime | None, strawberry.argument(name="from")] = None,
        to: DateTime | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> AuditEntryConnection:
        limit = info.context.page_size(50 if first is None else first)
        if from_ is not None and to is not None and from_ >= to:
            raise BadArgument("from must be earlier than to")
        rows = await info.context.services.audit.page(
            TrailFilter(actor=actor, target=target, action=action, since=from_, until=to),
            after_key=decode_cursor(after),
            limit=limit + 1,
        )
        edges, page_info = connection(
            rows,
            limit,
            key=lambda r: str(r["order_key"]),
            edge=lambda cursor, r: AuditEntryEdge(cursor=cursor, node=AuditEntry.from_row(r)),
        )
        return AuditEntryConnection(edges=edges, page_info=page_info)


@strawberry.type
class AuditMutation:
    @strawberry.mutation(
        permission_classes=[allow(Permission.MANAGE_OWNERS)],
        description="Set the owner of a pipeline, or of one of its steps: written to the "
        "event log as pipeline.owner_set (audited as owner.changed). A later definition "
        "of the pipeline replaces it. When the pipeline's gate holds owner changes it is "
        "a pending change request instead (see the result's pendingChanges).",
    )
    async def set_owner(
        # step omitted (or null): the pipeline's own owner. Keyword-only after it keeps
        # the SDL's argument order (pipeline, step, owner).
        self,
        info: Info[Context, None],
        pipeline: str,
        step: str | None = None,
        *,
        owner: str,
    ) -> Pipeline:
        checked = _check_owner(owner)
        try:
            request = await info.context.services.gate.set_owner(
                pipeline, step, checked, info.context.actor
            )
        except UnknownTarget as exc:
            raise BadArgument(str(exc)) from exc
        except ChangeRefused as exc:
            raise refused_change(exc) from exc
        except IngestError as exc:  # overloaded, or the database did not commit in time
            raise ingest_error(exc) from exc
        _changed_or_requested(info, pipeline, request)
        return await _pipeline(info, pipeline)

    @strawberry.mutation(
        permission_classes=[allow(Permission.MANAGE_SLAS)],
        description="Set (or, with every field null, remove) the SLA of a pipeline or of "
        "one of its steps: written to the event log as pipeline.sla_set (audited as "
        "sla.changed); evaluation uses it from its next round, which the change starts. "
        "When the pipeline's gate holds SLA changes it is a pending change request instead.",
    )
    async def set_sla(
        self, info: Info[Context, None], pipeline: str, step: str | None = None, *, sla: SLAInput
    ) -> Pipeline:
        checked = _check_sla(sla)
        try:
            request = await info.context.services.gate.set_sla(
                pipeline, step, checked, info.context.actor
            )
        except UnknownTarget as exc:
            raise BadArgument(str(exc)) from exc
        except ChangeRefused as exc:
            raise refused_change(exc) from exc
        except IngestError as exc:
            raise ingest_error(exc) from exc
        _changed_or_requested(info, pipeline, request)
        return await _pipeline(info, pipeline)
