"""Metrics benchmark: dashboard status and aggregate queries through /graphql over HTTP on
a graph of 10^5 runs and 10^6 step runs (plus 2 * 10^5 LLM calls), built server-side with
batched Cypher (bench/cypher/metrics_bench_*.cypher).

    .venv/bin/python bench/metrics.py [--runs 100000] [--steps 10] [--requests 100]

The status query is the header bar, the first page of runs and one pipeline's latest runs
with their step runs; the aggregate query is one pipeline's metrics over a week in hourly
buckets (series and totals). Neo4j: NEO4J_URI if set (the database is WIPED), else the
local launcher's 'mbench' instance on port 7699. Last line:
``metrics runs=<n> status_p95_ms=<a> aggregate_p95_ms=<b>``.
"""

from __future__ import annotations

import argparse
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


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--steps", type=int, default=10, help="step runs per run")
    ap.add_argument("--requests", type=int, default=100)
    ap.add_argument("--skip-build", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "src"))
    uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT)
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(days=DAYS)
    if not args.skip_build:
        build_graph(uri, args.runs, args.steps, t0)

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
        wait_ready(base, server)
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
        print(
            f"{name}: n={len(values)} p50={percentile(values, 0.5):.1f} ms"
            f" p95={percentile(values, 0.95):.1f} ms"
        )
    print(
        f"metrics runs={args.runs} status_p95_ms={percentile(status, 0.95):.1f}"
        f" aggregate_p95_ms={percentile(aggregate, 0.95):.1f}"
    )
    return 0


if __name__ == "__main__":
    with stops_what_it_starts():
        raise SystemExit(main())
