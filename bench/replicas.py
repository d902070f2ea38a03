"""Several replicas on one Neo4j (issue 20): cross-replica live latency and ingest scaling.

N service processes share one database. Subscribers (plain WebSocket clients in their
own process, bench/fanout.py's) are spread over the replicas round-robin, all on one
pipeline; an ingester posts one event at a time at ``--rate``, round-robin through every
replica. Each subscriber must receive every event once: ``lost`` and ``dup`` count
(subscriber, event) pairs missing or delivered twice; ``p99_ms`` is commit (the POST's
answer) to client. Then ingest throughput: batches posted as fast as they are answered
for ``--flood-seconds`` through one replica, then through all N (no subscribers on
that pipeline): ``ingest_ratio`` = events/s with N / with 1. ::

    .venv/bin/python bench/replicas.py [--replicas 3] [--subscribers 1000] [--rate 20]
        [--seconds 60] [--flood-seconds 20]

Neo4j: ``NEO4J_URI`` if set (wiped), else the local instance ``TRACEGRAPH_BENCH_INSTANCE``
on ``TRACEGRAPH_BENCH_BOLT_PORT``. Last line:
``replicas n=<N> p99_ms=<p> lost=<l> dup=<d> ingest_ratio=<r>``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import time
import uuid
from typing import Any

import httpx

from fanout import DUPS, _clients_main
from harness import (
    BENCH_BOLT_PORT,
    BENCH_INSTANCE,
    bearer,
    mint_keys,
    neo4j_uri,
    percentile,
    start_service,
    stop_process,
    stops_what_it_starts,
)


def _event(pipeline: str, eid: str, i: int) -> dict[str, Any]:
    return {
        "id": eid,
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "bench/replicas",
        "pipeline": pipeline,
        "data": {"level": "info", "message": f"line {i}"},
    }


async def _paced(
    bases: list[str], key: str, pipeline: str, rate: float, seconds: float
) -> tuple[dict[str, float], dict[str, float]]:
    """One event at a time at ``rate``, through the replicas in turn: (sent, answered)."""
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    clients = [httpx.AsyncClient(base_url=b, timeout=30, headers=bearer(key)) for b in bases]

    async def one(i: int) -> None:
        eid = f"{pipeline}-{i}"
        sent[eid] = time.time()
        r = await clients[i % len(clients)].post("/v1/events", json=[_event(pipeline, eid, i)])
        r.raise_for_status()
        acked[eid] = time.time()

    start = time.monotonic()
    tasks = []
    for i in range(int(rate * seconds)):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    for c in clients:
        await c.aclose()
    return sent, acked


async def _flood(bases: list[str], key: str, seconds: float, batch: int = 200) -> float:
    """Events/s committed with two posters per replica posting batches back to back."""
    pipeline = f"flood-{uuid.uuid4().hex[:8]}"
    done = 0
    deadline = time.monotonic() + seconds

    async def poster(base: str, who: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=base, timeout=60, headers=bearer(key)) as http:
            n = 0
            while time.monotonic() < deadline:
                ids = [f"{pipeline}-{who}-{n + i}" for i in range(batch)]
                events = [_event(pipeline, eid, n + i) for i, eid in enumerate(ids)]
                n += batch
                r = await http.post("/v1/events", json=events)
                if r.status_code == 200:
                    done += batch

    t0 = time.monotonic()
    await asyncio.gather(*(poster(b, i * 2 + k) for i, b in enumerate(bases) for k in range(2)))
    return done / (time.monotonic() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--replicas", type=int, default=3)
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=20.0, help="events per second (paced)")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--flood-seconds", type=float, default=20.0)
    args = ap.parse_args()

    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT)
    services = [start_service(uri) for _ in range(args.replicas)]
    bases = [b for _, b in services]
    try:
        keys = mint_keys(uri, "ingester", "viewer")
        pipeline = f"replicas-{uuid.uuid4().hex[:8]}"
        parent, child = mp.Pipe()
        clients = mp.get_context("spawn").Process(
            target=_clients_main,
            args=(
                ["ws" + b.removeprefix("http") + "/graphql" for b in bases],
                args.subscribers,
                pipeline,
                keys["viewer"],
                child,
            ),
        )
        clients.start()
        if not parent.poll(300):
            raise RuntimeError("subscribers did not connect")
        assert parent.recv() == "ready"
        # Warm-up through every replica until every subscriber has the last one.
        warm = asyncio.run(_paced(bases, keys["ingester"], f"{pipeline}-warm", 5, 2))
        del warm
        with httpx.Client(base_url=bases[0], timeout=30, headers=bearer(keys["ingester"])) as h:
            eid = f"{pipeline}-warmup"
            h.post("/v1/events", json=[_event(pipeline, eid, -1)]).raise_for_status()
        deadline = time.monotonic() + 120
        while True:
            parent.send(f"count {eid}")
            if parent.recv() == args.subscribers:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("warm-up event did not reach every subscriber")
            time.sleep(0.2)
        print(f"{args.subscribers} subscribers on {args.replicas} replicas; ingesting", flush=True)
        sent, acked = asyncio.run(
            _paced(bases, keys["ingester"], pipeline, args.rate, args.seconds)
        )
        time.sleep(3.0)  # drain
        parent.send("stop")
        per_client: list[dict[str, float]] = parent.recv()
        clients.join(30)
        one = asyncio.run(_flood(bases[:1], keys["ingester"], args.flood_seconds))
        many = asyncio.run(_flood(bases, keys["ingester"], args.flood_seconds))
    finally:
        for proc, _ in services:
            stop_process(proc)

    latencies: list[float] = []
    lost = dup = 0
    for got in per_client:
        dup += int(got.get(DUPS, 0))
        for eid in sent:
            t = got.get(eid)
            if t is None:
                lost += 1
            else:
                latencies.append(max(0.0, (t - acked[eid]) * 1000))
    p99 = percentile(latencies, 0.99)
    print(
        f"paced: events={len(sent)} deliveries={len(latencies)} p50_ms="
        f"{percentile(latencies, 0.5):.1f}"
    )
    print(f"ingest events/s: 1 replica={one:.0f} {args.replicas} replicas={many:.0f}")
    print(
        f"replicas n={args.replicas} p99_ms={p99:.1f} lost={lost} dup={dup} "
        f"ingest_ratio={many / one if one else float('nan'):.2f}"
    )


if __name__ == "__main__":
    with stops_what_it_starts():
        main()
