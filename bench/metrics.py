"""Metrics benchmark: dashboard status and aggregate queries through /graphql over HTTP on
a graph of n runs and 10 n step runs (plus 2 n LLM calls), built server-side with
batched Cypher (bench/cypher/metrics_bench_*.cypher), then summed into the metric
rollups by ``tracegraph rollups rebuild``'s function (timed and printed).

    .venv/bin/python bench/metrics.py [--runs 100000] [--steps 10] [--requests 100]

Measured twice, at n/10 runs and at n runs, to show how the cost grows with the data
(the rollups should make it follow the buckets, not the events). The status query is the
header bar, the first page of runs and one pipeline's latest runs with their step runs;
the aggregate query is one pipeline's metrics over a week in hourly buckets (series and
totals), on whole hours as the dashboard asks them. Neo4j: NEO4J_URI if set (the
database is WIPED), else the local launcher's instance TRACEGRAPH_BENCH_INSTANCE on
TRACEGRAPH_BENCH_BOLT_PORT. Last line:
``metrics runs=<n> status_p95_ms=<a> aggregate_p95_ms=<b> growth=<aggregate p95 at n / at n/10>``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from neo4j import GraphDatabase

from harness import (
    BENCH_BOLT_PORT,
    BENCH_INSTANCE,
    UNTHROTTLED_ENV,
    bearer,
    bench_cypher,
    free_port,
    mint_keys,
    neo4j_uri,
    percentile,
    reset_graph,
    stop_process,
    stops_what_it_starts,
    wait_ready,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PIPELINES = 20
DAYS = 30

STATUS = """query($p: String!) {
  overview { activeRuns tokensToday costTodayUsd healthy lastSeq }
  runs(first: 50) { edges { node { id status startedAt durationMs costUsd } } }
  pipeline(name: $p) { name runs(first: 5) { id status steps { id status durationMs } } }
}"""
AGGREGATE = """query($p: String!, $from: DateTime!, $to: DateTime!) {
  metrics(pipeline: $p, from: $from, to: $to, bucketSeconds: 3600) {
    series { start runs runsFailed stepRuns errorRate latencyP95Ms inputTokens costUsd }
    totals { runs stepRuns errorRate latencyP50Ms latencyP95Ms latencyP99Ms
             inputTokens outputTokens costUsd estimatedCostShare }
  }
}"""


def build_graph(uri: str, runs: int, steps: int, t0: datetime) -> None:
    started = time.perf_counter()
    reset_graph(uri)
    with GraphDatabase.driver(uri) as driver:
        driver.execute_query(
            bench_cypher("metrics_bench_pipelines"), pipelines=PIPELINES, steps=steps
        )
        gap_ms = DAYS * 86_400_000 // runs
        batch = 2000
        for lo in range(0, runs, batch):
            driver.execute_query(
                bench_cypher("metrics_bench_runs"),
                {
                    "from": lo,
                    "to": min(runs, lo + batch),
                    "pipelines": PIPELINES,
                    "steps": steps,
                    "t0": t0,
                    "gap_ms": gap_ms,
                },
            )
            if lo % 20_000 == 0:
                print(f"  built {lo + batch} runs", file=sys.stderr, flush=True)
    print(f"built {runs} runs in {time.perf_counter() - started:.1f}s", file=sys.stderr)


def build_rollups(uri: str) -> None:
    from tracegraph.settings import Neo4jSettings
    from tracegraph.store.driver import open_driver
    from tracegraph.store.rollups import rebuild_rollups

    started = time.perf_counter()

    async def rebuild() -> dict[str, int]:
        driver = open_driver(Neo4jSettings(uri=uri))
        try:
            return await rebuild_rollups(driver, "neo4j", page=5000)
        finally:
            await driver.close()

    visited = asyncio.run(rebuild())
    elapsed = time.perf_counter() - started
    nodes = sum(visited.values())
    print(
        f"rollups rebuilt over {nodes} nodes in {elapsed:.1f}s"
        f" ({nodes / elapsed:.0f} nodes/s, load {os.getloadavg()[0]:.1f})",
        file=sys.stderr,
    )


def measure(url: str, key: str, query: str, variables: list[dict], warmup: int = 5) -> list[float]:
    out: list[float] = []
    # A viewer key: what a dashboard reading these figures would hold.
    with httpx.Client(timeout=60, headers=bearer(key)) as client:
        for n, v in enumerate(variables):
            t = time.perf_counter()
            resp = client.post(url, json={"query": query, "variables": v})
            dt = (time.perf_counter() - t) * 1000
            body = resp.json()
            assert resp.status_code == 200 and not body.get("errors"), body
            if n >= warmup:
                out.append(dt)
    return out


def measure_size(uri: str, runs: int, args: argparse.Namespace) -> tuple[float, float]:
    """Build ``runs`` runs (unless --skip-build) and measure; (status p95, aggregate p95)."""
    # On the hour, as the dashboard asks its windows (whole buckets): the rollups answer.
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    t0 = now - timedelta(days=DAYS)
    if not args.skip_build:
        build_graph(uri, runs, args.steps, t0)
        build_rollups(uri)

    port = free_port()
    env = dict(os.environ, NEO4J_URI=uri, TRACEGRAPH_LOG_LEVEL="warning", **UNTHROTTLED_ENV)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "tracegraph.api.app:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=REPO_ROOT,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        # Startup is not measured: a loaded machine plans the write statements slowly.
        wait_ready(base, server, timeout_s=600)
        url = f"{base}/graphql"
        rng = random.Random(1)
        status_vars, agg_vars = [], []
        for _ in range(args.requests + 5):
            p = f"mbench-{rng.randrange(PIPELINES)}"
            status_vars.append({"p": p})
            start = t0 + timedelta(days=rng.randrange(DAYS - 7), hours=rng.randrange(24))
            agg_vars.append(
                {"p": p, "from": start.isoformat(), "to": (start + timedelta(days=7)).isoformat()}
            )
        key = mint_keys(uri, "viewer")["viewer"]
        status = measure(url, key, STATUS, status_vars)
        aggregate = measure(url, key, AGGREGATE, agg_vars)
    finally:
        stop_process(server)
    for name, values in (("status", status), ("aggregate (pipeline, week, hourly)", aggregate)):
        # The machine is shared: the load average says how much to trust the figure.
        print(
            f"runs={runs} {name}: n={len(values)} p50={percentile(values, 0.5):.1f} ms"
            f" p95={percentile(values, 0.95):.1f} ms (load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
    return percentile(status, 0.95), percentile(aggregate, 0.95)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100_000, help="runs at the larger size")
    ap.add_argument("--steps", type=int, default=10, help="step runs per run")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--skip-build", action="store_true", help="measure the graph as it is")
    args = ap.parse_args()
    if args.runs < 10:
        ap.error("--runs must be at least 10 (it is also measured at a tenth)")
    sys.path.insert(0, str(REPO_ROOT / "src"))
    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT)
    sizes = [args.runs] if args.skip_build else [args.runs // 10, args.runs]
    figures = [measure_size(uri, runs, args) for runs in sizes]
    status_p95, aggregate_p95 = figures[-1]
    # One size only (--skip-build): no growth to report.
    growth = f"{aggregate_p95 / figures[0][1]:.2f}" if len(figures) > 1 else "n/a"
    print(
        f"metrics runs={args.runs} status_p95_ms={status_p95:.1f}"
        f" aggregate_p95_ms={aggregate_p95:.1f} growth={growth}"
    )
    return 0


if __name__ == "__main__":
    with stops_what_it_starts():
        raise SystemExit(main())
