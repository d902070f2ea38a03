"""The GraphQL schema: ``Query`` and ``Mutation`` here, ``Subscription`` from the live side."""

from __future__ import annotations

import base64
from typing import Any

import orjson
import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.alerts import AlertsMutation, AlertsQuery, AlertsSubscription
from tracegraph.api.graphql.audit import AuditMutation, AuditQuery
from tracegraph.api.graphql.hardening import HardenedSchema
from tracegraph.api.graphql.identity import IdentityQuery
from tracegraph.api.graphql.keys import KeysMutation, KeysQuery
from tracegraph.api.graphql.metrics_types import MetricsQuery
from tracegraph.api.graphql.outage_errors import database_unavailable, ingest_error
from tracegraph.api.graphql.permissions import allow
from tracegraph.api.graphql.policy import PolicyMutation, PolicyQuery
from tracegraph.api.graphql.scalars import JSON
from tracegraph.api.graphql.subscriptions import Subscription as LiveSubscription
from tracegraph.api.graphql.types import (
    Direction,
    Event,
    Impact,
    IngestResult,
    LineageGraph,
    NodeKind,
    Overview,
    PageInfo,
    Pipeline,
    PipelineConnection,
    PipelineEdge,
    Rejection,
    Run,
    RunConnection,
    RunEdge,
    RunStatus,
)
from tracegraph.api.graphql.views import BadArgument, impact_answer, lineage_graph
from tracegraph.auth import Permission
from tracegraph.ingest.errors import IngestError
from tracegraph.settings import Settings
from tracegraph.store.errors import is_retryable

IMPACT_ROOTS = {
    NodeKind.PIPELINE,
    NodeKind.STEP,
    NodeKind.RUN,
    NodeKind.ARTIFACT,
    NodeKind.ARTIFACT_VERSION,
    NodeKind.PROMPT_VERSION,
    NodeKind.MODEL,
    NodeKind.OWNER,
}


def _encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode()


def _decode_cursor(cursor: str | None) -> Any:
    if cursor is None:
        return None
    try:
        return orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except Exception as exc:
        raise BadArgument(f"invalid cursor {cursor!r}") from exc


def _check_depth(depth: int, cap: int) -> int:
    if depth < 0:
        raise BadArgument(f"depth must be >= 0 (got {depth})")
    return min(depth, cap)


@strawberry.type
class Query(MetricsQuery, AlertsQuery, IdentityQuery, PolicyQuery, KeysQuery, AuditQuery):
    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="The header bar: active runs, today's tokens/cost, health.",
    )
    async def overview(self, info: Info) -> Overview:
        # Never a made-up lastSeq 0 on failure: the dashboard would replay the whole log
        # and count all of it as today. An outage is a retryable error; others are masked.
        try:
            o = await info.context.reads.overview()
        except Exception as exc:
            if is_retryable(exc):
                raise database_unavailable(info.context.services.settings.retry_after_s) from exc
            raise
        return Overview(
            active_runs=int(o["active_runs"]),
            tokens_today=int(o["tokens_today"] or 0),
            cost_today_usd=float(o["cost_today_usd"] or 0.0),
            healthy=True,
            last_seq=int(o["last_seq"]),
        )

    @strawberry.field(permission_classes=[allow(Permission.READ)], description="Pipelines by name.")
    async def pipelines(
        self, info: Info, first: int | None = 50, after: str | None = None
    ) -> PipelineConnection:
        limit = info.context.page_size(50 if first is None else first)
        after_name = _decode_cursor(after)
        rows = await info.context.reads.pipelines_page(after_name, limit + 1)
        page = rows[:limit]
        edges = [
            PipelineEdge(cursor=_encode_cursor(p["name"]), node=Pipeline.from_node(p)) for p in page
        ]
        return PipelineConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > limit,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(permission_classes=[allow(Permission.READ)])
    async def pipeline(self, info: Info, name: str) -> Pipeline | None:
        node = await info.context.loaders.pipeline_by_name.load(name)
        return Pipeline.from_node(node) if node else None

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Runs newest first (by start, else scheduled time).",
    )
    async def runs(
        self,
        info: Info,
        pipeline: str | None = None,
        status: RunStatus | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> RunConnection:
        limit = info.context.page_size(50 if first is None else first)
        cur = _decode_cursor(after)
        if cur is not None and not isinstance(cur, str):
            raise BadArgument(f"invalid cursor {after!r}")
        rows = await info.context.reads.runs_page(
            pipeline, status.to_graph() if status else None, cur, limit + 1
        )
        page = rows[:limit]
        edges = [RunEdge(cursor=_encode_cursor(k), node=Run.from_node(r)) for r, k in page]
        return RunConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=len(rows) > limit,
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field(permission_classes=[allow(Permission.READ)])
    async def run(self, info: Info, id: strawberry.ID) -> Run | None:
        node = await info.context.loaders.run_by_id.load(str(id))
        return Run.from_node(node) if node else None

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Artifact versions upstream or downstream of an artifact (every version "
        "of it when no version is given), depth-bounded; edges point the way data flowed.",
    )
    async def lineage(
        self,
        info: Info,
        uri: str,
        version: str | None = None,
        direction: Direction | None = Direction.UPSTREAM,
        depth: int | None = 5,
    ) -> LineageGraph:
        depth = 5 if depth is None else depth
        settings = info.context.services.settings
        applied = _check_depth(depth, settings.lineage_max_depth)
        rows = await info.context.reads.lineage(
            uri,
            version,
            downstream=direction is Direction.DOWNSTREAM,
            depth=applied,
            max_nodes=settings.lineage_max_nodes,
        )
        return lineage_graph(rows, uri, version, depth, applied, settings.lineage_max_nodes)

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="The blast radius of a node, with one explaining path each.",
    )
    async def impact(self, info: Info, kind: NodeKind, key: str, depth: int | None = 10) -> Impact:
        depth = 10 if depth is None else depth
        if kind not in IMPACT_ROOTS:
            raise BadArgument(
                f"impact roots are {', '.join(sorted(k.value for k in IMPACT_ROOTS))}"
            )
        settings = info.context.services.settings
        applied = _check_depth(depth, settings.lineage_max_depth)
        rec = await info.context.reads.impact(
            kind.value, key, depth=applied, max_nodes=settings.lineage_max_nodes
        )
        if rec is None:
            raise BadArgument(f"unknown {kind.value} {key!r}")
        return impact_answer(rec, depth, applied, settings.lineage_max_nodes)

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Stored events after afterSeq, in seq order.",
    )
    async def events(
        self,
        info: Info,
        after_seq: int | None = 0,
        first: int | None = 100,
        pipeline: str | None = None,
        run: strawberry.ID | None = None,
    ) -> list[Event]:
        limit = info.context.page_size(100 if first is None else first)
        rows = await info.context.reads.events(
            after_seq or 0, limit, pipeline, str(run) if run is not None else None
        )
        return [Event.from_payload(seq, payload, principal) for seq, payload, principal in rows]


@strawberry.type
class Mutation(AlertsMutation, PolicyMutation, KeysMutation, AuditMutation):
    @strawberry.mutation(
        permission_classes=[allow(Permission.INGEST)],
        description="Same semantics as POST /v1/events.",
    )
    async def ingest_events(self, info: Info, events: list[JSON]) -> IngestResult:
        try:
            outcome = await info.context.services.ingest.ingest(
                events, info.context.principal.actor
            )
        except IngestError as exc:
            raise ingest_error(exc) from exc
        return IngestResult(
            accepted=outcome.accepted,
            duplicates=outcome.duplicates,
            rejected=[
                Rejection(index=r.index, id=strawberry.ID(r.id) if r.id else None, error=r.error)
                for r in outcome.rejected
            ],
            last_seq=outcome.last_seq,
        )


@strawberry.type
class Subscription(LiveSubscription, AlertsSubscription):
    """Live events and run states (tracegraph.api.graphql.subscriptions) plus alerts."""


def build_schema(settings: Settings) -> HardenedSchema:
    """The schema with the document limits, masking and rate limits of ``settings``
    (tracegraph.api.graphql.hardening)."""
    return HardenedSchema(settings, query=Query, mutation=Mutation, subscription=Subscription)
