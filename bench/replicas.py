"""Several replicas on one Neo4j (issue 20): cross-replica live latency and ingest scaling.

N service processes share one database. Subscribers (plain WebSocket clients,
bench/fanout.py's) are spread over the replicas round-robin, all on one pipeline, and
over ``--client-procs`` client processes (default: one per replica, each then holding
one replica's subscribers), so that the clients' own event-loop contention does not
inflate the latency measured: with all 1,000 in one process, a message could wait behind
hundreds of others' parsing before its receipt was stamped. Receipt is stamped when the
client's event loop wakes for the data (the selector's return), before any parsing. An
ingester posts one event at a time at ``--rate``, round-robin through every replica.
Each subscriber must receive every event once: ``lost`` and ``dup`` count (subscriber,
event) pairs missing or delivered twice; ``p99_ms`` is commit (the POST's answer) to
client. Then ingest throughput: batches posted as fast as they are answered for
``--flood-seconds`` through one replica, then through all N (no subscribers on that
pipeline): ``ingest_ratio`` = events/s with N / with 1. ::

    .venv/bin/python bench/replicas.py [--replicas 3] [--subscribers 1000] [--rate 20]
        [--seconds 60] [--flood-seconds 20] [--client-procs N]

The replicas start at once (as a deployment starts them) and are used once each answers
``/readyz`` (which waits for its live tailer's first read). Printed besides: the latency
per replica and split by path (the subscriber's replica committed the event: pushed at
once; another did: read by the tailer), the first tenth of the run against the rest (a
replica whose tailer starts late shows there), the stall probes (bench/harness.py:
the services' event loops and the machine, with the load average), and each client
process's own pass (its subscribers' latency, lost, dup, and its CPU seconds while the
events were paced: one near a core's worth of the run shows client contention).

Neo4j: ``NEO4J_URI`` if set (wiped), else the local instance ``TRACEGRAPH_BENCH_INSTANCE``
on ``TRACEGRAPH_BENCH_BOLT_PORT``; wiped before the run and between the ingest phases.
Last line: ``replicas n=<N> p99_ms=<p> lost=<l> dup=<d> ingest_ratio=<r>``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing as mp
import selectors
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

import httpx

from fanout import DUPS, _Subscriber
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


# -- load clients (separate processes) ----------------------------------------------------


class _WakeStamp(selectors.DefaultSelector):
    """The client loop's selector, noting when each ``select`` returned: the moment the
    loop woke for what arrived, before any callback ran. Every message read in that turn
    is stamped with it, not with the time its own callback came (after the parsing of
    all the messages ahead of it)."""

    woke_at = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(timeout)
        self.woke_at = time.time()
        return ready


def _client_proc_main(urls: list[str], pipeline: str, key: str, pipe: Connection) -> None:
    """One client process: a subscriber per entry of ``urls`` (its replica's endpoint),
    answering the parent's commands over ``pipe`` ("count <event id>", "mark", "stop")."""
    selector = _WakeStamp()
    loop = asyncio.SelectorEventLoop(selector)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_clients(urls, pipeline, key, pipe, lambda: selector.woke_at))
    finally:
        loop.close()


async def _clients(
    urls: list[str], pipeline: str, key: str, pipe: Connection, clock: Callable[[], float]
) -> None:
    loop = asyncio.get_running_loop()
    received: list[dict[str, float]] = [{} for _ in urls]
    subs: list[_Subscriber] = []
    for i, url in enumerate(urls):
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        _, sub = await loop.create_connection(
            partial(_Subscriber, url, pipeline, received[i], key, clock), "127.0.0.1", port
        )
        subs.append(sub)
        if i % 50 == 49:
            await asyncio.sleep(0.02)  # don't flood the listen backlog
    await asyncio.gather(*(s.ready for s in subs))
    pipe.send("ready")
    cpu_from = time.process_time()
    while True:
        command = await loop.run_in_executor(None, pipe.recv)
        if command == "stop":
            break
        if command == "mark":  # the paced events start: this process's CPU from here
            cpu_from = time.process_time()
            pipe.send("ok")
            continue
        # "count <event id>": how many of this process's subscribers have received it.
        eid = command.split(" ", 1)[1]
        pipe.send(sum(eid in got for got in received))
    cpu = time.process_time() - cpu_from
    for sub in subs:
        if sub.transport is not None:
            sub.transport.close()
    pipe.send((received, cpu))


@dataclass
class _ClientProc:
    """A client process as the parent sees it: which subscribers (global index, so
    subscriber i is on replica i mod N) and, once stopped, what they received."""

    index: int
    subscribers: list[int]
    conn: Connection
    proc: mp.process.BaseProcess
    received: list[dict[str, float]] = field(default_factory=list)
    cpu_s: float = float("nan")


def _start_clients(
    urls: list[str], n: int, procs: int, pipeline: str, key: str
) -> list[_ClientProc]:
    """``n`` subscribers, subscriber i on replica i mod N and in process i mod ``procs``
    (one process per replica when ``procs`` is N: each holds one replica's)."""
    ctx = mp.get_context("spawn")
    out = []
    for p in range(procs):
        mine = list(range(p, n, procs))
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_client_proc_main,
            args=([urls[i % len(urls)] for i in mine], pipeline, key, child),
            daemon=True,
        )
        proc.start()
        out.append(_ClientProc(p, mine, parent, proc))
    return out


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
    ap.add_argument(
        "--client-procs",
        type=int,
        default=None,
        help="client processes the subscribers are spread over (default: one per replica)",
    )
    args = ap.parse_args()
    client_procs = max(1, min(args.client_procs or args.replicas, args.subscribers))

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
    clients: list[_ClientProc] = []
    try:
        keys = mint_keys(uri, "ingester", "viewer")
        pipeline = f"replicas-{uuid.uuid4().hex[:8]}"
        urls = ["ws" + b.removeprefix("http") + "/graphql" for b in bases]
        clients = _start_clients(urls, args.subscribers, client_procs, pipeline, keys["viewer"])
        deadline = time.monotonic() + READY_WAIT_S
        for c in clients:
            if not c.conn.poll(max(0.0, deadline - time.monotonic())):
                raise RuntimeError(f"client process {c.index}: subscribers did not connect")
            assert c.conn.recv() == "ready"
        conns = [c.conn for c in clients]
        # Warm-up through every replica, then one event every subscriber must have
        # (every subscription registered, every replica's tailer following).
        asyncio.run(_paced(bases, keys["ingester"], f"{pipeline}-warm", 5, 2))
        for r, base in enumerate(bases):
            eid = f"{pipeline}-warmup-{r}"
            asyncio.run(_paced_one(base, keys["ingester"], pipeline, eid))
            _wait_count(conns, eid, args.subscribers, "warm-up event")
        print(
            f"{args.subscribers} subscribers on {args.replicas} replicas in {len(clients)} "
            "client processes; ingesting",
            flush=True,
        )
        for c in clients:
            c.conn.send("mark")
            assert c.conn.recv() == "ok"
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
            _wait_count(conns, last, args.subscribers, "drain", 10.0)
        time.sleep(1.0)
        for c in clients:
            c.conn.send("stop")
        for c in clients:
            c.received, c.cpu_s = c.conn.recv()
            c.proc.join(30)
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
        kill_children(*(c.proc for c in clients))
        for proc, _ in services:
            stop_process(proc)

    latencies: list[float] = []
    by_path: dict[str, list[float]] = {"own": [], "tailed": []}
    by_replica: list[list[float]] = [[] for _ in bases]
    early: list[float] = []
    t_start = min(sent.values())
    early_until = t_start + args.seconds / 10
    lost = dup = 0
    passes: list[str] = []
    order = {eid: i for i, eid in enumerate(sorted(sent, key=lambda e: sent[e]))}
    for client in clients:
        mine: list[float] = []
        proc_lost = proc_dup = 0
        for sub, got in zip(client.subscribers, client.received, strict=True):
            proc_dup += int(got.get(DUPS, 0))
            replica = sub % len(bases)
            for eid in sent:
                t = got.get(eid)
                if t is None:
                    proc_lost += 1
                    continue
                ms = max(0.0, (t - acked[eid]) * 1000)
                mine.append(ms)
                by_replica[replica].append(ms)
                # _paced posts event i through replica i mod N.
                by_path["own" if order[eid] % len(bases) == replica else "tailed"].append(ms)
                if sent[eid] < early_until:
                    early.append(ms)
        latencies.extend(mine)
        lost += proc_lost
        dup += proc_dup
        replicas_held = sorted({sub % len(bases) for sub in client.subscribers})
        passes.append(
            f"client process {client.index}: subscribers={len(client.subscribers)} "
            f"replicas={','.join(map(str, replicas_held))} deliveries={len(mine)} "
            f"p50_ms={percentile(mine, 0.5):.1f} p99_ms={percentile(mine, 0.99):.1f} "
            f"max_ms={max(mine, default=0):.1f} lost={proc_lost} dup={proc_dup} "
            f"cpu_s={client.cpu_s:.2f} (of {args.seconds:.0f} s paced)"
        )
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
    for line in passes:
        print(line)
    print(
        f"replicas n={args.replicas} p99_ms={p99:.1f} lost={lost} dup={dup} "
        f"ingest_ratio={many / one if one else float('nan'):.2f}"
    )


async def _paced_one(base: str, key: str, pipeline: str, eid: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as http:
        r = await post_retrying(http, "/v1/events", [_event(pipeline, eid, -1)])
        r.raise_for_status()


def _wait_count(
    conns: list[Connection], eid: str, target: int, what: str, timeout_s: float = READY_WAIT_S
) -> None:
    """Until ``target`` subscribers (over every client process) have event ``eid``."""
    deadline = time.monotonic() + timeout_s
    while True:
        for conn in conns:
            conn.send(f"count {eid}")
        have = sum(conn.recv() for conn in conns)
        if have == target:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {have} of {target} subscribers have it")
        time.sleep(0.2)


if __name__ == "__main__":
    with stops_what_it_starts():
        main()
