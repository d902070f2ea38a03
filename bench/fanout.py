"""Live fan-out: commit-to-client latency with many WebSocket subscribers on one process.

The service runs under uvicorn in its own process; the load clients (plain ``websockets``
connections speaking ``graphql-transport-ws``) run in another, so their CPU does not
share the service's event loop. Every client subscribes to the same live
``events(pipeline: ...)`` subscription; an ingester posts one event at a time at a fixed
rate, each carrying its send time. Latency is measured two ways per delivered event:

* ``p99_ms`` (last line) — commit to client: from the moment the POST returned (the
  commit is acknowledged) to the client's receipt; a push that beat the HTTP answer
  counts as 0;
* ``send_to_client_p99_ms`` — from the ingester's send (before the POST, so it also
  includes validation and the Neo4j commit) to receipt: the conservative figure.

``lost`` counts (subscriber, event) pairs never received. ::

    .venv/bin/python bench/fanout.py [--subscribers 1000] [--rate 20] [--seconds 60]
        [--replicas 2]

``--replicas N`` (issue 20) starts N service processes on the same Neo4j, spreads the
subscribers over them round-robin and ingests through the first only: the first
replica's subscribers are the same-run baseline (pushed at commit), the others' events
arrive through their replica's tailer. One ``replica`` line per replica says which.

Neo4j: ``NEO4J_URI`` if set, else the local launcher's instance ``live`` on 7712.
The last line printed is ``fanout subscribers=<n> p99_ms=<p> lost=<l>``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import time
import uuid
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import Connection
from typing import Any

import httpx
import orjson

from harness import (
    BENCH_BOLT_PORT,
    BENCH_INSTANCE,
    bearer,
    cpu_s,
    mint_keys,
    neo4j_uri,
    percentile,
    start_service,
    stop_process,
    stops_what_it_starts,
)

QUERY = (
    "subscription Fanout($pipeline: String) { events(pipeline: $pipeline) "
    "{ seq id type time pipeline run data } }"
)
DUPS = "__dups__"  # key of a subscriber's duplicate count in its received map

# -- load clients (separate process) ----------------------------------------------------


class _Subscriber(asyncio.Protocol):
    """One subscriber on the ``websockets`` sans-I/O protocol: no task per connection,
    frames parsed straight from ``data_received``, so 1,000 of them stay cheap."""

    def __init__(
        self,
        url: str,
        pipeline: str,
        received: dict[str, float],
        key: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        from websockets.client import ClientProtocol
        from websockets.typing import Subprotocol
        from websockets.uri import parse_uri

        self.ws = ClientProtocol(
            parse_uri(url), subprotocols=[Subprotocol("graphql-transport-ws")], max_size=2**22
        )
        self.pipeline = pipeline
        self.received = received
        self.init_payload = {"Authorization": f"Bearer {key}"}
        self.ready = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        # A message's receipt time, read before it is parsed (bench/replicas.py reads
        # when its event loop woke for the data, not when this callback's turn came).
        self.clock = clock

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP connection: writable
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self._flush()

    def _flush(self) -> None:
        assert self.transport is not None
        for data in self.ws.data_to_send():
            if data:
                self.transport.write(data)

    def _send(self, message: dict[str, Any]) -> None:
        self.ws.send_text(orjson.dumps(message))
        self._flush()

    def data_received(self, data: bytes) -> None:
        from websockets.frames import Frame, Opcode
        from websockets.http11 import Response

        now = self.clock()
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                self._send({"type": "connection_init", "payload": self.init_payload})
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self._message(orjson.loads(event.data), now)
        self._flush()  # pongs to server pings

    def _message(self, msg: dict[str, Any], now: float) -> None:
        kind = msg.get("type")
        if kind == "connection_ack":
            sub = {"query": QUERY, "variables": {"pipeline": self.pipeline}}
            self._send({"id": "1", "type": "subscribe", "payload": sub})
            self.ready.set_result(None)
        elif kind == "ping":
            self._send({"type": "pong"})
        elif kind == "next" and "errors" not in msg["payload"]:
            eid = msg["payload"]["data"]["events"]["id"]
            if eid in self.received:  # delivered twice (bench/replicas.py counts these)
                self.received[DUPS] = self.received.get(DUPS, 0) + 1
            else:
                self.received[eid] = now
        else:
            self.received["__closed__"] = now

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionError("closed before ack"))


def _clients_main(urls: list[str], n: int, pipeline: str, key: str, pipe: Connection) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        per_client: list[dict[str, float]] = [{} for _ in range(n)]
        subs: list[_Subscriber] = []
        for i in range(n):
            url = urls[i % len(urls)]  # client i on replica i mod N
            port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
            _, sub = await loop.create_connection(
                partial(_Subscriber, url, pipeline, per_client[i], key), "127.0.0.1", port
            )
            subs.append(sub)
            if i % 50 == 49:
                await asyncio.sleep(0.02)  # don't flood the listen backlog
        await asyncio.gather(*(s.ready for s in subs))
        pipe.send("ready")
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "stop":
                break
            # "count <event id>": how many subscribers have received it.
            eid = command.split(" ", 1)[1]
            pipe.send(sum(eid in got for got in per_client))
        for sub in subs:
            if sub.transport is not None:
                sub.transport.close()
        pipe.send(per_client)

    asyncio.run(main())


# -- ingester --------------------------------------------------------------------------


async def _ingest(
    base: str, key: str, pipeline: str, rate: float, seconds: float
) -> tuple[dict[str, float], dict[str, float]]:
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}
    interval = 1.0 / rate
    n = int(rate * seconds)
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as http:

        async def one(i: int) -> None:
            eid = f"{pipeline}-{i}"
            t = time.time()
            event = {
                "id": eid,
                "type": "log" if i % 3 else "response.chunk",
                "time": "2026-11-20T02:00:00Z",
                "source": "bench/fanout",
                "pipeline": pipeline,
                "run": f"{pipeline}-run",
                "data": (
                    {"level": "info", "message": f"line {i}", "sent": t}
                    if i % 3
                    else {"call": "c1", "index": i, "delta": f"token {i} ", "sent": t}
                ),
            }
            sent[eid] = t
            r = await http.post("/v1/events", json=[event])
            r.raise_for_status()
            acked[eid] = time.time()

        start = time.monotonic()
        pending = []
        for i in range(n):
            # A fixed schedule (not sleep-after-post): a slow commit does not lower the rate.
            delay = start + i * interval - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(one(i)))
        await asyncio.gather(*pending)
    return sent, acked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=20.0, help="events per second")
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--ws", default="", help="a uvicorn WebSocket implementation (default: the service's)"
    )
    ap.add_argument("--profile", help="write the service's cProfile stats to this file")
    ap.add_argument("--replicas", type=int, default=1, help="service processes (one Neo4j)")
    args = ap.parse_args()

    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT)
    server, base = start_service(uri, ws=args.ws, profile=args.profile or "")
    others = [start_service(uri, ws=args.ws) for _ in range(args.replicas - 1)]
    bases = [base, *(b for _, b in others)]
    try:
        # The emitter posts with an ingester key; subscribers read with a viewer key.
        keys = mint_keys(uri, "ingester", "viewer")
        pipeline = f"fanout-{uuid.uuid4().hex[:8]}"
        parent, child = mp.Pipe()
        ctx = mp.get_context("spawn")
        clients = ctx.Process(
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
        if not parent.poll(180):
            raise RuntimeError("subscribers did not connect")
        assert parent.recv() == "ready"
        # Warm-up (query plans, JIT): events everyone must receive before measuring, which
        # also proves every subscription is registered with the hub.
        with httpx.Client(base_url=base, timeout=30, headers=bearer(keys["ingester"])) as http:
            deadline = time.monotonic() + 60
            for i in range(10):
                eid = f"{pipeline}-warmup-{i}"
                ev = {
                    "id": eid,
                    "type": "log",
                    "time": "2026-11-20T02:00:00Z",
                    "source": "bench/fanout",
                    "pipeline": pipeline,
                    "data": {"level": "info", "message": "warm-up"},
                }
                http.post("/v1/events", json=[ev]).raise_for_status()
                time.sleep(0.1)
            while True:
                parent.send(f"count {eid}")
                if parent.recv() == args.subscribers:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError("warm-up event did not reach every subscriber")
                time.sleep(0.2)
        print(f"{args.subscribers} subscribers connected; ingesting", flush=True)
        t0 = time.monotonic()
        cpu0 = cpu_s(server.pid), cpu_s(clients.pid or 0)
        sent, acked = asyncio.run(
            _ingest(base, keys["ingester"], pipeline, args.rate, args.seconds)
        )
        ingest_s = time.monotonic() - t0
        cpu1 = cpu_s(server.pid), cpu_s(clients.pid or 0)
        time.sleep(3.0)  # drain
        parent.send("stop")
        per_client: list[dict[str, float]] = parent.recv()
        clients.join(30)
    finally:
        stop_process(server)
        for proc, _ in others:
            stop_process(proc)

    latencies: list[float] = []
    commit_latencies: list[float] = []
    lost = 0
    closed = 0
    for got in per_client:
        closed += "__closed__" in got
        for eid, t_sent in sent.items():
            t = got.get(eid)
            if t is None:
                lost += 1
                continue
            latencies.append((t - t_sent) * 1000)
            commit_latencies.append(max(0.0, (t - acked[eid]) * 1000))
    if args.replicas > 1:
        for r in range(args.replicas):
            mine = [
                max(0.0, (got[e] - acked[e]) * 1000)
                for got in per_client[r :: args.replicas]
                for e in sent
                if e in got
            ]
            missing = sum(e not in got for got in per_client[r :: args.replicas] for e in sent)
            where = "ingest here (baseline)" if r == 0 else "ingest on replica 0 (tailed)"
            print(
                f"replica {r} {where}: p50_ms={percentile(mine, 0.5):.1f} "
                f"p99_ms={percentile(mine, 0.99):.1f} lost={missing}"
            )
    p50 = percentile(latencies, 0.50)
    send_p99 = percentile(latencies, 0.99)
    p99 = percentile(commit_latencies, 0.99)
    posts = [(acked[e] - sent[e]) * 1000 for e in sent]
    print(
        f"post_ms p50={percentile(posts, 0.5):.1f} p99={percentile(posts, 0.99):.1f} "
        f"max={max(posts):.1f}"
    )
    print(
        f"events={len(sent)} in {ingest_s:.1f}s deliveries={len(latencies)} "
        f"closed={closed} p50_ms={p50:.1f} max_ms={max(latencies, default=0):.1f} "
        f"mean_ms={statistics.fmean(latencies) if latencies else 0:.1f} "
        f"send_to_client_p99_ms={send_p99:.1f}"
    )
    print(
        f"cpu during ingest: service={(cpu1[0] - cpu0[0]) / ingest_s:.0%} "
        f"clients={(cpu1[1] - cpu0[1]) / ingest_s:.0%} of one core"
    )
    print(f"fanout subscribers={args.subscribers} p99_ms={p99:.1f} lost={lost}")


if __name__ == "__main__":
    with stops_what_it_starts():
        main()
