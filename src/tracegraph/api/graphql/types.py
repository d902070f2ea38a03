"""The GraphQL object types of the contract (``shared/contract/graphql.md``).

Objects are built from plain property maps read from the graph (``from_node``); nested
fields resolve through the per-request DataLoaders on ``info.context.loaders`` so a page
of runs with their steps costs a constant number of queries.
"""

from __future__ import annotations

import asyncio
import enum
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import strawberry
from strawberry.types import Info

from tracegraph.api.graphql.column_types import ArtifactField
from tracegraph.api.graphql.permissions import can, hidden_unless
from tracegraph.api.graphql.scalars import JSON, DateTime, to_datetime, to_required_datetime
from tracegraph.auth import Permission
from tracegraph.history.fold import FoldedPipeline, FoldedRun
from tracegraph.redaction import without_policy, without_prompt_text

if TYPE_CHECKING:
    from tracegraph.api.graphql.definitions import DefinitionDiff
    from tracegraph.api.graphql.gate import ChangeRequest, PipelineVersion

# The governance gate's types (api/graphql/gate.py), which import these.
_GATE = "tracegraph.api.graphql.gate"


@strawberry.enum(description="Status of a run or step run (graph values are lowercase).")
class RunStatus(enum.Enum):
    SCHEDULED = "SCHEDULED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"  # a running run stopped at a checkpoint (run.paused; issue 18)
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    SKIPPED = "SKIPPED"

    @classmethod
    def from_graph(cls, value: str | None) -> RunStatus:
        return cls[(value or "scheduled").upper()]

    def to_graph(self) -> str:
        return self.value.lower()


@strawberry.enum
class Direction(enum.Enum):
    UPSTREAM = "UPSTREAM"
    DOWNSTREAM = "DOWNSTREAM"


@strawberry.enum
class NodeKind(enum.Enum):
    PIPELINE = "PIPELINE"
    STEP = "STEP"
    RUN = "RUN"
    ARTIFACT = "ARTIFACT"
    ARTIFACT_VERSION = "ARTIFACT_VERSION"
    PROMPT_VERSION = "PROMPT_VERSION"
    MODEL = "MODEL"
    OWNER = "OWNER"
    # Nodes that appear inside lineage/impact answers but are not impact roots.
    STEP_RUN = "STEP_RUN"
    LLM_CALL = "LLM_CALL"
    SLA = "SLA"
    FIELD = "FIELD"  # a column of an artifact version (lineage with field:, issue 22)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


@strawberry.type
class Overview:
    active_runs: int
    tokens_today: int = strawberry.field(
        description="Input + output tokens of LLM calls received since UTC midnight."
    )
    cost_today_usd: float = strawberry.field(
        description="Cost of LLM calls received since UTC midnight (reported or estimated)."
    )
    healthy: bool
    last_seq: int


@strawberry.type
class Event:
    seq: int
    id: strawberry.ID
    type: str
    time: DateTime
    pipeline: str | None
    run: strawberry.ID | None
    step: str | None
    attempt: int | None = strawberry.field(
        description="The step attempt the event is about (retries count up from 1); 1 when "
        "it names a step but no attempt, null when it names no step."
    )
    raw_data: strawberry.Private[Any]
    ingested_by: strawberry.Private[str | None] = None

    @strawberry.field(
        description="Who ingested the event (key:<name>, user:<email>; null when not "
        "recorded). Needs the read:audit permission: null without it.",
        extensions=[hidden_unless(Permission.READ_AUDIT)],
    )
    def principal(self) -> str | None:
        return self.ingested_by

    @strawberry.field(
        description="The event's data. Without the read:prompts permission, the prompt and "
        "response text of prompt.sent, response.chunk and response.received is left out "
        "and `hidden` lists the keys removed. Without the admin:policy permission, the "
        "data of redaction.policy_set (the rules) is only `hidden`, as redactionPolicy is."
    )
    def data(self, info: Info) -> JSON | None:
        data = self.raw_data
        if not can(info, Permission.MANAGE_POLICY):
            data = without_policy(self.type, data)
        if can(info, Permission.READ_PROMPTS):
            return data
        return without_prompt_text(self.type, data)

    @classmethod
    def from_payload(
        cls, seq: int, payload: dict[str, Any] | str | bytes, principal: str | None = None
    ) -> Event:
        """From a stored or just-committed canonical event (dict or its JSON text) and
        the actor of the principal that ingested it."""
        event: dict[str, Any] = payload if isinstance(payload, dict) else orjson.loads(payload)
        return cls(
            seq=int(seq),
            id=strawberry.ID(event["id"]),
            type=event["type"],
            time=to_required_datetime(event["time"]),
            pipeline=event.get("pipeline"),
            run=event.get("run"),
            step=event.get("step"),
            # The contract's default, as graph_rows keys step runs (run/step#attempt).
            attempt=(event.get("attempt") or 1) if event.get("step") else None,
            raw_data=event.get("data"),
            ingested_by=principal,
        )


@strawberry.type
class Rejection:
    index: int
    id: strawberry.ID | None
    error: str


@strawberry.type
class IngestResult:
    accepted: int
    duplicates: int
    rejected: list[Rejection]
    last_seq: int


@strawberry.type
class Owner:
    id: strawberry.ID
    kind: str
    name: str

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> Owner:
        oid = n["id"]
        kind = n.get("kind") or (oid.split(":", 1)[0] if ":" in oid else "unknown")
        return cls(id=strawberry.ID(oid), kind=kind, name=n.get("name") or oid)


@strawberry.type(name="SLA")
class SLA:
    id: strawberry.ID
    max_duration_ms: int | None
    max_tokens: int | None
    max_cost_usd: float | None
    min_success_rate: float | None
    window: str | None
    max_start_delay_ms: int | None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> SLA:
        return cls(
            id=strawberry.ID(n["id"]),
            max_duration_ms=_int(n.get("max_duration_ms")),
            max_tokens=_int(n.get("max_tokens")),
            max_cost_usd=_float(n.get("max_cost_usd")),
            min_success_rate=_float(n.get("min_success_rate")),
            window=n.get("window"),
            max_start_delay_ms=_int(n.get("max_start_delay_ms")),
        )


@strawberry.type
class ArtifactVersion:
    id: strawberry.ID
    uri: str
    version: str | None
    hash: str | None
    kind: str | None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> ArtifactVersion:
        return cls(
            id=strawberry.ID(n["id"]),
            uri=n.get("uri") or n["id"].rsplit("@", 1)[0],
            version=n.get("version"),
            hash=n.get("hash"),
            kind=n.get("kind"),
        )


@strawberry.type(name="LLMCall")
class LLMCall:
    id: strawberry.ID
    provider: str
    model: str
    prompt_template: str | None
    prompt_version: str | None
    prompt: str | None = strawberry.field(
        description="The prompt text (null without the read:prompts permission).",
        extensions=[hidden_unless(Permission.READ_PROMPTS)],
    )
    response: str | None = strawberry.field(
        description="The response text (null without the read:prompts permission).",
        extensions=[hidden_unless(Permission.READ_PROMPTS)],
    )
    input_tokens: int | None
    output_tokens: int | None
    latency_ms: int | None
    cost_usd: float | None
    redactions: int | None = strawberry.field(
        description="Secrets and personal data scrubbed from the prompt and response at "
        "ingest (null for calls stored before scrubbing)."
    )
    redaction_kinds: list[str] = strawberry.field(
        description="The redaction rules that matched (api_key, email, ...)."
    )

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> LLMCall:
        # A response that arrived before its prompt leaves provider/model unknown for now.
        return cls(
            id=strawberry.ID(n["id"]),
            provider=n.get("provider") or "unknown",
            model=n.get("model") or "unknown",
            prompt_template=n.get("template"),
            prompt_version=n.get("template_version"),
            prompt=n.get("prompt"),
            response=n.get("response"),
            input_tokens=_int(n.get("input_tokens")),
            output_tokens=_int(n.get("output_tokens")),
            latency_ms=_int(n.get("latency_ms")),
            cost_usd=_float(n.get("cost_usd")),
            redactions=_int(n.get("redactions")),
            redaction_kinds=list(n.get("redaction_kinds") or []),
        )


@strawberry.type
class Step:
    id: strawberry.ID
    key: str
    name: str | None
    kind: str | None
    # A point-in-time pipeline's step: its owner, SLA and upstream keys (history/fold.py).
    folded: strawberry.Private[dict[str, Any] | None] = None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> Step:
        sid = n["id"]
        return cls(
            id=strawberry.ID(sid),
            key=n.get("key") or sid.split("/", 1)[-1],
            name=n.get("name"),
            kind=n.get("kind"),
        )

    @strawberry.field(description="The steps this step depends on (its upstream in the DAG).")
    async def depends_on(self, info: Info) -> list[Step]:
        if self.folded is not None:
            pipeline = str(self.id).rsplit("/", 1)[0]
            return [Step.from_node({"id": f"{pipeline}/{k}"}) for k in self.folded["depends_on"]]
        links = await info.context.loaders.step_links.load(str(self.id))
        return [Step.from_node(n) for n in links["depends_on"]]

    async def _links(self, info: Info) -> dict[str, Any]:
        if self.folded is not None:
            return self.folded
        links: dict[str, Any] = await info.context.loaders.step_links.load(str(self.id))
        return links

    @strawberry.field
    async def owner(self, info: Info) -> Owner | None:
        links = await self._links(info)
        return Owner.from_node(links["owner"]) if links["owner"] else None

    @strawberry.field
    async def sla(self, info: Info) -> SLA | None:
        links = await self._links(info)
        return SLA.from_node(links["sla"]) if links["sla"] else None


@strawberry.type
class Pipeline:
    name: str
    version: str | None
    card_version: int = strawberry.field(
        description="Version of the pipeline card (docs/live-deltas.md): the number of "
        "committed events of the pipeline, plus one per admin change of its owners or SLAs."
    )
    as_of_seq: int | None = strawberry.field(
        default=None,
        description="Set on a point-in-time answer (pipeline(name, asOfSeq)): the seq it "
        "was folded up to; null on the live pipeline.",
    )
    # The point-in-time fold behind this answer (history/fold.py); None: the live pipeline.
    folded: strawberry.Private[FoldedPipeline | None] = None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> Pipeline:
        return cls(
            name=n["name"], version=n.get("version"), card_version=int(n.get("card_version") or 0)
        )

    @classmethod
    def as_of(cls, folded: FoldedPipeline) -> Pipeline:
        pipeline = cls.from_node(folded.node)
        pipeline.as_of_seq, pipeline.folded = folded.as_of_seq, folded
        return pipeline

    async def _links(self, info: Info) -> dict[str, Any]:
        if self.folded is not None:
            f = self.folded
            return {"owner": f.owner, "sla": f.sla, "steps": f.steps}
        links: dict[str, Any] = await info.context.loaders.pipeline_links.load(self.name)
        return links

    @strawberry.field
    async def owner(self, info: Info) -> Owner | None:
        links = await self._links(info)
        return Owner.from_node(links["owner"]) if links["owner"] else None

    @strawberry.field
    async def sla(self, info: Info) -> SLA | None:
        links = await self._links(info)
        return SLA.from_node(links["sla"]) if links["sla"] else None

    @strawberry.field
    async def steps(self, info: Info) -> list[Step]:
        if self.folded is not None:
            steps = []
            for node in self.folded.steps:
                step = Step.from_node(node)
                step.folded = node
                steps.append(step)
            return steps
        links = await self._links(info)
        return [Step.from_node(n) for n in links["steps"]]

    @strawberry.field(
        description="The pipeline's latest runs, newest first (capped). As of a seq: "
        "those of the latest runs that had begun by then, each as of that seq."
    )
    async def runs(self, info: Info, first: int | None = 20) -> list[Run]:
        first = info.context.page_size(20 if first is None else first)
        nodes = await info.context.loaders.runs_of_pipeline.load((self.name, first))
        if self.folded is None:
            return [Run.from_node(n) for n in nodes]
        history = info.context.services.history
        seq = self.folded.as_of_seq
        folded = await asyncio.gather(*(history.run_as_of(n["id"], seq, None) for n in nodes))
        return [Run.as_of(f) for f in folded if f is not None]

    @strawberry.field(
        description="Every definition version, oldest first: who submitted it, when, and "
        "who approved it when it went through the gate (docs/governance.md)."
    )
    async def versions(
        self, info: Info
    ) -> list[Annotated[PipelineVersion, strawberry.lazy(_GATE)]]:
        from tracegraph.api.graphql.gate import pipeline_versions

        return await pipeline_versions(info, self.name)

    @strawberry.field(description="What changed between two definition versions.")
    async def diff(
        self, info: Info, from_: Annotated[str, strawberry.argument(name="from")], to: str
    ) -> Annotated[DefinitionDiff, strawberry.lazy("tracegraph.api.graphql.definitions")]:
        from tracegraph.api.graphql.gate import pipeline_diff

        return await pipeline_diff(info, self.name, from_, to)

    @strawberry.field(description="Change requests of this pipeline waiting for review.")
    async def pending_changes(
        self, info: Info
    ) -> list[Annotated[ChangeRequest, strawberry.lazy(_GATE)]]:
        from tracegraph.api.graphql.gate import pending_changes

        return await pending_changes(info, self.name)


@strawberry.type
class StepRun:
    id: strawberry.ID
    version: int = strawberry.field(
        description="How many committed events of this step run (run, step and attempt) "
        "the graph reflects (docs/live-deltas.md)."
    )
    attempt: int
    status: RunStatus
    started_at: DateTime | None
    ended_at: DateTime | None
    duration_ms: int | None
    percent: float | None
    tokens_used: int | None
    token_budget: int | None
    provider: str | None
    model: str | None
    error: str | None
    awaiting_approval: strawberry.ID | None = strawberry.field(
        description="The approval this step run waits for (its status stays RUNNING), "
        "else null: approvals(run:) has its question and approvers (docs/approvals.md)."
    )
    step_id: strawberry.Private[str]
    # A point-in-time view's folded calls and artifacts (history/fold.py); None: live.
    folded_links: strawberry.Private[dict[str, list[dict[str, Any]]] | None] = None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> StepRun:
        return cls(
            id=strawberry.ID(n["id"]),
            version=int(n.get("version") or 0),
            attempt=int(n.get("attempt") or 1),
            status=RunStatus.from_graph(n.get("status")),
            started_at=to_datetime(n.get("started_at")),
            ended_at=to_datetime(n.get("ended_at")),
            duration_ms=_int(n.get("duration_ms")),
            percent=_float(n.get("percent")),
            tokens_used=_int(n.get("tokens_used")),
            token_budget=_int(n.get("token_budget")),
            provider=n.get("provider"),
            model=n.get("model"),
            error=n.get("error"),
            awaiting_approval=n.get("awaiting_approval"),
            step_id=f"{n.get('pipeline')}/{n.get('step')}",
        )

    @strawberry.field
    async def step(self, info: Info) -> Step:
        node = await info.context.loaders.step_by_id.load(self.step_id)
        return Step.from_node(node or {"id": self.step_id})

    async def _links(self, info: Info) -> dict[str, list[dict[str, Any]]]:
        if self.folded_links is not None:
            return self.folded_links
        links: dict[str, list[dict[str, Any]]] = await info.context.loaders.step_run_links.load(
            str(self.id)
        )
        return links

    @strawberry.field
    async def llm_calls(self, info: Info) -> list[LLMCall]:
        return [LLMCall.from_node(n) for n in (await self._links(info))["llm_calls"]]

    @strawberry.field
    async def reads(self, info: Info) -> list[ArtifactVersion]:
        return [ArtifactVersion.from_node(n) for n in (await self._links(info))["reads"]]

    @strawberry.field
    async def writes(self, info: Info) -> list[ArtifactVersion]:
        return [ArtifactVersion.from_node(n) for n in (await self._links(info))["writes"]]


@strawberry.type
class Run:
    id: strawberry.ID
    version: int = strawberry.field(
        description="How many committed events of this run the graph reflects "
        "(docs/live-deltas.md): duplicates and arrival order do not change it."
    )
    status: RunStatus
    scheduled_for: DateTime | None
    started_at: DateTime | None
    ended_at: DateTime | None
    duration_ms: int | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    cost_estimated: bool
    error: str | None
    trigger: str | None
    pipeline_name: strawberry.Private[str]
    as_of_seq: int | None = strawberry.field(
        default=None,
        description="Set on a point-in-time answer (run(id, asOfSeq | asOf)): the seq it "
        "was folded up to; null on the live run.",
    )
    # The point-in-time fold behind this answer (history/fold.py); None: the live run.
    folded: strawberry.Private[FoldedRun | None] = None

    @classmethod
    def from_node(cls, n: dict[str, Any]) -> Run:
        """From a Run node's properties (e.g. ``dict(record["r"])``)."""
        return cls(
            id=strawberry.ID(n["id"]),
            version=int(n.get("version") or 0),
            status=RunStatus.from_graph(n.get("status")),
            scheduled_for=to_datetime(n.get("scheduled_for")),
            started_at=to_datetime(n.get("started_at")),
            ended_at=to_datetime(n.get("ended_at")),
            duration_ms=_int(n.get("duration_ms")),
            input_tokens=int(n.get("input_tokens") or 0),
            output_tokens=int(n.get("output_tokens") or 0),
            cost_usd=float(n.get("cost_usd") or 0.0),
            cost_estimated=bool(n.get("cost_estimated") or False),
            error=n.get("error"),
            trigger=n.get("trigger"),
            pipeline_name=n.get("pipeline") or "",
        )

    @strawberry.field
    async def pipeline(self, info: Info) -> Pipeline:
        node = await info.context.loaders.pipeline_by_name.load(self.pipeline_name)
        return Pipeline.from_node(node or {"name": self.pipeline_name})

    @classmethod
    def as_of(cls, folded: FoldedRun) -> Run:
        """A point-in-time answer: the run folded from the log up to a seq."""
        run = cls.from_node(folded.run)
        run.as_of_seq, run.folded = folded.as_of_seq, folded
        return run

    @strawberry.field(description="The run's step runs (every attempt), in start order.")
    async def steps(self, info: Info) -> list[StepRun]:
        if self.folded is not None:
            step_runs = []
            for node in self.folded.step_runs_in_order():
                step_run = StepRun.from_node(node)
                step_run.folded_links = self.folded.links(node["id"])
                step_runs.append(step_run)
            return step_runs
        nodes = await info.context.loaders.step_runs_of_run.load(str(self.id))
        return [StepRun.from_node(n) for n in nodes]


@strawberry.type
class LineageNode:
    id: strawberry.ID
    kind: NodeKind
    key: str
    label: str
    depth: int


@strawberry.type
class LineageEdge:
    from_: strawberry.ID = strawberry.field(name="from")
    to: strawberry.ID
    kind: str = strawberry.field(
        description="OBSERVED (a step run, or run, read `from` and wrote `to`), INFERRED "
        "(inside a run, `to` was written by a step that depends, through the step DAG, on "
        "one that read or wrote `from`), or VERSION_OF (a version of the root artifact). "
        "Column lineage (field:): DERIVED (field from field) and FIELD_OF."
    )
    via: strawberry.ID | None = strawberry.field(
        description="OBSERVED: the step run (or run) that read and wrote; INFERRED: the run."
    )
    path: list[str] | None = strawberry.field(
        default=None,
        description="INFERRED only: the explaining step dependency, step keys from the "
        "step that read or wrote `from` to the step that wrote `to`.",
    )
    transformation: str | None = strawberry.field(
        default=None,
        description="Column lineage (field:): the transformation's type and subtype, "
        "e.g. DIRECT/IDENTITY",
    )
    description: str | None = strawberry.field(
        default=None, description="Column lineage (field:): the transformation, in words"
    )


@strawberry.type
class LineageGraph:
    root: LineageNode
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    truncated: bool


@strawberry.type
class Impact:
    root: LineageNode
    artifacts: list[ArtifactVersion]
    steps: list[Step]
    pipelines: list[Pipeline]
    runs: list[Run]
    owners: list[Owner]
    slas: list[SLA]
    paths: list[list[strawberry.ID]] = strawberry.field(
        description="For each affected node, one shortest path of ids from the root."
    )
    truncated: bool
    fields: list[ArtifactField] = strawberry.field(
        default_factory=list,
        description="impact(field:): the fields derived from the field, transitively "
        "(column lineage); empty otherwise.",
    )
    edges: list[LineageEdge] = strawberry.field(
        default_factory=list,
        description="The data-flow derivations between artifact versions this answer "
        "followed: OBSERVED (via the step run) and INFERRED (via the run, with its path).",
    )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class PipelineEdge:
    cursor: str
    node: Pipeline


@strawberry.type
class PipelineConnection:
    edges: list[PipelineEdge]
    page_info: PageInfo


@strawberry.type
class RunEdge:
    cursor: str
    node: Run


@strawberry.type
class RunConnection:
    edges: list[RunEdge]
    page_info: PageInfo


__all__ = [
    "JSON",
    "SLA",
    "ArtifactVersion",
    "DateTime",
    "Direction",
    "Event",
    "Impact",
    "IngestResult",
    "LLMCall",
    "LineageEdge",
    "LineageGraph",
    "LineageNode",
    "NodeKind",
    "Overview",
    "PageInfo",
    "Pipeline",
    "PipelineConnection",
    "PipelineEdge",
    "Rejection",
    "Run",
    "RunConnection",
    "RunEdge",
    "RunStatus",
    "Step",
    "StepRun",
    "datetime",
]
