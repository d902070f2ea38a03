"""The core of the schema: the header bar, pipelines, runs, lineage, impact, the event
log, and ``ingestEvents`` (the contract's ``../shared/contract/graphql.md``)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument, database_unavailable, ingest_error
from tracegraph.api.graphql.pagination import connection, decode_cursor
from tracegraph.api.graphql.permissions import allow
from tracegraph.api.graphql.scalars import JSON, DateTime, to_required_datetime
from tracegraph.api.graphql.types import (
    Direction,
    Event,
    Impact,
    IngestResult,
    LineageGraph,
    NodeKind,
    Overview,
    Pipeline,
    PipelineConnection,
    PipelineEdge,
    Rejection,
    Run,
    RunConnection,
    RunEdge,
    RunStatus,
)
from tracegraph.api.graphql.views import field_lineage_graph, impact_answer, lineage_graph
from tracegraph.auth import Permission
from tracegraph.history.service import RunTooLong
from tracegraph.ingest.errors import IngestError
from tracegraph.store.errors import is_retryable


@strawberry.type(description="One event of a run on its timeline: a stop of the time slider.")
class RunStop:
    seq: int
    received_at: DateTime
    type: str


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


def _check_depth(depth: int, cap: int) -> int:
    if depth < 0:
        raise BadArgument(f"depth must be >= 0 (got {depth})")
    return min(depth, cap)


@strawberry.type
class CoreQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="The header bar: active runs, today's tokens/cost, health.",
    )
    async def overview(self, info: Info[Context, None]) -> Overview:
        # Never a made-up lastSeq 0 on failure: the dashboard would replay the whole log
        # and count all of it as today. An outage is a retryable error; others are masked.
        services = info.context.services
        try:
            o = await services.reads.overview()
        except Exception as exc:
            if is_retryable(exc):
                raise database_unavailable(services.settings.retry_after_s) from exc
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
        self, info: Info[Context, None], first: int | None = 50, after: str | None = None
    ) -> PipelineConnection:
        limit = info.context.page_size(50 if first is None else first)
        rows = await info.context.services.reads.pipelines_page(decode_cursor(after), limit + 1)
        edges, page_info = connection(
            rows,
            limit,
            key=lambda p: str(p["name"]),
            edge=lambda cursor, p: PipelineEdge(cursor=cursor, node=Pipeline.from_node(p)),
        )
        return PipelineConnection(edges=edges, page_info=page_info)

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="A pipeline: live, or as of a seq of the event log (asOfSeq: its "
        "version, owners, SLAs, steps and card version then, and its latest runs as of "
        "then), folded from the log without writing anything.",
    )
    async def pipeline(
        self, info: Info[Context, None], name: str, as_of_seq: int | None = None
    ) -> Pipeline | None:
        if as_of_seq is None:
            node = await info.context.loaders.pipeline_by_name.load(name)
            return Pipeline.from_node(node) if node else None
        if as_of_seq < 1:
            raise BadArgument(f"asOfSeq: must be at least 1, got {as_of_seq}")
        try:
            folded = await info.context.services.history.pipeline_as_of(name, as_of_seq)
        except RunTooLong as exc:
            raise BadArgument(str(exc)) from exc
        return Pipeline.as_of(folded) if folded else None

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Runs newest first (by start, else scheduled time).",
    )
    async def runs(
        self,
        info: Info[Context, None],
        pipeline: str | None = None,
        status: RunStatus | None = None,
        first: int | None = 50,
        after: str | None = None,
    ) -> RunConnection:
        limit = info.context.page_size(50 if first is None else first)
        rows = await info.context.services.reads.runs_page(
            pipeline, status.to_graph() if status else None, decode_cursor(after), limit + 1
        )
        edges, page_info = connection(
            rows,
            limit,
            key=lambda row: row[1],
            edge=lambda cursor, row: RunEdge(cursor=cursor, node=Run.from_node(row[0])),
        )
        return RunConnection(edges=edges, page_info=page_info)

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="A run: live, or as it stood at a point of the event log — asOfSeq "
        "(its events with seq <= asOfSeq) or asOf (those received by then), folded from "
        "the log without writing anything (docs/governance.md, point-in-time views). Null "
        "when the run had no event by then.",
    )
    async def run(
        self,
        info: Info[Context, None],
        id: strawberry.ID,
        as_of_seq: int | None = None,
        as_of: DateTime | None = None,
    ) -> Run | None:
        if as_of_seq is None and as_of is None:
            node = await info.context.loaders.run_by_id.load(str(id))
            return Run.from_node(node) if node else None
        if as_of_seq is not None and as_of is not None:
            raise BadArgument("asOfSeq, asOf: give one of them, not both")
        if as_of_seq is not None and as_of_seq < 1:
            raise BadArgument(f"asOfSeq: must be at least 1, got {as_of_seq}")
        try:
            folded = await info.context.services.history.run_as_of(str(id), as_of_seq, as_of)
        except RunTooLong as exc:
            raise BadArgument(str(exc)) from exc
        return Run.as_of(folded) if folded else None

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="The seqs of a run's events with the time each was received, in seq "
        "order (capped at 5000): the stops of the run page's time slider.",
    )
    async def run_timeline(self, info: Info[Context, None], id: strawberry.ID) -> list[RunStop]:
        rows = await info.context.services.history.stops(str(id))
        return [
            RunStop(
                seq=int(r["seq"]),
                received_at=to_required_datetime(r["received_at"]),
                type=r["type"],
            )
            for r in rows
        ]

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Artifact versions upstream or downstream of an artifact (every version "
        "of it when no version is given), depth-bounded; edges point the way data flowed. "
        "With field: column-level lineage of that field (nodes are fields, kind FIELD; "
        "edges carry the transformation; docs/columns.md). Inferred edges (inside a run, "
        "along the step DAG; docs/lineage.md) are included unless observedOnly.",
    )
    async def lineage(
        self,
        info: Info[Context, None],
        uri: str,
        version: str | None = None,
        direction: Direction | None = Direction.UPSTREAM,
        depth: int | None = 5,
        field: str | None = None,
        observed_only: bool | None = False,
    ) -> LineageGraph:
        depth = 5 if depth is None else depth
        settings = info.context.services.settings
        applied = _check_depth(depth, settings.lineage_max_depth)
        if field is not None:
            if not field:
                raise BadArgument("field: must be a field name, not empty")
            field_rows = await info.context.services.reads.field_lineage(
                uri,
                version,
                field,
                downstream=direction is Direction.DOWNSTREAM,
                depth=applied,
                max_nodes=settings.lineage_max_nodes,
            )
            return field_lineage_graph(
                field_rows, uri, version, field, depth, applied, settings.lineage_max_nodes
            )
        rows = await info.context.services.reads.lineage(
            uri,
            version,
            downstream=direction is Direction.DOWNSTREAM,
            depth=applied,
            max_nodes=settings.lineage_max_nodes,
            observed_only=bool(observed_only),
        )
        return lineage_graph(rows, uri, version, depth, applied, settings.lineage_max_nodes)

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="The blast radius of a node, with one explaining path each. With "
        "field: (kind ARTIFACT or ARTIFACT_VERSION) what reads that field downstream — "
        "the derived fields, the artifacts holding them, the step runs that wrote them, "
        "their steps, runs, pipelines and owners (docs/columns.md). Data flows along "
        "inferred lineage too unless observedOnly (docs/lineage.md).",
    )
    async def impact(
        self,
        info: Info[Context, None],
        kind: NodeKind,
        key: str,
        depth: int | None = 10,
        field: str | None = None,
        observed_only: bool | None = False,
    ) -> Impact:
        depth = 10 if depth is None else depth
        if kind not in IMPACT_ROOTS:
            raise BadArgument(
                f"impact roots are {', '.join(sorted(k.value for k in IMPACT_ROOTS))}"
            )
        settings = info.context.services.settings
        applied = _check_depth(depth, settings.lineage_max_depth)
        if field is not None:
            return await _field_impact(info, kind, key, field, depth, applied)
        rec = await info.context.services.reads.impact(
            kind.value,
            key,
            depth=applied,
            max_nodes=settings.lineage_max_nodes,
            observed_only=bool(observed_only),
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
        info: Info[Context, None],
        after_seq: int | None = 0,
        first: int | None = 100,
        pipeline: str | None = None,
        run: strawberry.ID | None = None,
    ) -> list[Event]:
        limit = info.context.page_size(100 if first is None else first)
        rows = await info.context.services.reads.events(
            after_seq or 0, limit, pipeline, str(run) if run is not None else None
        )
        return [Event.from_payload(seq, payload, principal) for seq, payload, principal in rows]


async def _field_impact(
    info: Info[Context, None], kind: NodeKind, key: str, field: str, depth: int, applied: int
) -> Impact:
    if kind not in (NodeKind.ARTIFACT, NodeKind.ARTIFACT_VERSION):
        raise BadArgument(f"field: applies to kind ARTIFACT or ARTIFACT_VERSION, not {kind.value}")
    if not field:
        raise BadArgument("field: must be a field name, not empty")
    max_nodes = info.context.services.settings.lineage_max_nodes
    rec = await info.context.services.reads.field_impact(
        kind.value, key, field, depth=applied, max_nodes=max_nodes
    )
    if rec is None:
        raise BadArgument(f"unknown {kind.value} {key!r}")
    if not rec["start_count"]:
        raise BadArgument(f"{kind.value} {key!r} has no field {field!r}")
    return impact_answer(rec, depth, applied, max_nodes)


@strawberry.type
class IngestMutation:
    @strawberry.mutation(
        permission_classes=[allow(Permission.INGEST)],
        description="Same semantics as POST /v1/events.",
    )
    async def ingest_events(self, info: Info[Context, None], events: list[JSON]) -> IngestResult:
        try:
            caller = info.context.signed_in
            outcome = await info.context.services.ingest.ingest(
                events, caller.actor, caller.write_scope
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
