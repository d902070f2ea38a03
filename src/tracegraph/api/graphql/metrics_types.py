"""GraphQL metrics: time series and totals, cost breakdowns, provider/model comparison.

Resolvers only check arguments and map rows; the aggregation is Cypher over indexed time
ranges (``tracegraph.store.metrics_reads``). ``Metrics.series`` and ``Metrics.totals``
share one read when both are selected (from the rollups: one statement), and only the
sketches of the percentiles selected are read.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Annotated, Any

import strawberry
from strawberry.types import Info
from strawberry.types.nodes import SelectedField

from tracegraph.api.graphql.context import Context
from tracegraph.api.graphql.errors import BadArgument
from tracegraph.api.graphql.permissions import allow
from tracegraph.api.graphql.scalars import DateTime
from tracegraph.auth import Permission
from tracegraph.store.metrics_reads import MetricFilter

MAX_BUCKETS = 2000


@strawberry.enum(description="What LLM-call figures are grouped by in a breakdown.")
class MetricGroup(enum.Enum):
    PIPELINE = "PIPELINE"
    STEP = "STEP"
    MODEL = "MODEL"
    PROVIDER = "PROVIDER"


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def _ratio(part: Any, whole: Any) -> float | None:
    return None if not whole or part is None else float(part) / float(whole)


@strawberry.type(description="Figures for one time bucket (or the whole range, as totals).")
class MetricPoint:
    start: DateTime
    end: DateTime
    runs: int | None = strawberry.field(
        description="Runs started (null when filtering by step, provider or model)."
    )
    runs_succeeded: int | None
    runs_failed: int | None
    runs_cancelled: int | None
    run_duration_p50_ms: float | None
    run_duration_p95_ms: float | None
    run_duration_p99_ms: float | None
    step_runs: int = strawberry.field(description="Step runs (attempts) started.")
    step_runs_succeeded: int
    step_runs_failed: int
    step_duration_p50_ms: float | None
    step_duration_p95_ms: float | None
    step_duration_p99_ms: float | None
    error_rate: float | None = strawberry.field(
        description="Failed step runs / finished step runs (null when none finished)."
    )
    events: int | None = strawberry.field(
        description="Stored events by source time (null when filtering by provider/model)."
    )
    llm_calls: int = strawberry.field(description="LLM calls answered in the bucket.")
    llm_call_errors: int
    latency_p50_ms: float | None = strawberry.field(description="LLM call latency.")
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float = strawberry.field(description="Reported plus estimated cost.")
    estimated_cost_usd: float = strawberry.field(
        description="The part of costUsd estimated from the price table."
    )
    estimated_cost_share: float | None

    @classmethod
    def from_row(cls, row: dict[str, Any], start: datetime, end: datetime) -> MetricPoint:
        return cls(
            start=start,
            end=end,
            runs=row["runs"],
            runs_succeeded=row["runs_succeeded"],
            runs_failed=row["runs_failed"],
            runs_cancelled=row["runs_cancelled"],
            run_duration_p50_ms=_f(row["run_p50"]),
            run_duration_p95_ms=_f(row["run_p95"]),
            run_duration_p99_ms=_f(row["run_p99"]),
            step_runs=row["step_runs"],
            step_runs_succeeded=row["step_runs_succeeded"],
            step_runs_failed=row["step_runs_failed"],
            step_duration_p50_ms=_f(row["step_p50"]),
            step_duration_p95_ms=_f(row["step_p95"]),
            step_duration_p99_ms=_f(row["step_p99"]),
            error_rate=_ratio(row["step_runs_failed"], row["step_runs_finished"]),
            events=row["events"],
            llm_calls=row["calls"],
            llm_call_errors=row["call_errors"],
            latency_p50_ms=_f(row["latency_p50"]),
            latency_p95_ms=_f(row["latency_p95"]),
            latency_p99_ms=_f(row["latency_p99"]),
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            cost_usd=float(row["cost_usd"]),
            estimated_cost_usd=float(row["estimated_cost_usd"]),
            estimated_cost_share=_ratio(row["estimated_cost_usd"], row["cost_usd"]),
        )


def _ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


# Which sketch answers a MetricPoint field's percentiles.
_SKETCH_OF_FIELD = {"latency": "call", "stepDuration": "step", "runDuration": "run"}


def _selected_names(selections: Iterable[Any]) -> set[str]:
    """Every field name selected under these selections, fragments included."""
    names: set[str] = set()
    for sel in selections:
        name = getattr(sel, "name", None)
        if name:
            names.add(name)
        names |= _selected_names(getattr(sel, "selections", None) or [])
    return names


def _plan(info: Info[Context, None]) -> tuple[bool, bool, frozenset[str]]:
    """What a ``metrics`` field asks: (series?, totals?, the sketches its percentiles
    need). Percentiles nobody asked for cost a sketch read each."""
    fields = info.selected_fields[0].selections if info.selected_fields else []
    direct = [sel for sel in fields if isinstance(sel, SelectedField)]
    top = {sel.name for sel in direct}
    names = _selected_names(fields)
    sketches = frozenset(
        kind
        for prefix, kind in _SKETCH_OF_FIELD.items()
        if any(name.startswith(prefix) for name in names)
    )
    # A fragment hides which of series/totals it selects: then both.
    unknown = len(direct) < len(fields)
    return ("series" in top or unknown), ("totals" in top or unknown), sketches


@strawberry.type(description="Metrics of the selected scope over [from, to).")
class Metrics:
    pipeline: str | None
    step: str | None
    provider: str | None
    model: str | None
    from_: DateTime = strawberry.field(name="from")
    to: DateTime
    bucket_seconds: int
    flt: strawberry.Private[MetricFilter]
    # What the request selected, and the one read serving series and totals (from the
    # rollups a single statement answers both: totals merge the buckets).
    plan: strawberry.Private[tuple[bool, bool, frozenset[str]]]
    shared: strawberry.Private[dict[str, asyncio.Task[Any]]]

    def _figures(
        self, info: Info[Context, None]
    ) -> asyncio.Task[tuple[list[dict[str, Any]] | None, dict[str, Any] | None]]:
        task = self.shared.get("figures")
        if task is None:
            series, totals, sketches = self.plan
            task = asyncio.ensure_future(
                info.context.services.metrics.series_and_totals(
                    self.flt,
                    _ms(self.from_),
                    _ms(self.to),
                    self.bucket_seconds * 1000,
                    sketches,
                    series=series,
                    totals=totals,
                )
            )
            self.shared["figures"] = task
        return task

    @strawberry.field(description="One point per bucket, oldest first (empty buckets as 0).")
    async def series(self, info: Info[Context, None]) -> list[MetricPoint]:
        start, end = self.from_, self.to
        step = timedelta(seconds=self.bucket_seconds)
        rows, _ = await asyncio.shield(self._figures(info))
        assert rows is not None
        return [
            MetricPoint.from_row(r, start + step * i, min(start + step * (i + 1), end))
            for i, r in enumerate(rows)
        ]

    @strawberry.field(description="The whole range as one point (exact percentiles).")
    async def totals(self, info: Info[Context, None]) -> MetricPoint:
        _, whole = await asyncio.shield(self._figures(info))
        assert whole is not None
        return MetricPoint.from_row(whole, self.from_, self.to)


@strawberry.type(description="LLM-call figures of one group (pipeline, step, model, provider).")
class MetricBreakdown:
    key: str
    llm_calls: int
    llm_call_errors: int
    error_rate: float | None
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_p99_ms: float | None
    input_tokens: int
    output_tokens: int
    cost_usd: float
    estimated_cost_usd: float
    estimated_cost_share: float | None

    @classmethod
    def from_row(cls, r: dict[str, Any]) -> MetricBreakdown:
        return cls(
            key=str(r["key"]),
            llm_calls=r["calls"],
            llm_call_errors=r["errors"],
            error_rate=_ratio(r["errors"], r["calls"]),
            latency_p50_ms=_f(r["p50"]),
            latency_p95_ms=_f(r["p95"]),
            latency_p99_ms=_f(r["p99"]),
            input_tokens=r["input_tokens"],
            output_tokens=r["output_tokens"],
            cost_usd=float(r["cost_usd"]),
            estimated_cost_usd=float(r["estimated_cost_usd"]),
            estimated_cost_share=_ratio(r["estimated_cost_usd"], r["cost_usd"]),
        )


def _check_range(start: datetime, end: datetime, bucket_seconds: int) -> None:
    if end <= start:
        raise BadArgument("'to' must be after 'from'")
    if bucket_seconds <= 0:
        raise BadArgument("bucketSeconds must be > 0")
    if (end - start).total_seconds() / bucket_seconds > MAX_BUCKETS:
        raise BadArgument(f"at most {MAX_BUCKETS} buckets per series; widen bucketSeconds")


async def _breakdown(
    info: Info[Context, None],
    by: MetricGroup,
    start: datetime,
    end: datetime,
    pipeline: str | None,
    provider: str | None,
) -> list[MetricBreakdown]:
    _check_range(start, end, 1 << 30)
    rows = await info.context.services.metrics.breakdown(
        by.value, _ms(start), _ms(end), pipeline, provider
    )
    return [MetricBreakdown.from_row(r) for r in rows]


@strawberry.type
class MetricsQuery:
    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Throughput, latency, errors, tokens and cost over [from, to) for a "
        "pipeline (optionally one step), a provider (optionally one model), or everything; "
        "as a series of buckets of bucketSeconds and as totals.",
    )
    def metrics(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
        pipeline: str | None = None,
        step: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        bucket_seconds: int = 3600,
    ) -> Metrics:
        _check_range(from_, to, bucket_seconds)
        if step is not None and pipeline is None:
            raise BadArgument("step needs its pipeline")
        if model is not None and provider is None:
            raise BadArgument("model needs its provider")
        return Metrics(
            pipeline=pipeline,
            step=step,
            provider=provider,
            model=model,
            from_=from_,
            to=to,
            bucket_seconds=bucket_seconds,
            flt=MetricFilter(pipeline, step, provider, model),
            plan=_plan(info),
            shared={},
        )

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Cost (and tokens, latency) of LLM calls grouped by `by`.",
    )
    async def cost_breakdown(
        self,
        info: Info[Context, None],
        by: MetricGroup,
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
        pipeline: str | None = None,
    ) -> list[MetricBreakdown]:
        return await _breakdown(info, by, from_, to, pipeline, None)

    @strawberry.field(
        permission_classes=[allow(Permission.READ)],
        description="Providers/models side by side: latency, errors, cost.",
    )
    async def model_comparison(
        self,
        info: Info[Context, None],
        from_: Annotated[DateTime, strawberry.argument(name="from")],
        to: DateTime,
        pipeline: str | None = None,
        provider: str | None = None,
        by: MetricGroup = MetricGroup.MODEL,
    ) -> list[MetricBreakdown]:
        return await _breakdown(info, by, from_, to, pipeline, provider)
