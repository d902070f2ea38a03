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

The replicas start at once (as a deployment starts them) and are used once each answers
``/readyz`` (which waits for its live tailer's first read). Printed besides: the latency
per replica and split by path (the subscriber's replica committed the event: pushed at
once; another did: read by the tailer), the first tenth of the run against the rest (a
replica whose tailer starts late shows there), and the stall probes (bench/harness.py:
the services' event loops and the machine, with the load average).

Neo4j: ``NEO4J_URI`` if set (wiped), else the local instance ``TRACEGRAPH_BENCH_INSTANCE``
on ``TRACEGRAPH_BENCH_BOLT_PORT``; wiped before the run and between the ingest phases.
Last line: ``replicas n=<N> p99_ms=<p> lost=<l> dup=<d> ingest_ratio=<r>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import time
import uuid
from multiprocessing.connection import Connection
from typing import Any

import httpx

from fanout import DUPS, _clients_main
from harness import (
    BENCH_BOLT_PORT,
    BENCH_INSTANCE,
    RETRIES,
    StallProbes,
    bearer,
    kill_children,
    mint_keys,
    neo4j_uri,
    percentile,
    post_retrying,
    reset_graph,
    start_services,
    stop_process,
    stops_what_it_starts,
)

# Subscribers connect in waves; each has to be acked, subscribed and then reached by the
# warm-up event through every replica (1,000 on a loaded 2-core machine took minutes).
READY_WAIT_S = 240.0


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
        r = await post_retrying(clients[i % len(clients)], "/v1/events", [_event(pipeline, eid, i)])
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
                r = await post_retrying(http, "/v1/events", events)
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
    ap.add_argument(
        "--service-log-level", default="warning", help="the replicas' TRACEGRAPH_LOG_LEVEL"
    )
    args = ap.parse_args()

    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT)
    reset_graph(uri)
    env = {
        # One viewer key for every subscriber: the per-principal socket cap (100 by
        # default) would refuse all but 100 per replica.
        "TRACEGRAPH_WS_MAX_CONNECTIONS": str(args.subscribers * 2),
        "TRACEGRAPH_WS_MAX_CONNECTIONS_PER_PRINCIPAL": str(args.subscribers * 2),
        "TRACEGRAPH_API_KEY_CACHE_TTL_S": "3600",
        "TRACEGRAPH_LOG_LEVEL": args.service_log_level,
    }
    services = start_services(uri, args.replicas, env)
    bases = [b for _, b in services]
    clients: mp.process.BaseProcess | None = None
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
            daemon=True,
        )
        clients.start()
        if not parent.poll(READY_WAIT_S):
            raise RuntimeError("subscribers did not connect")
        assert parent.recv() == "ready"
        # Warm-up through every replica, then one event every subscriber must have
        # (every subscription registered, every replica's tailer following).
        asyncio.run(_paced(bases, keys["ingester"], f"{pipeline}-warm", 5, 2))
        for r, base in enumerate(bases):
            eid = f"{pipeline}-warmup-{r}"
            asyncio.run(_paced_one(base, keys["ingester"], pipeline, eid))
            _wait_count(parent, eid, args.subscribers, "warm-up event")
        print(f"{args.subscribers} subscribers on {args.replicas} replicas; ingesting", flush=True)
        probes = StallProbes(bases)
        probes.start()
        sent, acked = asyncio.run(
            _paced(bases, keys["ingester"], pipeline, args.rate, args.seconds)
        )
        for line in probes.stop():
            print(line, flush=True)
        # Drain: until every subscriber has the last event, or 10 s.
        last = max(sent, key=lambda e: sent[e])
        with contextlib.suppress(RuntimeError):
            _wait_count(parent, last, args.subscribers, "drain", 10.0)
        time.sleep(1.0)
        parent.send("stop")
        per_client: list[dict[str, float]] = parent.recv()
        clients.join(30)
        # Each ingest phase on an empty graph (a wipe deletes the keys: minted again).
        reset_graph(uri)
        one = asyncio.run(
            _flood(bases[:1], mint_keys(uri, "ingester")["ingester"], args.flood_seconds)
        )
        reset_graph(uri)
        many = asyncio.run(
            _flood(bases, mint_keys(uri, "ingester")["ingester"], args.flood_seconds)
        )
    finally:
        kill_children(clients)
        for proc, _ in services:
            stop_process(proc)

    latencies: list[float] = []
    by_path: dict[str, list[float]] = {"own": [], "tailed": []}
    by_replica: list[list[float]] = [[] for _ in bases]
    early: list[float] = []
    t_start = min(sent.values())
    early_until = t_start + args.seconds / 10
    lost = dup = 0
    order = {eid: i for i, eid in enumerate(sorted(sent, key=lambda e: sent[e]))}
    for c, got in enumerate(per_client):
        dup += int(got.get(DUPS, 0))
        replica = c % len(bases)
        for eid in sent:
            t = got.get(eid)
            if t is None:
                lost += 1
                continue
            ms = max(0.0, (t - acked[eid]) * 1000)
            latencies.append(ms)
            by_replica[replica].append(ms)
            # _paced posts event i through replica i mod N.
            by_path["own" if order[eid] % len(bases) == replica else "tailed"].append(ms)
            if sent[eid] < early_until:
                early.append(ms)
    p99 = percentile(latencies, 0.99)
    print(
        f"paced: events={len(sent)} deliveries={len(latencies)} p50_ms="
        f"{percentile(latencies, 0.5):.1f}"
    )
    for r, values in enumerate(by_replica):
        print(
            f"subscribers on replica {r}: p50_ms={percentile(values, 0.5):.1f} "
            f"p99_ms={percentile(values, 0.99):.1f} max_ms={max(values, default=0):.1f}"
        )
    for path, values in by_path.items():
        print(
            f"path {path}: p50_ms={percentile(values, 0.5):.1f} "
            f"p99_ms={percentile(values, 0.99):.1f} max_ms={max(values, default=0):.1f}"
        )
    print(
        f"first {args.seconds / 10:.1f}s: p99_ms={percentile(early, 0.99):.1f} "
        f"max_ms={max(early, default=0):.1f} ({len(early)} deliveries)"
    )
    print(f"ingest events/s: 1 replica={one:.0f} {args.replicas} replicas={many:.0f}")
    print(f"posts sent again (status: count): {RETRIES or 'none'}")
    print(
        f"replicas n={args.replicas} p99_ms={p99:.1f} lost={lost} dup={dup} "
        f"ingest_ratio={many / one if one else float('nan'):.2f}"
    )


async def _paced_one(base: str, key: str, pipeline: str, eid: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as http:
        r = await post_retrying(http, "/v1/events", [_event(pipeline, eid, -1)])
        r.raise_for_status()


def _wait_count(
    parent: Connection, eid: str, target: int, what: str, timeout_s: float = READY_WAIT_S
) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        parent.send(f"count {eid}")
        have = parent.recv()
        if have == target:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {have} of {target} subscribers have it")
        time.sleep(0.2)


if __name__ == "__main__":
    with stops_what_it_starts():
        main()
