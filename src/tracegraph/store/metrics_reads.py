"""Metrics over time from the graph (statements in ``cypher/metrics_*.cypher``).

Aggregated at query time over indexed time ranges (runs and step runs by start, LLM calls
by answer, events by source time): nothing extra on the write path, and identical event
sets give identical figures whatever their arrival order. ``bench/metrics.py`` checks the
latency targets this relies on.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from neo4j import Record

from tracegraph.store.base import Store

Props = dict[str, Any]


@dataclass(frozen=True, slots=True)
class MetricFilter:
    pipeline: str | None = None
    step: str | None = None
    provider: str | None = None
    model: str | None = None

    def params(self) -> Props:
        return {
            "pipeline": self.pipeline,
            "step": self.step,
            "provider": self.provider,
            "model": self.model,
        }

    @property
    def has_runs(self) -> bool:
        # Runs have no step, provider or model of their own.
        return self.step is None and self.provider is None and self.model is None

    @property
    def has_events(self) -> bool:
        return self.provider is None and self.model is None


EMPTY_BUCKET: Props = {
    "runs": 0,
    "runs_succeeded": 0,
    "runs_failed": 0,
    "runs_cancelled": 0,
    "run_p50": None,
    "run_p95": None,
    "run_p99": None,
    "step_runs": 0,
    "step_runs_succeeded": 0,
    "step_runs_failed": 0,
    "step_runs_finished": 0,
    "step_p50": None,
    "step_p95": None,
    "step_p99": None,
    "events": 0,
    "calls": 0,
    "call_errors": 0,
    "latency_p50": None,
    "latency_p95": None,
    "latency_p99": None,
    "input_tokens": 0,
    "output_tokens": 0,
    "cost_usd": 0.0,
    "estimated_cost_usd": 0.0,
}


class MetricsReads(Store):
    async def buckets(
        self, flt: MetricFilter, from_ms: int, to_ms: int, bucket_ms: int
    ) -> list[Props]:
        """One dict per bucket (empty buckets included), oldest first."""
        params = {**flt.params(), "from_ms": from_ms, "to_ms": to_ms, "bucket_ms": bucket_ms}
        no_rows: asyncio.Future[list[Record]] = asyncio.get_running_loop().create_future()
        no_rows.set_result([])
        runs, step_runs, calls, events = await asyncio.gather(
            self.read("metrics_runs", **params) if flt.has_runs else no_rows,
            self.read("metrics_step_runs", **params),
            self.read("metrics_llm_calls", **params),
            self.read("metrics_events", **params) if flt.has_events else no_rows,
        )
        count = max(1, -(-(to_ms - from_ms) // bucket_ms))
        out = [dict(EMPTY_BUCKET, bucket=i) for i in range(count)]
        if not flt.has_runs:
            for b in out:
                b.update(runs=None, runs_succeeded=None, runs_failed=None, runs_cancelled=None)
        if not flt.has_events:
            for b in out:
                b["events"] = None
        for r in runs:
            out[r["bucket"]].update(
                runs=r["runs"],
                runs_succeeded=r["succeeded"],
                runs_failed=r["failed"],
                runs_cancelled=r["cancelled"],
                run_p50=r["p50"],
                run_p95=r["p95"],
                run_p99=r["p99"],
            )
        for r in step_runs:
            out[r["bucket"]].update(
                step_runs=r["step_runs"],
                step_runs_succeeded=r["succeeded"],
                step_runs_failed=r["failed"],
                step_runs_finished=r["finished"],
                step_p50=r["p50"],
                step_p95=r["p95"],
                step_p99=r["p99"],
            )
        for r in calls:
            out[r["bucket"]].update(
                calls=r["calls"],
                call_errors=r["errors"],
                latency_p50=r["p50"],
                latency_p95=r["p95"],
                latency_p99=r["p99"],
                input_tokens=r["input_tokens"],
                output_tokens=r["output_tokens"],
                cost_usd=r["cost_usd"],
                estimated_cost_usd=r["estimated_cost_usd"],
            )
        for r in events:
            out[r["bucket"]]["events"] = r["events"]
        return out

    async def breakdown(
        self,
        by: str,
        from_ms: int,
        to_ms: int,
        pipeline: str | None = None,
        provider: str | None = None,
    ) -> list[Props]:
        recs = await self.read(
            "metrics_breakdown",
            by=by,
            from_ms=from_ms,
            to_ms=to_ms,
            pipeline=pipeline,
            provider=provider,
        )
        return [dict(r) for r in recs]
