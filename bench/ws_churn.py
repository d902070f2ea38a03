"""WebSocket churn: the service's memory over rounds of connect/subscribe/abrupt close.

Each cycle opens a WebSocket, signs in (``connection_init``), subscribes to ``events``,
waits for the subscription to be registered (one event reaches it), then drops the TCP
connection without a close frame (RST). After each round the script waits until the
service reports no open subscriptions and reads its resident memory (``VmRSS``): a
process that releases what a socket held stays flat from round to round.

The service runs as ``tracegraph serve`` would (``uvicorn_ws_options``), in its own
process, which the script stops at the end. ``--tracemalloc`` makes the service print
its top allocation growth (by line) after each round on stderr. Uses ``NEO4J_URI`` when
set (and writes to it), else the local ``bench`` instance (port 7698).

    .venv/bin/python bench/ws_churn.py [--rounds 3] [--cycles 2000] [--tracemalloc]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import orjson
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from harness import (
    UNTHROTTLED_ENV,
    bearer,
    free_port,
    mint_keys,
    neo4j_uri,
    wait_ready,
)

REPO = Path(__file__).resolve().parents[1]
BENCH_BOLT_PORT = 7698
QUERY = "subscription($p: String) { events(pipeline: $p) { seq type } }"

SERVER = """
import ctypes, gc, signal, sys, tracemalloc, uvicorn
from tracegraph.api.app import create_app
from tracegraph.api.ws_protocol import uvicorn_ws_options
from tracegraph.cli.serve_command import _tune_gc
from tracegraph.settings import Settings
settings = Settings()
app = create_app(settings)
if sys.argv[2] == "1":
    # Tracing starts at the first signal (after the warm-up): startup stays fast.
    state = {}
    def report(*_):
        gc.collect()
        if not tracemalloc.is_tracing():
            tracemalloc.start(int(sys.argv[3]) if len(sys.argv) > 3 else 1)
            state["snap"] = tracemalloc.take_snapshot()
            return
        snap = tracemalloc.take_snapshot()
        top = snap.compare_to(state["snap"], "traceback")[:12]
        state["snap"] = snap
        print("--- allocation growth this round (top 8) ---", file=sys.stderr)
        for stat in top:
            kib, blocks = stat.size_diff / 1024, stat.count_diff
            print(f"{kib:+9.1f} KiB {blocks:+7d} blocks", file=sys.stderr)
            for line in stat.traceback.format()[-6:]:
                print("      " + line.strip(), file=sys.stderr)
        sys.stderr.flush()
    signal.signal(signal.SIGUSR1, report)
def settle(*_):
    # What a full collection and returning free heap pages to the OS leave resident.
    gc.collect()
    ctypes.CDLL("libc.so.6").malloc_trim(0)
signal.signal(signal.SIGUSR2, settle)
_tune_gc()
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning",
            **uvicorn_ws_options(settings))
"""


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def one_cycle(url: str, key: str, pipeline: str, registered: asyncio.Event) -> None:
    ws = await connect(url, subprotocols=[Subprotocol("graphql-transport-ws")], compression=None)
    try:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        await ws.send(orjson.dumps(init).decode())
        ack = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
        assert ack["type"] == "connection_ack", ack
        payload = {"query": QUERY, "variables": {"p": pipeline}}
        await ws.send(orjson.dumps({"id": "1", "type": "subscribe", "payload": payload}).decode())
        # Registered with the hub once the heartbeat event of this round reaches it.
        msg = orjson.loads(await asyncio.wait_for(ws.recv(), 60))
        assert msg["type"] == "next", msg
        registered.set()
    finally:
        ws.transport.abort()  # abrupt: no close frame, TCP reset


async def one_round(
    base: str, keys: dict[str, str], cycles: int, concurrency: int
) -> tuple[int, float]:
    url = base.replace("http", "ws", 1) + "/graphql"
    pipeline = f"churn-{uuid.uuid4().hex[:8]}"
    failures = 0
    done = 0
    t0 = time.monotonic()
    async with httpx.AsyncClient(base_url=base, headers=bearer(keys["ingester"])) as http:
        seq = 0

        async def heartbeat() -> None:
            # An event every 20 ms, so each subscriber gets one soon after subscribing.
            nonlocal seq
            while True:
                seq += 1
                ev = {
                    "id": f"{pipeline}-{seq}",
                    "type": "log",
                    "time": "2026-11-20T02:00:00Z",
                    "source": "bench/ws_churn",
                    "pipeline": pipeline,
                    "data": {"level": "info", "message": "heartbeat"},
                }
                resp = await http.post("/v1/events", json=[ev])
                if resp.status_code != 200:
                    print(f"heartbeat refused: {resp.status_code} {resp.text[:200]}", flush=True)
                await asyncio.sleep(0.02)

        beat = asyncio.create_task(heartbeat())
        sem = asyncio.Semaphore(concurrency)

        async def guarded() -> None:
            nonlocal failures, done
            async with sem:
                try:
                    await one_cycle(url, keys["viewer"], pipeline, asyncio.Event())
                    done += 1
                except Exception as exc:
                    failures += 1
                    if failures <= 3:
                        print(f"cycle failed: {exc!r}", flush=True)

        await asyncio.gather(*(guarded() for _ in range(cycles)))
        beat.cancel()
    return failures, time.monotonic() - t0


def open_subscriptions(base: str, key: str) -> float:
    text = httpx.get(f"{base}/metrics", headers=bearer(key), timeout=30).text
    for line in text.splitlines():
        if line.startswith("tracegraph_live_subscribers "):
            return float(line.split()[1])
    return -1.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cycles", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--tracemalloc", action="store_true")
    ap.add_argument(
        "--settle",
        action="store_true",
        help="before each RSS reading, make the service collect garbage and trim its heap",
    )
    args = ap.parse_args()
    # A SIGTERM (timeout, Ctrl+C from a wrapper) still stops the service below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    uri = neo4j_uri("bench", BENCH_BOLT_PORT)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "NEO4J_URI": uri, "TRACEGRAPH_LOG_LEVEL": "warning", **UNTHROTTLED_ENV}
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(port), "1" if args.tracemalloc else "0"],
        cwd=REPO,
        env=env,
    )
    figures: list[int] = []
    try:
        wait_ready(base, server)
        keys = mint_keys(uri, "ingester", "viewer")
        # One small round first: imports, query plans and caches that every later round
        # shares are not churn.
        asyncio.run(one_round(base, keys, 50, 10))
        time.sleep(1)
        if args.settle:
            server.send_signal(signal.SIGUSR2)
            time.sleep(2)
        baseline = rss_kib(server.pid)
        figures.append(baseline)
        print(f"RSS after warm-up: {baseline / 1024:.1f} MiB", flush=True)
        if args.tracemalloc:
            server.send_signal(signal.SIGUSR1)
        for r in range(1, args.rounds + 1):
            failures, took = asyncio.run(one_round(base, keys, args.cycles, args.concurrency))
            deadline = time.monotonic() + 60
            while open_subscriptions(base, keys["viewer"]) > 0 and time.monotonic() < deadline:
                time.sleep(0.2)
            left = open_subscriptions(base, keys["viewer"])
            if args.settle:
                server.send_signal(signal.SIGUSR2)
                time.sleep(2)
            rss = rss_kib(server.pid)
            figures.append(rss)
            print(
                f"round {r}: {args.cycles} cycles in {took:.1f} s ({failures} failed), "
                f"{left:.0f} subscriptions left, RSS {rss / 1024:.1f} MiB "
                f"({(rss - figures[-2]) / 1024:+.1f} MiB, "
                f"{100 * (rss - baseline) / baseline:+.1f}% vs warm-up)",
                flush=True,
            )
            if args.tracemalloc:
                server.send_signal(signal.SIGUSR1)
                time.sleep(3)
    finally:
        server.terminate()
        server.wait(30)
    growth = [100 * (b - a) / a for a, b in itertools.pairwise(figures)]
    print(
        "ws_churn: RSS "
        + " -> ".join(f"{f / 1024:.1f}" for f in figures)
        + " MiB; per round "
        + ", ".join(f"{g:+.1f}%" for g in growth)
    )


if __name__ == "__main__":
    main()
