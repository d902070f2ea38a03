"""Metrics over time: from the rollups (``store/rollups.py``) or the graph itself.

Read from the rollups when they are complete (``RollupState``) and the request's bucket
edges fall on whole minutes (the dashboard asks so): each bucket is cut into whole hours
and the minutes around them, so the cost follows the number of rollup buckets, not of
events. Counts, tokens and cost are exact (cost to 10^-9 USD per call); percentiles come
from the summed sketch bins, within 1 % of the exact value. Otherwise (a rollup rebuild
still running, or edges inside a minute) the figures are aggregated from the graph at
query time over indexed time ranges (``cypher/metrics_*.cypher``: runs and step runs by
start, LLM calls by answer, events by source time), exact, as before the rollups.
``bench/metrics.py`` checks the latency targets this relies on.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from neo4j import Record

from tracegraph.store.base import Store
from tracegraph.store.rollups import HOUR_MS, MINUTE_MS, NANO, Bin, code_bin, quantile

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


PERCENTILES = ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))


def rollup_ranges(from_ms: int, to_ms: int, bucket_ms: int) -> list[Props]:
    """The rollup ranges of each bucket of [from_ms, to_ms): whole hours at the hour
    level, the minutes before and after them at the minute level."""
    ranges: list[Props] = []
    for index, start in enumerate(range(from_ms, to_ms, bucket_ms)):
        end = min(start + bucket_ms, to_ms)
        first_hour = -(-start // HOUR_MS) * HOUR_MS
        last_hour = end // HOUR_MS * HOUR_MS
        if first_hour < last_hour:
            parts = [("m", start, first_hour), ("h", first_hour, last_hour), ("m", last_hour, end)]
        else:
            parts = [("m", start, end)]
        ranges.extend(
            {"level": level, "from": lo, "to": hi, "bucket": index}
            for level, lo, hi in parts
            if lo < hi
        )
    return ranges


def merged_ranges(ranges: list[Props]) -> list[Props]:
    """Adjacent ranges of one level as one (``bucket`` dropped: rollup_series finds a
    rollup's bucket from its start), so a series of whole-hour buckets is one seek."""
    out: list[Props] = []
    for rg in ranges:
        if out and out[-1]["level"] == rg["level"] and out[-1]["to"] == rg["from"]:
            out[-1]["to"] = rg["to"]
        else:
            out.append({"level": rg["level"], "from": rg["from"], "to": rg["to"]})
    return out


# The percentiles each kind's sketch answers.
SKETCH_KINDS = ("run", "step", "call")
SUM_FIELDS = (
    "n", "errors", "succeeded", "failed", "cancelled", "finished", "input_tokens",
    "output_tokens", "cost_nano", "estimated_cost_nano",
)  # fmt: skip


@dataclass(slots=True)
class RolledGroup:
    """One (bucket, kind, dims) of rollup_series: its sums and merged sketch."""

    sums: dict[str, int]
    sketch: Counter[int]

    def add(self, other: RolledGroup) -> None:
        for name, value in other.sums.items():
            self.sums[name] += value
        self.sketch.update(other.sketch)


def _group_of(row: list[Any]) -> RolledGroup:
    sums = dict(zip(SUM_FIELDS, row[3:13], strict=True))
    sketch: Counter[int] = Counter()
    for codes, counts in zip(row[13], row[14], strict=True):
        for code, n in zip(codes, counts, strict=True):
            sketch[code] += n
    return RolledGroup(sums, sketch)


def _on_minutes(*ms: int) -> bool:
    return all(value % MINUTE_MS == 0 for value in ms)


def _percentiles(codes: Counter[int]) -> Iterator[tuple[str, float | None]]:
    bins: Counter[Bin] = Counter({code_bin(code): n for code, n in codes.items()})
    for q, name in PERCENTILES:
        yield name, quantile(bins, q)


class MetricsReads(Store):
    async def rollups_complete(self) -> bool:
        return bool((await self.read("rollup_state"))[0]["complete"])

    async def _rollups(
        self,
        flt: MetricFilter,
        from_ms: int,
        to_ms: int,
        bucket_ms: int,
        kinds: list[str],
        sketch_kinds: Iterable[str],
        by_dims: bool,
    ) -> dict[tuple[int, str, Any], RolledGroup] | None:
        """The rollups of [from_ms, to_ms) per (bucket, kind, dims), in one statement;
        None when they are incomplete (the caller reads the graph)."""
        [record] = await self.read(
            "rollup_series",
            **flt.params(),
            ranges=merged_ranges(rollup_ranges(from_ms, to_ms, bucket_ms)),
            kinds=kinds,
            sketch_kinds=[k for k in sketch_kinds if k in kinds],
            by_dims=by_dims,
            bucket_ms=bucket_ms,
            **{"from": from_ms},
        )
        if not record["complete"]:
            return None
        return {
            (row[0], row[1], None if row[2] is None else tuple(row[2])): _group_of(row)
            for row in record["rows"]
        }

    async def buckets(
        self,
        flt: MetricFilter,
        from_ms: int,
        to_ms: int,
        bucket_ms: int,
        sketch_kinds: Iterable[str] = SKETCH_KINDS,
    ) -> list[Props]:
        """One dict per bucket (empty buckets included), oldest first. Percentiles only of
        ``sketch_kinds`` (run, step, call) from the rollups (the others None)."""
        series, _ = await self.series_and_totals(
            flt, from_ms, to_ms, bucket_ms, sketch_kinds, totals=False
        )
        assert series is not None
        return series

    async def series_and_totals(
        self,
        flt: MetricFilter,
        from_ms: int,
        to_ms: int,
        bucket_ms: int,
        sketch_kinds: Iterable[str] = SKETCH_KINDS,
        *,
        series: bool = True,
        totals: bool = True,
    ) -> tuple[list[Props] | None, Props | None]:
        """The buckets of [from_ms, to_ms) and/or the whole range as one bucket. From the
        rollups both come from one read (the totals merge the buckets: sums and sketches
        alike); else from the graph."""
        width = max(1, to_ms - from_ms)
        if _on_minutes(from_ms, to_ms, bucket_ms):
            got = await self.rollup_series_and_totals(
                flt, from_ms, to_ms, bucket_ms if series else width, sketch_kinds
            )
            if got is not None:
                rows, whole = got
                return (rows if series else None), (whole if totals else None)
        exact_series, exact_totals = await asyncio.gather(
            self.exact_buckets(flt, from_ms, to_ms, bucket_ms) if series else _none(),
            self.exact_buckets(flt, from_ms, to_ms, width) if totals else _none(),
        )
        return exact_series, (exact_totals[0] if exact_totals else None)

    def _empty_buckets(self, flt: MetricFilter, count: int) -> list[Props]:
        out = [dict(EMPTY_BUCKET, bucket=i) for i in range(count)]
        if not flt.has_runs:
            for b in out:
                b.update(runs=None, runs_succeeded=None, runs_failed=None, runs_cancelled=None)
        if not flt.has_events:
            for b in out:
                b["events"] = None
        return out

    def _kinds(self, flt: MetricFilter) -> list[str]:
        kinds = ["step", "call"]
        if flt.has_runs:
            kinds.append("run")
        if flt.has_events:
            kinds.append("event")
        return kinds

    async def rollup_buckets(
        self,
        flt: MetricFilter,
        from_ms: int,
        to_ms: int,
        bucket_ms: int,
        sketch_kinds: Iterable[str] = SKETCH_KINDS,
    ) -> list[Props]:
        """:meth:`buckets` from the rollups (edges on whole minutes; they must be
        complete)."""
        got = await self.rollup_series_and_totals(flt, from_ms, to_ms, bucket_ms, sketch_kinds)
        assert got is not None, "the rollups are incomplete"
        return got[0]

    async def rollup_series_and_totals(
        self,
        flt: MetricFilter,
        from_ms: int,
        to_ms: int,
        bucket_ms: int,
        sketch_kinds: Iterable[str],
    ) -> tuple[list[Props], Props] | None:
        groups = await self._rollups(
            flt, from_ms, to_ms, bucket_ms, self._kinds(flt), sketch_kinds, by_dims=False
        )
        if groups is None:
            return None
        out = self._empty_buckets(flt, max(1, -(-(to_ms - from_ms) // bucket_ms)))
        [whole] = self._empty_buckets(flt, 1)
        merged: dict[str, RolledGroup] = {}
        for (bucket, kind, _dims), group in groups.items():
            _fill(out[bucket], kind, group)
            if kind in merged:
                merged[kind].add(group)
            else:
                merged[kind] = RolledGroup(dict(group.sums), Counter(group.sketch))
        for kind, group in merged.items():
            _fill(whole, kind, group)
        return out, whole

    async def exact_buckets(
        self, flt: MetricFilter, from_ms: int, to_ms: int, bucket_ms: int
    ) -> list[Props]:
        """:meth:`buckets` aggregated from the graph (exact percentiles)."""
        params = {**flt.params(), "from_ms": from_ms, "to_ms": to_ms, "bucket_ms": bucket_ms}
        no_rows: asyncio.Future[list[Record]] = asyncio.get_running_loop().create_future()
        no_rows.set_result([])
        runs, step_runs, calls, events = await asyncio.gather(
            self.read("metrics_runs", **params) if flt.has_runs else no_rows,
            self.read("metrics_step_runs", **params),
            self.read("metrics_llm_calls", **params),
            self.read("metrics_events", **params) if flt.has_events else no_rows,
        )
        out = self._empty_buckets(flt, max(1, -(-(to_ms - from_ms) // bucket_ms)))
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
        """LLM-call figures grouped by ``by`` (PIPELINE, STEP, MODEL, PROVIDER), costliest
        first."""
        if _on_minutes(from_ms, to_ms) and await self.rollups_complete():
            return await self.rollup_breakdown(by, from_ms, to_ms, pipeline, provider)
        return await self.exact_breakdown(by, from_ms, to_ms, pipeline, provider)

    async def rollup_breakdown(
        self,
        by: str,
        from_ms: int,
        to_ms: int,
        pipeline: str | None = None,
        provider: str | None = None,
    ) -> list[Props]:
        flt = MetricFilter(pipeline=pipeline, provider=provider)
        found = await self._rollups(
            flt, from_ms, to_ms, to_ms - from_ms, ["call"], ["call"], by_dims=True
        )
        assert found is not None, "the rollups are incomplete"
        groups: dict[Any, RolledGroup] = {}
        for (_bucket, _kind, dims), group in found.items():
            key = _group_key(by, dims)
            if key in groups:
                groups[key].add(group)
            else:
                groups[key] = RolledGroup(dict(group.sums), Counter(group.sketch))
        out = []
        for key, group in groups.items():
            g = group.sums
            if not g["n"]:
                continue  # buckets emptied by calls that moved (a late prompt named its model)
            row = {
                "key": key,
                "calls": g["n"],
                "errors": g["errors"],
                "input_tokens": g["input_tokens"],
                "output_tokens": g["output_tokens"],
                "cost_usd": g["cost_nano"] / NANO,
                "estimated_cost_usd": g["estimated_cost_nano"] / NANO,
            }
            row.update(_percentiles(group.sketch))
            out.append(row)
        # As the exact statement: costliest first, then by key (nulls last).
        out.sort(key=lambda r: (-r["cost_usd"], r["key"] is None, r["key"] or ""))
        return out

    async def exact_breakdown(
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


def _group_key(by: str, dims: Any) -> str | None:
    """The breakdown key of a call's (pipeline, step, provider, model), as
    metrics_breakdown.cypher builds it (null when a part is null)."""
    pipeline, step, provider, model = dims
    if by == "PIPELINE":
        return pipeline
    if by == "STEP":
        return None if pipeline is None else f"{pipeline}/{step if step is not None else '-'}"
    if by == "PROVIDER":
        return provider
    return None if provider is None or model is None else f"{provider}/{model}"


async def _none() -> None:
    return None


_PREFIXES = {"run": "run_", "step": "step_", "call": "latency_"}


def _fill(b: Props, kind: str, group: RolledGroup) -> None:
    """Put one kind's rollup sums (and percentiles, when its sketch was read) into the
    bucket dict ``b``."""
    r = group.sums
    if kind == "run":
        b.update(
            runs=r["n"],
            runs_succeeded=r["succeeded"],
            runs_failed=r["failed"],
            runs_cancelled=r["cancelled"],
        )
    elif kind == "step":
        b.update(
            step_runs=r["n"],
            step_runs_succeeded=r["succeeded"],
            step_runs_failed=r["failed"],
            step_runs_finished=r["finished"],
        )
    elif kind == "call":
        b.update(
            calls=r["n"],
            call_errors=r["errors"],
            input_tokens=r["input_tokens"],
            output_tokens=r["output_tokens"],
            cost_usd=r["cost_nano"] / NANO,
            estimated_cost_usd=r["estimated_cost_nano"] / NANO,
        )
    else:
        b["events"] = r["n"]
    if group.sketch and kind in _PREFIXES:
        b.update({_PREFIXES[kind] + name: v for name, v in _percentiles(group.sketch)})
