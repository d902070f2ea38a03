"""Invalid, oversized GraphQL documents against other users' latency (issue 14, finding 1).

A victim sends a small query back to back, first alone, then while ``--attackers``
clients (each with its own key) send 900-field invalid documents as fast as they can.
Before the fix such documents cost ~0.8 s of validation CPU each and were never counted
against the rate limit; now they are refused before validation and counted, so the
attackers hit 429 within their budget. The service runs with its default rate limit
(``TRACEGRAPH_RATE_LIMIT``, 1200/minute per principal) unless ``--rate-limit`` says
otherwise. Prints the victim's latency in both phases and what the attackers got, then
stops the service and the Neo4j instance it started.

    .venv/bin/python bench/graphql_abuse.py --bolt-port 7766 --instance gqlsec-bench
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import subprocess
import sys
import threading
import time

import httpx

from harness import free_port, mint_keys, neo4j_uri, percentile, reset_graph, wait_ready
from tracegraph.settings import REPO_ROOT

VICTIM_QUERY = "{ overview { activeRuns lastSeq } }"
# 900 fields in ~900 tokens (within the token limit), the last one unknown: invalid, so
# before the fix it was never executed and never counted, yet validated in full.
ATTACK_QUERY = "{ overview { " + "activeRuns " * 898 + "nope } }"


def victim(base: str, key: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            resp = http.post("/graphql", json={"query": VICTIM_QUERY})
            latencies.append((time.perf_counter() - started) * 1000)
            if resp.status_code != 200:
                raise RuntimeError(f"victim got {resp.status_code}: {resp.text[:200]}")
            # A user, not a flood: well inside the default 1200/minute.
            time.sleep(0.1)
    return latencies


def attacker(base: str, key: str, stop: threading.Event, seen: collections.Counter[str]) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        while not stop.is_set():
            resp = http.post("/graphql", json={"query": ATTACK_QUERY})
            code = resp.status_code
            label = str(code)
            if code == 200:
                errors = resp.json().get("errors") or [{}]
                label += f" {(errors[0].get('extensions') or {}).get('code', 'validation')}"
            seen[label] += 1


def summary(name: str, values: list[float]) -> str:
    return (
        f"{name}: n={len(values)} p50={statistics.median(values):.1f} ms "
        f"p95={percentile(values, 0.95):.1f} ms max={max(values):.1f} ms"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--instance", default="bench", help="local Neo4j instance name")
    ap.add_argument("--bolt-port", type=int, default=7698)
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    ap.add_argument("--attackers", type=int, default=2)
    ap.add_argument("--rate-limit", default="1200/minute")
    args = ap.parse_args()

    started_neo4j = not os.environ.get("NEO4J_URI")
    uri = neo4j_uri(args.instance, args.bolt_port)
    server = None
    try:
        reset_graph(uri)
        victim_key = mint_keys(uri, "viewer")["viewer"]
        attacker_keys = [mint_keys(uri, "viewer")["viewer"] for _ in range(args.attackers)]
        port = free_port()
        env = dict(
            os.environ,
            NEO4J_URI=uri,
            TRACEGRAPH_LOG_LEVEL="warning",
            TRACEGRAPH_RATE_LIMIT=args.rate_limit,
        )
        server = subprocess.Popen(
            [sys.executable, "-m", "tracegraph.cli.main", "serve", "--port", str(port)],
            env=env,
            cwd=REPO_ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, server)
        victim(base, victim_key, 2.0)  # warm-up, untimed

        alone = victim(base, victim_key, args.seconds)
        stop = threading.Event()
        seen: collections.Counter[str] = collections.Counter()
        threads = [
            threading.Thread(target=attacker, args=(base, key, stop, seen), daemon=True)
            for key in attacker_keys
        ]
        for t in threads:
            t.start()
        try:
            attacked = victim(base, victim_key, args.seconds)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=120)
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=30)
        if started_neo4j:
            from tracegraph.localneo4j import LocalNeo4j

            LocalNeo4j(REPO_ROOT / ".neo4j", name=args.instance, bolt_port=args.bolt_port).stop()

    print(summary("victim alone", alone))
    print(summary(f"victim with {args.attackers} attackers", attacked))
    print("attack answers:", ", ".join(f"{k}: {v}" for k, v in sorted(seen.items())))
    print(
        f"graphql_abuse victim_p50_alone_ms={statistics.median(alone):.1f} "
        f"victim_p50_attacked_ms={statistics.median(attacked):.1f} "
        f"attack_requests={sum(seen.values())} attack_429={seen.get('429', 0)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
