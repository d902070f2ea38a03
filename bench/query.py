"""Query benchmark: lineage (depth 10) and impact through /graphql over HTTP on a graph of
at least 1,000,000 nodes, built server-side with batched Cypher (bench/cypher/*.cypher),
and reading one run's events out of a long event log (``--events``, default 10^6).

    .venv/bin/python bench/query.py [--runs-per-pipeline 400] [--pipelines 100] [--requests 200]
    .venv/bin/python bench/query.py --inferred   # with inferred lineage stored (docs/lineage.md)
    .venv/bin/python bench/query.py --events-only --events 1000000
    .venv/bin/python bench/query.py --events-only --events 10000000 --offline-build

``--offline-build`` (events-only) builds the log with Neo4j's bulk importer into an
instance of its own, ``.neo4j/instances/eventlog-<events>``, kept for later runs with the
same sizes (bench/event_log_import.py): 10^7 events that way instead of over an hour of
batched CREATEs. It uses the bench port (TRACEGRAPH_BENCH_BOLT_PORT).

The event-log case opens a live run (1,000 events among the last of the log) the way the
dashboard does (``events(run:, afterSeq: 0, first: 200)``) and compares it with an
unfiltered page (``events(afterSeq: 0, first: 200)``); it also times the statement the
run filter used before (a seq-ordered walk of the whole log) straight over Bolt.

Neo4j: NEO4J_URI if set (the database is WIPED), else the local launcher's 'bench'
instance on port 7698 (TRACEGRAPH_BENCH_INSTANCE / TRACEGRAPH_BENCH_BOLT_PORT), stopped
at the end if this run started it. The app runs under uvicorn in a subprocess on a free
port. Last line: ``query nodes=<n> lineage_p95_ms=<a> impact_p95_ms=<b> events=<n>
run_events_p50_ms=<c> all_events_p50_ms=<d> run_vs_all=<ratio> old_seq_walk_ms=<e>``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from neo4j import Driver, GraphDatabase

from harness import (
    BENCH_BOLT_PORT,
    BENCH_INSTANCE,
    UNTHROTTLED_ENV,
    bearer,
    bench_cypher,
    free_port,
    mint_keys,
    neo4j_uri,
    reset_graph,
    stop_process,
    stops_what_it_starts,
)
from tracegraph.events.step_paths import dependency_paths, path_signature
from tracegraph.store.cypher_files import cypher

REPO_ROOT = Path(__file__).resolve().parents[1]
STEPS = 10

LINEAGE = """query($uri: String!, $v: String) {
  lineage(uri: $uri, version: $v, direction: DOWNSTREAM, depth: 10) {
    root { id } nodes { id depth } edges { from to via } truncated } }"""
IMPACT = """query($key: String!) {
  impact(kind: ARTIFACT_VERSION, key: $key, depth: 10) {
    artifacts { id } steps { id } pipelines { name } runs { id } owners { id } slas { id }
    paths truncated } }"""


def build_graph(
    uri: str, pipelines: int, runs_per_pipeline: int, cross_every: int, inferred: bool = False
) -> int:
    reset_graph(uri)
    with GraphDatabase.driver(uri) as driver:
        t0 = time.perf_counter()
        driver.execute_query(
            bench_cypher("query_bench_pipelines"), pipelines=pipelines, steps=STEPS
        )
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for i in range(runs_per_pipeline):
            driver.execute_query(
                bench_cypher("query_bench_runs"),
                pipelines=pipelines,
                steps=STEPS,
                i=i,
                t0=start,
                cross_every=cross_every,
            )
            if i % 50 == 0:
                print(f"  built iteration {i}/{runs_per_pipeline}", file=sys.stderr, flush=True)
        if inferred:
            add_inferred_lineage(driver, pipelines, runs_per_pipeline)
        nodes = sum(r["count"] for r in driver.execute_query(cypher("count_by_label")).records)
        print(f"built {nodes} nodes in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        return int(nodes)


def add_inferred_lineage(driver: Driver, pipelines: int, runs_per_pipeline: int) -> None:
    """Inferred lineage (docs/lineage.md) with the service's own statements, as ingest
    stores it: the chain DAG's step paths per pipeline, then every run's edges (each of
    its 10 steps wrote a version derived from what every earlier step read and wrote)."""
    paths = dependency_paths({f"s{k}": [f"s{k - 1}"] if k else [] for k in range(STEPS)})
    rows = [
        {
            "pipeline": f"bench-{p}",
            "signature": path_signature(paths),
            "paths": [
                {"from": f"bench-{p}/{down}", "to": f"bench-{p}/{up}", "path": path}
                for (down, up), path in sorted(paths.items())
            ],
        }
        for p in range(pipelines)
    ]
    driver.execute_query(cypher("apply_step_paths"), rows=rows)
    for i in range(runs_per_pipeline):
        step_runs = [f"run-{p}-{i}/s{k}#1" for p in range(pipelines) for k in range(STEPS)]
        driver.execute_query(
            cypher("apply_inferred_lineage"), touched={"step_runs": step_runs, "pipelines": []}
        )
    edges = driver.execute_query(bench_cypher("inferred_bench_count")).records[0]["n"]
    print(f"  inferred lineage: {edges} edges", file=sys.stderr, flush=True)


TARGET_RUN = "bench-live-run"
EVENTS_ALL = "query { events(afterSeq: 0, first: 200) { seq } }"
EVENTS_OF_RUN = "query($r: ID) { events(run: $r, afterSeq: 0, first: 200) { seq } }"
EVENT_CHUNK = 50_000


def build_event_log(uri: str, events: int, target_events: int, runs: int = 10_000) -> None:
    """``events`` events (seq 1..n) about ``runs`` runs, and ``target_events`` of them,
    among the last of the log, about TARGET_RUN."""
    every = 100
    target_from = max(1, events - target_events * every + 1)
    with GraphDatabase.driver(uri) as driver:
        t0 = time.perf_counter()
        driver.execute_query(bench_cypher("query_bench_event_runs"), runs=runs, target=TARGET_RUN)
        for start in range(1, events + 1, EVENT_CHUNK):
            driver.execute_query(
                bench_cypher("query_bench_events"),
                {
                    "from": start,
                    "to": min(events, start + EVENT_CHUNK - 1),
                    "runs": runs,
                    "target": TARGET_RUN,
                    "target_from": target_from,
                    "every": every,
                },
            )
            print(f"  events up to {start + EVENT_CHUNK - 1}/{events}", file=sys.stderr, flush=True)
        print(f"built {events} events in {time.perf_counter() - t0:.1f}s", file=sys.stderr)


def time_seq_walk(uri: str, repeats: int, target_events: int) -> list[float]:
    """The run filter as it was: the whole log walked in seq order (bench/cypher)."""
    out = []
    params = {"after_seq": 0, "pipeline": None, "run": TARGET_RUN, "limit": 200}
    with GraphDatabase.driver(uri) as driver:
        for n in range(repeats + 1):
            t = time.perf_counter()
            records = driver.execute_query(bench_cypher("query_bench_events_seq_walk"), params)
            dt = (time.perf_counter() - t) * 1000
            assert len(records.records) == min(200, target_events)
            if n:  # the first one plans the statement
                out.append(dt)
    return out


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


SIZES: dict[str, list[int]] = {}


def measure(url: str, key: str, query: str, variables: list[dict], warmup: int = 10) -> list[float]:
    out: list[float] = []
    sizes = SIZES.setdefault(query, [])
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
                data = next(iter(body["data"].values()))
                if isinstance(data, list):
                    sizes.append(len(data))
                else:
                    sizes.append(len(data.get("nodes") or data.get("paths") or []))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pipelines", type=int, default=100)
    ap.add_argument("--runs-per-pipeline", type=int, default=400)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument(
        "--cross-every",
        type=int,
        default=4,
        help="1 in N step runs also reads another pipeline's output",
    )
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument(
        "--inferred",
        action="store_true",
        help="also store inferred lineage (docs/lineage.md) the way ingest does",
    )
    ap.add_argument("--events", type=int, default=1_000_000, help="event log length (0: none)")
    ap.add_argument("--target-events", type=int, default=1000, help="events of the opened run")
    ap.add_argument("--events-only", action="store_true", help="only the event-log case")
    ap.add_argument("--walk-repeats", type=int, default=5, help="timings of the old seq walk")
    ap.add_argument(
        "--offline-build",
        action="store_true",
        help="events-only: bulk-import the log into a kept instance (eventlog-<events>)",
    )
    args = ap.parse_args()
    sys.path.insert(0, str(REPO_ROOT / "src"))
    if args.offline_build:
        if not args.events_only or not args.events or os.environ.get("NEO4J_URI"):
            ap.error("--offline-build needs --events-only, --events > 0 and no NEO4J_URI")
        from event_log_import import EventLogSpec, cached_event_log

        spec = EventLogSpec(events=args.events, target_events=args.target_events)
        uri, build_s = cached_event_log(spec, BENCH_BOLT_PORT)
        built = "reused" if build_s is None else f"{build_s:.0f}s"
        print(f"event log: {args.events} events, offline build {built}")
        nodes = 0
    else:
        uri = neo4j_uri(BENCH_INSTANCE, BENCH_BOLT_PORT)
    if args.offline_build:
        pass
    elif args.skip_build:
        with GraphDatabase.driver(uri) as d:
            from tracegraph.store.cypher_files import cypher

            records = d.execute_query(cypher("count_by_label")).records
            nodes = int(sum(r["count"] for r in records))
    else:
        if args.events_only:
            reset_graph(uri)
            nodes = 0
        else:
            nodes = build_graph(
                uri, args.pipelines, args.runs_per_pipeline, args.cross_every, args.inferred
            )
        if args.events:
            build_event_log(uri, args.events, args.target_events)

    port = free_port()
    env = dict(os.environ, NEO4J_URI=uri, TRACEGRAPH_LOG_LEVEL="warning", **UNTHROTTLED_ENV)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tracegraph.api.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=REPO_ROOT,
    )
    try:
        url = f"http://127.0.0.1:{port}/graphql"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code < 500:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("service did not start")
            time.sleep(0.2)
        rng = random.Random(1)
        last = max(args.runs_per_pipeline - 12, 1)
        roots = [
            (
                f"bench://p{rng.randrange(args.pipelines)}/s{rng.randrange(STEPS)}",
                rng.randrange(last),
            )
            for _ in range(args.requests + 10)
        ]
        key = mint_keys(uri, "viewer")["viewer"]
        lin: list[float] = []
        imp: list[float] = []
        if not args.events_only:
            lin = measure(url, key, LINEAGE, [{"uri": u, "v": str(i)} for u, i in roots])
            imp = measure(url, key, IMPACT, [{"key": f"{u}@{i}"} for u, i in roots])
        ev_all: list[float] = []
        ev_run: list[float] = []
        if args.events:
            ev_all = measure(url, key, EVENTS_ALL, [{}] * (args.requests + 10))
            ev_run = measure(url, key, EVENTS_OF_RUN, [{"r": TARGET_RUN}] * (args.requests + 10))
    finally:
        stop_process(server)
    for name, values, q in (("lineage depth 10", lin, LINEAGE), ("impact depth 10", imp, IMPACT)):
        if not values:
            continue
        size = statistics.mean(SIZES[q])
        print(
            f"{name}: n={len(values)} p50={pct(values, 50):.1f} ms p95={pct(values, 95):.1f} ms"
            f" (mean answer: {size:.0f} nodes/paths)"
        )
    summary = f"query nodes={nodes}"
    if lin:
        summary += f" lineage_p95_ms={pct(lin, 95):.1f} impact_p95_ms={pct(imp, 95):.1f}"
    if ev_all:
        walk = time_seq_walk(uri, args.walk_repeats, args.target_events)
        ratio = pct(ev_run, 50) / pct(ev_all, 50)
        for name, values in (("events, unfiltered page", ev_all), ("events of one run", ev_run)):
            p50, p95 = pct(values, 50), pct(values, 95)
            print(f"{name}: n={len(values)} p50={p50:.1f} ms p95={p95:.1f} ms")
        print(
            f"events of one run, old seq walk (Bolt, no HTTP): n={len(walk)}"
            f" median={statistics.median(walk):.1f} ms"
        )
        print(f"event log {args.events} events: run-filtered / unfiltered p50 = {ratio:.2f}")
        summary += (
            f" events={args.events} run_events_p50_ms={pct(ev_run, 50):.1f}"
            f" all_events_p50_ms={pct(ev_all, 50):.1f} run_vs_all={ratio:.2f}"
            f" old_seq_walk_ms={statistics.median(walk):.1f}"
        )
    print(summary)
    return 0


if __name__ == "__main__":
    with stops_what_it_starts():
        raise SystemExit(main())
