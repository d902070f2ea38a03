"""Ingest throughput: the full HTTP API against a raw batched UNWIND writer.

Arm (a) posts N realistic events to ``POST /v1/events`` from concurrent clients
(the service runs in its own process, as in production). Arm (b) writes the same
events with the same Cypher statements and the same driver, pre-validated and
pre-sequenced, with no HTTP, validation, deduplication or group commit: the floor
the service's overhead is measured against. Each arm starts from an empty graph;
arms alternate, and only committed events are counted. The benchmark starts from fresh
store files, and the service runs only during its own arm, so its background work (SLA
sweeps) never lands on the raw arm. Every timed arm follows an untimed warm-up of the
same arm (then a wipe): switching between the two workloads makes the JVM recompile
Neo4j's hot paths for a few seconds, and neither arm should be charged for the other.
A fresh JVM keeps compiling for minutes, so each figure is the median of 5 rounds.

    .venv/bin/python bench/ingest.py [--events 50000] [--rounds 5]

The last line printed is ``ingest http_eps=<n> raw_eps=<n> ratio=<a/b>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from harness import (
    BENCH_BOLT_PORT,
    BENCH_INSTANCE,
    UNTHROTTLED_ENV,
    amint_keys,
    bearer,
    free_port,
    neo4j_uri,
    settle,
    stop_process,
    stops_what_it_starts,
    wait_ready,
)
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.events import canonical_payload, fingerprint, parse_event
from tracegraph.events.records import SequencedEvent
from tracegraph.ingest.pricing import DEFAULT_PRICES
from tracegraph.settings import Neo4jSettings
from tracegraph.store.cypher_files import cypher, query
from tracegraph.store.driver import open_driver
from tracegraph.store.event_writer import EventWriter
from tracegraph.store.schema import apply_schema


async def _wipe_and_count(settings: Neo4jSettings) -> None:
    driver = open_driver(settings)
    try:
        async with driver.session() as session:
            await (await session.run(query("wipe_batch"))).consume()
        await apply_schema(driver, settings.database)
        # Each arm starts from an empty store and an idle server: what the wipe (or the
        # arm before) left running in the background is not charged to the next arm.
        await asyncio.to_thread(settle, BENCH_INSTANCE, BENCH_BOLT_PORT)
    finally:
        await driver.close()


async def _committed_events(settings: Neo4jSettings) -> int:
    driver = open_driver(settings)
    try:
        records, _, _ = await driver.execute_query(cypher("last_seq"))
        return int(records[0]["last"])
    finally:
        await driver.close()


def _start_service(uri: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "NEO4J_URI": uri,
        "TRACEGRAPH_PORT": str(port),
        "TRACEGRAPH_LOG_LEVEL": "warning",
        **UNTHROTTLED_ENV,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracegraph.cli.main", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc)
    return proc, base


async def _http_arm(base: str, key: str, bodies: list[bytes], concurrency: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)

    async def sender(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            while True:
                resp = await client.post(
                    "/v1/events",
                    content=body,
                    headers={"content-type": "application/json", **bearer(key)},
                )
                if resp.status_code in (429, 503):
                    await asyncio.sleep(float(resp.headers.get("retry-after", "1")))
                    continue
                if resp.status_code != 200:
                    raise RuntimeError(f"ingest failed: {resp.status_code} {resp.text[:300]}")
                break

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=120, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(sender(client) for _ in range(concurrency)))
        return time.perf_counter() - started


async def _timed_http_arm(
    settings: Neo4jSettings, warm: list[bytes], bodies: list[bytes], concurrency: int
) -> float:
    """A service of its own for this arm (started and stopped outside the timing)."""
    await _wipe_and_count(settings)
    proc, base = _start_service(settings.uri)
    try:
        await _http_arm(base, await _ingester_key(settings.uri), warm, concurrency)
        await _wipe_and_count(settings)
        # The wipe deletes API keys too: an ingester key is minted after each one.
        return await _http_arm(base, await _ingester_key(settings.uri), bodies, concurrency)
    finally:
        stop_process(proc)


async def _timed_raw_arm(
    settings: Neo4jSettings, warm: list[list[SequencedEvent]], batches: list[list[SequencedEvent]]
) -> float:
    await _wipe_and_count(settings)
    await _raw_arm(settings, warm)
    await _wipe_and_count(settings)
    return await _raw_arm(settings, batches)


async def _ingester_key(uri: str) -> str:
    return (await amint_keys(uri, "ingester"))["ingester"]


async def _raw_arm(settings: Neo4jSettings, batches: list[list[SequencedEvent]]) -> float:
    driver = open_driver(settings)
    try:
        writer = EventWriter(driver, settings.database, DEFAULT_PRICES)
        started = time.perf_counter()
        for batch in batches:
            await writer.write_sequenced(batch)
        return time.perf_counter() - started
    finally:
        await driver.close()


def _sequenced(events: list[dict], batch_size: int) -> list[list[SequencedEvent]]:
    now = datetime.now(UTC)
    seqd = []
    for seq, raw in enumerate(events, start=1):
        ev = parse_event(raw)
        seqd.append(SequencedEvent(seq, canonical_payload(ev), fingerprint(ev), now))
    return [seqd[i : i + batch_size] for i in range(0, len(seqd), batch_size)]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500, help="events per HTTP request")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent HTTP clients")
    parser.add_argument("--raw-batch", type=int, default=5000, help="events per raw transaction")
    parser.add_argument(
        "--warmup", type=int, default=10_000, help="untimed events before each timed arm"
    )
    args = parser.parse_args()

    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT, fresh_store=True)
    settings = Neo4jSettings(uri=uri)
    events = WorkloadGenerator(seed=2026).events(args.events)
    bodies = [orjson.dumps(events[i : i + args.batch]) for i in range(0, len(events), args.batch)]
    raw_batches = _sequenced(events, args.raw_batch)
    warm = WorkloadGenerator(seed=1).events(args.warmup)
    warm_bodies = [orjson.dumps(warm[i : i + args.batch]) for i in range(0, len(warm), args.batch)]
    print(
        f"events={len(events)} http_batch={args.batch} concurrency={args.concurrency}", flush=True
    )

    warm_batches = _sequenced(warm, args.raw_batch)
    # A fresh JVM: one untimed pass of each arm first (it keeps warming for minutes after
    # that, which is why the figures are medians of several rounds).
    await _timed_http_arm(settings, warm_bodies, warm_bodies, args.concurrency)
    await _timed_raw_arm(settings, warm_batches, warm_batches)

    http_rates, raw_rates = [], []
    for rnd in range(1, args.rounds + 1):
        seconds = await _timed_http_arm(settings, warm_bodies, bodies, args.concurrency)
        committed = await _committed_events(settings)
        http_rates.append(committed / seconds)
        print(f"round {rnd} http: {committed} events in {seconds:.2f}s", flush=True)

        seconds = await _timed_raw_arm(settings, warm_batches, raw_batches)
        committed = await _committed_events(settings)
        raw_rates.append(committed / seconds)
        print(f"round {rnd} raw:  {committed} events in {seconds:.2f}s", flush=True)

    http_eps = statistics.median(http_rates)
    raw_eps = statistics.median(raw_rates)
    print(f"ingest http_eps={http_eps:.0f} raw_eps={raw_eps:.0f} ratio={http_eps / raw_eps:.2f}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    with stops_what_it_starts():
        asyncio.run(main())
