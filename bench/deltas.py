"""Live deltas: bytes and latency of ``runChanged`` against ``runUpdated`` snapshots.

A run streams a 4,000-token response in 400 ``response.chunk`` events (with its
``run.*``, ``step.*``, ``prompt.sent`` and ``response.received``), posted one event per
request at a fixed rate, while N subscribers (default 200; plain ``websockets``
sans-I/O clients speaking ``graphql-transport-ws`` in a separate process) follow it.
Four arms, each on a run of its own, in the same service and the same run of the bench:

* ``deltas``: ``runChanged(run)`` — each client applies every patch to its document
  (``jsonpatch``, in place; the apply time is measured) and at the end compares it with
  ``snapshots``;
* ``snapshots``: ``runUpdated(run)`` selecting the whole run (step runs, calls with
  prompt and response text, lineage) — the baseline: what a client re-reads per change;
* both again with permessage-deflate offered by the clients (bytes on the wire).

Printed per arm: payload bytes (the WebSocket messages' text) and wire bytes (TCP, after
deflate) per subscriber; for ``deltas`` the apply p95 and commit-to-client p99 (from the
moment the event's POST returned — the commit is acknowledged — to the receipt of the
first delta whose ``seq`` covers it; a delta that beat the HTTP answer counts as 0) and
send-to-client p99 (from before the POST: includes validation and the commit). ::

    .venv/bin/python bench/deltas.py [--subscribers 200] [--rate 40] [--chunks 400]

Neo4j: ``NEO4J_URI`` if set, else the local instance ``TRACEGRAPH_BENCH_INSTANCE`` on
``TRACEGRAPH_BENCH_BOLT_PORT`` (default ``bench`` on 7698), stopped at the end if this
bench started it; the service it runs is stopped too. The last line is
``deltas bytes_ratio=<delta bytes / snapshot bytes> apply_p95_ms=<p> p99_ms=<p>``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
import uuid
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

DELTAS = (
    "subscription D($run: ID!) { runChanged(run: $run) { entity version baseVersion seq patch } }"
)
SNAPSHOTS = """subscription S($run: ID!) { runUpdated(run: $run) {
  id status scheduledFor startedAt endedAt durationMs inputTokens outputTokens costUsd
  costEstimated error trigger
  steps { id attempt version status startedAt endedAt durationMs percent tokensUsed
    tokenBudget provider model error
    llmCalls { id provider model promptTemplate promptVersion prompt response inputTokens
      outputTokens latencyMs costUsd }
    reads { id uri version kind hash } writes { id uri version kind hash } }
} }"""
# -- subscribers (separate process) -------------------------------------------------------


class _Client(asyncio.Protocol):
    """One subscriber on the ``websockets`` sans-I/O protocol (no task per connection)."""

    def __init__(self, url: str, query: str, run: str, key: str, deflate: bool) -> None:
        from websockets.client import ClientProtocol
        from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
        from websockets.typing import Subprotocol
        from websockets.uri import parse_uri

        self.ws = ClientProtocol(
            parse_uri(url),
            subprotocols=[Subprotocol("graphql-transport-ws")],
            extensions=[ClientPerMessageDeflateFactory()] if deflate else None,
            max_size=2**24,
        )
        self.query, self.run, self.key = query, run, key
        self.ready = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.deflate_accepted = False
        self.reset()
        self.doc: Any = None
        self.version: int | None = None

    def reset(self) -> None:
        self.messages = 0
        self.payload_bytes = 0
        self.wire_bytes = 0
        self.applies_ms: list[float] = []
        self.seq_received: list[tuple[int, float]] = []
        self.gaps = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
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

        now = time.time()
        self.wire_bytes += len(data)
        self.ws.receive_data(data)
        for event in self.ws.events_received():
            if isinstance(event, Response):
                if event.status_code != 101 and not self.ready.done():
                    self.ready.set_exception(
                        ConnectionError(f"WebSocket upgrade answered {event.status_code}")
                    )
                    return
                ext = event.headers.get("Sec-WebSocket-Extensions") or ""
                self.deflate_accepted = "permessage-deflate" in ext
                self._send({"type": "connection_init", "payload": {"Authorization": self.key}})
            elif isinstance(event, Frame) and event.opcode is Opcode.TEXT:
                self.payload_bytes += len(event.data)
                self._message(orjson.loads(event.data), now)
        self._flush()

    def _message(self, msg: dict[str, Any], now: float) -> None:
        kind = msg.get("type")
        if kind == "connection_ack":
            payload = {"query": self.query, "variables": {"run": self.run}}
            self._send({"id": "1", "type": "subscribe", "payload": payload})
            self.ready.set_result(None)
        elif kind == "ping":
            self._send({"type": "pong"})
        elif kind == "next":
            self.messages += 1
            data = (msg["payload"].get("data") or {}).get("runChanged")
            if data is not None:
                self._apply(data, now)

    def _apply(self, delta: dict[str, Any], now: float) -> None:
        import jsonpatch

        base = delta["baseVersion"]
        if self.version is not None and delta["version"] <= self.version:
            return
        if base is not None and base != self.version:
            self.gaps += 1
            return
        t = time.perf_counter()
        if base is None:
            self.doc = delta["patch"][0]["value"]
        else:
            self.doc = jsonpatch.apply_patch(self.doc, delta["patch"], in_place=True)
        self.applies_ms.append((time.perf_counter() - t) * 1000)
        self.version = delta["version"]
        self.seq_received.append((delta["seq"], now))


def _clients_main(
    url: str, n: int, query: str, run: str, key: str, deflate: bool, pipe: Connection
) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        clients: list[_Client] = []
        for i in range(n):
            _, c = await loop.create_connection(
                partial(_Client, url, query, run, key, deflate), "127.0.0.1", port
            )
            clients.append(c)
            if i % 50 == 49:
                await asyncio.sleep(0.02)
        await asyncio.wait([asyncio.ensure_future(c.ready) for c in clients], timeout=300)
        results = [
            (f.exception() or None) if f.done() else TimeoutError("no ack within 300 s")
            for f in (c.ready for c in clients)
        ]
        failed = [r for r in results if r is not None]
        if failed:  # say why instead of leaving the bench waiting
            pipe.send(("failed", f"{len(failed)} of {n} did not subscribe: {failed[0]!r}"))
            return
        pipe.send(("ready", sum(c.deflate_accepted for c in clients)))
        while True:
            command = await loop.run_in_executor(None, pipe.recv)
            if command == "count":
                pipe.send(min(c.messages for c in clients))
            elif command == "reset":
                for c in clients:
                    c.reset()
                pipe.send("ok")
            else:
                break
        result = {
            "payload": [c.payload_bytes for c in clients],
            "wire": [c.wire_bytes for c in clients],
            "applies": [a for c in clients for a in c.applies_ms],
            "seqs": [c.seq_received for c in clients],
            "gaps": sum(c.gaps for c in clients),
            "docs": [(c.version, c.doc) for c in clients[:3]],
        }
        for c in clients:
            if c.transport is not None:
                c.transport.close()
        pipe.send(result)

    asyncio.run(main())


# -- the stream ---------------------------------------------------------------------------


def stream(pipeline: str, run: str, chunks: int, prompt_chars: int) -> list[dict[str, Any]]:
    """A run generating a ``chunks`` x 10-token answer (4,000 tokens by default) to a
    ``prompt_chars`` prompt."""
    t0 = 1_700_000_000.0

    def at(i: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t0 + i)) + f".{i % 1000:03d}Z"

    def ev(i: int, kind: str, step: str | None = "generate", **data: Any) -> dict[str, Any]:
        e: dict[str, Any] = {
            "id": f"{run}-{i}",
            "type": kind,
            "time": at(i),
            "source": "bench/deltas",
            "pipeline": pipeline,
            "run": run,
            "data": data,
        }
        if step:
            e["step"] = step
        return e

    # Tokens of about 4.5 characters, as English text averages; 10 per chunk.
    vocab = ["the ", "model ", "revenue ", "grew ", "in ", "Q3 ", "by ", "12% ", "and ", "costs "]
    words = [vocab[(i * 7) % len(vocab)] for i in range(chunks * 10)]
    pieces = ["".join(words[i * 10 : (i + 1) * 10]) for i in range(chunks)]
    # A retrieval-augmented prompt: instructions plus retrieved passages.
    passage = "Quarterly report, section {}: revenue, costs and outlook by region. "
    prompt = (
        "Summarise the quarterly report below.\n"
        + "".join(passage.format(i) for i in range(prompt_chars // len(passage) + 1))[:prompt_chars]
    )
    events = [
        ev(0, "run.started", None, trigger="manual"),
        ev(1, "step.started", provider="openai", model="gpt-4o"),
        ev(2, "prompt.sent", call="c1", provider="openai", model="gpt-4o", text=prompt),
    ]
    events += [
        ev(3 + i, "response.chunk", call="c1", index=i, delta=p) for i, p in enumerate(pieces)
    ]
    n = 3 + chunks
    events += [
        ev(
            n,
            "response.received",
            call="c1",
            text="".join(pieces),
            input_tokens=420,
            output_tokens=len(words),
            latency_ms=9000,
        ),
        ev(n + 1, "step.completed"),
        ev(n + 2, "run.completed", None),
    ]
    return events


async def _post_all(
    base: str, key: str, events: list[dict[str, Any]], rate: float
) -> dict[int, tuple[float, float]]:
    """Post one event per request on a fixed schedule, in order (each waits for the
    previous answer: a chunk must not overtake its predecessor); seq -> (sent, acked)."""
    out: dict[int, tuple[float, float]] = {}
    async with httpx.AsyncClient(base_url=base, timeout=30, headers=bearer(key)) as http:
        start = time.monotonic()
        for i, event in enumerate(events):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            sent = time.time()
            for _ in range(20):  # a 503 (Neo4j busy) says when to send again
                r = await http.post("/v1/events", json=[event])
                if r.status_code != 503:
                    break
                await asyncio.sleep(float(r.headers.get("Retry-After", "1")))
            r.raise_for_status()
            out[int(r.json()["last_seq"])] = (sent, time.time())
    return out


def _arm(
    server_pid: int,
    base: str,
    port: int,
    keys: dict[str, str],
    args: argparse.Namespace,
    query: str,
    deflate: bool,
) -> dict[str, Any]:
    pipeline = f"deltas-{uuid.uuid4().hex[:8]}"
    run = f"{pipeline}-run"
    parent, child = mp.Pipe()
    clients = mp.get_context("spawn").Process(
        target=_clients_main,
        args=(
            f"ws://127.0.0.1:{port}/graphql",
            args.subscribers,
            query,
            run,
            f"Bearer {keys['viewer' if args.viewer else 'reviewer']}",
            deflate,
            child,
        ),
    )
    clients.start()
    try:
        # Each connection authenticates its key against the graph: slow on a cold,
        # loaded server.
        if not parent.poll(600):
            raise RuntimeError("subscribers did not connect")
        tag, accepted = parent.recv()
        if tag != "ready":
            raise RuntimeError(accepted)
        events = stream(pipeline, run, args.chunks, args.prompt_chars)
        # Warm-up: the run's start reaches every subscriber (so every subscription is
        # registered) before anything is measured.
        with httpx.Client(base_url=base, timeout=30, headers=bearer(keys["ingester"])) as http:
            for _ in range(20):  # a 503 (Neo4j busy) says when to send again
                r = http.post("/v1/events", json=[events[0]])
                if r.status_code != 503:
                    break
                time.sleep(float(r.headers.get("Retry-After", "1")))
            r.raise_for_status()
        deadline = time.monotonic() + 60
        while True:
            parent.send("count")
            if parent.recv() >= 1:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the warm-up did not reach every subscriber")
            time.sleep(0.1)
        time.sleep(0.5)
        parent.send("reset")
        parent.recv()
        t0, cpu0 = time.monotonic(), cpu_s(server_pid)
        posts = asyncio.run(_post_all(base, keys["ingester"], events[1:], args.rate))
        seconds = time.monotonic() - t0
        time.sleep(3.0)  # drain
        service_cpu = cpu_s(server_pid) - cpu0
        parent.send("stop")
        result: dict[str, Any] = parent.recv()
    finally:
        clients.join(30)
        if clients.is_alive():
            clients.kill()
    result.update(
        posts=posts, seconds=seconds, run=run, events=len(events) - 1, service_cpu_s=service_cpu
    )
    result["deflate_accepted"] = accepted
    return result


def _latencies(result: dict[str, Any]) -> tuple[list[float], list[float]]:
    """Per (subscriber, event): commit-to-client and send-to-client, in ms."""
    posts: dict[int, tuple[float, float]] = result["posts"]
    commit, send = [], []
    for received in result["seqs"]:
        received = sorted(received)
        j = 0
        for seq in sorted(posts):
            while j < len(received) and received[j][0] < seq:
                j += 1
            if j == len(received):
                break  # never covered (counted as lost below)
            sent, acked = posts[seq]
            t = received[j][1]
            commit.append(max(0.0, (t - acked) * 1000))
            send.append((t - sent) * 1000)
    return commit, send


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--subscribers", type=int, default=200)
    ap.add_argument("--rate", type=float, default=40.0, help="events per second")
    ap.add_argument("--chunks", type=int, default=400)
    ap.add_argument(
        "--prompt-chars",
        type=int,
        default=6000,
        help="prompt size (default: ~1,500 tokens of instructions and retrieved passages)",
    )
    ap.add_argument("--viewer", action="store_true", help="subscribe as a viewer (redacted)")
    args = ap.parse_args()

    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT)
    # 200 sockets of one key (the defaults cap a principal's sockets for abuse).
    server, base = start_service(
        uri,
        {
            "TRACEGRAPH_WS_MAX_CONNECTIONS_PER_PRINCIPAL": str(args.subscribers * 2 + 10),
            "TRACEGRAPH_WS_MAX_CONNECTIONS": str(args.subscribers * 2 + 100),
        },
    )
    port = int(base.rsplit(":", 1)[1])
    try:
        keys = mint_keys(uri, "ingester", "reviewer", "viewer")
        arms = {}
        for name, query, deflate in (
            ("deltas", DELTAS, False),
            ("snapshots", SNAPSHOTS, False),
            ("deltas+deflate", DELTAS, True),
            ("snapshots+deflate", SNAPSHOTS, True),
        ):
            arms[name] = r = _arm(server.pid, base, port, keys, args, query, deflate)
            payload = sum(r["payload"]) / len(r["payload"])
            wire = sum(r["wire"]) / len(r["wire"])
            print(
                f"{name:18} events={r['events']} in {r['seconds']:.1f}s "
                f"payload_bytes/subscriber={payload:,.0f} wire_bytes/subscriber={wire:,.0f} "
                f"deflate_accepted={r['deflate_accepted']}/{args.subscribers} "
                f"service_cpu_s={r['service_cpu_s']:.1f} load={os.getloadavg()[0]:.1f}",
                flush=True,
            )
        print(
            f"stream: 1 run, {args.chunks} chunks, prompt {args.prompt_chars:,} chars", flush=True
        )
        # The deltas clients' documents equal the server's snapshot.
        with httpx.Client(base_url=base, timeout=30, headers=bearer(keys["reviewer"])) as http:
            run = arms["deltas"]["run"]
            q = "query($e:[String!]!){snapshots(entities:$e){version doc}}"
            answer = http.post("/graphql", json={"query": q, "variables": {"e": [f"run:{run}"]}})
            [snap] = answer.json()["data"]["snapshots"]
        same = (
            all((v, d) == (snap["version"], snap["doc"]) for v, d in arms["deltas"]["docs"])
            or args.viewer
        )
    finally:
        stop_process(server)

    d, s = arms["deltas"], arms["snapshots"]
    ratio = sum(d["payload"]) / sum(s["payload"])
    commit, send = _latencies(d)
    expected = args.subscribers * len(d["posts"])
    lost = expected - len(commit)
    apply_p95 = percentile(d["applies"], 0.95)
    wire_ratio = sum(arms["deltas+deflate"]["wire"]) / sum(d["wire"])
    snap_wire_ratio = sum(arms["snapshots+deflate"]["wire"]) / sum(s["wire"])
    print(
        f"deflate: deltas wire bytes x{wire_ratio:.2f} with permessage-deflate "
        f"({sum(d['wire']):,} -> {sum(arms['deltas+deflate']['wire']):,}), "
        f"snapshots x{snap_wire_ratio:.2f} "
        f"({sum(s['wire']):,} -> {sum(arms['snapshots+deflate']['wire']):,})"
    )
    print(
        f"deltas: gaps={d['gaps']} lost={lost} documents_equal_snapshot={same} "
        f"send_to_client_p99_ms={percentile(send, 0.99):.1f} "
        f"commit_to_client_p50_ms={percentile(commit, 0.5):.1f}"
    )
    print(
        f"deltas bytes_ratio={ratio:.4f} apply_p95_ms={apply_p95:.3f} "
        f"p99_ms={percentile(commit, 0.99):.1f}"
    )


if __name__ == "__main__":
    with stops_what_it_starts():
        main()
