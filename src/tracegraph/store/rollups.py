"""Metric rollups: counts, tokens, cost and latency sketches per time bucket (issue 21).

Each LLM call, step run, run and event *contributes* to one bucket per level (the minute
and the hour it falls in, by the time the metrics use: a call's answer, a run's or step
run's start, an event's source time) under its dimensions (pipeline, step, provider,
model, prompt template and version). The contribution is a function of the node's
current figures only, and each node records the one it added last (``rollup``, JSON):
every write transaction that touches a node moves the rollups by the difference between
the two. So the rollups equal the sum over the graph whatever the arrival order (late
events fold into their own past bucket; a call whose late prompt changes its estimated
cost moves by the change), a replay ends with the same rollups, and a rebuild
(``tracegraph rollups rebuild``) can run beside ingestion: it only adds what is missing.

The batch's differences are summed here first, so the database gets one row per
distinct bucket (and sketch bin), not per event. Cost is summed as integer nano-USD
(exact and order-independent; each call's cost rounds to 10^-9 USD).

Percentiles come from DDSketch bins (``ddsketch``'s logarithmic mapping with 1 %
relative accuracy): bin counts are summed across buckets at read time and the quantile
is read off them, within 1 % of the exact value of the same rank.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from ddsketch.mapping import LogarithmicMapping
from neo4j import AsyncDriver, AsyncManagedTransaction

from tracegraph.store.batch_params import RowList
from tracegraph.store.cypher_files import cypher

# The sketches' relative accuracy: a percentile is within 1 % of the exact value.
RELATIVE_ACCURACY = 0.01
MAPPING = LogarithmicMapping(RELATIVE_ACCURACY)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
# Levels: a minute bucket and an hour bucket of every contribution.
LEVELS: tuple[tuple[str, int], ...] = (("m", MINUTE_MS), ("h", HOUR_MS))

FIELDS = (
    "n",
    "errors",
    "succeeded",
    "failed",
    "cancelled",
    "finished",
    "input_tokens",
    "output_tokens",
    "cost_nano",
    "estimated_cost_nano",
)
DIMS = ("pipeline", "step", "provider", "model", "template", "template_version")
BIN_DIMS = DIMS[:4]
FINISHED = frozenset({"succeeded", "failed", "cancelled", "skipped"})
NANO = 1_000_000_000

Row = dict[str, Any]
Contribution = dict[str, Any]
Bin = tuple[int, int]


def sketch_bin(value: float) -> Bin:
    """(sign, key) of ``value`` in the sketch: the mapping's key of its magnitude."""
    if abs(value) < MAPPING.min_possible:
        return (0, 0)
    sign = 1 if value > 0 else -1
    return (sign, int(MAPPING.key(abs(value))))


def bin_value(sign: int, idx: int) -> float:
    """The value a bin stands for (within the relative accuracy of all it holds)."""
    return 0.0 if sign == 0 else sign * float(MAPPING.value(idx))


def _bin_order(b: Bin) -> tuple[int, int]:
    sign, idx = b
    return (sign, idx if sign >= 0 else -idx)


def quantile(bins: Counter[Bin], q: float) -> float | None:
    """The value of rank ``max(0, ceil(q * n) - 1)`` (Cypher's ``percentileDisc``) from
    summed bin counts, within RELATIVE_ACCURACY of the exact one."""
    total = sum(n for n in bins.values() if n > 0)
    if total == 0:
        return None
    rank = max(0, math.ceil(q * total) - 1)
    seen = 0
    for b in sorted((b for b, n in bins.items() if n > 0), key=_bin_order):
        seen += bins[b]
        if seen > rank:
            return bin_value(*b)
    raise AssertionError("rank beyond the total")  # pragma: no cover


def _contribution(
    kind: str, t: int | None, dims: Sequence[Any], figures: Row, value: float | None
) -> Contribution | None:
    if t is None:
        return None
    padded = list(dims) + [None] * (len(DIMS) - len(dims))
    return {
        "kind": kind,
        "t": int(t),
        "d": padded,
        "f": [int(figures.get(name, 0)) for name in FIELDS],
        "b": None if value is None else list(sketch_bin(value)),
    }


def _nano(cost: float | None) -> int:
    return 0 if cost is None else round(cost * NANO)


def call_contribution(row: Row) -> Contribution | None:
    """An LLM call counts once answered (``received_at``), as the metrics always did."""
    cost = _nano(row["cost"])
    figures = {
        "n": 1,
        "errors": int(bool(row["error"])),
        "input_tokens": row["input_tokens"] or 0,
        "output_tokens": row["output_tokens"] or 0,
        "cost_nano": cost,
        "estimated_cost_nano": cost if row["estimated"] else 0,
    }
    dims = [row[name] for name in DIMS]
    return _contribution("call", row["t"], dims, figures, row["latency"])


def step_run_contribution(row: Row) -> Contribution | None:
    status = row["status"]
    figures = {
        "n": 1,
        "succeeded": int(status == "succeeded"),
        "failed": int(status == "failed"),
        "finished": int(status in FINISHED),
    }
    dims = [row["pipeline"], row["step"], row["provider"], row["model"]]
    return _contribution("step", row["t"], dims, figures, row["duration"])


def run_contribution(row: Row) -> Contribution | None:
    status = row["status"]
    figures = {
        "n": 1,
        "succeeded": int(status == "succeeded"),
        "failed": int(status == "failed"),
        "cancelled": int(status == "cancelled"),
    }
    return _contribution("run", row["t"], [row["pipeline"]], figures, row["duration"])


def event_contribution(row: Row) -> Contribution | None:
    return _contribution("event", row["t"], [row["pipeline"], row["step"]], {"n": 1}, None)


def encode(contribution: Contribution | None) -> str:
    return "" if contribution is None else orjson.dumps(contribution).decode()


@dataclass
class RollupDelta:
    """A batch's differences, summed per bucket and per sketch bin."""

    buckets: dict[str, Row] = field(default_factory=dict)
    bins: dict[str, Row] = field(default_factory=dict)

    def add(self, contribution: Contribution, sign: int) -> None:
        kind, t, dims = contribution["kind"], contribution["t"], contribution["d"]
        dim_key = orjson.dumps(dims).decode()
        for level, width in LEVELS:
            start = t - t % width
            key = f"{kind}|{level}|{start}|{dim_key}"
            row = self.buckets.get(key)
            if row is None:
                row = {"k": key, "kind": kind, "level": level, "t": start}
                row.update(zip(DIMS, dims, strict=True))
                row.update(dict.fromkeys(FIELDS, 0))
                self.buckets[key] = row
            for name, value in zip(FIELDS, contribution["f"], strict=True):
                row[name] += sign * value
            if contribution["b"] is not None:
                bin_sign, idx = contribution["b"]
                bin_key = f"{key}|{bin_sign}:{idx}"
                b = self.bins.get(bin_key)
                if b is None:
                    b = {"k": bin_key, "kind": kind, "level": level, "t": start}
                    b.update(zip(BIN_DIMS, dims, strict=False))
                    b.update(sign=bin_sign, idx=idx, n=0)
                    self.bins[bin_key] = b
                b["n"] += sign

    def bucket_rows(self) -> list[Row]:
        rows = (r for r in self.buckets.values() if any(r[name] for name in FIELDS))
        return sorted(rows, key=lambda r: r["k"])

    def bin_rows(self) -> list[Row]:
        return sorted((b for b in self.bins.values() if b["n"]), key=lambda b: b["k"])


@dataclass
class Touched:
    """What a batch touched that the rollups count (ids)."""

    calls: Iterable[str] = ()
    step_runs: Iterable[str] = ()
    runs: Iterable[str] = ()
    events: Iterable[str] = ()

    def params(self) -> dict[str, RowList]:
        return {
            "calls": RowList(sorted(set(self.calls))),
            "step_runs": RowList(sorted(set(self.step_runs))),
            "runs": RowList(sorted(set(self.runs))),
            "events": RowList(sorted(set(self.events))),
        }


_ENTITIES: tuple[tuple[str, Callable[[Row], Contribution | None]], ...] = (
    ("calls", call_contribution),
    ("step_runs", step_run_contribution),
    ("runs", run_contribution),
)


def plan_update(record: Row) -> tuple[RollupDelta, dict[str, list[Row]]]:
    """The rollup differences and the new recorded contributions, from what
    ``rollup_touched`` read."""
    delta = RollupDelta()
    changed: dict[str, list[Row]] = {}
    for label, contribution_of in _ENTITIES:
        rows: list[Row] = []
        for row in record[label]:
            new = contribution_of(row)
            new_text, old_text = encode(new), row["rollup"] or ""
            if new_text == old_text:
                continue
            if old_text:
                delta.add(orjson.loads(old_text), -1)
            if new is not None:
                delta.add(new, +1)
            rows.append({"id": row["id"], "rollup": new_text})
        changed[label] = rows
    for row in record["events"]:
        contribution = event_contribution(row)
        if contribution is not None:
            delta.add(contribution, +1)
    return delta, changed


async def update_rollups(tx: AsyncManagedTransaction, touched: Touched) -> None:
    """Move the rollups by what this transaction changed in ``touched`` (run after the
    batch applied, in its transaction)."""
    params = touched.params()
    if not any(params.values()):
        return
    record = await (await tx.run(cypher("rollup_touched"), touched=params)).single()
    assert record is not None  # aggregations always return their row
    delta, changed = plan_update(dict(record))
    buckets, bins = delta.bucket_rows(), delta.bin_rows()
    if not (buckets or bins or any(changed.values())):
        return
    rollup = {
        "buckets": RowList(buckets),
        "bins": RowList(bins),
        **{label: RowList(rows) for label, rows in changed.items()},
    }
    await (await tx.run(cypher("rollup_apply"), rollup=rollup)).consume()


async def rebuild_page_in_tx(
    tx: AsyncManagedTransaction, label: str, after: str, limit: int
) -> list[str]:
    """One page of ``tracegraph rollups rebuild``: the next ``limit`` nodes of ``label``
    after id ``after``, brought into the rollups (only what is missing moves them)."""
    record = await (
        await tx.run(cypher("rollup_rebuild_page"), label=label, after=after, limit=limit)
    ).single()
    ids: list[str] = list(record["ids"]) if record is not None else []
    if ids:
        touched = Touched(
            calls=ids if label == "LLMCall" else (),
            step_runs=ids if label == "StepRun" else (),
            runs=ids if label == "Run" else (),
            events=ids if label == "Event" else (),
        )
        await update_rollups(tx, touched)
    return ids


REBUILD_LABELS = ("LLMCall", "StepRun", "Run", "Event")
REBUILD_PAGE = 2_000


async def rebuild_rollups(
    driver: AsyncDriver,
    database: str,
    page: int = REBUILD_PAGE,
    on_page: Callable[[str, int], None] | None = None,
) -> dict[str, int]:
    """``tracegraph rollups rebuild``: bring every LLM call, step run, run and event into
    the rollups, ``page`` nodes per transaction (bounded; ingestion goes on beside it).
    The rollups are marked incomplete meanwhile (metrics read the graph), complete at
    the end. Idempotent: what is counted already does not move them. Returns the nodes
    visited per label; ``on_page(label, visited so far)`` after each page."""
    visited = dict.fromkeys(REBUILD_LABELS, 0)
    async with driver.session(database=database) as session:
        await (await session.run(cypher("rollup_state_set"), complete=False)).consume()
        for label in REBUILD_LABELS:
            after = ""
            while True:
                ids = await session.execute_write(rebuild_page_in_tx, label, after, page)
                if not ids:
                    break
                visited[label] += len(ids)
                after = ids[-1]
                if on_page is not None:
                    on_page(label, visited[label])
        await (await session.run(cypher("rollup_state_set"), complete=True)).consume()
    return visited
