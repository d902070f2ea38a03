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
relative accuracy), kept on each bucket as two lists (``bins``: bin codes, ascending;
``counts``), so a read fetches one node per bucket whatever its number of bins; the
counts are merged across buckets at read time and the quantile read off them, within
1 % of the exact value of the same rank.

``tracegraph rollups rebuild`` sums a page of nodes server-side
(``cypher/rollup_rebuild_*.cypher``: the same contributions, JSON text and sketch keys
computed in Cypher) and applies one row per bucket, so it costs a pass of aggregation
queries, not per-node Python.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
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
# The figures each kind can have: a bucket stores only its kind's (a smaller node and
# write; a read's sum() skips the absent ones).
KIND_FIELDS: dict[str, tuple[str, ...]] = {
    "call": ("n", "errors", "input_tokens", "output_tokens", "cost_nano", "estimated_cost_nano"),
    "step": ("n", "succeeded", "failed", "finished"),
    "run": ("n", "succeeded", "failed", "cancelled"),
    "event": ("n",),
}
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


def bin_code(b: Bin) -> int:
    """One integer per bin, as stored in a bucket's ``bins`` list (ascending codes are
    ascending values within a sign)."""
    sign, idx = b
    return idx * 4 + sign + 1


def code_bin(code: int) -> Bin:
    return (code % 4 - 1, code // 4)


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
    # Half up (not Python's half-even round): the rebuild computes the same in Cypher.
    return 0 if cost is None else math.floor(cost * NANO + 0.5)


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


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def epoch_ms(time: str) -> int:
    """Milliseconds since the epoch of an RFC 3339 timestamp, as Cypher's
    ``datetime(time).epochMillis`` (floored)."""
    return (datetime.fromisoformat(time) - _EPOCH) // _MS


def encode(contribution: Contribution | None) -> str:
    return "" if contribution is None else orjson.dumps(contribution).decode()


@dataclass
class RollupDelta:
    """A batch's differences, summed per bucket (with its sketch bins' differences)."""

    buckets: dict[str, Row] = field(default_factory=dict)

    def bucket(self, kind: str, level: str, start: int, dims: Sequence[Any]) -> Row:
        key = bucket_key(kind, level, start, dims)
        row = self.buckets.get(key)
        if row is None:
            row = {"k": key, "kind": kind, "level": level, "t": start, "sketch": Counter()}
            row.update(zip(DIMS, dims, strict=True))
            row.update(dict.fromkeys(KIND_FIELDS[kind], 0))
            self.buckets[key] = row
        return row

    def add(self, contribution: Contribution, sign: int) -> None:
        kind, t, dims = contribution["kind"], contribution["t"], contribution["d"]
        kind_fields = KIND_FIELDS[kind]
        figures = [
            (name, value)
            for name, value in zip(FIELDS, contribution["f"], strict=True)
            if name in kind_fields
        ]
        for level, width in LEVELS:
            row = self.bucket(kind, level, t - t % width, dims)
            for name, value in figures:
                row[name] += sign * value
            if contribution["b"] is not None:
                row["sketch"][bin_code(tuple(contribution["b"]))] += sign

    def add_events(self, events: Iterable[Row]) -> None:
        """Count events (rows with pipeline, step and ``t``, epoch ms), summed per
        (pipeline, step, minute) first: a batch is mostly a few runs' events."""
        per_minute: Counter[tuple[Any, Any, int]] = Counter()
        for ev in events:
            t = ev["t"]
            per_minute[(ev["pipeline"], ev["step"], t - t % MINUTE_MS)] += 1
        for (pipeline, step, minute), n in per_minute.items():
            dims = [pipeline, step, None, None, None, None]
            for level, width in LEVELS:
                self.bucket("event", level, minute - minute % width, dims)["n"] += n

    def bucket_rows(self) -> list[Row]:
        """Rows for rollup_apply: the changed buckets in key order (concurrent writers
        lock them in one order), each with its bins' differences as [code, n] pairs and
        only its kind's figures."""
        rows = []
        for row in self.buckets.values():
            bins = sorted([code, n] for code, n in row["sketch"].items() if n)
            if bins or any(row[name] for name in KIND_FIELDS[row["kind"]]):
                rows.append({**{k: v for k, v in row.items() if k != "sketch"}, "bins": bins})
        return sorted(rows, key=lambda r: r["k"])


def bucket_key(kind: str, level: str, start: int, dims: Sequence[Any]) -> str:
    """A bucket's unique key (the rebuild builds the same from what Cypher returns)."""
    return f"{kind}|{level}|{start}|{orjson.dumps(list(dims)).decode()}"


@dataclass
class Touched:
    """What a batch touched that the rollups count (ids)."""

    calls: Iterable[str] = ()
    step_runs: Iterable[str] = ()
    runs: Iterable[str] = ()
    # Events already in the graph, counted unless marked (replay, derivation).
    events: Iterable[str] = ()
    # Events this transaction created, as their log rows (pipeline, step, time): marked
    # counted at creation (apply_batch) and counted here, in Python: nothing to read.
    new_events: Iterable[Row] = ()

    def params(self) -> dict[str, RowList]:
        return {
            "calls": RowList(sorted(set(self.calls))),
            "step_runs": RowList(sorted(set(self.step_runs))),
            "runs": RowList(sorted(set(self.runs))),
            "events": RowList(sorted(set(self.events))),
        }

    def new_event_rows(self) -> list[Row]:
        return [
            {"pipeline": e["pipeline"], "step": e["step"], "t": epoch_ms(e["time"])}
            for e in self.new_events
        ]


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
            rows.append({"eid": row["eid"], "rollup": new_text})
        changed[label] = rows
    delta.add_events(row for row in record["events"] if row["t"] is not None)
    return delta, changed


async def update_rollups(tx: AsyncManagedTransaction, touched: Touched) -> None:
    """Move the rollups by what this transaction changed in ``touched`` (run after the
    batch applied, in its transaction)."""
    params = touched.params()
    if any(params.values()):
        record = await (await tx.run(cypher("rollup_touched"), touched=params)).single()
        assert record is not None  # aggregations always return their row
        delta, changed = plan_update(dict(record))
    else:
        delta, changed = RollupDelta(), {}
    delta.add_events(touched.new_event_rows())
    await apply_rollups(tx, delta.bucket_rows(), changed)


async def apply_rollups(
    tx: AsyncManagedTransaction, buckets: list[Row], changed: dict[str, list[Row]]
) -> None:
    """Add ``buckets`` (rows of :meth:`RollupDelta.bucket_rows`) to the rollups and
    record the entities' new contributions."""
    if not (buckets or any(changed.values())):
        return
    rollup = {
        "buckets": RowList(buckets),
        **{label: RowList(changed.get(label, [])) for label in ("calls", "step_runs", "runs")},
    }
    await (await tx.run(cypher("rollup_apply"), rollup=rollup)).consume()


# Each label's rebuild statement (cypher/rollup_rebuild_*.cypher) and the Touched field
# its leftovers go to.
REBUILD_STATEMENTS = {
    "LLMCall": ("rollup_rebuild_calls", "call", "calls"),
    "StepRun": ("rollup_rebuild_step_runs", "step", "step_runs"),
    "Run": ("rollup_rebuild_runs", "run", "runs"),
    "Event": ("rollup_rebuild_events", "event", "events"),
}
REBUILD_LABELS = tuple(REBUILD_STATEMENTS)
REBUILD_PAGE = 20_000


def _json_escapes() -> tuple[list[str], list[str]]:
    """The characters JSON text escapes and orjson's escape of each: the rebuild's Cypher
    writes a contribution's text byte for byte as :func:`encode` does."""
    chars = [chr(i) for i in range(32)] + ['"', "\\"]
    return chars, [orjson.dumps(ch).decode()[1:-1] for ch in chars]


ESCAPE_FROM, ESCAPE_TO = _json_escapes()


def rebuild_params() -> dict[str, Any]:
    """What the rebuild statements need to compute contributions as this module does:
    the sketch mapping's multiplier and offset, and the JSON escapes."""
    return {
        "multiplier": MAPPING._multiplier,
        "offset": MAPPING._offset,
        "min_possible": MAPPING.min_possible,
        "escape_from": ESCAPE_FROM,
        "escape_to": ESCAPE_TO,
    }


async def rebuild_page_in_tx(
    tx: AsyncManagedTransaction, label: str, after: str, limit: int
) -> tuple[int, str]:
    """One page of ``tracegraph rollups rebuild``: the next ``limit`` nodes of ``label``
    after id ``after``. Cypher locks them, computes the contributions of those never
    counted, records them and returns the page's sums per bucket; those get applied
    here, in the same transaction. A node whose recorded contribution differs from its
    figures (not written by this version) moves by the difference, as at ingest.
    Returns (nodes visited, the last id)."""
    statement, kind, field_name = REBUILD_STATEMENTS[label]
    record = await (
        await tx.run(cypher(statement), after=after, limit=limit, **rebuild_params())
    ).single()
    if record is None:  # an empty page
        return 0, after
    buckets = []
    for row in record["buckets"]:
        dims = list(row["dims"]) + [None] * (len(DIMS) - len(row["dims"]))
        bucket = {
            "k": bucket_key(kind, row["level"], row["t"], dims),
            "kind": kind,
            "level": row["level"],
            "t": row["t"],
            **dict(zip(DIMS, dims, strict=True)),
            **{name: row["f"][i] for i, name in enumerate(FIELDS) if name in KIND_FIELDS[kind]},
            "bins": sorted([list(pair) for pair in row["bins"]]),
        }
        buckets.append(bucket)
    buckets.sort(key=lambda r: r["k"])
    await apply_rollups(tx, buckets, {})
    stale = list(record["stale"])
    if stale:
        await update_rollups(tx, Touched(**{field_name: stale}))
    return int(record["visited"]), str(record["last_id"])


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
                count, after = await session.execute_write(rebuild_page_in_tx, label, after, page)
                if not count:
                    break
                visited[label] += count
                if on_page is not None:
                    on_page(label, visited[label])
        await (await session.run(cypher("rollup_state_set"), complete=True)).consume()
    return visited
