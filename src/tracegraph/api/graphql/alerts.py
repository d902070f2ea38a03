"""GraphQL alerts: SLA breaches (query, acknowledge/resolve mutations, live subscription).

Breaches are found by :mod:`tracegraph.slas.evaluator`; these resolvers only read and
update them through :class:`tracegraph.store.sla_store.SlaStore`.
"""

from __future__ import annotations

import enum
from collections.abc import AsyncGenerator
from datetime import UTC
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument, subscription_closed
from tracegraph.api.graphql.permissions import allow
from tracegraph.api.graphql.scalars import DateTime, to_datetime, to_required_datetime
from tracegraph.api.graphql.subscriptions import live_hub
from tracegraph.api.graphql.types import SLA, Owner
from tracegraph.auth import Permission
from tracegraph.live.hub import SubscriberClosed


@strawberry.enum
class BreachStatus(enum.Enum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"


@strawberry.enum(
    description=(
        "The SLA field that was breached. MISSING_RUN: a cron fire time of a scheduled "
        "pipeline that no run covered within max_start_delay_ms (no subject; observed is "
        "how late, in ms). CHANGE_REQUEST: not a breach but a gated change of the "
        "pipeline proposed (OPEN) or decided (RESOLVED, resolvedBy the reviewer); the "
        "subject is the change request's id (alerts subscription only). SCHEMA_CHANGE: "
        "not a breach but a breaking schema change of an artifact (removed or retyped "
        "fields something downstream reads); the subject is the new artifact version, "
        "observed the number of broken fields, the owners those of the readers "
        "(alerts subscription only; docs/columns.md)."
    )
)
class BreachKind(enum.Enum):
    MAX_DURATION_MS = "max_duration_ms"
    MAX_TOKENS = "max_tokens"
    MAX_COST_USD = "max_cost_usd"
    MIN_SUCCESS_RATE = "min_success_rate"
    MAX_START_DELAY_MS = "max_start_delay_ms"
    MISSING_RUN = "missing_run"
    CHANGE_REQUEST = "change_request"
    SCHEMA_CHANGE = "schema_change"


@strawberry.type(name="SLABreach")
class SLABreach:
    id: strawberry.ID
    version: int = strawberry.field(
        description="Grows by one with every write that changes the breach (found, "
        "updated, acknowledged, resolved; docs/live-deltas.md)."
    )
    kind: BreachKind
    status: BreachStatus
    observed: float = strawberry.field(description="The figure that breached (field's unit).")
    threshold: float
    at: DateTime = strawberry.field(description="When the SLA was (or is reckoned) breached.")
    detected_at: DateTime | None
    pipeline: str
    step: str | None
    subject: strawberry.ID | None = strawberry.field(
        description=(
            "The run or step run that breached (for success rates: the last failure; "
            "none for a missing run)."
        )
    )
    provisional: bool = strawberry.field(
        description=(
            "Found by the clock on unfinished work (running past max_duration_ms, not "
            "started within max_start_delay_ms, a cron fire time no run covered yet): "
            "events that arrive later may disprove it, and then it is retracted. False "
            "for breaches the events themselves prove."
        )
    )
    acknowledged_by: str | None
    acknowledged_at: DateTime | None
    resolved_by: str | None
    resolved_at: DateTime | None
    sla: SLA | None
    owners: list[Owner]

    @classmethod
    def from_row(cls, b: dict[str, Any]) -> SLABreach:
        if b.get("resolved_at") is not None:
            status = BreachStatus.RESOLVED
        elif b.get("acknowledged_at") is not None:
            status = BreachStatus.ACKNOWLEDGED
        else:
            status = BreachStatus.OPEN
        sla = b.get("sla_props")
        return cls(
            id=strawberry.ID(b["id"]),
            version=int(b.get("version") or 0),
            kind=BreachKind(b["kind"]),
            status=status,
            observed=float(b["observed"]),
            threshold=float(b["threshold"]),
            at=to_required_datetime(b["at"]),
            detected_at=to_datetime(b.get("detected_at")),
            pipeline=b.get("pipeline") or "",
            step=b.get("step"),
            subject=b.get("subject"),
            provisional=bool(b.get("provisional")),
            acknowledged_by=b.get("acknowledged_by"),
            acknowledged_at=to_datetime(b.get("acknowledged_at")),
            resolved_by=b.get("resolved_by"),
            resolved_at=to_datetime(b.get("resolved_at")),
            sla=SLA.from_node(sla) if sla else None,
            owners=[Owner.from_node(o) for o in b.get("owners") or []],
        )


def _now_ms(info: Info[Context, None]) -> int:
    now = info.context.services.clock()
    return int((now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp() * 1000)


@strawberry.type
class AlertsQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="SLA breaches newest first, optionally filtered.",
    )
    async def sla_breaches(
        self,
        info: Info[Context, None],
        status: BreachStatus | None = None,
        pipeline: str | None = None,
        owner: str | None = None,
        first: int | None = 50,
    ) -> list[SLABreach]:
        limit = info.context.page_size(50 if first is None else first)
        rows = await info.context.services.slas.breaches(
            status=status.value.lower() if status else None,
            pipeline=pipeline,
            owner=owner,
            limit=limit,
        )
        return [SLABreach.from_row(r) for r in rows]


async def _changed(info: Info[Context, None], breach_id: str, ok: bool) -> SLABreach:
    if not ok:
        raise BadArgument(f"unknown SLA breach {breach_id!r}")
    rows = await info.context.services.slas.breaches(ids=[breach_id], limit=1)
    # Subscribers see the new state too (acknowledged, resolved).
    info.context.services.hub.publish_alerts(rows)
    return SLABreach.from_row(rows[0])


# The actor is the authenticated principal; `by` is only kept as a note (audited).
_BY = strawberry.argument(
    deprecation_reason="The caller's identity is used; `by` is kept as a free-text note."
)


@strawberry.type
class AlertsMutation:
    @strawberry.mutation(
        permission_classes=[allow(Permission.ACK_BREACHES)],
        description="Mark a breach as seen by the caller (the first one stands; audited).",
    )
    async def acknowledge_breach(
        self, info: Info[Context, None], id: strawberry.ID, by: Annotated[str | None, _BY] = None
    ) -> SLABreach:
        slas = info.context.services.slas
        ok = await slas.acknowledge(str(id), info.context.actor, _now_ms(info), note=by)
        return await _changed(info, str(id), ok)

    @strawberry.mutation(
        permission_classes=[allow(Permission.ACK_BREACHES)],
        description="Close a breach (the first resolution stands; audited).",
    )
    async def resolve_breach(
        self, info: Info[Context, None], id: strawberry.ID, by: Annotated[str | None, _BY] = None
    ) -> SLABreach:
        slas = info.context.services.slas
        ok = await slas.resolve(str(id), info.context.actor, _now_ms(info), note=by)
        return await _changed(info, str(id), ok)


@strawberry.type
class AlertsSubscription:
    @strawberry.subscription(
        permission_classes=[allow(Permission.READ)],
        description="New SLA breaches, and breaches acknowledged or resolved, as they happen.",
    )
    async def alerts(
        self, info: Info[Context, None], pipeline: str | None = None, owner: str | None = None
    ) -> AsyncGenerator[SLABreach, None]:
        stream = live_hub(info.context).alerts()
        try:
            async for row in stream:
                if pipeline is not None and row.get("pipeline") != pipeline:
                    continue
                if owner is not None and not any(
                    o.get("id") == owner for o in row.get("owners") or []
                ):
                    continue
                yield SLABreach.from_row(row)
        except SubscriberClosed as exc:
            raise subscription_closed(exc) from exc
        finally:
            await stream.aclose()
