"""What every benchmark needs: a Neo4j to use, a free port, readiness, percentiles, API
keys for the service under test, and settings that keep its rate limits out of the way."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import LiteralString, cast

import httpx

from tracegraph.settings import REPO_ROOT

BENCH_CYPHER = Path(__file__).resolve().parent / "cypher"

# Environment for the service under test: per-principal rate limits far above anything a
# benchmark sends, so the figures measure the service, not its throttle.
UNTHROTTLED_ENV: dict[str, str] = {
    "TRACEGRAPH_RATE_LIMIT": "100000000/minute",
    "TRACEGRAPH_INGEST_RATE_LIMIT": "100000000/minute",
    "TRACEGRAPH_INGEST_EVENT_RATE_LIMIT": "100000000/minute",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def neo4j_uri(instance: str, bolt_port: int, *, fresh_store: bool = False) -> str:
    """``NEO4J_URI`` if set (the benchmark wipes it), else a local instance of its own.

    ``fresh_store`` deletes the local instance's store files first: deleting every node
    empties a database but leaves its files (index trees above all) grown by earlier
    runs, and a benchmark should not measure that history."""
    if os.environ.get("NEO4J_URI"):
        return os.environ["NEO4J_URI"]
    from tracegraph.localneo4j import LocalNeo4j

    local = LocalNeo4j(REPO_ROOT / ".neo4j", name=instance, bolt_port=bolt_port)
    if fresh_store:
        local.wipe()
    return local.start()


def settle(instance: str, bolt_port: int, max_wait_s: float = 60.0) -> float:
    """Wait until the local Neo4j instance is idle (under 15% of a core for half a
    second), so one arm's background work (a wipe's deletes, GC) is not charged to the
    next. Returns the seconds waited; a server that is not ours is not waited for."""
    if os.environ.get("NEO4J_URI"):
        return 0.0
    from tracegraph.localneo4j import LocalNeo4j

    pid = LocalNeo4j(REPO_ROOT / ".neo4j", name=instance, bolt_port=bolt_port).pid_file
    stat = Path(f"/proc/{pid.read_text(encoding='utf-8').strip()}/stat")
    ticks = os.sysconf("SC_CLK_TCK")

    def cpu_s() -> float:
        fields = stat.read_text(encoding="utf-8").rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    started = time.monotonic()
    while time.monotonic() - started < max_wait_s:
        before = cpu_s()
        time.sleep(0.5)
        if cpu_s() - before < 0.075:
            break
    return time.monotonic() - started


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout_s: float = 90) -> None:
    """Wait until the service under test answers ``/readyz``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("service exited during startup")
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError("service not ready")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, ``q`` in 0..1."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_cypher(name: str) -> LiteralString:
    """A benchmark-only statement from ``bench/cypher/<name>.cypher`` (graph loaders)."""
    return cast(LiteralString, (BENCH_CYPHER / f"{name}.cypher").read_text(encoding="utf-8"))


def reset_graph(uri: str) -> None:
    """An empty graph with the service's constraints and indexes in place."""
    import asyncio

    from neo4j import GraphDatabase

    from tracegraph.settings import Neo4jSettings
    from tracegraph.store.cypher_files import query
    from tracegraph.store.driver import open_driver
    from tracegraph.store.schema import apply_schema

    with GraphDatabase.driver(uri) as driver, driver.session() as session:
        session.run(query("wipe_batch")).consume()

    async def schema() -> None:
        driver = open_driver(Neo4jSettings(uri=uri))
        try:
            await apply_schema(driver, "neo4j")
        finally:
            await driver.close()

    asyncio.run(schema())


async def amint_keys(uri: str, *roles: str) -> dict[str, str]:
    """API keys (role -> key text) written straight to the graph, as ``tracegraph keys
    create`` does. Wiping the graph deletes them: mint again after a wipe."""
    import uuid

    from tracegraph.auth.roles import parse_role
    from tracegraph.settings import Neo4jSettings
    from tracegraph.store.driver import open_driver
    from tracegraph.store.key_store import KeyStore

    driver = open_driver(Neo4jSettings(uri=uri))
    try:
        store = KeyStore(driver, "neo4j")
        keys = {}
        for role in roles:
            name = f"bench-{role}-{uuid.uuid4().hex[:8]}"
            _, keys[role] = await store.create(
                name=name, role=parse_role(role), actor="system:bench"
            )
        return keys
    finally:
        await driver.close()


def mint_keys(uri: str, *roles: str) -> dict[str, str]:
    """:func:`amint_keys` from synchronous code."""
    import asyncio

    return asyncio.run(amint_keys(uri, *roles))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
