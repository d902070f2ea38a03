"""Ingest cost of columns (issue 22): the raw batched writer on the demo stream as it is
(its artifact writes carry schemas, so apply_columns runs for them) against the very same
stream with the schemas removed (apply_columns never runs), and the stream with column
lineage added to every write (each written field derived from the step's inputs).

Each arm starts from an empty graph after an untimed warm-up pass of the same arm; arms
alternate; each figure is the median of the rounds. The writer is the one ingest uses
(``EventWriter.write_sequenced``: the same statements, no HTTP or validation), so the
difference is the database's cost of the columns.

    .venv/bin/python bench/columns.py [--events 20000] [--rounds 3] [--batch 500]

The last line printed is ``columns plain_eps=<n> schema_eps=<n> lineage_eps=<n>
schema_ratio=<schema/plain> lineage_ratio=<lineage/plain>``.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import BENCH_BOLT_PORT, BENCH_INSTANCE, neo4j_uri, settle, stops_what_it_starts
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events import canonical_payload, fingerprint, parse_event
from tracegraph.events.records import SequencedEvent
from tracegraph.ingest.pricing import DEFAULT_PRICES
from tracegraph.settings import Neo4jSettings
from tracegraph.store.cypher_files import query
from tracegraph.store.driver import open_driver
from tracegraph.store.event_writer import EventWriter
from tracegraph.store.schema import apply_schema


def plain(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = copy.deepcopy(events)
    for ev in out:
        if ev["type"].startswith("artifact."):
            ev["data"].pop("schema", None)
    return out


def with_lineage(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every written field derived from the same-named field of each input the step run
    read before (or from the input's first field): a dense column lineage."""
    out = copy.deepcopy(events)
    reads: dict[tuple[str, str | None], list[str]] = {}
    for ev in out:
        key = (ev.get("run", ""), ev.get("step"))
        if ev["type"] == "artifact.read":
            reads.setdefault(key, []).append(ev["data"]["uri"])
        elif ev["type"] == "artifact.written":
            names = [f["name"] for f in (ev["data"].get("schema") or {}).get("fields", [])]
            inputs = reads.get(key, [])
            if names and inputs:
                ev["data"]["column_lineage"] = [
                    {"field": n, "inputs": [{"uri": uri, "field": n} for uri in inputs]}
                    for n in names
                ]
    return out


def sequenced(events: list[dict[str, Any]], batch: int) -> list[list[SequencedEvent]]:
    now = datetime.now(UTC)
    seqd = []
    for seq, raw in enumerate(events, start=1):
        ev = parse_event(raw)
        seqd.append(SequencedEvent(seq, canonical_payload(ev), fingerprint(ev), now))
    return [seqd[i : i + batch] for i in range(0, len(seqd), batch)]


async def wipe(settings: Neo4jSettings) -> None:
    driver = open_driver(settings)
    try:
        async with driver.session() as session:
            await (await session.run(query("wipe_batch"))).consume()
        await apply_schema(driver, settings.database)
        await asyncio.to_thread(settle, BENCH_INSTANCE, BENCH_BOLT_PORT)
    finally:
        await driver.close()


async def write(settings: Neo4jSettings, batches: list[list[SequencedEvent]]) -> float:
    driver = open_driver(settings)
    try:
        writer = EventWriter(driver, settings.database, DEFAULT_PRICES)
        started = time.perf_counter()
        for batch in batches:
            await writer.write_sequenced(batch)
        return time.perf_counter() - started
    finally:
        await driver.close()


async def arm(
    settings: Neo4jSettings, warm: list[list[SequencedEvent]], timed: list[list[SequencedEvent]]
) -> float:
    await wipe(settings)
    await write(settings, warm)
    await wipe(settings)
    return await write(settings, timed)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=500, help="events per transaction")
    parser.add_argument("--warmup", type=int, default=5_000)
    args = parser.parse_args()

    settings = Neo4jSettings(uri=neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT, fresh_store=True))
    events = WorkloadGenerator(seed=2026).events(args.events)
    warm = WorkloadGenerator(seed=1).events(args.warmup)
    streams = {
        "plain": (plain(events), plain(warm)),
        "schema": (events, warm),
        "lineage": (with_lineage(events), with_lineage(warm)),
    }
    writes = sum(1 for e in events if e["type"] == "artifact.written")
    print(f"events={len(events)} batch={args.batch} artifact_writes={writes}", flush=True)
    prepared = {
        name: (sequenced(timed, args.batch), sequenced(w, args.batch))
        for name, (timed, w) in streams.items()
    }
    rates: dict[str, list[float]] = {name: [] for name in prepared}
    for rnd in range(1, args.rounds + 1):
        for name, (timed, w) in prepared.items():
            seconds = await arm(settings, w, timed)
            rates[name].append(len(events) / seconds)
            print(f"round {rnd} {name}: {len(events)} events in {seconds:.2f}s", flush=True)
    eps = {name: statistics.median(r) for name, r in rates.items()}
    print(
        f"columns plain_eps={eps['plain']:.0f} schema_eps={eps['schema']:.0f} "
        f"lineage_eps={eps['lineage']:.0f} schema_ratio={eps['schema'] / eps['plain']:.2f} "
        f"lineage_ratio={eps['lineage'] / eps['plain']:.2f}"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    with stops_what_it_starts():
        asyncio.run(main())
