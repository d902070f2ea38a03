"""Ingest burst: one key floods, another posts single events; memory and fairness.

Starts its own Neo4j (instance ``burst`` on ``--bolt-port``, or ``NEO4J_URI``, which it
wipes) and its own service (``tracegraph serve`` in a subprocess, default settings: the
limits under test are the real ones). After an untimed warm-up it measures the service's
RSS, then key A posts ``--batches`` concurrent ``--batch-events``-event batches while key
B posts one-event requests back to back; a sampler records the peak RSS. When A's posts
have answered and the writer has drained, it waits until RSS stops falling (or
``--settle-s`` passes) and measures again. A's 429s are counted, not retried: the figure
is how many of the flood the service refused up front.

    .venv/bin/python bench/ingest_burst.py [--bolt-port 7698] [--batches 6]

The last line printed is ``ingest_burst rss_before_mb=… rss_peak_mb=… rss_after_mb=…
other_p99_ms=… flood_429=…``. Every server it started is stopped before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import orjson

from harness import bearer, free_port, mint_keys, neo4j_uri, percentile, reset_graph, wait_ready
from tracegraph.demo.workload import WorkloadGenerator
from tracegraph.settings import REPO_ROOT


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="utf-8").splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class PeakSampler:
    """Samples a process's RSS every 20 ms in a thread; ``peak`` is the largest seen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = rss_mb(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss_mb(self.pid))

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _log_event(prefix: str, i: int) -> dict:
    return {
        "id": f"{prefix}-{i}",
        "type": "log",
        "time": "2026-11-20T02:00:00Z",
        "source": "bench/burst",
        "pipeline": "burst-other",
        "data": {"level": "info", "message": f"single event {i}"},
    }


def start_service(uri: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        **os.environ,
        "NEO4J_URI": uri,
        "TRACEGRAPH_PORT": str(port),
        "TRACEGRAPH_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracegraph.cli.main", "serve"],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    wait_ready(base, proc)
    return proc, base


async def last_seq(client: httpx.AsyncClient, viewer: str) -> int:
    resp = await client.post(
        "/graphql", json={"query": "{ overview { lastSeq } }"}, headers=bearer(viewer)
    )
    return int(resp.json()["data"]["overview"]["lastSeq"])


async def wait_drained(client: httpx.AsyncClient, viewer: str, timeout_s: float = 120) -> None:
    """Until the committed seq stops moving for a second (the writer's queue is empty)."""
    deadline = time.monotonic() + timeout_s
    seen = await last_seq(client, viewer)
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        now = await last_seq(client, viewer)
        if now == seen:
            return
        seen = now


def wait_rss_settled(pid: int, settle_s: float) -> float:
    """RSS once it has stopped falling for 2 s (or after ``settle_s``)."""
    deadline = time.monotonic() + settle_s
    low, low_at = rss_mb(pid), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - low_at < 2.0:
        time.sleep(0.25)
        now = rss_mb(pid)
        if now < low - 1.0:
            low, low_at = now, time.monotonic()
    return rss_mb(pid)


async def burst(
    base: str, keys: dict[str, str], flood: list[bytes]
) -> tuple[list[int], list[float], list[int]]:
    """A's flood (statuses) and B's one-event posts meanwhile (latencies ms, statuses)."""
    limits = httpx.Limits(max_connections=len(flood) + 4)
    async with httpx.AsyncClient(base_url=base, timeout=300, limits=limits) as client:
        headers_a = {"content-type": "application/json", **bearer(keys["a"])}
        flood_done = asyncio.Event()
        other_ms: list[float] = []
        other_status: list[int] = []

        async def flood_one(body: bytes) -> int:
            return (await client.post("/v1/events", content=body, headers=headers_a)).status_code

        async def other() -> None:
            i = 0
            while not flood_done.is_set():
                started = time.perf_counter()
                resp = await client.post(
                    "/v1/events", json=_log_event("burst-b", i), headers=bearer(keys["b"])
                )
                other_ms.append((time.perf_counter() - started) * 1000)
                other_status.append(resp.status_code)
                i += 1

        other_task = asyncio.create_task(other())
        statuses = await asyncio.gather(*(flood_one(body) for body in flood))
        flood_done.set()
        await other_task
        return list(statuses), other_ms, other_status


async def warm_up(base: str, keys: dict[str, str]) -> None:
    events = WorkloadGenerator(seed=7).events(1000)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for i in range(0, len(events), 250):
            resp = await client.post(
                "/v1/events", json=events[i : i + 250], headers=bearer(keys["a"])
            )
            resp.raise_for_status()
        for i in range(20):
            resp = await client.post(
                "/v1/events", json=_log_event("warm-b", i), headers=bearer(keys["b"])
            )
            resp.raise_for_status()


async def drain(base: str, viewer: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        await wait_drained(client, viewer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bolt-port", type=int, default=7698, help="the local Neo4j's Bolt port")
    parser.add_argument("--batches", type=int, default=6, help="concurrent batches from key A")
    parser.add_argument("--batch-events", type=int, default=5000, help="events per batch")
    parser.add_argument("--settle-s", type=float, default=30.0, help="longest wait for RSS")
    args = parser.parse_args()

    local = None
    if not os.environ.get("NEO4J_URI"):
        from tracegraph.localneo4j import LocalNeo4j

        local = LocalNeo4j(REPO_ROOT / ".neo4j", name="burst", bolt_port=args.bolt_port)
    uri = neo4j_uri("burst", args.bolt_port)
    proc = None
    try:
        reset_graph(uri)
        minted = mint_keys(uri, "ingester", "viewer")
        keys = {"a": minted["ingester"], "viewer": minted["viewer"]}
        keys["b"] = mint_keys(uri, "ingester")["ingester"]
        events = WorkloadGenerator(seed=2026).events(args.batches * args.batch_events)
        n = args.batch_events
        flood = [orjson.dumps(events[i : i + n]) for i in range(0, len(events), n)]
        print(
            f"flood: {args.batches} x {n} events ({sum(map(len, flood)) / 2**20:.1f} MiB) "
            "from key A; key B posts single events meanwhile",
            flush=True,
        )

        proc, base = start_service(uri)
        asyncio.run(warm_up(base, keys))
        asyncio.run(drain(base, keys["viewer"]))
        before = wait_rss_settled(proc.pid, args.settle_s)
        with PeakSampler(proc.pid) as sampler:
            statuses, other_ms, other_status = asyncio.run(burst(base, keys, flood))
            asyncio.run(drain(base, keys["viewer"]))
        after = wait_rss_settled(proc.pid, args.settle_s)

        flood_429 = statuses.count(429)
        print(f"flood statuses: {sorted(statuses)}")
        print(
            f"other: {len(other_ms)} posts, statuses {sorted(set(other_status))}, "
            f"p50 {percentile(other_ms, 0.5):.0f} ms, max {max(other_ms):.0f} ms"
        )
        print(
            f"ingest_burst rss_before_mb={before:.0f} rss_peak_mb={sampler.peak:.0f} "
            f"rss_after_mb={after:.0f} other_p99_ms={percentile(other_ms, 0.99):.0f} "
            f"flood_429={flood_429}"
        )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if local is not None:
            local.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
