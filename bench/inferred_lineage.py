"""What inferred lineage costs the write path: the same demo stream written with the
EventWriter (pre-sequenced, no HTTP, so the figure is not drowned in the service's own
overhead) with and without its two statements (apply_step_paths, apply_inferred_lineage:
bench/cypher's no-ops replace them), alternating, from an empty graph each time.

    .venv/bin/python bench/inferred_lineage.py [--events 6000] [--batch 500] [--rounds 3]

Neo4j: NEO4J_URI if set (the database is WIPED), else the local 'bench' instance
(TRACEGRAPH_BENCH_INSTANCE / TRACEGRAPH_BENCH_BOLT_PORT). Last line:
``inferred_lineage events=<n> with_s=<a> without_s=<b> overhead=<a/b-1>
statement_share=<inference seconds / write seconds, batch by batch> edges=<n>``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from harness import BENCH_BOLT_PORT, BENCH_INSTANCE, bench_cypher, neo4j_uri, stops_what_it_starts
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events import canonical_payload, fingerprint, parse_event
from tracegraph.events.records import SequencedEvent
from tracegraph.ingest.pricing import DEFAULT_PRICES
from tracegraph.settings import Neo4jSettings
from tracegraph.store import event_writer
from tracegraph.store.cypher_files import query
from tracegraph.store.driver import open_driver
from tracegraph.store.event_writer import EventWriter
from tracegraph.store.graph_rows import plan_statements
from tracegraph.store.schema import apply_schema

NO_STEP_PATHS = bench_cypher("inferred_bench_no_step_paths")
NO_INFERENCE = bench_cypher("inferred_bench_no_inference")
COUNT_INFERRED = bench_cypher("inferred_bench_count")
INFER = query("apply_inferred_lineage").text


@contextmanager
def without_inference(step_paths: bool = False) -> Iterator[None]:
    """The writer runs bench/cypher's no-op statements in place of the two (of the
    inference statement only with ``step_paths``)."""
    original = event_writer.cypher

    def swapped(name: str) -> Any:
        if name == "apply_step_paths" and not step_paths:
            return NO_STEP_PATHS
        if name == "apply_inferred_lineage":
            return NO_INFERENCE
        return original(name)

    event_writer.cypher = swapped  # type: ignore[assignment]
    try:
        yield
    finally:
        event_writer.cypher = original


def sequenced(events: list[dict], batch: int) -> list[list[SequencedEvent]]:
    now = datetime.now(UTC)
    out = []
    for seq, raw in enumerate(events, start=1):
        ev = parse_event(raw)
        out.append(SequencedEvent(seq, canonical_payload(ev), fingerprint(ev), now))
    return [out[i : i + batch] for i in range(0, len(out), batch)]


async def write(settings: Neo4jSettings, batches: list[list[SequencedEvent]]) -> tuple[float, int]:
    driver = open_driver(settings)
    try:
        async with driver.session(database=settings.database) as s:
            await (await s.run(query("wipe_batch"))).consume()
        writer = EventWriter(driver, settings.database, DEFAULT_PRICES)
        started = time.perf_counter()
        for b in batches:
            await writer.write_sequenced(b)
        elapsed = time.perf_counter() - started
        async with driver.session(database=settings.database) as s:
            rec = await (await s.run(COUNT_INFERRED)).single()
        return elapsed, int(rec["n"]) if rec else 0
    finally:
        await driver.close()


async def split(
    settings: Neo4jSettings, batches: list[list[SequencedEvent]]
) -> tuple[float, float]:
    """Each batch written without inference, then its inference statement on its own,
    back to back: (seconds writing, seconds inferring), summed. Slow drift from other
    load on the machine hits both sides alike, which alternating whole runs did not."""
    driver = open_driver(settings)
    write_s = infer_s = 0.0
    try:
        async with driver.session(database=settings.database) as s:
            await (await s.run(query("wipe_batch"))).consume()
        writer = EventWriter(driver, settings.database, DEFAULT_PRICES)
        for b in batches:
            with without_inference(step_paths=True):
                started = time.perf_counter()
                await writer.write_sequenced(b)
                write_s += time.perf_counter() - started
            plan = plan_statements(b, DEFAULT_PRICES)
            touched = {"step_runs": plan.linked_step_runs, "pipelines": []}
            started = time.perf_counter()
            async with driver.session(database=settings.database) as s:
                await (await s.run(INFER, touched=touched)).consume()
            infer_s += time.perf_counter() - started
        return write_s, infer_s
    finally:
        await driver.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=6000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    settings = Neo4jSettings(uri=neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT))
    driver = open_driver(settings)
    await apply_schema(driver, settings.database)
    await driver.close()
    batches = sequenced(WorkloadGenerator(seed=3).events(args.events), args.batch)
    await write(settings, batches)  # untimed warm-up of both shapes
    with without_inference():
        await write(settings, batches)
    with_s, without_s, shares, edges = [], [], [], 0
    for r in range(1, args.rounds + 1):
        w, i = await split(settings, batches)
        shares.append(i / w)
        with without_inference():
            t0, _ = await write(settings, batches)
        without_s.append(t0)
        t, edges = await write(settings, batches)  # last: the graph it leaves has the edges
        with_s.append(t)
        print(
            f"round {r}: with {t:.2f}s without {t0:.2f}s | split: writes {w:.2f}s "
            f"inference {i:.2f}s ({i / w:.1%}) edges={edges}",
            flush=True,
        )
    a, b = statistics.median(with_s), statistics.median(without_s)
    print(
        f"inferred_lineage events={args.events} with_s={a:.2f} without_s={b:.2f} "
        f"overhead={a / b - 1:+.1%} statement_share={statistics.median(shares):.1%} edges={edges}"
    )


if __name__ == "__main__":
    with stops_what_it_starts():
        asyncio.run(main())
